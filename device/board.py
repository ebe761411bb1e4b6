"""The board layer: the only module that imports `machine`.

Two reference builds (hardware/pins.md), chosen at boot from os.uname().machine:
  (a) Raspberry Pi Pico + IMU breakout: I2C0 SDA GP4 / SCL GP5 at 400 kHz, IMU INT1 GP6,
      motor PWM GP15, button GP14, LED GP25, V_SYS/3 on GP29 (ADC3), VBUS sense GP24.
  (b) Arduino Nano RP2040 Connect: I2C0 GPIO12/13, on-board LSM6DSOX at 0x6A with its
      interrupt on GPIO24 (data-ready routed to INT1 and INT2), motor GPIO15 (D3), button
      GPIO16 (D4), LED GPIO6 (D13), V_SYS/2 on GPIO26 (A0), NINA-W102 reset GPIO3 held low.

The loop calls `next_sample()` once per sample. It returns
  SAMPLE (1): a new sample is in `imu` (ax ay az gx gy gz raw counts), `t_us` is its
      timestamp (the data-ready edge, or the FIFO slot), `dt_us` the time since the
      previous good sample (a gap after a fault shows as missed samples), `late` = 1 when
      the sample was already waiting (the previous tick overran);
  NO_DATA (2): no new sample, `imu` unchanged: the IMU is missing or failing. `fault` has
      FAULT_IMU set, the fault buzz plays, and the board retries the sensor every
      `probe_ms` until it answers again (then `recoveries` counts up);
  0 never (the real board has no end; the simulator returns 0 at the end of a trace).
Each call also services the motor state machine, the button and the battery reading.

Watchdog (machine.WDT, started by `start_watchdog()`): fed only when a good sample came
in, or while a fault younger than `fault_reset_ms` is being handled; a hung loop, a bus
that blocks, or a fault that outlasts `fault_reset_ms` resets the chip. After such a
reset the escalation is off (a missing sensor must not cause a reset loop).
"""

import os
import sys
import time
from array import array

from machine import ADC, I2C, PWM, WDT, WDT_RESET, Pin, freq, idle, lightsleep, reset_cause

from device.drivers.battery import Battery
from device.drivers.button import Button
from device.drivers.haptic import ERM, FAULT_REPEAT_MS, PATTERN_FAULT
from device.drivers.icm42688 import ICM42688
from device.drivers.lsm6dsox import LSM6DSOX
from device.drivers.mpu6050 import MPU6050
from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr16  # viper's pointer cast (a builtin there)

SAMPLE = const(1)
NO_DATA = const(2)
WAITING = const(3)  # no sample: the board waits for motion (gyro off, the MCU asleep)

FAULT_IMU = const(1)  # IMU missing or not answering on the bus
FAULT_WDT_RESET = const(2)  # the last reset was the watchdog's

# name: (driver, I2C addresses to try). Scales in shared/config.py IMUS.
IMU_DRIVERS = {
    "lsm6dsox": (LSM6DSOX, (0x6A, 0x6B)),
    "icm42688": (ICM42688, (0x68, 0x69)),
    "mpu6050": (MPU6050, (0x68, 0x69)),
}

PICO = {
    "name": "rp2-pico",
    "i2c": 0,
    "sda": 4,
    "scl": 5,
    "int": 6,
    "int_pins": 1,
    "motor": 15,
    "button": 14,
    "led": 25,
    "vsys_adc": 29,
    "vsys_ratio": 3,
    "vbus": 24,
    "nina_reset": -1,
}
NANO_RP2040_CONNECT = {
    "name": "nano-rp2040-connect",
    "i2c": 0,
    "sda": 12,
    "scl": 13,
    "int": 24,
    "int_pins": 3,  # INT1 and INT2: which pad reaches GPIO24 is not documented
    "motor": 15,
    "button": 16,
    "led": 6,
    "vsys_adc": 26,
    "vsys_ratio": 2,
    "vbus": -1,  # no VBUS sense pin: V_SYS > 4.4 V means USB
    "nina_reset": 3,
}


class _Missing:
    """Stands in for an IMU that did not answer at boot: every access is a bus error."""

    name = "none"

    def configure(self):
        raise OSError(19)  # ENODEV

    @micropython.native
    def read_into(self, out):
        raise OSError(19)

    @micropython.native
    def fifo_read_into(self, out):
        raise OSError(19)

    def fifo_level(self):
        raise OSError(19)

    def fifo_batch_into(self, out, max_samples):
        raise OSError(19)

    def wait_for_motion(self, ths_lsb, dur):
        raise OSError(19)

    def motion(self):
        raise OSError(19)


