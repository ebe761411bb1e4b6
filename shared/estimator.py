"""Fixed-point attitude estimator: the up vector in the body frame, obliquity and tilt.

Filter: a complementary filter on the gravity (up) vector. The gyroscope rotates the up
vector every sample (u' = u + u x w); the accelerometer pulls it toward the measured up
direction with gain k = period / tau, weighted down linearly as |a| leaves 1 g (soft
rejection of linear acceleration); the vector is then renormalised with one Newton step.
Only two attitude angles are observable from gravity, so this is all the filter carries:
12 state-free multiplies for the gyro update instead of a quaternion's 16, and no yaw drift
to manage. Gyro bias is learnt while the wearer is still (Fusion-style offset correction);
after a (re)start a larger gain decays linearly to k over `init_ms` (fast convergence).

Fixed-point formats (all intermediates inside +-2**30, proven by tests/test_range.py):
- raw counts in, sensor axes; `_ra` folds mount/calibration and accel sensitivity, giving the
  body-frame accel in Q12 g (1 g = 4096); `_rg` folds frame and gyro sensitivity x period,
  giving rad per sample in Q28 after `>> _rg_shift`;
- u in Q28 (|u| = 1 -> 2**28); gyro products split the rate into high and low 14-bit halves,
  so the rate keeps Q28 resolution while u enters as Q14 (two multiplies per product);
- outputs: obliquity and tilt in millidegrees, body accel in mg, yaw rate in cdeg/s.
"""

from array import array

from shared.fixedpoint import atan2_mdeg, hypot_q
from shared.mp import const, micropython

_Q28 = const(268435456)
_Q22 = const(4194304)
_THREE_Q22 = const(12582912)
# 355/113: pi to 8.5e-8, keeps the set-up arithmetic in integers.
_PI_NUM = const(355)
_PI_DEN = const(113)


