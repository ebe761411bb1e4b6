"""Run by the MicroPython unix port (MICROPYPATH = repo root):

    micropython bench/mp_loop_cost.py JOB_DIR alloc WARMUP N
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=map_iternext \
        --dump-before=mp_builtin_hash micropython bench/mp_loop_cost.py JOB_DIR cost WARMUP N

JOB_DIR as for sim/run.py (counts.bin, dt.bin, job.json). The firmware loop (SimBoard +
App.tick + draining the step ring, as sim/run.py does) first runs WARMUP samples
(calibration, into steady walking), then:

alloc: N samples in a @native driver loop with the GC disabled; prints one JSON line with the
       gc.mem_alloc() and micropython.mem_total() deltas.
cost:  measured regions, each `for _ in map(fn, range(N))`, so callgrind collects only inside
       MicroPython's map_iternext (the calls of fn and the range/map bookkeeping). A hash() call
       between regions makes callgrind dump (--dump-before=mp_builtin_hash): one file per
       region, in this order:
         empty   fn does nothing                        (map + call overhead)
         hipcue  next_sample(); tick(); drain ring      (the firmware loop)
         conv    next_sample() on a second board over the same samples; 6 counts -> floats
         madg    conv + Madgwick.update (bytecode)
         conv2   as conv (repeated, so each madgwick region has its own baseline)
         madgn   conv + MadgwickNative.update (@native)
       The hipcue region and both Madgwick regions use the same samples (WARMUP..WARMUP+N).
       gc.collect() runs before each region (outside the count); collections the Madgwick
       regions trigger themselves (float allocation) are counted: they are part of its cost.
"""

import gc
import json
import math
import sys
from array import array

import micropython

from bench.madgwick import Madgwick, MadgwickNative
from sim.board import SimBoard
from sim.run import load_job

job_dir = sys.argv[1]
mode = sys.argv[2]
WARMUP = int(sys.argv[3])
N = int(sys.argv[4])

job, board, app = load_job(job_dir)
counts = board._counts
dt = board._dt
CAP = 1024
s_ic = array("i", [0] * CAP)
s_side = array("i", [0] * CAP)
s_drop = array("i", [0] * CAP)
kk = array("i", [0])


@micropython.native
def drive(n):
    """n samples of the firmware loop; returns the number of steps drained."""
    app_ = app
    board_ = board
    k = 0
    i = 0
    while i < n:
        if not board_.next_sample():
            break
        app_.tick()
        while app_.ring_tail != app_.ring_head:
            j = app_.ring_tail & 31
            m = k & 1023
            s_ic[m] = app_.ring_ic[j]
            s_side[m] = app_.ring_stance[j]
            s_drop[m] = app_.ring_drop[j]
            k += 1
            app_.ring_tail += 1
        i += 1
    return k


@micropython.native
def hip_step(_):
    app_ = app
    board.next_sample()
    app_.tick()
    while app_.ring_tail != app_.ring_head:
        j = app_.ring_tail & 31
        m = kk[0] & 1023
        s_ic[m] = app_.ring_ic[j]
        s_side[m] = app_.ring_stance[j]
        s_drop[m] = app_.ring_drop[j]
        kk[0] += 1
        app_.ring_tail += 1


@micropython.native
def empty_step(_):
    pass


acc_g = job["acc_ug"] * 1e-6
gyro_rad = math.radians(job["gyro_udps"] * 1e-6)
board2 = SimBoard(counts, dt)
madg = Madgwick(job["period_us"] * 1e-6, 0.1)
madgn = MadgwickNative(job["period_us"] * 1e-6, 0.1)


@micropython.native
def conv_step(_):
    board2.next_sample()
    s = board2.imu
    ga = gyro_rad
    aa = acc_g
    gx = s[3] * ga  # noqa: F841 - computed, not used
    gy = s[4] * ga  # noqa: F841 - computed, not used
    gz = s[5] * ga  # noqa: F841 - computed, not used
    ax = s[0] * aa  # noqa: F841 - computed, not used
    ay = s[1] * aa  # noqa: F841 - computed, not used
    az = s[2] * aa  # noqa: F841 - computed, not used


@micropython.native
def madg_step(_):
    board2.next_sample()
    s = board2.imu
    ga = gyro_rad
    aa = acc_g
    gx = s[3] * ga
    gy = s[4] * ga
    gz = s[5] * ga
    ax = s[0] * aa
    ay = s[1] * aa
    az = s[2] * aa
    madg.update(gx, gy, gz, ax, ay, az)


@micropython.native
def madgn_step(_):
    board2.next_sample()
    s = board2.imu
    ga = gyro_rad
    aa = acc_g
    gx = s[3] * ga
    gy = s[4] * ga
    gz = s[5] * ga
    ax = s[0] * aa
    ay = s[1] * aa
    az = s[2] * aa
    madgn.update(gx, gy, gz, ax, ay, az)


def region(fn):
    gc.collect()  # every region starts from the same, empty heap (not counted)
    for _ in map(fn, range(N)):
        pass


drive(WARMUP)


def measure_alloc(n):
    """Deltas over n samples; all names local, so nothing but the loop can allocate."""
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t0 = micropython.mem_total()
    k = drive(n)
    t1 = micropython.mem_total()
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0, t1 - t0, k


if mode == "alloc":
    # an empty run first (n = 0): the cost of measuring itself, reported beside
    e_alloc, e_total, _ = measure_alloc(0)
    d_alloc, d_total, k = measure_alloc(N)
    print(
        json.dumps(
            {
                "n": N,
                "mem_alloc_delta": d_alloc,
                "mem_total_delta": d_total,
                "empty_mem_alloc_delta": e_alloc,
                "empty_mem_total_delta": e_total,
                "steps": k,
                "calibrated": app.calibrated,
                "end_index": board.i,
            }
        )
    )
else:
    # Madgwick: settle its quaternion on the first samples (same as the firmware's warmup).
    board2.i = -1
    for _ in range(WARMUP):
        madg_step(0)
        board2.i -= 1
        madgn_step(0)
    order = []
    hash(0)
    region(empty_step)
    order.append("empty")
    hash(1)
    region(hip_step)
    order.append("hipcue")
    for name, fn in (
        ("conv", conv_step),
        ("madg", madg_step),
        ("conv2", conv_step),
        ("madgn", madgn_step),
    ):
        board2.i = WARMUP - 1
        hash(2)
        region(fn)
        order.append(name)
    hash(3)
    up = madg.up()
    upn = madgn.up()
    print(
        json.dumps(
            {
                "order": order,
                "n": N,
                "steps": kk[0],
                "end_index": board.i,
                "madg_up": [up[0], up[1], up[2]],
                "madgn_up": [upn[0], upn[1], upn[2]],
                "obl_mdeg": app.obliquity_mdeg,
            }
        )
    )
