"""Cue detector: when to drive the vibration motor.

A cue fires when the drop has stayed at or past the threshold for `dwell` (debounce), then
the motor runs for `pulse`. The next cue needs both the refractory period to have passed
and the drop to have fallen below threshold - hysteresis (so one long sag gives one cue,
and noise around the threshold does not buzz). Times are sample counts, set once.
"""

from shared.mp import micropython


class CueDetector:
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
        self._rearm_mdeg = threshold_mdeg - hysteresis_mdeg
        self._dwell_n = (dwell_ms * 1000 + period_us // 2) // period_us
        self._refr_n = (refractory_ms * 1000 + period_us // 2) // period_us
        self._pulse_n = max(1, (pulse_ms * 1000 + period_us // 2) // period_us)
        self.reset()

    def reset(self):
        self.motor_on = 0
        self.cues = 0
        self.fired = 0  # 1 on the sample a cue fires
        self.side = -1  # side of the pelvis that dropped at the last cue: 0 left, 1 right
        self._above_n = 0
        self._pulse_left = 0
        self._refr_left = 0
        self._armed = 1

    @micropython.native
    def update(self, obl_mdeg: int, enabled: int) -> int:
        """Feed one obliquity sample; returns 1 while the motor should be driven."""
        drop = obl_mdeg if obl_mdeg >= 0 else -obl_mdeg
        self.fired = 0
        if self._refr_left > 0:
            self._refr_left -= 1
        if not self._armed:
            if drop < self._rearm_mdeg:
                self._armed = 1
                self._above_n = 0
        elif enabled and drop >= self.threshold_mdeg and self._refr_left == 0:
            self._above_n += 1
            if self._above_n > self._dwell_n:
                self.fired = 1
                self.cues += 1
                self.side = 1 if obl_mdeg > 0 else 0
                self._armed = 0
                self._refr_left = self._refr_n
                self._pulse_left = self._pulse_n
        else:
            self._above_n = 0
        if self._pulse_left > 0:
            self._pulse_left -= 1
            self.motor_on = 1
        else:
            self.motor_on = 0
        return self.motor_on
