"""`hipcue replay` against the spec (../shared/spec/trace-and-replay.md section 3)."""

import csv
import json
import subprocess
from pathlib import Path

import pytest

from hipcue import synth
from hipcue.cli import main
from tests.conftest import ROOT, micropython_bin

HEADER = "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps"


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("walk")
    tr = synth.generate(synth.PRESETS["weak-right"](20.0), seed=11)
    p = d / "walk.trace.csv"
    synth.write_trace_csv(tr, p)
    return p


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_outputs_follow_the_spec(walk, tmp_path):
    out = tmp_path / "out"
    assert main(["replay", str(walk), "--out", str(out), "-q"]) == 0
    samples = _rows(out / "samples.csv")
    n_in = sum(1 for line in walk.read_text().splitlines() if line[:1].isdigit())
    assert len(samples) == n_in
    assert list(samples[0]) == ["t_s", "obliquity_deg", "tilt_deg", "cue"]
    assert {r["cue"] for r in samples} <= {"0", "1"}
    steps = _rows(out / "steps.csv")
    assert list(steps[0]) == ["t_s", "stance", "drop_deg", "cued"]
    assert {r["stance"] for r in steps} == {"L", "R"}
    summary = json.loads((out / "summary.json").read_text())
    for key in ("steps", "cues", "left_stance_drop_deg", "right_stance_drop_deg", "config"):
        assert key in summary
    assert summary["steps"] == len(steps)
    assert summary["config"]["threshold_deg"] == "6.0"
    # weak right hip: more drop in right stance, and the wearer was cued
    assert summary["right_stance_drop_deg"] > summary["left_stance_drop_deg"] + 2
    assert summary["cues"] > 0
    assert summary["engine"] == "micropython"


