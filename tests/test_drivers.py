"""The drivers against simulated chips (tests/fake_i2c.py) at register level: WHO_AM_I,
configuration bits, burst order / endianness / sign, auto-increment, FIFOs, data-ready
lines, bus errors; the haptic, button and battery drivers; and the same drivers under the
MicroPython unix port with their heap use over 1,000 reads."""

import json
import os
import shutil
import subprocess
from array import array

import pytest

from device.drivers import button as btn
from device.drivers.battery import Battery
from device.drivers.haptic import DRV2605L, ERM, FAULT_REPEAT_MS, PATTERN_FAULT
from device.drivers.icm42688 import ICM42688
from device.drivers.lsm6dsox import LSM6DSOX
from device.drivers.mpu6050 import MPU6050
from tests.conftest import ROOT, micropython_bin
from tests.fake_i2c import (
    FakeClock,
    FakeDRV2605L,
    FakeI2C,
    FakeICM42688,
    FakeLSM6DSOX,
    FakeMPU6050,
    pattern_gen,
)

CHIPS = {
    "lsm6dsox": (LSM6DSOX, FakeLSM6DSOX),
    "icm42688": (ICM42688, FakeICM42688),
    "mpu6050": (MPU6050, FakeMPU6050),
}
EXTREMES = (-32768, 32767, -1, 0x0102, -0x0102, 1)


def rig(name, fifo=False, rate_hz=100):
    cls, fake_cls = CHIPS[name]
    clock = FakeClock(auto_us=0)
    bus = FakeI2C()
    dev = bus.attach(fake_cls(clock))
    sensor = cls(bus, dev.address, rate_hz, fifo=fifo)
    return sensor, dev, bus, clock


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_who_am_i_is_checked(name):
    cls, _ = CHIPS[name]
    clock = FakeClock()
    bus = FakeI2C()
    # a different chip at the address: wrong WHO_AM_I
    other = FakeMPU6050 if name != "mpu6050" else FakeICM42688
    dev = bus.attach(other(clock, 0x6A if name == "lsm6dsox" else 0x68))
    with pytest.raises(OSError, match="WHO_AM_I"):
        cls(bus, dev.address, 100)
    with pytest.raises(OSError):  # nothing there: NACK
        cls(FakeI2C(), 0x6A, 100)


def test_lsm6dsox_configuration_bits():
    s, dev, _, _ = rig("lsm6dsox")
    r = dev.regs
    assert dev.resets == 2  # power-on + SW_RESET
    assert s.rate_hz == 104 and s.period_us == 9615
    assert r[0x10] == 0x4C  # CTRL1_XL: ODR 104 Hz (0100), FS +-8 g (11)
    assert r[0x11] == 0x4C  # CTRL2_G: ODR 104 Hz, FS +-2000 dps (11)
    assert r[0x12] == 0x44  # CTRL3_C: BDU, IF_INC
    assert r[0x0D] == 0x03 and r[0x0E] == 0  # data-ready on INT1 only
    both = LSM6DSOX(dev_bus(dev), 0x6A, 100, int_pins=3)
    assert both.rate_hz == 104 and dev.regs[0x0E] == 0x03  # Nano: INT1 and INT2


def dev_bus(dev):
    bus = FakeI2C()
    bus.attach(dev)
    return bus


def test_icm42688_configuration_bits():
    s, dev, _, _ = rig("icm42688")
    r = dev.regs
    assert s.rate_hz == 100 and s.period_us == 10000
    assert r[0x4F] == 0x08  # GYRO_CONFIG0: FS 000 = +-2000 dps, ODR 1000 = 100 Hz
    assert r[0x50] == 0x28  # ACCEL_CONFIG0: FS 001 = +-8 g, ODR 100 Hz
    assert r[0x4E] == 0x0F  # PWR_MGMT0: accel and gyro low-noise
    assert r[0x14] == 0x07  # INT_CONFIG: INT1 latched, push-pull, active high
    assert r[0x64] & 0x10 == 0  # INT_ASYNC_RESET cleared
    assert r[0x65] == 0x08  # INT_SOURCE0: UI_DRDY_INT1_EN
    # the write that changed PWR_MGMT0 is the last configuration write (200 us rule)
    assert [w for w in dev.writes if w[0] != 0x76][-1] == (0x4E, 0x0F)


