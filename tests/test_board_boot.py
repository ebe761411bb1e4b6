"""The board layer and device/main.py's boot path on a simulated board: a fake `machine`
module (tests/fake_machine.py) over the simulated chips and a simulated clock. Boot end to
end under CPython and the MicroPython unix port; bus errors with retries, the fault state,
its buzz, its recovery and the watchdog; the missing-at-boot case; safe boot; build (b)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests import fake_machine
from tests.conftest import ROOT, micropython_bin
from tests.fake_i2c import FakeICM42688, FakeLSM6DSOX, FakeMPU6050, pattern_gen

SIM = fake_machine.SIM


@pytest.fixture
def hw(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", fake_machine)
    for m in ("device.board", "device.main"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    SIM.reset()
    import device.board as board_mod

    return board_mod


def still_imu(fake_cls=FakeLSM6DSOX, int_pin=6, bus=0):
    dev = SIM.buses[bus].attach(fake_cls(SIM.clock))
    s = dev.sample
    s[0], s[1], s[2], s[3], s[4], s[5] = 4098, 12, -20, 3, -2, 1
    SIM.inputs[int_pin] = dev.wait_int
    SIM.adc[29] = 24000
    SIM.adc[26] = 37000
    return dev


def run(board, n):
    res = []
    for _ in range(n):
        res.append(board.next_sample())
    return res


def test_boot_runs_the_app(hw):
    still_imu()
    import device.main as fw

    app, board = fw.boot(clock=SIM.clock, max_samples=400, serve=False)
    assert board.name == "rp2-pico" and board.imu_name == "LSM6DSOX"
    assert SIM.i2c_init[0] == (4, 5, 400000)
    assert board.samples == 400 and app.n == 399 and app.missed == 0
    assert app.calibrated == 1 and app.faults == 0 and board.fault == 0
    assert board.vbat_mv == 24000 * 9900 // 65535
    assert SIM.wdt_timeout_ms == 2000 and SIM.wdt_feeds >= 400
    assert SIM.wdt_max_gap_us <= 2 * board.period_us
    assert SIM.pwm_freq[15] == 20000 and SIM.pwm_duty[15] == 0


def test_transient_bus_errors_are_retried(hw):
    still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    run(b, 5)
    SIM.buses[0].fail_next(3)  # three failures, the fourth attempt works
    assert run(b, 1) == [1]
    assert b.bus_errors == 3 and b.retried == 1 and b.fault == 0 and b.fault_count == 0


def test_fault_state_buzzes_and_recovers(hw):
    dev = still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, probe_ms=250)
    b.start_watchdog()
    assert run(b, 10) == [1] * 10
    dev.present = False  # unplugged
    t0 = SIM.clock.now_us
    res = run(b, 150)  # ~1.5 s of loop periods
    assert set(res) == {2}
    assert b.fault == hw.FAULT_IMU and b.fault_count == 1 and b.bus_errors >= 4
    assert SIM.outputs[25] == 1  # LED on
    assert b.haptic.playing and b.haptic.pulses >= 3  # three buzzes of the fault pattern
    assert SIM.wdt_max_gap_us <= 2 * b.period_us  # a fault being handled is fed
    # the loop keeps the sample cadence in the fault state (no spin, no stall)
    assert abs((SIM.clock.now_us - t0) - 150 * b.period_us) < 5 * b.period_us
    dev.present = True  # back (a power cycle lost its configuration)
    dev.reset_regs()
    res = run(b, 40)
    assert res[-1] == 1 and b.fault == 0 and b.recoveries == 1
    assert dev.regs[0x10] == 0x4C  # reconfigured
    assert not b.haptic.playing and SIM.outputs[25] == 0
    first = res.index(1)
    assert first <= 30  # within probe_ms + a period
    # the first good sample's dt covers the gap: the app counts the missed samples


def test_long_fault_stops_feeding_the_watchdog(hw):
    dev = still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fault_reset_ms=1000)
    b.start_watchdog()
    run(b, 5)
    dev.present = False
    run(b, 400)  # 4 s
    # unfed since ~1 s into the fault: the 2 s watchdog would have reset the chip
    assert SIM.clock.now_us - SIM.wdt_last_us > 2_000_000


def test_after_a_watchdog_reset_the_fault_does_not_reset_again(hw):
    SIM.reset_cause = fake_machine.WDT_RESET
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fault_reset_ms=1000)  # no IMU at all
    assert b.fault == hw.FAULT_IMU | hw.FAULT_WDT_RESET and b.imu_name == "lsm6dsox"
    b.start_watchdog()
    assert set(run(b, 300)) == {2}
    assert SIM.wdt_max_gap_us <= 2 * b.period_us


def test_imu_missing_at_boot_then_plugged_in(hw):
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, probe_ms=100)
    assert b.fault == hw.FAULT_IMU and b.fault_count == 1
    assert run(b, 5) == [2] * 5
    still_imu()
    res = run(b, 20)
    assert res[-1] == 1 and b.fault == 0 and b.imu_name == "LSM6DSOX"
    assert b.period_us == 9615


def test_data_ready_timeout_reconfigures(hw):
    dev = still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    run(b, 3)
    dev.reset_regs()  # brown-out: the chip is back at its defaults, no data-ready
    res = run(b, 3)
    assert b.timeouts == 1 and res == [1, 1, 1] and dev.regs[0x10] == 0x4C


@pytest.mark.parametrize(
    "imu,fake,name,period",
    [("icm42688", FakeICM42688, "ICM-42688-P", 10000), ("mpu6050", FakeMPU6050, "MPU-6050", 10000)],
)
def test_other_imus_on_build_a(hw, imu, fake, name, period):
    dev = still_imu(fake)
    dev.gen = pattern_gen
    b = hw.Board(imu=imu, pins=hw.PICO, clock=SIM.clock)
    assert b.imu_name == name and b.period_us == period
    assert run(b, 50) == [1] * 50
    assert b.late == 0 and b.dt_us == period
    assert list(b.imu) != [0] * 6


def test_fifo_mode_catches_up_without_losing_samples(hw):
    dev = still_imu()
    dev.gen = pattern_gen
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True)
    run(b, 3)
    SIM.clock.advance(5 * b.period_us)  # the app overran by five periods
    res = run(b, 8)
    assert res == [1] * 8
    assert b.late == 0 and b.dt_us == b.period_us
    assert dev.k - b.samples <= 1


def test_nano_pin_table(hw, monkeypatch):
    dev = still_imu(int_pin=24)
    SIM.adc[26] = 37000
    b = hw.NanoBoard(clock=SIM.clock)
    assert SIM.outputs[3] == 0  # NINA-W102 held in reset
    assert SIM.i2c_init[0] == (12, 13, 400000)
    assert dev.regs[0x0D] == 0x03 and dev.regs[0x0E] == 0x03  # INT1 and INT2
    assert b.vbat_mv == 37000 * 6600 // 65535 and b.usb == 0
    assert run(b, 5) == [1] * 5
    monkeypatch.setattr(
        hw.os,
        "uname",
        lambda: type("U", (), {"machine": "Arduino Nano RP2040 Connect with RP2040"})(),
    )
    assert hw.detect_pins() is hw.NANO_RP2040_CONNECT


def test_safe_boot_does_not_start_the_app(hw):
    still_imu()
    SIM.inputs[14] = 0  # button held
    import device.main as fw

    assert fw.boot(clock=SIM.clock, max_samples=10, serve=False) is None
    assert SIM.wdt_timeout_ms == 0  # no watchdog: mpremote can repair


def test_button_events_reach_the_board(hw):
    still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    SIM.inputs[14] = 0
    run(b, 20)
    SIM.inputs[14] = 1
    run(b, 10)
    assert b.take_button() == 1 and b.take_button() == 0


def test_motor_cue_kicks_then_holds(hw):
    still_imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    b.motor(1)
    assert SIM.pwm_duty[15] == 65535
    run(b, 5)  # 48 ms later
    assert 0 < SIM.pwm_duty[15] < 65535
    b.motor(0)
    assert SIM.pwm_duty[15] == 0


@pytest.mark.parametrize("engine", ["micropython", "cpython"])
def test_boot_end_to_end(engine, tmp_path):
    env = dict(os.environ)
    if engine == "micropython":
        shutil.copy(ROOT / "tests" / "fake_machine.py", tmp_path / "machine.py")
        env["MICROPYPATH"] = "%s:%s" % (tmp_path, ROOT)
        cmd = [micropython_bin(), "-X", "heapsize=16M", "tests/mp_boot_probe.py", "600"]
    else:
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, "tests/mp_boot_probe.py", "600"]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print("\n[boot probe]", r)
    assert r["engine"] == engine and r["imu"] == "LSM6DSOX" and r["i2c"] == [4, 5, 400000]
    assert r["samples"] == 600 and r["n"] == 599 and r["missed"] == 0
    assert r["calibrated"] == 1 and r["faults"] == 0 and r["board_fault"] == 0
    assert r["wdt_timeout_ms"] == 2000 and r["wdt_feeds"] >= 600
    assert r["ctrl1_xl"] == 0x4C


@pytest.mark.parametrize("overrun_periods,expect_dt_periods", [(1.5, 1), (2.5, 2), (3.9, 3)])
def test_late_sample_stamped_at_data_ready(hw, overrun_periods, expect_dt_periods):
    """A sample already waiting (the loop overran) is stamped at its data-ready slot on the
    sensor's grid, not when it was read: dt counts the whole periods that passed (the app
    counts the missed ones), and the next on-time sample is one period later again."""
    dev = still_imu()
    dev.gen = pattern_gen
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    run(b, 3)
    t_last, period = b.t_us, b.period_us
    SIM.clock.advance(int(overrun_periods * period))
    assert run(b, 1) == [1]
    assert b.late == 1
    assert b.dt_us == expect_dt_periods * period
    assert b.t_us == t_last + expect_dt_periods * period
    assert SIM.clock.now_us - b.t_us >= period // 2  # read well after its data-ready
    assert run(b, 1) == [1] and b.late == 0
    assert abs(b.dt_us - period) <= period // 10


def test_slightly_late_sample_keeps_its_read_time(hw):
    """Just past its edge (under half a period late) a sample keeps its read time, so grid
    stamps never chain and drift with the sensor's ODR error."""
    dev = still_imu()
    dev.gen = pattern_gen
    b = hw.Board(pins=hw.PICO, clock=SIM.clock)
    run(b, 3)
    t_last, period = b.t_us, b.period_us
    SIM.clock.advance(int(1.2 * period))
    assert run(b, 1) == [1] and b.late == 1
    assert b.t_us - t_last >= int(1.2 * period)  # the read time, not the grid slot


def test_cpu_mhz_sets_the_core_clock_before_the_buses(hw):
    """make_board applies the config's cpu_mhz with machine.freq (issue 15) and leaves the
    clock alone at the rate already running (the default 125 MHz)."""
    from shared.config import Config

    still_imu()
    hw.make_board(Config(), clock=SIM.clock)
    assert SIM.freq_calls == []
    b = hw.make_board(Config().updated({"cpu_mhz": "48", "rate_hz": "104"}), clock=SIM.clock)
    assert SIM.freq_calls == [48000000] and SIM.cpu_hz == 48000000
    assert b.i2c is not None and SIM.i2c_init[0] == (4, 5, 400000)
    hw.make_board(Config().updated({"cpu_mhz": "48", "rate_hz": "104"}), clock=SIM.clock)
    assert SIM.freq_calls == [48000000]  # already there: no second reconfiguration
