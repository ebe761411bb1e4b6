"""Every arithmetic result on the per-sample path is an int within [-2**30, 2**30 - 1].

The per-sample path (every `@micropython.native` function of shared/ and device/) is loaded from
source with each arithmetic result wrapped in a check (sim/rangecheck.py), and the whole
firmware loop - SimBoard.next_sample, App.tick, the between-sample drain of the step ring
(sim/run.py `_loop`) - is run over real traces, full-scale inputs and a synthetic walk.
MicroPython on 32-bit ports keeps only 31-bit small ints; anything outside becomes a heap big
int, so a range bug would break the no-allocation rule on the board while staying invisible on
the 64-bit unix port.

Run with `-s` to see the per-function figures (checks, largest magnitude against 2**30).
"""

from __future__ import annotations

import ast
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hipcue.replay import job_arrays, mount_from_meta, plan_rate
from hipcue.trace import read_trace
from shared.config import IMUS, SCHEMA, Config, format_milli
from sim import rangecheck
from sim.run import _loop
from tests.conftest import ROOT

# The per-sample functions named by the issue; helpers of StepDetector.update are found by
# scanning for the decorator (test_every_native_function_is_instrumented).
REQUIRED = {
    "device.app.App.tick",
    "device.app.App._push_step",
    "sim.board.SimBoard.next_sample",
    "sim.board.SimBoard.motor",
    "shared.estimator.Estimator.update",
    "shared.steps.StepDetector._step",  # the tick's entry (update() is its wrapper for others)
    "shared.cue.CueDetector.update",
    "shared.calib.Calibrator.update",
}
# (shared.fixedpoint's atan2_mdeg and hypot_q are written out inside Estimator.update: the
# per-sample path no longer calls them; they stay instrumented as every native function is.)
# Per-sample functions that only run in a test mode (not on walking traces): each has its own
# case below, and must be instrumented.
TEST_MODE = {"shared.slstest.SlsTest.update", "shared.exercise.Exercise.update"}
# Native functions that need the hardware (`machine`) to load: checked elsewhere or by hand.
# Board methods need `machine`; they only count (retries, errors) and call the drivers, whose
# arithmetic is checked below (test_all_imu_drivers_in_range).
HARDWARE_ONLY = {
    "device.board.Board.next_sample",
    "device.board.Board._read_retry",
    "device.board._Missing.read_into",  # a stand-in for an absent sensor: raises OSError
    "device.board._Missing.fifo_read_into",
    # the batched read (issue 15): pins, sleeps and the bus, like next_sample; the sample
    # values it hands on come from the driver's _decode, checked with the drivers below
    "device.board.Board._batch_sample",
    "device.board.Board._read_batch",
    "device.board.Board._sleep_until_int",
}
# The board loop's between-sample work (issue 11: @native/@viper so that no bytecode frame is
# heap-allocated), instrumented too and run by test_board_loop_between_samples_in_range.
LOOP_MODULES = ("shared.logformat", "device.logstore", "device.main")
# Native functions with no arithmetic of their own, not run on the host: the link check.
NO_ARITHMETIC = {"device.link.StdioLink.readable"}
DRIVERS = ("lsm6dsox", "icm42688", "mpu6050")
MIN_RATE = SCHEMA["rate_hz"][2]
UPRIGHT_MOUNT = "forward=+x left=+y up=+z"  # x-io and BROAD sensors: z reads +1 g when level
ONE_G = 4098  # counts of 1 g at 244 ug/LSB (lsm6dsox, the default imu)


@dataclass
class Run:
    n: int
    steps: int
    cues: int
    calibrated: int
    faults: int
    checks: int


@pytest.fixture(scope="module")
def checked():
    """(checker, modules): the instrumented shared/ and device/ modules, installed in
    sys.modules for this test module only; the originals are put back afterwards."""
    checker = rangecheck.Checker(collect=True)
    originals = {name: sys.modules.get(name) for name in rangecheck.MODULES}
    names = (*rangecheck.MODULES, *LOOP_MODULES)
    originals.update({name: sys.modules.get(name) for name in LOOP_MODULES})
    with rangecheck.install(checker, ROOT, names) as mods:
        yield checker, mods
    for name, mod in originals.items():
        assert sys.modules.get(name) is mod
    print("\n[range check, all cases of tests/test_range.py]\n" + checker.report())


