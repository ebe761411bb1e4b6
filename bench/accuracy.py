"""Synthetic walks (figures 3 and 4): obliquity and per-step drop accuracy, step detection,
cue latency against the truth columns of hipcue.synth."""

from __future__ import annotations

import numpy as np

from hipcue.replay import run_firmware
from sim.inputs import synth_trace

WALKS = [(p, s) for p in ("weak-right", "healthy", "weak-left") for s in (1, 2)]
DURATION_S = 120.0
MATCH_S = 0.150
CUE_WINDOW_S = 0.200  # a crossing with no cue rising edge within this is a miss
EARLY_S = 0.100  # a cue up to this long before the true crossing still belongs to it


def one_walk(preset: str, seed: int, rate_hz: float = 100.0) -> dict:
    tr, st = synth_trace(preset, DURATION_S, seed, rate_hz)
    res = run_firmware(tr, calibrate=True)
    c = st.columns
    t = tr.t_s
    truth_obl = np.asarray(c["obliquity_deg"], float)
    walking = np.isin(np.asarray(c["activity"]), ["walk", "turn"])
    cal_end = int(res.firmware["calibration_end_index"])
    after = np.arange(tr.n) > cal_end
    est = res.obl_mdeg / 1000.0
    m = walking & after
    err = est[m] - truth_obl[m]

    # per-step drops: each truth step gets the detected step with the nearest IC (same stance)
    det_t = np.array([s.t_s for s in res.steps])
    det_side = np.array([s.stance for s in res.steps])
    det_drop = np.array([s.drop_deg for s in res.steps])
    drop_err = []
    matched = 0
    used = np.zeros(len(det_t), bool)
    for t_ic, side, drop in st.steps:
        if len(det_t) == 0:
            break
        d = np.abs(det_t - t_ic)
        d[(det_side != side) | used] = np.inf
        j = int(np.argmin(d))
        if d[j] <= MATCH_S:
            used[j] = True
            matched += 1
            drop_err.append(abs(det_drop[j] - drop))

    # cue latency: upward crossings of the threshold by the true drop |obliquity|
    thr = float(res.config["threshold_deg"])
    refr = float(res.config["refractory_ms"]) / 1000.0
    drop_true = np.abs(truth_obl)
    cue_t = t[np.asarray(res.cue_index, int)] if len(res.cue_index) else np.array([])
    lat = []
    misses = 0
    skipped = 0
    for i in range(1, tr.n):
        if not (drop_true[i - 1] < thr <= drop_true[i]):
            continue
        if not (walking[i] and after[i]):
            continue
        f = (thr - drop_true[i - 1]) / (drop_true[i] - drop_true[i - 1])
        tc = t[i - 1] + f * (t[i] - t[i - 1])
        # armed: no cue in the refractory period before (the crossing's own early window aside)
        prev = cue_t[(cue_t >= tc - refr) & (cue_t < tc - EARLY_S)]
        if len(prev):
            skipped += 1
            continue
        mine = cue_t[(cue_t >= tc - EARLY_S) & (cue_t <= tc + CUE_WINDOW_S)]
        if len(mine):
            lat.append(float(mine[0] - tc))
        else:
            misses += 1
    return {
        "walk": f"{preset} seed={seed}",
        "obl_sq_sum": float(np.sum(err**2)),
        "obl_n": int(m.sum()),
        "obl_rms": float(np.sqrt(np.mean(err**2))),
        "obl_mean_err": float(np.mean(err)),
        "obl_std_err": float(np.std(err)),
        "drop_err": drop_err,
        "truth_steps": len(st.steps),
        "matched_steps": matched,
        "detected_steps": len(res.steps),
        "latencies_s": lat,
        "cue_misses": misses,
        "crossings_not_armed": skipped,
    }


def combine(results: list[dict]) -> dict:
    obl_rms = float(
        np.sqrt(sum(r["obl_sq_sum"] for r in results) / sum(r["obl_n"] for r in results))
    )
    drop = np.concatenate([np.asarray(r["drop_err"], float) for r in results])
    lat = np.concatenate([np.asarray(r["latencies_s"], float) for r in results]) * 1000.0
    truth = sum(r["truth_steps"] for r in results)
    matched = sum(r["matched_steps"] for r in results)
    detected = sum(r["detected_steps"] for r in results)
    misses = sum(r["cue_misses"] for r in results)
    return {
        "walks": [r["walk"] for r in results],
        "obliquity_rms_deg": obl_rms,
        "obliquity_rms_deg_worst_walk": max(r["obl_rms"] for r in results),
        "drop_err_p95_deg": float(np.percentile(drop, 95)) if len(drop) else None,
        "drop_err_median_deg": float(np.median(drop)) if len(drop) else None,
        "drop_err_max_deg": float(np.max(drop)) if len(drop) else None,
        "steps_truth": truth,
        "steps_matched": matched,
        "steps_detected": detected,
        "step_detection_rate": matched / truth if truth else None,
        "cue_crossings_scored": int(len(lat) + misses),
        "cue_latency_median_ms": float(np.median(lat)) if len(lat) else None,
        "cue_latency_p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
        "cue_latency_min_ms": float(np.min(lat)) if len(lat) else None,
        "cue_misses": misses,
        "cue_crossings_not_armed": sum(r["crossings_not_armed"] for r in results),
    }
