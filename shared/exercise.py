"""Exercise mode (issue #16): reps of the strengthening exercises, their drop, cues, set end.

One `Exercise` runs per sample beside the walking loop (App.tick) when config `mode` is an
exercise, and drives the motor instead of the walking cue (as the single-leg stance test
does). Input: the estimator's obliquity and tilt (mdeg). Output: the motor state, and the
completed reps in a ring the between-sample work takes (`ring_*`, `head`, `tail`).

Exercises (config `mode`), the side (`ex_side`, 0 left, 1 right) is the hip being trained:
- single-leg-squat, step-down (REP_TILT): standing on the `ex_side` leg, the swing side drops
  (stance left: drop = obliquity, stance right: drop = -obliquity, as shared/slstest.py). A
  rep is a rise of the pelvis's anterior tilt over its standing baseline past `rep_mdeg`; it
  runs from the tilt passing half of that to its return below the half (the drop is tracked
  and a cue can fire from the half on, so a drop leading the tilt is not missed). Hip
  flexion tilts the pelvis forward on every squat; the baseline follows the standing tilt
  slowly between reps (time constant BASE_SHIFT: 2**8 samples).
- side-lying leg lift, clamshell (REP_LYING): lying on the other side, so the `ex_side` leg is
  on top. A rep is an excursion of the pelvis from its resting attitude: |d obliquity| +
  |d tilt| reaching `rep_mdeg`, from and to half of it. Lying on a side, a backward roll of the
  pelvis (the usual compensation) turns its forward axis up, a fall of the estimator's tilt
  whichever side is down: the rep's "drop" is the roll back, max(-d tilt, 0).
- band-walk (STEP_OBL): side steps. Each step is an excursion of the obliquity past
  `rep_mdeg` on one side (obliquity > 0: standing on the left leg, the right side dropping),
  ending below half of it; stance sides need not alternate. The step's drop is its peak.
Changes of posture (lying down, standing up) are not reps: a signal past POSTURE_MDEG (40
deg) starts a settling phase (no reps, no cues; the baselines follow the attitude in 2**4
samples) that ends once the pelvis has stayed within half the onset of them for SETTLE_MS;
a "rep" held longer than MAX_REP_MS is dropped and the baselines restart from the attitude
then. Per rep or step: start and end sample, the sample of the peak drop, the stance side,
the peak drop (mdeg) and whether a cue fired. A cue: the drop has stayed at or past
`threshold_mdeg` for `dwell_n` samples inside a rep; one pulse of `cue_n` samples, at most
one per rep. When the count of reps reaches `reps` the motor gives one long buzz (BUZZ_MS):
the set is done (counting goes on).
Tempo pacing (config tempo_ms, 0 off): a short pulse (TEMPO_PULSE_MS) every tempo_ms from the
set's first sample until the set is done, the pace of one rep; shorter than a cue (cue_ms,
150 ms by default) so the two can be told apart by feel.

`update()` is viper: integer-only, no allocation, every intermediate inside +-2**30 (proven
by tests/test_range.py); cells that may be negative are read sign-corrected as
shared/estimator.py explains.
"""

import sys
from array import array

from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)

# config `mode` -> kind of detection; the names are the CLI's and the config's.
MODES = ("walk", "single-leg-squat", "step-down", "band-walk", "leg-lift", "clamshell")
REP_TILT = const(1)
REP_LYING = const(2)
STEP_OBL = const(3)
KIND = (0, REP_TILT, REP_TILT, STEP_OBL, REP_LYING, REP_LYING)
# rep_mdeg 0 (config ex_rep_deg 0) means the exercise's own onset, mdeg
DEFAULT_REP_MDEG = (0, 8000, 5000, 1500, 2000, 2000)
BUZZ_MS = 800
TEMPO_PULSE_MS = 40
MAX_REP_MS = 8000
POSTURE_MDEG = const(40000)  # past this from the baseline: a change of posture, not a rep
SETTLE_SHIFT = const(4)  # while settling into a new posture the baselines follow in 2**4
SETTLE_MS = 500  # ... until the pelvis has stayed within half the onset of them this long
BASE_SHIFT = const(8)
RING = const(16)
_RING_MASK = const(15)

