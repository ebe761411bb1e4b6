"""shared/steps.py: the causal integer step detector.

- accuracy on the mobgap HA_001 recordings (Apache-2.0, mobilise-d/mobgap example data; see
  /work/shared/data/real/README.md) against both reference systems (INDIP, Stereophoto);
- identical output under the MicroPython unix port, and no heap allocation per update() there;
- every intermediate of the per-sample path within [-2**30, 2**30 - 1] (sim/rangecheck.py);
- side and drop on a hand-made walk, at 50 .. 400 Hz; no steps while standing still.

Run with `-s` for the accuracy table.
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
from array import array

import numpy as np
import pytest

from shared.steps import StepDetector
from sim import rangecheck, stepsig
from tests.conftest import ROOT, micropython_bin, need_data

SRC = ROOT / "shared" / "steps.py"


# ---------------------------------------------------------------- hand-made inputs


def synth_walk(rate_hz, n_steps=12, step_ms=550, drop_l=6000, drop_r=9000, first_side=0, push=None):
    """A straight walk between two standing periods, integer inputs.

    Every step: a vertical push (and forward braking) in the first 150 ms after the IC, the
    pelvis accelerating away from the stance foot, and obliquity with a flat top of drop_l
    (left stance: the right side drops, obl > 0) or -drop_r (right stance). push: optional
    per-step scale of the vertical (and forward) acceleration. Returns (inputs dict, IC sample
    indices, stance sides)."""
    stand0, stand1 = 2.0, 3.0
    step_s = step_ms / 1000.0
    n = int((stand0 + n_steps * step_s + stand1) * rate_hz)
    seed = 12345
    cols = {k: [0] * n for k in stepsig.INPUTS}
    ics, sides = [], []
    for k in range(n_steps):
        ics.append(round((stand0 + k * step_s) * rate_hz))
        sides.append(first_side if k % 2 == 0 else 1 - first_side)
    for i in range(n):
        t = i / rate_hz
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        noise = (seed >> 16) % 11 - 5
        up = left = obl = 0.0
        k = int((t - stand0) // step_s)
        if 0 <= k < n_steps:
            u = t - stand0 - k * step_s
            up = 250.0 * math.sin(math.pi * u / 0.15) if u < 0.15 else -60.0
            if push is not None:
                up *= push[k]
            sway = math.sin(math.pi * u / step_s)
            f = min(1.0, 2.0 * sway)
            if sides[k] == 0:
                left, obl = -120.0 * sway, drop_l * f
            else:
                left, obl = 120.0 * sway, -drop_r * f
        cols["acc_up_mg"][i] = round(up) + noise
        cols["acc_fwd_mg"][i] = round(-up / 2) - noise
        cols["acc_left_mg"][i] = round(left) + noise
        cols["gyro_up_cdps"][i] = 10 * noise
        cols["obl_mdeg"][i] = round(obl) if obl else 20 * noise
    return cols, ics, sides


# The hand-made walks push up and brake forward in one pulse (acc_fwd = -acc_up / 2): they have
# no separate forward-deceleration peak after heel strike, so the contact timing landmark of
# real walks (ic_ref_ms, fitted on the shared recordings) does not apply to them. They also
# end with a step back to standing (acc_up -60 -> 0 mg) that the real-data default of
# beat_rel_pct (10 %: real last steps reach 10-20 % of the walk's peaks) takes for a weak last
# step; they keep the 25 % they were made with.
HAND = {"ic_ref_ms": 0, "beat_rel_pct": 25}


def feed(det, cols, n0=0):
    """Feeds all samples; returns the records and whether walking was ever set."""
    a0, a1, a2, a3, a4 = (cols[k] for k in stepsig.INPUTS)
    out = []
    walked = 0
    for i in range(len(a0)):
        if det.update(n0 + i, a0[i], a1[i], a2[i], a3[i], a4[i]):
            out.append((det.step_ic_n, det.step_stance, det.step_drop_mdeg, det.step_end_n))
        walked |= det.walking
    return out, walked


# ---------------------------------------------------------------- interface and hand-made walk


def test_interface():
    d = StepDetector(10000)
    assert (d.steps, d.walking, d.stance) == (0, 0, -1)
    for name in ("step_ic_n", "step_stance", "step_drop_mdeg", "step_end_n"):
        assert getattr(d, name) == 0
    StepDetector(10000, 250, 1500)  # as the firmware app calls it
    with pytest.raises(ValueError):
        StepDetector(0)
    with pytest.raises(ValueError):
        StepDetector(10000, 800, 500)


def test_finish_reports_the_last_step_when_the_stream_stops():
    # the stream stops 0.5 s after the last IC (before max_step_ms): without finish() that
    # step is never reported; with it, it ends at the last sample, as at a timeout
    cols, ics, sides = synth_walk(100)
    cut = ics[-1] + 50
    short = {k: v[:cut] for k, v in cols.items()}
    d = StepDetector(10000, **HAND)
    recs, _ = feed(d, short)
    while d.pop():
        recs.append((d.step_ic_n, d.step_stance, d.step_drop_mdeg, d.step_end_n))
    assert len(recs) == len(ics) - 1
    assert d.walking == 1
    assert d.finish(cut - 1) == 1
    assert d.pop() == 1 and d.pop() == 0
    assert abs(d.step_ic_n - ics[-1]) <= 8 and d.step_stance == sides[-1]
    assert d.step_end_n == cut - 1
    assert (d.walking, d.stance, d.steps) == (0, -1, len(ics))
    assert d.finish(cut) == 0  # nothing left


def test_a_short_walk_is_reported_when_its_chain_ends():
    # two alternating firm steps are too few to start a walk (three ICs); when the chain ends
    # (max_step_ms without an IC) they are reported with tail_steps=2, not with 0
    cols, ics, sides = synth_walk(100, n_steps=2)
    for tail, want in ((2, 2), (0, 0)):
        d = StepDetector(10000, tail_steps=tail, **HAND)
        recs, walked = feed(d, cols)
        assert walked == 0
        assert len(recs) == want, (tail, recs)
        for (ic_n, side, _drop, _end), ic, sd in zip(recs, ics, sides, strict=False):
            assert abs(ic_n - ic) <= 8 and side == sd


@pytest.mark.parametrize("rate_hz", [50, 100, 200, 400])
def test_side_and_drop_on_a_hand_made_walk(rate_hz):
    cols, ics, sides = synth_walk(rate_hz)
    d = StepDetector(1000000 // rate_hz, **HAND)
    recs, _ = feed(d, cols)
    assert len(recs) == len(ics), recs
    tol = round(0.08 * rate_hz)  # 80 ms (this pulse peaks ~55 ms after its onset)
    for (ic_n, side, drop, end_n), ic, sd in zip(recs, ics, sides, strict=True):
        assert abs(ic_n - ic) <= tol, (ic_n, ic)
        assert side == sd
        assert drop == (6000 if sd == 0 else 9000)
        assert end_n > ic_n
    # each step ends at the next IC; the last one at the timeout (max_step_ms after its IC)
    for a, b in zip(recs, recs[1:], strict=False):
        assert a[3] == b[0]
    assert recs[-1][3] - recs[-1][0] == round(1.5 * rate_hz) + 1
    assert d.steps == len(ics) and d.walking == 0 and d.stance == -1


@pytest.mark.parametrize("rate_hz", [50, 100, 200, 400])
def test_a_fading_walk_keeps_its_weak_steps(rate_hz):
    # A walk that slows to a stop: the vertical push falls by 30 % a step after six firm ones.
    # The beat window (lower threshold where the rhythm expects the next IC) keeps steps the
    # fixed threshold alone loses; every record is still a true IC with the right side.
    push = [1.0] * 6 + [0.7**i for i in range(1, 9)]
    cols, ics, sides = synth_walk(rate_hz, n_steps=len(push), push=push)
    tol = round(0.08 * rate_hz)
    got = {}
    for name, kw in (("beat", {}), ("fixed", {"beat_min_mg": 35})):
        recs, _ = feed(StepDetector(1000000 // rate_hz, **HAND, **kw), cols)
        for ic_n, side, _drop, _end in recs:
            k = min(range(len(ics)), key=lambda i: abs(ics[i] - ic_n))
            assert abs(ics[k] - ic_n) <= tol and side == sides[k], (name, ic_n, side)
        got[name] = len(recs)
    assert got["fixed"] == 10
    assert got["beat"] >= 12


def test_right_first_and_live_state():
    cols, ics, sides = synth_walk(100, n_steps=9, first_side=1, drop_l=3000, drop_r=4000)
    d = StepDetector(10000, **HAND)
    a = [cols[k] for k in stepsig.INPUTS]
    got = []
    stance_seen = set()
    for i in range(len(a[0])):
        if d.update(i, a[0][i], a[1][i], a[2][i], a[3][i], a[4][i]):
            got.append((d.step_stance, d.step_drop_mdeg))
        if d.walking:
            stance_seen.add(d.stance)
    assert got == [(s, 3000 if s == 0 else 4000) for s in sides]
    assert stance_seen == {0, 1}
    d.reset()
    assert (d.steps, d.walking, d.stance) == (0, 0, -1)


def test_reset_gives_the_same_result():
    cols, _, _ = synth_walk(100)
    d = StepDetector(10000)
    first, _ = feed(d, cols)
    d.reset()
    again, _ = feed(d, cols)
    assert first == again


def test_no_steps_standing_still():
    rng = np.random.default_rng(1)
    n = 60 * 100
    cols = {
        "acc_up_mg": rng.integers(-8, 9, n).tolist(),
        "acc_left_mg": rng.integers(-8, 9, n).tolist(),
        "acc_fwd_mg": rng.integers(-8, 9, n).tolist(),
        "gyro_up_cdps": rng.integers(-30, 31, n).tolist(),
        "obl_mdeg": (2000 + rng.integers(-100, 101, n)).tolist(),
    }
    d = StepDetector(10000)
    recs, walked = feed(d, cols)
    assert recs == [] and walked == 0 and d.steps == 0


def test_no_steps_from_isolated_jolts():
    # single jolts (e.g. sitting down, standing up, a bump) 1.6 .. 3 s apart: no rhythm
    cols, _, _ = synth_walk(100, n_steps=1)
    one = {k: v[150:320] for k, v in cols.items()}
    seq = {k: [] for k in stepsig.INPUTS}
    for gap in (160, 300, 200, 170, 250):
        for k in stepsig.INPUTS:
            seq[k] += one[k] + [0] * gap
    d = StepDetector(10000)
    recs, walked = feed(d, seq)
    assert recs == [] and walked == 0


# ---------------------------------------------------------------- mobgap accuracy


@pytest.fixture(scope="module")
def mobgap():
    need_data()
    out = {}
    for trial in stepsig.MOBGAP_TRIALS:
        sig = stepsig.trial_signals(trial)
        det = stepsig.run_detector(sig)
        out[trial] = (sig, det, stepsig.evaluate(trial, det, sig["period_us"]))
    return out


def _table(mobgap):
    lines = ["trial          reference    ICs  matched  side-ok  unmatched (outside bouts+-1s)"]
    for trial, (_, _, ev) in mobgap.items():
        for system in ("INDIP", "Stereophoto"):
            r = ev[system]
            lines.append(
                f"{trial:14s} {system:11s} {r['n_ref']:4d} {r['matched']:8d} {r['side_ok']:8d}"
                f" {r['unmatched']:10d} ({r['outside']})"
            )
        u = ev["union"]
        lines.append(
            f"{trial:14s} {'either':11s} {'':4s} {'':8s} {'':8s} {u['unmatched']:10d}"
            f" ({u['outside']})  {u['unmatched_t']}"
        )
    return "\n".join(lines)


def test_straight_walks_all_ics_and_sides(mobgap):
    print("\n" + _table(mobgap))
    for trial in ("Test5_Trial1", "Test5_Trial2"):
        ev = mobgap[trial][2]
        for system in ("INDIP", "Stereophoto"):
            r = ev[system]
            assert r["matched"] == r["n_ref"], (trial, system, r)
            assert r["side_ok"] == r["matched"], (trial, system, r)
        assert ev["union"]["unmatched"] <= 1, (trial, ev["union"])


def _pooled(mobgap, system):
    n = m = s = 0
    for _, _, ev in mobgap.values():
        r = ev[system]
        n, m, s = n + r["n_ref"], m + r["matched"], s + r["side_ok"]
    return n, m, s


def test_pooled_accuracy_indip(mobgap):
    # The issue's targets are >= 97 % of reference ICs matched within 150 ms on ALL the shared
    # data (bench/gait.py); on mobgap HA_001 alone the defaults chosen on all of it
    # (bench/gait_tune.py, leave-one-subject-out) match 78 of 81: first_rel_pct=40 leaves out
    # the circuit's weak first contact at 38.54 s (jerk 37 mg before a 227 mg one) with the
    # three push-offs it removes elsewhere (ipol S02 T2 and T4, mobgap Test5 Trial2). Guard
    # the measured level; >= 98 % right side.
    n, m, s = _pooled(mobgap, "INDIP")
    print(f"\nINDIP: {m}/{n} = {100 * m / n:.1f} % matched, side {100 * s / m:.1f} %")
    assert m >= 0.96 * n
    assert s >= 0.98 * m


def test_pooled_accuracy_stereophoto(mobgap):
    # Below the issue's 97 % match target: in Test11 the two references themselves agree on only
    # 47 of the 51 ICs where both have a bout, and two of our four misses lie between them
    # (42.10 s / INDIP 42.14 s; 77.78 s / INDIP 77.91 s). Guard the measured level.
    n, m, s = _pooled(mobgap, "Stereophoto")
    print(f"\nStereophoto: {m}/{n} = {100 * m / n:.1f} % matched, side {100 * s / m:.1f} %")
    assert m >= 0.93 * n
    assert s >= 0.98 * m


def test_false_steps_in_the_daily_activity_circuit(mobgap):
    # Regression guard at the measured level (18 outside bouts, 31 in all at the time of
    # writing): detections that match no IC of either reference, and of those the ones
    # farther than 1 s from every bout of either reference (sitting, standing, turning).
    u = mobgap["Test11_Trial1"][2]["union"]
    assert u["outside"] <= 22, u
    assert u["unmatched"] <= 36, u


def test_reported_steps_strictly_increase_through_the_firmware(data_dir):
    # A walk that stops at an irregular step and restarts at the next IC used to report the
    # steps before the stop again with the restart's back-fill (Test11: the App received the
    # steps at samples 4226 and 4346 twice, the second time after a later step).
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    tr = read_trace(data_dir / "mobgap_HA_001_Test11_Trial1.trace.csv")
    res = run_firmware(tr, calibrate=False)
    t = np.array([s.t_s for s in res.steps])
    assert len(t) > 50
    assert np.all(np.diff(t) > 0), t[:-1][np.diff(t) <= 0]


def test_walk_restart_reports_no_step_twice(mobgap):
    # The same on the detector's own inputs (all trials, and a restart forced by a long
    # stop ratio of 0: never stops, and 1: stops at every non-alternating step)
    for trial, (sig, det, _) in mobgap.items():
        ics = [r[0] for r in det]
        assert all(b > a for a, b in zip(ics, ics[1:], strict=False)), trial
        for stop in (1, 10, 100):
            ics = [r[0] for r in stepsig.run_detector(sig, stop_ratio_pct=stop)]
            assert all(b > a for a, b in zip(ics, ics[1:], strict=False)), (trial, stop)


@pytest.mark.parametrize("rate_hz", [50, 200])
def test_straight_walk_at_other_rates(data_dir, rate_hz):
    sig = stepsig.trial_signals("Test5_Trial1", rate_hz=rate_hz)
    det = stepsig.run_detector(sig)
    ev = stepsig.evaluate("Test5_Trial1", det, sig["period_us"])
    for system in ("INDIP", "Stereophoto"):
        r = ev[system]
        assert r["matched"] == r["n_ref"] and r["side_ok"] == r["matched"], (system, r)


# ---------------------------------------------------------------- MicroPython

_MP_RUN = """
import sys
from shared.steps import StepDetector
f = open(sys.argv[1])
d = StepDetector(int(f.readline()))
i = 0
for line in f:
    v = line.split()
    if d.update(i, int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4])):
        print(d.step_ic_n, d.step_stance, d.step_drop_mdeg, d.step_end_n, d.steps)
    i += 1
