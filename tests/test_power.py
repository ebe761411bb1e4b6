"""The loop that sleeps (issue 15), on the simulated board (tests/fake_machine.py over the fake
LSM6DSOX of tests/fake_i2c.py): FIFO batching (the threshold interrupt every fifo_batch
samples, the INT pin looked at before any bus read, one burst per batch, every sample handed
out in order on the sensor's grid), the sleep between batches, and the motion wait (gyro
off, accelerometer in low power with the wake-up interrupt; the INT pin or the button ends
it). The same board on the emulated RP2040, with the wake-up function emulated:
tests/test_rp2040.py."""

import sys

import pytest

from tests import fake_machine
from tests.fake_i2c import FakeLSM6DSOX, pattern_gen

SIM = fake_machine.SIM


@pytest.fixture
def hw(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", fake_machine)
    for m in ("device.board", "device.main"):
        monkeypatch.delitem(sys.modules, m, raising=False)
    SIM.reset()
    import device.board as board_mod

    return board_mod


def _imu():
    dev = SIM.buses[0].attach(FakeLSM6DSOX(SIM.clock))
    dev.gen = pattern_gen
    SIM.inputs[6] = dev.wait_int
    SIM.adc[29] = 24000
    return dev


def _expected(k):
    out = [0] * 6
    pattern_gen(k, out)
    return out


def test_batches_hand_out_every_sample_in_order_on_the_grid(hw):
    dev = _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=3)
    assert dev.regs[0x07] == 6 and dev.regs[0x0D] == 0x08  # watermark 6 words, on INT1
    got = []
    stamps = []
    for _ in range(60):
        assert b.next_sample() == hw.SAMPLE
        got.append(list(b.imu))
        stamps.append(b.t_us)
        assert b.dt_us == b.period_us and b.late == 0
    assert got == [_expected(k) for k in range(60)]
    assert all(b - a == stamps[1] - stamps[0] for a, b in zip(stamps, stamps[1:], strict=False))
    assert 19 <= b.batches <= 21  # one burst a batch of 3
    assert b.sleeps >= 19 and SIM.idles <= 2 * b.sleeps  # slept, then at most a short idle


def test_without_usb_the_wait_between_batches_is_a_lightsleep(hw):
    """USB connected: time.sleep_ms (WFE, the USB interrupts served); unplugged, with the
    motor off: machine.lightsleep to the batch's due time (its timer wake), then the pin."""
    dev = _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=3)
    b.usb = 1
    for _ in range(30):
        b.next_sample()
    assert SIM.lightsleeps == 0 and b.light_sleeps == 0
    b.usb = 0
    for _ in range(30):
        b.next_sample()
    assert b.light_sleeps >= 9 and SIM.lightsleeps == b.light_sleeps
    got = [list(b.imu)]
    assert got == [_expected(59)] and dev.fifo_words() <= 6  # none lost, none behind
    b.motor(1)  # the motor on: its PWM runs from clk_sys, so no lightsleep
    n = b.light_sleeps
    for _ in range(9):
        b.next_sample()
    assert b.light_sleeps == n


def test_the_int_pin_is_looked_at_before_any_bus_read(hw):
    _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=4)
    for _ in range(4):
        b.next_sample()
    bus = SIM.buses[0]
    # the batch is used up and the pin is low: no status read until it rises
    level = {"v": 0}
    SIM.inputs[6] = lambda: level["v"]
    before = bus.transactions

    def rise(ms):
        SIM.clock.now_us += ms * 1000
        level["v"] = 1

    SIM.clock.sleep_ms = rise  # the threshold interrupt comes during the sleep
    dev = bus.devices[0x6A]
    dev.update()
    SIM.inputs[6] = lambda: level["v"] or dev.int_level()
    b.next_sample()
    assert b.sleeps == 2
    # in the sleep: none; after it: FIFO_STATUS and one burst (the watchdog is not started)
    assert bus.transactions - before == 2


def test_an_overrun_drains_the_backlog_without_losing_a_sample(hw):
    _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=3)
    for _ in range(6):
        b.next_sample()
    SIM.clock.advance(45000)  # a 45 ms flash erase: ~4.7 periods of samples wait in the FIFO
    got = []
    lates = 0
    for _ in range(12):
        assert b.next_sample() == hw.SAMPLE
        got.append(list(b.imu))
        lates += b.late
    assert got == [_expected(k) for k in range(6, 18)]
    assert lates >= 1  # those more than a batch behind are reported late
    assert b.sensor.fifo_overruns == 0


def test_waiting_for_motion_and_waking(hw):
    dev = _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=3, idle_stop_s=60, wake_mg=63)
    assert b.cells[1] == 60 * (1000000 // b.period_us)  # the loop's still period, in samples
    for _ in range(6):
        b.next_sample()
    assert b.wait_for_motion() == 1
    r = dev.regs
    assert r[0x11] >> 4 == 0  # gyro powered down
    assert r[0x10] >> 4 == 0x2 and r[0x15] & 0x10  # accel 26 Hz, high-performance off
    assert r[0x5B] == 2 and r[0x5C] & 0x10  # WK_THS 2 x 31.25 mg (63 mg asked), WAKE_THS_W
    assert r[0x58] & 0x80 and r[0x5E] == 0x20 and r[0x0D] == 0  # wake-up on INT1 only
    assert r[0x0A] & 7 == 0  # FIFO in bypass
    SIM.inputs[6] = 0
    b.usb = 0
    t = SIM.clock.now_us
    n = SIM.lightsleeps
    assert b.next_sample() == hw.WAITING and SIM.lightsleeps == n + 1  # no USB: lightsleep
    assert SIM.clock.now_us - t >= 250000
    b.usb = 1
    assert b.next_sample() == hw.WAITING and SIM.lightsleeps == n + 1  # USB: a WFE sleep
    SIM.inputs[6] = 1  # the latched wake-up event
    assert b.next_sample() == hw.WAITING and b.wakes == 1 and not b.waiting
    assert r[0x11] >> 4 == 0x4 and r[0x10] >> 4 == 0x4 and r[0x15] == 0  # 104 Hz again
    SIM.inputs[6] = dev.wait_int
    assert b.next_sample() == hw.SAMPLE and b.dt_us == b.period_us  # a restart, not a gap


def test_a_button_press_ends_the_wait(hw):
    _imu()
    b = hw.Board(pins=hw.PICO, clock=SIM.clock, fifo=True, batch=3, idle_stop_s=60)
    b.next_sample()
    b.wait_for_motion()
    SIM.inputs[6] = 0
    SIM.inputs[14] = 0  # held down
    for _ in range(20):
        b.next_sample()
        SIM.clock.advance(10000)
        if not b.waiting:
            break
    SIM.inputs[14] = 1
    for _ in range(20):
        if b.button_event:
            break
        b.next_sample()
        SIM.clock.advance(10000)
    assert b.button_event and not b.waiting


def test_other_imus_never_batch_or_wait(hw):
    from tests.fake_i2c import FakeMPU6050

    dev = SIM.buses[0].attach(FakeMPU6050(SIM.clock))
    SIM.inputs[6] = dev.wait_int
    b = hw.Board(imu="mpu6050", pins=hw.PICO, clock=SIM.clock, fifo=False, batch=3, idle_stop_s=60)
    assert b.batch == 1 and b.cells[1] == 0 and b.wait_for_motion() == 0
