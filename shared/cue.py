"""Cue detector: when to drive the vibration motor.

A cue fires when the drop has stayed at or past the threshold for `dwell` (debounce), then
the motor runs for `pulse`. The next cue needs both the refractory period to have passed
and the drop to have fallen below threshold - hysteresis (so one long sag gives one cue,
and noise around the threshold does not buzz). Times are sample counts, set once.

Feedback rules (issue #7; `configure`, all off by default, so the defaults behave as above):
- per-side thresholds: a left-side drop (obliquity < 0) against `thr_left`, a right-side drop
  against `thr_right`; the re-arm level is the fired side's threshold - hysteresis;
- stride rules, fed by `note_step` with each completed stance (the swing side's drop): cue
  only when N of the last M stances of that side (the current one included) are past the
  side's threshold; `refractory_strides`: no cue until that many strides (2 steps each) have
  completed since the last; `hysteresis_strides`: a side cues again only after that many of
  its stances stayed below its re-arm level;
- schedules: faded (deliver `fade_pct` % of the qualifying cues, every-k-th by an integer
  accumulator, so replays are exact) and feedback-off probe blocks (`probe_len` steps out of
  every `probe_every`); a withheld cue is handled as a fired one without the motor;
- gating: the caller passes enabled = 0 and writes the reasons (bit mask) to cell _GATE; a
  shadow detector (same threshold, dwell, hysteresis, refractory) counts the cues that the
  gate suppressed, one per episode, per reason;
- the pulse: side patterns (one pulse for a left-side drop, two for a right-side drop,
  `gap` apart) and a length that grows by `per_deg` ms per degree the drop went past
  the threshold while the pulse runs (integer, rounded to samples once, capped at `pulse_max`).

Per sample, `update` is viper with its settings and state in one int32 array `_s` read
through ptr32 (see shared/estimator.py for why, and for the sign correction of cells that may
be negative).
"""

import sys
from array import array

from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)

_M30 = const(0x3FFFFFFF)  # sign-correct ptr32 reads (shared/estimator.py)
_B29 = const(0x20000000)

# Gate reasons (bits of cell _GATE), written by the app before each update().
GATE_INIT = const(1)  # the estimator is converging (init period)
GATE_WALK = const(2)  # not walking
GATE_TURN = const(4)  # turning sharply
GATE_SAT = const(8)  # a raw axis saturated recently
GATE_GAP = const(16)  # re-converging after a long gap in the samples
GATE_OTHER = const(32)  # enabled = 0 with no reason given
GATE_TILT = const(64)  # bent over (or reclined) past the tilt gate

