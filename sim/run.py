"""Run the firmware loop over a prepared trace: the engine behind `hipcue replay`.

    micropython -m sim.run JOB_DIR      (or: python -m sim.run JOB_DIR)

JOB_DIR is a firmware job (sim/job.py: settings, counts.bin, dt.bin; the settings carry
the config, calibrate flag, period and sample count).
It writes obl.bin, tilt.bin (int32 mdeg per sample), cue.bin (one byte per sample),
grid.bin (int32: the sample's index on the firmware's time grid, which skips missed samples),
steps.csv (ic index, end index, side, drop mdeg, cued), motor.csv and result.json.
The same file runs under MicroPython and CPython; outputs are byte-identical.
"""

import json
import sys
from array import array

from device.app import App, end_steps
from shared.config import ConfigError
from sim.board import SimBoard
from sim.job import job_config, read_job


def load_job(job_dir):
    """The prepared trace of JOB_DIR on a simulated board, and the app over it:
    (job dict, SimBoard, App). Also used by the allocation probe and the cost benchmark."""
    job, counts, dt = read_job(job_dir)
    cfg = job_config(job)
    board = SimBoard(counts, dt)
    app = App(board, cfg, calibrate=job["calibrate"], period_us=job["period_us"])
    cal = job.get("calibration")
    if cal and not job["calibrate"]:  # a recorded calibration (a raw session's header)
        app.apply_calibration(cal["frame_q14"], cal["gyro_frame"], cal["bias_q28"])
    return job, board, app


def run(job_dir):
    job, board, app = load_job(job_dir)
    n = job["n"]
    obl = array("i", bytearray(4 * n))
    tilt = array("i", bytearray(4 * n))
    cue = bytearray(n)
    grid = array("i", bytearray(4 * n))
    cap = n // 8 + 64
    s_ic = array("i", bytearray(4 * cap))
    s_end = array("i", bytearray(4 * cap))
    s_side = bytearray(cap)
    s_drop = array("i", bytearray(4 * cap))
    s_cued = bytearray(cap)
    ex = app.ex
    reps = array("i", bytearray(4 * 6 * (cap if ex is not None else 1)))
    s_count = _loop(app, board, obl, tilt, cue, grid, s_ic, s_end, s_side, s_drop, s_cued, reps)
    with open(job_dir + "/obl.bin", "wb") as f:
        f.write(obl)
    with open(job_dir + "/tilt.bin", "wb") as f:
        f.write(tilt)
    with open(job_dir + "/cue.bin", "wb") as f:
        f.write(cue)
    with open(job_dir + "/grid.bin", "wb") as f:
        f.write(grid)
    with open(job_dir + "/steps.csv", "w") as f:
        for k in range(s_count):
            f.write("%d,%d,%d,%d,%d\n" % (s_ic[k], s_end[k], s_side[k], s_drop[k], s_cued[k]))
    with open(job_dir + "/motor.csv", "w") as f:
        for k in range(board.motor_events):
            f.write("%d,%d\n" % (board.motor_n[k], board.motor_v[k]))
    if ex is not None:
        r_count = min(ex.count - ex.lost, cap)
        with open(job_dir + "/reps.csv", "w") as f:
            for k in range(r_count):
                f.write("%d,%d,%d,%d,%d,%d\n" % tuple(reps[6 * k : 6 * k + 6]))
    result = {
        "engine": sys.implementation.name,
        "samples": n,
        "calibrated": app.calibrated,
        "calibration_failed": 1 if app.faults & 1 else 0,
        "calibration_end_index": app.cal.seen - 1 if app.calibrated else -1,
        "calibration_error": app.cal_error,
        "missed": app.missed,
        "late": app.late,
        "cues": app.cue.cues,
        "steps": s_count,
        "steps_lost": app.steps_lost,
        "motor_events_dropped": board.motor_dropped,
        "faults": app.faults,
        "feedback": app.feedback_counters(),
    }
    if ex is not None:
        result["exercise"] = {
            "mode": ex.mode,
            "reps": ex.count,
            "reps_lost": ex.lost,
            "cues": ex.cues,
            "set_done_index": ex.done_n,
        }
    with open(job_dir + "/result.json", "w") as f:
        json.dump(result, f)
    return 0


def _loop(app, board, obl, tilt, cue, grid, s_ic, s_end, s_side, s_drop, s_cued, reps=None):
    """Sample loop plus the between-sample work (draining the step ring and, in exercise mode,
    the rep ring into `reps`, 6 ints per rep, when given); no allocation."""
    k = 0
    cap = len(s_side)
    i = 0
    ex = app.ex
    r = 0
    r_cap = len(reps) - 6 if reps is not None else -1
    more = 1
    while more:
        if not board.next_sample():
            # the recording ends: the detector's last steps, as after its timeout
            end_steps(app)
            more = 0
        else:
            app.tick()
            obl[i] = app.obliquity_mdeg
            tilt[i] = app.tilt_mdeg
            cue[i] = app.motor_on
            grid[i] = app.n
            i += 1
        while app.ring_tail != app.ring_head:
            j = app.ring_tail & 31
            if k < cap:
                s_ic[k] = app.ring_ic[j]
                s_end[k] = app.ring_end[j]
                s_side[k] = app.ring_stance[j]
                s_drop[k] = app.ring_drop[j]
                s_cued[k] = app.ring_cued[j]
                k += 1
            app.ring_tail += 1
        if ex is not None:
            while ex.pending():
                if r <= r_cap:
                    ex.take(reps, r)
                    r += 6
                else:
                    ex.take(None, 0)  # beyond the capacity (not reached): dropped
    return k


def main(argv):
    if len(argv) != 2:
        print("usage: simrun JOB_DIR")
        return 2
    try:
        return run(argv[1])
    except (ConfigError, ValueError, OSError) as e:
        print("simrun: error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