def test_mpu6050_configuration_bits():
    s, dev, _, _ = rig("mpu6050")
    r = dev.regs
    assert s.rate_hz == 100 and s.period_us == 10000
    assert r[0x6B] == 0x01  # awake, PLL with the X gyro
    assert r[0x19] == 9 and r[0x1A] == 3  # 1 kHz / 10, DLPF 44 Hz
    assert r[0x1B] == 0x18 and r[0x1C] == 0x10  # +-2000 dps, +-8 g
    assert r[0x37] == 0x30 and r[0x38] == 0x01  # latched, cleared by any read; DATA_RDY_EN
    assert dev.period_us() == 10000


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_burst_read_order_endianness_sign(name):
    s, dev, bus, clock = rig(name)
    for i, v in enumerate(EXTREMES):
        dev.sample[i] = v
    clock.advance(s.period_us)
    out = array("h", [0] * 6)
    n0 = bus.transactions
    s.read_into(out)
    assert bus.transactions - n0 == 1  # one burst
    assert list(out) == list(EXTREMES)
    r = dev.regs
    if name == "lsm6dsox":  # little-endian, gyro x at 0x22, accel x at 0x28
        assert (r[0x22], r[0x23]) == (0x02, 0x01) and (r[0x28], r[0x29]) == (0x00, 0x80)
    elif name == "icm42688":  # big-endian, accel x at 0x1F, gyro x at 0x25
        assert (r[0x1F], r[0x20]) == (0x80, 0x00) and (r[0x25], r[0x26]) == (0x01, 0x02)
    else:  # big-endian, accel x at 0x3B, gyro x at 0x43
        assert (r[0x3B], r[0x3C]) == (0x80, 0x00) and (r[0x43], r[0x44]) == (0x01, 0x02)


def test_lsm6dsox_needs_auto_increment():
    s, dev, _, clock = rig("lsm6dsox")
    for i, v in enumerate(EXTREMES):
        dev.sample[i] = v
    clock.advance(s.period_us)
    dev.regs[0x12] = 0x40  # IF_INC off: a burst re-reads one register
    out = array("h", [0] * 6)
    s.read_into(out)
    assert list(out) != list(EXTREMES)
    s.configure()  # configuration restores IF_INC
    clock.advance(s.period_us)
    s.read_into(out)
    assert list(out) == list(EXTREMES)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_data_ready_line_follows_samples(name):
    s, dev, _, clock = rig(name)
    assert not dev.int_level()
    clock.advance(s.period_us)
    dev.update()
    assert dev.int_level() and s.ready()
    out = array("h", [0] * 6)
    s.read_into(out)
    dev.update()
    assert not dev.int_level()  # the read released the line (level, not a lost pulse)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_fifo_returns_every_sample_in_order(name):
    s, dev, _, clock = rig(name, fifo=True)
    dev.gen = pattern_gen
    clock.advance(s.period_us * 7)
    out = array("h", [0] * 6)
    exp = array("h", [0] * 6)
    for k in range(7):
        assert s.fifo_read_into(out) == 1, k
        pattern_gen(k, exp)
        assert list(out) == list(exp), k
    assert s.fifo_read_into(out) == 0
    if name == "icm42688":
        assert s.fifo_ts == (7 * s.period_us) & 0xFFFF  # the packet's timestamp


def test_fifo_threshold_drives_the_interrupt_line():
    s, dev, _, clock = rig("lsm6dsox", fifo=True)
    assert dev.regs[0x0D] == 0x08 and dev.regs[0x0A] == 0x06 and dev.regs[0x09] == 0x44
    clock.advance(s.period_us)
    dev.update()
    assert dev.int_level()
    out = array("h", [0] * 6)
    assert s.fifo_read_into(out) == 1
    dev.update()
    assert not dev.int_level()


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_bus_error_reaches_the_caller(name):
    s, dev, bus, clock = rig(name)
    clock.advance(s.period_us)
    out = array("h", [0] * 6)
    bus.fail_next(1)
    with pytest.raises(OSError):
        s.read_into(out)
    s.read_into(out)  # the next transaction works again


# -- haptic, button, battery --------------------------------------------------------------
class FakePWM:
    def __init__(self):
        self.duty = -1
        self.log = []
        self.hz = 0

    def freq(self, hz):
        self.hz = hz

    def duty_u16(self, d):
        self.duty = d
        self.log.append(d)


def test_erm_kick_hold_brake_without_blocking():
    pwm = FakePWM()
    h = ERM(pwm, kick_ms=25, brake_ms=20, supply_mv=4000)
    assert pwm.hz == 20000 and pwm.duty == 0
    hold = 3000 * 65535 // 4000
    h.cue(1, 1000)
    assert pwm.duty == 65535  # kick at once
    h.update(1024)
    assert pwm.duty == 65535
    h.update(1025)
    assert pwm.duty == hold
    h.set_supply_mv(3300)
    h.update(1030)
    assert pwm.duty == 3000 * 65535 // 3300
    h.cue(0, 1100)
    assert pwm.duty == 0
    h.cue(1, 1105)  # during the brake: deferred
    assert pwm.duty == 0
    h.update(1119)
    assert pwm.duty == 0
    h.update(1120)
    assert pwm.duty == 65535 and h.pulses == 2
    h.set_supply_mv(2900)  # supply below the rated voltage: no kick needed, full duty
    h.cue(0, 1200)
    h.update(1300)
    h.cue(1, 1300)
    assert pwm.duty == 65535


