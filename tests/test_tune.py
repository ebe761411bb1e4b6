"""`hipcue tune`: what-if settings re-run through the firmware (via replay), side by side, and
threshold suggestions from the wearer's baseline."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hipcue import HipcueError, synth
from hipcue.cli import main
from hipcue.metrics import Step, cues_by_stance, suggest_threshold
from hipcue.replay import replay
from hipcue.session import load_session
from hipcue.tune import parse_setting, what_if
from tests.conftest import ROOT

SAMPLES = ROOT / "tests" / "data" / "sessions"
RAW = SAMPLES / "2025-11-17-walk.trace.csv"


def _steps(left: list[float], right: list[float]) -> list[Step]:
    out = []
    for k, (a, b) in enumerate(zip(left, right, strict=True)):
        out.append(Step(2.0 * k, "L", a, 0))
        out.append(Step(2.0 * k + 1.0, "R", b, 0))
    return out


def test_table_side_by_side_matches_replay(tmp_path, capsys):
    args = ["tune", str(RAW), "--set", "threshold=7", "--set", "threshold_deg=8"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    labels = [r["setting"] for r in rows]
    assert labels == [
        "as recorded",
        "threshold_deg=7",
        "threshold_deg=8",
        "suggested: reduction 20 %",
        "suggested: worst 30 %",
    ]
    # each row is what `hipcue replay --set ...` (the firmware's own code) gives
    for row in rows[:3]:
        sets = [f"{k}={v}" for k, v in row["changes"].items()]
        expect = replay(RAW, tmp_path / row["setting"], sets=sets)
        assert row["summary"]["cues"] == expect["cues"]
        assert row["summary"]["steps"] == expect["steps"]
        assert row["config"]["threshold_deg"] == expect["config"]["threshold_deg"]
    cues = [r["summary"]["cues"] for r in rows[:3]]
    assert cues[0] >= cues[1] >= cues[2] and cues[0] > cues[2]
    # the text table shows the same counts
    assert main(args) == 0
    text = capsys.readouterr().out
    for r in rows:
        line = next(x for x in text.splitlines() if x.startswith(r["setting"] + " "))
        assert f" {r['summary']['cues']} " in line
    assert "suggested threshold_deg=" in text and "median right stance drop" in text


def test_worst_percent_rule_cues_about_that_share(capsys):
    # the weak-right sample: the suggestion is taken on right stance; re-run through the firmware,
    # about the worst 30 % of right-stance steps are cued, and none in left stance
    assert main(["tune", str(RAW), "--json", "--reduction", "0", "--worst", "30"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["setting"] for r in rows] == ["as recorded", "suggested: worst 30 %"]
    sug = rows[1]
    assert sug["suggestion"]["side"] == "R"
    n = sug["summary"]["right_stance_steps"]
    assert 0.1 * n <= sug["cues_by_stance"]["R"] <= 0.5 * n
    assert sug["cues_by_stance"]["L"] == 0


def test_weak_left_suggestions(tmp_path):
    tr = synth.generate(synth.PRESETS["weak-left"](24.0), seed=21)
    p = tmp_path / "weak-left.trace.csv"
    synth.write_trace_csv(tr, p)
    sess = load_session(p)
    out = what_if(sess, [], reduction_pct=20.0, worst_pct=30.0)
    red, worst = out[1], out[2]
    assert red.suggestion is not None and worst.suggestion is not None
    assert red.suggestion.side == "L" and worst.suggestion.side == "L"
    med = sess.summary["left_stance_drop_deg"]
    assert red.suggestion.threshold_deg == pytest.approx(0.8 * med, abs=0.06)
    assert red.session.config["threshold_deg"] == f"{red.suggestion.threshold_deg:.1f}"
    n_left = sess.summary["left_stance_steps"]
    by = worst.cues_by_stance()
    assert 0.1 * n_left <= by["L"] <= 0.5 * n_left and by["R"] == 0


def test_suggest_threshold_rules():
    steps = _steps([4.0] * 10, [float(x) for x in range(5, 15)])  # right: 5..14, median 9.5
    s = suggest_threshold(steps, "reduction", 20.0)
    assert (s.side, s.threshold_deg) == ("R", 7.6)
    assert "80 % of the median right stance drop (9.5 deg" in s.explanation
    w = suggest_threshold(steps, "worst", 30.0)
    assert w.threshold_deg == pytest.approx(np.percentile(np.arange(5, 15), 70), abs=0.05)
    assert sum(d > w.threshold_deg for d in range(5, 15)) == 3  # the worst 30 %
    # clamped to the configuration's range, and said so
    tiny = suggest_threshold(_steps([0.5] * 4, [1.0] * 4), "reduction", 50.0)
    assert tiny.threshold_deg == 1.0 and "clamped" in tiny.explanation
    with pytest.raises(ValueError, match="both stance sides"):
        suggest_threshold([Step(0.0, "L", 5.0, 0)], "reduction", 20.0)
    with pytest.raises(ValueError):
        suggest_threshold(steps, "worst", 100.0)


def test_cues_by_stance_from_the_dropped_side():
    assert cues_by_stance([7.0, -6.5, -8.0, 0.0]) == {"L": 1, "R": 2}


def test_parse_setting_and_aliases():
    assert parse_setting("threshold=7,refractory=500") == [
        ("threshold_deg", "7"),
        ("refractory_ms", "500"),
    ]
    assert parse_setting("hysteresis_deg=0.5") == [("hysteresis_deg", "0.5")]
    with pytest.raises(HipcueError):
        parse_setting("threshold")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "thresh=7"], "unknown config key"),
        (["--set", "threshold_deg=40"], "out of range"),
        (["--set", "threshold_deg"], "KEY=VALUE"),
        (["--worst", "120"], "between 0 and 100"),
    ],
)
def test_bad_settings_are_one_line_errors(capsys, args, words):
    assert main(["tune", str(RAW), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("hipcue: error: ") and "\n" not in err and words in err


def test_replay_folder_needs_its_raw_capture(tmp_path, capsys):
    # the shipped replay folders name traces that are not shipped: no raw capture to re-run
    assert main(["tune", str(SAMPLES / "2025-11-03-walk")]) == 1
    assert "no raw capture" in capsys.readouterr().err
    # a replay folder whose trace is still there is re-run from that trace
    raw = tmp_path / "walk.trace.csv"
    shutil.copy(RAW, raw)
    replay(raw, tmp_path / "out", sets=["threshold_deg=7"])
    assert main(["tune", str(tmp_path / "out"), "--json", "--reduction", "0", "--worst", "0"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["config"]["threshold_deg"] == "7.0"  # as recorded = the folder's config
