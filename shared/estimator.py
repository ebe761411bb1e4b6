"""Fixed-point attitude estimator: the up vector in the body frame, obliquity and tilt.

Filter: a complementary filter on the gravity (up) vector. The gyroscope rotates the up
vector every sample with a second-order step, u' = u + u x w + ((w.u) w - |w|^2 u) / 2 (the
first-order step alone pulls u toward the plane normal to w at fast rotation: 5.6 deg RMS on
BROAD against 1.7 deg with it); the accelerometer pulls it toward the measured up direction
with a constant gain k = period / tau whenever |a| is within `accel_band_mg` of 1 g. The
gain is deliberately NOT weighted by |a| inside the band: over a gait cycle the linear
acceleration averages to zero only if every phase counts the same (a soft |a| weighting
correlates with gait phase and biased tilt by ~2 deg on synthetic walks). The vector is then
renormalised with one Newton step. Only gravity's two angles are observable, so this is all
the filter carries: no yaw to manage. Gyro bias is learnt while the wearer is still
(Fusion-style offset correction); after a (re)start a larger gain decays linearly to k over
`init_ms` (fast convergence).

Fixed-point formats (all intermediates inside +-2**30, proven by tests/test_range.py):
- raw counts in, sensor axes; `_ra` folds mount/calibration and accel sensitivity, giving the
  body-frame accel in Q12 g (1 g = 4096); `_rg` folds frame and gyro sensitivity x period,
  giving rad per sample in Q28 after `>> _rg_shift`;
- u in Q28 (|u| = 1 -> 2**28); gyro products split the rate into a high part and a 13-bit
  low part, so the rate keeps Q28 resolution while u enters as Q15 (two multiplies each);
- 1/|a| from a 129-entry table (Q14) over |a|^2 in [0.25, 2.25] g^2, interpolated;
- outputs: obliquity and tilt in millidegrees, body accel in mg, yaw rate in cdeg/s.
"""

from array import array

from shared.fixedpoint import atan2_mdeg, hypot_q
from shared.mp import const, micropython

_Q28 = const(268435456)
_Q22 = const(4194304)
_INV_LO_Q22 = const(1048576)  # 0.25 g^2
_INV_HI_Q22 = const(9437184)  # 2.25 g^2
# 355/113: pi to 8.5e-8, keeps the set-up arithmetic in integers.
_PI_NUM = const(355)
_PI_DEN = const(113)


# 1/sqrt(x) for x = 0.25 + i/64 (i = 0..128), Q14: 1/|a| from |a|^2.
_INVSQRT_Q14 = array(
    "i",
    (
        32768,
        31790,
        30894,
        30070,
        29309,
        28602,
        27945,
        27330,
        26755,
        26214,
        25705,
        25225,
        24770,
        24339,
        23930,
        23541,
        23170,
        22817,
        22479,
        22155,
        21845,
        21548,
        21263,
        20988,
        20724,
        20470,
        20225,
        19988,
        19760,
        19539,
        19326,
        19119,
        18919,
        18725,
        18536,
        18354,
        18176,
        18004,
        17837,
        17674,
        17515,
        17361,
        17211,
        17064,
        16921,
        16782,
        16646,
        16514,
        16384,
        16257,
        16134,
        16013,
        15895,
        15779,
        15666,
        15555,
        15447,
        15341,
        15237,
        15135,
        15035,
        14937,
        14841,
        14747,
        14654,
        14564,
        14474,
        14387,
        14301,
        14217,
        14134,
        14052,
        13972,
        13894,
        13816,
        13740,
        13665,
        13592,
        13519,
        13448,
        13377,
        13308,
        13240,
        13173,
        13107,
        13042,
        12978,
        12915,
        12853,
        12791,
        12731,
        12671,
        12612,
        12554,
        12497,
        12441,
        12385,
        12330,
        12276,
        12223,
        12170,
        12118,
        12066,
        12015,
        11965,
        11916,
        11867,
        11818,
        11771,
        11723,
        11677,
        11631,
        11585,
        11540,
        11496,
        11452,
        11408,
        11365,
        11323,
        11281,
        11239,
        11198,
        11158,
        11117,
        11078,
        11038,
        10999,
        10961,
        10923,
    ),
)