class Estimator:
    def __init__(
        self,
        period_us,
        acc_ug_per_lsb=244,
        gyro_udps_per_lsb=70000,
        tau_ms=2000,
        accel_band_mg=400,
        init_ms=1000,
        still_mdps=3000,
        still_ms=1000,
        still_mg=40,
        bias_tau_ms=1500,
    ):
        self.period_us = period_us
        self._acc_ug = acc_ug_per_lsb
        self._gyro_udps = gyro_udps_per_lsb
        self._ra = array("i", [0] * 9)
        self._rg = array("i", [0] * 9)
        self._rg_shift = 0
        # Gains in Q21 of "fraction per sample"; at most 2**16 (1/32 per sample) so the
        # correction product stays below 2**30.
        self._k_q21 = max(1, min(32767, (2097152 * period_us) // (tau_ms * 1000)))
        self._k_init_q21 = min(32767, self._k_q21 * 20)
        self._init_n = (init_ms * 1000) // period_us
        # Soft accel rejection: weight 1 at |a|^2 = 1 g^2, 0 beyond the band; band in Q22 g^2,
        # a power of two so the weight needs a shift, not a divide.
        band_q22 = (2 * accel_band_mg * _Q22) // 1000
        shift = 0
        while (1 << (shift + 1)) <= band_q22:
            shift += 1
        if shift < 19:
            shift = 19
        self._band_shift = shift  # band = 2**shift in Q22
        self._band = 1 << shift
        # Still detection: rate threshold in Q28 rad/sample, |a|^2 band for still.
        self._still_q28 = self.rate_to_q28(still_mdps)
        self._still_band_q22 = (2 * still_mg * _Q22) // 1000
        self._still_n = (still_ms * 1000) // period_us
        bias_n = (bias_tau_ms * 1000) // period_us
        s = 0
        while (1 << (s + 1)) <= bias_n:
            s += 1
        self._bias_shift = s
        # State (inspectable; read-only for the rest of the firmware).
        self.ux = 0
        self.uy = 0
        self.uz = _Q28
        self.bx = 0  # gyro bias, body frame, Q28 rad/sample
        self.by = 0
        self.bz = 0
        self.still_count = 0
        self.init_left = self._init_n
        # Outputs of the last update.
        self.obliquity_mdeg = 0
        self.tilt_mdeg = 0
        self.acc_up_mg = 0
        self.acc_left_mg = 0
        self.acc_fwd_mg = 0
        self.yaw_cdps = 0
        self.acc_weight_q14 = 0
        self.saturated = 0
        # Yaw rate conversion: Q28 rad/sample -> cdeg/s = v * 18000e6 / (pi * period_us * 2**28).
        # Applied as ((v >> 10) * _yaw_k) >> _yaw_s, with _yaw_k <= 1024 so that the product
        # of a full-scale rate (< 2**20 after the shift) stays below 2**30.
        num = 18000 * 1000000 * _PI_DEN * 1024
        den = _PI_NUM * period_us * _Q28
        ys = 0
        while (num << (ys + 1)) // den <= 1024:
            ys += 1
        self._yaw_k = (num << ys) // den
        self._yaw_s = ys
        self.set_frame_q14(array("i", [16384, 0, 0, 0, 16384, 0, 0, 0, 16384]))

    def rate_to_q28(self, mdps):
        """Angular rate in mdeg/s -> Q28 rad per sample (set-up helper)."""
        return ((mdps * _PI_NUM * self.period_us) << 28) // (180 * _PI_DEN * 1000000000)

    def set_frame_q14(self, r):
        """Body frame rows (Q14, sensor coordinates): folds in the sensor's sensitivities."""
        # accel: Q14 * counts -> Q12 g after >> 14: scale rows by 4096 * ug_per_lsb / 1e6.
        for i in range(9):
            self._ra[i] = (r[i] * 4096 * self._acc_ug + 500000) // 1000000
        # gyro: counts -> rad/sample Q28 = counts * udps * 1e-6 * pi/180 * period_us * 1e-6.
        # Choose the largest shift that keeps |row . counts| < 2**30 at full scale.
        # k28 = udps * pi * period_us * 2**28 / (180 * 1e12)
        num = self._gyro_udps * _PI_NUM * self.period_us
        den = 180 * _PI_DEN
        shift = 0
        while True:
            k = ((num << (28 + shift + 1)) // den) // 1000000000000
            if k * 56756 >= (1 << 30):  # 56756 = sqrt(3) * 32768: full scale on 3 axes
                break
            shift += 1
        k = ((num << (28 + shift)) // den) // 1000000000000
        for i in range(9):
            self._rg[i] = (r[i] * k + 8192) >> 14
        self._rg_shift = shift

    def reset(self, up_x=0, up_y=0, up_z=_Q28):
        """Restart from a known up vector (Q28) with the fast-convergence gain."""
        self.ux = up_x
        self.uy = up_y
        self.uz = up_z
        self.init_left = self._init_n
        self.still_count = 0

    def set_bias_q28(self, bx, by, bz):
        self.bx = bx
        self.by = by
        self.bz = bz

    @micropython.native
    def update(self, cx: int, cy: int, cz: int, gx: int, gy: int, gz: int):
        """One sample of raw counts (sensor axes)."""
        ra = self._ra
        rg = self._rg
        sh = self._rg_shift
        # Body-frame accel, Q12 g.
        ax = (ra[0] * cx + ra[1] * cy + ra[2] * cz + 8192) >> 14
        ay = (ra[3] * cx + ra[4] * cy + ra[5] * cz + 8192) >> 14
        az = (ra[6] * cx + ra[7] * cy + ra[8] * cz + 8192) >> 14
        # Body-frame rate, Q28 rad/sample, bias removed.
        rx = (rg[0] * gx + rg[1] * gy + rg[2] * gz) >> sh
        ry = (rg[3] * gx + rg[4] * gy + rg[5] * gz) >> sh
        rz = (rg[6] * gx + rg[7] * gy + rg[8] * gz) >> sh
        wx = rx - self.bx
        wy = ry - self.by
        wz = rz - self.bz
        # u x w in Q28: u enters as Q15, w is split into a high part (w >> 13) and a 13-bit
        # low part so the rate keeps its full Q28 resolution. |u| = 1 and |w| < 0.7 rad per
        # sample (3-axis full scale at >= 100 Hz) keep every product below 2**30.
        ux = self.ux
        uy = self.uy
        uz = self.uz
        hx = (ux + 4096) >> 13
        hy = (uy + 4096) >> 13
        hz = (uz + 4096) >> 13
        wxh = wx >> 13
        wyh = wy >> 13
        wzh = wz >> 13
        wxl = wx & 8191
        wyl = wy & 8191
        wzl = wz & 8191
        ux += ((hy * wzh - hz * wyh) >> 2) + ((hy * wzl - hz * wyl) >> 15)
        uy += ((hz * wxh - hx * wzh) >> 2) + ((hz * wxl - hx * wzl) >> 15)
        uz += ((hx * wyh - hy * wxh) >> 2) + ((hx * wyl - hy * wxl) >> 15)
        # Accelerometer correction, weighted by how close |a| is to 1 g.
        bx = (ax + 1) >> 1
        by = (ay + 1) >> 1
        bz = (az + 1) >> 1
        n2 = bx * bx + by * by + bz * bz  # |a|^2, Q22
        dn = n2 - _Q22
        if dn < 0:
            dn = -dn
        wt = self._band - dn
        if wt > 0:
            wt = wt >> (self._band_shift - 14)  # Q14 weight; the band is >= 2**19
            k = self._k_q21
            if self.init_left > 0:
                k += ((self._k_init_q21 - k) * self.init_left) // self._init_n
                self.init_left -= 1
            inv = (_THREE_Q22 - n2) >> 9  # 1/|a| to first order, Q14
            # u += k * wt * (a_hat - u): (Q14 diff * Q14 weight) -> Q28, >> 15 -> Q13,
            # * k (Q21, <= 2**16) -> Q34, >> 6 -> Q28. k keeps 12+ bits at any rate.
            ux += ((((((((ax * inv) << 2) - ux + 8192) >> 14) * wt + 8192) >> 14) * k) + 64) >> 7
            uy += ((((((((ay * inv) << 2) - uy + 8192) >> 14) * wt + 8192) >> 14) * k) + 64) >> 7
            uz += ((((((((az * inv) << 2) - uz + 8192) >> 14) * wt + 8192) >> 14) * k) + 64) >> 7
        else:
            wt = 0
        self.acc_weight_q14 = wt
        # Renormalise: u *= (3 - |u|^2) / 2.
        hx = (ux + 8192) >> 14
        hy = (uy + 8192) >> 14
        hz = (uz + 8192) >> 14
        # c = (1 - |u|^2) / 2 in Q28; split like the rate so u keeps its Q28 resolution
        # even when fast rotation stretches it by a few parts per thousand per sample.
        c = (_Q28 - (hx * hx + hy * hy + hz * hz)) >> 1
        ch = c >> 14
        cl = c & 16383
        ux += hx * ch + ((hx * cl) >> 14)
        uy += hy * ch + ((hy * cl) >> 14)
        uz += hz * ch + ((hz * cl) >> 14)
        self.ux = ux
        self.uy = uy
        self.uz = uz
        # Still: slow rates and |a| near 1 g for still_ms -> learn the gyro bias.
        s = self._still_q28
        if -s < wx < s and -s < wy < s and -s < wz < s and dn < self._still_band_q22:
            if self.still_count < self._still_n:
                self.still_count += 1
            else:
                bs = self._bias_shift
                self.bx += (rx - self.bx) >> bs
                self.by += (ry - self.by) >> bs
                self.bz += (rz - self.bz) >> bs
        else:
            self.still_count = 0
        # Outputs.
        hx = (ux + 8192) >> 14
        hy = (uy + 8192) >> 14
        hz = (uz + 8192) >> 14
        self.obliquity_mdeg = atan2_mdeg(hy, hz)
        self.tilt_mdeg = atan2_mdeg(-hx, hypot_q(hy, hz))
        # Linear acceleration (gravity removed), mg: a - u * 1 g.
        self.acc_up_mg = ((((ax * hx + ay * hy + az * hz) >> 12) - 16384) * 1000) >> 14
        self.acc_left_mg = ((ay - (hy >> 2)) * 1000) >> 12
        self.acc_fwd_mg = ((ax - (hx >> 2)) * 1000) >> 12
        self.yaw_cdps = (
            (((wx >> 14) * hx + (wy >> 14) * hy + (wz >> 14) * hz) >> 10) * self._yaw_k
        ) >> self._yaw_s
