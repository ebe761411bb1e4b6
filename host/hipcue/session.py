"""A walking session as the reports and `hipcue tune` see it, and the loaders that make one.

A `Session` holds the firmware's per-sample obliquity and motor state, its steps, the
configuration it ran with, its date and the session numbers. The numbers always come from
`metrics.summarise()` (the function replay uses), never from a copy kept elsewhere.

Loaders, tried in the order of `LOADERS` (the first whose `matches` accepts the path wins):

- a replay output folder (`samples.csv`, `steps.csv`, `summary.json`, as `hipcue replay` writes);
- a trace CSV (spec section 2): a raw capture, replayed here through the firmware's own loop;
- a session pulled from the device (`S0001.hcl`): a raw capture is replayed through the
  firmware exactly as the device ran it; a per-step log gives its steps and cues (no
  per-sample curve);
- a session library (`library.sqlite`, as `hipcue logs pull` fills it): every session in it,
  or `library.sqlite#REF` for one (REF: id, name or SHA-256 prefix), for trends over dates.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hipcue import HipcueError
from hipcue.metrics import Step, cue_onsets, summarise
from hipcue.replay import ReplayResult, run_firmware
from hipcue.trace import Trace, read_trace


@dataclass
class LoadOptions:
    """How a raw capture is replayed (ignored by loaders of sessions already replayed)."""

    mount: str | None = None
    sets: tuple[str, ...] = ()
    calibrate: bool = True
    engine: str = "micropython"


@dataclass
class Session:
    name: str
    source: Path
    kind: str  # "replay" (a replay output folder) or "trace" (a raw capture, replayed here)
    start: datetime
    date_from: str  # where `start` came from: "metadata" or "file time"
    t_s: np.ndarray  # per sample, seconds
    obliquity_deg: np.ndarray  # per sample, the firmware's estimate
    cue: np.ndarray  # per sample, 1 while the motor is driven
    steps: list[Step]
    config: dict[str, str]
    summary: dict = field(default_factory=dict)  # metrics.summarise() of this session
    trace: Trace | None = None  # the raw capture, when there is one (needed by `tune`)
    # What the figures rest on (issue #13): calibrated or not, and any cut, torn or gapped
    # log; the report prints both, and a trend says when its sessions differ in them.
    # How a re-run (`hipcue tune`) replays the raw capture as this session was: None, as the
    # caller's options say; for a pulled raw session, the device's choice and calibration.
    replay_calibrate: bool | None = None
    replay_calibration: dict | None = None
    calibrated: bool | None = None  # None: unknown (a replay folder without the flag)
    calibration: str = ""  # how: "calibrated at the start", "the device's calibration", ...
    notes: list[str] = field(default_factory=list)

    @property
    def basis(self) -> str:
        """The kind of figures: per-step log peaks or a per-sample replay, and whether
        calibrated; sessions whose basis differs are not directly comparable."""
        kind = "per-step log" if self.kind == "log" else "replay"
        cal = {True: "calibrated", False: "uncalibrated", None: "calibration unknown"}
        return f"{kind}, {cal[self.calibrated]}"

    @property
    def threshold_deg(self) -> float:
        return float(self.config["threshold_deg"])

    @property
    def cue_index(self) -> np.ndarray:
        return cue_onsets(self.cue)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) else 0.0


@dataclass
class Loader:
    name: str
    matches: Callable[[Path], bool]
    load: Callable[[Path, LoadOptions], Session]


def load_session(path: str | Path, options: LoadOptions | None = None) -> Session:
    """Load one session; raises HipcueError (one line) if no loader takes it or it is bad."""
    p = Path(path)
    if not p.exists():
        raise HipcueError(f"{p}: no such file or folder")
    for loader in LOADERS:
        if loader.matches(p):
            return loader.load(p, options or LoadOptions())
    raise HipcueError(
        f"{p}: not a session (expected a replay output folder with samples.csv, steps.csv and "
        f"summary.json, or a trace CSV)"
    )


def load_sessions(paths: list[str], options: LoadOptions | None = None) -> list[Session]:
    sessions: list[Session] = []
    for p in paths:
        base, _, ref = str(p).partition("#")
        if base.endswith(".sqlite"):
            sessions += load_library(Path(base), ref or None, options or LoadOptions())
        else:
            sessions.append(load_session(p, options))
    _unique_names(sessions)
    return sessions


def load_library(path: Path, ref: str | None, options: LoadOptions) -> list[Session]:
    """Sessions of a session library (all, or the one `ref` names), oldest first."""
    from hipcue.library import Library

    if not path.exists():
        raise HipcueError(f"{path}: no such session library")
    from hipcue.logs import LogError, read_session

    with Library(path, create=False) as lib:
        ids = [lib.resolve(ref)] if ref else [int(r["id"]) for r in lib.sessions()]
        out = []
        other = 0
        for sid in ids:
            name, data = lib.session_bytes(sid)
            if not ref:
                try:
                    head = read_session(data, name).header
                except LogError:
                    head = {}
                if head.get("test") or head.get("exercise"):
                    other += 1  # no walk to plot: the progress view shows these
                    continue
            out.append(session_from_log(data, name, path, options))
    if other:
        print(
            f"hipcue: note: {path}: {other} exercise set and test session(s) left out "
            "(`hipcue report LIBRARY --progress` shows them)",
            file=sys.stderr,
        )
    if not out:
        raise HipcueError(f"{path}: the library holds no walking sessions (pull some first)")
    return sorted(out, key=lambda x: x.start)


def session_from_log(data: bytes, name: str, source: Path, options: LoadOptions) -> Session:
    """A session pulled from the device: replayed when it holds a raw capture, else its
    logged steps and cues (the device's own figures, through metrics.summarise)."""
    import tempfile

    from hipcue.logs import (
        LogError,
        raw_to_trace_csv,
        read_session,
        replay_options,
        session_summary,
    )

    try:
        log = read_session(data, name)
    except LogError as e:
        raise HipcueError(str(e)) from None
    start_unix = int(log.header.get("start_unix") or 0)
    if start_unix > 0:
        start, date_from = datetime.fromtimestamp(start_unix, UTC), "metadata"
    else:
        start, date_from = _file_time(source), "file time"
    stem = name[:-4] if name.endswith(".hcl") else name
    if log.raw:
        opts = replay_options(log)
        with tempfile.TemporaryDirectory(prefix="hipcue-session-") as tmp:
            tp = Path(tmp) / f"{stem}.trace.csv"
            tp.write_text(raw_to_trace_csv(log), encoding="utf-8")
            trace = read_trace(tp)
            res = run_firmware(
                trace,
                mount=options.mount or opts["mount"],
                sets=tuple(opts["sets"]) + tuple(options.sets),
                calibrate=opts["calibrate"] and options.calibrate,
                engine=options.engine,
                calibration=opts["calibration"] if options.calibrate else None,
            )
            sess = session_from_result(res, stem, when=(start, date_from))
        sess.source = source
        sess.replay_calibrate = bool(opts["calibrate"] and options.calibrate)
        sess.replay_calibration = opts["calibration"] if options.calibrate else None
        if options.calibrate and opts["calibration"] and not opts["calibrate"]:
            sess.calibration = "the device's calibration (session header), replayed"
        sess.notes = list(log.notes)
        return sess
    steps = [Step(st.t_s, st.stance, st.drop_deg, st.cued) for st in log.steps]
    if len(steps) < 2:
        raise HipcueError(f"{source}#{name}: fewer than two steps logged, nothing to report")
    cfg = {k: str(v) for k, v in log.header.get("config", {}).items()}
    cfg.setdefault("threshold_deg", "6.0")
    dev_cal = log.header.get("calibration", {})
    calibrated = dev_cal.get("calibrated") == 1 if "calibrated" in dev_cal else None
    # A per-step log has no per-sample curve: the curve is each step's peak, signed as
    # obliquity (right stance: the left side sinks, negative), and the cue marks are the
    # cued steps. Plots of it are labelled as such by the session's name.
    return Session(
        name=stem + " (per-step log: peaks)",
        source=source,
        kind="log",
        start=start,
        date_from=date_from,
        t_s=np.array([st.t_s for st in steps]),
        obliquity_deg=np.array([-st.drop_deg if st.stance == "R" else st.drop_deg for st in steps]),
        cue=np.array([st.cued for st in steps], dtype=np.uint8),
        steps=steps,
        config=cfg,
        summary=session_summary(log),
        calibrated=calibrated,
        calibration=(
            "the device was calibrated"
            if calibrated
            else ("the device was NOT calibrated (mount frame)" if calibrated is False else "")
        ),
        notes=list(log.notes),
    )


def _is_hcl(p: Path) -> bool:
    return p.is_file() and p.suffix == ".hcl"


def load_hcl(p: Path, options: LoadOptions) -> Session:
    return session_from_log(p.read_bytes(), p.name, p, options)


def _unique_names(sessions: list[Session]) -> None:
    seen: dict[str, int] = {}
    for s in sessions:
        k = seen.get(s.name, 0)
        seen[s.name] = k + 1
        if k:
            s.name = f"{s.name}-{k + 1}"


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def parse_start(text: str) -> datetime | None:
    """ISO 8601 date or date-time (`2025-11-03`, `2025-11-03T09:30:00Z`, ...) or None."""
    t = text.strip()
    if not t:
        return None
    try:
        d = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _file_time(p: Path) -> datetime:
    return datetime.fromtimestamp(p.stat().st_mtime, tz=UTC)


def _trace_meta(path: Path) -> dict[str, str]:
    """The `# key: value` lines at the top of a trace, without reading its samples."""
    meta: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8-sig") as f:
            for line in f:
                if not line.startswith("#"):
                    break
                key, sep, val = line[1:].partition(":")
                if sep and key.strip() and " " not in key.strip():
                    meta.setdefault(key.strip().lower(), val.strip())
    except (OSError, UnicodeDecodeError):
        return {}
    return meta


# --------------------------------------------------------------------------------------------
# (a) replay output folders
# --------------------------------------------------------------------------------------------

REPLAY_FILES = ("samples.csv", "steps.csv", "summary.json")


def _is_replay_dir(p: Path) -> bool:
    return p.is_dir() and all((p / f).is_file() for f in REPLAY_FILES)


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            header = rows[0].keys() if rows else []
    except OSError as e:
        raise HipcueError(f"{path}: cannot read: {e.strerror or e}") from None
    missing = [c for c in columns if c not in header] if rows else []
    if missing:
        raise HipcueError(f"{path}:1: missing column(s) {', '.join(missing)}")
    return rows


def _named_trace(folder: Path, meta: dict) -> Path | None:
    """The trace a replay folder's summary.json names, if it is still there (as written, or
    beside the folder's files)."""
    if not meta.get("trace"):
        return None
    named = Path(str(meta["trace"]))
    for cand in (named, folder / named.name):
        if cand.is_file():
            return cand
    return None


def load_replay_dir(p: Path, options: LoadOptions) -> Session:
    try:
        meta = json.loads((p / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise HipcueError(f"{p / 'summary.json'}: not readable JSON: {e}") from None
    rows = _read_csv(p / "samples.csv", ("t_s", "obliquity_deg", "cue"))
    if not rows:
        raise HipcueError(f"{p / 'samples.csv'}: no samples")
    try:
        t = np.array([float(r["t_s"]) for r in rows])
        obl = np.array([float(r["obliquity_deg"]) for r in rows])
        cue = np.array([int(r["cue"]) for r in rows], dtype=np.uint8)
    except (TypeError, ValueError) as e:
        raise HipcueError(f"{p / 'samples.csv'}: bad value: {e}") from None
    steps: list[Step] = []
    for k, r in enumerate(_read_csv(p / "steps.csv", ("t_s", "stance", "drop_deg", "cued"))):
        try:
            steps.append(Step(float(r["t_s"]), r["stance"], float(r["drop_deg"]), int(r["cued"])))
        except (TypeError, ValueError) as e:
            raise HipcueError(f"{p / 'steps.csv'}:{k + 2}: bad value: {e}") from None
    config = {str(k): str(v) for k, v in dict(meta.get("config") or {}).items()}
    if "threshold_deg" not in config:
        raise HipcueError(f"{p / 'summary.json'}: no config.threshold_deg")
    # The session's date: summary.json "start", else the trace's `# start:`, else file time.
    start, date_from = parse_start(str(meta.get("start", ""))), "metadata"
    trace_path = _named_trace(p, meta)
    if start is None and trace_path is not None:
        start = parse_start(_trace_meta(trace_path).get("start", ""))
    if start is None:
        start, date_from = _file_time(p / "samples.csv"), "file time"
    session = Session(
        name=p.name,
        source=p,
        kind="replay",
        start=start,
        date_from=date_from,
        t_s=t,
        obliquity_deg=obl,
        cue=cue,
        steps=steps,
        config=config,
    )
    if isinstance(meta.get("calibrated"), bool):
        session.calibrated = meta["calibrated"]
        session.calibration = (
            "calibrated (replay summary.json)"
            if meta["calibrated"]
            else "NOT calibrated (replay summary.json): the mount offset is in the figures"
        )
    session.summary = summarise(steps, [float(t[i]) for i in session.cue_index], session.duration_s)
    return session


# --------------------------------------------------------------------------------------------
# (b) trace CSVs (raw captures), replayed through the firmware
# --------------------------------------------------------------------------------------------


def _is_trace(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".csv"


_TRACE_SUFFIX = re.compile(r"(\.trace)?\.csv$", re.IGNORECASE)


def session_from_result(
    res: ReplayResult, name: str | None = None, when: tuple[datetime, str] | None = None
) -> Session:
    """A Session from a firmware run (used for trace files and by `hipcue tune`); when: its
    (start, date_from), else from the trace's `# start:` or its file time."""
    trace = res.trace
    if when is not None:
        start, date_from = when
    else:
        found = parse_start(trace.meta.get("start", ""))
        start, date_from = (found, "metadata") if found else (_file_time(trace.path), "file time")
    return Session(
        name=name or _TRACE_SUFFIX.sub("", trace.path.name),
        source=trace.path,
        kind="trace",
        start=start,
        date_from=date_from,
        t_s=trace.t_s,
        obliquity_deg=res.obl_mdeg / 1000.0,
        cue=res.cue,
        steps=list(res.steps),
        config=dict(res.config),
        summary=dict(res.summary),  # replay's own metrics.summarise()
        trace=trace,
        calibrated=bool(res.firmware.get("calibrated")),
        calibration=(
            "calibrated (still start, or a recorded calibration)"
            if res.firmware.get("calibrated")
            else "NOT calibrated: the mount's frame, so its mount offset is in the figures"
        ),
    )


def load_trace(p: Path, options: LoadOptions) -> Session:
    trace = read_trace(p)
    res = run_firmware(
        trace,
        mount=options.mount,
        sets=options.sets,
        calibrate=options.calibrate,
        engine=options.engine,
    )
    return session_from_result(res)


LOADERS: list[Loader] = [
    Loader("replay output folder", _is_replay_dir, load_replay_dir),
    Loader("pulled device session", _is_hcl, load_hcl),
    Loader("trace CSV", _is_trace, load_trace),
]


def raw_trace(session: Session) -> Trace:
    """The raw capture behind a session (a trace, or the trace a replay folder names)."""
    if session.trace is not None:
        return session.trace
    if session.kind == "replay":
        try:
            meta = json.loads((session.source / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        tp = _named_trace(session.source, meta)
        if tp is not None:
            return read_trace(tp)
    raise HipcueError(
        f"{session.source}: no raw capture to re-run (give the trace CSV; a replay output "
        f"folder only holds the firmware's results)"
    )