# Cells of CueDetector._s
_THR = const(0)  # threshold, mdeg
_REARM = const(1)  # re-arm level of the last cue (fired or withheld), mdeg (may be negative)
_DWELL_N = const(2)
_REFR_N = const(3)
_PULSE_N = const(4)
_ABOVE_N = const(5)
_PH = const(6)  # pulse phase: 0 idle, 1 first pulse, 2 gap, 3 second pulse
_REFR_LEFT = const(7)
_ARMED = const(8)
_MOTOR = const(9)
_FIRED = const(10)
_THR_L = const(11)  # left-side drop threshold, mdeg
_THR_R = const(12)
_HYST = const(13)
_GATE = const(14)  # gate reasons of this sample (0: none)
CELL_GATE = const(14)  # public: device/app.py writes the gate reasons here per sample
_SH_ABOVE = const(15)  # shadow detector (counts gated cues)
_SH_ARMED = const(16)
_SH_REFR = const(17)
_SH_REARM = const(18)  # may be negative
_STRIDE_N = const(19)  # N of M
_STRIDE_M = const(20)
_HIST_L = const(21)  # bit k: the k+1-th last completed stance of the side was past threshold
_HIST_R = const(22)
_RS_N = const(23)  # refractory in steps (2 x refractory_strides)
_RS_LEFT = const(24)
_HS_N = const(25)  # hysteresis_strides
_BELOW_L = const(26)  # completed stances of the side below its re-arm level since its cue
_BELOW_R = const(27)
_FADE_PCT = const(28)
_FADE_ACC = const(29)
_PROBE_EVERY = const(30)
_PROBE_LEN = const(31)
_STEPS = const(32)  # completed steps seen by note_step
_PROBE = const(33)  # 1 while in a feedback-off probe block
_PAT = const(34)  # 1: two pulses for a right-side drop
_GAP_N = const(35)
_PER_DEG = const(36)  # extra pulse ms per degree past the threshold
_PULSE_MAX = const(37)
_EL = const(38)  # samples into the current pulse phase
_NPULSE = const(39)
_PEAK = const(40)  # largest drop since the cue fired (while the first pulse runs)
_THR_FIRE = const(41)  # threshold of the side that fired
# Counters (since reset):
_C_GATED = const(42)  # cues suppressed by a gate (any reason)
_C_INIT = const(43)
_C_WALK = const(44)
_C_TURN = const(45)
_C_SAT = const(46)
_C_GAP = const(47)
_C_STRIDE = const(48)  # withheld: N-of-M rule not met
_C_FADE = const(49)  # withheld by the faded schedule
_C_PROBE = const(50)  # withheld in a probe block
_C_PROBE_STEPS = const(51)  # steps completed inside probe blocks
_C_TILT = const(52)  # suppressed while bent over (the counter after probe_steps)
_PROBE_PREV = const(53)  # the probe state before the last step completed
_PERIOD_US = const(54)  # the sample period (the pulse growth's divisor)
_REFR_BASE = const(55)  # refractory_ms in samples (_REFR_N: the one in force)
_REFR_PCT = const(56)  # while walking, the refractory is at most this % of a stride
_NCELLS = const(57)

# The counters in log/summary order (shared/logformat.py R_FEEDBACK).
COUNTER_NAMES = (
    "gated",
    "gated_init",
    "gated_walk",
    "gated_turn",
    "gated_sat",
    "gated_gap",
    "withheld_stride",
    "withheld_fade",
    "withheld_probe",
    "probe_steps",
    "gated_tilt",
)
_C_FIRST = const(42)
COUNTER_CELL0 = 42  # cell of the first counter in CueDetector._s (device/logstore.py)


def _cell(k):
    return property(lambda self: self._s[k])


