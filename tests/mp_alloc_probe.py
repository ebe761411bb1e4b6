# MicroPython script (unix port): heap allocation of the firmware loop in steady state.
#
#   MICROPYPATH=<repo> micropython -X heapsize=32M tests/mp_alloc_probe.py JOB_DIR MODE WARMUP COUNT
#
# JOB_DIR is a `hipcue replay` job (job.json, counts.bin, dt.bin; see sim/run.py). The app
# is built over it, WARMUP samples of the whole loop run first (one-off transitions: the first
# tick, calibration), then COUNT samples are measured: gc.collect(), gc.mem_alloc() and
# micropython.mem_total() before and after. mem_total() also sees memory that was allocated and
# freed inside the window (e.g. heap-allocated bytecode frames) which mem_alloc() misses.
#
# MODE: "loop"   - the firmware loop (next_sample, tick, drain the step ring and, in exercise
#                  mode, the rep ring), as sim/run.py does;
#       "float", "tuple", "bigint" - negative controls: a loop of COUNT iterations that boxes a
#                  float, builds a tuple or makes a big int (must show allocation);
#       "planted" - negative control through the real path: the firmware loop with its
#                  late-sample counter started at 2**62 and every sample flagged late, so
#                  App.tick makes one big int per sample; steps and cues are unchanged.
# Prints one JSON line: alloc and total deltas (bytes), samples, steps and cues in the window.
import gc
import json
import sys
from array import array

import micropython
from micropython import const

from sim.run import load_job

_RING_MASK = const(31)  # device/app.py _RING_MASK


@micropython.native
def drive(app, board, n, rec):
    # The whole loop for up to n samples; the step records go to the preallocated `rec`
    # (ic, end, side, drop, cued per step, a ring of 64). Returns the steps taken.
    k = 0
    ex = app.ex  # exercise mode: its completed reps are taken too (into rec[0:6])
    while n > 0 and board.next_sample():
        app.tick()
        if ex is not None:
            while ex.pending():
                ex.take(rec, 0)
        while app.ring_tail != app.ring_head:
            j = app.ring_tail & _RING_MASK
            i = (k & 63) * 5
            rec[i] = app.ring_ic[j]
            rec[i + 1] = app.ring_end[j]
            rec[i + 2] = app.ring_stance[j]
            rec[i + 3] = app.ring_drop[j]
            rec[i + 4] = app.ring_cued[j]
            k += 1
            app.ring_tail += 1
        n -= 1
    return k


@micropython.native
def float_loop(app, board, n, rec):
    x = 1.0
    while n > 0:
        x = x * 1.0000001
        n -= 1
    return 0


@micropython.native
def tuple_loop(app, board, n, rec):
    k = 0
    while n > 0:
        t = (n, k)
        k += len(t) - 2
        n -= 1
    return 0


@micropython.native
def bigint_loop(app, board, n, rec):
    k = 0
    while n > 0:
        k += (n << 64) >> 64  # an intermediate beyond the small-int range of any port
        n -= 1
    return k & 1


def measure(fn, app, board, n, rec):
    gc.collect()
    a0 = gc.mem_alloc()
    t0 = micropython.mem_total()
    k = fn(app, board, n, rec)
    t1 = micropython.mem_total()
    a1 = gc.mem_alloc()
    return a1 - a0, t1 - t0, k


def main(argv):
    job_dir, mode, warmup, count = argv[1], argv[2], int(argv[3]), int(argv[4])
    _job, board, app = load_job(job_dir)
    rec = array("i", [0] * (64 * 5))
    fn = {"loop": drive, "planted": drive, "float": float_loop, "tuple": tuple_loop}.get(mode)
    fn = fn or {"bigint": bigint_loop}[mode]
    steps_warm = drive(app, board, warmup, rec)
    if mode == "planted":
        # every sample now counts a "late" sample on a big-int counter: one heap int per
        # sample through App.tick, outputs unchanged
        app.late = 1 << 62
        board.late = 1
    i0 = board.i
    cues0 = app.cue.cues
    seen0 = app.cal.seen
    state0 = app.state
    motor0 = board.motor_events
    ex = app.ex
    reps0 = ex.count if ex is not None else 0
    excues0 = ex.cues if ex is not None else 0
    d_alloc, d_total, steps = measure(fn, app, board, count, rec)
    out = {
        "mode": mode,
        "alloc": d_alloc,
        "total": d_total,
        "samples": board.i - i0,
        "steps": steps,
        "cues": app.cue.cues - cues0,
        "motor_events": board.motor_events - motor0,
        "cal_updates": app.cal.seen - seen0,
        "state_before": state0,
        "state_after": app.state,
        "calibrated": app.calibrated,
        "faults": app.faults,
        "steps_lost": app.steps_lost,
        "reps": (ex.count - reps0) if ex is not None else -1,
        "ex_cues": (ex.cues - excues0) if ex is not None else -1,
        "reps_lost": ex.lost if ex is not None else -1,
        "warmup_steps": steps_warm,
        "engine": sys.implementation.name,
    }
    print(json.dumps(out))


main(sys.argv)
