"""`hipcue report`: a page a physiotherapist can look at, and a plain-text summary.

    hipcue report SESSION... [--out DIR] [--window S]
    hipcue report LIBRARY.sqlite --progress [--out DIR]   (the progress view: hipcue/progress.py)

Writes DIR/report.html (self-contained: inline CSS, every plot embedded as a base64 PNG data
URI, no script and no network resource), DIR/summary.txt, and the same PNGs in DIR/img/ for
reuse. Per session: the figures, obliquity over the whole session with the threshold and the
cues, the drop distribution of left and right stance, and the session cut into time windows
(default 60 s) viewed one at a time from an index. Given two or more sessions, trends over
their dates: median drop per side and cues per 100 steps.

Every number shown comes from `hipcue.metrics` (the module replay uses); the plotting code
only draws them.
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hipcue import HipcueError
from hipcue.argtypes import number
from hipcue.metrics import (
    SIDE_NAMES,
    SIDES,
    cues_by_stance,
    drop_distribution,
    side_drops,
    trend,
)
from hipcue.session import LoadOptions, Session, load_sessions

LEFT, RIGHT = "tab:purple", "tab:green"  # stance-side colours, everywhere
SIDE_COLOURS = {"L": LEFT, "R": RIGHT}
OBL, THR, CUE = "tab:blue", "tab:red", "tab:orange"
DPI = 100


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _deg(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} deg"


def _num(v: float | int | None, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v:g}{unit}"


def _clock(t: float) -> str:
    """Seconds from the session start as m:ss (h:mm:ss past an hour)."""
    s = int(round(t))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def asymmetry_text(s: dict) -> str:
    a = s.get("asymmetry_index_pct")
    if a is None:
        return "-"
    if a == 0:
        return "0 % (symmetric)"
    return f"{a:+.1f} % (more drop in {'right' if a > 0 else 'left'} stance)"


def _by_stance(sess: Session) -> str:
    by = cues_by_stance(sess.obliquity_deg[sess.cue_index])
    return f"{by['L']} in left stance, {by['R']} in right stance"


def session_lines(sess: Session) -> list[str]:
    s = sess.summary
    c = sess.config
    lines = [
        f"{sess.name}  ({sess.start:%Y-%m-%d %H:%M}, date from {sess.date_from}; {sess.source})",
        f"  threshold {c['threshold_deg']} deg, hysteresis {c.get('hysteresis_deg', '?')} deg, "
        f"refractory {c.get('refractory_ms', '?')} ms",
        f"  steps {s['steps']} (left stance {s['left_stance_steps']}, right stance "
        f"{s['right_stance_steps']}); cadence {_num(s['cadence_spm'], ' steps/min')}; "
        f"walking time {s['walking_time_s']:.1f} s of {s['duration_s']:.1f} s",
        f"  median drop: left stance {_deg(s['left_stance_drop_deg'])}, right stance "
        f"{_deg(s['right_stance_drop_deg'])}; asymmetry index {asymmetry_text(s)}",
        f"  cues {s['cues']}, {_num(s['cues_per_100_steps'])} per 100 steps ({_by_stance(sess)})",
        f"  rests on: {sess.basis}" + (f" ({sess.calibration})" if sess.calibration else ""),
    ]
    if sess.calibrated is False:
        lines.append(
            "  WARNING: uncalibrated figures: the sensor's mount offset adds to one side's drop "
            "and takes from the other's; do not compare with calibrated sessions"
        )
    for note in sess.notes:
        lines.append(f"  WARNING: {note}")
    return lines


def mixed_bases(sessions: list[Session]) -> str | None:
    """A one-line warning when a trend's sessions rest on different kinds of figures (per-step
    log peaks vs per-sample replays, calibrated vs not), else None."""
    kinds = sorted({s.basis for s in sessions})
    if len(kinds) <= 1:
        return None
    return (
        "WARNING: the trend mixes sessions of different kinds (" + "; ".join(kinds) + "): "
        "their figures are not directly comparable (the basis column says which is which)"
    )


def trend_lines(sessions: list[Session]) -> list[str]:
    rows = trend([(s.start, s.summary) for s in sessions])
    order = sorted(sessions, key=lambda s: s.start)  # trend() sorts the same way (stable)
    out = [
        f"trend over {len(rows)} sessions",
        f"  {'date':<16}  {'left stance':>11}  {'right stance':>12}  {'cues/100 steps':>14}  basis",
    ]
    for (d, r), sess in zip(rows, order, strict=True):
        out.append(
            f"  {d:%Y-%m-%d %H:%M}  {_deg(r['left_stance_drop_deg']):>11}  "
            f"{_deg(r['right_stance_drop_deg']):>12}  {_num(r['cues_per_100_steps']):>14}  "
            f"{sess.basis}"
        )
    warn = mixed_bases(sessions)
    if warn:
        out.append("  " + warn)
    return out


def text_summary(sessions: list[Session]) -> str:
    out: list[str] = []
    for sess in sessions:
        out += session_lines(sess) + [""]
    if len(sessions) >= 2:
        out += trend_lines(sessions) + [""]
    out.append(
        "drop = how far the swing side of the pelvis sinks below standing neutral during a "
        "stance; asymmetry index = 100 x (R - L) / mean(R, L) of the medians."
    )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Plots (matplotlib, headless)
# --------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _obliquity_axes(ax: Any, sess: Session, a: float, b: float, detail: bool) -> None:
    t = sess.t_s - sess.t_s[0]
    obl = sess.obliquity_deg
    thr = sess.threshold_deg
    m = (t >= a) & (t <= b)
    lim = max(thr * 1.6, float(np.max(np.abs(obl[m]))) * 1.1 if m.any() else 0.0)
    ax.axhspan(thr, lim * 1.2, color=THR, alpha=0.06, lw=0)
    ax.axhspan(-lim * 1.2, -thr, color=THR, alpha=0.06, lw=0)
    ax.plot(t[m], obl[m], color=OBL, lw=0.9 if detail else 0.6, label="obliquity")
    ax.axhline(thr, color=THR, ls="--", lw=1, label=f"threshold ±{thr:g}°")
    ax.axhline(-thr, color=THR, ls="--", lw=1)
    ax.axhline(0, color="k", lw=0.5)
    on = sess.cue.astype(bool) & m
    if detail:
        ax.fill_between(t, -lim, lim, where=on, color=CUE, alpha=0.35, lw=0, label="motor on")
    ci = np.array([i for i in sess.cue_index if m[i]], dtype=int)
    ax.plot(
        t[ci], obl[ci], ls="none", marker="o", ms=6 if detail else 4, mfc=CUE, mec="k", mew=0.5,
        label="cue starts",
    )  # fmt: skip
    if detail:
        t0 = sess.t_s[0]
        for st in sess.steps:
            ts = st.t_s - t0
            if a <= ts <= b:
                ax.text(
                    ts,
                    -lim * 0.88,
                    st.stance,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=SIDE_COLOURS.get(st.stance, "k"),
                )
    ax.set_xlim(a, b)
    ax.set_ylim(-lim * 1.12, lim * 1.12)
    ax.set_ylabel("obliquity (°)")
    ax.text(
        1.005, 0.97, "right side\nlower", transform=ax.transAxes, fontsize=7, va="top", ha="left"
    )
    ax.text(
        1.005, 0.03, "left side\nlower", transform=ax.transAxes, fontsize=7, va="bottom", ha="left"
    )
    ax.grid(True, axis="x", color="0.9", lw=0.6)


def plot_overview(sess: Session, windows: list[tuple[float, float]], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 3.4))
    a, b = 0.0, max(sess.duration_s, 1e-3)
    _obliquity_axes(ax, sess, a, b, detail=len(windows) <= 1)
    if len(windows) > 1:
        for k, (wa, wb) in enumerate(windows):
            if k % 2:
                ax.axvspan(wa, wb, color="0.5", alpha=0.07, lw=0)
            if len(windows) <= 40:
                ax.text(
                    (wa + wb) / 2,
                    1.01,
                    f"W{k + 1}",
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="0.35",
                )
    s = sess.summary
    ax.set_title(
        f"{sess.name}: obliquity over the whole session — {s['cues']} cues in {s['steps']} steps",
        fontsize=10,
        pad=14 if len(windows) > 1 else 6,
    )
    ax.set_xlabel(f"time from start (s); session date {sess.start:%Y-%m-%d %H:%M}")
    ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_window(sess: Session, k: int, a: float, b: float, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 3.6))
    _obliquity_axes(ax, sess, a, b, detail=True)
    ax.set_title(
        f"{sess.name}, window W{k + 1}: {_clock(a)}–{_clock(b)}   "
        f"(letters: stance side at each initial contact)",
        fontsize=10,
    )
    ax.set_xlabel("time from start (s)")
    ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_drops(sess: Session, path: Path) -> None:
    """Left: distribution of the per-step drop in left and right stance, with the medians of
    metrics.summarise(). Right: the drop of every step over the session."""
    plt = _plt()
    s = sess.summary
    dist = drop_distribution(sess.steps)
    thr = sess.threshold_deg
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.0), gridspec_kw={"width_ratios": [1, 1.4]})
    drops = {side: side_drops(sess.steps, side) for side in SIDES}
    allv = np.concatenate([drops["L"], drops["R"], [thr]])
    hi = float(np.max(allv)) * 1.1 + 0.5
    bins = np.arange(0.0, hi + 0.5, 0.5)
    medians = {"L": s["left_stance_drop_deg"], "R": s["right_stance_drop_deg"]}
    for side in SIDES:
        d = drops[side]
        col = SIDE_COLOURS[side]
        if len(d):
            ax.hist(d, bins=bins, color=col, alpha=0.45, label=f"{SIDE_NAMES[side]} (n={len(d)})")
        med = medians[side]
        if med is not None:
            other = medians["L" if side == "R" else "R"]
            # the larger median's label to its right, the smaller's to its left: no overlap
            outward_right = other is None or med > other or (med == other and side == "R")
            ax.axvline(med, color=col, lw=2, ls="-")
            q = dist[side]
            ax.annotate(
                f"median {med:.1f}°\nIQR {q['q1']:.1f}–{q['q3']:.1f}°",
                xy=(med, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(4 if outward_right else -4, -4),
                textcoords="offset points",
                ha="left" if outward_right else "right",
                va="top",
                fontsize=8,
                color=col,
            )
    ax.axvline(thr, color=THR, ls="--", lw=1, label=f"threshold {thr:g}°")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the median labels
    ax.set_xlabel("drop of the swing side during the stance (°)")
    ax.set_ylabel("steps")
    ax.set_title(f"distribution — asymmetry index {asymmetry_text(s)}", fontsize=10)
    t0 = sess.t_s[0]
    for side in SIDES:
        pts = [(st.t_s - t0, st.drop_deg) for st in sess.steps if st.stance == side]
        col = SIDE_COLOURS[side]
        if pts:
            arr = np.array(pts, dtype=float)
            ax2.plot(arr[:, 0], arr[:, 1], ls="none", marker="o", ms=4, color=col, alpha=0.85)
        if medians[side] is not None:
            ax2.axhline(medians[side], color=col, lw=1.2, alpha=0.7)
        ax2.plot([], [], marker="o", ms=4, color=col, label=SIDE_NAMES[side])
    ax2.axhline(thr, color=THR, ls="--", lw=1, label=f"threshold {thr:g}°")
    ax2.set_ylim(0, hi * 1.2)
    ax2.set_xlim(0, max(sess.duration_s, 1e-3))
    ax2.set_xlabel("time from start (s)")
    ax2.set_ylabel("drop (°)")
    ax2.set_title("drop of every step (solid lines: medians)", fontsize=10)
    ax2.legend(loc="upper center", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def plot_trends(sessions: list[Session], path: Path) -> None:
    plt = _plt()
    import matplotlib.dates as mdates

    # plotted at each session's own wall-clock time (matplotlib would show aware times in UTC)
    rows = [(d.replace(tzinfo=None), r) for d, r in trend([(s.start, s.summary) for s in sessions])]
    dates = [d for d, _ in rows]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 5.2), sharex=True)
    for side, key in (("L", "left_stance_drop_deg"), ("R", "right_stance_drop_deg")):
        xs = [d for d, r in rows if r[key] is not None]
        ys = [r[key] for _, r in rows if r[key] is not None]
        ax.plot(xs, ys, marker="o", color=SIDE_COLOURS[side], label=f"{SIDE_NAMES[side]}")
        for x, y in zip(xs, ys, strict=True):
            ax.annotate(
                f"{y:.1f}°", (x, y), xytext=(0, 6), textcoords="offset points", ha="center",
                fontsize=8, color=SIDE_COLOURS[side],
            )  # fmt: skip
    thrs = sorted({s.threshold_deg for s in sessions})
    for t in thrs:
        ax.axhline(t, color=THR, ls="--", lw=1)
    ax.plot([], [], color=THR, ls="--", lw=1, label="threshold")
    ax.set_ylabel("median drop (°)")
    ax.set_ylim(bottom=0, top=max([t * 1.3 for t in thrs] + [ax.get_ylim()[1] * 1.1]))
    ax.set_title("trend: median drop per stance side, and cues per 100 steps", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    cues = [r["cues_per_100_steps"] for _, r in rows]
    xs2 = [d for d, c in zip(dates, cues, strict=True) if c is not None]
    ys2 = [c for c in cues if c is not None]
    ax2.plot(xs2, ys2, marker="s", color=CUE)
    for x, y in zip(xs2, ys2, strict=True):
        ax2.annotate(f"{y:g}", (x, y), xytext=(0, 6), textcoords="offset points", ha="center",
                     fontsize=8)  # fmt: skip
    ax2.set_ylabel("cues per 100 steps")
    ax2.set_ylim(0, max(ys2 + [1.0]) * 1.25)
    if len(dates) <= 12:
        ax2.set_xticks(dates)  # type: ignore[arg-type]
    ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    span = (max(dates) - min(dates)).total_seconds()
    pad = max(span * 0.06, 3600.0)
    ax2.set_xlim(min(dates) - timedelta(seconds=pad), max(dates) + timedelta(seconds=pad))
    ax2.set_xlabel("session date")
    for a in (ax, ax2):
        a.grid(True, color="0.9", lw=0.6)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1240px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { border-bottom: 2px solid #ddd; }
.muted { color: #666; font-size: .9em; }
.warn { color: #a00; font-weight: bold; }
img { max-width: 100%; height: auto; display: block; margin: .4em 0 1em; }
table.figs { border-collapse: collapse; margin: .5em 0 1em; }
table.figs td, table.figs th { padding: .25em .8em; border-bottom: 1px solid #eee;
                               text-align: left; vertical-align: top; }
table.figs th { font-weight: 600; color: #444; }
.big { font-size: 1.25em; font-weight: 600; }
.L { color: #9467bd; } .R { color: #2ca02c; }
nav.windex { display: flex; flex-wrap: wrap; gap: .35em; margin: .4em 0; }
nav.windex a { padding: .15em .5em; border: 1px solid #ccc; border-radius: 4px;
               text-decoration: none; color: #225; font-size: .85em; }
nav.windex a.cued { border-color: #ff7f0e; }
.win { display: none; border: 1px solid #eee; padding: .3em .6em; }
.win:target { display: block; }
.windows:not(:has(.win:target)) .win:first-of-type { display: block; }
.pager { font-size: .9em; } .pager a { margin-right: 1em; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
"""