def test_fault_pattern_overrides_cues_and_repeats():
    pwm = FakePWM()
    h = ERM(pwm, kick_ms=0, brake_ms=0, supply_mv=3000)
    h.play(PATTERN_FAULT, 0, FAULT_REPEAT_MS)
    on = []
    for t in range(0, 2 * FAULT_REPEAT_MS, 10):
        if t == 100:
            h.cue(1, t)  # ignored while the pattern plays
        h.update(t)
        on.append(1 if pwm.duty > 0 else 0)
    edges = sum(1 for a, b in zip(on, on[1:], strict=False) if b and not a) + on[0]
    assert edges == 6  # three buzzes, twice
    assert sum(on) == 2 * 3 * 8  # 80 ms each at 10 ms steps
    h.stop(9000)
    assert pwm.duty > 0  # the cue (still on) applies again


def test_drv2605l_rtp_mode():
    clock = FakeClock()
    bus = FakeI2C()
    dev = bus.attach(FakeDRV2605L(clock))
    h = DRV2605L(bus)
    assert dev.regs[0x01] == 0x05 and dev.regs[0x1D] & 0x08
    h.cue(1, 0)
    h.update(50)
    h.cue(0, 100)
    assert dev.rtp_log[-2:] == [255, 0]
    dev.present = False
    h.cue(1, 200)  # a write error is counted, not raised into the loop
    assert h.errors == 1
    with pytest.raises(OSError):
        DRV2605L(FakeI2C())


class FakePin:
    def __init__(self, v=1):
        self.v = v

    def value(self):
        return self.v


def test_button_debounce_short_long():
    pin = FakePin(1)
    b = btn.Button(pin, debounce_ms=30, long_ms=1000)
    ev = []

    def run(level, t0, t1):
        pin.v = level
        for t in range(t0, t1, 5):
            e = b.update(t)
            if e:
                ev.append((t, e))

    run(0, 0, 20)  # a 20 ms bounce: ignored
    run(1, 20, 100)
    assert ev == []
    run(0, 100, 400)
    run(1, 400, 500)
    assert ev == [(430, btn.SHORT)]
    run(0, 500, 1700)
    assert ev[-1] == (1530, btn.LONG)
    run(1, 1700, 1800)
    assert len(ev) == 2  # no SHORT after a LONG
    assert btn.held_at_boot(FakePin(0), ms=20, step_ms=10)
    assert not btn.held_at_boot(FakePin(1), ms=20, step_ms=10)


class FakeADC:
    def __init__(self, raw):
        self.raw = raw

    def read_u16(self):
        return self.raw


def test_battery_millivolts():
    assert Battery(FakeADC(65535), ratio=3).read_mv() == 9900
    assert Battery(FakeADC(24000), ratio=3).read_mv() == 24000 * 3300 * 3 // 65535  # 3625
    assert Battery(FakeADC(37000), ratio=2).read_mv() == 3726
    assert 65535 * 3300 * 3 < 2**30  # small int on the RP2040


# -- the same drivers under MicroPython ------------------------------------------------------
def run_probe(engine, tmp_path):
    env = dict(os.environ)
    if engine == "micropython":
        shutil.copy(ROOT / "tests" / "fake_machine.py", tmp_path / "machine.py")
        env["MICROPYPATH"] = "%s:%s" % (tmp_path, ROOT)
        cmd = [micropython_bin(), "-X", "heapsize=8M", "tests/mp_driver_probe.py"]
    else:
        env["PYTHONPATH"] = str(ROOT)
        cmd = [os.sys.executable, "tests/mp_driver_probe.py"]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("engine", ["micropython", "cpython"])
def test_drivers_read_without_allocating(engine, tmp_path):
    r = run_probe(engine, tmp_path)
    assert r["engine"] == engine
    print("\n[driver probe]", json.dumps(r))
    assert len(r["drivers"]) == 6
    for d in r["drivers"]:
        assert d["reads"] == 1000 and d["last"] == d["expected_last"], d
        assert d["alloc"] == 0 and d["total"] == 0, d
    for b in (r["board"], r["board_fifo"], r["board_batched"]):
        assert b["good"] == 1000 and b["alloc"] == 0 and b["total"] == 0, b
