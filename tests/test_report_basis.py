"""Reports say what their figures rest on (issue #13): a raw capture that started after the
device calibrated is replayed in the device's calibration from its session header (not in
the bare mount frame); uncalibrated figures, cut or gapped logs carry a warning; a trend over
sessions of different kinds says so."""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np
import pytest

from device.app import App
from device.logstore import LogStore
from hipcue import synth
from hipcue.replay import quantise
from hipcue.report import mixed_bases, session_lines, text_summary
from hipcue.session import LoadOptions, session_from_log
from hipcue.trace import read_trace
from shared import logformat as lf
from shared.config import Config
from sim.board import SimBoard


@pytest.fixture(scope="module")
def late_raw(tmp_path_factory) -> tuple[bytes, Path]:
    """The device's own run of a walk (calibrated on the standing start) with a raw capture
    started 4 s in, after it had calibrated: the session file."""
    d = tmp_path_factory.mktemp("late-raw")
    tr = synth.generate(
        [synth.Segment("stand", 4.0), synth.Segment("walk", 40.0, 105.0, 3.0, 9.0)],
        seed=11,
        mount_pitch_deg=20.0,
    )
    # worn rolled 5 deg about the forward axis (-z): the sensor's up (+x) and left (+y) turn,
    # an offset only the standing calibration takes out
    c, sn = np.cos(np.radians(5.0)), np.sin(np.radians(5.0))
    for x, y in (("ax_g", "ay_g"), ("gx_dps", "gy_dps")):
        vx, vy = tr.columns[x].copy(), tr.columns[y].copy()
        tr.columns[x], tr.columns[y] = c * vx - sn * vy, sn * vx + c * vy
    p = d / "walk.csv"
    synth.write_trace_csv(tr, p)
    t = read_trace(p)
    counts, _ = quantise(t, "lsm6dsox")
    cfg = Config().updated({"mount": tr.mount})
    board = SimBoard(array("h", counts.reshape(-1).tolist()), array("i", [10000] * t.n))
    app = App(board, cfg, calibrate=True, period_us=10000)
    store = LogStore(str(d / "logs"), 10000, fw="t", buf_bytes=8192)
    while board.next_sample():
        app.tick()
        if app.n == 400:
            assert app.calibrated
            store.start(app, "command", raw=1)
        store.service(app)
    store.stop(app, "end")
    return (d / "logs" / "S0001.hcl").read_bytes(), d


def test_late_raw_capture_replays_in_the_devices_calibration(late_raw):
    data, d = late_raw
    header = lf.parse(data)["header"]
    assert header["start_n"] == 400 and header["calibration"]["calibrated"] == 1
    opts = LoadOptions(engine="cpython")
    cal = session_from_log(data, "S0001.hcl", d, opts)
    assert cal.calibrated and "session header" in cal.calibration
    assert not any("WARNING" in line for line in session_lines(cal))
    # the device's own per-step figures of the same walk (its log's steps)
    from hipcue.logs import read_session, session_summary

    dev = session_summary(read_session(data, "S0001.hcl"))
    raw = session_from_log(data, "S0001.hcl", d, LoadOptions(engine="cpython", calibrate=False))
    assert raw.calibrated is False
    assert any("WARNING: uncalibrated" in line for line in session_lines(raw))
    err_cal = err_raw = 0.0
    for key in ("left_stance_drop_deg", "right_stance_drop_deg"):
        err_cal = max(err_cal, abs(cal.summary[key] - dev[key]))
        err_raw = max(err_raw, abs(raw.summary[key] - dev[key]))
    print(f"\n[late raw capture] vs the device's log: calibrated {err_cal:.2f}, bare {err_raw:.2f}")
    assert err_cal <= 0.5  # the filter state at the capture's start is not in the log
    assert err_raw >= 3.0  # the 5 deg roll offset, unremoved


def test_cut_and_gapped_logs_are_flagged(late_raw):
    data, d = late_raw
    pos = 4
    frames = []
    while pos < len(data):
        end = pos + 3 + (data[pos + 1] | data[pos + 2] << 8) + 4
        frames.append((pos, end))
        pos = end
    a, b = frames[3]
    gapped = session_from_log(data[:a] + data[b:], "S0001.hcl", d, LoadOptions(engine="cpython"))
    assert any("block(s) missing" in line for line in session_lines(gapped))
    cut = session_from_log(data[: frames[-3][1] + 5], "S0001.hcl", d, LoadOptions(engine="cpython"))
    text = "\n".join(session_lines(cut))
    assert "cut off" in text and "tail dropped" in text


def test_a_trend_over_mixed_kinds_says_so(late_raw):
    data, d = late_raw
    cal = session_from_log(data, "S0001.hcl", d, LoadOptions(engine="cpython"))
    raw = session_from_log(data, "S0001.hcl", d, LoadOptions(engine="cpython", calibrate=False))
    assert mixed_bases([cal, cal]) is None
    warn = mixed_bases([cal, raw])
    assert warn and "calibrated" in warn and "uncalibrated" in warn
    text = text_summary([cal, raw])
    assert "WARNING: the trend mixes sessions of different kinds" in text
    assert "replay, uncalibrated" in text and "replay, calibrated" in text
