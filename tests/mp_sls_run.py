# The single-leg stance test in the real firmware loop (device/app.py App.tick, SimBoard) over a
# replay job; runs under the MicroPython unix port and CPython alike:
#
#   MICROPYPATH=<repo> micropython tests/mp_sls_run.py JOB_DIR START_N SIDE_S REST_S
#
# START_N: the sample at which the test is started (the `test.sls` command). Prints one JSON
# line: the results, the motor's on/off edges (sample indices) and the engine.
import gc
import json
import sys

from sim.run import load_job


def main(argv):
    job_dir = argv[1]
    start_n = int(argv[2])
    side_s = int(argv[3])
    rest_s = int(argv[4])
    job, board, app = load_job(job_dir)
    edges = []
    motor = 0
    started = 0
    alloc = 0  # bytes allocated by App.tick while the test runs (MicroPython)
    ticks = 0
    mem = getattr(gc, "mem_alloc", None)
    gc.collect()
    gc.disable()
    while board.next_sample():
        if started and mem is not None:
            a = mem()
            app.tick()
            alloc += mem() - a
            ticks += 1
        else:
            app.tick()
        app.idle()
        if not started and app.n >= start_n:
            app.start_sls(side_s, rest_s, app.cfg["sls_impact_mg"])
            started = 1
        if app.motor_on != motor:
            motor = app.motor_on
            edges.append(app.n)
        if started and app.sls.done and not app.motor_on:
            app.stop_sls()
            break
    gc.enable()
    out = {"engine": sys.implementation.name, "edges": edges, "n": app.n}
    out["alloc_bytes"] = alloc
    out["test_ticks"] = ticks
    out["results"] = app.sls.results() if app.sls is not None else None
    out["calibrated"] = app.calibrated
    print(json.dumps(out))


main(sys.argv)
