"""`hipcue sim`: the virtual device, the firmware under the MicroPython unix port on a pty.

    hipcue sim [--trace FILE] [--speed X] [--data DIR] [--once] [--hold]
    hipcue sim --demo DIR [--speed X]      (the device demo: see demo())

The firmware (sim/unix_main.py) gets a pty's master end as its stdin/stdout, raw with no
echo (set here on the slave before it starts: both ends share one termios); the host opens
the slave of a second pty, whose path is printed; a relay thread joins the two (see Sim).
This process keeps the host's pty open, so a host can close and reopen the port, and the
firmware can be restarted on the same port (`Sim.restart()`, or when it exits, as after a
soft reset) without the path changing.

The trace (a weak-right-hip walk from `hipcue synth` by default) is fed at real time x speed;
with --hold, only after the host sends `sim.start` (so the config can be set first).
DATA_DIR is the device's filesystem (config.json, logs/); a temporary one unless --data.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path
from typing import Any

import numpy as np

from hipcue import HipcueError, synth
from hipcue.argtypes import number
from hipcue.link import Client
from hipcue.replay import job_arrays, mount_from_meta, plan_rate
from hipcue.trace import read_trace
from shared.config import Config, ConfigError
from sim import paths
from sim.job import write_job


def prepare_job(
    job_dir: Path,
    data_dir: Path,
    trace_path: str | None,
    speed: float,
    loop: bool,
    calibrate: bool,
    duration_s: float = 60.0,
    hold: bool = False,
) -> dict:
    """Quantise the trace for the firmware; give a new device a config that fits it."""
    if not 0.01 <= speed <= 1000:
        raise HipcueError(f"--speed {speed:g}: must be 0.01..1000")
    if trace_path is None:
        walk = synth.generate(synth.PRESETS["weak-right"](duration_s), seed=7)
        trace_path = str(job_dir / "weak-right-walk.trace.csv")
        synth.write_trace_csv(walk, trace_path)
    trace = read_trace(trace_path)
    cfg = Config()
    stored = data_dir / "config.json"
    if stored.exists():
        try:
            cfg.load_dict(json.loads(stored.read_text()))
        except (ValueError, ConfigError):
            cfg = Config()  # the firmware reports and replaces it
    mount = mount_from_meta(trace.meta)
    if not stored.exists() and mount:
        try:
            cfg.set("mount", mount)
        except ConfigError as e:
            raise HipcueError(f"{trace_path}: '# mount:' line: {e}") from None
    rate = plan_rate(trace, cfg, False)
    if not stored.exists():
        # A new device: set up for this wearer's mount and the trace's sample rate.
        stored.write_text(json.dumps(cfg.as_dict()))
    counts, dt_us, _ = job_arrays(trace, cfg["imu"], rate.period_us)
    return write_job(
        job_dir,
        counts,
        dt_us,
        rate.period_us,
        calibrate=bool(calibrate),
        trace=Path(trace_path).name,
        speed_pct=max(1, round(speed * 100)),
        loop=bool(loop),
        hold=bool(hold),
    )


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # resolved here: the child runs as little Python as possible


def _die_with_parent() -> None:
    """In the firmware's child process, before exec: on Linux, SIGTERM when the parent (this
    hipcue) dies, however it dies (a SIGKILL gives us no chance to stop it ourselves).
    Linux sends it when the *thread* that spawned the child ends: Sim spawns from the thread
    that calls start() and, on a restart, from its supervisor thread, both alive until stop()."""
    if _PRCTL is not None:
        _PRCTL(1, 15, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGTERM


class Sim:
    """A virtual device on a pty; use as a context manager, or start()/stop().

    Two pty pairs: the host's (its slave is the port printed) and the firmware's (the firmware
    on the master end, as the notes measured). A relay thread here copies bytes between them
    unchanged. It always drains the firmware's output into memory, so a host that stops
    reading can never block a firmware write (on a pty, POLLOUT only promises room for some
    bytes, and a larger write then blocks the sample loop); answers nobody reads are dropped
    beyond RELAY_LIMIT, as a USB port drops what no host collects. The firmware's pty is new
    for each (re)start; the host's stays, so the port path never changes.
    """

    RELAY_LIMIT = 4 << 20

    def __init__(
        self,
        trace: str | None = None,
        speed: float = 1.0,
        data_dir: str | Path | None = None,
        loop: bool = True,
        calibrate: bool = True,
        duration_s: float = 60.0,
        hold: bool = False,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="hipcue-sim-")
        self.job_dir = Path(self._tmp.name) / "job"
        self.job_dir.mkdir()
        self.data_dir = Path(data_dir) if data_dir else Path(self._tmp.name) / "device"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self.fw_log = Path(self._tmp.name) / "firmware.log"
        self.job = prepare_job(
            self.job_dir, self.data_dir, trace, speed, loop, calibrate, duration_s, hold
        )
        self.port = ""
        self.restarts = 0
        self.dropped = 0  # bytes from the firmware that no host collected
        self._host_m = -1  # our end of the host's pty
        self._host_s = -1  # held open so the port survives a host closing it
        self._fw = -1  # our end (slave) of the firmware's pty
        self._fw_m = -1
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> str:
        self._host_m, self._host_s = os.openpty()
        tty.setraw(self._host_s)  # no echo, no line discipline: bytes as sent
        os.set_blocking(self._host_m, False)
        self.port = os.ttyname(self._host_s)
        self._spawn()
        for fn in (self._relay, self._supervise):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)
        return self.port

    def _spawn(self) -> None:
        ready = self.job_dir / "ready"
        ready.unlink(missing_ok=True)
        m, s = os.openpty()
        tty.setraw(s)
        os.set_blocking(s, False)
        self._fw_m, self._fw = m, s
        try:
            env = paths.engine_env("micropython")
            cmd = paths.engine_cmd("micropython", heap_mb=8) + ["-i", "-m", "sim.unix_main"]
        except paths.EngineError as e:
            raise HipcueError(str(e)) from None
        cmd += [str(self.job_dir), str(self.data_dir)]
        with open(self.fw_log, "ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdin=m,
                stdout=m,
                stderr=log,
                cwd=paths.CODE_ROOT,
                env=env,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the firmware
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )
        deadline = time.monotonic() + 20
        while not ready.exists():
            if self._proc.poll() is not None:
                raise HipcueError(f"virtual device failed to start: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise HipcueError("virtual device did not start within 20 s")
            time.sleep(0.01)

    def _relay(self) -> None:
        to_host = bytearray()
        to_fw = bytearray()
        while not self._stopping.is_set():
            with self._lock:
                fw = self._fw
            rd = [self._host_m] + ([fw] if fw >= 0 else [])
            wr = ([self._host_m] if to_host else []) + ([fw] if to_fw and fw >= 0 else [])
            try:
                r, w, _ = select.select(rd, wr, [], 0.05)
            except (OSError, ValueError):
                time.sleep(0.01)  # an fd was closed under us by a restart
                continue
            try:
                if fw in r:
                    data = os.read(fw, 1 << 16)
                    room = self.RELAY_LIMIT - len(to_host)
                    self.dropped += max(0, len(data) - room)
                    to_host += data[: max(0, room)]
                if self._host_m in r:
                    to_fw += os.read(self._host_m, 1 << 16)
                if self._host_m in w:
                    del to_host[: os.write(self._host_m, to_host[: 1 << 16])]
                if fw in w:
                    del to_fw[: os.write(fw, to_fw[: 1 << 16])]
            except BlockingIOError:
                pass
            except OSError:
                time.sleep(0.01)  # the firmware is gone (EIO) or no host has the port open

    def _log_tail(self) -> str:
        try:
            lines = self.fw_log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "?"
        return lines[-1] if lines else "no output"

    def _supervise(self) -> None:
        # A firmware that exits (soft reset from the REPL, a crash) starts again, as a board's
        # main.py runs again after a reset.
        while not self._stopping.wait(0.1):
            with self._lock:
                if self._proc is not None and self._proc.poll() is not None:
                    self.restarts += 1
                    self._close_fw()
                    try:
                        self._spawn()
                    except HipcueError:
                        return

    def restart(self) -> None:
        """Kill the firmware (a power cut) and start it again on the same port."""
        with self._lock:
            self._kill()
            self.restarts += 1
            self._spawn()

    def _close_fw(self) -> None:
        for fd in (self._fw, self._fw_m):
            if fd >= 0:
                os.close(fd)
        self._fw = self._fw_m = -1

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._close_fw()

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else -1

    def stop(self) -> None:
        self._stopping.set()
        for t in self._threads:
            t.join()
        with self._lock:
            self._kill()
        for fd in (self._host_m, self._host_s):
            if fd >= 0:
                os.close(fd)
        self._host_m = self._host_s = -1
        self._tmp.cleanup()

    def __enter__(self) -> Sim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- CLI ---------------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trace", metavar="FILE", help="trace CSV (default: synthetic walk, 60 s)")
    p.add_argument("--speed", type=number(0.01, 1000), default=1.0, help="x real time (default 1)")
    p.add_argument("--data", metavar="DIR", help="device filesystem (default: temporary)")
    p.add_argument("--once", action="store_true", help="play the trace once, do not repeat")
    p.add_argument("--no-calibrate", action="store_true", help="skip standing calibration")
    p.add_argument(
        "--hold", action="store_true", help="feed no samples until the host sends sim.start"
    )
    p.add_argument(
        "--demo",
        metavar="DIR",
        help="run the device demo into DIR (held start, set threshold, walk, pull, export; "
        "at 20x unless --speed is given)",
    )


def run(args: argparse.Namespace) -> int:
    if args.demo:
        demo(args.demo, speed=args.speed if args.speed != 1.0 else 20.0)
        return 0
    sim = Sim(
        args.trace, args.speed, args.data, not args.once, not args.no_calibrate, hold=args.hold
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        port = sim.start()
        print(port, flush=True)
        print(
            f"hipcue sim: {sim.job['trace']} at {args.speed:g}x on {port}; data in "
            f"{sim.data_dir}; Ctrl-C to stop",
            file=sys.stderr,
        )
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def demo(
    out_dir: str | Path,
    speed: float = 20.0,
    threshold: str = "7.5",
    duration_s: float = 60.0,
    quiet: bool = False,
) -> dict:
    """The device part of `make demo`, each step the real CLI: start the virtual device held
    (no samples yet), read its info, set the threshold, start the walk, wait for it to end
    (the session closes), pull the session into a library, export it as CSV and print its
    summary, computed from the pulled session by hipcue.metrics.summarise. Returns that
    summary (with the session's name, library and CSV paths)."""
    import contextlib
    import io

    from hipcue.cli import main
    from hipcue.library import Library
    from hipcue.link import connect
    from hipcue.logs import session_summary

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    library = out / "library.sqlite"
    with Sim(speed=speed, loop=False, duration_s=duration_s, hold=True) as sim:
        port = sim.port
        say = (lambda text: None) if quiet else print
        say(f"$ hipcue sim --speed {speed:g} --once --hold     -> {port}")

        def step(*argv: str, port_arg: bool = True) -> None:
            say("$ hipcue " + " ".join(argv))
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                rc = main([*argv, "--port", port] if port_arg else list(argv))
            if not quiet:
                sys.stdout.write(buf.getvalue())
            if rc:
                raise HipcueError(f"`hipcue {' '.join(argv)}` failed with exit code {rc}")

        step("info")
        step("config", "set", f"threshold_deg={threshold}")
        with connect(port) as client:
            client.request("sim.start")
            say(f"(sim.start) walking: {sim.job['n'] / 100:.0f} s of trace at {speed:g}x")
            limit = time.monotonic() + sim.job["n"] / 100 / speed * 3 + 20
            while not client.request("info")["sim"]["done"]:
                if time.monotonic() > limit:
                    raise HipcueError("the virtual device did not finish the walk in time")
                time.sleep(0.1)
        step("logs", "pull", "--library", str(library), "--quiet")
        with Library(library) as lib:
            rows = lib.sessions()
            if not rows:
                raise HipcueError("no session was recorded")
            name = rows[-1]["name"]
            session = lib.session(rows[-1]["id"])
        csv_path = out / f"{Path(name).stem}.csv"
        step(
            "logs", "export", name, "--csv", "--library", str(library), "--out", str(csv_path),
            port_arg=False,
        )  # fmt: skip
    s = session_summary(session)

    def deg(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} deg"

    say(
        f"{name}: {s['steps']} steps (left stance {s['left_stance_steps']}, right stance "
        f"{s['right_stance_steps']}), {s['cues']} cues at threshold {threshold} deg; median "
        f"drop: left stance {deg(s['left_stance_drop_deg'])}, right stance "
        f"{deg(s['right_stance_drop_deg'])}"
    )
    s.update({"session": name, "library": str(library), "csv": str(csv_path)})
    return s


def measure(client: Client, log_name: str, log_size: int, pings: int = 300) -> dict:
    """Round-trip latency (ping), log download throughput and late samples meanwhile."""
    lat = []
    for _ in range(pings):
        t = time.perf_counter()
        client.request("ping")
        lat.append(time.perf_counter() - t)
    before = client.request("info")
    t = time.perf_counter()
    got = client.read_log(log_name, log_size, lambda off, data: None)
    dt = time.perf_counter() - t
    after = client.request("info")
    ms = np.array(lat) * 1000
    return {
        "pings": pings,
        "latency_ms_median": round(float(np.median(ms)), 3),
        "latency_ms_p99": round(float(np.percentile(ms, 99)), 3),
        "download_bytes": got,
        "download_s": round(dt, 3),
        "throughput_kB_s": round(got / dt / 1000, 1),
        "samples_during_download": after.get("samples", 0) - before.get("samples", 0),
        "late_during_download": after.get("late", 0) - before.get("late", 0),
        "missed_during_download": after.get("missed", 0) - before.get("missed", 0),
        "max_lag_us": after.get("sim", {}).get("max_lag_us"),
        "service_overruns": after.get("sim", {}).get("service_overruns", 0)
        - before.get("sim", {}).get("service_overruns", 0),
        "retries": client.retried,
    }


def bench(size: int = 1 << 20, speed: float = 1.0) -> dict:
    """The link benchmark on the virtual device (1 MiB log, real time)."""
    from hipcue.link import connect

    with Sim(speed=speed) as sim:
        (sim.data_dir / "logs" / "bench.bin").write_bytes(os.urandom(size))
        time.sleep(0.5)
        with connect(sim.port) as client:
            return measure(client, "bench.bin", size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hipcue sim")
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
