"""device/main.py's loop on the simulated board: the session log store and the command
service run between samples, an IMU fault is flagged and cleared."""

import importlib
import sys
from array import array

import pytest

from device.app import App
from device.logstore import LogStore
from hipcue import synth
from hipcue.replay import quantise
from hipcue.trace import read_trace
from shared.config import Config
from sim.board import SimBoard
from tests import fake_machine


@pytest.fixture
def fw(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", fake_machine)
    for m in ("device.board", "device.main"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    return importlib.import_module("device.main")


class _Board(SimBoard):
    """SimBoard with a fault window: samples fault_from..fault_to report 'no data' (2)."""

    fault_from = -1
    fault_to = -1

    def next_sample(self):
        if self.fault_from <= self.i + 1 < self.fault_to:
            self.i += 1
            return 2
        return super().next_sample()

    def data_ready(self):
        return 1


class _Service:
    def __init__(self):
        self.polls = 0
        self.samples = 0

    def sample(self, app):
        self.samples += 1

    def poll(self):
        self.polls += 1
        return 0  # nothing waiting


def test_loop_logs_sessions_serves_the_host_and_flags_imu_faults(fw, tmp_path):
    tr = synth.generate(synth.PRESETS["weak-right"](30.0), seed=2)
    p = tmp_path / "w.csv"
    synth.write_trace_csv(tr, p)
    trace = read_trace(p)
    cfg = Config()
    counts, _ = quantise(trace, cfg["imu"])
    board = _Board(array("h", counts.reshape(-1).tolist()), array("i", [10000] * trace.n))
    board.fault_from, board.fault_to = 1500, 1520
    app = App(board, cfg, calibrate=True, period_us=10000)
    log = LogStore(str(tmp_path / "logs"), period_us=10000, fw="test", device="sim")
    svc = _Service()
    seen_fault = []

    class Probe(_Service):
        def sample(self, app_):
            seen_fault.append(app_.faults & fw.FAULT_IMU)

    fw.run(app, board, 1510, log, svc)
    assert app.faults & fw.FAULT_IMU  # inside the fault window
    fw.run(app, board, -1, log, Probe())
    assert not app.faults & fw.FAULT_IMU and seen_fault and not any(seen_fault)
    assert svc.samples == 1500 - 0 and svc.polls >= 1510
    log.stop(app, "end")
    names = sorted(x.name for x in (tmp_path / "logs").iterdir())
    assert names and names[0].endswith(".hcl")
    from hipcue.logs import read_session

    sess = read_session((tmp_path / "logs" / names[0]).read_bytes())
    assert len(sess.steps) > 20


class _Log:
    def __init__(self):
        self.active = 0
        self.calls = []

    def start(self, app, reason):
        self.active = 1
        self.calls.append(("start", reason))

    def stop(self, app, reason):
        self.active = 0
        self.calls.append(("stop", reason))


def test_button_starts_stops_sessions_and_recalibrates(fw):
    cfg = Config()
    board = SimBoard(array("h", [0, 0, 4098, 0, 0, 0] * 10), array("i", [10000] * 10))
    app = App(board, cfg, calibrate=False, period_us=10000)
    log = _Log()
    fw.on_button(app, 1, log)
    fw.on_button(app, 1, log)
    assert log.calls == [("start", "button"), ("stop", "button")]
    old_cal = app.cal
    fw.on_button(app, fw.BUTTON_LONG, log)
    assert app.cal is not old_cal and app.cal.status == 0  # looking for a still period
