"""Issue #7: the guided single-leg stance (Trendelenburg) test (shared/slstest.py) in the real
firmware loop, on synthetic stance traces (hipcue.synth kinds sls_left / sls_right) whose
drops, sway and foot-down time are known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipcue.synth import Segment, generate, write_trace_csv
from shared.slstest import BUZZ_MS, PIP_MS, SlsTest
from tests.conftest import ROOT, micropython_bin
from tests.test_alloc import prepare_job

RUN = ROOT / "tests" / "mp_sls_run.py"
SIDE_S = 10
REST_S = 3
START_S = 5.0  # the test is started here; each side's clock starts when the long buzz ends
DROP_L, DROP_R, SWAY = 3.0, 7.0, 1.0  # deg: swing-side drop standing on the left / right leg
FOOT_DOWN_S = 6.0  # on the right leg the lifted foot comes down 6 s into the side


def _segments() -> list[Segment]:
    buzz = BUZZ_MS / 1000
    stop = 3 * PIP_MS / 1000
    return [
        Segment("stand", START_S + buzz),
        Segment("sls_left", SIDE_S, drop_left_stance_deg=DROP_L, sway_deg=SWAY),
        Segment("stand", stop + REST_S + buzz),
        Segment(
            "sls_right", SIDE_S, drop_right_stance_deg=DROP_R, sway_deg=SWAY,
            foot_down_s=FOOT_DOWN_S,
        ),
        Segment("stand", 3.0),
    ]  # fmt: skip


def run_sls(engine: str, job: Path, start_n: int) -> dict:
    args = [str(RUN), str(job), str(start_n), str(SIDE_S), str(REST_S)]
    if engine == "micropython":
        cmd = [micropython_bin(), "-X", "heapsize=32M", *args]
        env = dict(os.environ, MICROPYPATH=str(ROOT))
    else:
        cmd = [sys.executable, *args]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sls_job(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("sls")
    tr = generate(_segments(), rate_hz=100.0, seed=3)
    path = base / "sls.trace.csv"
    write_trace_csv(tr, path)
    job = base / "job"
    prepare_job(job, path, True)
    return job


def test_synth_sls_segments_have_the_drops_asked_for():
    tr = generate(_segments(), rate_hz=100.0, seed=3, noise=False)
    t = tr.columns["t_s"]
    obl = tr.columns[[k for k in tr.columns if k.startswith("obliquity")][0]]
    t0 = START_S + BUZZ_MS / 1000
    left = obl[(t > t0 + 1) & (t < t0 + SIDE_S - 0.5)]
    assert abs(left.max() - (DROP_L + SWAY)) < 0.05 and abs(left.mean() - DROP_L) < 0.3
    r0 = t0 + SIDE_S + 3 * PIP_MS / 1000 + REST_S + BUZZ_MS / 1000
    right = obl[(t > r0 + 1) & (t < r0 + FOOT_DOWN_S - 0.5)]
    assert abs(-right.min() - (DROP_R + SWAY)) < 0.05
    assert abs(obl[(t > r0 + FOOT_DOWN_S + 0.2) & (t < r0 + SIDE_S)]).max() < 0.2
    assert tr.steps == []  # standing on one leg is not walking


@pytest.mark.parametrize("engine", ["micropython", "cpython"])
def test_sls_figures_against_truth(sls_job, engine):
    r = run_sls(engine, sls_job, int(START_S * 100))
    res = r["results"]
    print(f"\n[sls {engine}] {json.dumps(res)}")
    assert r["calibrated"] == 1 and res["done"] == 1
    if engine == "micropython":  # the per-sample path allocates nothing while testing
        assert r["test_ticks"] > 2000 and r["alloc_bytes"] == 0, r
    left, right = res["left_stance"], res["right_stance"]
    # standing on the left leg: the right side drops DROP_L +/- SWAY, held the whole side
    assert left["loss_ms"] is None
    assert abs(left["max_drop_mdeg"] - (DROP_L + SWAY) * 1000) < 300
    assert abs(left["mean_drop_mdeg"] - DROP_L * 1000) < 400
    # standing on the right leg: the left side drops DROP_R; the foot comes down at 6 s
    assert abs(right["loss_ms"] - FOOT_DOWN_S * 1000) <= 100
    assert abs(right["max_drop_mdeg"] - (DROP_R + SWAY) * 1000) < 400
    assert abs(right["mean_drop_mdeg"] - DROP_R * 1000) < 600
    assert res["diff_max_mdeg"] == right["max_drop_mdeg"] - left["max_drop_mdeg"] > 3000
    # the motor: one long buzz, two short ones, per side
    e = r["edges"]
    assert len(e) == 12
    on = [e[i + 1] - e[i] for i in range(0, 12, 2)]
    assert on == [BUZZ_MS // 10, PIP_MS // 10, PIP_MS // 10] * 2


def test_engines_agree(sls_job):
    a = run_sls("micropython", sls_job, int(START_S * 100))
    b = run_sls("cpython", sls_job, int(START_S * 100))
    assert a["results"] == b["results"] and a["edges"] == b["edges"]


def test_timeline_without_rest():
    t = SlsTest(10000, side_s=5, rest_s=0)
    t.start()
    motor = []
    for _ in range(t.total_n() + 5):
        motor.append(t.update(0, 0))
    assert t.done and sum(motor) == 2 * (80 + 2 * 15)
    assert t.total_n() == 2 * (80 + 500 + 45)
