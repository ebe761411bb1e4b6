"""Steps, stance side and contact timing on every shared recording with reference events
(issue 14): the firmware beside mobgap's offline detectors, scored by sim/scoring.py.

    .venv/bin/python -m bench.gait            # the per-dataset table (firmware and mobgap)
    .venv/bin/python -m bench.gait --no-peer  # the firmware only

The firmware runs through `hipcue replay`'s own path (run_firmware), calibrating from the still
start where the recording has one. mobgap 1.2.0 runs in its own venv (.venv-peer, from
bench/requirements-peer.txt; `make bench` creates it), driven by bench/peer_mobgap.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

from sim import scoring
from sim.paths import CODE_ROOT as REPO
from sim.paths import data_dir

DATA = data_dir()

PEER_PY = REPO / ".venv-peer" / "bin" / "python"
PEER_NAME = "mobgap Shin+McCamley"


def peer_detections(refs: list[scoring.Reference]) -> dict[str, dict]:
    if not PEER_PY.exists():
        raise RuntimeError(
            f"{PEER_PY} missing: make bench creates it (bench/requirements-peer.txt)"
        )
    args = [str(PEER_PY), str(REPO / "bench" / "peer_mobgap.py")]
    args += [str(r.trace) for r in refs]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        msg = (proc.stdout + proc.stderr).strip().splitlines()
        raise RuntimeError(f"peer_mobgap failed: {msg[-1] if msg else proc.returncode}")
    return json.loads(proc.stdout)


def run(peer: bool = True, engine: str = "cpython", sets=()) -> dict:
    refs = scoring.load_references(DATA)
    ours = [scoring.score(**scoring.firmware_detections(r, engine, sets), ref=r) for r in refs]
    out = {"refs": [r.name for r in refs], "hipcue": ours}
    cols = {"hipcue": scoring.by_dataset(refs, ours)}
    if peer:
        got = peer_detections(refs)
        theirs = [scoring.score(**_det(got[r.trace.name]), ref=r) for r in refs]
        out["peer"] = theirs
        cols[PEER_NAME] = scoring.by_dataset(refs, theirs)
    out["table"] = cols
    return out


def bench_run() -> dict:
    """For `make bench`: the table with the peer when its venv exists, else without."""
    try:
        return run(peer=True)
    except RuntimeError as e:
        out = run(peer=False)
        out["peer_error"] = str(e)
        return out


def _det(d: dict) -> dict:
    return {"det_t": d["t"], "det_side": d["side"]}


def main(argv: list[str]) -> int:
    out = run(peer="--no-peer" not in argv)
    for line in scoring.format_table(out["table"]):
        print(line)
    if "--json" in argv:
        print(json.dumps(out["table"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
