"""Scoring exercise sets (issue #16): the firmware's reps against the truth of hipcue synth.

`one_set` generates a synthetic set (host/hipcue/exsynth.py), replays it through the
firmware loop (`--set mode=...`) and scores it; `combine` pools sets. Used by the tests
(a few sets) and by `make bench` section 13 (many).

Matching: a truth rep [t0, t0 + duration] and a detected rep [start, end] match when they
overlap; each is used once (in time order). Per matched rep: the drop error, |detected -
truth| (deg). Cue latency: for each truth rep whose drop reaches the threshold, from the
truth crossing the threshold (the first sample of the rep whose swing-side drop, or roll
back, is at or past it; linear interpolation between samples) to the first motor-on within
[-EARLY_S, +CUE_WINDOW_S] of it and before the rep's end + EARLY_S; none there is a missed
cue.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

EARLY_S = 0.1
CUE_WINDOW_S = 1.0
LYING = ("leg-lift", "clamshell")


def one_set(
    exercise: str,
    seed: int,
    side: str = "left",
    reps: int = 10,
    engine: str = "cpython",
    sets: tuple[str, ...] = (),
) -> dict:
    from hipcue import exsynth, synth
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    tr, truth = exsynth.generate(exercise, side, reps, seed=seed)
    with tempfile.TemporaryDirectory(prefix="hipcue-ex-") as tmp:
        path = Path(tmp) / f"{exercise}-{seed}.trace.csv"
        synth.write_trace_csv(tr, path)
        trace = read_trace(path)
        args = [f"mode={exercise}", f"ex_side={side}", f"ex_reps={reps}", *sets]
        res = run_firmware(trace, sets=args, engine=engine)
    t = trace.t_s
    thr = float(res.config["ex_threshold_deg"])
    det = [
        (float(t[i0]), float(t[i1]), stance, drop / 1000.0, cued)
        for i0, i1, _p, stance, drop, cued in res.reps
    ]
    used = [False] * len(det)
    drop_err = []
    matched = 0
    pairs = []
    for k, r in enumerate(truth):
        for j, (s0, s1, _st, _d, _c) in enumerate(det):
            if not used[j] and s0 <= r.t0 + r.dur and s1 >= r.t0:
                used[j] = True
                matched += 1
                drop_err.append(abs(det[j][3] - r.drop_deg))
                pairs.append((k, j))
                break
    # truth drop signal per sample, for the cue latency
    obl = np.asarray(tr.columns["obliquity_deg"], float)
    tilt = np.asarray(tr.columns["tilt_deg"], float)
    cue_t = t[np.asarray(res.cue_index, int)] if len(res.cue_index) else np.array([])
    lat = []
    misses = 0
    cls = []  # (truth drop, cued) per matched rep
    by_truth = dict(pairs)
    for k, r in enumerate(truth):
        j = by_truth.get(k)
        cls.append((r.drop_deg, det[j][4] if j is not None else 0))
        if r.drop_deg < thr:
            continue
        m = (t >= r.t0) & (t <= r.t0 + r.dur)
        idx = np.flatnonzero(m)
        if exercise in LYING:
            d = -tilt[idx]
        elif r.stance == "L":
            d = obl[idx]
        else:
            d = -obl[idx]
        above = np.flatnonzero(d >= thr)
        i = int(above[0])
        if i == 0:
            tc = float(t[idx[0]])
        else:
            a, b = d[i - 1], d[i]
            tc = float(t[idx[i - 1]] + (thr - a) / (b - a) * (t[idx[i]] - t[idx[i - 1]]))
        end = min(tc + CUE_WINDOW_S, r.t0 + r.dur + EARLY_S)
        mine = cue_t[(cue_t >= tc - EARLY_S) & (cue_t <= end)]
        if len(mine):
            lat.append(float(mine[0] - tc))
        else:
            misses += 1
    on = exercise_onset_deg(exercise, res.config)
    return {
        "set": f"{exercise} {side} seed={seed}",
        "onset_deg": on,
        # truth reps moving the pelvis at least 0.5 deg past the onset, and how many were found
        "countable": sum(1 for r in truth if r.motion_deg >= on + 0.5),
        "countable_found": sum(
            1 for k, r in enumerate(truth) if r.motion_deg >= on + 0.5 and k in by_truth
        ),
        "below_onset": sum(1 for r in truth if r.motion_deg < on),
        "exercise": exercise,
        "truth_reps": len(truth),
        "detected_reps": len(det),
        "firmware_reps": res.firmware["exercise"]["reps"],
        "matched": matched,
        "drop_err": drop_err,
        "latencies_s": lat,
        "cue_misses": misses,
        "threshold_deg": thr,
        "drop_cued": cls,
        "set_done_s": res.firmware["exercise"]["set_done_index"] >= 0,
    }


def exercise_onset_deg(exercise: str, config: dict) -> float:
    """The rep onset the firmware used (config ex_rep_deg, 0: the exercise's own), deg."""
    from shared.exercise import DEFAULT_REP_MDEG, MODES

    v = float(config["ex_rep_deg"])
    return v if v > 0 else DEFAULT_REP_MDEG[MODES.index(exercise)] / 1000.0


def combine(results: list[dict]) -> dict:
    diffs = [r["firmware_reps"] - r["truth_reps"] for r in results]
    drop = np.concatenate([np.asarray(r["drop_err"], float) for r in results])
    lat = np.concatenate([np.asarray(r["latencies_s"], float) for r in results]) * 1000.0
    out = {
        "sets": len(results),
        "sets_exact": sum(1 for d in diffs if d == 0),
        "sets_within_1": sum(1 for d in diffs if abs(d) <= 1),
        "count_err_max": max((abs(d) for d in diffs), default=0),
        "reps_truth": sum(r["truth_reps"] for r in results),
        "reps_matched": sum(r["matched"] for r in results),
        "reps_detected": sum(r["firmware_reps"] for r in results),
        "reps_countable": sum(r["countable"] for r in results),
        "reps_countable_found": sum(r["countable_found"] for r in results),
        "reps_below_onset": sum(r["below_onset"] for r in results),
        "drop_err_p95_deg": float(np.percentile(drop, 95)) if len(drop) else None,
        "drop_err_median_deg": float(np.median(drop)) if len(drop) else None,
        "drop_err_max_deg": float(np.max(drop)) if len(drop) else None,
        "cue_scored": int(len(lat) + sum(r["cue_misses"] for r in results)),
        "cue_misses": sum(r["cue_misses"] for r in results),
        "cue_latency_median_ms": float(np.median(lat)) if len(lat) else None,
        "cue_latency_p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
    }
    # cue as a classifier of the truth drop against the threshold (+/- 1 deg margins)
    thr = results[0]["threshold_deg"] if results else 0.0
    pos = [c for r in results for d, c in r["drop_cued"] if d >= thr + 1.0]
    neg = [c for r in results for d, c in r["drop_cued"] if d <= thr - 1.0]
    near = [(d, c) for r in results for d, c in r["drop_cued"] if thr - 1.0 < d < thr + 1.0]
    out["cue_sensitivity"] = sum(pos) / len(pos) if pos else None
    out["cue_specificity"] = 1.0 - sum(neg) / len(neg) if neg else None
    out["cue_pos_n"] = len(pos)
    out["cue_neg_n"] = len(neg)
    out["cue_near_n"] = len(near)
    out["cue_near_agree"] = (
        sum(1 for d, c in near if (d >= thr) == bool(c)) / len(near) if near else None
    )
    return out


def still_learning_effect(exercise: str, seed: int) -> dict:
    """Obliquity error against the truth over one synthetic set, replayed as a walk (the
    estimator learns gyro bias while "still") and as the exercise (it does not): the measured
    reason exercise mode turns that learning off (shared/fromconfig.py)."""
    from hipcue import exsynth, synth
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    tr, _truth = exsynth.generate(exercise, "left", 10, seed=seed)
    with tempfile.TemporaryDirectory(prefix="hipcue-ex-") as tmp:
        path = Path(tmp) / "set.trace.csv"
        synth.write_trace_csv(tr, path)
        trace = read_trace(path)
        out = {}
        for mode in ("walk", exercise):
            res = run_firmware(trace, sets=[f"mode={mode}"], engine="cpython")
            err = res.obl_mdeg / 1000.0 - np.asarray(tr.columns["obliquity_deg"], float)
            err = err[300:]  # after the calibration second and the filter's start
            key = "learning_on" if mode == "walk" else "learning_off"
            out[key] = {
                "rms_deg": float(np.sqrt(np.mean(err**2))),
                "max_abs_deg": float(np.max(np.abs(err))),
            }
    return out
