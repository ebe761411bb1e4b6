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
import time
from array import array

from machine import ADC, I2C, PWM, WDT, WDT_RESET, Pin, freq, reset_cause

from device.drivers.battery import Battery
from device.drivers.button import Button
from device.drivers.haptic import ERM, FAULT_REPEAT_MS, PATTERN_FAULT
from device.drivers.icm42688 import ICM42688
from device.drivers.lsm6dsox import LSM6DSOX
from device.drivers.mpu6050 import MPU6050
from shared.mp import const, micropython

SAMPLE = const(1)
NO_DATA = const(2)

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


_MISSING = _Missing()


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
    ):
        if pins is None:
            pins = detect_pins()
        self.pins = pins
        self.name = pins["name"]
        self._clock = clock if clock is not None else time
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

    def _open_sensor(self):
        cls, addresses = IMU_DRIVERS[self.imu_model]
        err = None
        for addr in addresses:
            try:
                if cls is LSM6DSOX:
                    s = cls(self.i2c, addr, self.rate_hz, self.pins["int_pins"], self.fifo)
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
        clock = self._clock
        self._service(clock.ticks_ms())
        if self.fault & FAULT_IMU:
            return self._fault_step()
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

    # -- for the app -------------------------------------------------------------------
    def motor(self, on):
        """Cue drive from the app: kick-start, hold, brake (drivers/haptic.py). Ignored
        while the fault pattern plays."""
        self.haptic.cue(on, self._clock.ticks_ms())

    def data_ready(self):
        """1 when the next sample is waiting (data-ready high, or the FIFO holds one): the
        loop stops serving the host then. A faulted sensor reports ready so the loop goes on
        to the fault handling in next_sample()."""
        if self.fault & FAULT_IMU:
            return 1
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


def make_board(cfg, clock=None):
    """The board for this hardware, configured from the device config."""
    set_clock(cfg["cpu_mhz"])
    return Board(rate_hz=cfg["rate_hz"], imu=cfg["imu"], clock=clock, fifo=fifo_default(cfg["imu"]))
