"""A retraining programme (issue #16): the plan the device stores and tags its sessions with.

The plan is a small JSON object (it travels in one request frame, shared/protocol.py
MAX_REQUEST, and is stored on the device's flash as programme.json):

    {"id": "P1",          text, 1..16 letters, digits, '-', '_'
     "start": 0,          epoch seconds of the first day (0: not given)
     "walks": 8,          walking sessions in the plan
     "weeks": 2,          over this many weeks
     "min0": 15,          minutes of the first walking session ...
     "min1": 30,          ... and of the last (linear in between, whole minutes)
     "fade0": 100,        faded feedback: share of cues (%) in the first session ...
     "fade1": 0,          ... and from the last on (shared/feedback.py fade_pct)
     "probe": [0, 0],     feedback-off probe blocks: every N steps, M steps long (0: none)
     "sets": [["single-leg-squat", "left", 10, 3], ...]}   exercise sets: mode, side, reps,
                          sets per week (at most MAX_SETS entries)

Defaults are the retraining studies' dose: 8 walking sessions over 2 weeks, 15 -> 30 min,
continuous feedback at first, then faded to none. Setting a plan sets the config's faded
schedule to it (feedback faded, fade_start_pct, fade_end_pct, fade_sessions walks - 1, the
probe keys) and session_index 0, so walking session k of the programme (1-based) runs with
the share `fade_pct(fade0, fade1, walks - 1, k - 1)`; every session header then carries
"programme": the plan, the session's number k and its planned minutes (device/service.py).

Integer-only and small, so it runs unchanged on the device and on the host.
"""

from shared.exercise import MODES

DEFAULTS = {
    "id": "P1",
    "start": 0,
    "walks": 8,
    "weeks": 2,
    "min0": 15,
    "min1": 30,
    "fade0": 100,
    "fade1": 0,
    "probe": [0, 0],
    "sets": [],
}
# key: (low, high) for the whole-number keys
LIMITS = {
    "start": (0, 0x7FFFFFFF),
    "walks": (1, 100),
    "weeks": (1, 52),
    "min0": (1, 180),
    "min1": (1, 180),
    "fade0": (0, 100),
    "fade1": (0, 100),
}
MAX_SETS = 6
ID_MAX = 16
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"


class PlanError(ValueError):
    pass


def _whole(v, what, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        raise PlanError("%s must be a whole number" % what)
    if v < lo or v > hi:
        raise PlanError("%s=%d is out of range %d..%d" % (what, v, lo, hi))
    return v


def check(d):
    """A validated copy of plan d (missing keys take their defaults); raises PlanError with
    a one-line reason for anything else."""
    if not isinstance(d, dict):
        raise PlanError("a programme must be a JSON object")
    for k in d:
        if k not in DEFAULTS:
            raise PlanError(
                "unknown programme key %r (known: %s)" % (k, ", ".join(sorted(DEFAULTS)))
            )
    out = {}
    for k in DEFAULTS:
        out[k] = d[k] if k in d else DEFAULTS[k]
    pid = out["id"]
    if not isinstance(pid, str) or not pid or len(pid) > ID_MAX:
        raise PlanError("id must be 1..%d characters" % ID_MAX)
    for ch in pid:
        if ch not in _ID_CHARS:
            raise PlanError("id %r: only letters, digits, '-' and '_'" % pid)
    for k in LIMITS:
        lo, hi = LIMITS[k]
        _whole(out[k], k, lo, hi)
    pr = out["probe"]
    if not isinstance(pr, list) or len(pr) != 2:
        raise PlanError("probe must be [every_steps, len_steps]")
    every = _whole(pr[0], "probe every", 0, 10000)
    n = _whole(pr[1], "probe len", 0, 10000)
    if every and not 0 < n < every:
        raise PlanError("probe len must be 1..%d (below every)" % (every - 1))
    out["probe"] = [every, n if every else 0]
    sets = out["sets"]
    if not isinstance(sets, list) or len(sets) > MAX_SETS:
        raise PlanError("sets must be a list of at most %d [mode, side, reps, per_week]" % MAX_SETS)
    clean = []
    for s in sets:
        if not isinstance(s, list) or len(s) != 4:
            raise PlanError("a set is [mode, side, reps, per_week]")
        if s[0] not in MODES or s[0] == "walk":
            raise PlanError("set mode %r: one of %s" % (s[0], ", ".join(MODES[1:])))
        if s[1] not in ("left", "right"):
            raise PlanError("set side %r: left or right" % (s[1],))
        clean.append(
            [s[0], s[1], _whole(s[2], "set reps", 1, 200), _whole(s[3], "sets per week", 1, 21)]
        )
    out["sets"] = clean
    return out


def planned_minutes(plan, k):
    """Planned minutes of walking session k (1-based) of the plan: min0 -> min1, linear,
    rounded half up; 0 outside the plan."""
    walks = plan["walks"]
    if k < 1 or k > walks:
        return 0
    if walks == 1:
        return plan["min0"]
    d = (plan["min1"] - plan["min0"]) * (k - 1)
    q = (2 * abs(d) + (walks - 1)) // (2 * (walks - 1))
    return plan["min0"] + (q if d >= 0 else -q)


def dose_minutes(plan):
    """Minutes of walking over the whole plan."""
    total = 0
    for k in range(1, plan["walks"] + 1):
        total += planned_minutes(plan, k)
    return total


def config_values(plan):
    """The config keys (as text, for Config.set) that run the plan's faded schedule."""
    return {
        "feedback": "faded",
        "fade_start_pct": str(plan["fade0"]),
        "fade_end_pct": str(plan["fade1"]),
        "fade_sessions": str(max(1, plan["walks"] - 1)),
        "session_index": "0",
        "probe_every_steps": str(plan["probe"][0]),
        "probe_len_steps": str(plan["probe"][1]),
    }