_M30 = const(0x3FFFFFFF)
_B29 = const(0x20000000)
_KIND = const(0)
_SIDE = const(1)
_ON = const(2)  # rep onset, mdeg
_THR = const(3)
_DWELL_N = const(4)
_CUE_N = const(5)
_MIN_N = const(6)
_TARGET = const(7)
_BUZZ_N = const(8)
_FIRST = const(9)
_BASE_T = const(10)  # baselines, mdeg << BASE_SHIFT (may be negative)
_BASE_O = const(11)
_IN = const(12)  # 1 inside a rep
_START = const(13)
_MAX = const(14)
_PEAK = const(15)
_STANCE = const(16)
_CUED = const(17)
_DWELL = const(18)
_CUE_LEFT = const(19)
_BUZZ_LEFT = const(20)
_COUNT = const(21)
_CUES = const(22)
_HEAD = const(23)
_TAIL = const(24)
_LOST = const(25)
_LAST_FIRE = const(26)  # sample of the last cue's start, -1 none
_DONE_N = const(27)  # sample the set was completed, -1 not yet
_MAX_N = const(124)  # a "rep" longer than this is a change of posture: dropped, re-based
_SETTLE_N = const(125)
_SETTLE_LEFT = const(126)
_R_START = const(28)  # ring: RING entries each of start, end, peak, stance, drop, cued
_R_END = const(44)
_R_PEAK = const(60)
_R_STANCE = const(76)
_R_DROP = const(92)
_R_CUED = const(108)
_TEMPO_N = const(127)  # samples between tempo pulses (0: off)
_TEMPO_LEFT = const(128)
_TPULSE_N = const(129)
_TPULSE_LEFT = const(130)
_NCELLS = const(131)
_DROP_CAP = const(180000)


