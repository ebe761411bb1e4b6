"""A demo session library for the progress view (issue #16): weeks of a synthetic wearer with a
weak right hip that improves, recorded by the real firmware and pulled into a library.

Every session is a boot of the firmware on CPython (device/app.py App, device/logstore.py
LogStore on the host's filesystem, device/service.py Service) over a synthetic trace, run by
the board loop itself (device/main.py run()); the host talks to it with real protocol frames
(shared/protocol.py) through an in-memory port: `clock.set` for the session's date,
`programme.set` for the plan, `test.sls` and `exercise.start`. The device's data folder
(config.json, programme.json, logs/) persists from session to session, as flash does, so the
faded schedule and the programme's session numbers advance exactly as on a board. The
session files are then added to a session library (hipcue.library) as `hipcue logs pull`
adds them.

The wearer (synthetic, so these are the generator's numbers, not a person's):
- day 0: a single-leg stance test (right-leg stance drop 8 deg, left 3 deg) and a baseline
  walk (right-stance drop 10 deg, left 4.5), then the programme is set;
- programme walks on days 1, 2, 4, 5, 8, 9, (11 missed), 12: the right-stance drop comes
  down linearly to 6 deg; session 5 is cut short (half its minutes); every walk has two
  sharp U-turns (their steps are gated out of the averages) and the plan's feedback-off probe
  blocks. The synthetic walker does not respond to the cue, so probe and feedback steps have
  the same drop by construction;
- exercise sets of the plan on days 1, 4, 8, 12 (single-leg squat and clamshell, right);
- single-leg stance tests again on days 7 and 14 (right-leg stance drop 6 and 3.5 deg).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from array import array
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from device.app import App
from device.logstore import LogStore
from device.main import run as board_run
from device.service import FIRMWARE_VERSION, Service, load_config
from shared import protocol as P
from sim.board import SimBoard

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
DEVICE = "demo-device"
BASE_DROP_R, END_DROP_R = 10.0, 6.0
DROP_L = 4.5
PROGRAMME_DAYS = (1, 2, 4, 5, 8, 9, 11, 12)
MISSED_DAY = 11
SHORT_SESSION = 5  # cut to half its minutes
EXERCISE_DAYS = (1, 4, 8, 12)
SLS_DAYS = {0: 8.0, 7: 6.0, 14: 3.5}  # right-leg stance drop in the test, deg
SLS_LEFT = 3.0
SLS_SIDE_S, SLS_REST_S, SLS_START_S = 10, 3, 5.0


class MemLink:
    """The serial port as two byte queues (the service's link interface)."""

    def __init__(self) -> None:
        self.rx: deque[int] = deque()
        self.tx = bytearray()

    def read_byte(self) -> int:
        return self.rx.popleft() if self.rx else -1

    def write_some(self, mv: Any) -> int:
        self.tx += bytes(mv)
        return len(mv)

    def readable(self) -> bool:
        return bool(self.rx)

    def restore_ctrl_c(self) -> None:
        pass


class Boot:
    """One power-on of the firmware over one trace, with the data folder `data_dir`."""

    def __init__(self, data_dir: Path, counts: Any, dt_us: Any, period_us: int) -> None:
        self.board = SimBoard(array("h", counts), array("i", dt_us))
        self.board.name = DEVICE
        self.cfg, _note, _fault = load_config(str(data_dir))
        self.app = App(self.board, self.cfg, calibrate=True, period_us=period_us)
        self.link = MemLink()
        p = period_us

        def ms() -> int:  # the sample clock: deterministic, as fast as the simulation
            return max(0, self.board.i) * p // 1000

        self.service = Service(
            self.link,
            self.cfg,
            str(data_dir),
            app=self.app,
            board=self.board,
            ticks_ms=ms,
            ticks_diff=lambda a, b: a - b,
        )
        self.log = LogStore(str(data_dir / "logs"), period_us=p, fw=FIRMWARE_VERSION, device=DEVICE)
        self.service.log = self.log
        self.seq = 0

    def request(self, cmd: str, **args: Any) -> Any:
        self.seq += 1
        wire = P.encode(P.T_REQ, self.seq, json.dumps({"cmd": cmd, **args}).encode())
        self.link.rx.extend(wire)
        for _ in range(1000):
            self.service.poll()
            if b"\n" in self.link.tx:
                break
        line, _, rest = bytes(self.link.tx).partition(b"\n")
        self.link.tx = bytearray(rest)
        typ, _seq, payload = P.decode(line[line.index(P.SOF) + 1 :])
        reply = json.loads(bytes(payload))
        if typ == P.T_ERR:
            raise RuntimeError(f"{cmd}: {reply['msg']}")
        return reply

    def run(self, samples: int = -1) -> None:
        board_run(self.app, self.board, samples, self.log, self.service)

    def finish(self) -> None:
        for _ in range(200):  # a set's last rep and buzz: the service ends it between samples
            self.service.poll()
        if self.service._ex_running:
            self.service._ex_finish("end")
        self.log.stop(self.app, "end")


def _arrays(trace: Any, period_us: int) -> tuple[list[int], list[int]]:
    from hipcue.replay import job_arrays

    counts, dt, _sat = job_arrays(trace, "lsm6dsox", period_us)
    return [int(v) for v in counts.reshape(-1)], [int(v) for v in dt]


def _trace(tr: Any, tmp: Path, name: str) -> Any:
    from hipcue import synth
    from hipcue.trace import read_trace

    p = tmp / f"{name}.trace.csv"
    synth.write_trace_csv(tr, p)
    return read_trace(p)


def _walk(minutes: float, drop_r: float, seed: int) -> Any:
    """A walk of `minutes`: straight bouts at 105 steps/min with two sharp U-turns (180 deg
    in 2 s, past the turn gate) and gentle bends."""
    from hipcue.synth import Segment, generate

    total = max(30.0, minutes * 60.0)
    walk = (total - 4.0 - 4.0) / 3.0

    def w(d: float) -> Segment:
        return Segment("walk", d, 105.0, DROP_L, drop_r)

    segs = [
        Segment("stand", 2.0),
        w(walk),
        Segment("turn", 2.0, 105.0, DROP_L, drop_r, 180.0),
        w(walk),
        Segment("turn", 2.0, 105.0, DROP_L, drop_r, -180.0),
        w(walk),
        Segment("stand", 2.0),
    ]
    return generate(segs, rate_hz=100.0, seed=seed)


def _sls(drop_r: float, seed: int) -> Any:
    from hipcue.synth import Segment, generate
    from shared.slstest import BUZZ_MS, PIP_MS

    buzz = BUZZ_MS / 1000
    stop = 3 * PIP_MS / 1000
    segs = [
        Segment("stand", SLS_START_S + buzz),
        Segment("sls_left", SLS_SIDE_S, drop_left_stance_deg=SLS_LEFT, sway_deg=0.8),
        Segment("stand", stop + SLS_REST_S + buzz),
        Segment("sls_right", SLS_SIDE_S, drop_right_stance_deg=drop_r, sway_deg=0.8),
        Segment("stand", 3.0),
    ]
    return generate(segs, rate_hz=100.0, seed=seed)


def default_plan(minutes: tuple[int, int]) -> dict:
    return {
        "id": "DEMO",
        "start": int((START + timedelta(days=1)).timestamp()),
        "walks": len(PROGRAMME_DAYS),
        "weeks": 2,
        "min0": minutes[0],
        "min1": minutes[1],
        "fade0": 100,
        "fade1": 0,
        "probe": [60, 20],
        "sets": [["single-leg-squat", "right", 10, 2], ["clamshell", "right", 10, 2]],
    }


def build_device_logs(data_dir: Path, minutes: tuple[int, int] = (15, 30), seed: int = 1) -> dict:
    """Run the whole demo on one device whose data folder is data_dir; returns the plan."""
    from hipcue import exsynth
    from shared.programme import planned_minutes

    data_dir.mkdir(parents=True, exist_ok=True)
    plan = default_plan(minutes)
    tmp = Path(tempfile.mkdtemp(prefix="hipcue-demo-lib-"))
    period = 10000
    try:

        def boot(tr: Any, name: str, day: float) -> Boot:
            trace = _trace(tr, tmp, name)
            counts, dt = _arrays(trace, period)
            b = Boot(data_dir, counts, dt, period)
            b.request("clock.set", epoch_s=int((START + timedelta(days=day)).timestamp()))
            return b

        def sls(day: int) -> None:
            b = boot(_sls(SLS_DAYS[day], seed + day), f"sls{day}", day)
            b.run(int(SLS_START_S * 100))
            b.request("test.sls", side_s=SLS_SIDE_S, rest_s=SLS_REST_S)
            b.run()
            b.finish()

        sls(0)
        b = boot(_walk(minutes[0], BASE_DROP_R, seed), "baseline", 0.1)
        b.run()
        b.finish()
        b = boot(_walk(0.5, BASE_DROP_R, seed), "set", 0.2)
        b.request("programme.set", plan=plan)
        b.finish()
        for k, day in enumerate(PROGRAMME_DAYS, start=1):
            if day in EXERCISE_DAYS:
                for j, (mode, side, reps, _per_week) in enumerate(plan["sets"]):
                    tr, _truth = exsynth.generate(mode, side, reps, seed=seed * 100 + day * 7 + j)
                    b = boot(tr, f"ex{day}-{j}", day + 0.05 + 0.01 * j)
                    b.request("exercise.start", mode=mode, side=side, reps=reps)
                    b.run()
                    b.finish()
            if day == MISSED_DAY:
                continue
            frac = (k - 1) / (len(PROGRAMME_DAYS) - 1)
            drop_r = BASE_DROP_R + (END_DROP_R - BASE_DROP_R) * frac
            m = planned_minutes(plan, k)
            if k == SHORT_SESSION:
                m = m / 2
            b = boot(_walk(m, drop_r, seed + k), f"walk{k}", day + 0.1)
            b.run()
            b.finish()
            if day + 2 in SLS_DAYS or day + 1 in SLS_DAYS:
                sls(day + 2 if day + 2 in SLS_DAYS else day + 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return plan


def build_library(
    library: Path, minutes: tuple[int, int] = (15, 30), seed: int = 1, keep_logs: Path | None = None
) -> dict:
    """The demo's sessions in a session library at `library` (replaced); returns the plan."""
    from hipcue.library import Library

    data = keep_logs or Path(tempfile.mkdtemp(prefix="hipcue-demo-dev-"))
    try:
        if data.exists():
            shutil.rmtree(data)
        plan = build_device_logs(data, minutes, seed)
        if library.exists():
            library.unlink()
        with Library(library) as lib:
            for f in sorted((data / "logs").iterdir()):
                lib.add_session(f.read_bytes(), DEVICE, f.name)
    finally:
        if keep_logs is None:
            shutil.rmtree(data, ignore_errors=True)
    return plan
