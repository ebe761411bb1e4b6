"""The device subcommands of `hipcue`: ports, info, config, calibrate, live, logs, time, sim.

Every device command takes --port (a device path or any pyserial URL; left out, the only
MicroPython board plugged in is used) and --json (one JSON document on stdout, for programs).

Exit codes:
  0  success
  1  the device refused the request, or the input was wrong (message says which)
  2  usage error (bad arguments)
  3  no device: none found, several found, port cannot be opened, or no answer
  130 interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipcue import HipcueError, logs
from hipcue.argtypes import number, whole
from hipcue.library import Library
from hipcue.link import Client, LinkError, connect, find_boards
from hipcue.logs import RemoteFile
from shared import protocol as P
from shared import sides
from shared.config import SCHEMA, Config, ConfigError, validate

EXIT_NO_DEVICE = 3

EPILOG = "exit codes: 0 ok, 1 refused or bad input, 2 usage, 3 no device or no answer, 130 Ctrl-C"

Adder = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace], int]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", "-p", help="device path or pyserial URL (default: the only board)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--timeout", type=number(0.05, 60, " s"), default=1.0, help="seconds per try (default 1)"
    )
    p.epilog = EPILOG


def _out(args: argparse.Namespace, obj: Any, text: str) -> None:
    print(json.dumps(obj, indent=2) if args.json else text)


def _device(fn: Callable[[argparse.Namespace, Client], int]) -> Runner:
    """Open the port, run, close; LinkError -> exit code 3."""

    def run(args: argparse.Namespace) -> int:
        try:
            with connect(args.port, timeout=args.timeout) as client:
                return fn(args, client)
        except LinkError as e:
            print(f"hipcue: error: {e}", file=sys.stderr)
            return EXIT_NO_DEVICE

    return run


# -- ports -------------------------------------------------------------------------------
def add_ports(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="every USB serial port, not only boards")
    p.add_argument("--json", action="store_true")
    p.epilog = EPILOG


def run_ports(args: argparse.Namespace) -> int:
    boards = find_boards(args.all)
    if args.json:
        print(json.dumps([b.__dict__ for b in boards], indent=2))
    elif not boards:
        print("no MicroPython board found", file=sys.stderr)
    for b in boards if not args.json else []:
        print(f"{b.port}\t{b.vid:04x}:{b.pid:04x}\t{b.description}\t{b.serial_number or ''}")
    return 0 if boards else EXIT_NO_DEVICE


# -- info ---------------------------------------------------------------------------------
def _info(args: argparse.Namespace, c: Client) -> int:
    d = c.request("info")
    lines = []
    for k, v in d.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items())
        if k == "flash_free" and isinstance(v, int):
            v = f"{v / 1024:.0f} KiB"
        lines.append(f"{k:>14}: {'unknown' if v is None else v}")
    _out(args, d, "\n".join(lines))
    return 0


# -- config -------------------------------------------------------------------------------
def add_config(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    g = sub.add_parser("get", help="show values (all, or the keys given)")
    g.add_argument("keys", nargs="*", metavar="KEY")
    s = sub.add_parser("set", help="set KEY=VALUE ... (checked here and on the device)")
    s.add_argument("items", nargs="+", metavar="KEY=VALUE")
    r = sub.add_parser("reset", help="back to defaults")
    for q in (g, s, r):
        _common(q)


def _show_config(values: dict[str, str], keys: list[str]) -> str:
    lines = []
    for k in keys or list(values):
        unit = SCHEMA[k][4] if k in SCHEMA else ""
        lines.append(f"{k} = {values[k]}{' ' + unit if unit else ''}")
    return "\n".join(lines)


def _config(args: argparse.Namespace, c: Client) -> int:
    if args.action == "get":
        for k in args.keys:
            if k not in SCHEMA:
                raise HipcueError(f"unknown config key {k!r} (known: {', '.join(sorted(SCHEMA))})")
        got = c.request("config.get")["values"]
        shown = {k: got[k] for k in args.keys} if args.keys else got
        _out(args, shown, _show_config(got, args.keys))
        return 0
    if args.action == "set":
        values: dict[str, str] = {}
        for item in args.items:
            key, sep, value = item.partition("=")
            if not sep:
                raise HipcueError(f"{item!r}: expected KEY=VALUE")
            try:
                validate(key.strip(), value.strip())  # same schema as the device: fail early
            except ConfigError as e:
                raise HipcueError(str(e)) from None
            values[key.strip()] = value.strip()
        # the cross-key rules over the device's config with these changes (the device
        # checks the same; failing here first keeps the message the same without a round trip)
        current = Config()
        try:
            current.load_dict(c.request("config.get")["values"])
        except ConfigError:
            current = Config()  # a device with another firmware's schema: it decides
        else:
            try:
                current.updated(values)
            except ConfigError as e:
                raise HipcueError(str(e)) from None
        r = c.request("config.set", values=values)
    else:
        r = c.request("config.reset")
    text = _show_config(r["values"], r["changed"]) if r["changed"] else "no change"
    if r["restart_needed"]:
        text += f"\n(takes effect after a restart: {', '.join(r['restart_needed'])})"
    _out(args, r, text)
    return 0


# -- calibrate ----------------------------------------------------------------------------
def _calibrate(args: argparse.Namespace, c: Client) -> int:
    start = c.request("cal.start")
    if not args.json:
        print("calibrating: stand still ...", file=sys.stderr)
    limit = time.monotonic() + start["window_ms"] / 1000 + 5
    while True:
        r = c.request("cal.status")
        if r["state"] != "running":
            break
        if time.monotonic() > limit:
            raise HipcueError("calibration did not finish in time")
        time.sleep(0.1)
    if r["state"] == "failed":
        if args.json:
            print(json.dumps(r))
        raise HipcueError(f"calibration failed: {r['reason']}")
    text = (
        f"calibrated: quality {r['quality']} (gravity {r['gravity_mg']} mg, gyro bias "
        f"{r['gyro_bias_mdps'] / 1000:.2f} deg/s, still {r['still_ms'] / 1000:.1f} s found "
        f"after {r['found_after_ms'] / 1000:.1f} s)"
    )
    for note in r["notes"]:
        text += f"\n  note: {note}"
    _out(args, r, text)
    return 0


# -- live ---------------------------------------------------------------------------------
def add_live(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument(
        "--every-ms", type=whole(10, 1000, " ms"), default=40, help="one record per this many ms"
    )
    p.add_argument(
        "--seconds",
        type=number(0, 86400, " s"),
        default=0,
        help="stop after this long (0: Ctrl-C)",
    )


def decode_event(payload: bytes) -> dict[str, Any] | None:
    if payload[:1] == bytes([P.EVT_SAMPLE]) and len(payload) == P.EVT_SAMPLE_SIZE:
        _, n, obl, tilt, motor, cues = struct.unpack(P.EVT_SAMPLE_FMT, payload)
        return {"kind": "sample", "n": n, "obl_mdeg": obl, "tilt_mdeg": tilt, "motor": motor,
                "cues": cues}  # fmt: skip
    if payload[:1] == bytes([P.EVT_STEP]) and len(payload) == P.EVT_STEP_SIZE:
        _, ic, end, side, drop, cued = struct.unpack(P.EVT_STEP_FMT, payload)
        return {"kind": "step", "ic_n": ic, "end_n": end, "stance": "R" if side else "L",
                "drop_mdeg": drop, "cued": cued}  # fmt: skip
    return None


class LiveView:
    """Obliquity over time as a text strip chart, redrawn in place (ANSI cursor moves)."""

    def __init__(self, threshold_deg: float, width: int, height: int = 13) -> None:
        self.thr = threshold_deg
        self.w = width
        self.h = height
        self.span = max(10.0, threshold_deg * 1.6)  # deg from the middle to the top row
        self.obl: list[float] = []
        self.cue: list[bool] = []
        self.steps = 0
        self.cues = 0
        self.tilt = 0.0
        self._drawn = False

    def add(self, e: dict[str, Any]) -> None:
        if e["kind"] == "step":
            self.steps += 1
            return
        fired = e["cues"] != self.cues
        self.cues = e["cues"]
        self.obl.append(e["obl_mdeg"] / 1000)
        self.cue.append(fired or bool(e["motor"]))
        self.tilt = e["tilt_mdeg"] / 1000
        del self.obl[: -self.w]
        del self.cue[: -self.w]

    def _row(self, v: float) -> int:
        r = round((self.span - v) / (2 * self.span) * (self.h - 1))
        return min(self.h - 1, max(0, r))

    def render(self) -> str:
        rows = [[" "] * self.w for _ in range(self.h)]
        for r, ch in ((self._row(self.thr), "-"), (self._row(-self.thr), "-"), (self._row(0), ".")):
            rows[r] = [ch] * self.w
        for x, (v, cued) in enumerate(zip(self.obl, self.cue, strict=True)):
            rows[self._row(v)][x] = "#" if cued else "*"
            if cued:
                rows[0][x] = "!"
        labels = {self._row(v): f"{v:+5.1f}" for v in (self.thr, -self.thr, 0.0)}
        now = self.obl[-1] if self.obl else 0.0
        head = (
            f"obliquity {now:+6.1f} deg  tilt {self.tilt:+6.1f} deg  steps {self.steps}  "
            f"cues {self.cues}  threshold +/-{self.thr:g} deg  (! = cue)"
        )
        lines = [head] + [f"{labels.get(i, '     ')} |{''.join(r)}" for i, r in enumerate(rows)]
        up = f"\x1b[{len(lines)}F" if self._drawn else ""
        self._drawn = True
        return up + "\n".join(line + "\x1b[K" for line in lines)


def _live(args: argparse.Namespace, c: Client) -> int:
    values = c.request("config.get")["values"]
    thr = float(values["threshold_deg"])
    tty = sys.stdout.isatty() and not args.json
    width = max(20, shutil.get_terminal_size().columns - 10)
    view = LiveView(thr, width)
    lease_ms = 10000
    c.request("live", on=True, every_ms=args.every_ms, lease_ms=lease_ms)
    renewed = last_draw = time.monotonic()
    end = time.monotonic() + args.seconds if args.seconds > 0 else float("inf")
    seen = 0
    try:
        while time.monotonic() < end:
            c.pump(0.05)
            while c.events:
                e = decode_event(c.events.popleft().payload)
                if e is None:
                    continue
                seen += 1
                cues_before = view.cues
                view.add(e)
                if args.json:
                    print(json.dumps(e), flush=True)
                elif not tty and e["kind"] == "step":
                    cued = " (cued)" if e["cued"] else ""
                    print(f"step: {e['stance']} stance, drop {e['drop_mdeg'] / 1000:.1f} deg{cued}")
                elif not tty and e["cues"] != cues_before:
                    print(f"cue {e['cues']}: obliquity {e['obl_mdeg'] / 1000:+.1f} deg")
            now = time.monotonic()
            if tty and now - last_draw > 0.1:
                print(view.render(), end="", flush=True)
                last_draw = now
            if now - renewed > lease_ms / 3000:
                c.request("live", on=True, every_ms=args.every_ms, lease_ms=lease_ms)
                renewed = now
    except KeyboardInterrupt:
        pass
    finally:
        try:
            c.request("live", on=False)
        except HipcueError:
            pass
        if tty:
            print()
    if not args.json:
        print(f"live: {seen} records, {view.steps} steps, {view.cues} cues", file=sys.stderr)
    return 0


# -- logs ---------------------------------------------------------------------------------
def add_logs(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="logs on the device")
    pull = sub.add_parser(
        "pull",
        help="download new sessions into the library (resumes a cut download); "
        "with NAMEs or --all: download those files to --out only",
    )
    pull.add_argument("names", nargs="*", metavar="NAME")
    pull.add_argument("--all", action="store_true", help="every file, to --out (no library)")
    pull.add_argument("--library", metavar="PATH", help="session library (default: user data)")
    pull.add_argument("--out", metavar="DIR", help="also write the session files here")
    pull.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    rm = sub.add_parser("delete", help="delete logs from the device")
    rm.add_argument("names", nargs="+", metavar="NAME")
    start = sub.add_parser("start", help="start a session now (ends a running one)")
    start.add_argument("--raw", action="store_true", help="record every IMU sample (replayable)")
    stop = sub.add_parser("stop", help="end the running session")
    for q in (ls, pull, rm, start, stop):
        _common(q)
    ex = sub.add_parser("export", help="a library session as CSV or JSON (no device needed)")
    ex.add_argument("session", metavar="SESSION", help="id, name (S0003) or SHA-256 prefix")
    fmt = ex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", dest="fmt", action="store_const", const="csv")
    fmt.add_argument("--json", dest="fmt", action="store_const", const="json")
    ex.add_argument("--library", metavar="PATH", help="session library (default: user data)")
    ex.add_argument("--out", metavar="FILE", help="write here (default: stdout)")
    ses = sub.add_parser("sessions", help="sessions in the library (no device needed)")
    ses.add_argument("--library", metavar="PATH", help="session library (default: user data)")
    ses.add_argument("--json", action="store_true", help="machine-readable output")
    for q in (ex, ses):
        q.epilog = EPILOG


@dataclass
class LogEntry:
    name: str
    size: int
    active: bool
    sha256: str | None  # None: the device has not hashed it yet (or it is being written)


def list_logs(c: Client) -> list[LogEntry]:
    out: list[LogEntry] = []
    while True:
        r = c.request("logs.list", start=len(out))
        for e in r["logs"]:
            out.append(LogEntry(e[0], e[1], bool(e[2]), e[3] if len(e) > 3 else None))
        if not r["logs"] or len(out) >= r["total"]:
            return out


def is_session_name(name: str) -> bool:
    return re.fullmatch(r"S\d{4,}\.hcl", name) is not None


class DeviceLogs:
    """`hipcue.logs.DeviceFiles` over the serial link: the device's finished sessions and
    their hashes; reads one chunk per request (the link retries a lost one)."""

    def __init__(self, c: Client, hash_wait_s: float = 60.0) -> None:
        self.c = c
        self.hash_wait_s = hash_wait_s
        self.reads = 0

    def list(self) -> list[RemoteFile]:
        # The device hashes its files between samples, a slice at a time: ask again until
        # every finished session has its hash.
        deadline = time.monotonic() + self.hash_wait_s
        while True:
            logs = [e for e in list_logs(self.c) if is_session_name(e.name)]
            if all(e.active or e.sha256 for e in logs):
                return [RemoteFile(e.name, e.size, e.sha256 or "", e.active) for e in logs]
            if time.monotonic() > deadline:
                waiting = ", ".join(e.name for e in logs if not e.active and not e.sha256)
                raise HipcueError(f"the device did not finish hashing {waiting} in time")
            time.sleep(0.05)

    def read(self, name: str, offset: int, n: int) -> bytes:
        f = self.c.exchange({"cmd": "logs.read", "name": name, "off": offset, "len": n})
        if f.type != P.T_DATA or len(f.payload) < P.DATA_HEADER:
            raise LinkError(f"{name}: unexpected answer while reading")
        at, _size = struct.unpack_from("<II", f.payload, 0)
        if at != offset:
            raise LinkError(f"{name}: device sent bytes at {at}, expected {offset}")
        self.reads += 1
        return f.payload[P.DATA_HEADER :]


def device_id(info: dict[str, Any]) -> str:
    return str(info.get("device_id") or info.get("board") or "device")


def pull_sessions(
    c: Client,
    library: Library,
    out_dir: Path | None = None,
    progress: bool = False,
    dev: DeviceLogs | None = None,
) -> dict[str, Any]:
    """`hipcue logs pull`: new finished sessions into the library (hash-checked, resumed from
    a partial download), and every finished session of the device into out_dir if given."""
    ident = device_id(c.request("info"))
    dev = dev or DeviceLogs(c)
    bars: dict[str, Progress] = {}

    def bar(name: str, done: int, total: int) -> None:
        if name not in bars:
            bars[name] = Progress(name, total, progress)
        bars[name](done)

    partial = library.path.parent / "partial"
    try:
        rep = logs.pull(dev, library, ident, partial, progress=bar)
    except LinkError as e:
        raise LinkError(f"{e} (the partial download is kept: pull again to resume)") from None
    written = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for rf in dev.list():
            if rf.active:
                continue
            data = library.data_by_sha256(rf.sha256)
            if data is None:
                continue
            target = out_dir / rf.name
            if target.exists() and target.read_bytes() != data:
                target = out_dir / f"{target.stem}-{rf.sha256[:8]}.hcl"
            if not target.exists():
                tmp = target.with_suffix(".hcl.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
            written.append(str(target))
    return {
        "device": ident,
        "library": str(library.path),
        "added": rep.added,
        "already": rep.already,
        "recording": rep.skipped_active,
        "resumed": rep.resumed,
        "bytes_read": rep.bytes_read,
        "files": written,
    }


class Progress:
    def __init__(self, name: str, total: int, enabled: bool) -> None:
        self.name = name
        self.total = total
        self.enabled = enabled
        self.t0 = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        frac = done / self.total if self.total else 1.0
        bar = "#" * int(frac * 30)
        rate = done / max(now - self.t0, 1e-6) / 1024
        print(
            f"\r{self.name} [{bar:<30}] {frac * 100:5.1f}% {done}/{self.total} B {rate:7.0f} KiB/s",
            end="" if done < self.total else "\n",
            file=sys.stderr,
            flush=True,
        )


def pull_log(c: Client, name: str, size: int, out_dir: Path, progress: bool) -> Path:
    """Download to out_dir/name via name.part (no half file is ever left as the log)."""
    why = P.check_log_name(name)
    if why:
        raise HipcueError(why)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    part = out_dir / (name + ".part")
    try:
        with open(part, "wb") as f:

            def sink(off: int, data: bytes) -> None:
                f.seek(off)
                f.write(data)

            c.read_log(name, size, sink, Progress(name, size, progress))
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return target


def _pull_files(args: argparse.Namespace, c: Client) -> int:
    sizes = {e.name: e.size for e in list_logs(c)}
    names = list(sizes) if args.all else args.names
    done = []
    out = Path(args.out or ".")
    for name in names:
        if name not in sizes:
            why = P.check_log_name(name)
            raise HipcueError(why or f"no log named {name!r} on the device")
        t0 = time.monotonic()
        path = pull_log(c, name, sizes[name], out, not (args.json or args.quiet))
        dt = time.monotonic() - t0
        done.append({"name": name, "size": sizes[name], "path": str(path), "seconds": dt})
    _out(args, done, "\n".join(f"{d['path']}: {d['size']} bytes" for d in done))
    return 0


def _pull_library(args: argparse.Namespace, c: Client) -> int:
    with Library(args.library) as lib:
        out = Path(args.out) if args.out else None
        r = pull_sessions(c, lib, out, progress=not (args.json or args.quiet))
        n = len(lib.sessions())
    lines = [f"pulled {n}" + (" (resumed)" if n in r["resumed"] else "") for n in r["added"]]
    if r["already"]:
        lines.append(f"already in the library: {', '.join(r['already'])}")
    if r["recording"]:
        lines.append(f"being recorded, not pulled: {', '.join(r['recording'])}")
    if r["files"]:
        lines.append(f"files: {', '.join(r['files'])}")
    lines.append(f"library: {r['library']} ({n} sessions; {len(r['added'])} new)")
    _out(args, r, "\n".join(lines))
    return 0


def _logs(args: argparse.Namespace, c: Client) -> int:
    if args.action == "list":
        logs = list_logs(c)
        text = "\n".join(
            f"{e.name}\t{e.size}\t{(e.sha256 or '')[:16]}\t{'(recording)' if e.active else ''}"
            for e in logs
        )
        _out(args, [{"name": e.name, "size": e.size, "recording": e.active, "sha256": e.sha256}
                    for e in logs], text or "no logs")  # fmt: skip
        return 0
    if args.action == "pull":
        if args.names or args.all:
            return _pull_files(args, c)
        return _pull_library(args, c)
    if args.action == "start":
        r = c.request("logs.start", raw=1 if args.raw else 0)
        _out(args, r, f"recording {r['started']}{' (raw IMU samples)' if r['raw'] else ''}")
        return 0
    if args.action == "stop":
        r = c.request("logs.stop")
        stopped = r["stopped"]
        _out(args, r, f"stopped {stopped} ({r['size']} bytes)" if stopped else "not recording")
        return 0
    deleted = []
    for name in args.names:
        deleted.append(c.request("logs.delete", name=name))
    _out(args, deleted, "\n".join(f"deleted {d['deleted']}" for d in deleted))
    return 0


def _library_logs(args: argparse.Namespace) -> int:
    with Library(args.library, create=False) as lib:
        if args.action == "export":
            text = lib.export(args.session, args.fmt)
            if args.out:
                Path(args.out).write_text(text)
                print(f"{args.out}: {args.fmt.upper()}, {len(text)} bytes", file=sys.stderr)
            else:
                sys.stdout.write(text)
            return 0
        rows = lib.sessions()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no sessions in {lib.path}")
        return 0
    print(f"{'id':>4}  {'name':<10} {'device':<12} {'steps':>6} {'cues':>5} {'min':>6} "
          f"{'bytes':>8}  state     sha256")  # fmt: skip
    for r in rows:
        state = ("raw " if r["raw"] else "") + ("ok" if r["complete"] else "cut off")
        mins = (r["duration_s"] or 0) / 60
        print(
            f"{r['id']:>4}  {r['name']:<10} {r['device'][:12]:<12} {r['n_steps']:>6} "
            f"{r['n_cues']:>5} {mins:>6.1f} {r['size']:>8}  {state:<9} {r['sha256'][:12]}"
        )
    return 0


def run_logs(args: argparse.Namespace) -> int:
    if args.action in ("export", "sessions"):
        return _library_logs(args)
    return _device(_logs)(args)


# -- time ---------------------------------------------------------------------------------
def add_time(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("sync",), help="set the device clock to this computer's")
    _common(p)


def _time(args: argparse.Namespace, c: Client) -> int:
    now = int(time.time())
    r = c.request("clock.set", epoch_s=now)
    was = r["was"]
    text = f"device clock set to {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))}"
    text += " (it was not set)" if was is None else f" (it was {was - now:+d} s off)"
    _out(args, r, text)
    return 0


# -- test ---------------------------------------------------------------------------------
def add_test(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="test", metavar="TEST")
    sub.required = True
    sls = sub.add_parser(
        "sls",
        help="guided single-leg stance (Trendelenburg) test: left leg, rest, right leg",
        description="The device buzzes once (long): lift the other foot; twice: put it down. "
        "Left leg first, then a rest, then the right leg. The results are stored on the device "
        "as a test session (pull it with `hipcue logs pull`) and shown here.",
    )
    sls.add_argument(
        "--side-s", type=whole(5, 120, " s"), help="seconds on each leg (default: sls_side_s)"
    )
    sls.add_argument(
        "--rest-s", type=whole(0, 120, " s"), help="rest between the legs (default: sls_rest_s)"
    )
    sls.add_argument("--no-wait", action="store_true", help="start it and return")
    _common(sls)


def format_sls(res: dict[str, Any]) -> str:
    """The single-leg stance test's figures as a small table."""
    lines = [f"single-leg stance test ({res['side_s']} s a leg)"]
    lines.append("stance  swing  max drop  mean drop  balance lost")
    for key in ("left_stance", "right_stance"):
        r = res[key]
        lost = "held" if r["loss_ms"] is None else f"at {r['loss_ms'] / 1000:.1f} s"
        lines.append(
            f"{r['stance']:<7} {r['swing']:<6} {r['max_drop_mdeg'] / 1000:6.1f} deg"
            f" {r['mean_drop_mdeg'] / 1000:6.1f} deg   {lost}"
        )
    lines.append(
        f"right - left stance: max {res['diff_max_mdeg'] / 1000:+.1f} deg, "
        f"mean {res['diff_mean_mdeg'] / 1000:+.1f} deg"
    )
    if res.get("session"):
        lines.append(f"stored on the device as {res['session']}")
    return "\n".join(lines)