@dataclass
class Figure:
    path: Path  # in the staging folder
    alt: str

    def img(self) -> str:
        data = base64.b64encode(self.path.read_bytes()).decode("ascii")
        return (
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
            f'title="img/{html.escape(self.path.name)}">'
        )


def windows_of(duration_s: float, window_s: float) -> list[tuple[float, float]]:
    if window_s <= 0:
        raise HipcueError(f"--window {window_s:g}: must be more than 0 s")
    n = max(1, int(np.ceil(duration_s / window_s - 1e-9)))
    return [(k * window_s, min((k + 1) * window_s, duration_s)) for k in range(n)]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "session"


def _figures_table(sess: Session) -> str:
    s = sess.summary
    e = html.escape

    def row(label: str, value: str, note: str = "") -> str:
        return f"<tr><th>{e(label)}</th><td>{value}</td><td class=muted>{e(note)}</td></tr>"

    rows = [
        row(
            "median drop, left stance",
            f'<span class="big L">{e(_deg(s["left_stance_drop_deg"]))}</span>',
            f"{s['left_stance_steps']} steps; the right side sinks while the left leg stands",
        ),
        row(
            "median drop, right stance",
            f'<span class="big R">{e(_deg(s["right_stance_drop_deg"]))}</span>',
            f"{s['right_stance_steps']} steps; the left side sinks while the right leg stands",
        ),
        row(
            "asymmetry index",
            e(asymmetry_text(s)),
            "100 x (R - L) / mean(R, L) of the medians; 0 = symmetric",
        ),
        row(
            "cues",
            f'<span class="big">{s["cues"]}</span> &nbsp;({e(_num(s["cues_per_100_steps"]))} '
            f"per 100 steps)",
            f"{_by_stance(sess)}; threshold {sess.config['threshold_deg']} deg",
        ),
        row("steps", str(s["steps"]), ""),
        row("cadence", e(_num(s["cadence_spm"], " steps/min")), ""),
        row(
            "walking time",
            e(f"{s['walking_time_s']:.1f} s"),
            f"of {s['duration_s']:.1f} s recorded (step gaps under 2 s)",
        ),
    ]
    return '<table class="figs">' + "".join(rows) + "</table>"


