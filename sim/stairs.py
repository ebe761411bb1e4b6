"""Can stairs be told from level walking with what the device has (an IMU, no barometer)?
(issue 14). None of the shared recordings has stairs (../shared/data/real/README.md: level
walks, a U-turn, a daily-activity circuit with turns, sitting and standing; BROAD and x-io are
hand-held), so the question is asked the other way round: how far does the one pressure-free
cue, height from the vertical acceleration integrated twice, drift on walks known to be level?

For each straight leg of the 16 ipol walks (walk start to U-turn start, U-turn end to walk
end; about 10 m and 15-20 steps each), the firmware's own gravity-removed vertical
acceleration (the step detector's acc_up input, sim/capture.py), less its mean over the still
start (as a calibration could learn it), is integrated from rest to velocity and height. On a
level leg the true climb is 0; a flight of stairs climbs one riser per step (about 0.17 m,
the usual domestic rise), so a leg of N steps on stairs climbs ~0.17 N m.

    .venv/bin/python -m sim.stairs
"""

from __future__ import annotations

import json
import sys

import numpy as np

RISER_M = 0.17
G = 9.80665


def level_legs(refs) -> list[dict]:
    from sim.capture import capture

    out = []
    for r in refs:
        if not r.name.startswith("ipol"):
            continue
        cap = capture(r)
        x, grid, t = cap["x"], cap["grid"], cap["t"]
        ev = json.loads(r.trace.with_name(r.name + "_reference_events.json").read_text())
        w0, w1 = ev["walk_s"]
        u0, u1 = ev["u_turn_s"]
        dt = cap["period_us"] * 1e-6
        tt = t[np.minimum(np.searchsorted(grid, x[:, 0]), len(t) - 1)]
        still = (tt >= 1.0) & (tt <= w0 - 0.5)
        a = (x[:, 1] - x[still, 1].mean()) * 1e-3 * G  # m/s^2
        for leg, (s0, s1) in enumerate(((w0, u0), (u1, w1))):
            m = (tt >= s0) & (tt <= s1)
            v = np.cumsum(a[m]) * dt
            h = np.cumsum(v) * dt
            steps = int(np.sum((r.ic_t >= s0) & (r.ic_t <= s1)))
            out.append(
                {
                    "name": f"{r.name} leg {leg + 1}",
                    "s": float(s1 - s0),
                    "steps": steps,
                    "climb_m": float(h[-1]),
                    "max_abs_m": float(np.abs(h).max()),
                    "per_step_m": float(abs(h[-1]) / max(steps, 1)),
                }
            )
    return out


def figures(refs) -> dict:
    legs = level_legs(refs)
    per = np.array([g["per_step_m"] for g in legs])
    climb = np.array([abs(g["climb_m"]) for g in legs])
    return {
        "legs": len(legs),
        "apparent_climb_median_m": float(np.median(climb)),
        "apparent_climb_max_m": float(climb.max()),
        "apparent_per_step_median_m": float(np.median(per)),
        "apparent_per_step_max_m": float(per.max()),
        "legs_over_half_a_riser_per_step": int(np.sum(per > RISER_M / 2)),
        "riser_m": RISER_M,
        "detail": legs,
    }


def main(argv: list[str]) -> int:
    from sim import scoring
    from sim.paths import data_dir

    f = figures(scoring.load_references(data_dir()))
    for g in f["detail"]:
        print(
            f"{g['name']:<18} {g['s']:5.1f} s {g['steps']:3d} steps: apparent climb "
            f"{g['climb_m']:+.2f} m (max |h| {g['max_abs_m']:.2f} m), {g['per_step_m']:.3f} m/step"
        )
    print(
        f"{f['legs']} level legs: apparent climb median {f['apparent_climb_median_m']:.2f} m, "
        f"max {f['apparent_climb_max_m']:.2f} m; per step median "
        f"{f['apparent_per_step_median_m']:.3f} m, max {f['apparent_per_step_max_m']:.3f} m "
        f"(a stair riser: {RISER_M} m); legs above half a riser per step: "
        f"{f['legs_over_half_a_riser_per_step']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
