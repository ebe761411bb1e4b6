# Causal step detector for a sacrum-worn IMU in integer arithmetic. It runs once per sample in
# the firmware loop (RP2040, MicroPython) and unchanged under CPython (host replay).
#
# Method (prototype and evaluation: bench/steps_proto.py):
# - Initial contact (IC): at heel strike the pelvis is pushed up and braked forward, so the
#   "jerk" of (vertical - forward) acceleration peaks just after it: j = d(n) - d(n - ic_diff_ms),
#   d = (acc_up - acc_fwd) through two first-order low-passes at ic_lp_hz. When j crosses
#   ic_min_mg a window of ic_win_ms opens; its largest j is the candidate and the IC is put
#   ic_lag_ms before it. (A sacral-acceleration method in the spirit of Zijlstra & Hof 2003 and
#   McCamley et al. 2012, which place ICs at vertical/forward acceleration peaks.)
# - Timing (ic_ref_ms > 0): the jerk peak finds the step, but its lag after the heel strike
#   differs between walkers (median 50-100 ms on the shared ipol and mobgap subjects). The
#   forward deceleration that follows (peak of -acc_fwd through the same two low-passes) lags
#   it by 170-190 ms on every one of them, so the reported IC is put ic_ref_ms before that peak
#   (searched within ic_ref_win_ms of the jerk peak; kept between the previous IC and the jerk
#   peak). The rhythm rules keep using the jerk-based times. Chosen by bench/gait_tune.py
#   (leave-one-subject-out; README).
# - Rhythm: candidates closer than min_step_ms to the previous IC are dropped; so is one that
#   comes sooner than early_pct % of the last interval, unless it is stronger (before walking:
#   it then replaces the previous IC) or, while walking, at least weak_pct % of the usual peak.
# - Beat window: while walking, the next IC is expected one interval after the last (within
#   beat_pct %); there a jerk above beat_min_mg opens the candidate window too, so a walk that
#   slows down keeps its fading steps (mobgap Test11, 31.28 s: 16 mg at 0.4 m/s). Such a weak
#   candidate (peak below ic_min_mg) is an IC only if its peak is at least beat_rel_pct % of the
#   previous IC's (a fading walk, not a bump after a firm last step) and the step it ends swayed
#   opposite to the one before; otherwise it is dropped. A weak IC is tentative: its window
#   re-arms at once, and a firm candidate that follows sooner than the rhythm allows replaces
#   it (the step before keeps the weak IC as its end). Without this, a small bump just before
#   the heel strike took the IC and hid the real one (float signals at 50/400 Hz).
# - Walking: ICs closer than max_step_ms form a chain. Walking starts when the last start_steps
#   steps of the chain are regular (each interval within start_ratio_pct % of the next) and
#   their lateral sway alternates; those steps, and up to back_steps earlier ones that fit the
#   rhythm, are then reported (one record per update call, so a few samples late). While
#   walking, a step that neither alternates nor keeps the rhythm ends the walk (not reported);
#   so does max_step_ms without an IC (the last step is then reported, ending at the timeout).
#   Each chain entry is reported at most once (_c_rep): when a walk that stopped restarts at the
#   next ICs, its back-fill stops at the first step already reported, so records come out in
#   strictly increasing IC order.
# - Short walks (tail_steps): a chain that ends (max_step_ms without an IC) without ever having
#   started a walk, with at least tail_steps firm ICs whose sway alternates, is
#   reported then, late: the two or three steps of a shuffle or a short walk (ipol: steps
#   after the protocol's walk; a walk's steps after it stopped stay dropped). finish() ends the
#   chain the same way when the stream ends (the end of a replayed recording), so a walk's
#   last step is not lost because the recording stopped before max_step_ms.
# - Gait initiation (first_rel_pct): the first contact of a walk is often the push-off of the
#   first swing (its jerk a third of the next contact's: ipol S02, S03, mobgap Test5), not a
#   heel strike; a first step whose jerk peak is below first_rel_pct % of the next one's is
#   left out when the walk starts. Both chosen by bench/gait_tune.py (leave-one-subject-out).
# - Stance side: the pelvis accelerates toward the swing side during single stance (to the
#   right in left stance), so a step's sum of acc_left is lower in left stance than in the
#   right steps around it. A walking step's left evidence is (previous sum - this sum) minus
#   half the previous step's evidence (alternation prior); the steps reported at the start of a
#   walk get their sides jointly, alternating, from the alternating sum of their differences.
#   Obliquity is not used for the side (in HA_001 the stance side drops in early stance), nor is
#   the yaw rate (its sign before IC gave the side for only about 3 in 4 of these steps; removing
#   the centripetal acceleration of turns from acc_left changed nothing measurable).
# - Drop: the largest obliquity of each sign is tracked per step; the side picks the swing
#   side's one (right stance: left drop = max(-obl, 0); left stance: right drop = max(obl, 0)).
#   Step boundaries for these sums are where the candidate window opened (a few samples from
#   the IC), not where the candidate was accepted.
#
# Per-sample rules (tested in tests/test_steps.py): ints only, no heap allocation (state lives
# in attributes and preallocated arrays), every intermediate within [-2**30, 2**30 - 1] for
# inputs in range, durations converted to samples once in __init__.
#
# Cost: update() is native code (the source rules above), where every attribute access is a
# hash lookup (~150 x86 instructions on the unix port) and every int operation a runtime call
# (~50): so the common path touches few attributes - one state for the candidate window,
# deadlines instead of differences (window end, chain timeout), a count of waiting records.

