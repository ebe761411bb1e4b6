"""The progress view over a session library (issue #16): what a physiotherapist needs to act.

    hipcue report LIBRARY.sqlite --progress [--out DIR]      -> DIR/progress.html, progress.txt

From the sessions `hipcue logs pull` stored (their own per-step records, header and end
frame; nothing is re-estimated here):

- walking sessions: per session and stance side, the mean and SD of the drop over level
  straight walking: steps the firmware marked as taken in a turn (turn gate) or bent
  over / reclined (tilt gate) are left out (R_GATED records, shared/logformat.py), and a side
  needs at least MIN_STEPS such steps (the 2.7 deg detectable change of video analysis holds
  for >= 7 steps averaged), else the session says why it is not compared. Changes are taken
  against the first session with enough steps (the baseline) and drawn against the
  detectable-change band (VIDEO_MDC_DEG);
- retention: within sessions with feedback-off probe blocks, the same figures over the probe
  steps (no cue could fire) and over the feedback steps;
- exercise sets: reps counted against the set's target, cues, per-rep drop (roll back for the
  lying exercises);
- single-leg stance tests: each side's mean and max drop over time, against the 4 deg
  detectable change of the Trendelenburg angle (SLS_MDC_DEG);
- the programme (shared/programme.py; sessions tagged by the device): walking sessions done
  against the plan, minutes walked against the dose, exercise sets done against the plan.

The page is one self-contained HTML file (inline CSS and SVG, no script, no network), laid
out to print on one A4 page (@media print). Side words: "left stance" is standing on the left
leg, when the right side of the pelvis drops; a large drop in right stance points to weak
right hip abductors.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hipcue import HipcueError
from hipcue.logs import Session as LogSession
from hipcue.logs import read_session
from shared.programme import dose_minutes, planned_minutes

MIN_STEPS = 7
VIDEO_MDC_DEG = 2.7
SLS_MDC_DEG = 4.0
DONE_SHARE = 0.8  # a walking session counts as done at 80 % of its planned minutes
SIDES = ("L", "R")
SIDE_WORDS = {"L": "left stance", "R": "right stance"}
HIP_WORDS = {"L": "left hip", "R": "right hip"}
COLOURS = {"L": "#7b4fb0", "R": "#1f8a3a"}
LYING = ("leg-lift", "clamshell")
SHORT = {"single-leg-squat": "squat", "step-down": "step-down", "band-walk": "band walk"}
MAX_TABLE_ROWS = 10
EX_COLOURS = {
    "single-leg-squat": "#1f6fb4",
    "step-down": "#2a9d8f",
    "band-walk": "#8a6d1f",
    "leg-lift": "#b04a7b",
    "clamshell": "#c05020",
}


@dataclass
class Stats:
    n: int
    mean: float | None
    sd: float | None


def stats(values: list[float]) -> Stats:
    n = len(values)
    if n == 0:
        return Stats(0, None, None)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return Stats(n, round(m, 2), round(sd, 2))


@dataclass
class Walk:
    name: str
    start: datetime
    minutes: float  # walking time (step gaps under 2 s), minutes
    steps: int
    level: dict[str, Stats]  # level straight steps, per stance side
    gated: dict[str, int]  # steps left out (turn or tilt gate), per stance side
    probe: dict[str, Stats]  # level straight steps in feedback-off probe blocks
    feedback: dict[str, Stats]  # level straight steps with feedback on
    cues: int
    programme: dict | None  # the header's "programme" tag
    calibrated: bool | None
    notes: list[str] = field(default_factory=list)

    def why_not(self, side: str) -> str | None:
        s = self.level[side]
        if s.n >= MIN_STEPS:
            return None
        g = self.gated[side]
        return f"{s.n} level straight steps in {SIDE_WORDS[side]} (need {MIN_STEPS})" + (
            f"; {g} left out in turns or bent over" if g else ""
        )


@dataclass
class ExSet:
    name: str
    start: datetime
    exercise: str
    side: str
    target: int
    count: int
    cues: int
    done: bool
    drops: list[float]  # per rep, deg
    reason: str
    programme: str | None


@dataclass
class SlsTest:
    name: str
    start: datetime
    left: dict  # shared/slstest.py side_results (mdeg, ms)
    right: dict
    done: bool


@dataclass
class Progress:
    source: str
    walks: list[Walk]
    sets: list[ExSet]
    sls: list[SlsTest]
    plan: dict | None  # the newest programme the sessions carry
    skipped: list[str]  # sessions that could not be read, with why


def _when(s: LogSession) -> datetime:
    t = int(s.header.get("start_unix") or 0)
    return datetime.fromtimestamp(t, UTC) if t > 0 else datetime.fromtimestamp(0, UTC)


def _walk(s: LogSession) -> Walk:
    from hipcue.logs import session_summary

    summ = session_summary(s)
    level: dict[str, Stats] = {}
    gated: dict[str, int] = {}
    probe: dict[str, Stats] = {}
    fb: dict[str, Stats] = {}
    for side in SIDES:
        mine = [st for st in s.steps if st.stance == side]
        ok = [st for st in mine if not st.gated]
        level[side] = stats([st.drop_deg for st in ok])
        gated[side] = len(mine) - len(ok)
        probe[side] = stats([st.drop_deg for st in ok if st.probe])
        fb[side] = stats([st.drop_deg for st in ok if not st.probe])
    cal = s.header.get("calibration", {})
    return Walk(
        name=s.name,
        start=_when(s),
        minutes=round(summ["walking_time_s"] / 60.0, 2),
        steps=len(s.steps),
        level=level,
        gated=gated,
        probe=probe,
        feedback=fb,
        cues=len(s.cues_s),
        programme=s.header.get("programme"),
        calibrated=(cal.get("calibrated") == 1) if "calibrated" in cal else None,
        notes=list(s.notes),
    )


def _exset(s: LogSession) -> ExSet:
    res = (s.end or {}).get("exercise") or {}
    reps = res.get("reps") or []
    prog = s.header.get("programme")
    return ExSet(
        name=s.name,
        start=_when(s),
        exercise=str(s.header.get("exercise")),
        side=str(s.header.get("ex_side", "")),
        target=int(s.header.get("ex_reps") or 0),
        count=int(res.get("count") or 0),
        cues=int(res.get("cues") or 0),
        done=bool(res.get("done")),
        drops=[r[2] / 1000.0 for r in reps],
        reason=str(res.get("reason") or ("no end record" if s.end is None else "?")),
        programme=prog.get("id") if isinstance(prog, dict) else None,
    )


def load(library: str | Path) -> Progress:
    """Every session of a library, sorted into walks, exercise sets and tests."""
    from hipcue.library import Library

    walks: list[Walk] = []
    sets: list[ExSet] = []
    tests: list[SlsTest] = []
    skipped: list[str] = []
    plan = None
    plan_at = None
    with Library(library, create=False) as lib:
        for row in lib.sessions():
            name, data = lib.session_bytes(int(row["id"]))
            try:
                s = read_session(data, name)
            except HipcueError as e:
                skipped.append(f"{name}: {e}")
                continue
            h = s.header
            if h.get("test") == "sls":
                r = (s.end or {}).get("sls")
                if not r:
                    skipped.append(f"{name}: single-leg stance test without results")
                    continue
                tests.append(
                    SlsTest(name, _when(s), r["left_stance"], r["right_stance"], bool(r["done"]))
                )
            elif h.get("exercise"):
                sets.append(_exset(s))
            elif h.get("raw"):
                skipped.append(
                    f"{name}: raw capture (replay it: `hipcue report` without --progress)"
                )
            else:
                w = _walk(s)
                walks.append(w)
                p = w.programme
                if isinstance(p, dict) and isinstance(p.get("plan"), dict):
                    if plan_at is None or w.start >= plan_at:
                        plan, plan_at = p["plan"], w.start
    if not (walks or sets or tests):
        raise HipcueError(f"{library}: no walking, exercise or test sessions to show")
    walks.sort(key=lambda w: w.start)
    sets.sort(key=lambda x: x.start)
    tests.sort(key=lambda x: x.start)
    return Progress(str(library), walks, sets, tests, plan, skipped)


# --------------------------------------------------------------------------------------------
# The answers
# --------------------------------------------------------------------------------------------


def baseline(walks: list[Walk], side: str, key: str = "level") -> Walk | None:
    for w in walks:
        if getattr(w, key)[side].n >= MIN_STEPS:
            return w
    return None


def compared(walks: list[Walk], side: str) -> list[Walk]:
    return [w for w in walks if w.level[side].n >= MIN_STEPS]


def verdict(change: float, mdc: float) -> str:
    if abs(change) < 0.05:
        return f"unchanged (0.0°), within the ±{mdc:g}° measurement error"
    if change <= -mdc:
        return f"smaller by {-change:.1f}° — beyond the {mdc:g}° measurement error"
    if change >= mdc:
        return f"larger by {change:.1f}° — beyond the {mdc:g}° measurement error"
    word = "smaller" if change < 0 else "larger"
    return f"{word} by {abs(change):.1f}°, within the ±{mdc:g}° measurement error (no change shown)"


def adherence(p: Progress) -> dict[str, Any] | None:
    """Sessions done vs planned, minutes vs dose, sets done vs planned, for the newest plan."""
    plan = p.plan
    if plan is None:
        return None
    pid = plan["id"]
    mine = [
        w
        for w in p.walks
        if isinstance(w.programme, dict)
        and isinstance(w.programme.get("plan"), dict)
        and w.programme["plan"].get("id") == pid
    ]
    per = []
    for k in range(1, plan["walks"] + 1):
        ws = [w for w in mine if w.programme and w.programme.get("session") == k]
        planned = planned_minutes(plan, k)
        got = round(sum(w.minutes for w in ws), 1)
        per.append(
            {
                "session": k,
                "planned_min": planned,
                "walked_min": got,
                "done": bool(ws) and got >= DONE_SHARE * planned,
                "logged": bool(ws),
                "dates": [w.start.strftime("%Y-%m-%d") for w in ws],
                "fade_pct": ws[0].programme.get("fade_pct") if ws and ws[0].programme else None,
            }
        )
    extra = [w for w in mine if w.programme and w.programme.get("session", 0) > plan["walks"]]
    sets = []
    for mode, side, reps, per_week in plan["sets"]:
        done = [
            x
            for x in p.sets
            if x.programme == pid and x.exercise == mode and x.side == side and x.target == reps
        ]
        sets.append(
            {
                "exercise": mode,
                "side": side,
                "reps": reps,
                "planned": per_week * plan["weeks"],
                "done": sum(1 for x in done if x.done),
                "started": len(done),
            }
        )
    walked = round(sum(r["walked_min"] for r in per), 1)
    dose = dose_minutes(plan)
    return {
        "id": pid,
        "plan": plan,
        "sessions_planned": plan["walks"],
        "sessions_done": sum(1 for r in per if r["done"]),
        "sessions_logged": sum(1 for r in per if r["logged"]),
        "minutes_planned": dose,
        "minutes_walked": walked,
        "minutes_pct": round(100.0 * walked / dose) if dose else None,
        "per_session": per,
        "beyond_plan": len(extra),
        "sets": sets,
        "done_share": DONE_SHARE,
    }


def answers(p: Progress) -> list[tuple[str, str]]:
    """The page's questions, each with a one-paragraph answer."""
    out: list[tuple[str, str]] = []
    # Is the drop smaller than at the start, on which side, beyond measurement error?
    lines = []
    worst = None
    for side in SIDES:
        b = baseline(p.walks, side)
        ok = compared(p.walks, side)
        if b is None:
            lines.append(
                f"{SIDE_WORDS[side]} ({HIP_WORDS[side]}): no session has {MIN_STEPS} level "
                "straight steps on this side, nothing to compare"
            )
            continue
        last = ok[-1]
        bm, lm = b.level[side].mean or 0.0, last.level[side].mean or 0.0
        if worst is None or bm > worst[1]:
            worst = (side, bm)
        if last is b:
            lines.append(
                f"{SIDE_WORDS[side]} ({HIP_WORDS[side]}): {bm:.1f}° on {b.start:%d %b}, "
                "one session only"
            )
            continue
        lines.append(
            f"{SIDE_WORDS[side]} ({HIP_WORDS[side]}): {bm:.1f}° on {b.start:%d %b} → "
            f"{lm:.1f}° on {last.start:%d %b}: " + verdict(lm - bm, VIDEO_MDC_DEG)
        )
    if worst is not None:
        other = "R" if worst[0] == "L" else "L"
        ob = baseline(p.walks, other)
        if ob is not None and (ob.level[other].mean or 0) + VIDEO_MDC_DEG <= worst[1]:
            lines.append(
                f"the larger drop at the start was in {SIDE_WORDS[worst[0]]}: the "
                f"{HIP_WORDS[worst[0]]} is the one to train"
            )
    out.append(("Is the drop smaller than at the start, and on which side?", "; ".join(lines)))
    # With feedback and without
    fl = []
    for side in SIDES:
        both = [
            w for w in p.walks if w.probe[side].n >= MIN_STEPS and w.feedback[side].n >= MIN_STEPS
        ]
        if not both:
            continue
        w = both[-1]
        pm, fm = w.probe[side].mean or 0.0, w.feedback[side].mean or 0.0
        b = baseline(p.walks, side)
        vs = ""
        if b is not None and b is not w:
            vs = (
                f"; without feedback against the start ({(b.level[side].mean or 0):.1f}°): "
                + verdict(pm - (b.level[side].mean or 0.0), VIDEO_MDC_DEG)
            )
        fl.append(
            f"{SIDE_WORDS[side]} on {w.start:%d %b}: {fm:.1f}° with feedback, {pm:.1f}° in "
            f"the feedback-off probe blocks ({w.probe[side].n} steps)" + vs
        )
    out.append(
        (
            "With feedback and without it?",
            "; ".join(fl)
            if fl
            else "no session has feedback-off probe blocks with "
            f"{MIN_STEPS} level straight steps a side (set them with the programme's probe)",
        )
    )
    # Did the wearer do the programme?
    a = adherence(p)
    if a is None:
        out.append(("Did the wearer do the programme?", "no programme in these sessions"))
    else:
        short = [str(r["session"]) for r in a["per_session"] if r["logged"] and not r["done"]]
        missed = [str(r["session"]) for r in a["per_session"] if not r["logged"]]
        sets = ", ".join(
            f"{s['exercise']} {s['side']} {s['done']}/{s['planned']}" for s in a["sets"]
        )
        out.append(
            (
                "Did the wearer do the programme?",
                f"programme {a['id']}: {a['sessions_done']} of {a['sessions_planned']} walking "
                f"sessions done (≥ {DONE_SHARE:.0%} of their minutes)"
                + (f", too short: {', '.join(short)}" if short else "")
                + (f", not done: {', '.join(missed)}" if missed else "")
                + f"; {a['minutes_walked']:g} of {a['minutes_planned']} min walked "
                f"({a['minutes_pct']} % of the dose)"
                + (f"; exercise sets done: {sets}" if sets else ""),
            )
        )
    # Single-leg stance tests
    if len(p.sls) >= 1:
        t_first, t_last = p.sls[0], p.sls[-1]
        parts = []
        for side, key in (("L", "left"), ("R", "right")):
            a0 = getattr(t_first, key)["mean_drop_mdeg"] / 1000
            a1 = getattr(t_last, key)["mean_drop_mdeg"] / 1000
            if t_first is t_last:
                parts.append(f"{SIDE_WORDS[side]} {a0:.1f}°")
            else:
                parts.append(
                    f"{SIDE_WORDS[side]} {a0:.1f}° → {a1:.1f}°: " + verdict(a1 - a0, SLS_MDC_DEG)
                )
        out.append(
            (
                f"Single-leg stance test ({len(p.sls)} test{'s' if len(p.sls) != 1 else ''}, "
                "mean swing-side drop)",
                "; ".join(parts),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# SVG charts (inline, no script)
# --------------------------------------------------------------------------------------------


class Chart:
    def __init__(self, w: int, h: int, x0: float, x1: float, y0: float, y1: float) -> None:
        self.w, self.h = w, h
        self.l, self.r, self.t, self.b = 44, 10, 14, 26
        self.x0, self.x1 = x0, (x1 if x1 > x0 else x0 + 1)
        self.y0, self.y1 = y0, (y1 if y1 > y0 else y0 + 1)
        self.parts: list[str] = []

    def x(self, v: float) -> float:
        return self.l + (v - self.x0) / (self.x1 - self.x0) * (self.w - self.l - self.r)

    def y(self, v: float) -> float:
        return self.h - self.b - (v - self.y0) / (self.y1 - self.y0) * (self.h - self.t - self.b)

    def add(self, s: str) -> None:
        self.parts.append(s)

    def text(self, x: float, y: float, s: str, **kw: Any) -> None:
        a = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in kw.items())
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" {a}>{html.escape(s)}</text>')

    def axes(self, ylabel: str, yticks: list[float], xticks: list[tuple[float, str]]) -> None:
        for v in yticks:
            yy = self.y(v)
            self.add(
                f'<line x1="{self.l}" x2="{self.w - self.r}" y1="{yy:.1f}" y2="{yy:.1f}" '
                'stroke="#e4e4e4"/>'
            )
            self.text(self.l - 4, yy + 3, f"{v:g}", text_anchor="end", font_size=9)
        for v, lab in xticks:
            self.text(self.x(v), self.h - self.b + 12, lab, text_anchor="middle", font_size=9)
        self.add(
            f'<line x1="{self.l}" x2="{self.l}" y1="{self.t}" y2="{self.h - self.b}" '
            'stroke="#888"/>'
        )
        self.add(
            f'<line x1="{self.l}" x2="{self.w - self.r}" y1="{self.h - self.b}" '
            f'y2="{self.h - self.b}" stroke="#888"/>'
        )
        self.text(
            10,
            (self.t + self.h - self.b) / 2,
            ylabel,
            font_size=9,
            text_anchor="middle",
            transform=f"rotate(-90 10 {(self.t + self.h - self.b) / 2:.1f})",
        )

    def svg(self, title: str) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
            f'width="{self.w}" height="{self.h}" role="img" aria-label="{html.escape(title)}">'
            f"<title>{html.escape(title)}</title>" + "".join(self.parts) + "</svg>"
        )


