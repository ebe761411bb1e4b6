"""`hipcue replay --engine rp2040`: the replay job run on the emulated chip.

The job folder is the one host/hipcue/replay.py writes for every engine (job.json, counts.bin,
dt.bin) plus trace.bin: float64 t_s, ax ay az (g), gx gy gz (dps) per sample, t_s being the
sum of dt.bin (so data-ready edges are exactly dt apart). The emulated LSM6DSOX quantises
those values itself at its configured full scale, saturating as the sensor does. The chip
boots the hipcue image in safe boot (button held), gets sim/rp2040/chiprun.py over the raw
REPL, and streams its per-sample outputs back over the USB CDC; this writes them into the
job folder in sim/run.py's format (obl.bin, tilt.bin, cue.bin, grid.bin, steps.csv,
result.json), and the chip's timestamped observations into chip.json.
"""

from __future__ import annotations

import json
import struct
from array import array
from pathlib import Path
from typing import Any

from sim.rp2040 import HERE, Chip, EmulatorError, Serial, ensure_firmware

RUNNER = HERE / "chiprun.py"


def chip_code(job: dict[str, Any], batch: int = 1) -> str:
    keys = ("config", "calibrate", "period_us", "n", "calibration")
    spec: dict[str, Any] = {k: job[k] for k in keys if k in job}
    spec["batch"] = batch
    return "JOB = %r\n" % (spec,) + RUNNER.read_text()


def fifo_batch(job: dict[str, Any], dt: Any) -> int:
    """The FIFO batch the chip replays with: the config's fifo_batch (the board loop's), for a
    trace with no gap (no two samples 1.5 periods or more apart: the app would count missed
    samples there, and a real sensor's FIFO has no gaps to show it, so a trace with gaps
    replays on data-ready, batch 1). Jitter below that changes nothing in the outputs: the
    app uses dt only to count missed samples."""
    from shared.config import Config

    cfg = Config()
    for key in job.get("config", {}):
        cfg.set(key, job["config"][key])
    if cfg["imu"] != "lsm6dsox":
        return 1
    p = int(job["period_us"])
    if len(dt) > 1 and int(dt[1:].max()) > p + p // 2:
        return 1
    return int(cfg["fifo_batch"])


def run_job(job_dir: str | Path, firmware: str | Path | None = None, timeout_s: float = 0) -> dict:
    """Run the job on the emulated chip; returns result.json's dict."""
    import numpy as np

    jobp = Path(job_dir)
    job = json.loads((jobp / "job.json").read_text())
    n = int(job["n"])
    samples = np.frombuffer((jobp / "trace.bin").read_bytes(), dtype="<f8").reshape(n, 7)
    batch = fifo_batch(job, np.frombuffer((jobp / "dt.bin").read_bytes(), dtype="<i4"))
    fw = firmware or ensure_firmware()
    # wall time: ~60 M emulated cycles a second when busy; allow for a slow loop
    timeout = timeout_s or 120.0 + n * 0.02
    obl = array("i", bytes(4 * n))
    tilt = array("i", bytes(4 * n))
    cue = bytearray(n)
    grid = array("i", bytes(4 * n))
    steps: list[tuple[int, ...]] = []
    with Chip(firmware=fw, samples=samples, mode="trace", safe_boot=True) as chip:
        ser = Serial(chip)
        try:
            chip.wait_usb()
            ser.read_until(b">>> ", 30)
            ser.raw_repl()
            ser.exec_start(chip_code(job, batch))
            head = ser.read_until(b"HIPCUE-RUN\n", 60)
            if b"Traceback" in head or b"Error" in head:
                raise EmulatorError("on the chip: " + head.decode(errors="replace")[-200:])
            i = 0
            while True:
                t = ser.read_exact(1, timeout)
                if t == b"D":
                    if i >= n:
                        raise EmulatorError("the chip sent more samples than the trace has")
                    o, ti, c, g = struct.unpack("<iiBi", ser.read_exact(13, timeout))
                    obl[i], tilt[i], cue[i], grid[i] = o, ti, c, g
                    i += 1
                elif t == b"T":
                    steps.append(struct.unpack("<iiBiB", ser.read_exact(14, timeout)))
                elif t == b"E":
                    break
                else:
                    rest = ser.read_until(b"\x04", 5).decode(errors="replace")
                    raise EmulatorError(
                        f"on the chip: {(t.decode(errors='replace') + rest)[-300:]}"
                    )
            line = ser.read_until(b"\n", 30)
            result = json.loads(line)
            ser.read_until(b"\x04", 30)
            err = ser.read_until(b"\x04", 30)[:-1].decode(errors="replace").strip()
            if err:
                raise EmulatorError("on the chip: " + err.splitlines()[-1])
            if i != n:
                raise EmulatorError(f"the chip sent {i} of {n} samples")
        finally:
            ser.close()
            events = chip.stop()
            if chip.fault:
                raise EmulatorError(chip.fault)
    (jobp / "obl.bin").write_bytes(obl.tobytes())
    (jobp / "tilt.bin").write_bytes(tilt.tobytes())
    (jobp / "cue.bin").write_bytes(bytes(cue))
    (jobp / "grid.bin").write_bytes(grid.tobytes())
    (jobp / "steps.csv").write_text("".join("%d,%d,%d,%d,%d\n" % s for s in steps))
    (jobp / "result.json").write_text(json.dumps(result))
    events["fifo_batch"] = batch
    (jobp / "chip.json").write_text(json.dumps(events))
    return result