import sys
from array import array

from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)

_SH = const(3)  # the IC filter state carries 3 fractional bits (units mg / 8)
_AQ = const(10)  # filter coefficients are Q10
_CLAMP = const(16000)  # acceleration input clamp, mg
_CLAMP2 = const(32000)  # clamp of acc_up - acc_fwd, mg
_RING = const(8)  # chain and record ring size (power of two)
_RMASK = const(7)
_BIG = const(1 << 28)  # saturation of the side evidence
_LATCAP = const(1 << 23)  # saturation of a step's lateral sum
_NEVER = const((1 << 30) - 1)  # a sample index no update reaches (the largest small int)
_IC_WAIT = const(0)  # candidate window: closed, the jerk must fall below half the threshold
_IC_ARMED = const(1)  # closed, opens when the jerk crosses the threshold
_IC_OPEN = const(2)  # open
_M30 = const(0x3FFFFFFF)  # sign-correct ptr32 reads (shared/estimator.py explains)
_B29 = const(0x20000000)

# The per-sample path (`_step`, viper) keeps its set-up values and state in one int32 array
# `_v`, read through ptr32: one machine load each, where native code pays a hash lookup per
# attribute. The rarer paths (a candidate, the chain, the records) index the same cells.
# (Not properties over the cells: a class with a property makes MicroPython look the class
# up on every attribute store to its instances, which doubled the rare paths' cost.) The
# set-up values are also kept as attributes (read-only after __init__), and `walking` is an
# attribute kept equal to its cell, for readers outside the detector.
_V_A = const(0)
_V_RLAG = const(1)
_V_ND = const(2)
_V_THR = const(3)
_V_REARM = const(4)
_V_RWIN = const(5)
_V_WIN = const(6)
_V_Y1 = const(7)
_V_Y2 = const(8)
_V_F1 = const(9)
_V_F2 = const(10)
_V_CF = const(11)
_V_CF_N = const(12)
_V_CF_END = const(13)
_V_RF_H = const(14)
_V_RF_END = const(15)
_V_FMAX = const(16)
_V_FMAX_N = const(17)
_V_RP = const(18)
_V_LAT = const(19)
_V_POS = const(20)
_V_NEG = const(21)
_V_P_LAT = const(22)
_V_P_POS = const(23)
_V_P_NEG = const(24)
_V_IC = const(25)
_V_PK = const(26)
_V_PK_N = const(27)
_V_WIN_LAST = const(28)
_V_ATHR = const(29)
_V_BEAT_FROM = const(30)
_V_BEAT_TO = const(31)
_V_WALKING = const(32)
_V_TIMEOUT = const(33)
_V_Q_N = const(34)
# Inputs of `_step` (device/app.py writes them, then calls it; `update` does the same).
CELL_UP = const(35)  # acc_up_mg
CELL_LEFT = const(36)  # acc_left_mg
CELL_FWD = const(37)  # acc_fwd_mg
CELL_OBL = const(38)  # obl_mdeg
CELL_WALKING = const(32)  # public: 1 while walking (device/app.py reads it per sample)
_V_NCELLS = const(39)


def _lp_coef_q10(cutoff_hz, period_us):
    # First-order low-pass coefficient alpha = 1 - exp(-x), x = 2*pi*fc*dt, in Q10, integers
    # only: 2*pi ~ 710/113 and 1 - exp(-x) ~ x / (1 + x/2 + x*x/12) (Pade, < 1 % error to x = 1).
    d = 113000000
    x = 710 * cutoff_hz * period_us  # x * d
    a = (x * d * 12 << _AQ) // (12 * d * d + 6 * x * d + x * x)
    if a < 1:
        a = 1
    return a


def _ms_to_n(ms, period_us):
    n = (ms * 1000 + (period_us >> 1)) // period_us
    if n < 1:
        n = 1
    return n


def _q8(pct):
    return (pct << 8) // 100


