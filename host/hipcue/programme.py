"""`hipcue programme`: a multi-week retraining plan on the device, and its adherence.

    hipcue programme set [--id P1] [--walks 8] [--weeks 2] [--minutes 15:30] [--fade 100:0]
                         [--probe EVERY:LEN] [--exercise MODE:SIDE:REPS:PER_WEEK ...]
                         [--start YYYY-MM-DD]                      (on the device)
    hipcue programme show | clear                                  (on the device)
    hipcue programme adherence [--library PATH]                    (the pulled sessions)

`set` stores the plan on the device's flash (programme.json, shared/programme.py) and sets
its faded feedback schedule in the config; from then on every session the device starts
carries the plan and its number in it in its header. `adherence` reads the session library
(`hipcue logs pull`): walking sessions done against planned, minutes walked against the dose
(a session counts as done at 80 % of its planned minutes), exercise sets done against planned.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from hipcue import HipcueError
from hipcue.argtypes import whole
from hipcue.link import Client
from shared.exercise import MODES
from shared.programme import DEFAULTS, PlanError, check, dose_minutes, planned_minutes


def _pair(text: str, what: str) -> list[int]:
    a, sep, b = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return [int(a), int(b)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected A:B, got {text!r}") from None


def _set_arg(text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f"--exercise {text!r}: expected MODE:SIDE:REPS:PER_WEEK, e.g. clamshell:right:10:3"
        )
    mode, side, reps, per = parts
    if mode not in MODES[1:]:
        raise argparse.ArgumentTypeError(f"--exercise mode {mode!r}: one of {', '.join(MODES[1:])}")
    try:
        return [mode, side, int(reps), int(per)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--exercise {text!r}: REPS and PER_WEEK are numbers"
        ) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from hipcue.devcmd import EPILOG, _common

    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    s = sub.add_parser("set", help="store a plan on the device (sets its faded schedule)")
    s.add_argument("--id", default=DEFAULTS["id"], help="the plan's name (default P1)")
    s.add_argument("--walks", type=whole(1, 100), default=DEFAULTS["walks"])
    s.add_argument("--weeks", type=whole(1, 52), default=DEFAULTS["weeks"])
    s.add_argument(
        "--minutes",
        type=lambda t: _pair(t, "--minutes"),
        default=[DEFAULTS["min0"], DEFAULTS["min1"]],
        metavar="FIRST:LAST",
        help="minutes of the first and the last walking session (default 15:30)",
    )
    s.add_argument(
        "--fade",
        type=lambda t: _pair(t, "--fade"),
        default=[DEFAULTS["fade0"], DEFAULTS["fade1"]],
        metavar="FIRST:LAST",
        help="share of cues, %%, in the first session and from the last on (default 100:0)",
    )
    s.add_argument(
        "--probe",
        type=lambda t: _pair(t, "--probe"),
        default=[0, 0],
        metavar="EVERY:LEN",
        help="feedback-off probe blocks: LEN steps every EVERY steps (default none)",
    )
    s.add_argument(
        "--exercise",
        type=_set_arg,
        action="append",
        default=[],
        metavar="MODE:SIDE:REPS:PER_WEEK",
        help="exercise sets of the plan (repeatable)",
    )
    s.add_argument("--start", help="first day, YYYY-MM-DD (default today)")
    show = sub.add_parser("show", help="the plan stored on the device")
    clear = sub.add_parser("clear", help="forget the plan (the config keeps its schedule)")
    for q in (s, show, clear):
        _common(q)
    adh = sub.add_parser("adherence", help="sessions and minutes done (the library, no device)")
    adh.add_argument("--library", metavar="PATH", help="session library (default: user data)")
    adh.add_argument("--json", action="store_true", help="machine-readable output")
    adh.epilog = EPILOG


def plan_from_args(args: argparse.Namespace) -> dict[str, Any]:
    start = 0
    if args.start:
        try:
            d = datetime.strptime(args.start, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise HipcueError(f"--start {args.start!r}: expected YYYY-MM-DD") from None
        start = int(d.timestamp())
    else:
        now = datetime.now(UTC)
        start = int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp())
    plan = {
        "id": args.id,
        "start": start,
        "walks": args.walks,
        "weeks": args.weeks,
        "min0": args.minutes[0],
        "min1": args.minutes[1],
        "fade0": args.fade[0],
        "fade1": args.fade[1],
        "probe": args.probe,
        "sets": args.exercise,
    }
    try:
        return check(plan)  # the device checks it again, with the same code
    except PlanError as e:
        raise HipcueError(f"programme: {e}") from None


def describe(plan: dict[str, Any]) -> str:
    mins = [planned_minutes(plan, k) for k in range(1, plan["walks"] + 1)]
    lines = [
        f"programme {plan['id']}: {plan['walks']} walking sessions over {plan['weeks']} weeks"
        + (f" from {datetime.fromtimestamp(plan['start'], UTC):%Y-%m-%d}" if plan["start"] else ""),
        f"  minutes per session: {' '.join(str(m) for m in mins)} (dose {dose_minutes(plan)} min)",
        f"  feedback: faded from {plan['fade0']} % of cues to {plan['fade1']} %"
        + (
            f"; probe blocks of {plan['probe'][1]} steps without feedback every "
            f"{plan['probe'][0]} steps"
            if plan["probe"][0]
            else ""
        ),
    ]
    for mode, side, reps, per in plan["sets"]:
        lines.append(f"  exercise: {mode} {side}, {reps} reps, {per} sets a week")
    return "\n".join(lines)


def _device(args: argparse.Namespace, c: Client) -> int:
    from hipcue.devcmd import _out

    if args.action == "set":
        import time

        plan = plan_from_args(args)
        r = c.request("programme.set", plan=plan)
        if c.request("info").get("clock") is None:
            # a device without the time cannot date the sessions the wearer starts by walking
            c.request("clock.set", epoch_s=int(time.time()))
        _out(args, r, describe(r["programme"]) + f"\n  stored on the device; next: session "
             f"{r['next_session']}, {r['next_minutes']} min")  # fmt: skip
        return 0
    if args.action == "show":
        r = c.request("programme.get")
        if r["programme"] is None:
            _out(args, r, f"no programme on the device ({r['note']})")
        else:
            _out(args, r, describe(r["programme"]) + f"\n  next: session {r['next_session']}, "
                 f"{r['next_minutes']} min, {r['next_fade_pct']} % of cues")  # fmt: skip
        return 0
    r = c.request("programme.clear")
    _out(args, r, f"cleared {r['cleared']}" if r["cleared"] else "no programme was set")
    return 0


def format_adherence(a: dict[str, Any]) -> str:
    lines = [
        describe(a["plan"]),
        f"walking sessions done: {a['sessions_done']} of {a['sessions_planned']} "
        f"(logged {a['sessions_logged']}; done = at least {a['done_share']:.0%} of its minutes)",
        f"minutes walked: {a['minutes_walked']:g} of {a['minutes_planned']} "
        f"({a['minutes_pct']} % of the dose)",
        "  session  planned  walked  state",
    ]
    for r in a["per_session"]:
        state = "done" if r["done"] else ("short" if r["logged"] else "not done")
        lines.append(
            f"  {r['session']:>7}  {r['planned_min']:>7}  {r['walked_min']:>6g}  {state}"
            + (f"  {', '.join(r['dates'])}" if r["dates"] else "")
        )
    for s in a["sets"]:
        lines.append(
            f"exercise {s['exercise']} {s['side']} x{s['reps']}: {s['done']} of {s['planned']} "
            f"sets done ({s['started']} started)"
        )
    if a["beyond_plan"]:
        lines.append(f"{a['beyond_plan']} walking sessions after the plan's last")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.action == "adherence":
        from hipcue import progress
        from hipcue.library import default_library_path

        lib = args.library or str(default_library_path())
        a = progress.adherence(progress.load(lib))
        if a is None:
            raise HipcueError(f"{lib}: no session carries a programme (`hipcue programme set`)")
        print(json.dumps(a, indent=2) if args.json else format_adherence(a))
        return 0
    from hipcue.devcmd import _device as device_runner

    return device_runner(_device)(args)