def _test(args: argparse.Namespace, c: Client, sleep: Callable[[float], None] = time.sleep) -> int:
    req: dict[str, Any] = {}
    if args.side_s is not None:
        req["side_s"] = args.side_s
    if args.rest_s is not None:
        req["rest_s"] = args.rest_s
    r = c.request("test.sls", **req)
    if args.no_wait:
        _out(args, r, f"single-leg stance test started ({r['total_s']} s)")
        return 0
    if not args.json:
        print(f"single-leg stance test: {r['total_s']} s; left leg first", file=sys.stderr)
    deadline = time.monotonic() + r["total_s"] + 30.0
    while True:
        st = c.request("test.status")
        if not st["running"] and st["results"] is not None:
            _out(args, st["results"], format_sls(st["results"]))
            return 0
        if not st["running"] or time.monotonic() > deadline:
            print("hipcue: error: the test did not finish", file=sys.stderr)
            return 1
        sleep(0.25)


# -- exercise -----------------------------------------------------------------------------
def add_exercise(p: argparse.ArgumentParser) -> None:
    from shared.exercise import MODES

    p.description = (
        "Start an exercise set on the device (shared/exercise.py): it counts the reps, cues "
        "when the drop (lying: the roll back) passes the threshold, and buzzes long when the "
        "set is done. The reps are stored on the device as an exercise session (pull it with "
        "`hipcue logs pull`) and shown here."
    )
    p.add_argument("exercise", choices=MODES[1:], help="the exercise")
    p.add_argument(
        "--side",
        choices=("left", "right"),
        help="the hip trained: squat/step-down the standing leg, lying the top leg "
        "(default: ex_side)",
    )
    p.add_argument("--reps", type=whole(1, 200), help="reps in the set (default: ex_reps)")
    p.add_argument("--threshold", help="cue threshold, deg (default: ex_threshold_deg)")
    p.add_argument(
        "--tempo",
        type=number(0, 20, " s"),
        help="a short pacing buzz every this many seconds, one per rep (0: off; default tempo_ms)",
    )
    p.add_argument("--no-wait", action="store_true", help="start it and return")
    p.add_argument(
        "--max-s", type=float, default=900.0, help="stop the set after this many seconds"
    )
    _common(p)