class CueDetector:
    motor_on = property(lambda self: self._s[_MOTOR])  # 1 while the motor should be driven
    probing = _cell(_PROBE)  # 1 inside a feedback-off probe block
    suppressed = _cell(_C_GATED)
    steps_seen = _cell(_STEPS)

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
        self.period_us = period_us
        self._s = s = array("i", [0] * _NCELLS)
        s[_PERIOD_US] = period_us
        s[_THR] = threshold_mdeg
        s[_HYST] = hysteresis_mdeg
        s[_DWELL_N] = (dwell_ms * 1000 + period_us // 2) // period_us
        s[_REFR_N] = (refractory_ms * 1000 + period_us // 2) // period_us
        s[_REFR_BASE] = s[_REFR_N]
        s[_PULSE_N] = max(1, (pulse_ms * 1000 + period_us // 2) // period_us)
        self.configure()
        self.reset()

    def set_refractory_stride_pct(self, pct):
        """While walking, the refractory is at most pct % of the last stride (0: off)."""
        self._s[_REFR_PCT] = min(max(pct, 0), 100)

    @micropython.native
    def note_stride(self, stride_n):
        """Per reported step: the last stride in samples (0: not walking). The refractory in
        force is refractory_ms, or refractory_stride_pct of that stride if shorter, so a run's
        0.7 s stride does not lose every other cue to a 1 s refractory."""
        s = self._s
        refr = s[_REFR_BASE]
        if s[_REFR_PCT] and stride_n > 0:
            r = (stride_n * s[_REFR_PCT]) // 100
            if 0 < r < refr:
                refr = r
        s[_REFR_N] = refr

    def _n(self, ms):
        return (ms * 1000 + self.period_us // 2) // self.period_us

    def set_common(self, threshold_mdeg, hysteresis_mdeg, dwell_ms, refractory_ms, pulse_ms):
        """New common settings on a running detector (a live config change), keeping its
        state: counters, stride history, the refractory countdown (cut to the new length),
        the faded schedule's share and accumulator, a pulse under way. The re-arm level of a
        cue already fired stays the one it fired with. Call `configure(..., keep_state=1)`
        after it, so per-side thresholds that follow the common one follow it."""
        s = self._s
        self.threshold_mdeg = threshold_mdeg
        s[_THR] = threshold_mdeg
        s[_HYST] = hysteresis_mdeg
        s[_DWELL_N] = self._n(dwell_ms)
        new = self._n(refractory_ms)
        # the stride-aware refractory in force (note_stride) stays unless the new one is shorter
        if s[_REFR_N] == s[_REFR_BASE] or s[_REFR_N] > new:
            s[_REFR_N] = new
        s[_REFR_BASE] = new
        s[_PULSE_N] = max(1, self._n(pulse_ms))
        if s[_REFR_LEFT] > new:
            s[_REFR_LEFT] = new
        if s[_SH_REFR] > new:
            s[_SH_REFR] = new
        if s[_ARMED] and s[_SH_ARMED]:
            s[_REARM] = threshold_mdeg - hysteresis_mdeg
            s[_SH_REARM] = s[_REARM]

    @property
    def fade_pct(self):
        """The faded schedule's share of cues (%) this detector runs with."""
        return self._s[_FADE_PCT]

    def configure(
        self,
        thr_left_mdeg=0,
        thr_right_mdeg=0,
        stride_n=1,
        stride_m=1,
        refractory_strides=0,
        hysteresis_strides=0,
        fade_pct=100,
        probe_every_steps=0,
        probe_len_steps=0,
        side_pattern=0,
        gap_ms=150,
        ms_per_deg=0,
        max_ms=0,
        keep_state=0,
    ):
        """The feedback rules (module docstring); 0 thresholds mean `threshold_mdeg`.
        Inconsistent values are clamped (N to M, the probe length below its period).
        keep_state=1 (a live change): the stride history, the stances counted below the
        re-arm level and the fade accumulator are kept; otherwise they start afresh."""
        s = self._s
        thr = s[_THR]
        s[_THR_L] = thr_left_mdeg if thr_left_mdeg > 0 else thr
        s[_THR_R] = thr_right_mdeg if thr_right_mdeg > 0 else thr
        m = min(max(stride_m, 1), 8)
        s[_STRIDE_M] = m
        s[_STRIDE_N] = min(max(stride_n, 1), m)
        s[_RS_N] = 2 * refractory_strides
        s[_HS_N] = hysteresis_strides
        s[_FADE_PCT] = min(max(fade_pct, 0), 100)
        s[_PROBE_EVERY] = probe_every_steps if probe_every_steps > 0 else 0
        s[_PROBE_LEN] = min(probe_len_steps, probe_every_steps) if probe_every_steps > 0 else 0
        s[_PAT] = 1 if side_pattern else 0
        s[_GAP_N] = max(1, self._n(gap_ms))
        # ms per degree past the threshold, kept in ms (not whole samples) so small values
        # count: the pulse grows by excess_mdeg * ms_per_deg / period_ms samples
        s[_PER_DEG] = ms_per_deg
        pmax = self._n(max_ms) if max_ms > 0 else 0
        s[_PULSE_MAX] = max(pmax, s[_PULSE_N])
        if not keep_state:
            s[_BELOW_L] = hysteresis_strides
            s[_BELOW_R] = hysteresis_strides
        if s[_RS_LEFT] > s[_RS_N]:
            s[_RS_LEFT] = s[_RS_N]

    def reset(self):
        s = self._s
        s[_MOTOR] = 0
        s[_FIRED] = 0  # a copy of `fired`, so that update() writes the attribute only on change
        s[_ABOVE_N] = 0
        s[_PH] = 0
        s[_EL] = 0
        s[_REFR_LEFT] = 0
        s[_ARMED] = 1
        s[_REARM] = s[_THR] - s[_HYST]
        s[_GATE] = 0
        s[_SH_ABOVE] = 0
        s[_SH_ARMED] = 1
        s[_SH_REFR] = 0
        s[_SH_REARM] = s[_REARM]
        s[_HIST_L] = 0
        s[_HIST_R] = 0
        s[_RS_LEFT] = 0
        s[_BELOW_L] = s[_HS_N]
        s[_BELOW_R] = s[_HS_N]
        s[_FADE_ACC] = 0
        s[_STEPS] = 0
        s[_PROBE] = 0
        s[_PROBE_PREV] = 0
        for k in range(_C_FIRST, _C_TILT + 1):
            s[k] = 0
        self.cues = 0
        self.fired = 0  # 1 on the sample a cue fires
        self.drop_side = -1  # side of the pelvis that dropped at the last cue: 0 left, 1 right
        self.withheld = 0  # cues withheld by the stride rule or the schedule

    def counters(self):
        """The suppression counters, in COUNTER_NAMES order (a new list: not per sample)."""
        s = self._s
        return [s[_C_FIRST + k] for k in range(len(COUNTER_NAMES))]

    def set_fade_pct(self, pct):
        """The faded schedule's share of cues (%), e.g. for a new session."""
        self._s[_FADE_PCT] = min(max(pct, 0), 100)

    def set_gate(self, bits):
        """The gate reasons for the next update() (the app writes the cell directly)."""
        self._s[_GATE] = bits

    @micropython.viper
    def note_step(self, drop_side: int, drop_mdeg: int) -> int:
        """A completed stance: `drop_side` is the side whose drop it was (its swing side,
        shared/sides.py), `drop_mdeg` its peak drop. Returns 1 if the step was inside a
        probe block."""
        s = ptr32(self._s)
        if drop_side == 0:
            thr = s[_THR_L]
        else:
            thr = s[_THR_R]
        past = 1 if drop_mdeg >= thr else 0
        below = 1 if drop_mdeg < thr - s[_HYST] else 0
        if drop_side == 0:
            s[_HIST_L] = ((s[_HIST_L] << 1) | past) & 0xFF
            if below:
                if s[_BELOW_L] < 1000:
                    s[_BELOW_L] += 1
        else:
            s[_HIST_R] = ((s[_HIST_R] << 1) | past) & 0xFF
            if below:
                if s[_BELOW_R] < 1000:
                    s[_BELOW_R] += 1
        if s[_RS_LEFT] > 0:
            s[_RS_LEFT] -= 1
        # A step is reported once the next one's initial contact is detected (>= 150 ms
        # late), so a cue for a stance is decided before the previous step is reported: the
        # state that governed the reported step's cues is the one before the last change.
        probe = s[_PROBE_PREV]
        s[_PROBE_PREV] = s[_PROBE]
        if probe:
            s[_C_PROBE_STEPS] += 1
        # The probe state of the next step: `probe_len` steps at the end of every period.
        k = s[_STEPS] + 1
        if k >= 0x3FFFFFFF:
            k = 0
        s[_STEPS] = k
        every = s[_PROBE_EVERY]
        if every > 0:
            s[_PROBE] = 1 if k % every >= every - s[_PROBE_LEN] else 0
        return probe

    @micropython.viper
    def update(self, obl_mdeg: int, enabled: int) -> int:
        """Feed one obliquity sample; returns 1 while the motor should be driven."""
        s = ptr32(self._s)
        drop = obl_mdeg if obl_mdeg >= 0 else 0 - obl_mdeg
        right = 1 if obl_mdeg > 0 else 0
        if right:
            thr = s[_THR_R]
        else:
            thr = s[_THR_L]
        if s[_FIRED]:
            s[_FIRED] = 0
            self.fired = 0
        if s[_REFR_LEFT] > 0:
            s[_REFR_LEFT] -= 1
        if not enabled:
            # shadow detector: count the cues the gate suppressed, once per episode
            if s[_SH_REFR] > 0:
                s[_SH_REFR] -= 1
            if not s[_SH_ARMED]:
                c = s[_SH_REARM]
                if drop < (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                    s[_SH_ARMED] = 1
                    s[_SH_ABOVE] = 0
            elif drop >= thr and s[_SH_REFR] == 0:
                s[_SH_ABOVE] += 1
                if s[_SH_ABOVE] > s[_DWELL_N]:
                    s[_SH_ARMED] = 0
                    s[_SH_REFR] = s[_REFR_N]
                    s[_SH_REARM] = thr - s[_HYST]
                    g = s[_GATE]
                    if g == 0:
                        g = GATE_OTHER
                    s[_C_GATED] += 1
                    if g & GATE_INIT:
                        s[_C_INIT] += 1
                    if g & GATE_WALK:
                        s[_C_WALK] += 1
                    if g & GATE_TURN:
                        s[_C_TURN] += 1
                    if g & GATE_SAT:
                        s[_C_SAT] += 1
                    if g & GATE_GAP:
                        s[_C_GAP] += 1
                    if g & GATE_TILT:
                        s[_C_TILT] += 1
            else:
                s[_SH_ABOVE] = 0
        else:
            s[_SH_ARMED] = 1
            s[_SH_ABOVE] = 0
        if not s[_ARMED]:
            if drop < (s[_REARM] & _M30) - (s[_REARM] >> 1 & _B29) - (s[_REARM] >> 1 & _B29):
                s[_ARMED] = 1
                s[_ABOVE_N] = 0
        elif enabled and drop >= thr and s[_REFR_LEFT] == 0 and s[_RS_LEFT] == 0:
            s[_ABOVE_N] += 1
            if s[_ABOVE_N] > s[_DWELL_N]:
                s[_ARMED] = 0
                s[_REARM] = thr - s[_HYST]
                # stride rules: N of the last M stances of this side, this one included
                hist = s[_HIST_R] if right else s[_HIST_L]
                m = s[_STRIDE_M] - 1
                count = 1
                while m > 0:
                    m -= 1
                    count += (hist >> m) & 1
                below = s[_BELOW_R] if right else s[_BELOW_L]
                if count < s[_STRIDE_N] or below < s[_HS_N]:
                    s[_C_STRIDE] += 1
                    self.withheld = int(self.withheld) + 1
                else:
                    s[_REFR_LEFT] = s[_REFR_N]
                    s[_RS_LEFT] = s[_RS_N]
                    if right:
                        s[_BELOW_R] = 0
                    else:
                        s[_BELOW_L] = 0
                    deliver = 1
                    if s[_PROBE]:
                        deliver = 0
                        s[_C_PROBE] += 1
                    elif s[_FADE_PCT] < 100:
                        acc = s[_FADE_ACC] + s[_FADE_PCT]
                        if acc >= 100:
                            acc -= 100
                        else:
                            deliver = 0
                            s[_C_FADE] += 1
                        s[_FADE_ACC] = acc
                    if deliver:
                        s[_FIRED] = 1
                        self.fired = 1
                        self.cues = int(self.cues) + 1
                        self.drop_side = right
                        s[_PH] = 1
                        s[_EL] = 0
                        s[_PEAK] = drop
                        s[_THR_FIRE] = thr
                        s[_NPULSE] = 2 if s[_PAT] and right else 1
                    else:
                        self.withheld = int(self.withheld) + 1
        else:
            s[_ABOVE_N] = 0
        motor = 0
        ph = s[_PH]
        if ph == 2:
            if s[_EL] < s[_GAP_N]:
                s[_EL] += 1
            else:
                ph = 3
                s[_PH] = 3
                s[_EL] = 0
        if ph == 1 or ph == 3:
            if ph == 1 and drop > s[_PEAK]:
                s[_PEAK] = drop
            n = s[_PULSE_N]
            if s[_PER_DEG] > 0:
                excess = s[_PEAK] - s[_THR_FIRE]
                if excess > 0:
                    if excess > 100000:
                        excess = 100000
                    # excess mdeg x ms/deg = us; in samples, rounded (<= 1e8: no overflow)
                    p = s[_PERIOD_US]
                    n += (excess * s[_PER_DEG] + (p >> 1)) // p
                    if n > s[_PULSE_MAX]:
                        n = s[_PULSE_MAX]
            if s[_EL] < n:
                s[_EL] += 1
                motor = 1
            elif ph == 1 and s[_NPULSE] == 2:
                s[_PH] = 2
                s[_EL] = 1
            else:
                s[_PH] = 0
        s[_MOTOR] = motor
        return motor