def _days(p: Progress) -> tuple[datetime, float]:
    times = [w.start for w in p.walks] + [x.start for x in p.sets] + [t.start for t in p.sls]
    t0 = min(times)
    span = max((t - t0).total_seconds() for t in times) / 86400.0
    return t0, max(span, 1.0)


def _day(t: datetime, t0: datetime) -> float:
    return (t - t0).total_seconds() / 86400.0


def _xticks(t0: datetime, span: float) -> list[tuple[float, str]]:
    step = 1 if span <= 8 else (2 if span <= 16 else 7)
    out = []
    d = 0
    while d <= span + 0.01:
        out.append((float(d), f"{(t0 + _td(d)):%d %b}"))
        d += step
    return out


def _td(d: float) -> Any:
    from datetime import timedelta

    return timedelta(days=d)


def drop_chart(p: Progress, w: int = 700, h: int = 190) -> str:
    t0, span = _days(p)
    vals = [
        (s.mean or 0) + (s.sd or 0) for x in p.walks for s in x.level.values() if s.n >= MIN_STEPS
    ]
    top = max(vals + [8.0]) * 1.15
    c = Chart(w, h, -0.3, span + 0.3, 0.0, top)
    ticks = [float(v) for v in range(0, int(top) + 1, 2)]
    c.axes("drop (°)", ticks, _xticks(t0, span))
    for k, side in enumerate(SIDES):
        b = baseline(p.walks, side)
        if b is None:
            continue
        bm = b.level[side].mean or 0.0
        col = COLOURS[side]
        y_hi, y_lo = c.y(bm + VIDEO_MDC_DEG), c.y(max(0.0, bm - VIDEO_MDC_DEG))
        c.add(
            f'<rect x="{c.l}" width="{c.w - c.l - c.r}" y="{y_hi:.1f}" '
            f'height="{y_lo - y_hi:.1f}" fill="{col}" fill-opacity="0.10"/>'
        )
        c.add(
            f'<line x1="{c.l}" x2="{c.w - c.r}" y1="{c.y(bm):.1f}" y2="{c.y(bm):.1f}" '
            f'stroke="{col}" stroke-dasharray="4 3" stroke-width="1"/>'
        )
        pts = []
        off = -0.08 if side == "L" else 0.08
        for x in compared(p.walks, side):
            s = x.level[side]
            xx = c.x(_day(x.start, t0) + off)
            m, sd = s.mean or 0.0, s.sd or 0.0
            c.add(
                f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{c.y(m + sd):.1f}" '
                f'y2="{c.y(max(0.0, m - sd)):.1f}" stroke="{col}" stroke-width="1.2"/>'
            )
            c.add(f'<circle cx="{xx:.1f}" cy="{c.y(m):.1f}" r="3.2" fill="{col}"/>')
            pts.append(f"{xx:.1f},{c.y(m):.1f}")
            pr = x.probe[side]
            if pr.n >= MIN_STEPS:
                c.add(
                    f'<rect x="{xx - 3:.1f}" y="{c.y(pr.mean or 0) - 3:.1f}" width="6" '
                    f'height="6" fill="white" stroke="{col}" stroke-width="1.3"/>'
                )
        if len(pts) > 1:
            c.add(
                f'<polyline points="{" ".join(pts)}" fill="none" stroke="{col}" '
                'stroke-width="1.2" opacity="0.7"/>'
            )
        c.text(
            c.w - c.r - 4,
            c.t + 10 + 11 * k,
            f"● {SIDE_WORDS[side]} ({HIP_WORDS[side]})",
            text_anchor="end",
            font_size=9,
            fill=col,
        )
    c.text(
        c.l + 4,
        c.t + 8,
        f"dot: mean ± SD, level straight steps; □ feedback-off probe steps; band: start ± "
        f"{VIDEO_MDC_DEG:g}° (measurement error)",
        font_size=8.5,
        fill="#444",
    )
    return c.svg("drop per session and stance side against the detectable-change band")