def format_exercise(res: dict[str, Any]) -> str:
    """An exercise set's figures and its reps as a small table."""
    lines = [
        f"{res['exercise']}: {res['count']} reps, {res['cues']} cued"
        + ("" if res["done"] else f" (set not completed: {res['reason']})")
    ]
    if res["reps"]:
        lines.append("   t (s)  side  drop (deg)  duration (s)  cued")
        for t_ms, side, drop, dur_ms, cued in res["reps"]:
            lines.append(
                f"{t_ms / 1000:8.1f}  {sides.letter(side):<4}  {drop / 1000:10.1f}"
                f"  {dur_ms / 1000:12.2f}  {'yes' if cued else ''}"
            )
        lines.append(
            f"max drop {res['max_drop_mdeg'] / 1000:.1f} deg, "
            f"mean {res['mean_drop_mdeg'] / 1000:.1f} deg"
        )
    if res.get("session"):
        lines.append(f"stored on the device as {res['session']}")
    return "\n".join(lines)


def _exercise(
    args: argparse.Namespace, c: Client, sleep: Callable[[float], None] = time.sleep
) -> int:
    req: dict[str, Any] = {"mode": args.exercise}
    if args.side is not None:
        req["side"] = args.side
    if args.reps is not None:
        req["reps"] = args.reps
    if args.threshold is not None:
        req["threshold_deg"] = args.threshold
    if args.tempo is not None:
        req["tempo_ms"] = round(args.tempo * 1000)
    r = c.request("exercise.start", **req)
    if args.no_wait:
        _out(args, r, f"{r['started']} set started: {r['reps']} reps, {r['side']} side")
        return 0
    if not args.json:
        print(
            f"{r['started']}: {r['reps']} reps, {r['side']} side, cue past "
            f"{r['threshold_deg']} deg; Ctrl-C stops the set",
            file=sys.stderr,
        )
    deadline = time.monotonic() + args.max_s
    try:
        while True:
            st = c.request("exercise.status")
            if not st["running"]:
                if st["results"] is None:
                    print("hipcue: error: the set did not finish", file=sys.stderr)
                    return 1
                _out(args, st["results"], format_exercise(st["results"]))
                return 0
            if time.monotonic() > deadline:
                raise KeyboardInterrupt
            sleep(0.25)
    except KeyboardInterrupt:
        res = c.request("exercise.stop")
        _out(args, res, format_exercise(res))
        return 0


# -- sim ----------------------------------------------------------------------------------
def add_sim(p: argparse.ArgumentParser) -> None:
    from hipcue import sim

    sim.add_arguments(p)


def run_sim(args: argparse.Namespace) -> int:
    from hipcue import sim

    return sim.run(args)


COMMANDS: dict[str, tuple[str, Adder, Runner]] = {
    "ports": ("list MicroPython boards (USB VID:PID)", add_ports, run_ports),
    "info": ("firmware, board and state of the device", _common, _device(_info)),
    "config": ("get, set or reset the device config", add_config, _device(_config)),
    "calibrate": ("stand still: set the neutral posture", _common, _device(_calibrate)),
    "live": ("watch obliquity, tilt, cues and steps live", add_live, _device(_live)),
    "logs": ("sessions: list, pull, start, stop, delete; export", add_logs, run_logs),
    "time": ("sync the device clock", add_time, _device(_time)),
    "test": ("guided tests: sls (single-leg stance)", add_test, _device(_test)),
    "exercise": ("an exercise set: reps counted, drop cued", add_exercise, _device(_exercise)),
    "sim": ("run the virtual device on a pseudo-terminal", add_sim, run_sim),
}
