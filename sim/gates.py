"""Figures behind the data-quality gates' defaults (issue 14), from the firmware's own signals
on the shared recordings (sim/capture.py):

- turn gate: the yaw rate the firmware gates on (CELL_YAW low-passed as device/app.py does:
  an exponential mean over 2**k samples ~ turn_tau_ms) on straight walking and in U-turns.
  Straight walking: the ipol walks (walk_s, without the U-turn and 1 s either side of it, and
  0.5 s from each end) and the bouts of mobgap HA_001 Test5 (straight 10 m walks) and of
  Test11 whose INDIP Turning_Flag is 0, 1 s in from each end. U-turns: the ipol u_turn_s spans.
  The threshold rule: the smallest multiple of 5 deg/s at least 1.2 x the largest straight
  walking rate of any recording; it must stay below every U-turn's median rate.
"""

from __future__ import annotations

import json

import numpy as np

from sim.capture import capture


def yaw_lowpass_cdps(yaw_cdps: np.ndarray, period_us: int, tau_ms: int) -> np.ndarray:
    """device/app.py's turn-gate signal, in integers exactly as the firmware computes it."""
    k = 0
    while k < 12 and (period_us << (k + 1)) <= tau_ms * 1414:
        k += 1
    out = np.empty(len(yaw_cdps), dtype=np.int64)
    y = 0
    for i, v in enumerate(yaw_cdps.tolist()):
        y += ((v << 4) - y) >> k
        out[i] = y >> 4
    return out


def turn_figures(refs, tau_ms: int = 250) -> dict:
    rows = []
    for ref in refs:
        c = capture(ref)
        x = c["x"]
        t = c["t"][np.minimum(np.searchsorted(c["grid"], x[:, 0]), len(c["t"]) - 1)]
        yaw = np.abs(yaw_lowpass_cdps(x[:, 4], c["period_us"], tau_ms)) / 100.0
        ev = json.loads(ref.trace.with_name(ref.name + "_reference_events.json").read_text())
        straight = np.zeros(len(t), bool)
        turn = np.zeros(len(t), bool)
        if "walk_s" in ev:
            w0, w1 = ev["walk_s"]
            u0, u1 = ev["u_turn_s"]
            straight = (t >= w0 + 0.5) & (t <= w1 - 0.5) & ~((t >= u0 - 1.0) & (t <= u1 + 1.0))
            turn = (t >= u0) & (t <= u1)
        else:
            for wb in ev["INDIP"]["MicroWB"]:
                if not wb.get("Turning_Flag", 0):
                    straight |= (t >= wb["Start_s"] + 1.0) & (t <= wb["End_s"] - 1.0)
        rows.append(
            {
                "name": ref.name,
                "straight_max_dps": float(yaw[straight].max()) if straight.any() else None,
                "straight_p99_dps": float(np.percentile(yaw[straight], 99))
                if straight.any()
                else None,
                "turn_median_dps": float(np.median(yaw[turn])) if turn.any() else None,
            }
        )
    smax = max(r["straight_max_dps"] for r in rows if r["straight_max_dps"] is not None)
    tmin = min(r["turn_median_dps"] for r in rows if r["turn_median_dps"] is not None)
    thr = 5.0 * np.ceil(1.2 * smax / 5.0)
    return {
        "tau_ms": tau_ms,
        "rows": rows,
        "straight_max_dps": smax,
        "turn_median_min_dps": tmin,
        "threshold_dps": float(thr),
        "separates": bool(thr < tmin),
    }


TILT_WALK = ("ipol",)  # calibrated walks with a still start: the walking tilt range


def tilt_figures(refs) -> dict:
    """Tilt while walking (calibrated ipol walks) and the bent-over stretch of the mobgap
    circuit (Test11, calibrated from its still start), with the tilt gate on and off."""
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    walk = []
    for ref in refs:
        if not ref.name.startswith(TILT_WALK):
            continue
        ev = json.loads(ref.trace.with_name(ref.name + "_reference_events.json").read_text())
        tr = read_trace(ref.trace)
        res = run_firmware(tr, calibrate=True, engine="cpython")
        w0, w1 = ev["walk_s"]
        m = (tr.t_s >= w0) & (tr.t_s <= w1)
        walk.append(res.tilt_mdeg[m] / 1000.0)
    w = np.concatenate(walk)
    out: dict = {"walk_tilt_min_deg": float(w.min()), "walk_tilt_max_deg": float(w.max())}
    circuit = next(r for r in refs if r.name.endswith("Test11_Trial1"))
    tr = read_trace(circuit.trace)
    for label, sets in (("gate_on", ()), ("gate_off", ("tilt_gate_deg=0",))):
        res = run_firmware(tr, calibrate=True, engine="cpython", sets=sets)
        tilt = res.tilt_mdeg / 1000.0
        bent = np.abs(tilt) > 30.0
        out[label] = {
            "bent_s": float(bent.sum() * res.rate.period_us * 1e-6),
            "cue_samples_bent": int(np.sum((res.cue == 1) & bent)),
            "cues": int(res.summary["cues"]),
            "max_step_drop_deg": max((s.drop_deg for s in res.steps), default=0.0),
            "max_tilt_deg": float(tilt.max()),
        }
    return out