def minutes_chart(p: Progress, a: dict[str, Any], w: int = 340, h: int = 160) -> str:
    per = a["per_session"]
    n = len(per)
    top = max([r["planned_min"] for r in per] + [r["walked_min"] for r in per] + [1]) * 1.15
    c = Chart(w, h, 0.4, n + 0.6, 0.0, top)
    step = 5 if top <= 40 else 10
    c.axes("minutes", [float(v) for v in range(0, int(top) + 1, step)], [])
    bw = (c.w - c.l - c.r) / (n + 0.2) * 0.6
    for r in per:
        x = c.x(r["session"])
        c.add(
            f'<rect x="{x - bw / 2:.1f}" y="{c.y(r["planned_min"]):.1f}" width="{bw:.1f}" '
            f'height="{c.y(0) - c.y(r["planned_min"]):.1f}" fill="none" stroke="#555" '
            'stroke-dasharray="3 2"/>'
        )
        if r["walked_min"] > 0:
            fill = "#3a7bd5" if r["done"] else "#e0a030"
            c.add(
                f'<rect x="{x - bw / 2 + 2:.1f}" y="{c.y(r["walked_min"]):.1f}" '
                f'width="{bw - 4:.1f}" height="{c.y(0) - c.y(r["walked_min"]):.1f}" '
                f'fill="{fill}"/>'
            )
        else:
            c.text(x, c.y(0) - 4, "×", text_anchor="middle", font_size=11, fill="#b00")
        c.text(x, c.h - c.b + 12, str(r["session"]), text_anchor="middle", font_size=9)
    c.text(c.l + 4, c.t + 6, "dashed: planned; blue: done; orange: short; ×: none", font_size=8.5)
    return c.svg("walking minutes per programme session against the plan")


