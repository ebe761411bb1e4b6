"""Feedback rules set up once per session (issue #7): the CueDetector's settings from the
config, the faded schedule's share of cues for this session, and the per-side thresholds from
a wearer's baseline walk (a host-side computation; the device only needs the per-side values).

Integer arithmetic only, so the device, the host and the replays agree exactly.
"""

from shared.config import format_milli


def fade_pct(start_pct, end_pct, sessions, session_index):
    """Share (%) of qualifying cues delivered in session `session_index` (0-based): linear
    from `start_pct` at session 0 to `end_pct` at session `sessions` and after."""
    if sessions <= 0 or session_index >= sessions:
        return end_pct
    if session_index <= 0:
        return start_pct
    d = (end_pct - start_pct) * session_index
    # round half away from zero, in integers
    q = (abs(d) + sessions // 2) // sessions
    return start_pct + (q if d >= 0 else -q)


def session_fade_pct(cfg):
    """The share of cues delivered this session under cfg's schedule (100: every cue)."""
    if cfg["feedback"] != "faded":
        return 100
    return fade_pct(
        cfg["fade_start_pct"], cfg["fade_end_pct"], cfg["fade_sessions"], cfg["session_index"]
    )


def configure_cue(cue, cfg, fade=-1, keep_state=0):
    """Hand cfg's feedback rules to a CueDetector (built with the common settings); fade:
    the share of cues (-1: this session's, from cfg)."""
    cue.configure(
        thr_left_mdeg=cfg["threshold_left_deg"],
        thr_right_mdeg=cfg["threshold_right_deg"],
        stride_n=cfg["stride_n"],
        stride_m=cfg["stride_m"],
        refractory_strides=cfg["refractory_strides"],
        hysteresis_strides=cfg["hysteresis_strides"],
        fade_pct=session_fade_pct(cfg) if fade < 0 else fade,
        probe_every_steps=cfg["probe_every_steps"],
        probe_len_steps=cfg["probe_len_steps"],
        side_pattern=cfg["cue_side_pattern"],
        gap_ms=cfg["cue_gap_ms"],
        ms_per_deg=cfg["cue_ms_per_deg"],
        max_ms=cfg["cue_max_ms"],
        keep_state=keep_state,
    )


# -- baseline thresholds (host side) ----------------------------------------------------------


def percentile_milli(values, pct):
    """The pct-th percentile (linear interpolation between order statistics, like numpy's
    default) of integer values, as an integer (rounded half up)."""
    v = sorted(values)
    n = len(v)
    if n == 0:
        raise ValueError("no values")
    # position pct/100 * (n - 1) as a fraction num / 100
    num = pct * (n - 1)
    i = num // 100
    r = num - i * 100
    if i + 1 >= n:
        return v[n - 1]
    return v[i] + ((v[i + 1] - v[i]) * r + 50) // 100


def baseline_threshold_mdeg(drops_mdeg, k_milli=1500, reduce_pct=0, lo=1000, hi=20000):
    """A threshold from a calibration walk's per-step drops (mdeg) of one side.

    reduce_pct = 0: median + k * IQR (k in thousandths: 1500 = 1.5), the wearer's own upper
    fence, so only drops beyond their usual spread cue. reduce_pct > 0: a reduction target,
    median * (100 - reduce_pct) / 100, so the typical drop of the baseline cues until it has
    come down by that much. Clamped to the config's range [lo, hi]."""
    med = percentile_milli(drops_mdeg, 50)
    if reduce_pct > 0:
        thr = (med * (100 - reduce_pct) + 50) // 100
    else:
        iqr = percentile_milli(drops_mdeg, 75) - percentile_milli(drops_mdeg, 25)
        thr = med + (k_milli * iqr + 500) // 1000
    return min(max(thr, lo), hi)


def baseline_sets(steps, k_milli=1500, reduce_pct=0, min_steps=10):
    """`--set` items for the per-side thresholds from a calibration walk.

    steps: (stance, drop_mdeg) pairs, stance "L"/"R" as in replay's steps.csv: a left stance
    carries the right side's drop. Raises ValueError when a side has fewer than min_steps."""
    left = [d for st, d in steps if st == "R"]  # right stance: the left side drops
    right = [d for st, d in steps if st == "L"]
    out = []
    for key, drops in (("threshold_left_deg", left), ("threshold_right_deg", right)):
        if len(drops) < min_steps:
            raise ValueError("%s: %d steps, need %d" % (key, len(drops), min_steps))
        out.append(
            "%s=%s" % (key, format_milli(baseline_threshold_mdeg(drops, k_milli, reduce_pct)))
        )
    return out
