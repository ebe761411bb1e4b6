"""The firmware loop: one `tick()` per IMU sample, bounded work between samples.

The board (real or simulated) fills `board.imu` (raw counts: ax ay az gx gy gz, sensor axes)
and `board.dt_us` (time since the previous sample) before each tick, and sets `board.late`
when the sample was read after its deadline. The app counts missed samples from the time
gaps, so sample indices stay on the true time grid.
"""

import sys
from array import array

from shared import cue as _cue_mod
from shared import estimator, fromconfig
from shared import steps as _steps_mod
from shared.calib import CAL_DONE, CAL_FAILED
from shared.cue import CueDetector
from shared.estimator import Estimator
from shared.exercise import Exercise
from shared.mount import MountError, calibrated_frame_q14, mount_frame_q14, parse_mount
from shared.mp import const, micropython
from shared.slstest import SlsTest
from shared.steps import StepDetector

if sys.implementation.name != "micropython":
    from shared.mp import ptr16, ptr32  # viper's pointer casts (builtins there)

ST_CALIBRATING = const(0)
ST_RUNNING = const(1)

_RING = const(32)  # completed steps held until the between-sample work takes them
_RING_MASK = const(31)
_FIRES = const(8)  # recent cues kept to tell which step each belongs to
_FIRE_MASK = const(7)

# A cue this long before a step's detected initial contact is still that step's (when its
# side matches): the detected contact lags the true one (shared/steps.py ic_lag_ms, the jerk
# filter), and a cue can fire 10-20 ms before it; running, the drop peaks within 70 ms of
# heel strike and the cue fires 60 ms after it, up to 140 ms before the detected contact
# (issue 14: sim/running.py, cue sensitivity 0.49 at 50 ms, 0.985 at 150 ms).
CREDIT_EARLY_MS = 150

FAULT_CAL_FAILED = const(1)
FAULT_STEP_OVERFLOW = const(2)

# Events for the between-sample work (device/main.py run()): bits in `cells[CELL_EV]`, set
# here (a step went on the ring, a cue fired, `faults` changed) and by the services (a host
# request was handled: EV_HOST), cleared by the loop once it has run the log service. The
# loop reads the cell and the sample index (`cells[CELL_N]`) instead of calling the services
# on every sample.
EV_STEP = const(1)
EV_CUE = const(2)
EV_FAULT = const(4)
EV_HOST = const(8)

# tick() is viper: its own per-sample state lives in the int32 array `_t`, and it reads the
# estimator's outputs from the estimator's cells, both through ptr32 (one machine load each,
# against hundreds of instructions per attribute lookup). Cells that may be negative are
# sign-corrected as shared/estimator.py explains.
_M30 = const(0x3FFFFFFF)
_B29 = const(0x20000000)
_T_N = const(0)  # index of the current sample on the time grid
_T_PERIOD = const(1)
_T_FIRST = const(2)  # 1 until the first tick
_T_WALK_ONLY = const(3)  # cue only while walking
_T_MOTOR = const(4)  # the motor state last sent to the board
# Data-quality gates (issue #7): a limit or a length in samples (0: off) and a countdown.
_T_TURN_CDPS = const(5)  # |yaw rate| limit, cdeg/s
_T_TURN_HOLD = const(6)
_T_TURN_LEFT = const(7)
_T_SAT_N = const(8)
_T_SAT_LEFT = const(9)
_T_GAP_N = const(10)  # missed samples that make a long gap
_T_SETTLE_N = const(11)
_T_GAP_LEFT = const(12)
_T_SLS = const(13)  # 1: a single-leg stance test (self.sls) drives the motor
_T_EV = const(14)  # EV_* bits: what happened since the between-sample work last looked
_T_TILT_MDEG = const(15)  # |tilt| limit, mdeg (0: off)
_T_YAW_LP = const(16)  # low-passed yaw rate, cdeg/s << 4
_T_YAW_K = const(17)  # its shift: 2**k samples ~ turn_tau_ms (0: the raw rate)
_T_EX = const(18)  # 1: an exercise set (self.ex, shared/exercise.py) drives the motor
_T_SGATE = const(19)  # turn/tilt gate bits seen since the last step was reported (issue 16)
_T_NCELLS = const(20)
CELL_N = _T_N
CELL_EV = _T_EV
# Gate reasons (shared/cue.py GATE_*) and the cue's gate cell.
_G_INIT = const(1)
_G_WALK = const(2)
_G_TURN = const(4)
_G_SAT = const(8)
_G_GAP = const(16)
_G_TILT = const(64)
_C_GATE = const(14)
if (_G_INIT, _G_WALK, _G_TURN, _G_SAT, _G_GAP, _G_TILT, _C_GATE) != (
    _cue_mod.GATE_INIT,
    _cue_mod.GATE_WALK,
    _cue_mod.GATE_TURN,
    _cue_mod.GATE_SAT,
    _cue_mod.GATE_GAP,
    _cue_mod.GATE_TILT,
    _cue_mod.CELL_GATE,
):
    raise ImportError("device/app.py: the cue detector's gate cells moved")