def sls_chart(p: Progress, w: int = 340, h: int = 160) -> str:
    t0, span = _days(p)
    vals = [max(t.left["max_drop_mdeg"], t.right["max_drop_mdeg"]) / 1000 for t in p.sls]
    top = max(vals + [6.0]) * 1.2
    c = Chart(w, h, -0.3, span + 0.3, 0.0, top)
    c.axes("drop (°)", [float(v) for v in range(0, int(top) + 1, 2)], _xticks(t0, span)[::2])
    for side, key in (("L", "left"), ("R", "right")):
        col = COLOURS[side]
        first = getattr(p.sls[0], key)["mean_drop_mdeg"] / 1000
        y_hi, y_lo = c.y(first + SLS_MDC_DEG), c.y(max(0.0, first - SLS_MDC_DEG))
        c.add(
            f'<rect x="{c.l}" width="{c.w - c.l - c.r}" y="{y_hi:.1f}" '
            f'height="{y_lo - y_hi:.1f}" fill="{col}" fill-opacity="0.08"/>'
        )
        pts = []
        for t in p.sls:
            r = getattr(t, key)
            xx = c.x(_day(t.start, t0))
            m = r["mean_drop_mdeg"] / 1000
            c.add(
                f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{c.y(r["max_drop_mdeg"] / 1000):.1f}" '
                f'y2="{c.y(m):.1f}" stroke="{col}"/>'
            )
            c.add(f'<circle cx="{xx:.1f}" cy="{c.y(m):.1f}" r="3" fill="{col}"/>')
            pts.append(f"{xx:.1f},{c.y(m):.1f}")
        if len(pts) > 1:
            c.add(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{col}"/>')
    c.text(
        c.l + 4, c.t + 6, f"mean (dot) to max; band: first test ± {SLS_MDC_DEG:g}°", font_size=8.5
    )
    return c.svg("single-leg stance test: swing-side drop per side over time")


def exercise_chart(p: Progress, w: int = 340, h: int = 160) -> str:
    sets = p.sets
    n = len(sets)
    vals = [d for x in sets for d in x.drops]
    top = max(vals + [6.0]) * 1.15
    c = Chart(w, h, 0.4, n + 0.6, 0.0, top)
    c.axes("drop (°)", [float(v) for v in range(0, int(top) + 1, 2)], [])
    for i, x in enumerate(sets, start=1):
        xx = c.x(i)
        col = EX_COLOURS.get(x.exercise, "#444")
        for j, d in enumerate(x.drops):
            jit = (j % 5 - 2) * 1.6
            c.add(f'<circle cx="{xx + jit:.1f}" cy="{c.y(d):.1f}" r="1.8" fill="{col}"/>')
        lab = f"{x.count}/{x.target}"
        c.text(xx, c.h - c.b + 12, lab, text_anchor="middle", font_size=8)
    c.text(
        c.l + 4,
        c.t + 6,
        "per-rep drop (lying: roll back) per set; under: reps/target",
        font_size=8.5,
    )
    for k, mode in enumerate(sorted({x.exercise for x in sets})):
        c.text(
            c.w - c.r - 4,
            c.h - c.b - 4 - 10 * k,
            f"● {mode}",
            text_anchor="end",
            font_size=8,
            fill=EX_COLOURS.get(mode, "#444"),
        )
    return c.svg("exercise sets: per-rep drop")


# --------------------------------------------------------------------------------------------
# Text and page
# --------------------------------------------------------------------------------------------


def _f(v: float | None, unit: str = "°") -> str:
    return "-" if v is None else f"{v:.1f}{unit}"


def walk_rows(p: Progress) -> list[list[str]]:
    rows = []
    for w in p.walks:
        k = w.programme.get("session") if isinstance(w.programme, dict) else None
        cells = [w.start.strftime("%d %b"), str(k) if k else "-", f"{w.minutes:.1f}"]
        for side in SIDES:
            s = w.level[side]
            why = w.why_not(side)
            cells.append(
                f"{_f(s.mean)} ± {_f(s.sd)} ({s.n})" if why is None else f"not compared: {why}"
            )
        for side in SIDES:
            cells.append(_f(w.probe[side].mean) if w.probe[side].n >= MIN_STEPS else "-")
        rows.append(cells)
    return rows


WALK_COLS = (
    "date",
    "prog.",
    "min",
    "left stance mean ± SD (n)",
    "right stance mean ± SD (n)",
    "L probe",
    "R probe",
)


def text(p: Progress) -> str:
    out = [f"progress over {p.source}"]
    for q, a in answers(p):
        out += [q, "  " + a]
    out.append("")
    out.append("walking sessions (level straight steps; probe: feedback-off blocks)")
    out.append("  " + " | ".join(WALK_COLS))
    for r in walk_rows(p):
        out.append("  " + " | ".join(r))
    if p.sets:
        out.append("exercise sets")
        for x in p.sets:
            d = (
                f"mean {sum(x.drops) / len(x.drops):.1f}°, max {max(x.drops):.1f}°"
                if x.drops
                else "no reps"
            )
            out.append(
                f"  {x.start:%d %b} {x.exercise} {x.side}: {x.count}/{x.target} reps, "
                f"{x.cues} cued, {d} ({x.reason})"
            )
    if p.sls:
        out.append("single-leg stance tests (mean / max swing-side drop, time to loss of balance)")
        for t in p.sls:
            out.append(
                f"  {t.start:%d %b}: left stance {_sls_cell(t.left)}; right stance "
                f"{_sls_cell(t.right)}"
            )
    adh = adherence(p)
    if adh is not None:
        out.append(f"programme {adh['id']} per session (planned / walked minutes)")
        for row in adh["per_session"]:
            out.append(
                f"  {row['session']}: {row['planned_min']} / {row['walked_min']:g}"
                f"{'' if row['done'] else ('  short' if row['logged'] else '  not done')}"
            )
    for s in p.skipped:
        out.append(f"  skipped {s}")
    return "\n".join(out) + "\n"


def _sls_cell(r: dict) -> str:
    loss = "held" if r.get("loss_ms") is None else f"foot down at {r['loss_ms'] / 1000:.1f} s"
    return f"{r['mean_drop_mdeg'] / 1000:.1f}° / {r['max_drop_mdeg'] / 1000:.1f}°, {loss}"


CSS = """
@page { size: A4; margin: 10mm; }
* { box-sizing: border-box; }
body { font: 10px/1.3 "DejaVu Sans", Arial, sans-serif; color: #222; margin: 0 auto;
       max-width: 190mm; padding: 6px; }
h1 { font-size: 16px; margin: 0 0 2px; } h2 { font-size: 12px; margin: 8px 0 3px;
       border-bottom: 1px solid #ccc; }
.muted { color: #666; font-size: 9.5px; }
dl.answers { margin: 4px 0; border: 1px solid #bbb; padding: 4px 8px; background: #fafafa; }
dl.answers dt { font-weight: bold; margin-top: 3px; } dl.answers dd { margin: 0 0 0 10px; }
.row { display: flex; gap: 8px; } .row > div { flex: 1; }
svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; width: 100%; font-size: 9px; }
td, th { border-bottom: 1px solid #e4e4e4; padding: 1px 4px; text-align: left; }
th { color: #444; }
td:first-child, td:nth-child(3) { white-space: nowrap; }
@media print {
  body { padding: 0; max-width: none; }
  .noprint { display: none; }
  section, dl.answers, table, svg { break-inside: avoid; }
}
"""


def page(p: Progress) -> str:
    e = html.escape
    a = adherence(p)
    t0, span = _days(p)
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>hipcue progress: {e(Path(p.source).name)}</title><style>{CSS}</style></head>",
        "<body><h1>hipcue: hip drop progress</h1>",
        f"<p class=muted>{len(p.walks)} walking sessions, {len(p.sets)} exercise sets, "
        f"{len(p.sls)} single-leg stance tests, {t0:%d %b %Y} to "
        f"{t0 + _td(span):%d %b %Y}; library {e(p.source)}. Drop: how far the swing side of "
        "the pelvis sinks below standing neutral while the other leg stands; right stance = "
        "standing on the right leg (right hip abductors). Walking figures use only level "
        f"straight steps (turns and bent-over steps left out), ≥ {MIN_STEPS} a side; with "
        "feedback: steps outside the feedback-off probe blocks (cues at the session's "
        "faded share).</p>",
        '<dl class="answers">',
    ]
    for q, ans in answers(p):
        parts.append(f"<dt>{e(q)}</dt><dd>{e(ans)}</dd>")
    parts.append("</dl>")
    if p.walks:
        parts.append("<section><h2>Walking: drop per session and stance side</h2>")
        parts.append(drop_chart(p) + "</section>")
    row = []
    if a is not None:
        row.append(
            f"<div><h2>Programme {e(a['id'])}: minutes per session</h2>{minutes_chart(p, a)}"
            f"<p class=muted>{a['minutes_walked']:g} of {a['minutes_planned']} min "
            f"({a['minutes_pct']} %), {a['sessions_done']}/{a['sessions_planned']} sessions; "
            f"plan {a['plan']['walks']} walks over {a['plan']['weeks']} weeks, "
            f"{a['plan']['min0']}→{a['plan']['min1']} min, feedback faded "
            f"{a['plan']['fade0']}→{a['plan']['fade1']} %</p></div>"
        )
    if p.sls:
        row.append(f"<div><h2>Single-leg stance test</h2>{sls_chart(p)}</div>")
    if p.sets:
        row.append(f"<div><h2>Exercise sets</h2>{exercise_chart(p)}</div>")
    for i in range(0, len(row), 3):
        parts.append('<div class="row">' + "".join(row[i : i + 3]) + "</div>")
    rows = walk_rows(p)
    hidden = 0
    if len(rows) > MAX_TABLE_ROWS:  # one page: the baseline and the newest sessions
        hidden = len(rows) - MAX_TABLE_ROWS
        rows = rows[:1] + rows[1 + hidden :]
    parts.append('<div class="row"><section style="flex: 2.2"><h2>Walking sessions</h2><table><tr>')
    parts += [f"<th>{e(c)}</th>" for c in WALK_COLS]
    parts.append("</tr>")
    for r in rows:
        parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>")
    parts.append("</table>")
    if hidden:
        parts.append(
            f"<p class=muted>{hidden} sessions between the first and the newest not listed "
            "(progress.txt lists every session)</p>"
        )
    parts.append("</section>")
    if p.sets:
        sets = p.sets[-MAX_TABLE_ROWS:]
        parts.append(
            '<section style="flex: 1"><h2>Exercise sets</h2><table><tr><th>date</th>'
            "<th>exercise</th><th>reps</th><th>cued</th><th>drop mean / max</th></tr>"
        )
        for x in sets:
            d = f"{sum(x.drops) / len(x.drops):.1f} / {max(x.drops):.1f}°" if x.drops else "-"
            parts.append(
                f"<tr><td>{x.start:%d %b}</td><td>{e(SHORT.get(x.exercise, x.exercise))} "
                f"{e(x.side[:1].upper())}</td><td>{x.count}/{x.target}</td><td>{x.cues}</td>"
                f"<td>{d}</td></tr>"
            )
        parts.append("</table>")
        if len(p.sets) > len(sets):
            parts.append(f"<p class=muted>{len(p.sets) - len(sets)} earlier sets not listed</p>")
        parts.append("</section>")
    parts.append("</div>")
    parts.append(
        "<p class=muted>Measurement error: changes under 2.7° in the walking drop (video "
        "analysis, ≥ 7 steps averaged) and under 4° in the single-leg stance test "
        "(Trendelenburg pelvis-on-femur angle) are within measurement error. Made by "
        "hipcue from the device's own step records.</p>"
    )
    if p.skipped:
        parts.append("<p class=muted>Not shown: " + e("; ".join(p.skipped)) + "</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write(library: str | Path, out_dir: str | Path) -> tuple[Path, str]:
    """Write out_dir/progress.html and progress.txt; returns the page's path and the text."""
    p = load(library)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        txt = text(p)
        tmp = out / ".progress.html.tmp"
        tmp.write_text(page(p), encoding="utf-8")
        tmp.replace(out / "progress.html")
        (out / "progress.txt").write_text(txt, encoding="utf-8")
    except OSError as e:
        raise HipcueError(f"{out}: cannot write the progress page: {e.strerror or e}") from None
    return out / "progress.html", txt
