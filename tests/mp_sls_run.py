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

from device.app import App
from device.simboard import SimBoard
from device.simrun import _read_array
from shared.config import Config


def main(argv):
    job_dir = argv[1]
    start_n = int(argv[2])
    side_s = int(argv[3])
    rest_s = int(argv[4])
    with open(job_dir + "/job.json") as f:
        job = json.load(f)
    cfg = Config()
    for key in job["config"]:
        cfg.set(key, job["config"][key])
    n = job["n"]
    board = SimBoard(
        _read_array(job_dir + "/counts.bin", "h", n * 6, 2),
        _read_array(job_dir + "/dt.bin", "i", n, 4),
    )
    app = App(board, cfg, calibrate=job["calibrate"], period_us=job["period_us"])
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
            app.start_sls(side_s, rest_s, cfg["sls_impact_mg"])
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
