"""Feedback rules of issue #7 on synthetic walks with known truth, run on the MicroPython unix
port (and CPython, for identity): data-quality gates with their suppression counters,
per-side thresholds, stride rules, schedules (faded, probe blocks), side patterns and
pulse lengths; plus the host-side baseline thresholds and the config keys.

The driver (DRIVER, written to a file per run) builds the App over a replay job exactly as
sim/run.py does and prints one JSON line: cues, cue starts (sample index and side),
motor switching, steps (ic, side, drop, cued, probe) and App.feedback_counters().
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipcue.replay import run_firmware
from hipcue.synth import Segment, generate, sensor_from_body, write_trace_csv
from hipcue.trace import read_trace
from shared import feedback
from shared.config import FEEDBACK_KEYS, SCHEMA, Config, ConfigError, format_milli
from sim.job import read_job, write_job
from tests.conftest import ROOT, micropython_bin
from tests.test_alloc import prepare_job

DRIVER = r"""
import json
import sys
from array import array

from sim.run import load_job


def main(job_dir):
    job, board, app = load_job(job_dir)
    fires = []
    steps = []
    while board.next_sample():
        app.tick()
        if app.cue.fired:
            fires.append([board.i, app.cue.drop_side])
        while app.ring_tail != app.ring_head:
            j = app.ring_tail & 31
            steps.append(
                [app.ring_ic[j], app.ring_stance[j], app.ring_drop[j], app.ring_cued[j],
                 app.ring_probe[j]]
            )
            app.ring_tail += 1
    motor = [[board.motor_n[k], board.motor_v[k]] for k in range(board.motor_events)]
    out = {
        "cues": app.cue.cues,
        "fires": fires,
        "motor": motor,
        "steps": steps,
        "counters": app.feedback_counters(),
        "calibrated": app.calibrated,
        "missed": app.missed,
    }
    print(json.dumps(out))