class Exercise:
    def __init__(
        self,
        period_us,
        mode,
        side=0,
        reps=10,
        threshold_mdeg=5000,
        rep_mdeg=0,
        dwell_ms=10,
        cue_ms=150,
        min_rep_ms=250,
        tempo_ms=0,
    ):
        if mode not in MODES or mode == "walk":
            raise ValueError("not an exercise: %r" % (mode,))
        self.period_us = period_us
        self.mode = mode
        self._s = s = array("i", [0] * _NCELLS)
        k = MODES.index(mode)
        s[_KIND] = KIND[k]
        s[_SIDE] = side
        s[_ON] = rep_mdeg if rep_mdeg > 0 else DEFAULT_REP_MDEG[k]
        s[_THR] = threshold_mdeg
        s[_DWELL_N] = max(1, self._n(dwell_ms))
        s[_CUE_N] = max(1, self._n(cue_ms))
        s[_MIN_N] = self._n(min_rep_ms)
        s[_TARGET] = reps
        s[_BUZZ_N] = max(1, self._n(BUZZ_MS))
        s[_MAX_N] = self._n(MAX_REP_MS)
        s[_SETTLE_N] = max(1, self._n(SETTLE_MS))
        s[_TEMPO_N] = max(1, self._n(tempo_ms)) if tempo_ms > 0 else 0
        s[_TPULSE_N] = max(1, self._n(TEMPO_PULSE_MS))
        self.reset()

    def _n(self, ms):
        return (ms * 1000 + self.period_us // 2) // self.period_us

    def reset(self):
        """A new set: counts, baselines and the ring cleared (not per sample)."""
        s = self._s
        for k in range(_FIRST, _MAX_N):
            s[k] = 0
        s[_FIRST] = 1
        s[_LAST_FIRE] = -1
        s[_DONE_N] = -1
        s[_TEMPO_LEFT] = 0  # the first pulse on the set's first sample
        s[_TPULSE_LEFT] = 0

    # -- between samples -----------------------------------------------------------------
    @property
    def count(self):
        return self._s[_COUNT]

    @property
    def cues(self):
        return self._s[_CUES]

    @property
    def lost(self):
        return self._s[_LOST]

    @property
    def done_n(self):
        return self._s[_DONE_N]

    @property
    def last_fire_n(self):
        return self._s[_LAST_FIRE]

    def pending(self):
        s = self._s
        return s[_HEAD] - s[_TAIL]

    def take(self, out, at=0):
        """Move the oldest completed rep into out[at:at + 6] (start, end, peak, stance, drop,
        cued; out None: drop it); returns 0 when there is none. Allocation-free."""
        s = self._s
        t = s[_TAIL]
        if t == s[_HEAD]:
            return 0
        i = t & _RING_MASK
        if out is not None:
            out[at] = s[_R_START + i]
            out[at + 1] = s[_R_END + i]
            out[at + 2] = s[_R_PEAK + i]
            out[at + 3] = s[_R_STANCE + i]
            out[at + 4] = s[_R_DROP + i]
            out[at + 5] = s[_R_CUED + i]
        s[_TAIL] = t + 1
        return 1

    # -- per sample ----------------------------------------------------------------------
    @micropython.viper
    def update(self, n: int, obl: int, tilt: int) -> int:
        """One sample (n: its index on the time grid); returns the motor state (1: on)."""
        s = ptr32(self._s)
        motor = 0
        if s[_CUE_LEFT] > 0:
            s[_CUE_LEFT] -= 1
            motor = 1
        if s[_BUZZ_LEFT] > 0:
            s[_BUZZ_LEFT] -= 1
            motor = 1
        if s[_TEMPO_N] > 0 and s[_COUNT] < s[_TARGET]:
            if s[_TEMPO_LEFT] <= 0:
                s[_TEMPO_LEFT] = s[_TEMPO_N]
                s[_TPULSE_LEFT] = s[_TPULSE_N]
            s[_TEMPO_LEFT] -= 1
        if s[_TPULSE_LEFT] > 0:
            s[_TPULSE_LEFT] -= 1
            motor = 1
        if s[_FIRST]:
            s[_FIRST] = 0
            s[_BASE_T] = tilt << BASE_SHIFT
            s[_BASE_O] = obl << BASE_SHIFT
        kind = s[_KIND]
        on = s[_ON]
        off = on >> 1
        d = 0
        if kind == STEP_OBL:
            if s[_IN] == 0:
                if obl >= on:
                    s[_IN] = 1
                    s[_STANCE] = 0
                elif 0 - obl >= on:
                    s[_IN] = 1
                    s[_STANCE] = 1
                if s[_IN]:
                    s[_IN] = 2
                    s[_START] = n
                    s[_MAX] = 0
                    s[_PEAK] = n
                    s[_CUED] = 0
                    s[_DWELL] = 0
            if s[_STANCE] == 0:
                d = obl
            else:
                d = 0 - obl
            sig = d
        else:
            bo = 0
            bt = (s[_BASE_T] & _M30) - (s[_BASE_T] >> 1 & _B29) - (s[_BASE_T] >> 1 & _B29)
            dt = tilt - (bt >> BASE_SHIFT)
            if kind == REP_TILT:
                sig = dt
                if s[_SIDE] == 0:
                    d = obl
                else:
                    d = 0 - obl
            else:
                bo = (s[_BASE_O] & _M30) - (s[_BASE_O] >> 1 & _B29) - (s[_BASE_O] >> 1 & _B29)
                do = obl - (bo >> BASE_SHIFT)
                if do < 0:
                    do = 0 - do
                d = 0 - dt  # the roll back
                sig = do + dt
                if dt < 0:
                    sig = do + d
            if sig >= POSTURE_MDEG or 0 - sig >= POSTURE_MDEG:
                s[_IN] = 3  # settling into a new posture: no rep, no cue
                s[_SETTLE_LEFT] = s[_SETTLE_N]
            if s[_IN] == 3:
                s[_BASE_T] = bt + ((tilt << BASE_SHIFT) - bt >> SETTLE_SHIFT)
                if kind == REP_LYING:
                    s[_BASE_O] = bo + ((obl << BASE_SHIFT) - bo >> SETTLE_SHIFT)
                if sig < off and 0 - sig < off:
                    s[_SETTLE_LEFT] -= 1
                    if s[_SETTLE_LEFT] <= 0:
                        s[_IN] = 0
                else:
                    s[_SETTLE_LEFT] = s[_SETTLE_N]
            elif s[_IN] == 0:
                if sig >= off:
                    s[_IN] = 1  # a candidate: a rep once the signal reaches the onset
                    s[_STANCE] = s[_SIDE]
                    s[_START] = n
                    s[_MAX] = 0
                    s[_PEAK] = n
                    s[_CUED] = 0
                    s[_DWELL] = 0
                else:
                    # at rest: the baselines follow the resting attitude
                    s[_BASE_T] = bt + tilt - (bt >> BASE_SHIFT)
                    if kind == REP_LYING:
                        s[_BASE_O] = bo + obl - (bo >> BASE_SHIFT)
            if s[_IN] == 1 and sig >= on:
                s[_IN] = 2
        if s[_IN] == 1 or s[_IN] == 2:
            if d < 0:
                d = 0
            if d > _DROP_CAP:
                d = _DROP_CAP
            if d > s[_MAX]:
                s[_MAX] = d
                s[_PEAK] = n
            if s[_CUED] == 0:
                if d >= s[_THR]:
                    s[_DWELL] += 1
                    if s[_DWELL] >= s[_DWELL_N]:
                        s[_CUED] = 1
                        s[_CUES] += 1
                        s[_LAST_FIRE] = n
                        s[_CUE_LEFT] = s[_CUE_N] - 1
                        motor = 1
                else:
                    s[_DWELL] = 0
            if n - s[_START] > s[_MAX_N]:
                # held too long for a rep: a new posture (lying down, standing up)
                s[_IN] = 0
                s[_BASE_T] = tilt << BASE_SHIFT
                s[_BASE_O] = obl << BASE_SHIFT
            elif sig < off:
                if s[_IN] == 2 and n - s[_START] >= s[_MIN_N]:
                    h = s[_HEAD]
                    if h - s[_TAIL] >= RING:
                        s[_LOST] += 1
                    else:
                        i = h & _RING_MASK
                        s[_R_START + i] = s[_START]
                        s[_R_END + i] = n
                        s[_R_PEAK + i] = s[_PEAK]
                        s[_R_STANCE + i] = s[_STANCE]
                        s[_R_DROP + i] = s[_MAX]
                        s[_R_CUED + i] = s[_CUED]
                        s[_HEAD] = h + 1
                    s[_COUNT] += 1
                    if s[_COUNT] == s[_TARGET]:
                        s[_DONE_N] = n
                        s[_BUZZ_LEFT] = s[_BUZZ_N] - 1
                        motor = 1
                s[_IN] = 0
        return motor
