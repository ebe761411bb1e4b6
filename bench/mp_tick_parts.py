"""Run by the MicroPython unix port under callgrind (MICROPYPATH = repo root):

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=map_iternext \
        --dump-before=mp_builtin_hash micropython bench/mp_tick_parts.py JOB_DIR WARMUP N

App.tick split by part: three apps over the same trace are driven WARMUP samples; the first
then runs N more with the parts' entry points (device/app.py `_est_update`, `_steps_step`,
`_cue_update`) wrapped to record their arguments; the second replays those arguments to its
own estimator, step detector and cue detector one part at a time (the same inputs from the
same state: the same work as inside tick), the third runs tick itself. Regions, in order
(one callgrind dump each, `for _ in map(fn, range(N))`):
    empty    fn does nothing
    args     fn loads one sample's recorded arguments (the replays' own overhead)
    est      args + Estimator.update
    steps    args + StepDetector.update
    cue      args + CueDetector.update (the gate cell written first, as tick does)
    tick     SimBoard.next_sample + App.tick (no ring drain: no step handed on here)
    read     SimBoard.next_sample alone (on a fourth board over the same samples)
"""

import gc
import json
import sys
from array import array

from device import app as app_mod
from sim.run import load_job

job_dir = sys.argv[1]
WARMUP = int(sys.argv[2])
N = int(sys.argv[3])

_, ba, A = load_job(job_dir)
_, bb, B = load_job(job_dir)
_, bc, C = load_job(job_dir)
_, bd, _D = load_job(job_dir)


def drive(app, board, n):
    i = 0
    while i < n and board.next_sample():
        app.tick()
        app.ring_tail = app.ring_head
        i += 1


drive(A, ba, WARMUP)
drive(B, bb, WARMUP)
drive(C, bc, WARMUP)
drive(_D, bd, WARMUP)

r_imu = array("h", [0] * (6 * N))
r_st = array("i", [0] * (7 * N))  # n, up, left, fwd, -, obl, called (1) or not
r_cue = array("i", [0] * (3 * N))  # obl, enabled, gate
k_est = array("i", [0])
real_est = app_mod._est_update
real_steps = app_mod._steps_step
real_cue = app_mod._cue_update


def rec_est(est, s):
    i = k_est[0]
    for j in range(6):
        r_imu[6 * i + j] = s[j]
    k_est[0] = i + 1
    return real_est(est, s)


def rec_steps(st, n):
    i = k_est[0] - 1
    b = 7 * i
    v = st._v
    r_st[b] = n
    r_st[b + 1] = v[35]  # shared/steps.py CELL_UP, CELL_LEFT, CELL_FWD, CELL_OBL
    r_st[b + 2] = v[36]
    r_st[b + 3] = v[37]
    r_st[b + 5] = v[38]
    r_st[b + 6] = 1
    return real_steps(st, n)


def rec_cue(cue, obl, enabled):
    i = k_est[0] - 1
    r_cue[3 * i] = obl
    r_cue[3 * i + 1] = enabled
    r_cue[3 * i + 2] = cue._s[14]
    return real_cue(cue, obl, enabled)


app_mod._est_update = rec_est
app_mod._steps_step = rec_steps
app_mod._cue_update = rec_cue
drive(A, ba, N)
app_mod._est_update = real_est
app_mod._steps_step = real_steps
app_mod._cue_update = real_cue

imu = array("h", [0] * 6)
est_b = B.est
st_b = B.steps
sv_b = st_b._v
cue_b = B.cue
cue_s = cue_b._s
k = array("i", [0])


def empty_step(_):
    pass


def args_step(_):
    i = k[0]
    k[0] = i + 1
    b = 6 * i
    imu[0] = r_imu[b]
    b = 7 * i
    c = r_st[b + 6] + r_cue[3 * i]  # noqa: F841 - loaded, not used


def est_step(_):
    i = k[0]
    k[0] = i + 1
    b = 6 * i
    imu[0] = r_imu[b]
    imu[1] = r_imu[b + 1]
    imu[2] = r_imu[b + 2]
    imu[3] = r_imu[b + 3]
    imu[4] = r_imu[b + 4]
    imu[5] = r_imu[b + 5]
    real_est(est_b, imu)


def steps_step(_):
    i = k[0]
    k[0] = i + 1
    b = 7 * i
    if r_st[b + 6]:
        sv_b[35] = r_st[b + 1]
        sv_b[36] = r_st[b + 2]
        sv_b[37] = r_st[b + 3]
        sv_b[38] = r_st[b + 5]
        real_steps(st_b, r_st[b])


def cue_step(_):
    i = k[0]
    k[0] = i + 1
    b = 3 * i
    cue_s[14] = r_cue[b + 2]
    real_cue(cue_b, r_cue[b], r_cue[b + 1])


def tick_step(_):
    bc.next_sample()
    C.tick()
    C.ring_tail = C.ring_head


def read_step(_):
    bd.next_sample()


def region(fn):
    k[0] = 0
    gc.collect()
    for _ in map(fn, range(N)):
        pass


order = []
for name, fn in (
    ("empty", empty_step),
    ("args", args_step),
    ("est", est_step),
    ("steps", steps_step),
    ("cue", cue_step),
    ("tick", tick_step),
    ("read", read_step),
):
    hash(len(order))
    region(fn)
    order.append(name)
hash(99)
same = est_b._s[39] == A.est._s[39] and st_b.steps == A.steps.steps
print(json.dumps({"order": order, "n": N, "calls": k_est[0], "same_state": same}))
