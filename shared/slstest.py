"""Guided single-leg stance (Trendelenburg) test (issue #7).

The wearer stands on the LEFT leg, rests, then stands on the RIGHT leg, guided by the motor:
    one long buzz (BUZZ_MS)            lift the other foot now; the side's clock starts when
                                       the buzz ends
    side_s seconds                     measuring (config sls_side_s)
    two short buzzes (PIP_MS on, off, on)  put the foot down
    rest_s seconds                     (config sls_rest_s; none after the second side)

Per side, from SETTLE_MS after the side's start (lifting the foot is itself a movement) to the
loss of balance or the end of the side:
    max and mean drop of the swing side: standing on the LEFT leg the RIGHT side drops,
    drop = max(obliquity, 0); standing on the RIGHT leg, drop = max(-obliquity, 0) (mdeg)
    time to the first loss of balance: the first sample after the settle time whose vertical
    linear acceleration (the estimator's, gravity removed) reaches impact_mg (config
    sls_impact_mg) in either direction: the lifted foot coming down (or a hop) jolts the
    pelvis; quiet one-leg sway stays far below. None: the side was held to the end.

`update()` runs once per sample (App.tick): integer-only, no allocation, every intermediate
well inside +-2**30 (the mean's sum is carried in 2**24 units). `results()` is for between
samples and after the test.
"""

import sys
from array import array

from shared import sides
from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)

BUZZ_MS = 800
PIP_MS = 150
SETTLE_MS = 1000

PH_IDLE = const(0)
PH_BUZZ = const(1)
PH_HOLD = const(2)
PH_STOP = const(3)
PH_REST = const(4)
PH_DONE = const(5)
PHASE_NAMES = ("idle", "buzz", "hold", "stop", "rest", "done")

_PH = const(0)
_SIDE = const(1)  # 0: standing on the left leg, 1: on the right
_K = const(2)  # samples into the phase
_BUZZ_N = const(3)
_PIP_N = const(4)
_HOLD_N = const(5)
_REST_N = const(6)
_SETTLE_N = const(7)
_IMPACT = const(8)
_R0 = const(9)  # per side: max, sum (2**24 units), sum remainder, count, loss sample + 1
_MAX = const(0)
_HI = const(1)
_LO = const(2)
_CNT = const(3)
_LOSS = const(4)
_RN = const(5)
_NCELLS = const(19)
_LO_UNIT = const(0x1000000)
_DROP_CAP = const(180000)


class SlsTest:
    def __init__(self, period_us, side_s=30, rest_s=10, impact_mg=250):
        self.period_us = period_us
        self._s = array("i", [0] * _NCELLS)
        self.configure(side_s, rest_s, impact_mg)

    def _n(self, ms):
        return (ms * 1000 + self.period_us // 2) // self.period_us

    def configure(self, side_s, rest_s, impact_mg):
        """Set the timing and start from the beginning (phase idle: start() runs it)."""
        s = self._s
        for k in range(_NCELLS):
            s[k] = 0
        s[_BUZZ_N] = max(1, self._n(BUZZ_MS))
        s[_PIP_N] = max(1, self._n(PIP_MS))
        s[_HOLD_N] = max(1, self._n(side_s * 1000))
        s[_REST_N] = self._n(rest_s * 1000)
        s[_SETTLE_N] = self._n(SETTLE_MS)
        s[_IMPACT] = impact_mg
        self.side_s = side_s
        self.rest_s = rest_s
        self.impact_mg = impact_mg

    def start(self):
        s = self._s
        s[_PH] = PH_BUZZ
        s[_SIDE] = 0
        s[_K] = 0

    @property
    def phase(self):
        return self._s[_PH]

    @property
    def side(self):
        return self._s[_SIDE]

    @property
    def done(self):
        return self._s[_PH] == PH_DONE

    @property
    def running(self):
        ph = self._s[_PH]
        return ph != PH_IDLE and ph != PH_DONE

    def total_n(self):
        """Samples from start() to done."""
        s = self._s
        return 2 * (s[_BUZZ_N] + s[_HOLD_N] + 3 * s[_PIP_N]) + s[_REST_N]

    @micropython.viper
    def update(self, obl_mdeg: int, up_mg: int) -> int:
        """One sample; returns the motor state (1: on)."""
        s = ptr32(self._s)
        ph = s[_PH]
        if ph == PH_IDLE or ph == PH_DONE:
            return 0
        k = s[_K]
        motor = 0
        if ph == PH_BUZZ:
            motor = 1
            k += 1
            if k >= s[_BUZZ_N]:
                ph = PH_HOLD
                k = 0
        elif ph == PH_HOLD:
            r = _R0 + _RN * s[_SIDE]
            if k >= s[_SETTLE_N] and s[r + _LOSS] == 0:
                if s[_SIDE] == 0:
                    d = obl_mdeg
                else:
                    d = 0 - obl_mdeg
                if d < 0:
                    d = 0
                if d > _DROP_CAP:
                    d = _DROP_CAP
                if d > s[r + _MAX]:
                    s[r + _MAX] = d
                lo = s[r + _LO] + d
                if lo >= _LO_UNIT:
                    lo -= _LO_UNIT
                    s[r + _HI] += 1
                s[r + _LO] = lo
                s[r + _CNT] += 1
                if up_mg >= s[_IMPACT] or 0 - up_mg >= s[_IMPACT]:
                    s[r + _LOSS] = k + 1
            k += 1
            if k >= s[_HOLD_N]:
                ph = PH_STOP
                k = 0
        elif ph == PH_STOP:
            p = s[_PIP_N]
            if k < p or k >= p + p:
                motor = 1
            k += 1
            if k >= 3 * p:
                k = 0
                if s[_SIDE] == 0:
                    ph = PH_REST
                    if s[_REST_N] == 0:
                        ph = PH_BUZZ
                        s[_SIDE] = 1
                else:
                    ph = PH_DONE
        else:  # PH_REST
            k += 1
            if k >= s[_REST_N]:
                ph = PH_BUZZ
                s[_SIDE] = 1
                k = 0
        s[_PH] = ph
        s[_K] = k
        return motor

    def side_results(self, side):
        """One side's figures (plain data; not per sample)."""
        s = self._s
        r = _R0 + _RN * side
        cnt = s[r + _CNT]
        total = s[r + _HI] * _LO_UNIT + s[r + _LO]
        loss = s[r + _LOSS]
        return {
            "stance": sides.letter(side),
            "swing": sides.letter(sides.swing(side)),
            "samples": cnt,
            "max_drop_mdeg": s[r + _MAX],
            "mean_drop_mdeg": (total + cnt // 2) // cnt if cnt else 0,
            "loss_ms": (loss - 1) * self.period_us // 1000 if loss else None,
        }

    def results(self):
        """Both sides and their comparison: right-stance minus left-stance figures (mdeg)."""
        left = self.side_results(0)
        right = self.side_results(1)
        return {
            "test": "sls",
            "side_s": self.side_s,
            "rest_s": self.rest_s,
            "impact_mg": self.impact_mg,
            "settle_ms": SETTLE_MS,
            "done": 1 if self.done else 0,
            "left_stance": left,
            "right_stance": right,
            "diff_max_mdeg": right["max_drop_mdeg"] - left["max_drop_mdeg"],
            "diff_mean_mdeg": right["mean_drop_mdeg"] - left["mean_drop_mdeg"],
        }