class StepDetector:
    """Per-sample causal step detector (method: see the module comment).

    period_us: sample period in microseconds (2500 .. 20000 for 400 .. 50 Hz).
    min_step_ms / max_step_ms: plausible IC-to-IC interval (default 250 / 1500 ms).
    ic_lp_hz: low-pass cutoff of the IC signal (default 4 Hz).
    ic_diff_ms: span of the difference that makes the jerk signal (default 40 ms).
    ic_win_ms: the candidate is the largest jerk within this window (default 150 ms).
    ic_lag_ms: the IC is placed this long before the jerk peak (default 30 ms).
    ic_min_mg: jerk threshold, mg of change over ic_diff_ms (default 35 mg).
    early_pct / weak_pct: rhythm gate for early candidates (default 60 % / 50 %).
    start_steps: regular, alternating steps needed to start walking (default 2).
    start_ratio_pct: their intervals agree within this % (default 35 %).
    start_alt: 1 = their lateral sway must alternate (default 1).
    back_steps / back_ratio_pct: earlier chain steps reported too when walking starts, if each
        interval is within back_ratio_pct % of the next one (default 2 / 50 %).
    stop_ratio_pct: while walking, a step that does not alternate and whose interval differs from
        the previous one by more than this % of its own ends the walk (default 40 %; 0 = never).
    beat_pct / beat_min_mg / beat_rel_pct: while walking, within beat_pct % of one interval after
        the last IC, a jerk above beat_min_mg (capped at ic_min_mg) opens a candidate window too;
        such a weak candidate must reach beat_rel_pct % of the previous IC's peak and end a step
        that sways opposite to the previous one (default 20 % / 12 mg / 10 %).
    ic_ref_ms / ic_ref_win_ms: the reported IC goes ic_ref_ms before the peak of low-passed
        -acc_fwd within ic_ref_win_ms after the jerk peak (default 190 / 300 ms; 0 = at the
        jerk peak minus ic_lag_ms).
    tail_steps: a chain that ends without a walk is reported if it has at least tail_steps
        ICs swaying alternately (default 2; 0 = never).
    first_rel_pct: a walk's first step is left out if its jerk peak is below this % of the
        next one's (default 40; 0 = never).
    gyro_up_cdps is accepted by update() for the interface but not used (see the module comment).
    """

    def __init__(
        self,
        period_us,
        min_step_ms=250,
        max_step_ms=1500,
        ic_lp_hz=4,
        ic_diff_ms=40,
        ic_win_ms=150,
        ic_lag_ms=30,
        ic_min_mg=35,
        early_pct=60,
        weak_pct=50,
        start_steps=2,
        start_ratio_pct=35,
        start_alt=1,
        back_steps=2,
        back_ratio_pct=50,
        stop_ratio_pct=40,
        beat_pct=20,
        beat_min_mg=12,
        beat_rel_pct=10,
        ic_ref_ms=190,
        ic_ref_win_ms=300,
        ic_ref_max_ms=180,
        tail_steps=2,
        first_rel_pct=40,
    ):
        if period_us < 1000 or period_us > 50000:
            raise ValueError("period_us out of range")
        if min_step_ms < 1 or max_step_ms <= min_step_ms or max_step_ms > 10000:
            raise ValueError("min_step_ms/max_step_ms out of range")
        if start_steps < 1 or back_steps < 0 or start_steps + back_steps > _RING - 2:
            raise ValueError("start_steps/back_steps out of range")
        if tail_steps < 0 or tail_steps > _RING - 1:
            raise ValueError("tail_steps out of range")
        if ic_lp_hz < 1 or ic_lp_hz > 50 or ic_min_mg < 1 or ic_min_mg > 4000:
            raise ValueError("ic_lp_hz/ic_min_mg out of range")
        for pct in (
            early_pct,
            weak_pct,
            start_ratio_pct,
            back_ratio_pct,
            stop_ratio_pct,
            beat_pct,
            beat_rel_pct,
            first_rel_pct,
        ):
            if pct < 0 or pct > 200:
                raise ValueError("percentages must be 0 .. 200")
        if beat_min_mg < 1:
            raise ValueError("beat_min_mg out of range")
        if beat_min_mg > ic_min_mg:
            beat_min_mg = ic_min_mg
        if ic_diff_ms < 1 or ic_win_ms < 1 or ic_lag_ms < 0 or ic_lag_ms > 1000:
            raise ValueError("ic_diff_ms/ic_win_ms/ic_lag_ms out of range")
        if ic_ref_ms < 0 or ic_ref_ms > 1000 or ic_ref_win_ms < 1 or ic_ref_win_ms > 1000:
            raise ValueError("ic_ref_ms/ic_ref_win_ms out of range")
        self.period_us = period_us
        self._v = array("i", [0] * _V_NCELLS)  # the cells _V_*
        self._a = _lp_coef_q10(ic_lp_hz, period_us)
        self._nd = _ms_to_n(ic_diff_ms, period_us)
        self._ring = array("i", [0] * self._nd)
        self._min_n = _ms_to_n(min_step_ms, period_us)
        self._max_n = _ms_to_n(max_step_ms, period_us)
        self._win_n = _ms_to_n(ic_win_ms, period_us)
        self._lag_n = (ic_lag_ms * 1000 + (period_us >> 1)) // period_us
        # timing: the IC goes ic_ref_ms before the forward deceleration peak (0 = off)
        self._rlag_n = (ic_ref_ms * 1000 + (period_us >> 1)) // period_us
        self._rwin_n = _ms_to_n(ic_ref_win_ms, period_us)
        self._rmax_n = _ms_to_n(ic_ref_max_ms, period_us)
        self._thr = ic_min_mg << _SH
        self._rearm = self._thr >> 1  # the window re-arms when the jerk falls below this
        self._early = _q8(early_pct)
        self._weak = _q8(weak_pct)
        self._start = start_steps
        self._sratio = _q8(start_ratio_pct)
        self._alt = start_alt
        self._back = back_steps
        self._bratio = _q8(back_ratio_pct)
        self._stop = _q8(stop_ratio_pct)
        self._beat = _q8(beat_pct)
        self._lothr = beat_min_mg << _SH
        self._brel = _q8(beat_rel_pct)
        self._tail = tail_steps
        self._frel = first_rel_pct
        v = self._v
        v[_V_A] = self._a
        v[_V_RLAG] = self._rlag_n
        v[_V_ND] = self._nd
        v[_V_THR] = self._thr
        v[_V_REARM] = self._rearm
        v[_V_RWIN] = self._rwin_n
        v[_V_WIN] = self._win_n
        # chain of recent ICs (ring, newest at _c_head): IC sample index, and for the step that
        # starts there: lateral sum, max(obl), max(-obl)
        self._c_n = array("i", [0] * _RING)
        self._c_t = array("i", [0] * _RING)  # the IC as reported (retimed; rhythm uses _c_n)
        self._c_lat = array("i", [0] * _RING)
        self._c_pos = array("i", [0] * _RING)
        self._c_neg = array("i", [0] * _RING)
        self._c_rep = array("i", [0] * _RING)  # 1 once the entry's step has been queued
        self._c_pk = array("i", [0] * _RING)  # the IC's jerk peak
        # completed records waiting to be handed out (ring)
        self._q_ic = array("i", [0] * _RING)
        self._q_stance = array("i", [0] * _RING)
        self._q_drop = array("i", [0] * _RING)
        self._q_end = array("i", [0] * _RING)
        self.reset()

    def reset(self):
        """Forget everything: filters, chain, walking state, queued records, step count."""
        v = self._v
        for i in range(self._nd):
            self._ring[i] = 0
        for i in range(_RING):
            self._c_rep[i] = 0
        v[_V_RP] = 0
        v[_V_Y1] = 0
        v[_V_Y2] = 0
        v[_V_F1] = 0  # low-passed -acc_fwd (timing signal), mg << _SH
        v[_V_F2] = 0
        v[_V_CF] = 0  # its peak since the candidate's jerk peak, where, until when
        v[_V_CF_N] = 0
        v[_V_CF_END] = 0
        v[_V_FMAX] = 0  # the same for the IC that waits for its timing ...
        v[_V_FMAX_N] = 0
        v[_V_RF_END] = 0
        v[_V_RF_H] = -1  # ... at this chain entry (-1: none)
        v[_V_IC] = _IC_ARMED  # candidate window state
        v[_V_WIN_LAST] = 0  # last sample of the open window
        v[_V_PK] = 0
        v[_V_PK_N] = 0
        self._c_len = 0  # ICs in the chain
        self._c_head = 0
        v[_V_TIMEOUT] = _NEVER  # the chain ends after this sample (no IC for max_step)
        v[_V_BEAT_FROM] = _NEVER  # while walking: the next IC is expected from here ...
        v[_V_BEAT_TO] = 0  # ... to here, where the lower threshold opens a window too
        v[_V_ATHR] = self._thr  # the lower of the two thresholds in force
        self._h_pk = 0  # jerk peak of the chain's newest IC
        self._env = 0  # running mean of the chain's jerk peaks
        self._int_n = 0  # last IC interval, samples
        # step accumulators (lateral sum, max obl, max -obl): _p_* from the last IC to the
        # opening of the candidate window, the others since then
        v[_V_LAT] = 0
        v[_V_POS] = 0
        v[_V_NEG] = 0
        v[_V_P_LAT] = 0
        v[_V_P_POS] = 0
        v[_V_P_NEG] = 0
        self._ev = 0  # left-stance evidence of the last reported step
        self._last_stance = -1
        self._q_r = 0
        self._q_w = 0
        v[_V_Q_N] = 0  # records waiting: (_q_w - _q_r) & _RMASK
        self.step_ic_n = 0
        self.step_stance = 0
        self.step_drop_mdeg = 0
        self.step_end_n = 0
        self.steps = 0
        self.walking = 0
        v[_V_WALKING] = 0
        self.stance = -1

    @micropython.native
    def _queue(self, k, side, end_n):
        v = self._v  # the cells _V_* (see above)
        # Queue the record of the step that starts at chain entry k.
        w = self._q_w
        self._c_rep[k] = 1
        self._q_ic[w] = self._c_t[k]
        self._q_stance[w] = side
        if side:
            self._q_drop[w] = self._c_neg[k]
        else:
            self._q_drop[w] = self._c_pos[k]
        self._q_end[w] = end_n
        self._q_w = (w + 1) & _RMASK
        v[_V_Q_N] = (v[_V_Q_N] + 1) & _RMASK
        self._last_stance = side
        if v[_V_WALKING]:
            self.stance = 1 - side  # the next step's stance, by alternation
        self.steps += 1

    @micropython.native
    def _walk_step(self, k, end_n):
        # Side of a walking step (chain entry k, previous entry k-1) and queue it.
        ev = self._c_lat[(k - 1) & _RMASK] - self._c_lat[k]
        if self._last_stance >= 0:
            ev -= self._ev >> 1
        if ev > _BIG:
            ev = _BIG
        elif ev < -_BIG:
            ev = -_BIG
        self._ev = ev
        if ev > 0:
            self._queue(k, 0, end_n)
        else:
            self._queue(k, 1, end_n)

    @micropython.native
    def _close(self):
        v = self._v  # the cells _V_* (see above)
        # The step up to the candidate window ends: its accumulators go to the newest entry.
        h = self._c_head
        self._c_lat[h] = v[_V_P_LAT]
        self._c_pos[h] = v[_V_P_POS]
        self._c_neg[h] = v[_V_P_NEG]
        v[_V_P_LAT] = 0
        v[_V_P_POS] = 0
        v[_V_P_NEG] = 0

    @micropython.native
    def _merge(self):
        v = self._v  # the cells _V_* (see above)
        # No IC at the window after all: its accumulators continue the current step.
        lat = v[_V_LAT] + v[_V_P_LAT]
        if lat > _LATCAP:
            lat = _LATCAP
        elif lat < -_LATCAP:
            lat = -_LATCAP
        v[_V_LAT] = lat
        if v[_V_P_POS] > v[_V_POS]:
            v[_V_POS] = v[_V_P_POS]
        if v[_V_P_NEG] > v[_V_NEG]:
            v[_V_NEG] = v[_V_P_NEG]
        v[_V_P_LAT] = 0
        v[_V_P_POS] = 0
        v[_V_P_NEG] = 0

    @micropython.native
    def _end_now(self):
        v = self._v  # the cells _V_* (see above)
        # The step ends at this sample (timeout): all accumulators go to the newest entry.
        self._merge()
        v[_V_P_LAT] = v[_V_LAT]
        v[_V_P_POS] = v[_V_POS]
        v[_V_P_NEG] = v[_V_NEG]
        v[_V_LAT] = 0
        v[_V_POS] = 0
        v[_V_NEG] = 0
        self._close()

    @micropython.native
    def _irregular(self, e, ratio):
        # 1 if the steps at chain entries e-1 and e differ by more than ratio (Q8) of step e.
        t0 = self._c_n[e]
        i1 = self._c_n[(e + 1) & _RMASK] - t0
        d = t0 - self._c_n[(e - 1) & _RMASK] - i1
        if d < 0:
            d = 0 - d
        if d * 256 > ratio * i1:
            return 1
        return 0

    @micropython.native
    def _same_sway(self, e):
        # 1 if the lateral sums of the steps at chain entries e-1 and e have the same sign.
        p = self._c_lat[(e - 1) & _RMASK]
        q = self._c_lat[e]
        if (p >= 0 and q >= 0) or (p <= 0 and q <= 0):
            return 1
        return 0

    @micropython.native
    def _set_timeout(self, ic):
        v = self._v  # the cells _V_* (see above)
        # The chain's newest IC is at sample ic: it ends after ic + max_n samples without one.
        t = _NEVER  # ic + max_n is beyond any sample index (and the small-int range)
        if ic <= _NEVER - self._max_n:
            t = ic + self._max_n
        v[_V_TIMEOUT] = t

    @micropython.native
    def _replace(self, k, h, ic, pk):
        v = self._v  # the cells _V_* (see above)
        # The candidate at sample ic replaces the chain's newest IC (entry h, previous k).
        lat = self._c_lat[k] + v[_V_P_LAT]
        if lat > _LATCAP:
            lat = _LATCAP
        elif lat < -_LATCAP:
            lat = -_LATCAP
        self._c_lat[k] = lat
        if v[_V_P_POS] > self._c_pos[k]:
            self._c_pos[k] = v[_V_P_POS]
        if v[_V_P_NEG] > self._c_neg[k]:
            self._c_neg[k] = v[_V_P_NEG]
        v[_V_P_LAT] = 0
        v[_V_P_POS] = 0
        v[_V_P_NEG] = 0
        self._c_n[h] = ic
        self._c_t[h] = ic
        self._set_timeout(ic)
        self._h_pk = pk
        self._c_pk[h] = pk
        self._int_n = ic - self._c_n[k]

    @micropython.native
    def _pend(self, h):
        v = self._v  # the cells _V_* (see above)
        # Chain entry h has a new IC: its timing search continues from the candidate's.
        if v[_V_RF_H] >= 0:
            self._retime()
        v[_V_RF_H] = h
        v[_V_FMAX] = v[_V_CF]
        v[_V_FMAX_N] = v[_V_CF_N]
        v[_V_RF_END] = v[_V_CF_END]

    @micropython.native
    def _retime(self):
        v = self._v  # the cells _V_* (see above)
        # The forward deceleration peak that follows the newest IC's jerk peak puts the IC
        # rlag_n before it: a later, steadier landmark of heel strike than the jerk peak (its
        # lag after the reference contact varies less between walkers). Kept within the step.
        h = v[_V_RF_H]
        v[_V_RF_H] = -1
        ic = v[_V_FMAX_N] - v[_V_RLAG]
        if self._c_len > 1 and ic <= self._c_t[(h - 1) & _RMASK]:
            return
        pk_n = self._c_n[h] + self._lag_n
        if ic > pk_n or ic < pk_n - self._rmax_n:
            return
        self._c_t[h] = ic

    @micropython.native
    def _expect(self, ic):
        v = self._v  # the cells _V_* (see above)
        # Walking, newest IC at sample ic: the next one is expected one interval later.
        w = self._int_n * self._beat >> 8
        f = _NEVER
        t = 0
        if ic <= _NEVER - self._max_n - self._max_n:
            f = ic + self._int_n - w
            t = ic + self._int_n + w
        v[_V_BEAT_FROM] = f
        v[_V_BEAT_TO] = t
        v[_V_ATHR] = self._lothr

    @micropython.native
    def _candidate(self, pk_n, pk):
        v = self._v  # the cells _V_* (see above)
        ic = pk_n - self._lag_n
        c_len = self._c_len
        h = self._c_head
        dt = 0
        if c_len > 0:
            dt = ic - self._c_n[h]
            if (
                self._h_pk <= v[_V_THR] < pk
                and v[_V_WALKING]
                and (dt < self._min_n or dt * 256 < self._early * self._int_n)
            ):
                # the newest IC was weak (beat window) and a firm candidate follows it soon:
                # the firm one is the IC (the previous step's record keeps the weak IC as end)
                k = (h - 1) & _RMASK
                self._replace(k, h, ic, pk)
                if v[_V_RLAG]:
                    self._pend(h)
                return
            if dt < self._min_n:
                self._merge()
                return
            if dt > self._max_n:
                # only after missed samples (the timeout normally ends the chain first)
                if v[_V_WALKING]:
                    self._end_now()
                    self._walk_step(h, ic)
                    v[_V_WALKING] = 0
                    self.walking = 0  # kept equal to its cell
                    self.stance = -1
                c_len = 0
            elif c_len > 1 and dt * 256 < self._early * self._int_n:
                # sooner than the rhythm allows
                if v[_V_WALKING]:
                    if pk * 256 < self._weak * self._env:
                        self._merge()
                        return
                else:
                    if pk <= self._h_pk:
                        self._merge()
                        return
                    # stronger: it replaces the chain's newest IC
                    self._replace((h - 1) & _RMASK, h, ic, pk)
                    if v[_V_RLAG]:
                        self._pend(h)
                    return
        if pk <= v[_V_THR]:
            # weak (only the beat window opens for it): at least beat_rel_pct of the previous
            # IC's peak (a walk that fades, not a bump after a firm step), and the step it
            # ends sways opposite to the previous one (_p_lat: that step's lateral sum so far)
            q = self._c_lat[(h - 1) & _RMASK]
            if (
                not v[_V_WALKING]
                or pk * 256 < self._brel * self._h_pk
                or (q >= 0 and v[_V_P_LAT] >= 0)
                or (q <= 0 and v[_V_P_LAT] <= 0)
            ):
                self._merge()
                return
        v[_V_BEAT_FROM] = _NEVER  # a new IC: the beat window closes (walking sets it again)
        v[_V_ATHR] = v[_V_THR]
        if c_len > 0:
            self._close()
        else:
            v[_V_P_LAT] = 0
            v[_V_P_POS] = 0
            v[_V_P_NEG] = 0
        h = (h + 1) & _RMASK
        self._c_head = h
        self._c_n[h] = ic
        self._c_t[h] = ic
        self._c_rep[h] = 0
        if v[_V_RLAG]:
            self._pend(h)
        self._set_timeout(ic)
        if c_len < _RING:
            c_len += 1
        self._c_len = c_len
        self._h_pk = pk
        self._c_pk[h] = pk
        if c_len > 1:
            self._int_n = dt
            self._env += (pk - self._env) >> 2
        else:
            self._env = pk
        k = (h - 1) & _RMASK  # the step that just ended
        if v[_V_WALKING]:
            if c_len > 2 and self._stop and self._same_sway(k) and self._irregular(k, self._stop):
                v[_V_WALKING] = 0  # neither alternates nor keeps the rhythm
                self.walking = 0  # kept equal to its cell
                self.stance = -1
                return
            self._walk_step(k, ic)
            self._expect(ic)
            return
        s = self._start
        if c_len <= s:
            return
        # the last s steps (entries h-s .. h-1) must be regular, sway alternately and not have
        # been reported (a walk that stopped at its newest step restarts right after it)
        if self._c_rep[(h - s) & _RMASK]:
            return
        i = 1
        while i < s:
            e = (h - s + i) & _RMASK
            if self._c_rep[e] or self._irregular(e, self._sratio):
                return
            if self._alt and self._same_sway(e):
                return
            i += 1
        # walking starts; take in up to back_steps earlier steps that fit the rhythm
        first = (h - s) & _RMASK
        m = s
        while m < self._back + s and m < c_len - 1:
            if self._c_rep[(first - 1) & _RMASK] or self._irregular(first, self._bratio):
                break
            first = (first - 1) & _RMASK
            m += 1
        # a walk's first contact is often the push-off of gait initiation, not a heel strike:
        # with first_rel_pct, a first step whose jerk peak is below that share of the next
        # one's is left out
        if m > 1 and self._c_pk[first] * 100 < self._frel * self._c_pk[(first + 1) & _RMASK]:
            self._c_rep[first] = 1
            first = (first + 1) & _RMASK
            m -= 1
        v[_V_WALKING] = 1
        self.walking = 1  # kept equal to its cell
        self._run(first, m, self._c_n[h])
        self._expect(ic)

    @micropython.native
    def _run(self, first, m, end_last):
        # Queue the m steps at chain entries first .. first+m-1 (the last one ends at sample
        # end_last), their sides jointly: step i is left when the alternating sum of the
        # differences of their lateral sums says so.
        ev = 0 - self._c_lat[first]
        i = 1
        while i < m:
            e = (first + i) & _RMASK
            d = self._c_lat[e] - self._c_lat[(e - 1) & _RMASK]
            if i == 1:
                ev = d
            elif i & 1:
                ev += d
            else:
                ev -= d
            i += 1
        if ev > _BIG:
            ev = _BIG
        elif ev < -_BIG:
            ev = -_BIG
        left0 = 1 if ev > 0 else 0
        i = 0
        while i < m:
            e = (first + i) & _RMASK
            side = 1 - left0
            if i & 1:
                side = left0
            end = end_last
            if i < m - 1:
                end = self._c_n[(e + 1) & _RMASK]
            self._queue(e, side, end)
            i += 1
        # evidence carried to the next step: that of the last reported one
        if ev < 0:
            ev = 0 - ev
        if self._last_stance:
            ev = 0 - ev
        self._ev = ev

    @micropython.native
    def _flush_tail(self, n):
        v = self._v  # the cells _V_* (see above)
        # The chain ends at sample n (max_step without an IC) and no walk is on: its newest
        # steps that were never reported (a short walk, or the steps after a walk stopped)
        # are reported if there are at least tail_steps of them, firm (the beat window, the
        # only way to a weak IC, is for walks) and swaying alternately.
        h = self._c_head
        m = 0
        e = h
        while m < self._c_len and not self._c_rep[e]:
            m += 1
            e = (e - 1) & _RMASK
        if m < self._tail or m < 1 or m < self._c_len:
            return  # too few, or after a walk that stopped: those steps stay dropped
        room = _RMASK - v[_V_Q_N]  # the record ring holds _RING - 1
        if m > room:
            m = room
        self._end_now()
        first = (h - m + 1) & _RMASK
        i = 1
        while i < m:
            if self._same_sway((first + i) & _RMASK):
                return
            i += 1
        self._run(first, m, n)

    @micropython.native
    def _end_chain(self, n):
        v = self._v  # the cells _V_* (see above)
        # The chain ends at sample n: the walk's last step ends here (or a short chain's
        # unreported steps are reported, tail_steps).
        if v[_V_WALKING]:
            self._end_now()
            self._walk_step(self._c_head, n)
            v[_V_WALKING] = 0
            self.walking = 0  # kept equal to its cell
            self.stance = -1
        elif self._tail:
            self._flush_tail(n)
        self._c_len = 0
        v[_V_TIMEOUT] = _NEVER
        v[_V_ATHR] = v[_V_THR]

    @micropython.native
    def finish(self, n):
        """The stream ends after sample n (end of a recording or of a session): the chain ends
        as it would max_step_ms later without another IC. Returns the number of records now
        waiting; take them with pop(). Called once, under the same rules as update()."""
        v = self._v  # the cells _V_* (see above)
        if v[_V_RF_H] >= 0:
            self._retime()
        if self._c_len:
            self._end_chain(n)
        return v[_V_Q_N]

    @micropython.native
    def pop(self):
        """Hand out one waiting record into step_* (1), or 0 if none waits."""
        v = self._v  # the cells _V_* (see above)
        if not v[_V_Q_N]:
            return 0
        r = self._q_r
        self.step_ic_n = self._q_ic[r]
        self.step_stance = self._q_stance[r]
        self.step_drop_mdeg = self._q_drop[r]
        self.step_end_n = self._q_end[r]
        self._q_r = (r + 1) & _RMASK
        v[_V_Q_N] -= 1
        return 1

    @micropython.native
    def update(self, n, acc_up_mg, acc_left_mg, acc_fwd_mg, gyro_up_cdps, obl_mdeg):
        """Feed one sample; returns 1 when a completed step record is ready. (The firmware's
        tick writes the inputs to their cells and calls `_step` itself: device/app.py.)"""
        v = self._v
        v[CELL_UP] = acc_up_mg
        v[CELL_LEFT] = acc_left_mg
        v[CELL_FWD] = acc_fwd_mg
        v[CELL_OBL] = obl_mdeg
        return self._step(n)

    @micropython.native
    def _hand_out(self):
        # one queued record to the step_* attributes
        r = self._q_r
        self.step_ic_n = self._q_ic[r]
        self.step_stance = self._q_stance[r]
        self.step_drop_mdeg = self._q_drop[r]
        self.step_end_n = self._q_end[r]
        self._q_r = (r + 1) & _RMASK
        self._v[_V_Q_N] -= 1

    @micropython.viper
    def _step(self, n: int) -> int:
        """update() on the inputs in cells CELL_UP .. CELL_OBL (viper: locals are machine words,
        cells read through ptr32, those that may be negative sign-corrected)."""
        v = ptr32(self._v)
        c = v[CELL_UP]
        x = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        c = v[CELL_FWD]
        fwd = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        c = v[CELL_LEFT]
        left = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        c = v[CELL_OBL]
        obl = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        x = x - fwd
        if x > _CLAMP2:
            x = _CLAMP2
        elif x < 0 - _CLAMP2:
            x = 0 - _CLAMP2
        if left > _CLAMP:
            left = _CLAMP
        elif left < 0 - _CLAMP:
            left = 0 - _CLAMP
        # jerk: j = d(n) - d(n - nd), d = low-passed (acc_up - acc_fwd), units mg << _SH
        a = v[_V_A]
        c = v[_V_Y1]
        y1 = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        y1 += ((x << _SH) - y1) * a >> _AQ
        c = v[_V_Y2]
        y2 = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        y2 += (y1 - y2) * a >> _AQ
        v[_V_Y1] = y1
        v[_V_Y2] = y2
        if v[_V_RLAG]:
            c = v[_V_F1]
            f1 = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
            f1 += ((0 - (fwd << _SH)) - f1) * a >> _AQ
            c = v[_V_F2]
            f2 = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
            f2 += (f1 - f2) * a >> _AQ
            v[_V_F1] = f1
            v[_V_F2] = f2
            c = v[_V_CF]
            if f2 > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                v[_V_CF] = f2
                v[_V_CF_N] = n
            c = v[_V_RF_H]
            if (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29) >= 0:
                c = v[_V_RF_END]
                c = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
                if n > c:
                    self._retime()
                else:
                    c = v[_V_FMAX]
                    if f2 > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                        v[_V_FMAX] = f2
                        v[_V_FMAX_N] = n
        ring = ptr32(self._ring)
        p = v[_V_RP]
        c = ring[p]
        j = y2 - ((c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29))
        ring[p] = y2
        p -= 1  # walked downwards, so the wrap is a test against 0: every cell comes back
        if p < 0:  # after nd samples
            p = v[_V_ND] - 1
        v[_V_RP] = p
        # current step: lateral sum and obliquity extremes (_pos and _neg are >= 0)
        c = v[_V_LAT]
        lat = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29) + left
        if lat > 0 - _LATCAP and lat < _LATCAP:
            v[_V_LAT] = lat
        if obl > 0:
            if obl > v[_V_POS]:
                v[_V_POS] = obl
        elif 0 - obl > v[_V_NEG]:
            v[_V_NEG] = 0 - obl
        # candidate: the largest j within win_n samples of crossing the threshold
        state = v[_V_IC]
        if state == _IC_OPEN:
            c = v[_V_PK]
            if j > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                v[_V_PK] = j
                v[_V_PK_N] = n
                v[_V_CF] = v[_V_F2]  # the timing search starts at the jerk peak
                v[_V_CF_N] = n
                e = _NEVER
                if n <= _NEVER - v[_V_RWIN]:
                    e = n + v[_V_RWIN]
                v[_V_CF_END] = e
            c = v[_V_WIN_LAST]
            if n > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                c = v[_V_PK]
                pk = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
                st = _IC_WAIT
                if pk <= v[_V_THR]:
                    st = _IC_ARMED  # weak (beat window): a firm rise may still follow
                v[_V_IC] = st
                c = v[_V_PK_N]
                self._candidate((c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29), pk)
        elif state == _IC_ARMED:
            c = v[_V_ATHR]
            if j > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
                go = 0
                if j > v[_V_THR]:
                    go = 1
                elif v[_V_WALKING]:
                    c = v[_V_BEAT_FROM]
                    e = v[_V_BEAT_TO]
                    if n >= (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29) and n <= (
                        (e & _M30) - (e >> 1 & _B29) - (e >> 1 & _B29)
                    ):
                        go = 1
                if go:
                    v[_V_IC] = _IC_OPEN
                    last = _NEVER  # n + win_n - 1 is beyond any sample index
                    if n <= _NEVER - v[_V_WIN]:
                        last = n + v[_V_WIN] - 1
                    v[_V_WIN_LAST] = last
                    v[_V_PK] = j
                    v[_V_PK_N] = n
                    v[_V_CF] = v[_V_F2]
                    v[_V_CF_N] = n
                    e = _NEVER
                    if n <= _NEVER - v[_V_RWIN]:
                        e = n + v[_V_RWIN]
                    v[_V_CF_END] = e
                    # a possible IC: from here on, accumulate for the next step
                    v[_V_P_LAT] = v[_V_LAT]
                    v[_V_P_POS] = v[_V_POS]
                    v[_V_P_NEG] = v[_V_NEG]
                    v[_V_LAT] = 0
                    v[_V_POS] = 0
                    v[_V_NEG] = 0
        elif j < v[_V_REARM]:
            v[_V_IC] = _IC_ARMED
        # no IC for max_step: the walk (or the chain) ends
        c = v[_V_TIMEOUT]
        if n > (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29):
            self._end_chain(n)
        # hand out one queued record
        if v[_V_Q_N]:
            self._hand_out()
            return 1
        return 0
