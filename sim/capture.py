"""The firmware's own per-sample step-detector inputs on a recording (host side, CPython):
for tuning the step detector (bench/gait_tune.py) and for the gates' figures (sim/gates.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from hipcue.trace import read_trace

_CACHE: dict[str, dict] = {}


def capture(ref) -> dict:
    """Per-sample (n, acc_up, acc_left, acc_fwd, yaw, obl) exactly as the App feeds the step
    detector, and the trace time of each grid index."""
    if ref.name in _CACHE:
        return _CACHE[ref.name]
    import device.app as app_mod
    from sim.run import load_job

    tr = read_trace(ref.trace)
    rows: list[tuple] = []
    from shared import estimator as est_mod
    from shared import steps as steps_mod

    real = app_mod._steps_step
    apps: list = []

    def rec(st, n):
        # the tick has written the detector's inputs to its cells; the yaw rate (not one of
        # them: the detector does not use it) is the estimator's output of this sample
        v = st._v
        yaw = apps[0].est._s[est_mod.CELL_YAW]
        cells = (steps_mod.CELL_UP, steps_mod.CELL_LEFT, steps_mod.CELL_FWD)
        rows.append((n, *(v[k] for k in cells), yaw, v[steps_mod.CELL_OBL]))
        return real(st, n)

    with tempfile.TemporaryDirectory() as d:
        spec = _write_job(Path(d), tr, ref.calibrate)
        _job, board, app = load_job(d)
        apps.append(app)
        app_mod._steps_step = rec
        try:
            grid = np.zeros(tr.n, dtype=np.int64)
            i = 0
            while board.next_sample():
                app.tick()
                grid[i] = app.n
                i += 1
        finally:
            app_mod._steps_step = real
    out = {
        "x": np.array(rows, dtype=np.int64),
        "grid": grid,
        "t": tr.t_s,
        "period_us": spec["period_us"],
    }
    _CACHE[ref.name] = out
    return out


def _write_job(job: Path, trace, calibrate: bool) -> dict:
    """The job run_firmware would run (sim/inputs.py: the same config, counts and dt)."""
    from sim.inputs import write_job

    return write_job(job, trace, calibrate=calibrate)