main(sys.argv[1])
"""

HZ = 100
WALK = 105.0  # cadence, steps/min
THR = 6.0  # default threshold_deg


def walk(seconds, left_stance_drop, right_stance_drop, kind="walk", turn=0.0):
    """left_stance_drop: the RIGHT side's drop during left stance (synth's convention)."""
    return Segment(kind, seconds, WALK, left_stance_drop, right_stance_drop, turn)


def course(*middle, seed=0):
    return generate([Segment("stand", 3.0), *middle, Segment("stand", 2.0)], seed=seed)


def run_job(job: Path, engine: str = "micropython") -> dict:
    script = job / "driver.py"
    script.write_text(DRIVER)
    if engine == "micropython":
        cmd = [micropython_bin(), "-X", "heapsize=64M", str(script), str(job)]
        env = dict(os.environ, MICROPYPATH=str(ROOT))
    else:
        cmd = [sys.executable, str(script), str(job)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(tmp_path, trace, sets=(), name="run", calibrate=True, engine="micropython", edit=None):
    """Write the trace, prepare the job (as `hipcue replay` does), optionally edit its counts
    and dt (edit(counts, dt) on int arrays), run the driver."""
    path = tmp_path / f"{name}.trace.csv"
    if not path.exists():
        write_trace_csv(trace, path)
    job = tmp_path / f"job-{name}-{engine}"
    prepare_job(job, path, calibrate, tuple(s.split("=", 1) for s in sets))
    if edit is not None:
        spec, counts, dt = read_job(str(job))
        counts, dt = edit(np.array(counts, dtype="<i2").reshape(-1, 6), np.array(dt, dtype="<i4"))
        del spec["n"]
        write_job(job, np.ascontiguousarray(counts, "<i2"), np.ascontiguousarray(dt, "<i4"), **spec)
    return run_job(job, engine)


def walking_steps(r):
    return len(r["steps"])


def pulses(r, start, end):
    """Motor switch-ons in [start, end)."""
    return sum(1 for n, v in r["motor"] if v == 1 and start <= n < end)


@pytest.fixture(scope="module")
def weak_right():
    """The right side drops 8.5 deg during left stance (2.5 deg past the default threshold),
    the left 3 deg: 60 s of straight walking."""
    return course(walk(60.0, 8.5, 3.0))


@pytest.fixture(scope="module")
def base(tmp_path_factory, weak_right):
    tmp = tmp_path_factory.mktemp("base")
    return tmp, run(tmp, weak_right, name="weak-right")


# -- defaults --------------------------------------------------------------------------------


def test_defaults_cue_every_qualifying_stance_and_only_those(base):
    _tmp, r = base
    steps = r["steps"]
    right = [s for s in steps if s[1] == 0]  # left stance: the right side's drop
    assert len(steps) > 90
    assert r["cues"] >= len(right) - 4  # all but the first steps (walking not yet detected)
    assert all(side == 1 for _n, side in r["fires"])  # only the right side dropped
    assert sum(s[3] for s in steps if s[1] == 1) == 0  # no left-stance step cued
    assert sum(s[4] for s in steps) == 0  # no probe blocks by default
    c = r["counters"]
    assert c["withheld_stride"] == c["withheld_fade"] == c["withheld_probe"] == 0


def test_micropython_and_cpython_agree(tmp_path, weak_right):
    sets = ("stride_n=2", "stride_m=3", "feedback=faded", "session_index=1", "cue_side_pattern=1")
    a = run(tmp_path, weak_right, sets, name="wr")
    b = run(tmp_path, weak_right, sets, name="wr", engine="cpython")
    assert a == b


def test_replay_default_matches_the_driver(base):
    tmp, r = base
    res = run_firmware(read_trace(tmp / "weak-right.trace.csv"), engine="micropython")
    assert res.firmware["cues"] == r["cues"] and len(res.steps) == len(r["steps"])


# -- gating ----------------------------------------------------------------------------------


def _standing_hitch(seconds_level=3.0, hitch_deg=8.0, hold_s=5.0):
    """Counts of a still pelvis that hitches (rolls hitch_deg, the right side down) and back:
    accel = the up vector, gyro = the roll rate, through the default mount."""
    from hipcue.synth import DEFAULT_MOUNT

    m = sensor_from_body(DEFAULT_MOUNT, 0.0)
    n0, nr, nh = int(seconds_level * HZ), HZ, int(hold_s * HZ)
    x = np.r_[np.zeros(n0), (1 - np.cos(np.linspace(0, math.pi, nr))) / 2, np.ones(nh)]
    x = np.r_[x, x[n0 : n0 + nr][::-1], np.zeros(n0)]
    phi = np.radians(hitch_deg) * x
    dphi = np.gradient(phi) * HZ
    up = np.c_[np.zeros_like(phi), np.sin(phi), np.cos(phi)]
    gyro = np.c_[np.degrees(dphi), np.zeros_like(phi), np.zeros_like(phi)]
    acc = up @ m.T / 0.244e-3
    gy = gyro @ m.T / 70e-3
    return np.rint(np.c_[acc, gy]).astype(np.int64)


def test_standing_with_a_hitched_hip_is_gated_and_counted(tmp_path, weak_right):
    counts = _standing_hitch()

    def edit(_c, _dt):
        return counts, np.full(len(counts), 10000)

    r = run(tmp_path, weak_right, name="hitch", calibrate=False, edit=edit)
    assert r["cues"] == 0 and r["steps"] == []
    c = r["counters"]
    assert c["gated"] == 1 and c["gated_walk"] == 1 and c["gated_init"] == 0, c
    # with walking-only off, the same hitch cues once
    r = run(tmp_path, weak_right, ("cue_walking_only=0",), "hitch", False, edit=edit)
    assert r["cues"] == 1 and r["counters"]["gated"] == 0


def test_sharp_turn_is_gated(tmp_path):
    # a full turn in 5 s (72 deg/s on average) between straight walks
    tr = course(walk(15.0, 8.5, 3.0), walk(5.0, 8.5, 3.0, "turn", 360.0), walk(15.0, 8.5, 3.0))
    off = run(tmp_path, tr, ("turn_gate_dps=0",), name="turn")
    on = run(tmp_path, tr, name="turn")  # the default gate: 60 deg/s over ~250 ms
    assert off["counters"]["gated_turn"] == 0
    assert on["counters"]["gated_turn"] >= 2, on["counters"]
    assert off["cues"] - on["cues"] >= on["counters"]["gated_turn"]
    # the suppressed cues are those of the turn (18..23 s: after the 3 s stand), and of the
    # gate's release (low-pass lag, then turn_hold_ms)
    lost = {n for n, _s in off["fires"]} - {n for n, _s in on["fires"]}
    assert lost and all(18 * HZ <= n < 23.8 * HZ for n in lost), lost
    assert on["cues"] > 15  # straight walking still cues


def test_saturation_is_gated(tmp_path, weak_right):
    hits = np.arange(20 * HZ, 40 * HZ, 200)  # one saturated sample every 2 s for 20 s

    def edit(c, dt):
        c[hits, 0] = 32767
        c[hits + 100, 4] = -32768
        return c, dt

    r = run(tmp_path, weak_right, name="weak-right", edit=edit)
    c = r["counters"]
    assert c["gated_sat"] >= 8, c
    # nothing within sat_gate_ms (500 ms) after a saturated sample
    sat = np.r_[hits, hits + 100]
    assert not any(((n - sat >= 0) & (n - sat <= 50)).any() for n, _s in r["fires"])
    off = run(tmp_path, weak_right, ("sat_gate_ms=0",), "weak-right", edit=edit)
    assert off["counters"]["gated_sat"] == 0 and off["cues"] > r["cues"]


def test_convergence_after_start_and_after_a_gap_is_gated(tmp_path, weak_right):
    # a long init period: the first cues of the walk are suppressed as converging
    r = run(tmp_path, weak_right, ("init_ms=9000",), "weak-right")
    c = r["counters"]
    assert c["gated_init"] >= 1, c
    # a 2 s hole in the samples mid-walk: nothing for gap_settle_ms after it
    cut = 30 * HZ

    def edit(counts, dt):
        keep = np.r_[0:cut, cut + 2 * HZ : len(dt)]
        dt = dt.copy()
        dt[cut + 2 * HZ] = 2 * HZ * 10000 + 10000
        return counts[keep], dt[keep]

    sets = ("gap_settle_ms=3000",)
    r = run(tmp_path, weak_right, sets, "weak-right", edit=edit)
    assert r["missed"] == 2 * HZ
    assert r["counters"]["gated_gap"] >= 1, r["counters"]
    assert not any(cut <= n < cut + 3 * HZ for n, _s in r["fires"])
    assert any(cut + 3 * HZ <= n for n, _s in r["fires"])


# -- thresholds ------------------------------------------------------------------------------


def test_per_side_thresholds(tmp_path):
    tr = course(walk(40.0, 8.0, 7.0))  # right side drops 8, left side 7 deg
    short = "refractory_ms=300"  # a step is 570 ms: both sides can cue
    both = run(tmp_path, tr, (short,), name="two")
    sides = {s for _n, s in both["fires"]}
    assert sides == {0, 1}
    r = run(tmp_path, tr, (short, "threshold_left_deg=7.8"), name="two")
    assert {s for _n, s in r["fires"]} == {1}
    sets = (short, "threshold_right_deg=9.5", "threshold_left_deg=6.5")
    r = run(tmp_path, tr, sets, name="two")
    assert {s for _n, s in r["fires"]} == {0}
    assert r["cues"] > 20


def test_baseline_threshold_from_a_calibration_walk(tmp_path):
    tr = course(walk(40.0, 8.0, 5.0))
    res = run_firmware(_write(tmp_path, tr, "cal"), engine="micropython")
    steps = [(s.stance, round(s.drop_deg * 1000)) for s in res.steps]
    sets = feedback.baseline_sets(steps, k_milli=1500)
    vals = dict(s.split("=") for s in sets)
    assert 8.0 < float(vals["threshold_right_deg"]) < 10.5
    assert 5.0 < float(vals["threshold_left_deg"]) < 7.0
    # the wearer's own upper fence: their usual walk gives (almost) no cues
    after = run_firmware(_write(tmp_path, tr, "cal"), sets=sets, engine="micropython")
    assert after.firmware["cues"] <= 2
    # a 30 % reduction target: the usual walk cues on (nearly) every right drop
    sets = feedback.baseline_sets(steps, reduce_pct=30)
    vals = dict(s.split("=") for s in sets)
    med = float(np.median([d for st, d in steps if st == "L"])) / 1000
    assert abs(float(vals["threshold_right_deg"]) - 0.7 * med) < 0.01


def _write(tmp_path, tr, name):
    path = tmp_path / f"{name}.trace.csv"
    if not path.exists():
        write_trace_csv(tr, path)
    return read_trace(path)


def test_baseline_arithmetic():
    assert feedback.percentile_milli([1, 2, 3, 4], 50) == 3  # 2.5 rounded half up
    assert feedback.percentile_milli([5000], 75) == 5000
    assert feedback.baseline_threshold_mdeg([4000] * 9 + [6000], 1500) == 4000
    assert feedback.baseline_threshold_mdeg([100] * 5) == 1000  # clamped to the config's range
    with pytest.raises(ValueError):
        feedback.baseline_sets([("L", 5000)] * 3)


# -- stride rules ----------------------------------------------------------------------------


def test_n_of_m_stances(tmp_path, weak_right, base):
    _tmp, r11 = base
    r23 = run(tmp_path, weak_right, ("stride_n=2", "stride_m=3"), "weak-right")
    # every right drop is past the threshold: at most the first ones of the walk (while
    # walking is not yet detected, no cue anyway) lack the history
    assert r11["cues"] - 2 <= r23["cues"] <= r11["cues"]
    # a 3 deg walk never has a stance past 6 deg: nothing to count either way
    tr = course(walk(30.0, 3.0, 3.0))
    r = run(tmp_path, tr, ("stride_n=1", "stride_m=4"), "healthy")
    assert r["cues"] == 0


def test_n_of_m_needs_the_history_on_intermittent_drops(tmp_path):
    # 8.5 deg drops for 12 s, 4 deg for 12 s, alternately: N=3 of M=3 loses the first two
    # right drops of each bad bout
    segs = []
    for _ in range(3):
        segs += [walk(12.0, 8.5, 3.0), walk(12.0, 4.0, 3.0)]
    tr = course(*segs)
    r11 = run(tmp_path, tr, name="bouts")
    r33 = run(tmp_path, tr, ("stride_n=3", "stride_m=3"), name="bouts")
    lost = r11["cues"] - r33["cues"]
    assert 5 <= lost <= 8, (r11["cues"], r33["cues"])
    assert r33["counters"]["withheld_stride"] >= lost


def test_refractory_in_strides(tmp_path, weak_right, base):
    _tmp, r0 = base
    r = run(tmp_path, weak_right, ("refractory_strides=2",), "weak-right")
    # a right drop every stride; after a cue, two strides must complete: the stance two
    # strides on is the next that may cue (refractory_ms alone allows every stride)
    assert r0["cues"] // 2 <= r["cues"] <= r0["cues"] // 2 + 1
    idx = [n for n, _s in r["fires"]]
    gaps = np.diff(idx)
    assert gaps.min() >= 2 * 2 * 60 / WALK * HZ * 0.9


def test_hysteresis_in_strides(tmp_path):
    segs = []
    for _ in range(3):
        segs += [walk(8.0, 8.5, 3.0), walk(8.0, 3.0, 3.0)]
    tr = course(*segs)
    r = run(tmp_path, tr, ("hysteresis_strides=3",), name="bouts2")
    # a right cue needs three right stances below 5 deg since the last: one cue per bad bout
    assert r["cues"] == 3, r["fires"]


# -- schedules -------------------------------------------------------------------------------


def test_fade_pct_over_sessions():
    assert [feedback.fade_pct(100, 0, 2, s) for s in range(4)] == [100, 50, 0, 0]
    assert [feedback.fade_pct(100, 20, 3, s) for s in range(4)] == [100, 73, 47, 20]
    cfg = Config()
    assert feedback.session_fade_pct(cfg) == 100
    cfg.set("feedback", "faded")
    assert feedback.session_fade_pct(cfg) == 100  # session 0
    cfg.set("session_index", "3")
    assert feedback.session_fade_pct(cfg) == 0


def test_faded_schedule_across_sessions(tmp_path, weak_right, base):
    _tmp, r0 = base
    got = []
    for session in range(3):
        sets = ("feedback=faded", "fade_sessions=2", f"session_index={session}")
        r = run(tmp_path, weak_right, sets, "weak-right")
        got.append((r["cues"], r["counters"]["withheld_fade"]))
    assert got[0] == (r0["cues"], 0)
    qualifying = r0["cues"]
    assert got[1][0] == qualifying // 2 and got[1][0] + got[1][1] == qualifying
    assert got[2] == (0, qualifying)
    # bandwidth is the continuous schedule with its tolerance = the threshold
    r = run(tmp_path, weak_right, ("feedback=bandwidth",), "weak-right")
    assert r["fires"] == r0["fires"]


def test_probe_blocks(tmp_path, weak_right, base):
    _tmp, r0 = base
    r = run(tmp_path, weak_right, ("probe_every_steps=20", "probe_len_steps=8"), "weak-right")
    steps = r["steps"]
    flags = [s[4] for s in steps]
    assert sum(flags) >= 30 and r["counters"]["probe_steps"] == sum(flags)
    # the blocks: 8 probe steps at the end of every 20
    text = "".join(map(str, flags))
    assert "0" * 12 + "1" * 8 + "0" * 12 + "1" * 8 in text, text
    assert all(s[3] == 0 for s in steps if s[4])  # no probe step cued
    assert r["counters"]["withheld_probe"] >= 10
    assert r["cues"] + r["counters"]["withheld_probe"] == r0["cues"]


# -- haptic cue ------------------------------------------------------------------------------


def test_side_patterns_and_pulse_length(tmp_path):
    tr = course(walk(30.0, 9.0, 7.0))  # right side drops 9 deg, left 7 deg
    short = "refractory_ms=300"
    r = run(tmp_path, tr, (short, "cue_side_pattern=1"), name="pat")
    ons = [n for n, v in r["motor"] if v == 1]
    fires = r["fires"]
    assert {s for _n, s in fires} == {0, 1}
    for n, side in fires:
        assert pulses(r, n, n + 40) == (2 if side == 1 else 1)
    assert len(ons) == sum(2 if s else 1 for _n, s in fires)

    # pulse lengths: default 150 ms; with 100 ms per degree past the threshold, longer for
    # the larger (right) drop, capped by cue_max_ms
    def lengths(res):
        out = {0: [], 1: []}
        on = None
        side_of = {n: s for n, s in res["fires"]}
        for n, v in res["motor"]:
            if v:
                on = n
            elif on is not None and on in side_of:
                out[side_of[on]].append(n - on)
        return out

    base_len = lengths(run(tmp_path, tr, (short,), name="pat"))
    assert set(base_len[0] + base_len[1]) == {15}
    sets = (short, "cue_ms_per_deg=100", "cue_max_ms=400")
    longer = lengths(run(tmp_path, tr, sets, name="pat"))
    assert 15 < np.median(longer[0]) < np.median(longer[1]) <= 40


# -- configuration ---------------------------------------------------------------------------


def test_feedback_keys_leave_default_headers_alone_and_round_trip():
    """FEEDBACK_KEYS (shared/config.py) are the keys a session header records only when they
    differ from their defaults. A default header has none of them (headers stay what they were
    before the feedback rules), and any one changed is recorded and read back exactly (a
    reader takes an absent key as its default)."""
    from device.logstore import _header_config
    from shared.config import EXERCISE_KEYS, POWER_KEYS  # issues 16 and 15: the same rule

    quiet = FEEDBACK_KEYS + EXERCISE_KEYS + POWER_KEYS
    default = _header_config(Config())
    assert not set(quiet) & set(default)
    assert set(default) | set(quiet) == set(SCHEMA)
    for key in quiet:
        kind, dflt, lo, hi = SCHEMA[key][:4]
        cfg = Config()
        if kind == "choice":
            cfg.set(key, {"mode": "clamshell", "ex_side": "right"}.get(key, "faded"))
        else:
            v = hi if dflt != hi else lo
            if key in ("threshold_left_deg", "threshold_right_deg"):
                v = 7000
            cfg.set(key, str(v) if kind == "int" else format_milli(v))
        header = _header_config(cfg)
        assert key in header and len(header) == len(default) + 1, key
        back = Config()
        back.load_dict(header)
        assert back.values == cfg.values, key


def test_feedback_keys_are_validated():
    cfg = Config()
    cfg.set("threshold_left_deg", "7.25")
    assert cfg["threshold_left_deg"] == 7250
    cfg.set("threshold_left_deg", "0")
    for key, bad in (
        ("threshold_left_deg", "0.5"),
        ("threshold_right_deg", "21"),
        ("feedback", "sometimes"),
        ("stride_m", "9"),
        ("fade_end_pct", "101"),
    ):
        with pytest.raises(ConfigError):
            cfg.set(key, bad)
    cfg.set("feedback", "Faded")
    assert cfg["feedback"] == "faded"


def test_replay_summary_reports_withheld_cues(tmp_path):
    """The feedback counters reach summary.json: standing with a hitched hip is counted as
    'not walking', not silently dropped."""
    import json

    from hipcue import synth
    from hipcue.cli import main

    tr = synth.generate([synth.Segment("stand", 20.0)], seed=1)
    p = tmp_path / "stand.csv"
    synth.write_trace_csv(tr, p)
    out = tmp_path / "out"
    sets = ["--set", "threshold_deg=1", "--set", "hysteresis_deg=0.5"]  # re-arms (issue #13)
    assert main(["replay", str(p), "--out", str(out), "-q", *sets]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["cues"] == 0
    assert isinstance(s["feedback"], dict) and s["feedback"]
