"""A non-editable install runs every engine without the repository around it: the wheel holds
the host tool, the firmware (device/, shared/) and the simulation (sim/) side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

WALK = ROOT / "tests" / "data" / "sessions" / "2025-11-17-walk.trace.csv"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    target = tmp_path_factory.mktemp("site")
    p = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    # the venv's packages (numpy, pyserial, micropython) but the installed hipcue, and a
    # working folder with no repository in it
    env = dict(os.environ, PYTHONPATH=str(target))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return target, env


def _hipcue(env, cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "hipcue.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_wheel_holds_firmware_and_simulation(installed):
    target, _ = installed
    for need in (
        "hipcue/cli.py",
        "device/app.py",
        "device/drivers/lsm6dsox.py",
        "shared/estimator.py",
        "sim/run.py",
        "sim/unix_main.py",
        "sim/job.py",
    ):
        assert (target / need).exists(), need


@pytest.mark.parametrize("engine", ["micropython", "cpython"])
def test_installed_replay_matches_the_repository(installed, tmp_path, engine):
    target, env = installed
    out_inst = tmp_path / "inst"
    r = _hipcue(env, tmp_path, "replay", str(WALK), "--engine", engine, "--out", str(out_inst))
    assert r.returncode == 0, r.stderr
    where = _hipcue(env, tmp_path, "--version")
    assert where.returncode == 0
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import hipcue, sim.paths; print(hipcue.__file__, sim.paths.CODE_ROOT)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert str(target) in probe.stdout and str(ROOT) not in probe.stdout, probe.stdout
    out_repo = tmp_path / "repo"
    from hipcue.replay import replay

    replay(WALK, out_repo, engine=engine)
    for name in ("samples.csv", "steps.csv"):
        assert (out_inst / name).read_bytes() == (out_repo / name).read_bytes(), name


def test_installed_virtual_device_answers(installed, tmp_path):
    _, env = installed
    code = (
        "from hipcue.sim import Sim\n"
        "from hipcue.cli import main\n"
        "with Sim(speed=1.0, duration_s=10.0) as s:\n"
        "    raise SystemExit(main(['info', '--port', s.port]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "firmware" in r.stdout.lower(), r.stdout
