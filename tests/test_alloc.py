"""The firmware loop allocates no heap in steady state, measured on the MicroPython unix port.

tests/mp_alloc_probe.py builds the App over a prepared replay job, runs a warm-up, then
measures gc.mem_alloc() and micropython.mem_total() around at least 10,000 samples of the
whole loop (SimBoard.next_sample, App.tick, the drain of the step ring) in a @native driver
that allocates nothing itself. Both deltas must be exactly 0 while steps and cues happen
inside the window; negative controls show the same measurement does see allocation.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hipcue.replay import job_arrays, mount_from_meta, plan_rate
from hipcue.trace import read_trace
from shared.config import Config
from sim.job import write_job
from tests.conftest import DATA, ROOT, micropython_bin, need_data

PROBE = ROOT / "tests" / "mp_alloc_probe.py"
WARMUP = 2000
MIN_WINDOW = 10_000
ST_CALIBRATING, ST_RUNNING = 0, 1  # device/app.py


def prepare_job(job: Path, trace_path: Path, calibrate: bool, sets=(), mount=None) -> int:
    """Write job.json, counts.bin and dt.bin exactly as `hipcue replay` does; returns n."""
    tr = read_trace(trace_path)
    cfg = Config()
    for key, value in sets:
        cfg.set(key, value)
    cfg.set("mount", mount or mount_from_meta(tr.meta))
    rate = plan_rate(tr, cfg, False)
    counts, dt, _saturated = job_arrays(tr, cfg["imu"], rate.period_us)
    write_job(job, counts, dt, rate.period_us, calibrate=calibrate, config=cfg.as_dict())
    return tr.n


def probe(job: Path, mode: str, warmup: int, count: int) -> dict:
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    cmd = [micropython_bin(), "-X", "heapsize=32M", str(PROBE), str(job), mode, str(warmup)]
    cmd.append(str(count))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["engine"] == "micropython" and out["mode"] == mode
    print(f"\n[alloc probe] {job.name} {mode}: {out}")
    return out


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    base = tmp_path_factory.mktemp("alloc")
    out = {}
    if DATA.exists():  # the real recordings (else their cases skip: conftest.NO_DATA)
        # Real walk, no calibration, threshold lowered so cues fire throughout.
        job = base / "mobgap-test11"
        n = prepare_job(
            job, DATA / "mobgap_HA_001_Test11_Trial1.trace.csv", False, (("threshold_deg", "3"),)
        )
        out["mobgap"] = (job, n)
        # Fast hand-held rotations at 285.7 Hz, calibrating.
        job = base / "broad"
        path = DATA / "broad_07_fast_rotation.trace.csv"
        out["broad"] = (job, prepare_job(job, path, True, (), "forward=+x left=+y up=+z"))
    from hipcue.synth import PRESETS, generate, write_trace_csv  # a broken synth fails here

    path = base / "weak-right.trace.csv"
    write_trace_csv(generate(PRESETS["weak-right"](150.0)), path)
    job = base / "synth-weak-right"
    out["synth"] = (job, prepare_job(job, path, True))
    # Exercise sets (shared/exercise.py drives the motor): long enough for the window.
    from hipcue import exsynth

    for ex, reps in (("single-leg-squat", 30), ("band-walk", 160), ("clamshell", 40)):
        tr, _truth = exsynth.generate(ex, "right", reps, seed=11)
        path = base / f"{ex}.trace.csv"
        write_trace_csv(tr, path)
        job = base / f"ex-{ex}"
        sets = (("mode", ex), ("ex_side", "right"), ("ex_reps", str(reps)))
        if ex == "clamshell":
            sets += (("tempo_ms", "2500"),)  # tempo pacing on: its pulses are per-sample work
        out[ex] = (job, prepare_job(job, path, True, sets))
    return out


@pytest.mark.parametrize("case", ["mobgap", "broad", "synth"])
def test_steady_state_loop_allocates_nothing(jobs, case):
    if case not in jobs:
        need_data()
    job, n = jobs[case]
    count = n - WARMUP
    assert count >= MIN_WINDOW
    r = probe(job, "loop", WARMUP, count)
    assert r["samples"] == count
    assert r["state_before"] == ST_RUNNING and r["faults"] == 0 and r["steps_lost"] == 0
    if case != "mobgap":
        assert r["calibrated"] == 1
    # the whole path ran inside the window: steps detected and handed on, cues fired
    assert r["steps"] > 0 and r["cues"] > 0 and r["motor_events"] > 0, r
    assert r["alloc"] == 0, r
    assert r["total"] == 0, r


def test_calibration_window_allocates_nothing(jobs):
    """Calibrator.update runs on every sample of this window (state stays calibrating)."""
    job, _n = jobs["synth"]
    r = probe(job, "loop", 5, 60)
    assert r["samples"] == 60 and r["cal_updates"] == 60
    assert r["state_before"] == ST_CALIBRATING and r["state_after"] == ST_CALIBRATING, r
    assert r["alloc"] == 0 and r["total"] == 0, r


@pytest.mark.parametrize("mode", ["float", "tuple", "bigint"])
def test_probe_sees_allocation(jobs, mode):
    if "mobgap" not in jobs:
        need_data()
    job, _n = jobs["mobgap"]
    r = probe(job, mode, WARMUP, MIN_WINDOW)
    assert r["alloc"] > 0 and r["total"] > 0, r


def test_probe_sees_a_planted_range_bug_in_the_loop(jobs):
    """One per-sample intermediate pushed beyond the small-int range (outputs unchanged)."""
    if "mobgap" not in jobs:
        need_data()
    job, n = jobs["mobgap"]
    r = probe(job, "planted", WARMUP, n - WARMUP)
    clean = probe(job, "loop", WARMUP, n - WARMUP)
    assert (r["steps"], r["cues"]) == (clean["steps"], clean["cues"])
    assert r["alloc"] > 0 and r["total"] >= 16 * r["samples"], r  # >= one block per sample


@pytest.mark.parametrize("case", ["single-leg-squat", "band-walk", "clamshell"])
def test_exercise_loop_allocates_nothing(jobs, case):
    """Exercise mode: the whole loop with the rep detector driving the motor, reps taken off
    its ring between samples; reps, cues and the end-of-set buzz happen inside the window."""
    if case not in jobs:
        pytest.skip("hipcue.synth does not import")
    job, n = jobs[case]
    count = n - WARMUP
    assert count >= MIN_WINDOW
    r = probe(job, "loop", WARMUP, count)
    assert r["samples"] == count and r["state_before"] == ST_RUNNING and r["faults"] == 0
    assert r["reps"] > 5 and r["ex_cues"] > 0 and r["motor_events"] > 0 and r["reps_lost"] == 0
    assert r["alloc"] == 0, r
    assert r["total"] == 0, r