# Estimator cells read per sample (viper indexes need this module's own constants).
_E_INIT_LEFT = const(38)
_E_OBL = const(39)
_E_TILT = const(40)
_E_UP = const(41)
_E_LEFT = const(42)
_E_FWD = const(43)
_E_YAW = const(44)
if (_E_INIT_LEFT, _E_OBL, _E_TILT, _E_UP, _E_LEFT, _E_FWD, _E_YAW) != (
    estimator.CELL_INIT_LEFT,
    estimator.CELL_OBL,
    estimator.CELL_TILT,
    estimator.CELL_UP,
    estimator.CELL_LEFT,
    estimator.CELL_FWD,
    estimator.CELL_YAW,
):
    raise ImportError("device/app.py: the estimator's cells moved")

# Step detector input cells (StepDetector._step reads them; shared/steps.py CELL_*).
_S_UP = const(35)
_S_LEFT = const(36)
_S_FWD = const(37)
_S_OBL = const(38)
_S_WALKING = const(32)
if (_S_UP, _S_LEFT, _S_FWD, _S_OBL, _S_WALKING) != (
    _steps_mod.CELL_UP,
    _steps_mod.CELL_LEFT,
    _steps_mod.CELL_FWD,
    _steps_mod.CELL_OBL,
    _steps_mod.CELL_WALKING,
):
    raise ImportError("device/app.py: the step detector's cells moved")

# tick() calls these as functions: a method call makes MicroPython search the class dict
# first, which costs about as much again as the call itself.
_est_update = Estimator.update
_steps_step = StepDetector._step  # StepDetector.update on its input cells (viper)
_cue_update = CueDetector.update
_cue_note_step = CueDetector.note_step
_sls_update = SlsTest.update
_ex_update = Exercise.update