"""

_MP_ALLOC = """
import gc, sys, micropython
from array import array
from shared.steps import StepDetector
N = 10000
f = open(sys.argv[1])
period = int(f.readline())
b = [array('i', [0] * N) for _ in range(5)]
i = 0
for line in f:
    if i == N:
        break
    v = line.split()
    for k in range(5):
        b[k][i] = int(v[k])
    i += 1
b0, b1, b2, b3, b4 = b
res = array('i', [0] * 4)
d = StepDetector(period)

def run(d, b0, b1, b2, b3, b4, n, res):
    gc.collect()
    a0 = gc.mem_alloc()
    t0 = micropython.mem_total()
    s = 0
    for i in range(n):
        s += d.update(i, b0[i], b1[i], b2[i], b3[i], b4[i])
    t1 = micropython.mem_total()
    a1 = gc.mem_alloc()
    res[0] = a1 - a0
    res[1] = t1 - t0
    res[2] = s

run(d, b0, b1, b2, b3, b4, 0, res)
print('empty', res[0], res[1], res[2])
run(d, b0, b1, b2, b3, b4, N, res)
print('run', res[0], res[1], res[2], d.steps)
"""


def _write_inputs(path, sig):
    with open(path, "w") as f:
        f.write(f"{sig['period_us']}\n")
        cols = [sig[k] for k in stepsig.INPUTS]
        for i in range(len(cols[0])):
            f.write(" ".join(str(int(c[i])) for c in cols) + "\n")


def _micropython(script, *args):
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    p = subprocess.run(
        [micropython_bin(), str(script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_micropython_gives_the_same_steps(mobgap, tmp_path):
    sig, det, _ = mobgap["Test11_Trial1"]
    _write_inputs(tmp_path / "in.txt", sig)
    (tmp_path / "run.py").write_text(_MP_RUN)
    out = _micropython(tmp_path / "run.py", tmp_path / "in.txt")
    got = [tuple(int(x) for x in line.split()[:4]) for line in out.splitlines()]
    assert len(det) > 50
    assert got == det


def test_micropython_update_does_not_allocate(mobgap, tmp_path):
    sig, _, _ = mobgap["Test11_Trial1"]  # first 10,000 samples: four walking bouts
    _write_inputs(tmp_path / "in.txt", sig)
    (tmp_path / "alloc.py").write_text(_MP_ALLOC)
    out = _micropython(tmp_path / "alloc.py", tmp_path / "in.txt").split("\n")
    empty = out[0].split()
    run = out[1].split()
    assert empty[1:3] == ["0", "0"], out  # the measuring code itself allocates nothing
    assert int(run[3]) >= 30, out  # steps were reported (walking starts, stops, timeouts)
    assert run[1] == "0", f"gc.mem_alloc() grew by {run[1]} bytes over 10,000 updates"
    assert run[2] == "0", f"micropython.mem_total() grew by {run[2]} bytes over 10,000 updates"


# ---------------------------------------------------------------- integer range and source rules


def _extreme_inputs(n, seed):
    rng = np.random.default_rng(seed)
    lim = {
        "acc_up_mg": 16000,
        "acc_left_mg": 16000,
        "acc_fwd_mg": 16000,
        "gyro_up_cdps": 230000,
        "obl_mdeg": 180000,
    }
    cols = {}
    for k, m in lim.items():
        x = rng.integers(-m, m + 1, n)
        # stretches of full-scale square waves (many candidates) and of constant extremes
        for a in range(0, n, 2000):
            x[a : a + 300] = np.where((np.arange(300) // 30) % 2 == 0, m, -m)
            x[a + 300 : a + 700] = m if (a // 2000) % 2 else -m
        cols[k] = x.tolist()
    return cols


@pytest.mark.parametrize(
    ("period_us", "kw"),
    [(10000, {}), (2500, {}), (20000, {"min_step_ms": 150, "max_step_ms": 4000})],
)
def test_per_sample_arithmetic_stays_in_31_bits(mobgap, period_us, kw):
    checker = rangecheck.Checker()
    with rangecheck.install(checker, ROOT, names=("shared.steps",)) as mods:
        Det = mods["shared.steps"].StepDetector
        assert "shared.steps.StepDetector.update" in mods["shared.steps"].__instrumented__
        inputs = [_extreme_inputs(12000, period_us), synth_walk(1000000 // period_us)[0]]
        if period_us == 10000:
            inputs.append({k: mobgap["Test11_Trial1"][0][k].tolist() for k in stepsig.INPUTS})
        for cols in inputs:
            for n0 in (0, (1 << 30) - 1 - len(cols["obl_mdeg"])):
                d = Det(period_us, **kw)
                feed(d, cols, n0)
    assert checker.total > 100000


def _methods():
    tree = ast.parse(SRC.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StepDetector")
    return tree, [n for n in cls.body if isinstance(n, ast.FunctionDef)]


def test_source_rules():
    tree, methods = _methods()
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), node.lineno
        assert not isinstance(node, ast.Div | ast.Pow), node.lineno
    per_sample = [m for m in methods if m.name not in ("__init__", "reset")]
    assert "update" in [m.name for m in per_sample]
    banned = (
        ast.Tuple,
        ast.List,
        ast.Dict,
        ast.Set,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
        ast.Lambda,
        ast.JoinedStr,
        ast.Slice,
        ast.Starred,
        ast.keyword,
        ast.FunctionDef,
        ast.Yield,
        ast.Try,
        ast.With,
        ast.For,
    )
    for m in per_sample:
        decos = [ast.unparse(d) for d in m.decorator_list]
        assert decos in (["micropython.native"], ["micropython.viper"]), (m.name, decos)
        body = m.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        for node in ast.walk(ast.Module(body=body, type_ignores=[])):
            assert not isinstance(node, banned), (m.name, node.lineno, ast.unparse(node))
            if isinstance(node, ast.Constant):
                assert isinstance(node.value, int), (m.name, node.lineno)
            if isinstance(node, ast.Call):
                # only the detector's own (native) methods, with positional int arguments,
                # and viper's pointer cast
                f = node.func
                if isinstance(f, ast.Name) and f.id == "ptr32":
                    continue
                assert isinstance(f, ast.Attribute) and ast.unparse(f.value) == "self", (
                    m.name,
                    node.lineno,
                )


def test_durations_are_converted_once():
    # different rates, same durations: the sample counts scale with the rate
    a, b = StepDetector(10000), StepDetector(2500)
    assert (b._max_n, b._min_n, b._win_n) == (4 * a._max_n, 4 * a._min_n, 4 * a._win_n)
    assert array("i", [0] * a._nd).itemsize == 4  # state buffers are 32-bit