@pytest.fixture
def fresh(checked):
    """The checker with no recorded violations; the test must leave it that way."""
    checker, mods = checked
    checker.violations.clear()
    checker.context = None
    return checker, mods


def _per_function(checker: rangecheck.Checker) -> dict[str, int]:
    return {name: c for name, (c, _p, _s) in checker.stats().items()}


def run_loop(checked, label, counts, dt_us, cfg, calibrate, period_us=0) -> Run:
    """The firmware loop as sim/run.py drives it, on the instrumented modules."""
    checker, mods = checked
    counts = np.ascontiguousarray(counts, dtype="<i2")
    dt_us = np.ascontiguousarray(dt_us, dtype="<i4")
    n = len(dt_us)
    assert counts.shape == (n, 6)
    board = mods["sim.board"].SimBoard(array("h", counts.tobytes()), array("i", dt_us.tobytes()))
    app = mods["device.app"].App(board, cfg, calibrate=calibrate, period_us=period_us)
    checker.context = lambda: (
        f"{label}: sample {board.i}, imu {list(board.imu)}, dt_us {board.dt_us}, "
        f"init_left {app.est.init_left}"
    )
    cap = n // 8 + 64
    before = checker.total
    steps = _loop(
        app,
        board,
        array("i", bytes(4 * n)),
        array("i", bytes(4 * n)),
        bytearray(n),
        array("i", bytes(4 * n)),
        array("i", bytes(4 * cap)),
        array("i", bytes(4 * cap)),
        bytearray(cap),
        array("i", bytes(4 * cap)),
        bytearray(cap),
    )
    checker.context = None
    assert board.i == n - 1, f"{label}: the loop stopped early"
    return Run(n, steps, app.cue.cues, app.calibrated, app.faults, checker.total - before)


def assert_no_violations(checker: rangecheck.Checker) -> None:
    if checker.violations:
        pytest.fail("range violations:\n" + checker.violation_report(), pytrace=False)


def _trace_case(checked, path: Path, calibrate: bool, mount: str | None, sets=()):
    tr = read_trace(path)
    cfg = Config()
    for key, value in sets:
        cfg.set(key, value)
    cfg.set("mount", mount or mount_from_meta(tr.meta))
    rate = plan_rate(tr, cfg, False)
    counts, dt, _saturated = job_arrays(tr, cfg["imu"], rate.period_us)  # as `hipcue replay`
    run = run_loop(checked, path.name, counts, dt, cfg, calibrate, rate.period_us)
    return run, rate


# --------------------------------------------------------------------------------------------
# The checker itself
# --------------------------------------------------------------------------------------------

PLANTED = """
from shared.mp import micropython


class Box:
    def __init__(self):
        self.v = 1
        self.a = [1, 2]


@micropython.native
def mul(a, b):
    return a * b


@micropython.native
def div(a, b):
    return a / b


@micropython.native
def neg(a):
    return -a


@micropython.native
def aug_name(a, b):
    a *= b
    return a


@micropython.native
def aug_attr(o, b):
    o.v <<= b
    return o.v


@micropython.native
def aug_sub(o, i, b):
    o.a[i + 1] += b
    return o.a[i + 1]


def plain(a, b):
    return a * b
"""


@pytest.fixture
def planted():
    checker = rangecheck.Checker()  # raising mode
    return checker, rangecheck.load_source(checker, "planted", PLANTED)


def test_checker_raises_on_planted_overflow(planted):
    checker, m = planted
    assert m.mul(2**20, 2**9) == 2**29
    with pytest.raises(rangecheck.RangeViolation, match=r"<planted>:13:12 in planted\.mul"):
        m.mul(2**20, 2**11)
    with pytest.raises(rangecheck.RangeViolation, match="outside"):
        m.mul(-(2**20), 2**10 + 1)
    with pytest.raises(rangecheck.RangeViolation, match=r"`-a`"):
        m.neg(-(2**30))
    assert m.neg(-(2**30) + 1) == 2**30 - 1
    with pytest.raises(rangecheck.RangeViolation, match=r"`a \*= b`"):
        m.aug_name(2**15, 2**15)
    box = m.Box()
    assert m.aug_attr(box, 29) == 2**29
    with pytest.raises(rangecheck.RangeViolation, match=r"`o\.v <<= b`"):
        m.aug_attr(box, 1)
    assert m.aug_sub(box, 0, 5) == 7
    with pytest.raises(rangecheck.RangeViolation, match=r"`o\.a\[i \+ 1\] \+= b`"):
        m.aug_sub(box, 0, 2**30)
    assert m.plain(2**20, 2**11) == 2**31  # not native: not checked
    stats = checker.stats()
    assert stats["planted.mul"][0] == 3 and stats["planted.mul"][1] == 2**29
    assert "planted.plain" not in stats


