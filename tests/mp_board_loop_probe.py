# MicroPython script (unix port): the whole board loop, device/main.py run(), with its
# services (sim/loop.py: App, LogStore, Service over StdioLink on stdin/stdout).
#
#   MICROPYPATH=<repo> micropython -X heapsize=8M tests/mp_board_loop_probe.py \
#       JOB_DIR DATA_DIR MODE WARMUP COUNT
#
# WARMUP samples of run() first (calibration; the first steps open a session), then MODE:
#   quiet    COUNT samples in one run() call, the log store's flush moved beyond the window
#            (flush_ms 1000 s, 4 KiB buffer): gc.mem_alloc() and micropython.mem_total()
#            deltas, net of an empty run() call (run()'s own set-up: binding its calls)
#   flushing the same with boot()'s log settings (a flush every 10 s): before every sample
#            a @native hook reads mem_total(); bytes are charged to the iteration that
#            allocated them, split by whether that iteration flushed the log
#   planted_tick  as quiet, with the app's late counter at 2**62 and every sample late: one
#            big int per sample in App.tick (negative control)
#   planted_link  as quiet, the link's input check replaced by select.poll().poll(0), the
#            list-allocating call the loop used to make (negative control)
#   compare  sim/loop.py stages() and run() over the whole job into two folders, and run()
#            with the log store unsliced into a third: are the session files the same?
#            (WARMUP, COUNT unused)
#   serve    all the job's samples, paced (~100 us each), while the host writes requests to
#            stdin: answers go to stdout; the hook notes when each request was answered
# Prints one JSON line (last line of stdout).
import gc
import json
import sys
import time
from array import array

import micropython

from device import main as fw
from sim.loop import build

job_dir, data_dir, mode = sys.argv[1], sys.argv[2], sys.argv[3]
WARMUP = int(sys.argv[4])
COUNT = int(sys.argv[5])
if mode == "compare":
    # sim/loop.py stages() (the benchmark's split) against run(): the same session
    # files from the same samples
    import os

    from sim.loop import stages

    files = []
    # and run() with the log store unsliced (its file work in one call, as before sliced
    # pieces): the same bytes too
    for k, fn, sl in ((0, fw.run, 1), (1, stages, 1), (2, fw.run, 0)):
        d = data_dir + "/" + str(k)
        os.mkdir(d)
        _job, b, a, lg, sv = build(job_dir, d, sliced=sl)
        fn(a, b, -1, lg, sv)
        lg.stop(a, "end")
        got = {}
        for name in sorted(os.listdir(d + "/logs")):
            with open(d + "/logs/" + name, "rb") as f:
                got[name] = f.read()
        files.append(got)
    same = files[0] == files[1]
    sizes = [sum(len(v) for v in x.values()) for x in files]
    print(json.dumps({"mode": mode, "engine": sys.implementation.name, "same": same,
                      "same_unsliced": files[0] == files[2],
                      "files": len(files[0]), "sizes": sizes}))  # fmt: skip
    sys.exit(0)
kw = {} if mode in ("flushing", "serve") else {"flush_ms": 1000000, "buf_bytes": 4096}
job, board, app, log, service = build(job_dir, data_dir, **kw)
fw.run(app, board, WARMUP, log, service)


def counters():
    return {
        "sample": board.i,
        "steps_logged": log._steps,
        "cues_logged": log._cues,
        "records": log.rec.records,
        "flushes": log.flushes,
        "active": log.active,
        "cues": app.cue.cues,
        "app_faults": app.faults,
        "log_faults": log.faults,
        "frames_ok": service.frames_ok,
        "steps_lost": app.steps_lost,
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


out = {"mode": mode, "engine": sys.implementation.name}
if mode in ("quiet", "planted_tick", "planted_link"):
    if mode == "planted_tick":
        app.late = 1 << 62
        board.late = 1
    if mode == "planted_link":
        pin = service.link._pin

        def old_check(t):
            return pin.poll(t)  # a new list on every call

        service.link.ipoll_in = old_check
    e_alloc, e_total = window(0)
    out["before"] = counters()
    d_alloc, d_total = window(COUNT)
    out["after"] = counters()
    out["alloc"] = d_alloc - e_alloc
    out["total"] = d_total - e_total
    out["setup_alloc"] = e_alloc
    out["setup_total"] = e_total
elif mode == "flushing":
    # total0, flushes0, B at flush, B other, n flush, n other, started (the first call only
    # takes the baseline: run()'s set-up, binding its calls, comes before it)
    # takes the baseline: run()'s set-up, binding its calls, comes before it), the log's
    # file work pending after the last iteration (sliced: a flush's pieces come one per
    # iteration, from the one that seals the block to the one that syncs it: all count as
    # flushing), flushes seen
    trk = array("i", [0, 0, 0, 0, 0, 0, 0, 0, 0])

    @micropython.native
    def track():
        t = micropython.mem_total()
        f = log.flushes
        d = t - trk[0]
        ph = log._phase
        if not trk[6]:
            trk[6] = 1
        elif f != trk[1] or trk[7] or ph:
            if f != trk[1]:
                trk[8] += 1
            trk[2] += d
            trk[4] += 1
        elif d:
            trk[3] += d
            trk[5] += 1
        trk[0] = micropython.mem_total()
        trk[1] = f
        trk[7] = ph

    board.with_hook(track)
    gc.collect()
    out["before"] = counters()
    fw.run(app, board, COUNT, log, service)
    track()
    out["after"] = counters()
    out["bytes_at_flush"] = trk[2]
    out["flush_iterations"] = trk[4]
    out["flushes_seen"] = trk[8]
    out["bytes_other"] = trk[3]
    out["allocating_other"] = trk[5]
else:  # serve
    answered = []
    polls = array("i", [0])
    real_poll = service.poll

    def counted_poll():
        polls[0] += 1
        return real_poll()

    service.poll = counted_poll
    seen = array("i", [0])

    def pace():
        time.sleep_us(100)
        if service.frames_ok != seen[0]:
            seen[0] = service.frames_ok
            answered.append(board.i)

    board.with_hook(pace)
    n0 = board.i
    fw.run(app, board, -1, log, service)
    out["samples"] = board.i - n0
    out["polls"] = polls[0]
    out["answered_at"] = answered
    out["after"] = counters()
sys.stdout.write("\n" + json.dumps(out) + "\n")
