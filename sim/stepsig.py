"""Step-detector inputs and reference events from trace files (numpy, CPython only).

Computes the five per-sample signals that ``shared.steps.StepDetector.update`` takes, from a
trace CSV (spec: /work/shared/spec/trace-and-replay.md), with a simple float complementary filter
for the up vector. The firmware feeds the same quantities from its own fixed-point estimator.

Reference events: mobgap ``*_reference_events.json`` (Apache-2.0, mobilise-d/mobgap example data,
HA_001; see /work/shared/data/real/README.md and NOTICE.mobgap.txt).
"""

import json
import math
import os

import numpy as np

from hipcue.replay import mount_from_meta
from hipcue.trace import read_trace
from shared.mount import mount_matrix
from shared.mount import parse_mount as _parse_mount
from sim.paths import data_dir

DATA_DIR = str(data_dir())
MOBGAP_TRIALS = ("Test5_Trial1", "Test5_Trial2", "Test11_Trial1")
INPUTS = ("acc_up_mg", "acc_left_mg", "acc_fwd_mg", "gyro_up_cdps", "obl_mdeg")


def trace_path(trial):
    return os.path.join(DATA_DIR, "mobgap_HA_001_%s.trace.csv" % trial)


def events_path(trial):
    return os.path.join(DATA_DIR, "mobgap_HA_001_%s_reference_events.json" % trial)


def parse_mount(text):
    """'forward=+z left=-y up=+x' -> 3x3 matrix M with body = M @ sensor (shared/mount.py)."""
    return np.asarray(mount_matrix(_parse_mount(text)), float).reshape(3, 3)


def load_trace(path):
    """Returns (t_s from 0, acc_g[N,3], gyro_dps[N,3], mount text or None) in sensor axes,
    read as `hipcue replay` reads a trace."""
    tr = read_trace(path)
    return tr.t_s - tr.t_s[0], tr.acc_g, tr.gyro_dps, mount_from_meta(tr.meta)


def up_vector(acc_b, gyr_b, period_s, tau_s=2.0):
    """Float complementary filter: gyro-propagated up vector pulled toward the normalised
    accelerometer with time constant tau_s. Body axes in, unit up vectors (body axes) out."""
    n = len(acc_b)
    out = np.empty((n, 3))
    u = acc_b[0] / np.linalg.norm(acc_b[0])
    k = period_s / tau_s
    w_all = np.radians(gyr_b) * period_s
    for i in range(n):
        w = w_all[i]
        # world vector seen from a rotating body: du/dt = -w x u = u x w
        u = u + np.cross(u, w)
        a = acc_b[i]
        na = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
        if 0.5 < na < 1.5:
            u = u + k * (a / na - u)
        u = u / math.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
        out[i] = u
    return out


def resample(t, x, rate_hz):
    """Linear interpolation of the columns of x onto a uniform grid from t[0] at rate_hz."""
    tn = np.arange(t[0], t[-1] + 1e-9, 1.0 / rate_hz)
    return tn, np.column_stack([np.interp(tn, t, x[:, k]) for k in range(x.shape[1])])


def signals(path, mount=None, rate_hz=None, tau_s=2.0):
    """The detector's integer inputs for a trace (optionally resampled to rate_hz).

    Returns dict with 't' (s), 'period_us', and int arrays 'acc_up_mg', 'acc_left_mg',
    'acc_fwd_mg', 'gyro_up_cdps', 'obl_mdeg' (obliquity relative to the mount axes, i.e. as
    ``--no-calibrate``). tau_s: time constant of the up-vector filter."""
    t, acc, gyr, mount_line = load_trace(path)
    if rate_hz:
        if rate_hz < 1.0 / float(np.median(np.diff(t))):
            # crude anti-alias: moving average over the new period before decimating
            k = int(round(1.0 / rate_hz / float(np.median(np.diff(t)))))
            ker = np.ones(k) / k
            acc = np.column_stack([np.convolve(acc[:, i], ker, "same") for i in range(3)])
            gyr = np.column_stack([np.convolve(gyr[:, i], ker, "same") for i in range(3)])
        _, acc2 = resample(t, acc, rate_hz)
        t, gyr = resample(t, gyr, rate_hz)
        acc = acc2
    m = parse_mount(mount or mount_line or "forward=+x left=+y up=+z")
    acc_b = acc @ m.T
    gyr_b = gyr @ m.T
    period_s = float(np.median(np.diff(t)))
    u = up_vector(acc_b, gyr_b, period_s, tau_s)
    acc_up = np.einsum("ij,ij->i", acc_b, u) - 1.0
    acc_left = acc_b[:, 1] - u[:, 1]
    acc_fwd = acc_b[:, 0] - u[:, 0]
    gyro_up = np.einsum("ij,ij->i", gyr_b, u)
    obl = np.degrees(np.arctan2(u[:, 1], u[:, 2]))
    r = np.rint
    return {
        "t": t,
        "period_us": int(round(period_s * 1e6)),
        "acc_up_mg": r(acc_up * 1000).astype(np.int64),
        "acc_left_mg": r(acc_left * 1000).astype(np.int64),
        "acc_fwd_mg": r(acc_fwd * 1000).astype(np.int64),
        "gyro_up_cdps": r(gyro_up * 100).astype(np.int64),
        "obl_mdeg": r(obl * 1000).astype(np.int64),
    }


