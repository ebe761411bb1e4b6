"""Session numbers: the one place that turns steps and cues into summary figures.

`hipcue replay`, the demo and the reports all call this, so a figure means the same thing
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Step:
    t_s: float  # initial contact
    stance: str  # "L" or "R"
    drop_deg: float  # swing side's largest drop during this stance
    cued: int


def median_or_none(values: Sequence[float]) -> float | None:
    if len(values) == 0:
        return None
    return round(float(np.median(np.asarray(values, dtype=float))), 3)


def summarise(steps: Sequence[Step], cue_times_s: Sequence[float], duration_s: float) -> dict:
    left = [s.drop_deg for s in steps if s.stance == "L"]
    right = [s.drop_deg for s in steps if s.stance == "R"]
    ml, mr = median_or_none(left), median_or_none(right)
    asym = None
    if ml is not None and mr is not None and (ml + mr) > 0:
        # Symmetry index (Robinson et al. 1987): 0 = symmetric, + = more drop in right stance.
        asym = round(100.0 * (mr - ml) / (0.5 * (mr + ml)), 1)
    n = len(steps)
    walking_s = 0.0
    if n >= 2:
        t = np.array([s.t_s for s in steps])
        gaps = np.diff(t)
        walking_s = float(gaps[gaps < 2.0].sum())
    cadence = None
    if walking_s > 0:
        cadence = round(60.0 * (n - 1) / walking_s, 1) if n > 1 else None
    return {
        "steps": n,
        "cues": len(cue_times_s),
        "left_stance_drop_deg": ml,
        "right_stance_drop_deg": mr,
        "left_stance_steps": len(left),
        "right_stance_steps": len(right),
        "cued_steps": sum(1 for s in steps if s.cued),
        "cues_per_100_steps": round(100.0 * len(cue_times_s) / n, 1) if n else None,
        "asymmetry_index_pct": asym,
        "cadence_spm": cadence,
        "walking_time_s": round(walking_s, 2),
        "duration_s": round(duration_s, 3),
    }
