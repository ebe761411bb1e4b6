"""hipcue's firmware on an emulated RP2040: the Python side of sim/rp2040/harness.mjs.

    chip = Chip(firmware=UF2, samples=ARRAY, ...)   # an emulated Pico + LSM6DSOX + motor
    chip.start(); chip.wait_usb()
    serial.Serial(chip.port)                           # the USB CDC, on a pty
    chip.stop()  -> the harness's observations (sample data-ready / read times, motor
                    edges, flash operations; emulated ns)

The emulator is rp2040js 1.4.1 (npm, pinned by package-lock.json here) on node; `make
emulator` (or `ensure_emulator()`) installs it. Emulated time is the rp2040js clock at 125
MHz; its cycle model has not been checked against silicon (../shared/notes/rp2040-emulator.md).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
import tty
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HARNESS = HERE / "harness.mjs"
# the image `make firmware-uf2` builds in the repository (or HIPCUE_RP2040_UF2: a prebuilt one,
# e.g. for an installed hipcue with no repository; its .elf beside it for the GC watch)
FIRMWARE_UF2 = Path(os.environ.get("HIPCUE_RP2040_UF2", str(ROOT / "build" / "hipcue-rp2040.uf2")))
RP2_DIR = Path(os.environ.get("HIPCUE_RP2_DIR", str(ROOT.parent / "shared" / "rp2")))
BOOTROM = RP2_DIR / "rp2040-bootrom-b1.bin"
STOCK_UF2 = RP2_DIR / "micropython-1.28.0-RPI_PICO.uf2"
EMULATOR = "emulated RP2040, rp2040js 1.4.1, cycle model not checked against silicon"
CYCLES_PER_US = 125
SAFE_BOOT_MS = 1000  # button held this long from power-up: the app does not start


class EmulatorError(Exception):
    pass


def emulator_missing() -> str | None:
    """Why the emulator cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "rp2040js" / "package.json").exists():
        return "rp2040js is not installed (make emulator)"
    if not BOOTROM.exists():
        return f"{BOOTROM} not found (set HIPCUE_RP2_DIR)"
    return None


