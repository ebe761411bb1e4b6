"""`hipcue`: the host command line.

Exit codes: 0 success (also when the reader of the output went away: `| head`); 1 an error
(bad input, failed run, a file that cannot be written), printed as one line
`hipcue: error: ...`; 2 a usage error (argparse, also a number out of its range); device
commands: 3 no device, no answer or the port busy; 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from hipcue import HipcueError, __version__
from hipcue.argtypes import number
from hipcue.devcmd import COMMANDS as DEVICE_COMMANDS


def _add_replay(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "trace",
        help="trace CSV (spec: ../shared/spec/trace-and-replay.md), or a raw session pulled "
        "from the device (S0001.hcl, from `hipcue logs start --raw`)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--mount", help='e.g. "forward=-z left=+y up=+x" (overrides # mount:)')
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config value")
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help="take the mount's axes as the body frame (traces that start in motion)",
    )
    p.add_argument(
        "--engine",
        choices=("micropython", "cpython", "rp2040"),
        default="micropython",
        help="micropython: the unix port; cpython; rp2040: the hipcue firmware image on an "
        "emulated RP2040 (rp2040js; builds the image with make firmware-uf2 when needed)",
    )
    p.add_argument("--quiet", "-q", action="store_true")


def _run_replay(args: argparse.Namespace) -> int:
    from hipcue.replay import replay

    summary = replay(
        args.trace,
        args.out,
        mount=args.mount,
        sets=args.set,
        calibrate=not args.no_calibrate,
        engine=args.engine,
    )
    if not args.quiet:
        print(f"{args.trace}: {summary['rate']['note']}", file=sys.stderr)
        if "session" in summary:
            ses = summary["session"]
            print(
                f"{args.trace}: replay {ses['note']}; the device logged {ses['device_steps']} "
                f"steps, {ses['device_cues']} cues",
                file=sys.stderr,
            )
        print(_summary_line(summary))
    return 0


def _summary_line(s: dict) -> str:
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} deg"

    return (
        f"steps {s['steps']} (L {s['left_stance_steps']}, R {s['right_stance_steps']}), "
        f"cues {s['cues']}, median drop: left stance {f(s['left_stance_drop_deg'])}, "
        f"right stance {f(s['right_stance_drop_deg'])}"
    )


def _add_synth(p: argparse.ArgumentParser) -> None:
    from hipcue import synth

    synth.add_arguments(p)


def _run_synth(args: argparse.Namespace) -> int:
    from hipcue import synth

    return synth.run(args)


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", metavar="DIR")
    p.add_argument("--engine", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--duration", type=number(10, 3600, " s"), default=90.0, help="walking time, s")
    p.add_argument(
        "--library",
        metavar="PATH",
        help="instead: a demo session library for the progress view (weeks of a synthetic "
        "wearer with a weak right hip that improves, recorded by the firmware: sim/progress.py)",
    )
    p.add_argument(
        "--minutes",
        default="15:30",
        metavar="FIRST:LAST",
        help="--library: the demo programme's minutes per walking session (default 15:30)",
    )


def _run_demo(args: argparse.Namespace) -> int:
    from hipcue import demo

    return demo.run(args)


def _add_report(p: argparse.ArgumentParser) -> None:
    from hipcue import report

    report.add_arguments(p)


def _run_report(args: argparse.Namespace) -> int:
    from hipcue import report

    return report.run(args)


def _add_tune(p: argparse.ArgumentParser) -> None:
    from hipcue import tune

    tune.add_arguments(p)


def _run_tune(args: argparse.Namespace) -> int:
    from hipcue import tune

    return tune.run(args)


def _add_power(p: argparse.ArgumentParser) -> None:
    from hipcue import power

    power.add_arguments(p)


def _run_power(args: argparse.Namespace) -> int:
    from hipcue import power

    return power.run(args)


def _add_programme(p: argparse.ArgumentParser) -> None:
    from hipcue import programme

    programme.add_arguments(p)


def _run_programme(args: argparse.Namespace) -> int:
    from hipcue import programme

    return programme.run(args)


# name -> (help, add arguments, run)
COMMANDS: dict[
    str,
    tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]],
] = {
    "replay": ("run a trace through the firmware loop", _add_replay, _run_replay),
    "synth": ("write a synthetic walking trace or exercise set", _add_synth, _run_synth),
    "demo": ("simulate a weak-right-hip walk through the firmware", _add_demo, _run_demo),
    "report": ("HTML report (plots) and text summary of sessions", _add_report, _run_report),
    "tune": ("what-if cue settings on a raw capture; threshold advice", _add_tune, _run_tune),
    "power": ("battery budget from measured duty and datasheet currents", _add_power, _run_power),
    "programme": (
        "a multi-week retraining plan on the device; its adherence",
        _add_programme,
        _run_programme,
    ),
    **DEVICE_COMMANDS,  # ports info config calibrate live logs time sim (hipcue/devcmd.py)
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hipcue", description="hipcue: wearable biofeedback for hip drop (host tool)"
    )
    parser.add_argument("--version", action="version", version=f"hipcue {__version__}")
    parser.add_argument(
        "--port",
        "-p",
        dest="global_port",
        metavar="PORT",
        help="device port for the device commands (also accepted after the command)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, add, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.global_port:
        if not hasattr(args, "port"):
            parser.error(f"--port: `hipcue {args.command}` does not talk to a device")
        if args.port and args.port != args.global_port:
            parser.error(f"--port given twice: {args.global_port} and {args.port}")
        args.port = args.global_port
    try:
        return int(args._run(args))
    except HipcueError as e:
        print(f"hipcue: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`hipcue live --json | head`): stop quietly, as cat does
        _quiet_stdout()
        return 0
    except OSError as e:
        # a file the command had to write or read (read-only --out, a full disk, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"hipcue: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hipcue: interrupted", file=sys.stderr)
        return 130


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so the interpreter's final flush of
    the dead pipe raises nothing more."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