def test_engines_give_identical_outputs(walk, tmp_path):
    a, b = tmp_path / "mp", tmp_path / "cp"
    assert main(["replay", str(walk), "--out", str(a), "-q"]) == 0
    assert main(["replay", str(walk), "--out", str(b), "-q", "--engine", "cpython"]) == 0
    for name in ("samples.csv", "steps.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    sa = json.loads((a / "summary.json").read_text())
    sb = json.loads((b / "summary.json").read_text())
    assert sa.pop("engine") == "micropython" and sb.pop("engine") == "cpython"
    assert sa == sb


def test_engines_identical_on_real_walk(data_dir, tmp_path):
    trace = data_dir / "mobgap_HA_001_Test5_Trial1.trace.csv"
    outs = []
    for engine in ("micropython", "cpython"):
        out = tmp_path / engine
        args = ["replay", str(trace), "--out", str(out), "--no-calibrate", "-q"]
        assert main(args + ["--engine", engine]) == 0
        outs.append(out)
    for name in ("samples.csv", "steps.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes()


def test_set_changes_the_threshold(walk, tmp_path):
    lo, hi = tmp_path / "lo", tmp_path / "hi"
    assert main(["replay", str(walk), "--out", str(lo), "-q", "--set", "threshold_deg=4"]) == 0
    assert main(["replay", str(walk), "--out", str(hi), "-q", "--set", "threshold_deg=15"]) == 0
    s_lo = json.loads((lo / "summary.json").read_text())
    s_hi = json.loads((hi / "summary.json").read_text())
    assert s_lo["config"]["threshold_deg"] == "4.0"
    assert s_lo["cues"] > s_hi["cues"]
    assert s_hi["cues"] == 0


def _bad(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _still_rows(n: int, t0: float = 0.0) -> list[str]:
    return [f"{t0 + i * 0.01:.2f},1.0,0.0,0.0,0.0,0.0,0.0" for i in range(n)]


BAD_CASES = {
    "missing-column": ("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps\n0,1,0,0,0,0\n", ":1: missing column"),
    "non-numeric": (HEADER + "\n0.00,1,0,0,0,0,0\n0.01,abc,0,0,0,0,0\n", ":3: column ax_g"),
    "non-finite": (HEADER + "\n0.00,1,0,0,0,0,0\n0.01,1,0,0,nan,0,0\n", ":3: column gx_dps"),
    "not-increasing": (HEADER + "\n0.00,1,0,0,0,0,0\n0.01,1,0,0,0,0,0\n0.01,1,0,0,0,0,0\n", ":4:"),
    "empty": ("", "empty file"),
    "header-only": ("# rate_hz: 100\n" + HEADER + "\n", "no samples"),
    "wrong-field-count": (HEADER + "\n0.00,1,0,0,0,0\n", ":2: expected 7 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_one_line_error_and_nothing_written(case, tmp_path, capsys):
    text, expect = BAD_CASES[case]
    p = _bad(tmp_path, f"{case}.csv", text)
    out = tmp_path / "out"
    assert main(["replay", str(p), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("hipcue: error: ") and str(p) in err and expect in err
    assert not out.exists()


def test_no_still_period_is_an_error(tmp_path, capsys):
    # 15 s of rotation: never still, so no calibration (unless told not to calibrate).
    rows = [
        f"{i * 0.01:.2f},1.0,0.0,0.0,0.0,0.0,{30 if (i // 50) % 2 else -30}.0" for i in range(1500)
    ]
    p = _bad(
        tmp_path,
        "moving.csv",
        "# mount: forward=+y left=+z up=+x\n" + HEADER + "\n" + "\n".join(rows) + "\n",
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["replay", str(p), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no still period" in err and str(p) in err and len(err.splitlines()) == 1
    assert sorted(x.name for x in out.iterdir()) == ["keep.txt"]
    assert main(["replay", str(p), "--out", str(out), "--no-calibrate", "-q"]) == 0
    assert (out / "samples.csv").exists()


def test_bad_set_and_mount_are_errors(walk, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["replay", str(walk), "--out", str(out), "--set", "threshold_deg=99"]) == 1
    assert "threshold_deg" in capsys.readouterr().err
    assert main(["replay", str(walk), "--out", str(out), "--set", "nonsense=1"]) == 1
    assert "unknown config key" in capsys.readouterr().err
    assert (
        main(["replay", str(walk), "--out", str(out), "--mount", "forward=+x left=+x up=+z"]) == 1
    )
    assert "mount" in capsys.readouterr().err
    assert not out.exists()


def test_mount_line_in_trace_is_used(data_dir, tmp_path):
    trace = data_dir / "mobgap_HA_001_Test5_Trial2.trace.csv"
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["replay", str(trace), "--out", str(a), "--no-calibrate", "-q"]) == 0
    args = ["replay", str(trace), "--out", str(b), "--no-calibrate", "-q"]
    assert main(args + ["--mount", "forward=+z left=-y up=+x"]) == 0
    assert (a / "samples.csv").read_bytes() == (b / "samples.csv").read_bytes()
    s = json.loads((a / "summary.json").read_text())
    assert s["config"]["mount"] == "forward=+z left=-y up=+x"


def test_console_script_runs(walk, tmp_path):
    exe = Path(micropython_bin()).parent / "hipcue"
    out = tmp_path / "out"
    r = subprocess.run(
        [str(exe), "replay", str(walk), "--out", str(out)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("steps ")


def test_every_module_imports_on_micropython():
    """Everything the manifest ships (but the board layer, which needs `machine`, and the
    entry point) and the simulation that runs the firmware import on the unix port."""
    from sim.manifest import shipped

    mods = sorted(
        target[:-3].replace("/", ".")
        for _src, target in shipped()
        if target.endswith(".py")
        and target not in ("main.py", "device/main.py")
        and target != "device/board.py"
        and not target.endswith("__init__.py")
    )
    mods += ["sim.board", "sim.job", "sim.run", "sim.unix_main"]
    code = "\n".join(f"import {m}" for m in mods) + "\nprint('ok')\n"
    r = subprocess.run(
        [micropython_bin(), "-c", code],
        cwd=ROOT,
        env={"MICROPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert r.stdout.strip() == "ok", r.stdout + r.stderr


def test_wrong_mount_fails_calibration_with_a_clear_error(tmp_path, capsys):
    # Sensor z reads +1 g standing, but the mount says forward=-z: forward would point down.
    rows = [f"{i * 0.01:.2f},0.0,0.0,1.0,0.0,0.0,0.0" for i in range(300)]
    p = _bad(tmp_path, "flat.csv", HEADER + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert main(["replay", str(p), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "calibration failed" in err and "forward axis" in err and str(p) in err
    assert not out.exists()
    assert (
        main(["replay", str(p), "--out", str(out), "-q", "--mount", "forward=+x left=+y up=+z"])
        == 0
    )
