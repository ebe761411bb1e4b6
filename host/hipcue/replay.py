"""`hipcue replay`: push a trace through the firmware's own loop (spec section 3).

The trace is read and validated here, quantised to the configured IMU's raw counts exactly
as the driver would deliver them, and handed to `sim/run.py` running under the
MicroPython unix port (default) or CPython. Outputs are written only after the run
succeeded, each file replaced atomically, so a failed replay leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipcue import HipcueError
from hipcue.metrics import Step, summarise
from hipcue.trace import Trace, TraceError, read_trace
from shared import sides
from shared.config import EXERCISE_KEYS, IMUS, POWER_KEYS, SCHEMA, Config, ConfigError
from sim import paths
from sim.job import write_job, write_phys

ENGINES = (*paths.ENGINES, "rp2040")  # rp2040: the firmware image on an emulated chip
_MOUNT_WORD = re.compile(r"\b(forward|left|up)\s*=\s*([+-]?[xyz])\b", re.IGNORECASE)


def mount_from_meta(meta: dict[str, str]) -> str | None:
    text = meta.get("mount")
    if not text:
        return None
    words = _MOUNT_WORD.findall(text)
    if not words:
        return text
    return " ".join(f"{k.lower()}={v.lower()}" for k, v in words)


@dataclass
class RatePlan:
    trace_hz: float
    period_us: int
    firmware_hz: int
    gaps: int  # intervals longer than 1.5 periods (the firmware counts missed samples)
    resampled: bool = False

    def describe(self) -> str:
        return (
            f"trace at {self.trace_hz:.3f} Hz; firmware runs at {self.firmware_hz} Hz "
            f"(period {self.period_us} us) on the samples as they come, not resampled; "
            f"{self.gaps} gap(s) longer than 1.5 periods counted as missed samples"
        )


def header_rate(trace: Trace) -> float | None:
    """The trace's `# rate_hz:` metadata in Hz, or None when absent; a bad value is an error."""
    text = trace.meta.get("rate_hz")
    if text is None:
        return None
    try:
        hz = float(text.split()[0]) if text.split() else float("nan")
    except ValueError:
        hz = float("nan")
    if not (hz > 0.0 and np.isfinite(hz)):
        raise TraceError(f"{trace.path}: '# rate_hz: {text}' is not a sample rate in Hz")
    return hz


def plan_rate(trace: Trace, cfg: Config, rate_was_set: bool) -> RatePlan:
    name = str(trace.path)
    if trace.n < 2:
        raise TraceError(f"{name}:{trace.first_data_line}: only one sample, no sample rate")
    dt = np.diff(trace.t_s)
    med = float(np.median(dt))
    trace_hz = 1.0 / med
    header_hz = header_rate(trace)
    if header_hz is not None:
        # the header wins over the median interval (timestamps may be rounded, e.g. 104 Hz
        # written to 1 ms), unless the two disagree grossly (then the file is inconsistent)
        if abs(header_hz - trace_hz) > 0.25 * header_hz:
            raise TraceError(
                f"{name}: '# rate_hz: {trace.meta['rate_hz']}' but the samples are "
                f"{trace_hz:.3f} Hz apart (median interval)"
            )
        trace_hz = header_hz
        med = 1.0 / header_hz
    period_us = int(round(med * 1e6))
    firmware_hz = int(round(trace_hz))
    lo, hi = SCHEMA["rate_hz"][2], SCHEMA["rate_hz"][3]
    if not lo <= firmware_hz <= hi:
        raise TraceError(
            f"{name}: sample rate {trace_hz:.3f} Hz is outside the firmware's {lo}..{hi} Hz"
        )
    if rate_was_set and abs(cfg["rate_hz"] - trace_hz) > 0.02 * trace_hz:
        raise TraceError(
            f"{name}: trace is at {trace_hz:.3f} Hz but rate_hz={cfg['rate_hz']} was set; "
            f"the firmware samples at a fixed rate and does not resample"
        )
    cfg.set("rate_hz", str(firmware_hz))
    gaps = int(np.sum(dt > 1.5 * med))
    return RatePlan(trace_hz, period_us, firmware_hz, gaps)


def quantise(trace: Trace, imu: str) -> tuple[np.ndarray, int]:
    """Trace values -> raw int16 counts of the configured IMU, saturating like the sensor."""
    acc_ug, gyro_udps = IMUS[imu]
    raw = np.empty((trace.n, 6))
    raw[:, 0:3] = trace.acc_g * 1e6 / acc_ug
    raw[:, 3:6] = trace.gyro_dps * 1e6 / gyro_udps
    raw = np.rint(raw)
    saturated = int(np.sum(np.any((raw > 32767) | (raw < -32768), axis=1)))
    return np.clip(raw, -32768, 32767).astype("<i2"), saturated