def _session_html(
    sess: Session,
    overview: Figure,
    drops: Figure,
    windows: list[tuple[float, float]],
    wfigs: list[Figure],
) -> str:
    e = html.escape
    sid = _slug(sess.name)
    c = sess.config
    parts = [
        f'<section class="session" id="{sid}">',
        f"<h2>{e(sess.name)} <span class=muted>{sess.start:%Y-%m-%d %H:%M}</span></h2>",
        f"<p class=muted>{e(str(sess.source))} ({'raw capture, replayed through the firmware' if sess.kind == 'trace' else 'replay output'}); "  # noqa: E501
        f"date from {e(sess.date_from)}; threshold {e(c['threshold_deg'])} deg, hysteresis "
        f"{e(c.get('hysteresis_deg', '?'))} deg, refractory {e(c.get('refractory_ms', '?'))} ms"
        "</p>",
        f"<p class=muted>rests on: {e(sess.basis)}"
        + (f" ({e(sess.calibration)})" if sess.calibration else "")
        + "</p>",
        *[f"<p class=warn>{e(w.strip())}</p>" for w in session_lines(sess) if "WARNING" in w],
        _figures_table(sess),
        overview.img(),
        "<h3>Drop distribution</h3>",
        drops.img(),
    ]
    if len(windows) > 1:
        parts.append(
            f"<h3>Time windows ({len(windows)} × {windows[0][1] - windows[0][0]:g} s)</h3>"
            "<p class=muted>Pick a window; one is shown at a time (orange border: cued).</p>"
        )
        onsets = sess.t_s[sess.cue_index] - sess.t_s[0]
        links = []
        for k, (a, b) in enumerate(windows):
            n = int(np.sum((onsets >= a) & (onsets < b if k < len(windows) - 1 else onsets <= b)))
            cls = ' class="cued"' if n else ""
            links.append(
                f'<a href="#{sid}-w{k + 1}"{cls}>W{k + 1} {_clock(a)}–{_clock(b)}'
                f" · {n} cue{'s' if n != 1 else ''}</a>"
            )
        parts.append('<nav class="windex">' + "".join(links) + "</nav>")
        parts.append('<div class="windows">')
        for k, fig in enumerate(wfigs):
            prev = f'<a href="#{sid}-w{k}">← W{k}</a>' if k else ""
            nxt = f'<a href="#{sid}-w{k + 2}">W{k + 2} →</a>' if k + 1 < len(wfigs) else ""
            parts.append(
                f'<div class="win" id="{sid}-w{k + 1}"><div class="pager">{prev}{nxt}</div>'
                f"{fig.img()}</div>"
            )
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def build_report(sessions: list[Session], out_dir: str | Path, window_s: float = 60.0) -> Path:
    """Write report.html, summary.txt and img/*.png into out_dir; returns the HTML path.

    Everything is staged in a temporary folder beside the outputs and moved into place at the
    end, so a failed run leaves the previous report as it was."""
    if not sessions:
        raise HipcueError("no sessions to report")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".hipcue-report-", dir=out))
    except OSError as e:
        raise HipcueError(f"{out}: cannot write the report: {e.strerror or e}") from None
    try:
        img = stage / "img"
        img.mkdir()
        body: list[str] = []
        for sess in sessions:
            if len(sess.t_s) < 2:
                raise HipcueError(f"{sess.source}: fewer than two samples, nothing to plot")
            slug = _slug(sess.name)
            windows = windows_of(sess.duration_s, window_s)
            ov = Figure(img / f"{slug}-overview.png", f"{sess.name}: obliquity, whole session")
            plot_overview(sess, windows, ov.path)
            dr = Figure(img / f"{slug}-drops.png", f"{sess.name}: drop per step, per side")
            plot_drops(sess, dr.path)
            wfigs: list[Figure] = []
            if len(windows) > 1:
                for k, (a, b) in enumerate(windows):
                    f = Figure(img / f"{slug}-w{k + 1:03d}.png", f"{sess.name}: window W{k + 1}")
                    plot_window(sess, k, a, b, f.path)
                    wfigs.append(f)
            body.append(_session_html(sess, ov, dr, windows, wfigs))
        trend_html = ""
        if len(sessions) >= 2:
            tf = Figure(img / "trends.png", "trends over the session dates")
            plot_trends(sessions, tf.path)
            warn = mixed_bases(sessions)
            trend_html = (
                f"<section id=trends><h2>Trends over {len(sessions)} sessions</h2>"
                + (f"<p class=warn>{html.escape(warn)}</p>" if warn else "")
                + f"{tf.img()}<pre>{html.escape(chr(10).join(trend_lines(sessions)))}</pre>"
                "</section>"
            )
        text = text_summary(sessions)
        names = ", ".join(s.name for s in sessions)
        page = (
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>hipcue report: {html.escape(names)}</title><style>{CSS}</style></head>"
            "<body><h1>hipcue: pelvic drop report</h1>"
            f"<p class=muted>{len(sessions)} session(s). Obliquity is positive when the right "
            "side of the pelvis is lower. A step's drop is how far the swing side sinks during "
            "that stance; a large drop in right stance points to weak right hip abductors."
            "</p>"
            + trend_html
            + "\n".join(body)
            + f"<h2>Plain-text summary</h2><pre>{html.escape(text)}</pre>"
            "</body></html>\n"
        )
        (stage / "report.html").write_text(page, encoding="utf-8")
        (stage / "summary.txt").write_text(text, encoding="utf-8")
        if (out / "img").exists():
            shutil.rmtree(out / "img")
        os.replace(img, out / "img")
        os.replace(stage / "summary.txt", out / "summary.txt")
        os.replace(stage / "report.html", out / "report.html")
    except OSError as e:
        raise HipcueError(f"{out}: cannot write the report: {e.strerror or e}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out / "report.html"


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sessions",
        nargs="+",
        metavar="SESSION",
        help="replay output folder (samples.csv, steps.csv, summary.json) or trace CSV",
    )
    p.add_argument("--out", default="out/report", metavar="DIR", help="default out/report")
    p.add_argument(
        "--window",
        type=number(1, 86400, " s"),
        default=60.0,
        metavar="S",
        help="time window, s (default 60; 1 s at least)",
    )
    p.add_argument("--mount", help="trace sessions: mount (overrides # mount:)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="trace sessions: config"
    )
    p.add_argument("--no-calibrate", action="store_true", help="trace sessions: no calibration")
    p.add_argument("--engine", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print the summary")
    p.add_argument(
        "--progress",
        action="store_true",
        help="the progress view over a session library (LIBRARY.sqlite): DIR/progress.html, "
        "one printable page, and DIR/progress.txt",
    )


def run(args: argparse.Namespace) -> int:
    if args.progress:
        from hipcue import progress

        libs = [s for s in args.sessions if s.partition("#")[0].endswith(".sqlite")]
        if len(libs) != 1 or len(args.sessions) != 1 or "#" in libs[0]:
            raise HipcueError("--progress: give one session library (LIBRARY.sqlite)")
        page, text = progress.write(libs[0], args.out)
        if not args.quiet:
            print(text, end="")
        print(f"progress: {page}")
        return 0
    opts = LoadOptions(
        mount=args.mount,
        sets=tuple(args.set),
        calibrate=not args.no_calibrate,
        engine=args.engine,
    )
    sessions = load_sessions(args.sessions, opts)
    page = build_report(sessions, args.out, window_s=args.window)
    if not args.quiet:
        print((Path(args.out) / "summary.txt").read_text(encoding="utf-8"), end="")
    print(f"report: {page}")
    return 0