def test_checker_raises_on_planted_float(planted):
    _checker, m = planted
    with pytest.raises(rangecheck.RangeViolation, match=r"a / b.*not an int \(float\)"):
        m.div(6, 3)
    with pytest.raises(rangecheck.RangeViolation, match=r"not an int \(float\)"):
        m.mul(0.5, 2)


def test_collect_mode_records_the_input():
    checker = rangecheck.Checker(collect=True)
    m = rangecheck.load_source(checker, "planted", PLANTED)
    checker.context = lambda: "sample 7"
    assert m.mul(2**20, 2**11) == 2**31  # recorded, not raised
    assert m.mul(2**20, 2**12) == 2**32
    (rec,) = checker.violations.values()
    assert rec["count"] == 2 and "input: sample 7" in rec["message"]


def test_install_restores_sys_modules():
    before = {name: sys.modules.get(name) for name in rangecheck.MODULES}
    import shared

    attr_before = getattr(shared, "estimator", None)
    checker = rangecheck.Checker()
    with rangecheck.install(checker, ROOT) as mods:
        for name in rangecheck.MODULES:
            assert sys.modules[name] is mods[name]
        app_mod = mods["device.app"]
        # the App is wired to the checked code, not to the originals
        assert app_mod.Estimator is mods["shared.estimator"].Estimator
        assert app_mod.StepDetector is mods["shared.steps"].StepDetector
        assert "_rc" in app_mod.App.tick.__code__.co_names
        assert "_rc" in mods["shared.estimator"].Estimator.update.__code__.co_names
    assert {name: sys.modules.get(name) for name in rangecheck.MODULES} == before
    assert getattr(shared, "estimator", None) is attr_before


def _native_functions_in_source() -> set[str]:
    found = set()
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("device/**/*.py")]):
        mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))

        stack = [(tree, [mod])]
        while stack:
            node, scope = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.ClassDef, ast.FunctionDef)):
                    if isinstance(child, ast.FunctionDef) and rangecheck._is_native(child):
                        found.add(".".join([*scope, child.name]))
                    stack.append((child, [*scope, child.name]))
    return found


def test_every_native_function_is_instrumented(checked):
    _checker, mods = checked
    instrumented = set()
    for mod in mods.values():
        instrumented.update(mod.__instrumented__)
    assert REQUIRED | TEST_MODE <= instrumented
    native = _native_functions_in_source()
    drivers = {n for n in native if n.startswith("device.drivers.")}
    missing = native - instrumented - HARDWARE_ONLY - drivers - NO_ARITHMETIC
    assert not missing, f"native functions not covered by the range check: {sorted(missing)}"


def test_imu_driver_sign_extension_in_range():
    """device/drivers/lsm6dsox.py read_into (per sample on the board): every int16 pattern."""
    path = ROOT / "device/drivers/lsm6dsox.py"
    checker = rangecheck.Checker()
    mod, code, names = rangecheck.build_module(
        checker, "device.drivers.lsm6dsox", path.read_text(encoding="utf-8"), str(path)
    )
    exec(code, mod.__dict__)
    assert "device.drivers.lsm6dsox.LSM6DSOX.read_into" in names
    raw = bytearray(12)

    class FakeI2C:
        def readfrom_mem_into(self, addr, reg, buf):
            buf[:] = raw

    drv = mod.LSM6DSOX.__new__(mod.LSM6DSOX)
    drv.i2c, drv.address, drv._raw = FakeI2C(), 0x6A, bytearray(12)
    out = array("h", [0] * 6)
    for v in range(0, 65536, 7):  # every 7th pattern; all six axes at once
        w = (v + 1) & 0xFFFF
        raw[0:6] = bytes([v & 255, v >> 8]) * 3
        raw[6:12] = bytes([w & 255, w >> 8]) * 3
        drv.read_into(out)
        sv = v - 65536 if v & 0x8000 else v
        sw = w - 65536 if w & 0x8000 else w
        assert list(out) == [sw] * 3 + [sv] * 3
    assert checker.total > 100_000