class Estimator:
    def __init__(
        self,
        period_us,
        acc_ug_per_lsb=244,
        gyro_udps_per_lsb=70000,
        tau_ms=2000,
        accel_band_mg=500,
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
        # Gains in Q21 of "fraction per sample", below 2**14 (1/128 per sample) so that k times a
        # Q14 difference of two unit vectors (|d| <= 2, 2**15) stays below 2**30.
        self._k_q21 = max(1, min(16383, (2097152 * period_us) // (tau_ms * 1000)))
        self._k_init_q21 = min(16383, self._k_q21 * 20)
        self._init_n = (init_ms * 1000) // period_us
        self._ki_q30 = (self._k_q21 * self._k_q21) >> 15
        # Accel gate: |a| within accel_band_mg of 1 g, as bounds on |a|^2 (Q22 g^2), inside
        # the 1/|a| table's domain [0.25, 2.25).
        lo = (1000 - accel_band_mg) * (1000 - accel_band_mg) * _Q22 // 1000000
        hi = (1000 + accel_band_mg) * (1000 + accel_band_mg) * _Q22 // 1000000
        self._n2_lo = lo if lo > _INV_LO_Q22 else _INV_LO_Q22
        self._n2_hi = hi if hi < _INV_HI_Q22 else _INV_HI_Q22 - 1
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
        self.acc_used = 0  # 1 when the last sample's accelerometer corrected the estimate
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

    @micropython.viper
    def update(self, cx: int, cy: int, cz: int, gx: int, gy: int, gz: int):
        """One sample of raw counts (sensor axes).

        Viper: locals are machine words (every value is proven to stay inside +-2**30, so
        32-bit words never wrap); attributes and array cells are read through int().
        """
        ra = self._ra
        rg = self._rg
        sh = int(self._rg_shift)
        # Body-frame accel, Q12 g.
        ax = (int(ra[0]) * cx + int(ra[1]) * cy + int(ra[2]) * cz + 8192) >> 14
        ay = (int(ra[3]) * cx + int(ra[4]) * cy + int(ra[5]) * cz + 8192) >> 14
        az = (int(ra[6]) * cx + int(ra[7]) * cy + int(ra[8]) * cz + 8192) >> 14
        # Body-frame rate, Q28 rad/sample, bias removed.
        rx = (int(rg[0]) * gx + int(rg[1]) * gy + int(rg[2]) * gz) >> sh
        ry = (int(rg[3]) * gx + int(rg[4]) * gy + int(rg[5]) * gz) >> sh
        rz = (int(rg[6]) * gx + int(rg[7]) * gy + int(rg[8]) * gz) >> sh
        bx = int(self.bx)
        by = int(self.by)
        bz = int(self.bz)
        wx = rx - bx
        wy = ry - by
        wz = rz - bz
        # u x w in Q28: u enters as Q15, w is split into a high part (w >> 13) and a 13-bit
        # low part so the rate keeps its full Q28 resolution. |u| = 1 and |w| < 0.7 rad per
        # sample (3-axis full scale at >= 75 Hz) keep every product below 2**30.
        ux = int(self.ux)
        uy = int(self.uy)
        uz = int(self.uz)
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
        # Second-order term ((w.u) w - |w|^2 u) / 2 with Q15 operands (it is O(w^2)):
        # w.u < 0.7 (Q29 sum), |w|^2 < 0.5 (Q30 sum), both brought to Q14 before the products.
        qx = (wx + 4096) >> 13
        qy = (wy + 4096) >> 13
        qz = (wz + 4096) >> 13
        wu = (qx * ((hx + 1) >> 1) + qy * ((hy + 1) >> 1) + qz * ((hz + 1) >> 1) + 16384) >> 15
        ww = (qx * qx + qy * qy + qz * qz + 32768) >> 16
        ux += (wu * qx - ww * hx + 2) >> 2
        uy += (wu * qy - ww * hy + 2) >> 2
        uz += (wu * qz - ww * hz + 2) >> 2
        # Accelerometer correction while |a| is near 1 g: u += k (a/|a| - u).
        n2 = ((ax + 1) >> 1) * ((ax + 1) >> 1)
        n2 += ((ay + 1) >> 1) * ((ay + 1) >> 1)
        n2 += ((az + 1) >> 1) * ((az + 1) >> 1)  # |a|^2, Q22
        dn = n2 - _Q22
        if dn < 0:
            dn = 0 - dn
        used = 0
        if n2 > int(self._n2_lo) and n2 < int(self._n2_hi):
            used = 1
            k = int(self._k_q21)
            left = int(self.init_left)
            if left > 0:
                k += ((int(self._k_init_q21) - k) * left) // int(self._init_n)
                self.init_left = left - 1
            t = n2 - _INV_LO_Q22
            i = t >> 16
            t0 = int(_INVSQRT_Q14[i])
            inv = t0 + (((int(_INVSQRT_Q14[i + 1]) - t0) * (t & 65535)) >> 16)  # 1/|a|, Q14
            # (Q12 a * Q14 inv) << 2 = unit a in Q28; the difference to u in Q14 times k
            # (Q21, < 2**14) is Q35, >> 7 -> Q28.
            ux += (((((ax * inv) << 2) - ux + 8192) >> 14) * k + 64) >> 7
            uy += (((((ay * inv) << 2) - uy + 8192) >> 14) * k + 64) >> 7
            uz += (((((az * inv) << 2) - uz + 8192) >> 14) * k + 64) >> 7
            # Integral term: the rotation the accelerometer asks for, a x u, is what a gyro
            # bias would leave over; over gait cycles linear acceleration averages out, so
            # a slow integral removes the bias while walking (Mahony). ki = k^2 / 8 (Q30).
            ki = int(self._ki_q30)
            if ki:
                ex = (ax * inv + 2048) >> 12  # unit a, Q14
                ey = (ay * inv + 2048) >> 12
                ez = (az * inv + 2048) >> 12
                hx = (ux + 8192) >> 14
                hy = (uy + 8192) >> 14
                hz = (uz + 8192) >> 14
                # a x u in Q28 (< 2**29), split so ki (Q30, < 2**13) multiplies 14-bit halves.
                e = ey * hz - ez * hy
                bx -= ((e >> 14) * ki + (((e & 16383) * ki) >> 14) + 32768) >> 16
                e = ez * hx - ex * hz
                by -= ((e >> 14) * ki + (((e & 16383) * ki) >> 14) + 32768) >> 16
                e = ex * hy - ey * hx
                bz -= ((e >> 14) * ki + (((e & 16383) * ki) >> 14) + 32768) >> 16
        self.acc_used = used
        # Renormalise: u *= (3 - |u|^2) / 2. c = (1 - |u|^2) / 2 in Q28, split like the rate
        # so u keeps its Q28 resolution even when fast rotation stretches it.
        hx = (ux + 8192) >> 14
        hy = (uy + 8192) >> 14
        hz = (uz + 8192) >> 14
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
        s = int(self._still_q28)
        if (
            wx > 0 - s
            and wx < s
            and wy > 0 - s
            and wy < s
            and wz > 0 - s
            and wz < s
            and dn < int(self._still_band_q22)
        ):
            count = int(self.still_count)
            if count < int(self._still_n):
                self.still_count = count + 1
            else:
                bs = int(self._bias_shift)
                bx += (rx - bx) >> bs
                by += (ry - by) >> bs
                bz += (rz - bz) >> bs
        else:
            self.still_count = 0
        self.bx = bx
        self.by = by
        self.bz = bz
        # Outputs.
        hx = (ux + 8192) >> 14
        hy = (uy + 8192) >> 14
        hz = (uz + 8192) >> 14
        self.obliquity_mdeg = atan2_mdeg(hy, hz)
        self.tilt_mdeg = atan2_mdeg(0 - hx, hypot_q(hy, hz))
        # Linear acceleration (gravity removed), mg: a - u * 1 g.
        self.acc_up_mg = ((((ax * hx + ay * hy + az * hz) >> 12) - 16384) * 1000) >> 14
        self.acc_left_mg = ((ay - (hy >> 2)) * 1000) >> 12
        self.acc_fwd_mg = ((ax - (hx >> 2)) * 1000) >> 12
        yaw = ((wx >> 14) * hx + (wy >> 14) * hy + (wz >> 14) * hz) >> 10
        self.yaw_cdps = (yaw * int(self._yaw_k)) >> int(self._yaw_s)
