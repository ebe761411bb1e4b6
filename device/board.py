"""The board layer for build (a), a Raspberry Pi Pico: the only module that imports `machine`.

Pins (hardware/pins.md): I2C0 SDA GP4, SCL GP5 at 400 kHz; IMU INT1 (data ready) GP6;
motor PWM GP15; button GP14 to ground; LED GP25.
"""

import time
from array import array

from machine import I2C, PWM, Pin

from device.drivers.lsm6dsox import LSM6DSOX
from shared.mp import micropython


class Board:
    name = "rp2-pico"

    def __init__(self, rate_hz=104):
        self.i2c = I2C(0, sda=Pin(4), scl=Pin(5), freq=400000)
        self.sensor = LSM6DSOX(self.i2c, rate_hz=rate_hz)
        self.imu_name = self.sensor.name
        self.period_us = 1000000 // self.sensor.rate_hz
        self._drdy = Pin(6, Pin.IN)
        self._pwm = PWM(Pin(15))
        self._pwm.freq(1000)
        self._pwm.duty_u16(0)
        self.button = Pin(14, Pin.IN, Pin.PULL_UP)
        self.led = Pin(25, Pin.OUT)
        self.imu = array("h", [0] * 6)  # ax ay az gx gy gz, raw counts
        self.dt_us = 0
        self.late = 0
        self._last_us = time.ticks_us()

    @micropython.native
    def next_sample(self) -> int:
        """Wait for the IMU's data-ready line, then read the sample; returns 1."""
        # Already high when we start waiting: the previous tick overran its period.
        self.late = 1 if self._drdy.value() else 0
        while not self._drdy.value():
            pass
        now = time.ticks_us()
        self.dt_us = time.ticks_diff(now, self._last_us)
        self._last_us = now
        self.sensor.read_into(self.imu)
        return 1

    def motor(self, on):
        # Full drive for a coin ERM; kick-start/braking patterns belong to the haptic driver.
        self._pwm.duty_u16(65535 if on else 0)