def test_all_imu_drivers_in_range():
    """Every native function of the three IMU drivers, under the checker, fed every 7th int16
    bit pattern in every register it reads (FIFO counts and packets included)."""
    import importlib
    import sys

    from tests import fake_i2c

    saved = {
        k: sys.modules.get(k)
        for k in ["device.drivers.i2cdev"] + [f"device.drivers.{d}" for d in DRIVERS]
    }
    checker = rangecheck.Checker()
    names: list[str] = []
    try:
        for d in ("i2cdev",) + DRIVERS:
            name = f"device.drivers.{d}"
            path = ROOT / "device" / "drivers" / f"{d}.py"
            mod, code, got = rangecheck.build_module(
                checker, name, path.read_text(encoding="utf-8"), str(path)
            )
            sys.modules[name] = mod
            exec(code, mod.__dict__)
            names += got
        fakes = {
            "lsm6dsox": ("LSM6DSOX", fake_i2c.FakeLSM6DSOX),
            "icm42688": ("ICM42688", fake_i2c.FakeICM42688),
            "mpu6050": ("MPU6050", fake_i2c.FakeMPU6050),
        }
        pattern = bytearray(2)

        class PatternI2C:
            def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
                for i in range(len(buf)):
                    buf[i] = pattern[i & 1]

        batch_out = array("h", [0] * (6 * 34))
        for d in DRIVERS:
            cls_name, fake_cls = fakes[d]
            bus = fake_i2c.FakeI2C()
            clock = fake_i2c.FakeClock()
            dev = fake_cls(clock)
            bus.attach(dev)
            drv = getattr(sys.modules[f"device.drivers.{d}"], cls_name)(bus, fifo=True)
            drv.i2c = PatternI2C()
            out = array("h", [0] * 6)
            for v in range(0, 65536, 7):
                pattern[0] = v & 255
                pattern[1] = v >> 8
                drv.read_into(out)
                drv.fifo_level()
                drv.fifo_read_into(out)
                if d == "lsm6dsox":  # the batched burst (issue 15), every tag and value
                    drv.fifo_batch_into(batch_out, 16)
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m
        importlib.invalidate_caches()
    for d in DRIVERS:
        for fn in ("read_into", "fifo_level", "fifo_read_into"):
            assert any(n.startswith(f"device.drivers.{d}.") and n.endswith(fn) for n in names)
    assert "device.drivers.lsm6dsox._decode" in names, names
    assert checker.total > 100_000
    assert not checker.violations, list(checker.violations.values())[:3]


# --------------------------------------------------------------------------------------------
# (a) real traces
# --------------------------------------------------------------------------------------------

REAL = (
    ("mobgap_HA_001_Test11_Trial1.trace.csv", False, None, None),
    ("mobgap_HA_001_Test5_Trial1.trace.csv", False, None, None),
    ("mobgap_HA_001_Test5_Trial2.trace.csv", False, None, None),
    ("xio_fusion_sensor_data.trace.csv", True, UPRIGHT_MOUNT, None),
    ("broad_07_fast_rotation.trace.csv", True, UPRIGHT_MOUNT, 3500),
)


def test_real_traces_stay_in_range(fresh, data_dir):
    checker, _mods = fresh
    before = _per_function(checker)
    total = 0
    runs = {}
    for name, calibrate, mount, period in REAL:
        run, rate = _trace_case(fresh, data_dir / name, calibrate, mount)
        if period is not None:
            assert rate.period_us == period
        assert run.checks > 100 * run.n, (name, run)  # the checks really ran on every sample
        if calibrate:
            assert run.calibrated == 1 and run.faults == 0, (name, run)
        runs[name] = run
        total += run.checks
    assert_no_violations(checker)
    assert total > 100_000
    assert runs["mobgap_HA_001_Test11_Trial1.trace.csv"].steps > 20
    after = _per_function(checker)
    idle = sorted(f for f in REQUIRED if after[f] == before.get(f, 0))
    assert not idle, f"not exercised by the real traces: {idle}"
    print(f"\n[real traces] {total} checks: " + ", ".join(f"{k}: {v}" for k, v in runs.items()))


