"""Session logs on the host: read a pulled `.hcl` file, export it, turn a raw capture into a
trace for `hipcue replay`, and pull sessions from a device with resume and a hash check.

The format is shared/logformat.py (the device writes it with the same module). The transport
is not here: `pull()` takes any object with `list()` and `read(name, offset, n)` (the serial
link's `logs` commands provide one), so it is tested without a device.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hipcue import HipcueError
from shared import logformat as lf
from shared import sides
from shared.config import IMUS
from shared.cue import COUNTER_NAMES

if TYPE_CHECKING:
    from hipcue.library import Library


class LogError(HipcueError):
    pass


@dataclass
class LogStep:
    t_s: float  # initial contact, seconds from the session start
    stance: str  # "L" or "R"
    drop_deg: float
    cued: int
    probe: int = 0  # 1: in a feedback-off probe block (R_PROBE)
    gated: int = 0  # turn (4) / tilt (64) gate bits during the step (R_GATED); 0: level straight


@dataclass
class FeedbackCounts:
    """An R_FEEDBACK record: counter growth since the previous one (COUNTER_NAMES keys)."""

    t_s: float
    counts: dict[str, int]


@dataclass
class Summary:
    t_s: float
    steps: int
    cues: int
    late: int
    missed: int
    dropped: int


@dataclass
class Session:
    name: str
    size: int
    sha256: str
    header: dict[str, Any]
    end: dict[str, Any] | None  # None: the session was cut off (power loss) or is running
    steps: list[LogStep]
    cues_s: list[float]
    faults: list[tuple[float, int]]
    summaries: list[Summary]
    raw: list[tuple[int, bytes]]  # (first grid index, 12-byte samples)
    error: str | None  # why the tail was dropped (torn frame, CRC), None when intact
    good_bytes: int
    notes: list[str] = field(default_factory=list)
    feedback: list[FeedbackCounts] = field(default_factory=list)
    # shared/logformat.parse gaps: ["blocks", at byte, count, t_cs] blocks missing (a failed
    # write), ["skipped", at byte, bytes, t_cs] corrupt bytes skipped to the next intact frame
    gaps: list[list[Any]] = field(default_factory=list)

    @property
    def feedback_totals(self) -> dict[str, int]:
        """The feedback counters over the whole session (all zero: nothing suppressed)."""
        tot = dict.fromkeys(COUNTER_NAMES, 0)
        for f in self.feedback:
            for k, v in f.counts.items():
                tot[k] = tot.get(k, 0) + v
        return tot

    @property
    def probe_steps(self) -> int:
        return sum(st.probe for st in self.steps)

    @property
    def complete(self) -> bool:
        return self.end is not None and self.error is None and not self.gaps

    @property
    def period_us(self) -> int:
        return int(self.header["period_us"])

    @property
    def raw_samples(self) -> int:
        return sum(len(b) // lf.RAW_SAMPLE_BYTES for _n0, b in self.raw)

    @property
    def duration_s(self) -> float:
        if self.end is not None:
            return self.end["t_cs"] / 100.0
        last = [s.t_s for s in self.steps[-1:]] + self.cues_s[-1:]
        last += [s.t_s for s in self.summaries[-1:]]
        return max(last, default=0.0)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_session(data: bytes, name: str = "") -> Session:
    """Parse a session file; a torn or corrupt tail is dropped and reported in `error`."""
    p = lf.parse(data)
    if p["header"] is None:
        raise LogError(f"{name or 'session'}: {p['error'] or 'no header'}")
    probe = p["probe"]
    gated = p.get("gated", [])
    steps = [
        LogStep(
            t / 100.0,
            sides.letter(stance),
            ds / 10.0,
            cued,
            probe[i] if i < len(probe) else 0,
            gated[i] if i < len(gated) else 0,
        )
        for i, (t, stance, ds, cued) in enumerate(p["steps"])
    ]
    feedback = [
        FeedbackCounts(
            t / 100.0,
            {(COUNTER_NAMES[j] if j < len(COUNTER_NAMES) else f"c{j}"): v for j, v in enumerate(c)},
        )
        for t, c in p["feedback"]
    ]
    sums = [Summary(t / 100.0, *rest) for t, *rest in p["summaries"]]
    s = Session(
        name=name,
        size=len(data),
        sha256=sha256_hex(data),
        header=p["header"],
        end=p["end"],
        steps=steps,
        cues_s=[t / 100.0 for t in p["cues"]],
        faults=[(t / 100.0, bits) for t, bits in p["faults"]],
        summaries=sums,
        raw=p["raw"],
        error=p["error"],
        good_bytes=p["good_bytes"],
        feedback=feedback,
        gaps=[list(g) for g in p["gaps"]],
    )
    for kind, at, k, t_cs in s.gaps:
        if kind == "blocks":
            s.notes.append(
                f"{k} block(s) missing after {t_cs / 100:.1f} s (a failed flash write): "
                "their steps and cues are lost, the rest keeps its times"
            )
        else:
            s.notes.append(f"{k} corrupt bytes skipped at byte {at} (after {t_cs / 100:.1f} s)")
    if s.error:
        s.notes.append(f"tail dropped after byte {s.good_bytes} of {s.size}: {s.error}")
    if s.end is None:
        s.notes.append("no end record: the session was cut off (power loss) or still running")
    return s


def read_session_file(path: str | Path) -> Session:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise LogError(f"{path}: cannot read: {e.strerror or e}") from None
    return read_session(data, p.name)


def session_summary(s: Session) -> dict[str, Any]:
    """The session's figures (steps, cues, median drop per side, ...) from its own records,
    through hipcue.metrics.summarise (the one place that computes them)."""
    from hipcue.metrics import Step, summarise

    steps = [Step(st.t_s, st.stance, st.drop_deg, st.cued) for st in s.steps]
    return summarise(steps, s.cues_s, s.duration_s)


# -- export ------------------------------------------------------------------------------


def session_dict(s: Session) -> dict[str, Any]:
    return {
        "name": s.name,
        "sha256": s.sha256,
        "size": s.size,
        "complete": s.complete,
        "gaps": s.gaps,
        "notes": s.notes,
        "header": s.header,
        "end": s.end,
        "duration_s": round(s.duration_s, 2),
        "steps": [[st.t_s, st.stance, st.drop_deg, st.cued] for st in s.steps],
        "cues_s": s.cues_s,
        "faults": [[t, bits] for t, bits in s.faults],
        "summaries": [[x.t_s, x.steps, x.cues, x.late, x.missed, x.dropped] for x in s.summaries],
        "raw_samples": s.raw_samples,
        "feedback": [[f.t_s, f.counts] for f in s.feedback],
        "feedback_totals": s.feedback_totals,
        "probe_steps": [i for i, st in enumerate(s.steps) if st.probe],
        "gated_steps": [[i, st.gated] for i, st in enumerate(s.steps) if st.gated],
    }


def export_json(s: Session) -> str:
    return json.dumps(session_dict(s), indent=1) + "\n"


def export_csv(s: Session) -> str:
    """One row per record, in time order: t_s,kind,stance,drop_deg,cued,value (a step in a
    feedback-off probe block has value "probe"; a feedback row lists its non-zero counters)."""
    rows: list[tuple[float, int, list[str]]] = []
    for st in s.steps:
        pv = "probe" if st.probe else ""
        rows.append((st.t_s, 0, ["step", st.stance, f"{st.drop_deg:.1f}", str(st.cued), pv]))
    for t in s.cues_s:
        rows.append((t, 1, ["cue", "", "", "", ""]))
    for t, bits in s.faults:
        rows.append((t, 2, ["fault", "", "", "", str(bits)]))
    for x in s.summaries:
        v = f"steps={x.steps};cues={x.cues};late={x.late};missed={x.missed};dropped={x.dropped}"
        rows.append((x.t_s, 3, ["summary", "", "", "", v]))
    for f in s.feedback:
        v = ";".join(f"{k}={c}" for k, c in f.counts.items() if c)
        rows.append((f.t_s, 4, ["feedback", "", "", "", v]))
    rows.sort(key=lambda r: (r[0], r[1]))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["t_s", "kind", "stance", "drop_deg", "cued", "value"])
    for t, _k, rest in rows:
        w.writerow([f"{t:.2f}", *rest])
    return out.getvalue()


# -- raw capture -> trace CSV v1 ---------------------------------------------------------


def replay_options(s: Session) -> dict[str, Any]:
    """What `hipcue replay` needs besides the trace: the device's config as --set items,
    its mount, and whether to calibrate (a raw session captured from the app's first sample
    calibrates exactly as the device did; one started later is replayed without)."""
    cfg = dict(s.header.get("config", {}))
    mount = cfg.pop("mount", None)
    sets = [f"{k}={v}" for k, v in sorted(cfg.items())]
    from_start = int(s.header.get("start_n", 0)) == 0 and bool(s.raw) and s.raw[0][0] == 0
    cal = s.header.get("calibration", {})
    recorded = None
    if not from_start and cal.get("calibrated") == 1:
        # a capture started after the device had calibrated: replay in its calibration
        keys = ("frame_q14", "gyro_frame", "bias_q28")
        if all(isinstance(cal.get(k), list) for k in keys):
            recorded = {k: [int(v) for v in cal[k]] for k in keys}
    return {
        "mount": mount,
        "sets": sets,
        "calibrate": bool(from_start and cal.get("calibrate", 1)),
        "calibration": recorded,
        "exact": from_start,
    }


def raw_to_trace_csv(s: Session) -> str:
    """A raw capture as trace CSV v1 (shared/spec/trace-and-replay.md section 2).

    t_s is each sample's place on the firmware's time grid (index x period), so the replay
    sees the same sample period and the same missed samples; the values are the raw counts
    scaled by the configured IMU's sensitivity, which `hipcue replay` quantises back to the
    same counts.
    """
    if not s.raw:
        raise LogError(f"{s.name}: not a raw capture session (no IMU samples)")
    cfg = s.header.get("config", {})
    imu = str(cfg.get("imu", "lsm6dsox"))
    acc_ug, gyro_udps = IMUS[imu]
    period = s.period_us
    opts = replay_options(s)
    out = io.StringIO()
    out.write(f"# source: hipcue session {s.name} ({s.header.get('device', '')}, ")
    out.write(f"firmware {s.header.get('fw', '')}, sha256 {s.sha256[:16]})\n")
    out.write(f"# rate_hz: {cfg.get('rate_hz', '')}\n")
    if opts["mount"]:
        out.write(f"# mount: {opts['mount']}\n")
    out.write(f"# imu: {imu}\n")
    out.write(f"# calibrate: {'yes' if opts['calibrate'] else 'no'}\n")
    out.write("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n")

    last = -1
    for n0, block in s.raw:
        k = len(block) // lf.RAW_SAMPLE_BYTES
        vals = struct.unpack(f"<{6 * k}h", block)
        for i in range(k):
            n = n0 + i
            if n <= last:
                continue  # never happens in a well-formed log; keep time increasing
            last = n
            us = n * period
            v = vals[6 * i : 6 * i + 6]
            out.write(f"{us // 1000000}.{us % 1000000:06d}")
            for c in range(3):
                out.write("," + repr(v[c] * acc_ug / 1e6))
            for c in range(3, 6):
                out.write("," + repr(v[c] * gyro_udps / 1e6))
            out.write("\n")
    return out.getvalue()


# -- pulling from a device ---------------------------------------------------------------


@dataclass
class RemoteFile:
    name: str  # e.g. S0001.hcl
    size: int
    sha256: str  # hex, computed on the device over the whole file
    active: bool = False  # the session being written: not pulled


class DeviceFiles(Protocol):
    def list(self) -> Sequence[RemoteFile]: ...

    def read(self, name: str, offset: int, n: int) -> bytes: ...


@dataclass
class PullReport:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # in the library: not downloaded
    skipped_active: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # continued from a partial download
    bytes_read: int = 0


def pull(
    dev: DeviceFiles,
    library: Library,
    device_id: str,
    partial_dir: str | Path,
    chunk: int = 4096,
    progress: Callable[[str, int, int], None] | None = None,
) -> PullReport:
    """Download the sessions the library does not have, verify each against the device's
    whole-file SHA-256, and add them. A download cut off (cable pulled: any exception from
    `read`) leaves a `.part` file; the next pull continues from its end. Raises LogError on a
    hash mismatch (the partial file is discarded, so the next pull starts that file afresh)."""
    rep = PullReport()
    pdir = Path(partial_dir) / _safe(device_id)
    for rf in dev.list():
        if rf.active:
            rep.skipped_active.append(rf.name)
            continue
        if library.has_sha256(rf.sha256):
            rep.already.append(rf.name)
            continue
        pdir.mkdir(parents=True, exist_ok=True)
        part = pdir / f"{_safe(rf.name)}.{rf.sha256[:16]}.part"
        have = part.stat().st_size if part.exists() else 0
        if have > rf.size:
            part.unlink()
            have = 0
        if have:
            rep.resumed.append(rf.name)
        with open(part, "ab") as f:
            while have < rf.size:
                data = dev.read(rf.name, have, min(chunk, rf.size - have))
                if not data:
                    raise LogError(f"{rf.name}: the device sent no data at byte {have}")
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                have += len(data)
                rep.bytes_read += len(data)
                if progress:
                    progress(rf.name, have, rf.size)
        data = part.read_bytes()
        got = sha256_hex(data)
        if got != rf.sha256 or len(data) != rf.size:
            part.unlink()
            raise LogError(
                f"{rf.name}: hash mismatch after download (device {rf.sha256[:16]}, "
                f"got {got[:16]}, {len(data)} of {rf.size} bytes); pull again"
            )
        library.add_session(data, device_id, rf.name)
        part.unlink()
        rep.added.append(rf.name)
    return rep


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "_"
