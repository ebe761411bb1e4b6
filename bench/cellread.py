"""Why state cells are read inline: x86 instructions per sign-correcting ptr32 read in viper,
inline against a viper helper call (callgrind, MicroPython unix port; loop overhead included
in both, the difference is the call)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from sim.paths import micropython_binary

SCRIPT = Path(__file__).resolve().parent / "mp_cell_read.py"
N = 10000


def _instructions(mode: str, n: int) -> int:
    mp = micropython_binary()
    head = [sys.executable, mp] if open(mp, "rb").read(2) == b"#!" else [mp]
    valgrind = shutil.which("valgrind") or "/usr/bin/valgrind"
    cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *head]
    p = subprocess.run(cmd + [str(SCRIPT), mode, str(n)], capture_output=True, text=True)
    m = re.search(r"refs:\s+([\d,]+)", p.stderr)
    if p.returncode or not m:
        raise RuntimeError("callgrind run failed: " + p.stderr[-500:])
    return int(m.group(1).replace(",", ""))


def cell_read_cost() -> dict:
    out = {}
    for mode, name in (("i", "inline"), ("c", "helper")):
        out[name] = (_instructions(mode, N) - _instructions(mode, 0)) / N
    return out
