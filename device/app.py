"""The firmware loop: one `tick()` per IMU sample, bounded work between samples.

The board (real or simulated) fills `board.imu` (raw counts: ax ay az gx gy gz, sensor axes)
and `board.dt_us` (time since the previous sample) before each tick, and sets `board.late`
when the sample was read after its deadline. The app counts missed samples from the time
gaps, so sample indices stay on the true time grid.
"""

from array import array

from shared.calib import CAL_DONE, CAL_FAILED, Calibrator
from shared.config import IMUS
from shared.cue import CueDetector
from shared.estimator import Estimator
from shared.mount import MountError, calibrated_frame_q14, mount_frame_q14, parse_mount
from shared.mp import const, micropython
from shared.steps import StepDetector

ST_CALIBRATING = const(0)
ST_RUNNING = const(1)

_RING = const(32)  # completed steps held until the between-sample work takes them
_RING_MASK = const(31)

FAULT_CAL_FAILED = const(1)
FAULT_STEP_OVERFLOW = const(2)


class App:
    def __init__(self, board, cfg, calibrate=True, period_us=0):
        self.board = board
        self.cfg = cfg
        if period_us <= 0:
            period_us = (1000000 + cfg["rate_hz"] // 2) // cfg["rate_hz"]
        self.period_us = period_us
        acc_ug, gyro_udps = IMUS[cfg["imu"]]
        self.axes = parse_mount(cfg["mount"])
        still_mdps = cfg["still_dps"]
        self.est = Estimator(
            period_us,
            acc_ug,
            gyro_udps,
            tau_ms=cfg["filter_tau_ms"],
            accel_band_mg=cfg["accel_band_mg"],
            init_ms=cfg["init_ms"],
            still_mdps=still_mdps,
            still_mg=cfg["still_mg"],
        )
        self.est.set_frame_q14(mount_frame_q14(self.axes))
        self.steps = StepDetector(period_us, cfg["min_step_ms"], cfg["max_step_ms"])
        self.cue = CueDetector(
            period_us,
            cfg["threshold_deg"],
            cfg["hysteresis_deg"],
            cfg["dwell_ms"],
            cfg["refractory_ms"],
            cfg["cue_ms"],
        )
        self.cal = Calibrator(
            period_us,
            acc_ug,
            gyro_udps,
            cfg["cal_still_ms"],
            cfg["cal_window_ms"],
            still_mdps,
            cfg["still_mg"],
        )
        self._walking_only = cfg["cue_walking_only"]
        self.calibrate = calibrate
        self.state = ST_CALIBRATING if calibrate else ST_RUNNING
        self.calibrated = 0
        self.cal_error = ""  # why calibration failed, when it did
        self.faults = 0
        self.n = -1  # index of the current sample on the time grid
        self.missed = 0
        self.late = 0
        self.motor_on = 0
        self.obliquity_mdeg = 0
        self.tilt_mdeg = 0
        self._first = 1
        self._last_fire_n = -1
        self.ring_ic = array("i", [0] * _RING)
        self.ring_end = array("i", [0] * _RING)
        self.ring_side = array("i", [0] * _RING)
        self.ring_drop = array("i", [0] * _RING)
        self.ring_cued = array("i", [0] * _RING)
        self.ring_head = 0  # steps written
        self.ring_tail = 0  # steps taken
        self.steps_lost = 0

    # -- one-off transitions (not per sample) ------------------------------------------
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

    def _fail_calibration(self):
        # Keep going in the mount's frame: cues still work, and the fault is reported.
        self.faults |= FAULT_CAL_FAILED
        self.state = ST_RUNNING

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
    @micropython.native
    def tick(self):
        b = self.board
        s = b.imu
        p = self.period_us
        dt = b.dt_us
        if dt > p + (p >> 1) and self.n >= 0:
            k = (dt + (p >> 1)) // p - 1
            self.missed += k
            self.n += k
        self.n += 1
        if b.late:
            self.late += 1
        if self._first:
            self._first = 0
            if not self.calibrate:
                self._start_uncalibrated(s)
        est = self.est
        est.update(s[0], s[1], s[2], s[3], s[4], s[5])
        motor = 0
        if self.state == ST_CALIBRATING:
            r = self.cal.update(s)
            if r == CAL_DONE:
                self._finish_calibration()
            elif r == CAL_FAILED:
                self._fail_calibration()
        else:
            st = self.steps
            if st.update(
                self.n,
                est.acc_up_mg,
                est.acc_left_mg,
                est.acc_fwd_mg,
                est.yaw_cdps,
                est.obliquity_mdeg,
            ):
                self._push_step()
            enabled = est.init_left == 0
            if self._walking_only and not st.walking:
                enabled = 0
            cue = self.cue
            motor = cue.update(est.obliquity_mdeg, enabled)
            if cue.fired:
                self._last_fire_n = self.n
        self.obliquity_mdeg = est.obliquity_mdeg
        self.tilt_mdeg = est.tilt_mdeg
        if motor != self.motor_on:
            self.motor_on = motor
            b.motor(motor)

    @micropython.native
    def _push_step(self):
        st = self.steps
        if self.ring_head - self.ring_tail >= _RING:
            self.steps_lost += 1
            self.faults |= FAULT_STEP_OVERFLOW
            return
        i = self.ring_head & _RING_MASK
        self.ring_ic[i] = st.step_ic_n
        self.ring_end[i] = st.step_end_n
        self.ring_side[i] = st.step_side
        self.ring_drop[i] = st.step_drop_mdeg
        f = self._last_fire_n
        self.ring_cued[i] = 1 if (f >= st.step_ic_n and f <= st.step_end_n) else 0
        self.ring_head += 1
