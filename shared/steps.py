# Causal step detector for a sacrum-worn IMU, integer arithmetic only (runs per sample on the
# RP2040 under MicroPython, and unchanged under CPython for the host replay).
#
# Method (prototype and evaluation: bench/steps_proto.py):
# - Initial contact (IC): at heel strike the pelvis is pushed up and braked forward, so the
#   "jerk" of (vertical - forward) acceleration peaks there. j = d(t) - d(t - ic_diff_ms), with
#   d = (acc_up - acc_fwd) through two first-order low-passes at ic_lp_hz. A candidate opens when
#   j exceeds the threshold; the largest j within ic_win_ms is the candidate, and the IC is put
#   ic_lag_ms before it (the filter delay).
# - Walking: candidates that follow each other within [min_step_ms, max_step_ms] form a chain.
#   Walking starts when start_steps steps in a row are regular (each interval within
#   ic_ratio_pct of the previous one) and their lateral sway alternates; those steps are then
#   reported too (one per update call). Walking ends when max_step_ms pass without an IC.
# - Stance side: over a stance the pelvis' lateral velocity changes toward the swing side (it
#   accelerates to the right in left stance), so the step's sum of acc_left is negative in left
#   stance. The side compares it with the neighbouring step (which cancels a constant offset)
#   and adds an alternation prior from the previous step's evidence.
# - Drop: the largest positive and negative obliquity of each step are tracked; the side picks
#   which one is the swing side's drop (right stance: left drop = max(-obl); left stance: right
#   drop = max(obl)).
#
# Per-sample rules: ints only, no allocation (state in attributes and preallocated arrays),
# every intermediate within [-2**30, 2**30 - 1] for inputs in range (see tests/test_steps.py).

from array import array

from shared.mp import const, micropython

_SH = const(3)  # filter state carries 3 fractional bits (units mg / 8)
_AQ = const(10)  # filter coefficients are Q10
_CLAMP = const(16000)  # input clamp, mg
_GCLAMP = const(250000)  # input clamp, cdps
_RING = const(8)  # chain / pending-record ring size (power of two)
_RMASK = const(7)
_BIG = const(1 << 29)  # saturation for sums and elapsed sample counts


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


