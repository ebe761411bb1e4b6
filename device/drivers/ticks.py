"""ticks_diff for values handed in as plain ints (the drivers get `now_ms` from the loop
instead of reading a clock, so tests can drive them). RP2040 ticks wrap at 2**30
(MicroPython's small-int range), like time.ticks_diff there."""

from shared.mp import const

_HALF = const(0x20000000)
_MASK = const(0x3FFFFFFF)


def diff(a, b):
    """a - b on the wrapping tick counter, in -2**29 .. 2**29 - 1."""
    return ((a - b + _HALF) & _MASK) - _HALF


def add(t, delta):
    return (t + delta) & _MASK