def ensure_emulator() -> None:
    """npm ci in sim/rp2040 when rp2040js is missing (needs the npm registry)."""
    if (HERE / "node_modules" / "rp2040js" / "package.json").exists():
        return
    if shutil.which("npm") is None:
        raise EmulatorError("npm is not installed: cannot install rp2040js")
    import fcntl

    with open(HERE / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one install at a time (pytest -n 2)
        if (HERE / "node_modules" / "rp2040js" / "package.json").exists():
            return
        p = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if p.returncode != 0:
        raise EmulatorError("npm ci failed: " + (p.stderr.strip().splitlines() or ["?"])[-1])


def ensure_firmware() -> Path:
    """build/hipcue-rp2040.uf2, built by `make firmware-uf2` when missing or stale."""
    if "HIPCUE_RP2040_UF2" in os.environ:
        if not FIRMWARE_UF2.exists():
            raise EmulatorError(f"HIPCUE_RP2040_UF2: {FIRMWARE_UF2} not found")
        return FIRMWARE_UF2
    if not (ROOT / "Makefile").exists():
        raise EmulatorError("no repository to build the image in: set HIPCUE_RP2040_UF2")
    import fcntl

    (ROOT / "build").mkdir(exist_ok=True)
    # one build at a time (pytest -n 2 runs two tests that need it)
    with open(ROOT / "build" / ".firmware-uf2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = subprocess.run(
            ["make", "-s", "firmware-uf2"], cwd=ROOT, capture_output=True, text=True, timeout=900
        )
    if p.returncode != 0 or not FIRMWARE_UF2.exists():
        msg = (p.stdout + p.stderr).strip().splitlines()
        raise EmulatorError("make firmware-uf2 failed: " + (msg[-1] if msg else "?"))
    return FIRMWARE_UF2


def elf_symbol(elf: Path, name: str) -> int:
    """The address of a symbol in the firmware's ELF (arm-none-eabi-nm)."""
    p = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise EmulatorError(f"{elf}: no symbol {name}")


class Chip:
    """One emulated board. samples: float64 array (n, 7) of t_s, ax ay az (g), gx gy gz (dps),
    served by the LSM6DSOX at the trace's times (mode "trace") or at its configured rate
    (mode "odr"); hold: no sample until `start_samples()`."""

    def __init__(
        self,
        firmware: str | Path | None = None,
        samples: Any = None,
        mode: str = "trace",
        loop: bool = False,
        hold: bool = False,
        safe_boot: bool = False,
        battery_mv: int = 4000,
        flash_in: str | Path | None = None,
        flash_out: str | Path | None = None,
        fs_image: str | Path | None = None,
        fs_offset: int = 0,
        realtime: bool = False,
        max_ms: float | None = None,
        watch_gc: bool = False,
        vbus_at: list | None = None,
    ) -> None:
        why = emulator_missing()
        if why:
            raise EmulatorError(why)
        self.dir = Path(tempfile.mkdtemp(prefix="hipcue-rp2040-"))
        self.firmware = Path(firmware) if firmware else FIRMWARE_UF2
        self.cfg: dict[str, Any] = {
            "uf2": str(self.firmware),
            "bootrom": str(BOOTROM),
            "battery_mv": battery_mv,
            "button_low_ms": SAFE_BOOT_MS if safe_boot else 0,
            "realtime": realtime,
            "events_out": str(self.dir / "events.json"),
        }
        if max_ms:
            self.cfg["max_ms"] = max_ms
        if vbus_at:
            self.cfg["vbus_at"] = vbus_at  # [[t_ms, on], ...]: USB power at emulated times
        if watch_gc:
            self.cfg["gc_collect"] = elf_symbol(self.firmware.with_suffix(".elf"), "gc_collect")
        if flash_in:
            self.cfg["flash_in"] = str(flash_in)
        if flash_out:
            self.cfg["flash_out"] = str(flash_out)
        if fs_image:
            self.cfg["fs_image"] = str(fs_image)
            self.cfg["fs_offset"] = fs_offset
        if samples is not None:
            import numpy as np

            a = np.ascontiguousarray(samples, dtype="<f8")
            if a.ndim != 2 or a.shape[1] != 7:
                raise ValueError("samples: expected an (n, 7) array")
            (self.dir / "samples.bin").write_bytes(a.tobytes())
            self.cfg["sensor"] = {
                "samples": str(self.dir / "samples.bin"),
                "mode": mode,
                "loop": loop,
                "hold": hold,
            }
        self.proc: subprocess.Popen[str] | None = None
        self.master = self.slave = -1
        self.port = ""
        self.events: dict[str, Any] = {}
        self.exit: dict[str, Any] = {}
        self.fault: str | None = None
        self.usb_ns = -1

    # -- process ---------------------------------------------------------------------------
    def start(self) -> Chip:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # raw both ways, no echo (one termios for both ends)
        self.port = os.ttyname(self.slave)
        self.cfg["pty_fd"] = self.master
        cfgp = self.dir / "config.json"
        cfgp.write_text(json.dumps(self.cfg))
        self.proc = subprocess.Popen(
            ["node", str(HARNESS), str(cfgp)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.dir / "stderr.txt", "w"),  # noqa: SIM115
            pass_fds=[self.master],
            text=True,
        )
        ev = self._event(10.0)
        if ev.get("ev") != "started":
            raise EmulatorError(f"emulator did not start: {ev}")
        return self

    def _event(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return {}
        line = self.proc.stdout.readline()
        if not line:
            return {"ev": "eof"}
        ev = json.loads(line)
        if ev.get("ev") == "fault":
            self.fault = ev["msg"]
        if ev.get("ev") == "usb":
            self.usb_ns = ev["t_ns"]
        if ev.get("ev") == "exit":
            self.exit = ev
        return ev

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ev = self._event(max(0.01, end - time.monotonic()))
            if ev.get("ev") == name:
                return ev
            if ev.get("ev") in ("exit", "eof", "fault"):
                raise EmulatorError(f"emulator stopped: {self.fault or ev}")
        raise EmulatorError(f"no {name!r} from the emulator within {timeout:g} s")

    def wait_usb(self, timeout: float = 30.0) -> None:
        if self.usb_ns < 0:
            self.wait_event("usb", timeout)

    def command(self, **c: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(c) + "\n")
        self.proc.stdin.flush()

    def status(self) -> dict[str, Any]:
        self.command(op="status")
        return self.wait_event("status", 10.0)

    def start_samples(self) -> None:
        self.command(op="samples", start=True)

    def button(self, down: bool) -> None:
        self.command(op="button", down=down)

    def stop(self, timeout: float = 30.0) -> dict[str, Any]:
        """Stop the emulator; returns its observations (also in self.events)."""
        if self.proc is None:
            return self.events
        if self.proc.poll() is None:
            try:
                self.command(op="stop")
            except (BrokenPipeError, OSError):
                pass
            end = time.monotonic() + timeout
            while time.monotonic() < end and not self.exit:
                ev = self._event(max(0.01, end - time.monotonic()))
                if ev.get("ev") == "eof":
                    break
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        evp = self.dir / "events.json"
        if evp.exists():
            self.events = json.loads(evp.read_text())
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1
        self.proc = None
        return self.events

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stderr(self) -> str:
        p = self.dir / "stderr.txt"
        return p.read_text() if p.exists() else ""

    def __enter__(self) -> Chip:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class Serial:
    """The chip's USB CDC from the host side: the pty slave, read with a deadline."""

    def __init__(self, chip: Chip) -> None:
        self.chip = chip
        self.fd = os.open(chip.port, os.O_RDWR | os.O_NOCTTY)
        self.buf = bytearray()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view[:1024])
            view = view[n:]

    def _fill(self, timeout: float) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        self.buf += os.read(self.fd, 65536)
        return True

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        end = time.monotonic() + timeout
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = bytes(self.buf[: i + len(marker)])
                del self.buf[: i + len(marker)]
                return out
            left = end - time.monotonic()
            if left <= 0 or (self.chip.proc is not None and self.chip.proc.poll() is not None):
                tail = bytes(self.buf[-300:]).decode(errors="replace")
                raise EmulatorError(f"no {marker!r} from the chip within {timeout:g} s: {tail!r}")
            self._fill(min(left, 0.5))

    def read_exact(self, n: int, timeout: float) -> bytes:
        end = time.monotonic() + timeout
        while len(self.buf) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise EmulatorError(f"the chip sent {len(self.buf)} of {n} bytes")
            self._fill(min(left, 0.5))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def raw_repl(self, timeout: float = 30.0) -> None:
        """Interrupt whatever runs and enter the raw REPL (as mpremote does); output sent
        before the host side of the USB was up is lost, so this asks until it is answered."""
        end = time.monotonic() + timeout
        while True:
            self.write(b"\r\x03\x03")
            time.sleep(0.2)
            self.buf.clear()
            self.write(b"\r\x01")
            try:
                self.read_until(b"raw REPL; CTRL-B to exit\r\n>", min(10.0, timeout))
                return
            except EmulatorError:
                if time.monotonic() > end:
                    raise

    def exec_start(self, code: str, timeout: float = 30.0) -> None:
        """Send code to the raw REPL and start it; its output follows 'OK'."""
        data = code.encode()
        for i in range(0, len(data), 256):
            self.write(data[i : i + 256])
        self.write(b"\x04")
        self.read_until(b"OK", timeout)

    def exec(self, code: str, timeout: float = 30.0) -> str:
        """Run code in the raw REPL; returns its output, raises on an exception."""
        self.exec_start(code, timeout)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        if err.strip():
            raise EmulatorError(
                "on the chip: " + err.decode(errors="replace").strip().splitlines()[-1]
            )
        return out.decode(errors="replace")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