_MISSING = _Missing()

BATCH_MAX = 16  # the largest FIFO batch (samples per threshold interrupt)
WAKE_MG_PER_LSB_X4 = 125  # the wake-up threshold's step at 8 g, x4 (31.25 mg)


def _wake(pin):
    """The INT pin's IRQ handler: nothing to do, the interrupt itself ends the WFI/WFE."""


def detect_pins():
    """The pin table for this board, from the firmware's board name."""
    try:
        machine_name = os.uname().machine
    except AttributeError:
        machine_name = ""
    if "Nano RP2040 Connect" in machine_name:
        return NANO_RP2040_CONNECT
    return PICO


def hold_radio_in_reset(pins):
    """Build (b): NINA-W102 RESET_N low from the first line of boot (it draws ~25 mA
    otherwise). No-op on the Pico."""
    if pins["nina_reset"] >= 0:
        Pin(pins["nina_reset"], Pin.OUT, value=0)


def button_pin(pins):
    return Pin(pins["button"], Pin.IN, Pin.PULL_UP)


class Board:
    def __init__(
        self,
        rate_hz=100,
        imu="lsm6dsox",
        pins=None,
        clock=None,
        fifo=False,
        retries=3,
        probe_ms=250,
        fault_reset_ms=30000,
        batch=1,
        idle_stop_s=0,
        wake_mg=0,
        wait_poll_ms=250,
        light_sleep=1,
    ):
        if pins is None:
            pins = detect_pins()
        self.pins = pins
        self.name = pins["name"]
        self._clock = clock if clock is not None else time
        self._ticks_add = self._clock.ticks_add  # bound once: used on every batched sample
        hold_radio_in_reset(pins)
        self.led = Pin(pins["led"], Pin.OUT, value=0)
        self.i2c = I2C(pins["i2c"], sda=Pin(pins["sda"]), scl=Pin(pins["scl"]), freq=400000)
        self._drdy = Pin(pins["int"], Pin.IN)
        self.haptic = ERM(PWM(Pin(pins["motor"])))
        self.button = Button(button_pin(pins))
        self.battery = Battery(ADC(pins["vsys_adc"]), ratio=pins["vsys_ratio"])
        self._vbus = Pin(pins["vbus"], Pin.IN) if pins["vbus"] >= 0 else None
        self.imu_model = imu
        self.rate_hz = rate_hz
        self.fifo = fifo
        self.retries = retries
        self.probe_ms = probe_ms
        self.fault_reset_ms = fault_reset_ms
        self.fault = 0
        if reset_cause() == WDT_RESET:
            self.fault |= FAULT_WDT_RESET
            self.fault_reset_ms = 0  # no reset loop
        self.fault_count = 0  # entries into the IMU fault state
        self.bus_errors = 0  # OSErrors seen on the IMU bus
        self.retried = 0  # reads that failed, then succeeded on a retry
        self.recoveries = 0  # IMU fault states left
        self.timeouts = 0  # data-ready did not come within 4 periods
        self.samples = 0
        self.imu = array("h", [0] * 6)  # ax ay az gx gy gz, raw counts, sensor axes
        self.dt_us = 0
        self.t_us = 0
        self.late = 0
        self.button_event = 0  # last SHORT / LONG press, until take_button()
        self.events = array("i", [0])  # 1: a press is waiting (the loop reads this cell)
        self.vbat_mv = 0
        self.usb = 0
        # the loop's cells: [0] USB connected (the command service runs only then),
        # [1] samples without a step after which the loop may wait for motion (0: never)
        self.cells = array("i", [0, 0])
        # FIFO batching: the threshold interrupt comes every `batch` samples; the batch is
        # read in one burst into `_batch` and handed out one sample per next_sample()
        self.batch = batch if fifo and batch > 1 else 1
        self._batch = array("h", [0] * (6 * (2 * BATCH_MAX + 2)))
        self._bn = 0  # samples in _batch
        self._bi = 0  # next one to hand out
        self._int_at = 0  # ticks_us when the threshold interrupt was last seen rising
        self.batches = 0  # batch reads
        self.sleeps = 0  # waits for the interrupt that slept
        self.light_sleep = light_sleep  # 1: lightsleep between batches without USB
        self.light_sleeps = 0  # of those, the machine.lightsleep() calls
        self._fresh = 1  # the next sample is the first since a (re)configure
        # motion wake-up
        self.idle_stop_s = idle_stop_s if imu == "lsm6dsox" else 0
        self.wake_lsb = (wake_mg * 4 + WAKE_MG_PER_LSB_X4 // 2) // WAKE_MG_PER_LSB_X4
        self.wait_poll_ms = wait_poll_ms
        self.waiting = 0  # 1 while waiting for motion
        self.wakes = 0  # motion wake-ups
        self.waits = 0  # entries into the wait for motion
        self._wdt = None
        self._fault_at = 0
        self._probe_at = 0
        self._service_at = 0
        self.sensor = _MISSING  # until an IMU answers
        self.imu_name = imu
        self.period_us = 1000000 // rate_hz
        now_ms = self._clock.ticks_ms()
        self._read_battery(now_ms)
        try:
            self.sensor = self._open_sensor()
        except OSError:
            self._enter_fault(now_ms)
        self._last_us = self._clock.ticks_us()
        self.t_us = self._last_us
        self._int_at = self._last_us
        if self.idle_stop_s > 0:
            self.cells[1] = self.idle_stop_s * (1000000 // self.period_us)
        self._drdy.irq(_wake, Pin.IRQ_RISING)  # the edge ends a WFI at once
        if self.batch > 1:
            # the loop binds next_sample once: this board's is the batched read itself
            self.next_sample = self._batch_sample  # type: ignore[method-assign]

    def _open_sensor(self):
        cls, addresses = IMU_DRIVERS[self.imu_model]
        err = None
        for addr in addresses:
            try:
                if cls is LSM6DSOX:
                    s = cls(self.i2c, addr, self.rate_hz, self.pins["int_pins"], self.fifo)
                    if self.batch > 1:
                        s.set_batch(self.batch)
                        s.configure()
                else:
                    s = cls(self.i2c, addr, self.rate_hz, self.fifo)
            except OSError as e:
                err = e
                continue
            self.imu_name = s.name
            self.period_us = s.period_us
            return s
        raise err if err is not None else OSError(19)

    def start_watchdog(self, timeout_ms=2000):
        """Start machine.WDT (RP2040: at most 8388 ms). It cannot be stopped again."""
        self._wdt = WDT(timeout=timeout_ms)
        self._wdt.feed()

    # -- per sample ------------------------------------------------------------------
    @micropython.native
    def next_sample(self) -> int:
        if self.batch > 1 and not self.fault & FAULT_IMU:
            return self._batch_sample()
        clock = self._clock
        self._service(clock.ticks_ms())
        if self.fault & FAULT_IMU:
            return self._fault_step()
        if self.waiting:
            return self._wait_step()
        sensor = self.sensor
        late = 0
        got = 0
        if self.fifo:
            got = self._read_retry(2)
            if got == 1:
                late = 1
        if not got:
            # Data-ready is a level (latched until the sample is read): already high means
            # the previous tick overran its period.
            drdy = self._drdy
            if drdy.value():
                late = 1
            else:
                t0 = clock.ticks_us()
                limit = self.period_us * 4
                while not drdy.value():
                    if clock.ticks_diff(clock.ticks_us(), t0) > limit:
                        self.timeouts += 1
                        # no data-ready: the sensor may have lost its configuration
                        # (brown-out); reconfigure, then read whatever is there
                        try:
                            sensor.configure()
                        except OSError:
                            self.bus_errors += 1
                            return self._enter_fault(clock.ticks_ms())
                        break
            got = self._read_retry(2 if self.fifo else 1)
        if got < 0:
            return self._enter_fault(clock.ticks_ms())
        now = clock.ticks_us()
        if late:
            # The sample became ready before we looked. A FIFO backlog sample is the next
            # slot of the sensor's grid. The output registers hold the newest sample, ready
            # within the last period: after an overrun of half a period or more it is
            # stamped at the last grid slot before now (whole periods in between are missed
            # samples), not at the read. A sample only just late (the command service
            # stopped at the edge) keeps its read time, which re-anchors the grid: grid
            # stamps chained sample after sample would drift with the sensor's ODR error.
            period = self.period_us
            if self.fifo:
                now = clock.ticks_add(self._last_us, period)
            else:
                k = clock.ticks_diff(now, self._last_us) // period
                if clock.ticks_diff(now, self._last_us) - period >= period // 2:
                    now = clock.ticks_add(self._last_us, k * period)
        self.late = late
        self.dt_us = clock.ticks_diff(now, self._last_us)
        self._last_us = now
        self.t_us = now
        self.samples += 1
        if self._wdt is not None:
            self._wdt.feed()
        return SAMPLE

    @micropython.viper
    def _batch_sample(self) -> int:
        """next_sample() with FIFO batching: the next sample of the batch in hand; when it is
        used up, a new batch (_next_batch: sleep until the threshold interrupt, the INT pin
        checked before any bus read, then the whole FIFO in one burst). Each sample is
        stamped on the sensor's grid, one period after the one before (the FIFO loses none
        unless it overruns, which `fifo_overruns` counts); the first after a (re)configure
        at its read. `late`: the sample was more than a batch behind (a flash erase or an
        overrun kept the loop away). The watchdog is fed once a batch."""
        if int(self.fault) & 1:  # FAULT_IMU
            return int(self._fault_step())
        if self.waiting:
            return int(self._wait_step())  # it serves the motor and the button itself
        i = int(self._bi)
        if i >= int(self._bn):
            if not self._next_batch():
                return int(self._enter_fault(self._clock.ticks_ms()))
            i = 0
        late = 1 if int(self._bn) - i > int(self.batch) else 0
        src = ptr16(self._batch)
        imu = ptr16(self.imu)
        j = 6 * i
        imu[0] = src[j]
        imu[1] = src[j + 1]
        imu[2] = src[j + 2]
        imu[3] = src[j + 3]
        imu[4] = src[j + 4]
        imu[5] = src[j + 5]
        self._bi = i + 1
        if self._fresh:
            self._fresh = 0
            now = self._clock.ticks_us()
            self.dt_us = self.period_us  # a restart, not a gap: nothing was missed
        else:
            now = self._ticks_add(self._last_us, self.period_us)
        if late != int(self.late):
            self.late = late
        self._last_us = now
        self.t_us = now
        self.samples = int(self.samples) + 1
        return 1

    def _next_batch(self):
        """Serve the motor, the button and the battery (once a batch; in the sleep too when
        they have timed work), sleep until the threshold interrupt, read the FIFO, feed the
        watchdog. 1 with at least one whole sample in hand, 0 on a fault."""
        clock = self._clock
        while True:
            self._service(clock.ticks_ms())
            if not self._drdy.value():
                if not self._sleep_until_int():
                    return 0
                if self._bi < self._bn:
                    break  # the wait timed out with samples in the FIFO: they were read
            if self._read_batch() < 0:
                return 0
            if self._bn > 0:
                break
        if self._wdt is not None:
            self._wdt.feed()
        return 1

    @micropython.native
    def _sleep_until_int(self) -> int:
        """Sleep until the INT pin rises: time.sleep_ms (WFE, woken by any interrupt, the
        wait in C) until ~0.5-1.5 ms before the threshold is due (one batch after the last),
        then machine.idle() (WFE, which the pin's IRQ ends at once) until the pin is up.
        Without USB and with the motor off (`light_sleep`), machine.lightsleep(ms) instead of
        the first: the batch's timing is known, so the timer wake of MicroPython 1.28's rp2
        lightsleep (it has no pin wake) is enough, and the PLLs are off meanwhile. The
        motor's timed steps (kick, brake, a pattern) cut a sleep short so they stay on time;
        a button being pressed keeps the waits short (1 ms). Returns 0 if the pin never
        rose (4 batches, twice, with a reconfigure in between)."""
        clock = self._clock
        drdy = self._drdy
        haptic = self.haptic
        button = self.button
        self.sleeps += 1
        t0 = clock.ticks_us()
        span = self.period_us * self.batch
        due = clock.ticks_add(self._int_at, span - 500)
        limit = span * 4
        tries = 0
        while not drdy.value():
            now = clock.ticks_us()
            d = clock.ticks_diff(due, now) // 1000
            busy = button.busy()
            if busy:
                d = 0
            else:
                h = haptic.wait_ms(clock.ticks_ms())
                if h >= 0:
                    busy = 1
                    if h < d:
                        d = h
            if d > 1 and not self.usb and not haptic.state and self.light_sleep:
                # no USB to serve, the motor off: the timer wakes the core at the time the
                # threshold is due, with the PLLs off meanwhile (clk_sys from the crystal)
                lightsleep(d)
                self.light_sleeps += 1
            elif d > 0:
                clock.sleep_ms(d)
            else:
                idle()
            if busy:
                self._service(clock.ticks_ms())
            now = clock.ticks_us()
            if clock.ticks_diff(now, t0) > limit:
                self.timeouts += 1
                tries += 1
                if tries > 1:
                    return 0  # reconfigured and still silent: a fault
                if self._read_batch() > 0:
                    return 1  # samples in, short of the threshold (the end of a replay)
                try:
                    self.sensor.configure()  # lost its configuration (brown-out)?
                except OSError:
                    self.bus_errors += 1
                    return 0
                self._bn = self._bi = 0
                self._fresh = 1
                t0 = now
        self._int_at = clock.ticks_us()
        return 1

    @micropython.native
    def _read_batch(self) -> int:
        """The FIFO into _batch in one burst (with retries); returns the sample count (0: the
        FIFO held no whole sample), or -1 when the bus failed."""
        n = 0
        while True:
            try:
                k = self.sensor.fifo_batch_into(self._batch, BATCH_MAX * 2)
                if n:
                    self.retried += 1
                self._bn = k
                self._bi = 0
                self.batches += 1
                return k
            except OSError:
                self.bus_errors += 1
                n += 1
                if n > self.retries:
                    return -1

    # -- waiting for motion ------------------------------------------------------------
    def wait_for_motion(self):
        """Gyro off, accelerometer in low power with its wake-up interrupt on the INT pin:
        from now on next_sample() returns WAITING (sleeping wait_poll_ms each call) until the
        sensor sees motion or the button is pressed, then samples again. Returns 1 if the
        board went into the wait (an LSM6DSOX that answers), else 0."""
        if self.fault & FAULT_IMU or self.sensor is _MISSING or self.imu_model != "lsm6dsox":
            return 0
        try:
            self.sensor.wait_for_motion(self.wake_lsb, 0)
        except OSError:
            self.bus_errors += 1
            return 0
        self.waiting = 1
        self.waits += 1
        self.haptic.cue(0, self._clock.ticks_ms())
        return 1

    def resume(self):
        """Back to sampling at the configured rate (the sensor reconfigured, FIFO restarted)."""
        self.waiting = 0
        self._bn = self._bi = 0
        self._fresh = 1
        try:
            self.sensor.configure()
        except OSError:
            self.bus_errors += 1
            self._enter_fault(self._clock.ticks_ms())
        self._last_us = self._int_at = self._clock.ticks_us()

    def _wait_step(self):
        """One step of the wait for motion: the INT pin up (the latched wake-up event) or a
        button press resumes sampling; else sleep wait_poll_ms and return WAITING (the loop
        then serves USB and the button). The sleep: with USB connected time.sleep_ms (WFE,
        the USB interrupts served); without, machine.lightsleep(ms) (rp2 port: clk_sys
        from the 12 MHz crystal, PLLs and the USB clock stopped, only the timer wakes it:
        MicroPython 1.28's rp2 lightsleep has no pin wake, so the latched INT pin is
        looked at after each sleep)."""
        clock = self._clock
        now_ms = clock.ticks_ms()
        self._service(now_ms)
        if self._wdt is not None:
            self._wdt.feed()
        if self._drdy.value():
            try:
                self.sensor.motion()  # clears the latch
            except OSError:
                self.bus_errors += 1
            self.wakes += 1
            self.resume()
            return WAITING
        if self.button_event or self.button.busy():
            if self.button_event:
                self.resume()
            return WAITING
        if self.usb:
            clock.sleep_ms(self.wait_poll_ms)  # WFE: USB stays served
        else:
            lightsleep(self.wait_poll_ms)  # clocks from the crystal, PLLs off; timer wake
        return WAITING

    @micropython.native
    def _read_retry(self, how):
        """how 1: read the output registers; 2: pop one FIFO sample. Returns 1 (data),
        0 (FIFO empty) or -1 (the bus failed `retries` + 1 times in a row)."""
        n = 0
        while True:
            try:
                if how == 1:
                    self.sensor.read_into(self.imu)
                    r = 1
                else:
                    r = self.sensor.fifo_read_into(self.imu)
                if n:
                    self.retried += 1
                return r
            except OSError:
                self.bus_errors += 1
                n += 1
                if n > self.retries:
                    return -1

    def _enter_fault(self, now_ms):
        if not self.fault & FAULT_IMU:
            self.fault |= FAULT_IMU
            self.fault_count += 1
            self._fault_at = now_ms
            self._probe_at = self._clock.ticks_add(now_ms, self.probe_ms)
            self.haptic.play(PATTERN_FAULT, now_ms, FAULT_REPEAT_MS)
            self.led.value(1)
        return NO_DATA

    def _fault_step(self):
        """One period of the fault state: probe the sensor now and then, pace the loop at
        the sample period (busy, like waiting for data-ready), feed the watchdog while the
        fault is young enough."""
        clock = self._clock
        t0 = clock.ticks_us()
        now_ms = clock.ticks_ms()
        if clock.ticks_diff(now_ms, self._probe_at) >= 0:
            self._probe_at = clock.ticks_add(now_ms, self.probe_ms)
            try:
                if self.sensor is _MISSING:
                    self.sensor = self._open_sensor()
                else:
                    self.sensor.configure()
                self.fault &= ~FAULT_IMU
                self.recoveries += 1
                self._bn = self._bi = 0  # batching starts afresh
                self._fresh = 1
                self.haptic.stop(now_ms)
                self.led.value(0)
                return self.next_sample()
            except OSError:
                self.bus_errors += 1
        age = clock.ticks_diff(now_ms, self._fault_at)
        if self._wdt is not None and (self.fault_reset_ms <= 0 or age < self.fault_reset_ms):
            self._wdt.feed()
        while clock.ticks_diff(clock.ticks_us(), t0) < self.period_us:
            pass
        return NO_DATA

    def _service(self, now_ms):
        self.haptic.update(now_ms)
        ev = self.button.update(now_ms)
        if ev:
            self.button_event = ev
            self.events[0] = 1
        if self._clock.ticks_diff(now_ms, self._service_at) >= 1000:
            self._read_battery(now_ms)

    def _read_battery(self, now_ms):
        self._service_at = now_ms
        self.vbat_mv = self.battery.read_mv()
        self.haptic.set_supply_mv(self.vbat_mv)
        if self._vbus is not None:
            self.usb = self._vbus.value()
        else:
            self.usb = 1 if self.vbat_mv > 4400 else 0
        self.cells[0] = self.usb

    # -- for the app -------------------------------------------------------------------
    def motor(self, on):
        """Cue drive from the app: kick-start, hold, brake (drivers/haptic.py). Ignored
        while the fault pattern plays."""
        self.haptic.cue(on, self._clock.ticks_ms())

    def data_ready(self):
        """1 when the next sample is waiting (data-ready high, or the FIFO holds one): the
        loop stops serving the host then. A faulted sensor reports ready so the loop goes on
        to the fault handling in next_sample()."""
        if self.fault & FAULT_IMU or self.waiting:
            return 1
        if self.batch > 1:
            return 1 if self._bi < self._bn or self._drdy.value() else 0
        if self.fifo:
            try:
                return 1 if self.sensor.fifo_level() else 0
            except OSError:
                return 1
        return 1 if self._drdy.value() else 0

    def take_button(self):
        """The last button event (button.SHORT / button.LONG), once; 0 if none."""
        ev = self.button_event
        self.button_event = 0
        self.events[0] = 0
        return ev


class NanoBoard(Board):
    """Build (b): the same layer with the Nano RP2040 Connect's pin table."""

    def __init__(self, rate_hz=100, imu="lsm6dsox", **kw):
        kw["pins"] = NANO_RP2040_CONNECT
        super().__init__(rate_hz, imu, **kw)


def fifo_default(imu):
    """Whether the firmware reads `imu` through its FIFO: the LSM6DSOX (the default IMU, the
    one the emulated chip models) does; the others read their data registers on data-ready."""
    return imu == "lsm6dsox"


def set_clock(cpu_mhz):
    """The core clock from the config's cpu_mhz (machine.freq), before the buses are set up
    (their dividers follow the clock); nothing is touched at the clock already running."""
    hz = cpu_mhz * 1000000
    if freq() != hz:
        freq(hz)
    return freq()


def make_board(cfg, clock=None, pins=None):
    """The board for this hardware, configured from the device config."""
    set_clock(cfg["cpu_mhz"])
    fifo = fifo_default(cfg["imu"])
    return Board(
        rate_hz=cfg["rate_hz"],
        imu=cfg["imu"],
        pins=pins,
        clock=clock,
        fifo=fifo,
        batch=cfg["fifo_batch"] if fifo else 1,
        idle_stop_s=cfg["idle_stop_s"],
        wake_mg=cfg["wake_mg"],
    )