def job_arrays(trace: Trace, imu: str, period_us: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(raw counts (n, 6) int16, us since the previous sample (n,) int32, saturated samples):
    what a firmware job feeds the loop (the first interval is one period)."""
    counts, saturated = quantise(trace, imu)
    dt_us = np.zeros(trace.n, dtype="<i4")
    dt_us[1:] = np.rint(np.diff(trace.t_s) * 1e6).clip(0, 2**31 - 1)
    dt_us[0] = period_us
    return counts, dt_us, saturated


@dataclass
class ReplayResult:
    trace: Trace
    config: dict[str, str]
    rate: RatePlan
    engine: str
    obl_mdeg: np.ndarray
    tilt_mdeg: np.ndarray
    cue: np.ndarray
    grid_n: np.ndarray
    steps: list[Step]
    step_index: list[int]  # trace sample index of each step's initial contact
    cue_index: list[int]  # trace sample index where each cue started
    firmware: dict
    saturated_samples: int
    summary: dict = field(default_factory=dict)
    # exercise mode (config mode not walk): reps as trace indices (start, end, peak), stance,
    # drop mdeg, cued
    reps: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)


def run_firmware(
    trace: Trace,
    mount: str | None = None,
    sets: list[str] | tuple[str, ...] = (),
    calibrate: bool = True,
    engine: str = "micropython",
    calibration: dict | None = None,
) -> ReplayResult:
    """Run the firmware loop over a trace; raises HipcueError/TraceError with one line."""
    if engine not in ENGINES:
        raise HipcueError(f"unknown engine {engine!r} (use {' or '.join(ENGINES)})")
    cfg = Config()
    rate_was_set = False
    for item in sets:
        if "=" not in item:
            raise HipcueError(f"--set {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            cfg.set(key.strip(), value.strip())
        except ConfigError as e:
            raise HipcueError(f"--set: {e}") from None
        rate_was_set = rate_was_set or key.strip() == "rate_hz"
    mount_text = mount or mount_from_meta(trace.meta)
    if mount_text:
        try:
            cfg.set("mount", mount_text)
        except ConfigError as e:
            where = "--mount" if mount else f"{trace.path}: '# mount:' line"
            raise HipcueError(f"{where}: {e}") from None
    try:
        cfg.check()  # the cross-key rules, as the device checks them (shared/config.py)
    except ConfigError as e:
        raise HipcueError(f"--set: {e}") from None
    rate = plan_rate(trace, cfg, rate_was_set)
    counts, dt_us, saturated = job_arrays(trace, cfg["imu"], rate.period_us)
    with tempfile.TemporaryDirectory(prefix="hipcue-replay-") as job:
        jobp = Path(job)
        write_job(
            job,
            counts,
            dt_us,
            rate.period_us,
            calibrate=calibrate,
            config=cfg.as_dict(),
            calibration=calibration if not calibrate else None,
        )
        if engine == "rp2040":
            # the emulated LSM6DSOX quantises the physical values itself, at its full scale
            write_phys(job, dt_us, trace.acc_g, trace.gyro_dps)
        _run_engine(engine, job, trace.n)
        obl = np.frombuffer((jobp / "obl.bin").read_bytes(), dtype="<i4").copy()
        tilt = np.frombuffer((jobp / "tilt.bin").read_bytes(), dtype="<i4").copy()
        cue = np.frombuffer((jobp / "cue.bin").read_bytes(), dtype=np.uint8).copy()
        grid = np.frombuffer((jobp / "grid.bin").read_bytes(), dtype="<i4").copy()
        firmware = json.loads((jobp / "result.json").read_text())
        step_rows = [
            [int(v) for v in line.split(",")]
            for line in (jobp / "steps.csv").read_text().splitlines()
            if line.strip()
        ]
        rep_rows = []
        if (jobp / "reps.csv").exists():
            rep_rows = [
                [int(v) for v in line.split(",")]
                for line in (jobp / "reps.csv").read_text().splitlines()
                if line.strip()
            ]
    if calibrate and firmware.get("calibration_error"):
        raise TraceError(
            f"{trace.path}: calibration failed: {firmware['calibration_error']} "
            f"(mount {cfg['mount']!r}; set --mount, or use --no-calibrate)"
        )
    if calibrate and firmware["calibration_failed"]:
        end = min(trace.n - 1, int(np.searchsorted(trace.t_s, trace.t_s[0] + 10.0)))
        raise TraceError(
            f"{trace.path}:{trace.line_of(end)}: no still period of at least 1 s in the first "
            f"10 s to calibrate from (stand still at the start, or use --no-calibrate)"
        )
    if calibrate and not firmware["calibrated"]:
        raise TraceError(
            f"{trace.path}:{trace.line_of(trace.n - 1)}: the trace ended before a still "
            f"period of at least 1 s was found to calibrate from (or use --no-calibrate)"
        )
    steps: list[Step] = []
    step_index: list[int] = []
    for ic_n, _end_n, stance, drop_mdeg, cued in step_rows:
        i = int(np.searchsorted(grid, ic_n))
        i = min(i, trace.n - 1)
        step_index.append(i)
        steps.append(Step(float(trace.t_s[i]), sides.letter(stance), drop_mdeg / 1000.0, cued))
    on = np.flatnonzero(np.diff(np.concatenate([[0], cue.astype(np.int8)])) > 0)
    res = ReplayResult(
        trace=trace,
        config=cfg.as_dict(),
        rate=rate,
        engine=engine,
        obl_mdeg=obl,
        tilt_mdeg=tilt,
        cue=cue,
        grid_n=grid,
        steps=steps,
        step_index=step_index,
        cue_index=[int(i) for i in on],
        firmware=firmware,
        saturated_samples=saturated,
    )
    for start_n, end_n, peak_n, stance, drop_mdeg, cued in rep_rows:
        idx = [min(int(np.searchsorted(grid, v)), trace.n - 1) for v in (start_n, end_n, peak_n)]
        res.reps.append((idx[0], idx[1], idx[2], stance, drop_mdeg, cued))
    duration = float(trace.t_s[-1] - trace.t_s[0])
    res.summary = summarise(steps, [float(trace.t_s[i]) for i in on], duration)
    return res


def _run_engine(engine: str, job: str, n: int) -> None:
    if engine == "rp2040":
        from sim.rp2040 import EmulatorError
        from sim.rp2040.replay import run_job

        try:
            run_job(job)
        except (EmulatorError, OSError) as e:
            raise HipcueError(f"firmware (rp2040, emulated) failed: {e}") from None
        return
    heap_mb = max(16, (n * 80) // (1 << 20) + 8)
    try:
        proc = paths.run(engine, ["-m", "sim.run", job], heap_mb=heap_mb)
    except paths.EngineError as e:
        raise HipcueError(str(e)) from None
    if proc.returncode != 0:
        msg = (proc.stdout + proc.stderr).strip().splitlines()
        raise HipcueError(f"firmware ({engine}) failed: {msg[-1] if msg else proc.returncode}")


def write_outputs(res: ReplayResult, out_dir: str | Path) -> dict:
    """Write samples.csv, steps.csv and summary.json; each replaced atomically."""
    out = Path(out_dir)
    trace = res.trace
    lines = ["t_s,obliquity_deg,tilt_deg,cue"]
    obl = res.obl_mdeg
    tilt = res.tilt_mdeg
    for i in range(trace.n):
        lines.append(f"{trace.t_text[i]},{_deg(obl[i])},{_deg(tilt[i])},{int(res.cue[i])}")
    samples = "\n".join(lines) + "\n"
    srows = ["t_s,stance,drop_deg,cued"]
    for i, s in zip(res.step_index, res.steps, strict=True):
        srows.append(f"{trace.t_text[i]},{s.stance},{_deg(round(s.drop_deg * 1000))},{s.cued}")
    steps = "\n".join(srows) + "\n"
    summary = dict(res.summary)
    config = dict(res.config)
    for key in EXERCISE_KEYS + POWER_KEYS:  # absent at their defaults: summaries as they were
        if config[key] == Config().text(key):
            del config[key]
    summary.update(
        {
            "trace": str(trace.path),
            "samples": trace.n,
            "engine": res.engine,
            "config": config,
            "rate": {
                "trace_hz": round(res.rate.trace_hz, 3),
                "firmware_hz": res.rate.firmware_hz,
                "period_us": res.rate.period_us,
                "resampled": res.rate.resampled,
                "gaps": res.rate.gaps,
                "note": res.rate.describe(),
            },
            "calibrated": bool(res.firmware["calibrated"]),
            "missed_samples": res.firmware["missed"],
            "late_samples": res.firmware["late"],
            "saturated_samples": res.saturated_samples,
            "steps_lost": res.firmware["steps_lost"],
            # cues the feedback rules withheld, by reason (gating, schedules, probe steps)
            "feedback": dict(sorted(res.firmware.get("feedback", {}).items())),
        }
    )
    files = [("samples.csv", samples), ("steps.csv", steps)]
    if "exercise" in res.firmware:
        reps_csv, summary["exercise"], summary["reps"] = _exercise_outputs(res)
        files.append(("reps.csv", reps_csv))
    text = json.dumps(summary, indent=2) + "\n"
    files.append(("summary.json", text))
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, body in files:
            tmp = out / f".{name}.tmp"
            tmp.write_text(body)
            os.replace(tmp, out / name)
    except OSError as e:
        raise HipcueError(f"{out}: cannot write outputs: {e.strerror or e}") from None
    return summary


def _exercise_outputs(res: ReplayResult) -> tuple[str, dict, list[dict]]:
    """reps.csv (t_s, side, drop_deg, duration_s, cued), the set's figures and the reps for
    summary.json. side is the stance side; the lying exercises' drop is the roll back."""
    trace = res.trace
    t = trace.t_s
    rows = ["t_s,side,drop_deg,duration_s,cued"]
    reps = []
    for i0, i1, ip, stance, drop, cued in res.reps:
        dur = f"{t[i1] - t[i0]:.3f}"
        rows.append(f"{trace.t_text[i0]},{sides.letter(stance)},{_deg(drop)},{dur},{cued}")
        reps.append(
            {
                "t_s": round(float(t[i0]), 3),
                "side": sides.letter(stance),
                "drop_deg": drop / 1000.0,
                "duration_s": float(dur),
                "peak_s": round(float(t[ip]), 3),
                "cued": cued,
            }
        )
    fw = res.firmware["exercise"]
    drops = [r["drop_deg"] for r in reps]
    done = fw["set_done_index"]
    info = {
        "mode": fw["mode"],
        "side": res.config["ex_side"],
        "reps_target": int(res.config["ex_reps"]),
        "reps": fw["reps"],
        "reps_lost": fw["reps_lost"],
        "cues": fw["cues"],
        "set_done_s": (
            round(float(t[min(int(np.searchsorted(res.grid_n, done)), trace.n - 1)]), 3)
            if done >= 0
            else None
        ),
        "mean_drop_deg": round(float(np.mean(drops)), 3) if drops else None,
        "max_drop_deg": max(drops) if drops else None,
    }
    return "\n".join(rows) + "\n", info, reps


def _deg(mdeg: int | np.integer) -> str:
    v = int(mdeg)
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 1000}.{v % 1000:03d}"


