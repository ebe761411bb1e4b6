"""Tuning harness for the step detector (issue 14): the firmware's own step-detector inputs,
captured once per recording, then shared/steps.py run over them with other parameters, scored
by sim/scoring.py. Leave-one-subject-out: for each subject (ipol S01, S02, S03, mobgap
HA_001), the parameter set that does best on the OTHER subjects is scored on the held-out one.

    .venv/bin/python -m bench.gait_tune          # LOSO table over the grid below
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from shared.steps import StepDetector
from sim import scoring
from sim.capture import capture
from sim.paths import data_dir


def detect(cap: dict, **params) -> dict:
    sd = StepDetector(cap["period_us"], **params)
    t_ic, side = [], []
    grid, t = cap["grid"], cap["t"]
    for n, up, left, fwd, yaw, obl in cap["x"].tolist():
        if sd.update(n, up, left, fwd, yaw, obl):
            i = min(int(np.searchsorted(grid, sd.step_ic_n)), len(t) - 1)
            t_ic.append(float(t[i]))
            side.append("R" if sd.step_stance else "L")
    return {"det_t": t_ic, "det_side": side}


def evaluate(refs, params) -> list[dict]:
    return [scoring.score(**detect(capture(r), **params), ref=r) for r in refs]


def loss(t: dict) -> float:
    """One number to rank parameter sets: misses, extras and side errors weigh alike, timing
    bias counts as 1 % per 10 ms."""
    side_err = 100.0 - t["side_pct"]
    return (100.0 - t["matched_pct"]) + t["extra_pct"] + side_err + abs(t["bias_ms"]) / 10.0


# The grid the defaults were chosen from (shared/steps.py): contact timing, weak last steps,
# walking onset and back-fill.
GRID: dict[str, list] = {
    "ic_ref_ms": [0, 170, 180, 190, 200],
    "ic_ref_win_ms": [300],
    "ic_ref_max_ms": [150, 180, 1000],
    "beat_rel_pct": [10, 15, 25],
    "back_steps": [1, 2],
    "start_steps": [1, 2],
}


def loso(refs, grid: dict[str, list]) -> dict:
    names = list(grid)
    combos = [dict(zip(names, v, strict=True)) for v in itertools.product(*grid.values())]
    per = [evaluate(refs, c) for c in combos]
    subjects = sorted({r.subject for r in refs})
    out = {}
    for s in subjects:
        train = [i for i, r in enumerate(refs) if r.subject != s]
        test = [i for i, r in enumerate(refs) if r.subject == s]
        losses = [loss(scoring.total([p[i] for i in train])) for p in per]
        best = int(np.argmin(losses))
        out[s] = {"params": combos[best], "test": scoring.total([per[best][i] for i in test])}
    allloss = [loss(scoring.total(p)) for p in per]
    b = int(np.argmin(allloss))
    out["all (chosen on all)"] = {"params": combos[b], "test": scoring.total(per[b])}
    return out


def main(argv: list[str]) -> int:
    refs = scoring.load_references(data_dir())
    res = loso(refs, GRID)
    for s, v in res.items():
        t = v["test"]
        print(
            f"{s:<22} matched {t['matched_pct']:.1f}% side {t['side_pct']:.1f}% "
            f"extra {t['extra_pct']:.1f}% bias {t['bias_ms']:+.0f} ms  {v['params']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
