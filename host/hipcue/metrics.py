"""Session numbers: the one place that turns steps and cues into summary figures.

`hipcue replay`, the demo and the reports all call this, so a figure means the same thing
everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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


# --------------------------------------------------------------------------------------------
# Distributions, trends and threshold suggestions (reports and `hipcue tune`). Added beside
# summarise(), which they do not change: the medians here are summarise()'s own.
# --------------------------------------------------------------------------------------------

SIDES = ("L", "R")
SIDE_NAMES = {"L": "left stance", "R": "right stance"}


def side_drops(steps: Sequence[Step], stance: str) -> np.ndarray:
    """Per-step drops (deg) of one stance side, in time order."""
    return np.array([s.drop_deg for s in steps if s.stance == stance], dtype=float)


def cue_onsets(cue: Sequence[int] | np.ndarray) -> np.ndarray:
    """Sample indices where the motor switches on (one per cue), as replay counts them."""
    c = np.asarray(cue).astype(np.int8)
    return np.flatnonzero(np.diff(np.concatenate([[0], c])) > 0)


def drop_distribution(steps: Sequence[Step]) -> dict[str, dict[str, float | int | None]]:
    """Per stance side: n, median (the same figure as summarise()'s), quartiles, 90th
    percentile and max of the per-step drops, in degrees."""
    out: dict[str, dict[str, float | int | None]] = {}
    for side in SIDES:
        d = side_drops(steps, side)
        row: dict[str, float | int | None] = {"n": len(d), "median": median_or_none(d.tolist())}
        for key, q in (("q1", 25.0), ("q3", 75.0), ("p90", 90.0), ("max", 100.0)):
            row[key] = round(float(np.percentile(d, q)), 3) if len(d) else None
        out[side] = row
    return out


def weaker_side(summary: dict) -> str | None:
    """The stance side with the larger median drop ("R": more drop in right stance, which
    points to the right hip abductors), or None without both medians."""
    ml, mr = summary.get("left_stance_drop_deg"), summary.get("right_stance_drop_deg")
    if ml is None or mr is None:
        return None
    return "R" if mr >= ml else "L"


TREND_KEYS = ("left_stance_drop_deg", "right_stance_drop_deg", "cues_per_100_steps")


def trend(items: Sequence[tuple[datetime, dict]]) -> list[tuple[datetime, dict[str, float | None]]]:
    """(date, summarise() dict) pairs -> the trend rows (median drop per side and cues per 100
    steps), sorted by date. The figures are summarise()'s, not recomputed."""
    rows = sorted(items, key=lambda it: it[0])
    return [(d, {k: s.get(k) for k in TREND_KEYS}) for d, s in rows]


@dataclass
class Suggestion:
    rule: str  # "reduction" or "worst"
    pct: float
    side: str  # stance side the rule was applied to
    threshold_deg: float  # rounded to 0.1 deg and clamped to the config's range
    raw_deg: float  # before rounding and clamping
    explanation: str


THRESHOLD_RANGE_DEG = (1.0, 20.0)  # shared/config.py threshold_deg range


def suggest_threshold(
    steps: Sequence[Step], rule: str = "reduction", pct: float = 20.0
) -> Suggestion:
    """A cue threshold from a baseline walk's per-step drops on the weaker stance side.

    - "reduction": threshold = (1 - pct/100) x the weaker side's median drop, so every step
      that misses a pct % reduction of the usual drop is cued;
    - "worst": threshold = the (100 - pct)th percentile of the weaker side's drops, so about
      pct % of that side's baseline steps would be cued.
    """
    if rule not in ("reduction", "worst"):
        raise ValueError(f"unknown rule {rule!r} (use reduction or worst)")
    if not 0.0 < pct < 100.0:
        raise ValueError(f"{rule}: {pct:g} % is not between 0 and 100")
    s = summarise(steps, [], 0.0)
    side = weaker_side(s)
    if side is None:
        raise ValueError("the baseline needs steps on both stance sides to pick the weaker side")
    d = side_drops(steps, side)
    name = SIDE_NAMES[side]
    med = float(np.median(d))
    if rule == "reduction":
        raw = (1.0 - pct / 100.0) * med
        how = (
            f"{100 - pct:g} % of the median {name} drop ({med:.1f} deg over {len(d)} steps): "
            f"cues every step that misses a {pct:g} % reduction"
        )
    else:
        raw = float(np.percentile(d, 100.0 - pct))
        how = (
            f"the {100 - pct:g}th percentile of the {name} drops ({len(d)} steps, median "
            f"{med:.1f} deg): about the worst {pct:g} % of those steps reach it"
        )
    lo, hi = THRESHOLD_RANGE_DEG
    thr = min(max(round(raw, 1), lo), hi)
    if thr != round(raw, 1):
        how += f" (clamped to the allowed {lo:g}..{hi:g} deg)"
    return Suggestion(rule, pct, side, thr, raw, how)


def cues_by_stance(obliquity_at_cues_deg: Sequence[float] | np.ndarray) -> dict[str, int]:
    """Cues per stance side, from the obliquity where each cue started: a cue on the right side
    sinking (obliquity > 0) came in left stance, on the left side sinking in right stance. (Not
    from steps.csv's `cued` flags, which can mark the step before or after a cue near an
    initial contact.)"""
    o = np.asarray(obliquity_at_cues_deg, dtype=float)
    return {"L": int(np.sum(o > 0)), "R": int(np.sum(o < 0))}
