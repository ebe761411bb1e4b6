"""`make demo`: a wearer with a weak right hip walks; the firmware (on the MicroPython unix
port) estimates the pelvis, finds the steps and cues the drops. Prints the session summary
and writes a plot of obliquity with the threshold and the cues.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hipcue import synth
from hipcue.replay import run_firmware, write_outputs
from hipcue.trace import read_trace


def run(args: argparse.Namespace) -> int:
    if getattr(args, "library", None):
        return run_library(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    trace_path = out / "weak-right-walk.trace.csv"
    walk = synth.generate(synth.PRESETS["weak-right"](args.duration), seed=7)
    synth.write_trace_csv(walk, trace_path)
    synth.write_steps_csv(walk, out / "weak-right-walk.truth-steps.csv")
    print(f"walk: {trace_path} ({args.duration:.0f} s, synthetic LSM6DSOX, weak right hip)")

    trace = read_trace(trace_path)
    res = run_firmware(trace, engine=args.engine)
    summary = write_outputs(res, out / "replay")
    s = summary
    print(f"firmware: {s['engine']}; {s['rate']['note']}")
    print(
        f"steps:    {s['steps']} (left stance {s['left_stance_steps']}, "
        f"right stance {s['right_stance_steps']}), cadence {s['cadence_spm']} steps/min"
    )
    print(
        f"cues:     {s['cues']} ({s['cues_per_100_steps']} per 100 steps, "
        f"threshold {res.config['threshold_deg']} deg)"
    )
    print(
        f"median drop: left stance {_fmt(s['left_stance_drop_deg'])}, "
        f"right stance {_fmt(s['right_stance_drop_deg'])}"
        f"  (asymmetry {s['asymmetry_index_pct']} %)"
    )
    truth = [(t, side, d) for t, side, d in walk.steps]
    tl = [d for _, side, d in truth if side == "L"]
    tr = [d for _, side, d in truth if side == "R"]
    print(
        f"truth:       left stance {np.median(tl):.1f} deg, right stance {np.median(tr):.1f} deg"
        f" over {len(truth)} steps"
    )
    png = out / "obliquity.png"
    plot(res, walk, png)
    print(f"plot:     {png}")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def run_library(args: argparse.Namespace) -> int:
    """`hipcue demo --library PATH`: the progress view's demo library (sim/progress.py)."""
    from hipcue import HipcueError
    from hipcue.library import Library
    from sim.progress import build_library

    a, sep, b = str(args.minutes).partition(":")
    try:
        minutes = (int(a), int(b))
        if not sep or not (1 <= minutes[0] <= 180 and 1 <= minutes[1] <= 180):
            raise ValueError
    except ValueError:
        raise HipcueError(f"--minutes {args.minutes!r}: expected FIRST:LAST, 1..180") from None
    lib = Path(args.library)
    lib.parent.mkdir(parents=True, exist_ok=True)
    plan = build_library(lib, minutes=minutes)
    with Library(lib, create=False) as db:
        n = len(db.sessions())
    print(
        f"library: {lib} ({n} sessions from the firmware: programme {plan['id']}, "
        f"{plan['walks']} walks {plan['min0']}->{plan['min1']} min, exercise sets, "
        "single-leg stance tests)"
    )
    return 0


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} deg"


def plot(res, walk, path: Path, window_s: tuple[float, float] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = res.trace.t_s
    obl = res.obl_mdeg / 1000.0
    thr = float(res.config["threshold_deg"])
    truth = walk.columns.get("obliquity_deg") if walk is not None else None
    fig, axes = plt.subplots(2, 1, figsize=(12, 6.5), sharey=True)
    spans = [(t[0], t[-1]), window_s or (t[0] + 10.0, min(t[-1], t[0] + 22.0))]
    for ax, (a, b) in zip(axes, spans, strict=True):
        m = (t >= a) & (t <= b)
        if truth is not None:
            ax.plot(t[m], np.asarray(truth, float)[m], color="0.6", lw=1.0, label="true obliquity")
        ax.plot(t[m], obl[m], color="C0", lw=1.2, label="firmware estimate")
        ax.axhline(thr, color="C3", ls="--", lw=1, label=f"threshold ±{thr:g}°")
        ax.axhline(-thr, color="C3", ls="--", lw=1)
        ax.axhline(0, color="k", lw=0.5)
        on = res.cue.astype(bool) & m
        ax.fill_between(
            t, -thr * 1.6, thr * 1.6, where=on, color="C1", alpha=0.35, lw=0, label="motor on (cue)"
        )
        for i, st in zip(res.step_index, res.steps, strict=True):
            if a <= t[i] <= b:
                ax.text(
                    t[i],
                    thr * 1.35,
                    st.stance,
                    ha="center",
                    fontsize=7,
                    color="C2" if st.stance == "R" else "C4",
                )
        ax.set_xlim(a, b)
        ax.set_ylabel("obliquity (°), + = right side lower")
    axes[0].set_title("hipcue demo: weak right hip — left side drops during right stance")
    axes[1].set_xlabel("time (s)")
    axes[0].legend(loc="lower right", fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
