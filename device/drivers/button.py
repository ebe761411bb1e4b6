"""Push button to ground with the internal pull-up (active low), debounced in software and
polled from the sample loop: `update(now_ms)` returns an event.

SHORT: released after less than `long_ms` (start / stop a session);
LONG: held for `long_ms` (calibrate), reported once while still held.
Debounce: the raw level must stay the same for `debounce_ms` (>= 20 ms, hardware/pins.md).
"""

from device.drivers.i2cdev import sleep_ms
from device.drivers.ticks import diff
from shared.mp import const

NONE = const(0)
SHORT = const(1)
LONG = const(2)


class Button:
    def __init__(self, pin, debounce_ms=30, long_ms=1000):
        self.pin = pin
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.pressed = 0  # debounced state
        self._raw = 0
        self._raw_at = 0
        self._down_at = 0
        self._long_sent = 0

    def update(self, now_ms):
        raw = 1 if self.pin.value() == 0 else 0
        if raw != self._raw:
            self._raw = raw
            self._raw_at = now_ms
            return NONE
        if raw != self.pressed and diff(now_ms, self._raw_at) >= self.debounce_ms:
            self.pressed = raw
            if raw:
                self._down_at = now_ms
                self._long_sent = 0
                return NONE
            return NONE if self._long_sent else SHORT
        if self.pressed and not self._long_sent and diff(now_ms, self._down_at) >= self.long_ms:
            self._long_sent = 1
            return LONG
        return NONE

    def busy(self):
        """1 while the level is changing or the button is held (the loop must keep polling
        it often then: a sleep would miss the debounce or the long press)."""
        return 1 if self._raw != self.pressed or self.pressed else 0


def held_at_boot(pin, ms=100, step_ms=10):
    """True when the button is held low for the whole of `ms` (safe boot). Boot only: it
    sleeps."""
    t = 0
    while t < ms:
        if pin.value() != 0:
            return False
        sleep_ms(step_ms)
        t += step_ms
    return True