def trial_signals(trial, rate_hz=None, tau_s=2.0):
    return signals(trace_path(trial), rate_hz=rate_hz, tau_s=tau_s)


def reference(trial, system):
    """Reference events of one system ('INDIP' or 'Stereophoto').

    Returns (ic_t[s], ic_side[0 = left, 1 = right], bouts [(start_s, end_s)])."""
    with open(events_path(trial)) as f:
        d = json.load(f)
    ic_t, ic_side, bouts = [], [], []
    for wb in d[system]["MicroWB"]:
        bouts.append((wb["Start_s"], wb["End_s"]))
        for ts, side in zip(wb["InitialContact_s"], wb["InitialContact_LeftRight"], strict=True):
            ic_t.append(ts)
            ic_side.append(0 if side == "Left" else 1)
    return np.array(ic_t), np.array(ic_side, dtype=int), bouts


def score(det_t, det_side, ref_t, ref_side, bouts, tol_s=0.15, margin_s=1.0):
    """Matches each reference IC (in time order) to the nearest unused detection within tol_s.

    Returns dict: n_ref, matched, side_ok (matched with the same stance side), n_det,
    unmatched (detections matching no reference IC) and, of those, outside (not within any of
    the given bouts +- margin_s)."""
    det_t = np.asarray(det_t, dtype=float)
    det_side = np.asarray(det_side, dtype=int)
    keep = ~np.isnan(np.asarray(ref_t, dtype=float))
    ref_t = np.asarray(ref_t, dtype=float)[keep]
    ref_side = np.asarray(ref_side, dtype=int)[keep]
    used = np.zeros(len(det_t), dtype=bool)
    matched = side_ok = 0
    for rt, rs in zip(ref_t, ref_side, strict=True):
        if len(det_t) == 0:
            break
        d = np.abs(det_t - rt)
        d[used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= tol_s + 1e-6:
            used[j] = True
            matched += 1
            side_ok += int(det_side[j] == rs)
    inside = np.zeros(len(det_t), dtype=bool)
    for b0, b1 in bouts:
        inside |= (det_t >= b0 - margin_s) & (det_t <= b1 + margin_s)
    return {
        "n_ref": len(ref_t),
        "matched": matched,
        "side_ok": side_ok,
        "n_det": len(det_t),
        "unmatched": int(np.sum(~used)),
        "outside": int(np.sum(~used & ~inside)),
    }


def run_detector(sig, **kw):
    """Runs shared.steps.StepDetector over signals() output (CPython).

    Returns a list of (step_ic_n, step_stance, step_drop_mdeg, step_end_n)."""
    from shared.steps import StepDetector

    d = StepDetector(sig["period_us"], **kw)
    cols = [sig[k].tolist() for k in INPUTS]
    a0, a1, a2, a3, a4 = cols
    upd = d.update
    out = []
    for i in range(len(a0)):
        if upd(i, a0[i], a1[i], a2[i], a3[i], a4[i]):
            out.append((d.step_ic_n, d.step_stance, d.step_drop_mdeg, d.step_end_n))
    return out


def evaluate(trial, det, period_us):
    """Scores detections of one mobgap trial against both references.

    Returns {system: score dict} for 'INDIP' and 'Stereophoto', plus 'union': detections that
    match no IC of either reference, and of those the ones outside every bout (+- 1 s) of
    either reference."""
    det_t = np.array([r[0] for r in det], dtype=float) * period_us * 1e-6
    det_s = np.array([r[1] for r in det], dtype=int)
    out = {}
    all_t, all_b = [], []
    for system in ("INDIP", "Stereophoto"):
        rt, rs, b = reference(trial, system)
        out[system] = score(det_t, det_s, rt, rs, b)
        all_t += list(rt)
        all_b += b
    # detections that match no IC of either reference, and of those the ones far from bouts
    all_t = np.array([x for x in all_t if not np.isnan(x)])
    far = np.array(
        [len(all_t) == 0 or np.min(np.abs(all_t - x)) > 0.15 + 1e-6 for x in det_t], bool
    )
    inside = np.zeros(len(det_t), dtype=bool)
    for b0, b1 in all_b:
        inside |= (det_t >= b0 - 1.0) & (det_t <= b1 + 1.0)
    out["union"] = {
        "n_det": len(det_t),
        "unmatched": int(np.sum(far)),
        "outside": int(np.sum(far & ~inside)),
        "unmatched_t": [round(float(x), 2) for x in det_t[far]],
    }
    return out