def test_real_walk_with_cues_stays_in_range(fresh, data_dir):
    """A low threshold so the cue path (motor on/off, cued steps) runs all the time."""
    checker, _mods = fresh
    path = data_dir / "mobgap_HA_001_Test11_Trial1.trace.csv"
    run, _ = _trace_case(fresh, path, False, None, (("threshold_deg", "3"), ("turn_gate_dps", "0")))
    assert run.cues > 20 and run.steps > 20
    assert_no_violations(checker)


# --------------------------------------------------------------------------------------------
# (b) full-scale inputs
# --------------------------------------------------------------------------------------------

EXT = np.array([-32768, 32767])
COMBOS = np.array([[EXT[(c >> b) & 1] for b in range(6)] for c in range(64)])


def _still(rate: int, up, seconds: float, rng) -> np.ndarray:
    n = int(rate * seconds)
    return np.tile(np.r_[up, [0, 0, 0]], (n, 1)) + rng.integers(-3, 4, (n, 6))


def full_scale(
    rate: int, up, seed: int, still: bool = True, still_s: float = 1.2
) -> tuple[np.ndarray, np.ndarray]:
    """Still (for calibration), then int16 extremes on every axis and sign combination, random
    full-scale noise, saturated rotation and a maximal time gap; counts and dt_us."""
    rng = np.random.default_rng(seed)
    period = (1_000_000 + rate // 2) // rate
    parts = [_still(rate, up, still_s, rng)] if still else []
    parts.append(np.repeat(COMBOS, 5, axis=0))  # each combination held for 5 samples
    parts.append(COMBOS[rng.permutation(np.tile(np.arange(64), 10))])  # switching every sample
    parts.append(rng.integers(-32768, 32768, (rate, 6)))  # 1 s of uniform full-scale noise
    # saturated rotation: every gyro sign combination on all three axes, then single axes,
    # with the accelerometer at 1 g (so the accelerometer correction is active) or saturated
    m = max(rate // 2, 20)
    for c in range(8):
        g = EXT[[(c >> b) & 1 for b in range(3)]]
        acc = [ONE_G, 0, 0] if c % 2 else [-2366, 2366, 2366]
        parts.append(np.c_[np.tile(acc, (m, 1)), np.tile(g, (m, 1))])
        for ax in range(3):
            g1 = np.zeros(3, dtype=int)
            g1[ax] = g[ax]
            parts.append(
                np.c_[np.tile(COMBOS[c * 7 % 64, :3], (m // 4, 1)), np.tile(g1, (m // 4, 1))]
            )
    # gyro over range: the true rate is 2x full scale, the gyro clips, the accelerometer sees
    # gravity turn at the true rate (u and the measured up drift apart)
    t = np.arange(rate) / rate
    ang = np.radians(4600.0) * t
    parts.append(
        np.c_[
            ONE_G * np.cos(ang),
            ONE_G * np.sin(ang),
            np.zeros(rate),
            np.zeros(rate),
            np.zeros(rate),
            np.full(rate, 32767),
        ]
    )
    counts = np.clip(np.rint(np.concatenate(parts)), -32768, 32767).astype("<i2")
    dt = np.full(len(counts), period, dtype="<i4")
    dt[len(dt) // 2] = 2**29 - 1  # the longest gap time.ticks_diff() can report
    return counts, dt


def tumbling(rate: int, seed: int, cal_still_ms: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Still just long enough to calibrate, then random saturated rotation with the
    accelerometer near 1 g, from the moment calibration ends (the estimator restarts with its
    fast-convergence gain)."""
    rng = np.random.default_rng(seed)
    period = (1_000_000 + rate // 2) // rate
    need = (cal_still_ms * 1000 + period - 1) // period  # shared/calib.py: samples to calibrate
    m = max(rate // 2, 40)
    gyro = rng.choice([-32768, 0, 32767], size=(m, 3))
    acc = rng.choice([-ONE_G, -2900, 0, 2900, ONE_G], size=(m, 3))
    still = np.tile([ONE_G, 0, 0, 0, 0, 0], (need, 1))
    counts = np.concatenate([still, np.c_[acc, gyro]])
    counts = counts.astype("<i2")
    return counts, np.full(len(counts), period, dtype="<i4")


@pytest.mark.parametrize("rate", [100, MIN_RATE, 1000])
def test_full_scale_inputs_stay_in_range(fresh, rate):
    checker, _mods = fresh
    cfg = Config()
    cfg.set("rate_hz", str(rate))
    cases = (
        ("upright", [ONE_G, 0, 0], True),
        ("tilted", [-2366, 2366, 2366], True),  # calibrated frame not axis-aligned
        ("uncalibrated", [ONE_G, 0, 0], False),  # starts on the extremes
    )
    for seed, (what, up, calibrate) in enumerate(cases):
        counts, dt = full_scale(rate, up, seed, still=calibrate)
        run = run_loop(fresh, f"full-scale {what} {rate} Hz", counts, dt, cfg, calibrate)
        assert run.checks > 100 * run.n
        if calibrate:
            assert run.calibrated == 1, (what, run)
    n_runs = 100 if rate < 1000 else 4
    for seed in range(n_runs):
        counts, dt = tumbling(rate, 100 + seed)
        run = run_loop(fresh, f"tumbling {rate} Hz seed {100 + seed}", counts, dt, cfg, True)
        assert run.calibrated == 1
    assert_no_violations(checker)


# Config values at the ends of their ranges (taken from shared/config.py SCHEMA) that change the
# gains and the sample counts of the per-sample arithmetic: "lo" or "hi" per key.
FAST_GAINS = {
    "filter_tau_ms": "lo",
    "accel_band_mg": "hi",
    "init_ms": "hi",
    "still_dps": "hi",
    "still_mg": "hi",
    "cal_still_ms": "hi",
    "cal_window_ms": "hi",
    "min_step_ms": "lo",
    "max_step_ms": "hi",
    "dwell_ms": "hi",
    "refractory_ms": "hi",
    "cue_ms": "hi",
    "threshold_deg": "lo",
    "hysteresis_deg": "lo",
}
SLOW_GAINS = {
    "filter_tau_ms": "hi",
    "accel_band_mg": "lo",
    "init_ms": "lo",
    "still_dps": "lo",
    "still_mg": "lo",
    "min_step_ms": "lo",
    "max_step_ms": "lo",
    "dwell_ms": "lo",
    "refractory_ms": "lo",
    "cue_ms": "lo",
    "threshold_deg": "hi",
    "hysteresis_deg": "hi",
    "cue_walking_only": "lo",
}


def schema_ends(ends: dict[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for key, end in ends.items():
        if key not in SCHEMA:
            continue
        kind, _default, lo, hi = SCHEMA[key][:4]
        v = lo if end == "lo" else hi
        out.append((key, format_milli(v) if kind == "dec" else str(v)))
    return tuple(out)


@pytest.mark.parametrize("imu", ["lsm6dsox", "icm42688"])
@pytest.mark.parametrize("sets", [FAST_GAINS, SLOW_GAINS], ids=["fast-gains", "slow-gains"])
def test_config_extremes_stay_in_range(fresh, data_dir, sets, imu):
    assert imu in IMUS
    checker, _mods = fresh
    which = "fast gains" if sets is FAST_GAINS else "slow gains"
    sets = schema_ends(sets)
    for rate in (MIN_RATE, 100, 1000):
        cfg = Config()
        for key, value in (*sets, ("rate_hz", str(rate)), ("imu", imu)):
            cfg.set(key, value)
        still_s = cfg["cal_still_ms"] / 1000 + 0.3
        counts, dt = full_scale(rate, [ONE_G, 0, 0], rate, still_s=still_s)
        label = f"full-scale {rate} Hz, {imu}, {which}"
        run = run_loop(fresh, label, counts, dt, cfg, True)
        assert run.calibrated == 1, run
        for seed in range(20 if rate < 1000 else 1):
            counts, dt = tumbling(rate, 500 + seed, cfg["cal_still_ms"])
            label = f"tumbling {rate} Hz seed {500 + seed}, {imu}, {which}"
            run_loop(fresh, label, counts, dt, cfg, True)
    for name in ("mobgap_HA_001_Test5_Trial1.trace.csv", "mobgap_HA_001_Test5_Trial2.trace.csv"):
        _trace_case(fresh, data_dir / name, False, None, (*sets, ("imu", imu)))
    assert_no_violations(checker)


# --------------------------------------------------------------------------------------------
# (c) synthetic walk
# --------------------------------------------------------------------------------------------


def test_synthetic_walk_stays_in_range(fresh, tmp_path):
    from hipcue.synth import PRESETS, generate, write_trace_csv  # no skip: a broken synth fails

    checker, _mods = fresh
    path = tmp_path / "weak-right.trace.csv"
    write_trace_csv(generate(PRESETS["weak-right"](60.0)), path)
    run, _rate = _trace_case(fresh, path, True, None)
    assert run.calibrated == 1 and run.steps > 20 and run.cues > 0, run
    assert run.checks > 100 * run.n
    assert_no_violations(checker)


@pytest.mark.parametrize("rate", [MIN_RATE, 1000])
def test_single_leg_stance_test_stays_in_range(fresh, tmp_path, rate):
    """The single-leg stance test (shared/slstest.py) driven by App.tick over a synthetic
    test (both sides, a foot coming down), at the lowest and the highest rate (the longest
    side at 1000 Hz: the mean's sum is largest), plus its extremes fed directly."""
    from hipcue.synth import generate, write_trace_csv  # no skip: a broken synth fails
    from tests.test_sls import _segments

    checker, mods = fresh
    path = tmp_path / "sls.trace.csv"
    write_trace_csv(generate(_segments(), rate_hz=float(rate), seed=5), path)
    tr = read_trace(path)
    cfg = Config()
    cfg.set("rate_hz", str(rate))
    cfg.set("mount", mount_from_meta(tr.meta))
    plan = plan_rate(tr, cfg, False)
    counts, dt, _sat = job_arrays(tr, cfg["imu"], plan.period_us)
    board = mods["sim.board"].SimBoard(
        array("h", np.ascontiguousarray(counts, dtype="<i2").tobytes()), array("i", dt.tobytes())
    )
    app = mods["device.app"].App(board, cfg, calibrate=True, period_us=plan.period_us)
    before = _per_function(checker).get("shared.slstest.SlsTest.update", 0)
    while board.next_sample():
        app.tick()
        app.idle()
        if app.sls is None and app.n >= 5 * rate:
            app.start_sls(10, 3, 250)
    res = app.sls.results()
    assert res["done"] == 1 and res["right_stance"]["loss_ms"] is not None, res
    assert _per_function(checker)["shared.slstest.SlsTest.update"] > before
    # extremes: 120 s sides at 1000 Hz with the largest obliquity on every sample
    t = mods["shared.slstest"].SlsTest(1000, side_s=120, rest_s=120, impact_mg=4000)
    t.start()
    for i in range(t.total_n()):
        t.update(180000 if i & 1 else -180000, 0 if i < 300000 else -32000)
    assert t.done
    assert_no_violations(checker)


# --------------------------------------------------------------------------------------------
# (d) the board loop's between-sample work
# --------------------------------------------------------------------------------------------


class _QuietService:
    """A service with nothing to do (the command service is bytecode, not range-checked):
    the loop checks its cells and its link every sample, polls it when it asks."""

    def __init__(self):
        self.wants = array("i", [0, 0])
        self.polls = 0

    def poll(self):
        self.polls += 1
        return 0

    def sample(self, app):
        pass

    def step(self, *a):
        pass


def test_board_loop_between_samples_in_range(fresh, tmp_path, monkeypatch):
    """device/main.py run() with the log store over a synthetic walk: sessions by walking
    and by the button (a raw capture too), steps, cues, summaries, flushes."""
    try:
        from hipcue.synth import PRESETS, generate, write_trace_csv
    except ImportError as e:
        pytest.skip(f"hipcue.synth does not import: {e}")
    checker, mods = fresh
    path = tmp_path / "weak-right.trace.csv"
    write_trace_csv(generate(PRESETS["weak-right"](150.0)), path)
    tr = read_trace(path)
    cfg = Config()
    cfg.set("mount", mount_from_meta(tr.meta))
    plan = plan_rate(tr, cfg, False)
    counts, dt, _sat = job_arrays(tr, cfg["imu"], plan.period_us)
    board = mods["sim.board"].SimBoard(
        array("h", np.ascontiguousarray(counts, dtype="<i2").tobytes()), array("i", dt.tobytes())
    )
    board.events = array("i", [0])
    board.take_button = lambda: 1  # a short press whenever the cell says so
    app = mods["device.app"].App(board, cfg, calibrate=True, period_us=plan.period_us)
    log = mods["device.logstore"].LogStore(
        str(tmp_path / "logs"), period_us=plan.period_us, fw="t", summary_ms=20000
    )
    run = mods["device.main"].run
    svc = _QuietService()

    class _BoardFs:
        """os with the board's statvfs: a Pico's 1.4 MB LittleFS, 1 MB free (the host's disk
        is a terabyte, whose byte count a 32-bit port could not hold as a small int)."""

        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def statvfs(path):
            return (4096, 4096, 352, 256, 256, 0, 0, 0, 0, 255)

    import os

    monkeypatch.setattr(mods["device.logstore"], "os", _BoardFs())
    run(app, board, 9000, log, svc)  # a session opens on walking, summaries, flushes
    assert log.active and log.flushes > 5
    log.stop(app, "command")
    log.start(app, "command", raw=1)  # raw capture: a record every sample
    run(app, board, 1000, log, svc)
    board.events[0] = 1  # the button stops it
    run(app, board, -1, log, svc)
    assert not log.active and log.faults == 0 and log.dropped == 0
    calls = _per_function(checker)  # arithmetic results checked, per function
    for name in (
        "device.main.run",
        "device.logstore.LogStore.service",
        "device.logstore.LogStore._set_due",
        "device.logstore.LogStore._summary",
        "device.logstore.LogStore._feedback",
        "device.logstore.LogStore.flush",
        "shared.logformat.RecordBuffer.step",
        "shared.logformat.RecordBuffer._event",  # cues, faults, summaries (counted: arithmetic)
        "shared.logformat.RecordBuffer.summary",
        "shared.logformat.RecordBuffer.raw",
        "shared.logformat.cs_of",
    ):
        assert calls.get(name, 0) > 0, name


@pytest.mark.parametrize(
    "exercise", ["single-leg-squat", "step-down", "band-walk", "leg-lift", "clamshell"]
)
def test_exercise_sets_stay_in_range(fresh, tmp_path, exercise):
    """Exercise mode (shared/exercise.py) driven by App.tick over a synthetic set of each
    exercise (both sides), then the detector's extremes fed directly: full-scale obliquity
    and tilt swings at 1000 Hz, a set longer than the ring, every sample cued."""
    try:
        from hipcue import exsynth, synth
    except ImportError as e:
        pytest.skip(f"hipcue.synth does not import: {e}")
    checker, mods = fresh
    for side in ("left", "right"):
        tr, truth = exsynth.generate(exercise, side, 6, seed=3)
        path = tmp_path / f"{exercise}-{side}.trace.csv"
        synth.write_trace_csv(tr, path)
        before = _per_function(checker).get("shared.exercise.Exercise.update", 0)
        sets = (("mode", exercise), ("ex_side", side), ("ex_reps", "6"))
        sets += (("tempo_ms", "2500" if side == "right" else "0"),)  # tempo pacing
        run, _rate = _trace_case(fresh, path, True, None, sets)
        assert run.calibrated == 1 and run.faults == 0, run
        assert _per_function(checker)["shared.exercise.Exercise.update"] > before
    # reps (tilt +35 deg, obliquity +-180) and changes of posture (tilt -90, obliquity -180)
    # (lying: obliquity +-15, roll back 20 deg)
    ex = mods["shared.exercise"].Exercise(1000, exercise, 1, 200, 1000, 20000, 0, 20, 250, 100)
    lying = exercise in ("leg-lift", "clamshell")
    big, tilt = (15000, -20000) if lying else (180000, 35000)
    out = array("i", [0] * 6)
    for i in range(400000):
        ph = (i // 1500) & 3
        if ph == 1:
            ex.update(i, big if (i // 6000) & 1 else -big, tilt)
        elif ph == 3:
            ex.update(i, -180000, -90000)
        else:
            ex.update(i, 0, 0)
        if i % 97 == 0:
            ex.take(out, 0)
    assert ex.count > 0 and ex.cues > 0
    assert_no_violations(checker)
