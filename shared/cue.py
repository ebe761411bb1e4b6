"""Cue detector: when to drive the vibration motor.

A cue fires when the drop has stayed at or past the threshold for `dwell` (debounce), then
the motor runs for `pulse`. The next cue needs both the refractory period to have passed
and the drop to have fallen below threshold - hysteresis (so one long sag gives one cue,
and noise around the threshold does not buzz). Times are sample counts, set once.

Per sample, `update` is viper with its settings and state in one int32 array `_s` read
through ptr32 (see shared/estimator.py for why, and for the sign correction of cells that may
be negative).
"""

import sys
from array import array

from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.cpython_shim import ptr32  # viper's pointer cast (a builtin there)

_M30 = const(0x3FFFFFFF)  # sign-correct ptr32 reads (shared/estimator.py)
_B29 = const(0x20000000)

# Cells of CueDetector._s
_THR = const(0)  # threshold, mdeg
_REARM = const(1)  # threshold - hysteresis, mdeg (may be negative)
_DWELL_N = const(2)
_REFR_N = const(3)
_PULSE_N = const(4)
_ABOVE_N = const(5)
_PULSE_LEFT = const(6)
_REFR_LEFT = const(7)
_ARMED = const(8)
_MOTOR = const(9)
_FIRED = const(10)
_NCELLS = const(11)


class CueDetector:
    motor_on = property(lambda self: self._s[_MOTOR])  # 1 while the motor should be driven

    def __init__(
        self,
        period_us,
        threshold_mdeg=6000,
        hysteresis_mdeg=1000,
        dwell_ms=10,
        refractory_ms=1000,
        pulse_ms=150,
    ):
        self.threshold_mdeg = threshold_mdeg
        self._s = s = array("i", [0] * _NCELLS)
        s[_THR] = threshold_mdeg
        s[_REARM] = threshold_mdeg - hysteresis_mdeg
        s[_DWELL_N] = (dwell_ms * 1000 + period_us // 2) // period_us
        s[_REFR_N] = (refractory_ms * 1000 + period_us // 2) // period_us
        s[_PULSE_N] = max(1, (pulse_ms * 1000 + period_us // 2) // period_us)
        self.reset()

    def reset(self):
        s = self._s
        s[_MOTOR] = 0
        s[_FIRED] = 0  # a copy of `fired`, so that update() writes the attribute only on change
        s[_ABOVE_N] = 0
        s[_PULSE_LEFT] = 0
        s[_REFR_LEFT] = 0
        s[_ARMED] = 1
        self.cues = 0
        self.fired = 0  # 1 on the sample a cue fires
        self.side = -1  # side of the pelvis that dropped at the last cue: 0 left, 1 right

    @micropython.viper
    def update(self, obl_mdeg: int, enabled: int) -> int:
        """Feed one obliquity sample; returns 1 while the motor should be driven."""
        s = ptr32(self._s)
        drop = obl_mdeg if obl_mdeg >= 0 else 0 - obl_mdeg
        if s[_FIRED]:
            s[_FIRED] = 0
            self.fired = 0
        if s[_REFR_LEFT] > 0:
            s[_REFR_LEFT] -= 1
        if not s[_ARMED]:
            if drop < (s[_REARM] & _M30) - (s[_REARM] >> 1 & _B29) - (s[_REARM] >> 1 & _B29):
                s[_ARMED] = 1
                s[_ABOVE_N] = 0
        elif (
            enabled
            and drop >= (s[_THR] & _M30) - (s[_THR] >> 1 & _B29) - (s[_THR] >> 1 & _B29)
            and s[_REFR_LEFT] == 0
        ):
            s[_ABOVE_N] += 1
            if s[_ABOVE_N] > s[_DWELL_N]:
                s[_FIRED] = 1
                self.fired = 1
                self.cues = int(self.cues) + 1
                self.side = 1 if obl_mdeg > 0 else 0
                s[_ARMED] = 0
                s[_REFR_LEFT] = s[_REFR_N]
                s[_PULSE_LEFT] = s[_PULSE_N]
        else:
            s[_ABOVE_N] = 0
        motor = 0
        if s[_PULSE_LEFT] > 0:
            s[_PULSE_LEFT] -= 1
            motor = 1
        s[_MOTOR] = motor
        return motor