class App:
    def __init__(self, board, cfg, calibrate=True, period_us=0):
        self.board = board
        self.cfg = cfg
        if period_us <= 0:
            period_us = (1000000 + cfg["rate_hz"] // 2) // cfg["rate_hz"]
        self.period_us = period_us
        self.axes = parse_mount(cfg["mount"])
        self.est = fromconfig.estimator(cfg, period_us)
        self.est.set_frame_q14(mount_frame_q14(self.axes))
        self.steps = fromconfig.step_detector(cfg, period_us)
        self.cue = fromconfig.cue_detector(cfg, period_us)
        self.cal = fromconfig.calibrator(cfg, period_us)
        self._t = t = array("i", [0] * _T_NCELLS)
        self.cells = t  # read by the loop: CELL_N (sample index), CELL_EV (EV_* bits)
        t[_T_N] = -1
        t[_T_PERIOD] = period_us
        t[_T_FIRST] = 1
        t[_T_WALK_ONLY] = cfg["cue_walking_only"]
        t[_T_TURN_CDPS] = cfg["turn_gate_dps"] // 10  # mdeg/s -> cdeg/s
        t[_T_TURN_HOLD] = self._ms_to_n(cfg["turn_hold_ms"])
        t[_T_TILT_MDEG] = cfg["tilt_gate_deg"]
        k = 0
        while k < 12 and (period_us << (k + 1)) <= cfg["turn_tau_ms"] * 1414:
            k += 1  # 2**k samples nearest turn_tau_ms (a factor sqrt 2 either side)
        t[_T_YAW_K] = k
        t[_T_SAT_N] = self._ms_to_n(cfg["sat_gate_ms"])
        gap_ms = cfg["gap_gate_ms"]
        t[_T_GAP_N] = max(1, self._ms_to_n(gap_ms)) if gap_ms > 0 else 0
        t[_T_SETTLE_N] = self._ms_to_n(cfg["gap_settle_ms"])
        self.calibrate = calibrate
        self.state = ST_CALIBRATING if calibrate else ST_RUNNING
        self.calibrated = 0
        self.cal_error = ""  # why calibration failed, when it did
        self.faults = 0
        self.n = -1  # index of the current sample on the time grid (a copy of the cell)
        self.missed = 0
        self.late = 0
        self.motor_on = 0
        self.obliquity_mdeg = 0
        self.tilt_mdeg = 0
        self._last_fire_n = -1
        self._early_n = self._ms_to_n(CREDIT_EARLY_MS)
        self._fire_n = array("i", [0] * _FIRES)
        self._fire_drop_side = array("i", [0] * _FIRES)
        self._fire_head = 0
        self.ring_ic = array("i", [0] * _RING)
        self.ring_end = array("i", [0] * _RING)
        self.ring_stance = array("i", [0] * _RING)
        self.ring_drop = array("i", [0] * _RING)
        self.ring_cued = array("i", [0] * _RING)
        self.ring_probe = array("i", [0] * _RING)  # 1: the step was in a feedback-off probe
        # the turn (GATE_TURN) and tilt (GATE_TILT) gate bits seen during the step: 0 = level
        # straight walking (the progress view averages only those steps)
        self.ring_gated = array("i", [0] * _RING)
        self.ring_head = 0  # steps written
        self.ring_tail = 0  # steps taken
        self.steps_lost = 0
        self.sls = None  # a running single-leg stance test (shared/slstest.py): drives the motor
        # config mode an exercise: its set (shared/exercise.py) drives the motor; None: walking
        self.ex = fromconfig.exercise(cfg, period_us)
        t[_T_EX] = 0 if self.ex is None else 1

    # -- one-off transitions (not per sample) ------------------------------------------
    def _ms_to_n(self, ms):
        return (ms * 1000 + self.period_us // 2) // self.period_us

    def feedback_counters(self):
        """Suppressed and withheld cues and probe steps: {name: count} (shared/cue.py)."""
        values = self.cue.counters()
        out = {}
        for k in range(len(values)):
            out[_cue_mod.COUNTER_NAMES[k]] = values[k]
        return out

    def start_sls(self, side_s=30, rest_s=10, impact_mg=250):
        """Start a guided single-leg stance test: from the next sample the motor follows the
        test's signals (cues are not felt until it ends); returns the SlsTest."""
        t = self.sls
        if t is None:
            t = SlsTest(self.period_us, side_s, rest_s, impact_mg)
        else:
            t.configure(side_s, rest_s, impact_mg)
        t.start()
        self.sls = t
        self._t[_T_SLS] = 1
        return t

    def stop_sls(self):
        """Give the motor back to the cues (the test's results stay in self.sls)."""
        self._t[_T_SLS] = 0

    def start_exercise(self, cfg=None):
        """Start an exercise set as cfg (default: the app's config) sets it (mode, ex_*):
        from the next sample the set drives the motor; returns the Exercise, or None when
        cfg's mode is walk (the set stops)."""
        self.ex = fromconfig.exercise(cfg if cfg is not None else self.cfg, self.period_us)
        self._t[_T_EX] = 0 if self.ex is None else 1
        if self.ex is not None:
            self.est.set_still_mdps(0)  # as fromconfig.estimator in exercise mode
        return self.ex

    def stop_exercise(self):
        """Give the motor back to the walking cue (the set's figures stay in self.ex)."""
        self._t[_T_EX] = 0
        cfg = self.cfg
        self.est.set_still_mdps(cfg["still_dps"] if cfg["mode"] == "walk" else 0)

    def _start_uncalibrated(self, s):
        """--no-calibrate: start from the first accelerometer reading (fast convergence)."""
        est = self.est
        ra = est._ra
        v = [0, 0, 0]
        for r in range(3):
            v[r] = (ra[3 * r] * s[0] + ra[3 * r + 1] * s[1] + ra[3 * r + 2] * s[2]) >> 14
        from shared.fixedpoint import isqrt

        n = isqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
        if n > 0:
            est.reset((v[0] << 16) // n << 12, (v[1] << 16) // n << 12, (v[2] << 16) // n << 12)
        else:
            est.reset()

    def _finish_calibration(self):
        cal = self.cal
        n = cal.count
        sums = cal.sums
        try:
            frame = calibrated_frame_q14(self.axes, sums)
        except MountError as e:
            # The mount says forward is (nearly) up, or the sensor reads zero: keep running in
            # the mount's frame and report why, rather than stop the loop.
            self.cal_error = str(e)
            self._fail_calibration()
            return
        est = self.est
        est.set_frame_q14(frame)
        # Bias: the still window's mean rate, rotated into the new body frame.
        rg = est._rg
        sh = est._rg_shift
        b = [0, 0, 0]
        for r in range(3):
            acc = rg[3 * r] * sums[3] + rg[3 * r + 1] * sums[4] + rg[3 * r + 2] * sums[5]
            b[r] = (acc >> sh) // n
        est.set_bias_q28(b[0], b[1], b[2])
        est.reset()
        self.calibrated = 1
        self.state = ST_RUNNING

    def apply_calibration(self, frame_q14, gyro_frame, bias_q28):
        """Run in a calibration recorded earlier (a session header's `calibration`: the
        estimator's folded accel and gyro rows and its bias), as the device ran: for replays
        of a raw capture that started after the device had calibrated."""
        est = self.est
        for i in range(9):
            est._ra[i] = frame_q14[i]
            est._rg[i] = gyro_frame[i]
        est.set_bias_q28(bias_q28[0], bias_q28[1], bias_q28[2])
        est.reset()
        self.calibrated = 1
        self.state = ST_RUNNING

    def _fail_calibration(self):
        # Keep going in the mount's frame: cues still work, and the fault is reported.
        self.faults |= FAULT_CAL_FAILED
        self.state = ST_RUNNING
        self._t[_T_EV] |= EV_FAULT

    def may_wait(self):
        """1 if nothing the app runs needs samples while the wearer is still: not
        calibrating, no single-leg stance test, no exercise set (the board may then wait for
        motion, device/main.py)."""
        t = self._t
        if int(self.state) == ST_CALIBRATING or t[_T_SLS] or t[_T_EX]:
            return 0
        return 1

    def resumed(self):
        """Sampling again after the board waited for motion: the estimate is as stale as
        after a long gap, so the cues wait out the same settling (gap_settle_ms); the wait
        is not counted as missed samples (the board stamps it as one period)."""
        t = self._t
        t[_T_GAP_LEFT] = t[_T_SETTLE_N] + 1

    def wake(self, bits):
        """Note events for the between-sample work (EV_* bits), e.g. EV_HOST."""
        self._t[_T_EV] |= bits

    def run(self):
        """The firmware loop: one tick per sample until the board has no more samples."""
        board = self.board
        while board.next_sample():
            self.tick()
            self.idle()

    def idle(self):
        """Between-sample work, bounded: hand completed steps on (logging comes later)."""
        while self.ring_tail != self.ring_head:
            self.ring_tail += 1

    # -- per sample ------------------------------------------------------------------
    @micropython.viper
    def tick(self):
        t = ptr32(self._t)
        b = self.board
        p = t[_T_PERIOD]
        dt = int(b.dt_us)
        n = (t[_T_N] & _M30) - (t[_T_N] >> 1 & _B29) - (t[_T_N] >> 1 & _B29)
        if dt > p + (p >> 1) and n >= 0:
            k = (dt + (p >> 1)) // p - 1
            self.missed = int(self.missed) + k
            n += k
            if t[_T_GAP_N] > 0 and k >= t[_T_GAP_N]:
                t[_T_GAP_LEFT] = t[_T_SETTLE_N] + 1
        n += 1
        t[_T_N] = n
        self.n = n
        if b.late:
            self.late = int(self.late) + 1
        s = b.imu
        if t[_T_FIRST]:
            t[_T_FIRST] = 0
            if not self.calibrate:
                self._start_uncalibrated(s)
        est = self.est
        _est_update(est, s)
        e = ptr32(est._s)
        obl = (e[_E_OBL] & _M30) - (e[_E_OBL] >> 1 & _B29) - (e[_E_OBL] >> 1 & _B29)
        motor = 0
        if int(self.state) == ST_CALIBRATING:
            r = int(self.cal.update(s))
            if r == int(CAL_DONE):
                self._finish_calibration()
            elif r == int(CAL_FAILED):
                self._fail_calibration()
        else:
            st = self.steps
            yaw = (e[_E_YAW] & _M30) - (e[_E_YAW] >> 1 & _B29) - (e[_E_YAW] >> 1 & _B29)
            # Tilt gate: bent over (or reclined) the obliquity is no pelvic drop (a small
            # sideways lean reads as tens of degrees): no cue, and the step's drop skips it.
            tilt = (e[_E_TILT] & _M30) - (e[_E_TILT] >> 1 & _B29) - (e[_E_TILT] >> 1 & _B29)
            lim = t[_T_TILT_MDEG]
            tilted = 0
            if lim > 0 and (tilt > lim or tilt < 0 - lim):
                tilted = 1
            # the step detector's inputs go to its cells (a viper call takes 4 arguments
            # at most, and each boxed argument costs more than a store); int32 cell to int32
            # cell, so the raw bits are copied
            sv = ptr32(st._v)
            sv[_S_UP] = e[_E_UP]
            sv[_S_LEFT] = e[_E_LEFT]
            sv[_S_FWD] = e[_E_FWD]
            sv[_S_OBL] = 0 if tilted else obl
            if _steps_step(st, n):
                self._push_step()
            # Data-quality gates: the reasons a cue may not fire on this sample.
            gate = 0
            if e[_E_INIT_LEFT] != 0:
                gate = _G_INIT
            if t[_T_WALK_ONLY] and not sv[_S_WALKING]:
                gate |= _G_WALK
            if tilted:
                gate |= _G_TILT
            # Turn gate on the yaw rate low-passed over turn_tau_ms: a turn is a sustained
            # rate; the stride's own yaw swing (up to 116 deg/s in straight walking) is not.
            ylp = (t[_T_YAW_LP] & _M30) - (t[_T_YAW_LP] >> 1 & _B29) - (t[_T_YAW_LP] >> 1 & _B29)
            ylp += ((yaw << 4) - ylp) >> t[_T_YAW_K]
            t[_T_YAW_LP] = ylp
            yaw = ylp >> 4
            lim = t[_T_TURN_CDPS]
            if lim > 0 and (yaw > lim or yaw < 0 - lim):
                t[_T_TURN_LEFT] = t[_T_TURN_HOLD] + 1
            if t[_T_TURN_LEFT] > 0:
                t[_T_TURN_LEFT] -= 1
                gate |= _G_TURN
            if t[_T_SAT_N] > 0:
                # ptr16 reads are unsigned on MicroPython (-32768 reads 32768), signed here
                q = ptr16(s)
                j = 0
                while j < 6:
                    v = q[j]
                    if v == 32767 or v == 32768 or v == -32768:
                        t[_T_SAT_LEFT] = t[_T_SAT_N] + 1
                    j += 1
                if t[_T_SAT_LEFT] > 0:
                    t[_T_SAT_LEFT] -= 1
                    gate |= _G_SAT
            if t[_T_GAP_LEFT] > 0:
                t[_T_GAP_LEFT] -= 1
                gate |= _G_GAP
            t[_T_SGATE] |= gate & (_G_TURN | _G_TILT)
            cue = self.cue
            ptr32(cue._s)[_C_GATE] = gate
            motor = int(_cue_update(cue, obl, 1 if gate == 0 else 0))
            if cue.fired:
                self._note_fire(n)
            if t[_T_EX]:
                motor = int(
                    _ex_update(
                        self.ex,  # type: ignore[arg-type]  # set whenever _T_EX is
                        n,
                        obl,
                        (e[_E_TILT] & _M30) - (e[_E_TILT] >> 1 & _B29) - (e[_E_TILT] >> 1 & _B29),
                    )
                )
        if t[_T_SLS]:
            motor = int(
                _sls_update(
                    self.sls,  # type: ignore[arg-type]  # set whenever _T_SLS is
                    obl,
                    (e[_E_UP] & _M30) - (e[_E_UP] >> 1 & _B29) - (e[_E_UP] >> 1 & _B29),
                )
            )
        self.obliquity_mdeg = obl
        self.tilt_mdeg = (e[_E_TILT] & _M30) - (e[_E_TILT] >> 1 & _B29) - (e[_E_TILT] >> 1 & _B29)
        if motor != t[_T_MOTOR]:
            t[_T_MOTOR] = motor
            self.motor_on = motor
            b.motor(motor)

    @micropython.native
    def _note_fire(self, n: int):
        """Remember a cue (sample index, side that dropped) until its step is reported."""
        self._last_fire_n = n
        self._t[_T_EV] |= EV_CUE
        k = self._fire_head & _FIRE_MASK
        self._fire_n[k] = n
        self._fire_drop_side[k] = self.cue.drop_side
        self._fire_head += 1

    @micropython.native
    def _push_step(self):
        st = self.steps
        if self.ring_head - self.ring_tail >= _RING:
            self.steps_lost += 1
            self.faults |= FAULT_STEP_OVERFLOW
            self._t[_T_EV] |= EV_FAULT
            return
        i = self.ring_head & _RING_MASK
        self.ring_ic[i] = st.step_ic_n
        self.ring_end[i] = st.step_end_n
        self.ring_stance[i] = st.step_stance
        self.ring_drop[i] = st.step_drop_mdeg
        # Cued (spec: 1 if that step triggered a cue): a cue fired for the swing side's drop
        # during this stance, or up to CREDIT_EARLY_MS before its detected initial contact
        # (the drop starts at the true contact; the detector reports it a little later). The
        # side keeps the previous stance, whose window that is, from taking it.
        drop_side = 1 - st.step_stance  # the swing side (shared/sides.py), as cue.drop_side
        cued = 0
        k = self._fire_head
        j = 0
        first = st.step_ic_n - self._early_n
        while j < _FIRES and k > 0:
            k -= 1
            m = k & _FIRE_MASK
            f = self._fire_n[m]
            if f < first:
                break
            if f <= st.step_end_n and self._fire_drop_side[m] == drop_side:
                cued = 1
            j += 1
        self.ring_cued[i] = cued
        self.ring_probe[i] = _cue_note_step(self.cue, drop_side, st.step_drop_mdeg)
        self.ring_gated[i] = self._t[_T_SGATE]
        self._t[_T_SGATE] = 0
        # stride-aware refractory (shared/cue.py note_stride): the last stride, two intervals
        self.cue.note_stride(2 * st._int_n if st._v[_S_WALKING] else 0)
        self.ring_head += 1
        self._t[_T_EV] |= EV_STEP


def end_steps(app):
    """The sample stream ends (a replayed recording's last sample): the step detector's chain
    ends as it would max_step_ms later without another contact (shared/steps.py finish), so the
    walk's last steps reach the step ring. Not per-sample work. A function, not an App method:
    as a method it made every tick dearer (bench section 2: 27103 against 26852 x86
    instructions per sample; MicroPython's attribute lookups depend on the class dict)."""
    st = app.steps
    st.finish(app.n)
    while st.pop():
        app._push_step()