class StepDetector:
    """Per-sample causal step detector (see the module comment for the method).

    period_us: sample period in microseconds (2500 .. 20000 for 400 .. 50 Hz).
    min_step_ms / max_step_ms: plausible IC-to-IC interval (default 250 / 1500 ms); walking
        ends when max_step_ms pass without an IC.
    ic_lp_hz: low-pass cutoff of the IC signal (default 6 Hz).
    ic_diff_ms: span of the difference that makes the jerk signal (default 40 ms).
    ic_win_ms: a candidate is the largest jerk within this window after the threshold
        crossing (default 150 ms).
    ic_lag_ms: the IC is placed this long before the jerk peak (default 30 ms).
    ic_min_mg: jerk threshold, mg change over ic_diff_ms (default 40 mg).
    early_pct / weak_pct: a candidate that comes sooner than early_pct % of the last interval
        and is weaker than weak_pct % of the running mean peak is ignored (60 % / 50 %).
    start_steps: regular steps in a row needed to start walking (2 .. 5, default 3).
    start_ratio_pct: in those, each interval within this % of the previous one (default 35 %).
    back_steps: up to this many earlier steps of the same chain are reported too when walking
        starts, if their interval is within back_ratio_pct % of the next one (1, 60 %).
    start_alt: 1 = the lateral sway must alternate over the start steps (default 1).
    turn_cmps: walking speed in cm/s assumed to remove the centripetal part of acc_left in
        turns (lateral acc minus speed x yaw rate), for the side and sway tests (default 100).
    """

    def __init__(
        self,
        period_us,
        min_step_ms=250,
        max_step_ms=1500,
        ic_lp_hz=6,
        ic_diff_ms=40,
        ic_win_ms=150,
        ic_lag_ms=30,
        ic_min_mg=40,
        early_pct=60,
        weak_pct=50,
        start_steps=3,
        start_ratio_pct=35,
        back_steps=1,
        back_ratio_pct=60,
        start_alt=1,
        turn_cmps=100,
        first_pct=101,
        stop_alt=1,
        stop_ratio_pct=40,
        lat_jerk_pct=0,
    ):
        if period_us < 1000 or period_us > 50000:
            raise ValueError("period_us out of range")
        if start_steps < 1 or back_steps < 0 or start_steps + back_steps > _RING - 2:
            raise ValueError("start_steps/back_steps out of range")
        if min_step_ms < 1 or max_step_ms <= min_step_ms or max_step_ms > 10000:
            raise ValueError("min_step_ms/max_step_ms out of range")
        self.period_us = period_us
        self._a = _lp_coef_q10(ic_lp_hz, period_us)
        nd = _ms_to_n(ic_diff_ms, period_us)
        self._nd = nd
        self._ring = array("i", [0] * nd)
        self._ring2 = array("i", [0] * nd)
        self._min_n = _ms_to_n(min_step_ms, period_us)
        self._max_n = _ms_to_n(max_step_ms, period_us)
        self._win_n = _ms_to_n(ic_win_ms, period_us)
        self._lag_n = (ic_lag_ms * 1000 + (period_us >> 1)) // period_us
        self._thr = ic_min_mg << _SH
        self._early = (early_pct << 8) // 100  # Q8
        self._weak = (weak_pct << 8) // 100  # Q8
        self._start = start_steps
        self._sratio = (start_ratio_pct << 8) // 100  # Q8
        self._back = back_steps
        self._bratio = (back_ratio_pct << 8) // 100  # Q8
        self._alt = start_alt
        self._first = (first_pct << 8) // 100
        self._stop_alt = stop_alt
        self._ljq = (lat_jerk_pct << 8) // 100
        self._stop_ratio = (stop_ratio_pct << 8) // 100
        # centripetal acc in mg = cm/s * cdps * pi / (180 * 9.80665 * 10) = (cdps * q) >> 16
        self._turn_q = (turn_cmps * 7) // 6
        # chain of recent ICs (ring, newest at _c_head): IC sample index, and for the step that
        # starts there: lateral sum, max(obl), max(-obl)
        self._c_n = array("i", [0] * _RING)
        self._c_lat = array("i", [0] * _RING)
        self._c_pos = array("i", [0] * _RING)
        self._c_neg = array("i", [0] * _RING)
        # completed records waiting to be handed out (ring)
        self._q_ic = array("i", [0] * _RING)
        self._q_side = array("i", [0] * _RING)
        self._q_drop = array("i", [0] * _RING)
        self._q_end = array("i", [0] * _RING)
        self.reset()

    def reset(self):
        """Forget everything: filters, chain, walking state, queued records, step count."""
        for i in range(self._nd):
            self._ring[i] = 0
        self._rp = 0
        self._y1 = 0
        self._y2 = 0
        self._z1 = 0
        self._z2 = 0
        for i in range(self._nd):
            self._ring2[i] = 0
        self._armed = 1  # a new candidate window may open
        self._win = 0  # 1 while a candidate window is open
        self._win_n0 = 0
        self._pk = 0
        self._pk_n = 0
        self._f_pk = 0  # first local maximum in the window
        self._f_n = -1
        self._j1 = 0  # previous j
        self._c_len = 0  # ICs in the chain
        self._c_head = 0
        self._h_pk = 0  # peak of the chain's newest IC
        self._env = 0  # running mean of the chain's peaks (internal units)
        self._int_n = 0  # last IC interval (samples)
        self._lat = 0  # accumulators of the current step
        self._pos = 0
        self._neg = 0
        self._ev = 0  # previous step's left-stance evidence
        self._last_side = -1
        self._q_r = 0
        self._q_w = 0
        self.step_ic_n = 0
        self.step_side = 0
        self.step_drop_mdeg = 0
        self.step_end_n = 0
        self.steps = 0
        self.walking = 0
        self.stance = -1

    @micropython.native
    def _emit(self, k, has_prev, has_next, end_n):
        # Decide the side of the step that starts at chain entry k and queue its record.
        # Left stance: the lateral sum is lower than in the neighbouring (right) steps.
        lat = self._c_lat[k]
        ev = 0 - lat
        if has_prev:
            ev = self._c_lat[(k - 1) & _RMASK] - lat
        elif has_next:
            ev = self._c_lat[(k + 1) & _RMASK] - lat
        if self._last_side >= 0:
            ev = ev - (self._ev >> 1)  # alternation prior
        if ev > _BIG:
            ev = _BIG
        elif ev < -_BIG:
            ev = -_BIG
        self._ev = ev
        side = 1
        drop = self._c_neg[k]
        if ev > 0:
            side = 0
            drop = self._c_pos[k]
        self._last_side = side
        w = self._q_w
        self._q_ic[w] = self._c_n[k]
        self._q_side[w] = side
        self._q_drop[w] = drop
        self._q_end[w] = end_n
        self._q_w = (w + 1) & _RMASK
        self.steps += 1

    @micropython.native
    def _close(self):
        # Move the current step's accumulators into the newest chain entry.
        h = self._c_head
        self._c_lat[h] = self._lat
        self._c_pos[h] = self._pos
        self._c_neg[h] = self._neg
        self._lat = 0
        self._pos = 0
        self._neg = 0

    @micropython.native
    def _regular(self, e, ratio):
        # 1 if the step at chain entry e is within ratio (Q8) of the step after it.
        t0 = self._c_n[e]
        i0 = t0 - self._c_n[(e - 1) & _RMASK]
        i1 = self._c_n[(e + 1) & _RMASK] - t0
        d = i0 - i1
        if d < 0:
            d = 0 - d
        if d * 256 > ratio * i1:
            return 0
        return 1

    @micropython.native
    def _candidate(self, pk_n, pk):
        ic = pk_n - self._lag_n
        c_len = self._c_len
        h = self._c_head
        dt = 0
        if c_len > 0:
            dt = ic - self._c_n[h]
            if dt < self._min_n:
                return
            if c_len > 1 and dt * 256 < self._early * self._int_n:
                # sooner than the rhythm allows
                if self.walking:
                    if pk * 256 < self._weak * self._env:
                        return
                else:
                    if pk <= self._h_pk:
                        return
                    # a stronger IC: it replaces the chain's newest one
                    k = (h - 1) & _RMASK
                    self._c_lat[k] += self._lat
                    if self._pos > self._c_pos[k]:
                        self._c_pos[k] = self._pos
                    if self._neg > self._c_neg[k]:
                        self._c_neg[k] = self._neg
                    self._lat = 0
                    self._pos = 0
                    self._neg = 0
                    self._c_n[h] = ic
                    self._h_pk = pk
                    self._int_n = ic - self._c_n[k]
                    return
            if dt > self._max_n:
                c_len = 0
        self._h_pk = pk
        if c_len > 0:
            self._close()
        else:
            self._lat = 0
            self._pos = 0
            self._neg = 0
        h = (h + 1) & _RMASK
        self._c_head = h
        self._c_n[h] = ic
        if c_len < _RING:
            c_len += 1
        self._c_len = c_len
        if c_len > 1:
            self._int_n = dt
            self._env += (pk - self._env) >> 2
        else:
            self._env = pk
        if self.walking:
            k = (h - 1) & _RMASK
            if c_len > 2 and self._stop_alt:
                # a step that neither alternates nor keeps the rhythm ends the walk
                p = self._c_lat[(k - 1) & _RMASK]
                q = self._c_lat[k]
                if ((p >= 0 and q >= 0) or (p <= 0 and q <= 0)) and self._regular(
                    k, self._stop_ratio
                ) == 0:
                    self.walking = 0
                    return
            self._emit(k, c_len > 2, 0, ic)
            return
        s = self._start
        if c_len <= s:
            return
        # the last s steps (entries h-s .. h-1) must be regular and sway alternately
        i = 1
        while i < s:
            e = (h - s + i) & _RMASK
            if self._regular(e, self._sratio) == 0:
                return
            if self._alt:
                p = self._c_lat[(e - 1) & _RMASK]
                q = self._c_lat[e]
                if (p >= 0 and q >= 0) or (p <= 0 and q <= 0):
                    return
            i += 1
        # walking starts; take in up to back_steps earlier steps of the chain
        first = (h - s) & _RMASK
        steps = s
        while steps < self._back + s and steps < c_len - 1:
            if self._regular(first, self._bratio) == 0:
                break
            first = (first - 1) & _RMASK
            steps += 1
        self.walking = 1
        self._last_side = -1
        i = 0
        while i < steps:
            self._emit(
                (first + i) & _RMASK, i > 0, i + 1 < steps, self._c_n[(first + i + 1) & _RMASK]
            )
            i += 1

    @micropython.native
    def update(self, n, acc_up_mg, acc_left_mg, acc_fwd_mg, gyro_up_cdps, obl_mdeg):
        """Feed one sample; returns 1 when a completed step record is ready."""
        if acc_up_mg > _CLAMP:
            acc_up_mg = _CLAMP
        elif acc_up_mg < -_CLAMP:
            acc_up_mg = -_CLAMP
        if acc_fwd_mg > _CLAMP:
            acc_fwd_mg = _CLAMP
        elif acc_fwd_mg < -_CLAMP:
            acc_fwd_mg = -_CLAMP
        if acc_left_mg > _CLAMP:
            acc_left_mg = _CLAMP
        elif acc_left_mg < -_CLAMP:
            acc_left_mg = -_CLAMP
        if gyro_up_cdps > _GCLAMP:
            gyro_up_cdps = _GCLAMP
        elif gyro_up_cdps < -_GCLAMP:
            gyro_up_cdps = -_GCLAMP
        # jerk signal: j = d(n) - d(n - nd), d = low-passed (acc_up - acc_fwd), mg << _SH
        a = self._a
        y1 = self._y1
        y1 += (((acc_up_mg - acc_fwd_mg) << _SH) - y1) * a >> _AQ
        y2 = self._y2
        y2 += (y1 - y2) * a >> _AQ
        self._y1 = y1
        self._y2 = y2
        p = self._rp
        j = y2 - self._ring[p]
        self._ring[p] = y2
        if self._ljq:
            z1 = self._z1
            z1 += ((acc_left_mg << _SH) - z1) * a >> _AQ
            z2 = self._z2
            z2 += (z1 - z2) * a >> _AQ
            self._z1 = z1
            self._z2 = z2
            jl = z2 - self._ring2[p]
            self._ring2[p] = z2
            if jl < 0:
                jl = 0 - jl
            j += (jl * self._ljq) >> 8
        p += 1
        if p >= self._nd:
            p = 0
        self._rp = p
        # current step: lateral sum without the centripetal part, obliquity extremes
        lat = self._lat + acc_left_mg - ((gyro_up_cdps * self._turn_q) >> 16)
        if -_BIG < lat < _BIG:
            self._lat = lat
        if obl_mdeg > self._pos:
            self._pos = obl_mdeg
        if 0 - obl_mdeg > self._neg:
            self._neg = 0 - obl_mdeg
        # candidate: the largest j within win_n samples of crossing the threshold
        if self._win:
            if j > self._pk:
                self._pk = j
                self._pk_n = n
            if self._f_n < 0 and j < self._j1:
                # first local maximum in the window
                self._f_pk = self._j1
                self._f_n = n - 1
            if n - self._win_n0 >= self._win_n:
                self._win = 0
                self._armed = 0
                if self._f_n >= 0 and self._f_pk * 256 >= self._first * self._pk:
                    self._candidate(self._f_n, self._pk)
                else:
                    self._candidate(self._pk_n, self._pk)
        elif self._armed:
            if j > self._thr:
                self._win = 1
                self._win_n0 = n
                self._pk = j
                self._pk_n = n
                self._f_n = -1
        elif j < (self._thr >> 1):
            self._armed = 1
        self._j1 = j
        # no IC for max_step: the walk (or the chain) ends
        if self._c_len > 0 and n - self._c_n[self._c_head] > self._max_n:
            if self.walking:
                self._close()
                self._emit(self._c_head, self._c_len > 1, 0, n)
                self.walking = 0
            self._c_len = 0
        # live stance guess for the rest of the firmware
        if self.walking and self._last_side >= 0:
            self.stance = 1 - self._last_side
        else:
            self.stance = -1
        # hand out one queued record
        r = self._q_r
        if r != self._q_w:
            self.step_ic_n = self._q_ic[r]
            self.step_side = self._q_side[r]
            self.step_drop_mdeg = self._q_drop[r]
            self.step_end_n = self._q_end[r]
            self._q_r = (r + 1) & _RMASK
            return 1
        return 0
