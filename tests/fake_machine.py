"""A stand-in for MicroPython's `machine` module over the fakes in tests/fake_i2c.py.

CPython: sys.modules["machine"] = this module. MicroPython unix port: copied as machine.py
into a directory at the front of MICROPYPATH (a file there shadows the built-in module).
`SIM` is the simulated world: the clock, one FakeI2C per bus, what input pins read, the
PWM and LED outputs, ADC values and the watchdog's feeds.
"""

from tests.fake_i2c import FakeClock, FakeI2C

PWRON_RESET = 1
WDT_RESET = 3


class _World:
    def __init__(self):
        self.reset()

    def reset(self):
        self.clock = FakeClock()
        self.buses = {0: FakeI2C(), 1: FakeI2C()}
        self.inputs = {}  # pin id -> int level or a function returning it
        self.outputs = {}  # pin id -> last level written
        self.adc = {}  # pin id -> raw read_u16 value
        self.pwm_duty = {}  # pin id -> last duty_u16
        self.pwm_changes = 0
        self.pwm_freq = {}
        self.reset_cause = PWRON_RESET
        self.wdt_timeout_ms = 0
        self.wdt_feeds = 0
        self.wdt_last_us = -1
        self.wdt_max_gap_us = 0
        self.i2c_init = {}
        self.cpu_hz = 125000000
        self.freq_calls = []  # each machine.freq(hz) set


SIM = _World()


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 8
    IRQ_FALLING = 4

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        if value is not None:
            SIM.outputs[id] = value

    def value(self, v=None):
        if v is None:
            src = SIM.inputs.get(self.id)
            if src is None:
                if self.pull == Pin.PULL_UP:
                    return 1
                return SIM.outputs.get(self.id, 0)
            if isinstance(src, int):
                return src
            return src()
        SIM.outputs[self.id] = v
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


def I2C(id, scl=None, sda=None, freq=400000):
    SIM.i2c_init[id] = (sda.id if sda else -1, scl.id if scl else -1, freq)
    return SIM.buses[id]


class PWM:
    def __init__(self, pin, freq=0, duty_u16=0):
        self.id = pin.id

    def freq(self, hz=None):
        if hz is not None:
            SIM.pwm_freq[self.id] = hz
        return SIM.pwm_freq.get(self.id, 0)

    def duty_u16(self, d=None):
        if d is not None:
            SIM.pwm_duty[self.id] = d
            SIM.pwm_changes += 1
        return SIM.pwm_duty.get(self.id, 0)


class ADC:
    def __init__(self, pin):
        self.id = pin if isinstance(pin, int) else pin.id

    def read_u16(self):
        return SIM.adc.get(self.id, 0)


class WDT:
    def __init__(self, id=0, timeout=5000):
        SIM.wdt_timeout_ms = timeout
        SIM.wdt_last_us = SIM.clock.now_us

    def feed(self):
        now = SIM.clock.now_us
        gap = now - SIM.wdt_last_us
        if gap > SIM.wdt_max_gap_us:
            SIM.wdt_max_gap_us = gap
        SIM.wdt_last_us = now
        SIM.wdt_feeds += 1


def reset_cause():
    return SIM.reset_cause


def freq(hz=None):
    if hz is not None:
        SIM.freq_calls.append(hz)
        SIM.cpu_hz = hz
    return SIM.cpu_hz


def unique_id():
    return b"\x00\x01\x02\x03\x04\x05\x06\x07"