def replay(
    trace_path: str | Path,
    out_dir: str | Path,
    mount: str | None = None,
    sets: list[str] | tuple[str, ...] = (),
    calibrate: bool = True,
    engine: str = "micropython",
) -> dict:
    if str(trace_path).lower().endswith(".hcl"):
        return _replay_session(trace_path, out_dir, mount, sets, calibrate, engine)
    trace = read_trace(trace_path)
    res = run_firmware(trace, mount=mount, sets=sets, calibrate=calibrate, engine=engine)
    return write_outputs(res, out_dir)


def _replay_session(
    path: str | Path,
    out_dir: str | Path,
    mount: str | None,
    sets: list[str] | tuple[str, ...],
    calibrate: bool,
    engine: str,
) -> dict:
    """A pulled raw session (.hcl): its IMU samples as a trace, run with the device's config
    (its header), mount and calibration choice; --mount/--set/--no-calibrate override them.
    `summary["session"]["exact"]`: the replay reproduces the device's own run."""
    from hipcue import logs

    s = logs.read_session_file(path)
    opts = logs.replay_options(s)
    text = logs.raw_to_trace_csv(s)
    with tempfile.TemporaryDirectory(prefix="hipcue-hcl-") as tmp:
        trace_file = Path(tmp) / (Path(path).stem + ".trace.csv")
        trace_file.write_text(text)
        trace = read_trace(trace_file)
        res = run_firmware(
            trace,
            mount=mount or opts["mount"],
            sets=[*opts["sets"], *sets],
            calibrate=calibrate and opts["calibrate"],
            engine=engine,
            calibration=opts["calibration"] if calibrate else None,
        )
    exact = bool(opts["exact"]) and not mount and not sets and calibrate and s.error is None
    if exact:
        note = "exact: the raw capture starts at the device's first sample, same config"
    elif not opts["exact"] and calibrate and opts["calibration"]:
        note = (
            "not exact: the capture started after the device's first sample; replayed in the "
            "device's calibration from the session header (its filter state is not in the log)"
        )
    elif not opts["exact"]:
        note = (
            "not exact: the capture started after the device's first sample and the header "
            "holds no calibration (or --no-calibrate): replayed UNCALIBRATED, in the mount's "
            "frame (the sensor's mount offset is in the figures)"
        )
    else:
        note = "not exact: overridden by --mount/--set/--no-calibrate, or the log is cut off"
    summary = write_outputs(res, out_dir)
    summary["trace"] = str(path)
    summary["session"] = {
        "name": s.name,
        "sha256": s.sha256,
        "raw_samples": s.raw_samples,
        "device_steps": len(s.steps),
        "device_cues": len(s.cues_s),
        "exact": exact,
        "note": note,
    }
    out = Path(out_dir) / "summary.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
