"""`hipcue sim --engine rp2040`: the hipcue firmware image on an emulated RP2040, its USB CDC on a
pty whose path is printed; `hipcue info / config / logs / live / test sls --port PATH` work
against it as against a board.

The trace (a synthetic weak-right walk by default, as for the virtual device) is served by the
emulated LSM6DSOX at the output data rate the firmware configures (104 Hz for rate_hz=100: a
100 Hz trace plays 4 % fast), repeated unless --once. The emulator runs at most at real time
and, with the core busy, well below it (rp2040js: ~60 M emulated cycles per wall second on
a free core; the firmware's loop busy-waits for data-ready, so it is always busy): host
timeouts may need raising (--timeout). --data DIR keeps the device's flash (DIR/flash.bin:
config, logs) from one run to the next.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from sim.rp2040 import EMULATOR, Chip, ensure_emulator, ensure_firmware


def trace_samples(trace_path: str | None, duration_s: float = 60.0) -> tuple[np.ndarray, str]:
    from hipcue import synth
    from hipcue.trace import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        if trace_path is None:
            walk = synth.generate(synth.PRESETS["weak-right"](duration_s), seed=7)
            trace_path_used = str(Path(tmp) / "weak-right-walk.trace.csv")
            synth.write_trace_csv(walk, trace_path_used)
            name = "synthetic weak-right walk"
        else:
            trace_path_used = trace_path
            name = trace_path
        tr = read_trace(trace_path_used)
    return np.column_stack([tr.t_s, tr.acc_g, tr.gyro_dps]), name


def run(trace_path: str | None, data_dir: str | None, loop: bool) -> int:
    from hipcue import HipcueError

    samples, name = trace_samples(trace_path)
    try:
        ensure_emulator()
        fw = ensure_firmware()
    except Exception as e:  # noqa: BLE001 - one line for the user
        raise HipcueError(f"--engine rp2040: {e}") from None
    flash = None
    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        flash = Path(data_dir) / "flash.bin"
    chip = Chip(
        firmware=fw,
        samples=samples,
        mode="odr",
        loop=loop,
        flash_in=flash,
        flash_out=flash,
        realtime=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        chip.start()
        chip.wait_usb(60)
        print(chip.port, flush=True)
        print(
            f"hipcue sim: {name} on the hipcue image, {EMULATOR}, on {chip.port}"
            + (f"; flash in {flash}" if flash else "")
            + "; Ctrl-C to stop",
            file=sys.stderr,
        )
        while not stop.wait(0.5):
            if chip.proc is None or chip.proc.poll() is not None:
                break
    except KeyboardInterrupt:
        pass
    finally:
        chip.close()
        if chip.fault:
            print(f"hipcue sim: the emulated chip stopped: {chip.fault}", file=sys.stderr)
    return 0
