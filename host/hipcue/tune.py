"""`hipcue tune`: what the cues would have been with other settings, and a suggested threshold.

    hipcue tune SESSION [--set KEY=VALUE[,KEY=VALUE...]]... [--reduction PCT] [--worst PCT]

SESSION is a raw capture: a trace CSV (or a replay output folder whose summary.json names a
trace that is still there). Every setting is re-run through the firmware's own loop (replay's
`run_firmware`, MicroPython by default), never modelled: the cue counts are what the device
would have done on that walk.

- The first column is the session as recorded: the configuration it ran with.
- Each `--set` is one alternative, on top of that configuration; several keys in one `--set`
  are separated by commas (`--set threshold_deg=7,refractory_ms=500`). Keys are those of
  shared/config.py. Aliases: `threshold=` means `threshold_deg=`, `hysteresis=`
  `hysteresis_deg=`, `dwell=` `dwell_ms=`, `refractory=` `refractory_ms=`.
- Suggested thresholds from this walk as the wearer's baseline (metrics.suggest_threshold), on
  the stance side with the larger median drop:
  `--reduction PCT` (default 20): (1 - PCT/100) x that side's median drop, a reduction target;
  `--worst PCT` (default 30): the (100 - PCT)th percentile of that side's drops, so about the
  worst PCT % of its steps are cued. Each suggestion is re-run like an alternative.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from hipcue import HipcueError
from hipcue.metrics import Step, Suggestion, cues_by_stance, suggest_threshold, weaker_side
from hipcue.replay import run_firmware
from hipcue.session import (
    LoadOptions,
    Session,
    load_session,
    load_sessions,
    raw_trace,
    session_from_result,
)
from hipcue.trace import Trace

ALIASES = {
    "threshold": "threshold_deg",
    "hysteresis": "hysteresis_deg",
    "dwell": "dwell_ms",
    "refractory": "refractory_ms",
}


def parse_setting(text: str) -> list[tuple[str, str]]:
    """`threshold=7,refractory_ms=500` -> [("threshold_deg", "7"), ("refractory_ms", "500")]."""
    pairs: list[tuple[str, str]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        if "=" not in item:
            raise HipcueError(f"--set {text!r}: expected KEY=VALUE[,KEY=VALUE...]")
        key, value = (x.strip() for x in item.split("=", 1))
        pairs.append((ALIASES.get(key, key), value))
    if not pairs:
        raise HipcueError(f"--set {text!r}: expected KEY=VALUE[,KEY=VALUE...]")
    return pairs


@dataclass
class Outcome:
    label: str
    changes: list[tuple[str, str]]
    session: Session
    suggestion: Suggestion | None = None

    @property
    def summary(self) -> dict:
        return self.session.summary

    def cues_by_stance(self) -> dict[str, int]:
        sess = self.session
        return cues_by_stance(sess.obliquity_deg[sess.cue_index])


def _base_sets(config: dict[str, str]) -> list[str]:
    # Re-run with the configuration the session ran with; mount comes from the trace/option.
    return [f"{k}={v}" for k, v in config.items() if k != "mount"]


def what_if(
    session: Session,
    settings: list[list[tuple[str, str]]],
    options: LoadOptions | None = None,
    reduction_pct: float | None = 20.0,
    worst_pct: float | None = 30.0,
) -> list[Outcome]:
    """The session as recorded, then each setting, then each suggestion, all run through the
    firmware on the session's raw capture."""
    opts = options or LoadOptions()
    trace: Trace = raw_trace(session)
    base = _base_sets(session.config)
    mount = opts.mount or session.config.get("mount")

    def run(changes: list[tuple[str, str]]) -> Session:
        sets = base + [f"{k}={v}" for k, v in changes]
        calibrate = opts.calibrate
        if session.replay_calibrate is not None:  # a pulled raw session: as it was replayed
            calibrate = session.replay_calibrate and opts.calibrate
        res = run_firmware(
            trace,
            mount=mount,
            sets=sets,
            calibrate=calibrate,
            engine=opts.engine,
            calibration=session.replay_calibration if opts.calibrate else None,
        )
        return session_from_result(res, name=session.name, when=(session.start, session.date_from))

    outcomes = [Outcome("as recorded", [], run([]))]
    for changes in settings:
        label = ",".join(f"{k}={v}" for k, v in changes)
        outcomes.append(Outcome(label, changes, run(changes)))
    baseline_steps: list[Step] = outcomes[0].session.steps
    for rule, pct in (("reduction", reduction_pct), ("worst", worst_pct)):
        if pct is None:
            continue
        try:
            sug = suggest_threshold(baseline_steps, rule, pct)
        except ValueError as e:
            raise HipcueError(f"{session.source}: cannot suggest a threshold: {e}") from None
        changes = [("threshold_deg", f"{sug.threshold_deg:.1f}")]
        label = f"suggested: {rule} {pct:g} %"
        outcomes.append(Outcome(label, changes, run(changes), sug))
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    head = (
        "setting",
        "threshold",
        "cues",
        "per 100 steps",
        "in L stance",
        "in R stance",
    )
    rows: list[tuple[str, ...]] = []
    for o in outcomes:
        s = o.summary
        by = o.cues_by_stance()
        per100 = s["cues_per_100_steps"]
        rows.append(
            (
                o.label,
                f"{o.session.config['threshold_deg']} deg",
                str(s["cues"]),
                "-" if per100 is None else f"{per100:g}",
                str(by["L"]),
                str(by["R"]),
            )
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([line(head), line(tuple("-" * w for w in widths))] + [line(r) for r in rows])


def report_text(session: Session, outcomes: list[Outcome]) -> str:
    base = outcomes[0].summary

    def deg(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} deg"

    weak = weaker_side(base)
    lines = [
        f"{session.name}: {base['steps']} steps (L {base['left_stance_steps']}, "
        f"R {base['right_stance_steps']}), median drop: left stance "
        f"{deg(base['left_stance_drop_deg'])}, right stance {deg(base['right_stance_drop_deg'])}"
        + (f" (larger in {'right' if weak == 'R' else 'left'} stance)" if weak else ""),
        "each row re-ran the firmware on this capture; 'in R stance' = cues while the right leg "
        "stood (the left side sank past the threshold)",
        "",
        table(outcomes),
        "",
    ]
    for o in outcomes:
        if o.suggestion is not None:
            sg = o.suggestion
            lines.append(
                f"suggested threshold_deg={sg.threshold_deg:.1f} ({sg.rule} {sg.pct:g} %): "
                f"{sg.explanation}; it would have given {o.summary['cues']} cues "
                f"({o.summary['cues_per_100_steps']} per 100 steps)"
            )
    lines.append(
        "apply one on the device with its config (or try it here: hipcue replay TRACE "
        "--set threshold_deg=...)"
    )
    return "\n".join(lines) + "\n"


def as_json(outcomes: list[Outcome]) -> list[dict]:
    out = []
    for o in outcomes:
        d: dict = {
            "setting": o.label,
            "changes": dict(o.changes),
            "config": o.session.config,
            "summary": o.summary,
            "cues_by_stance": o.cues_by_stance(),
        }
        if o.suggestion is not None:
            d["suggestion"] = {
                "rule": o.suggestion.rule,
                "pct": o.suggestion.pct,
                "side": o.suggestion.side,
                "threshold_deg": o.suggestion.threshold_deg,
                "explanation": o.suggestion.explanation,
            }
        out.append(d)
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "session",
        metavar="SESSION",
        help="raw capture: trace CSV, pulled raw S0001.hcl, or LIBRARY.sqlite#REF",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="one alternative setting per --set (threshold= is short for threshold_deg=)",
    )
    p.add_argument(
        "--reduction",
        type=float,
        default=20.0,
        metavar="PCT",
        help="suggest (1-PCT/100) x the weaker side's median drop (default 20; 0: off)",
    )
    p.add_argument(
        "--worst",
        type=float,
        default=30.0,
        metavar="PCT",
        help="suggest the threshold that cues the worst PCT %% of its steps (default 30; 0: off)",
    )
    p.add_argument("--mount", help="mount (overrides # mount:)")
    p.add_argument("--no-calibrate", action="store_true")
    p.add_argument("--engine", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")


def run(args: argparse.Namespace) -> int:
    opts = LoadOptions(mount=args.mount, calibrate=not args.no_calibrate, engine=args.engine)
    settings = [parse_setting(s) for s in args.set]
    if str(args.session).partition("#")[0].endswith(".sqlite"):
        # a session of the library (library.sqlite#REF): it must name exactly one
        found = load_sessions([args.session], opts)
        if len(found) != 1:
            raise HipcueError(
                f"{args.session}: {len(found)} sessions; name one as LIBRARY.sqlite#REF "
                "(id, name or SHA-256 prefix)"
            )
        session = found[0]
    else:
        session = load_session(args.session, opts)
    outcomes = what_if(
        session,
        settings,
        opts,
        reduction_pct=args.reduction or None,
        worst_pct=args.worst or None,
    )
    if args.json:
        print(json.dumps(as_json(outcomes), indent=2))
    else:
        print(report_text(session, outcomes), end="")
    return 0
