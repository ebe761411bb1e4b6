"""Run by the MicroPython unix port (MICROPYPATH = repo root; bench/loopcost.py starts it):

    micropython bench/mp_board_loop.py JOB_DIR DATA_DIR MODE WARMUP N

The whole board loop, `device.main.run()`, over the job's samples with the services boot()
wires (sim/loop.py: App, LogStore into DATA_DIR/logs, Service over StdioLink on this
process's stdin/stdout; stdin is an idle pipe). WARMUP samples first (calibration, the first
steps start a session), then, by MODE:

alloc: N samples in one run() call; gc.mem_alloc() and micropython.mem_total() deltas, net
       of an empty run() call (its set-up); the log flushes in the window are included.
walk:  the rest of the job (N ignored) with the GC on as on the board; before every sample
       the board's hook reads mem_total() (bytes allocated, including freed heap frames) and
       mem_alloc() (a drop = a collection ran): bytes per loop iteration, split by whether
       the iteration flushed the log, and collections.
cost:  regions for callgrind (--toggle-collect=map_iternext --dump-before=mp_builtin_hash),
       each `for _ in map(fn, ONE)`, a hash() call before each:
         mean    run(N samples)                        one dump: total / N
         marks   hash(0) M times alone (in pairs)      the cost of a marker (subtracted)
         loop    run(N samples), the board calling hash(0) first in each next_sample():
                 one dump per loop iteration
         stages  sim/loop.py stages(): run()'s statements with hash() before each
                 stage: one dump per stage per sample
       then prints the order and counters (JSON).
"""

import gc
import json
import sys
from array import array

import micropython

from device import main as fw
from sim.loop import build, stages

job_dir, data_dir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
WARMUP = int(sys.argv[4])
N = int(sys.argv[5])

job, board, app, log, service = build(job_dir, data_dir)
run = fw.run
fw.run(app, board, WARMUP, log, service)


def counters():
    return {
        "sample": board.i,
        "samples": board.n,
        "steps_logged": log._steps,
        "session": log.current,
        "active": log.active,
        "flushes": log.flushes,
        "bytes_written": log.bytes_written,
        "log_faults": log.faults,
        "dropped": log.dropped,
        "cues": app.cue.cues,
        "faults": app.faults,
        "frames_ok": service.frames_ok,
        "heap_free": gc.mem_free(),
        "heap_alloc": gc.mem_alloc(),
    }


def window(n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = micropython.mem_total()
    fw.run(app, board, n, log, service)
    t1 = micropython.mem_total()
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0, t1 - t0


if mode == "alloc":
    c0 = counters()
    e_alloc, e_total = window(0)  # run()'s own set-up (binding its calls), subtracted
    d_alloc, d_total = window(N)
    out = {"n": N, "mem_alloc_delta": d_alloc - e_alloc, "mem_total_delta": d_total - e_total}
    out["setup"] = [e_alloc, e_total]
    out["before"] = c0
    out["after"] = counters()
elif mode == "walk":
    # total0, alloc0, collections, B (no flush), iterations (no flush), max (no flush),
    # B at flushes, flush iterations, flushes0, started
    trk = array("i", [0] * 10)

    @micropython.native
    def track():
        t = micropython.mem_total()
        a = gc.mem_alloc()
        f = log.flushes
        d = t - trk[0]
        if not trk[9]:
            trk[9] = 1  # the first call: run()'s set-up came before it
        elif f != trk[8]:
            trk[6] += d
            trk[7] += 1
        elif d > 0:
            trk[3] += d
            trk[4] += 1
            if d > trk[5]:
                trk[5] = d
        if a < trk[1]:
            trk[2] += 1
        trk[0] = micropython.mem_total()
        trk[1] = gc.mem_alloc()
        trk[8] = f

    gc.collect()
    c0 = counters()
    board.with_hook(track)
    n0 = board.i
    fw.run(app, board, -1, log, service)
    out = {
        "n": board.i - n0,
        "collections": trk[2],
        "bytes_no_flush": trk[3],
        "iterations_allocating_no_flush": trk[4],
        "max_bytes_one_iteration_no_flush": trk[5],
        "bytes_at_flushes": trk[6],
        "flush_iterations": trk[7],
    }
    out["before"] = c0
    out["after"] = counters()
else:
    ONE = (0,)
    M = N

    def r_mean(_):
        run(app, board, N, log, service)

    @micropython.native
    def r_marks(_):
        # pairs: the dump between the two markers of a pair holds one marker, nothing else
        k = M // 2
        while k > 0:
            hash(0)
            hash(0)
            k -= 1

    def r_loop(_):
        board.mark_samples(1)
        run(app, board, M, log, service)
        board.mark_samples(0)

    def r_stages(_):
        stages(app, board, M, log, service)

    order = []
    for name, fn in (("mean", r_mean), ("marks", r_marks), ("loop", r_loop), ("stages", r_stages)):
        gc.collect()
        hash(1)
        for _ in map(fn, ONE):
            pass
        order.append(name)
    hash(2)
    out = {"order": order, "n": N, "m": M, "after": counters()}
out["mode"] = mode
out["engine"] = sys.implementation.name
print(json.dumps(out))
