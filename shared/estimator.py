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

Per sample, `update` is viper (machine-word locals, no runtime call per operation) and all
set-up values, state and outputs live in one int32 array `_s`, read through ptr32: one machine
load, where an attribute lookup costs MicroPython some hundreds of instructions. ptr32 reads
are unsigned on 64-bit ports (-5 reads as 2**32 - 5) and signed on 32-bit ones. Every cell
holds a value in [-2**30, 2**30), whose sign is bit 30, so a cell c that may be negative is
read as
    (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
which is exact on both and under CPython (where the array is indexed directly and reads are
signed), with every intermediate inside +-2**30.
"""

import sys
from array import array

from shared.fixedpoint import _ATAN_Q4MDEG, _SEC_Q14
from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr16, ptr32  # viper's pointer casts (builtins there)

_Q28 = const(268435456)
_Q22 = const(4194304)
_INV_LO_Q22 = const(1048576)  # 0.25 g^2
_INV_HI_Q22 = const(9437184)  # 2.25 g^2
# 355/113: pi to 8.5e-8, keeps the set-up arithmetic in integers.
_PI_NUM = const(355)
_PI_DEN = const(113)
_M30 = const(0x3FFFFFFF)  # for sign-correct ptr32 reads (module docstring)
_B29 = const(0x20000000)
_R27 = const(134217728)  # 2**27: rounds a >> 28
_WMAX = const(107374182)
_Q4_90DEG = const(1440000)  # shared/fixedpoint.py's atan table units: 1/16 mdeg
_Q4_180DEG = const(2880000)  # 0.4 rad per sample, Q28: the rate limit of the propagation

# Cells of Estimator._s. Set-up (written by the set-up methods):
_RA = const(0)  # 9: accel rows, raw counts -> Q12 g (after >> 14)
_RG = const(9)  # 9: gyro rows, raw counts -> Q28 rad/sample (after >> _RG_SHIFT)
_RG_SHIFT = const(18)
_N2_LO = const(19)  # accel gate, |a|^2 in Q22 g^2
_N2_HI = const(20)
_K = const(21)  # gain, Q21 per sample
_K_INIT = const(22)  # fast-convergence gain at a (re)start
_INIT_N = const(23)
_KI = const(24)  # integral gain, Q30
_STILL_G = const(25)  # still: every raw gyro axis within this many counts of zero
_STILL_A_LO = const(26)  # still: raw |a|^2 (counts/2 squared) inside [lo, hi]
_STILL_N = const(27)
_BIAS_SHIFT = const(28)
_YAW_K = const(29)
_YAW_S = const(30)
# State:
_UX = const(31)  # up vector, Q28
_UY = const(32)
_UZ = const(33)
_BX = const(34)  # gyro bias, body frame, Q28 rad/sample
_BY = const(35)
_BZ = const(36)
_STILL_COUNT = const(37)
# Public: the cells device/app.py reads per sample (its own constants mirror these).
CELL_INIT_LEFT = const(38)  # samples left of the fast-convergence gain
CELL_OBL = const(39)  # outputs of the last update: obliquity, mdeg
CELL_TILT = const(40)  # mdeg
CELL_UP = const(41)  # linear acceleration, mg: up, left, forward
CELL_LEFT = const(42)
CELL_FWD = const(43)
CELL_YAW = const(44)  # yaw rate, cdeg/s
_ACC_USED = const(45)
_INVSQRT = const(46)  # 129: a copy of _INVSQRT_Q14 (read without a global lookup)
_STILL_A_HI = const(175)
_ALX = const(176)  # low-passed body accel for the correction, Q18 g, within +-4 g
_ALY = const(177)
_ALZ = const(178)
_AL_K = const(179)  # its shift: 2**k samples ~ accel_lp_ms (0: no low-pass)
_AL_INIT = const(180)  # 1: start the low-pass from the next sample
_NCELLS = const(181)


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


def _cell(k):
    """A read-only attribute for one cell of `_s` (inspection; not used per sample)."""
    return property(lambda self: self._s[k])


class Estimator:
    # State and outputs, read from the cells (see the layout above).
    ux = _cell(_UX)
    uy = _cell(_UY)
    uz = _cell(_UZ)
    bx = _cell(_BX)
    by = _cell(_BY)
    bz = _cell(_BZ)
    still_count = _cell(_STILL_COUNT)
    init_left = _cell(CELL_INIT_LEFT)
    obliquity_mdeg = _cell(CELL_OBL)
    tilt_mdeg = _cell(CELL_TILT)
    acc_up_mg = _cell(CELL_UP)
    acc_left_mg = _cell(CELL_LEFT)
    acc_fwd_mg = _cell(CELL_FWD)
    yaw_cdps = _cell(CELL_YAW)
    acc_used = _cell(_ACC_USED)  # 1 when the last sample's accelerometer corrected u
    _rg_shift = _cell(_RG_SHIFT)

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
        accel_lp_ms=0,
    ):
        self.period_us = period_us
        self._acc_ug = acc_ug_per_lsb
        self._gyro_udps = gyro_udps_per_lsb
        self._s = s = array("i", [0] * _NCELLS)
        cells = memoryview(s)
        self._ra = cells[_RA : _RA + 9]  # views: the rows as set by set_frame_q14
        self._rg = cells[_RG : _RG + 9]
        # Gains in Q21 of "fraction per sample", below 2**14 (1/128 per sample) so that k times a
        # Q14 difference of two unit vectors (|d| <= 2, 2**15) stays below 2**30.
        k = max(1, min(16383, (2097152 * period_us) // (tau_ms * 1000)))
        s[_K] = k
        # The start-up gain: 20 k, capped like k (so at the default 4 s tau at 100 Hz it is
        # 3.1 k, 1/128 per sample: the largest gain the arithmetic bound allows).
        s[_K_INIT] = min(16383, k * 20)
        s[_INIT_N] = (init_ms * 1000) // period_us
        s[_KI] = (k * k) >> 15
        # Accel gate: |a| within accel_band_mg of 1 g, as bounds on |a|^2 (Q22 g^2), inside
        # the 1/|a| table's domain [0.25, 2.25).
        lo = (1000 - accel_band_mg) * (1000 - accel_band_mg) * _Q22 // 1000000
        hi = (1000 + accel_band_mg) * (1000 + accel_band_mg) * _Q22 // 1000000
        s[_N2_LO] = lo if lo > _INV_LO_Q22 else _INV_LO_Q22
        s[_N2_HI] = hi if hi < _INV_HI_Q22 else _INV_HI_Q22 - 1
        # Still detection on the raw counts, so that every implementation of this algorithm
        # (the float64 reference included) makes the same decision on the same data: a
        # decision that flips at its threshold changes the learnt bias by a step, and
        # that step, not arithmetic, dominated fixed-vs-float differences.
        s[_STILL_G] = (still_mdps * 1000) // gyro_udps_per_lsb
        g_half = 500000 // acc_ug_per_lsb  # 1 g in counts, halved (keeps squares < 2**30)
        lo = g_half - (g_half * still_mg) // 1000
        hi = g_half + (g_half * still_mg) // 1000
        s[_STILL_A_LO] = lo * lo
        s[_STILL_A_HI] = hi * hi
        s[_STILL_N] = (still_ms * 1000) // period_us
        bias_n = (bias_tau_ms * 1000) // period_us
        sh = 0
        while (1 << (sh + 1)) <= bias_n:
            sh += 1
        s[_BIAS_SHIFT] = sh
        self.saturated = 0
        # Yaw rate conversion: Q28 rad/sample -> cdeg/s = v * 18000e6 / (pi * period_us * 2**28).
        # Applied as ((v >> 10) * _YAW_K) >> _YAW_S, with _YAW_K <= 1024 so that the product
        # of a full-scale rate (< 2**20 after the shift) stays below 2**30.
        num = 18000 * 1000000 * _PI_DEN * 1024
        den = _PI_NUM * period_us * _Q28
        ys = 0
        while (num << (ys + 1)) // den <= 1024:
            ys += 1
        s[_YAW_K] = (num << ys) // den
        s[_YAW_S] = ys
        ka = 0
        while ka < 12 and (period_us << (ka + 1)) <= accel_lp_ms * 1414:
            ka += 1  # 2**k samples nearest accel_lp_ms (a factor sqrt 2 either side)
        s[_AL_K] = ka
        for i in range(129):
            s[_INVSQRT + i] = _INVSQRT_Q14[i]
        self.reset()
        self.set_frame_q14(array("i", [16384, 0, 0, 0, 16384, 0, 0, 0, 16384]))

    def rate_to_q28(self, mdps):
        """Angular rate in mdeg/s -> Q28 rad per sample (set-up helper)."""
        return ((mdps * _PI_NUM * self.period_us) << 28) // (180 * _PI_DEN * 1000000000)

    def set_still_mdps(self, still_mdps):
        """Set the still gate's gyro limit (bias learning; 0: never still). Not per sample."""
        self._s[_STILL_G] = (still_mdps * 1000) // self._gyro_udps
        self._s[_STILL_COUNT] = 0

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
        self._s[_RG_SHIFT] = shift

    def reset(self, up_x=0, up_y=0, up_z=_Q28):
        """Restart from a known up vector (Q28) with the fast-convergence gain."""
        s = self._s
        s[_UX] = up_x
        s[_UY] = up_y
        s[_UZ] = up_z
        s[CELL_INIT_LEFT] = s[_INIT_N]
        s[_STILL_COUNT] = 0
        s[_AL_INIT] = 1

    def set_bias_q28(self, bx, by, bz):
        s = self._s
        s[_BX] = bx
        s[_BY] = by
        s[_BZ] = bz

    @micropython.viper
    def update(self, imu):
        """One sample: `imu` holds raw counts (sensor axes) ax ay az gx gy gz, int16.

        Viper: locals are machine words (every value is proven to stay inside +-2**30, so
        32-bit words never wrap); cells of `_s` are read through ptr32 (module docstring).
        """
        s = ptr32(self._s)
        m = ptr16(imu)  # int16 cells, read unsigned on MicroPython: bit 15 is the sign
        cx = (m[0] & 0x7FFF) - (m[0] & 0x8000)
        cy = (m[1] & 0x7FFF) - (m[1] & 0x8000)
        cz = (m[2] & 0x7FFF) - (m[2] & 0x8000)
        gx = (m[3] & 0x7FFF) - (m[3] & 0x8000)
        gy = (m[4] & 0x7FFF) - (m[4] & 0x8000)
        gz = (m[5] & 0x7FFF) - (m[5] & 0x8000)
        # Matrix cells are read raw: on a 64-bit port a negative cell reads 2**32 too large,
        # which only adds a multiple of 2**32 to a row's sum, and the sign correction of the
        # sum (inside +-2**30) removes that too. Body-frame accel, Q12 g:
        ax = s[_RA] * cx + s[_RA + 1] * cy + s[_RA + 2] * cz + 8192
        ax = ((ax & _M30) - (ax >> 1 & _B29) - (ax >> 1 & _B29)) >> 14
        ay = s[_RA + 3] * cx + s[_RA + 4] * cy + s[_RA + 5] * cz + 8192
        ay = ((ay & _M30) - (ay >> 1 & _B29) - (ay >> 1 & _B29)) >> 14
        az = s[_RA + 6] * cx + s[_RA + 7] * cy + s[_RA + 8] * cz + 8192
        az = ((az & _M30) - (az >> 1 & _B29) - (az >> 1 & _B29)) >> 14
        # Body-frame rate, Q28 rad/sample, bias removed.
        sh = s[_RG_SHIFT]
        rx = s[_RG] * gx + s[_RG + 1] * gy + s[_RG + 2] * gz
        rx = ((rx & _M30) - (rx >> 1 & _B29) - (rx >> 1 & _B29)) >> sh
        ry = s[_RG + 3] * gx + s[_RG + 4] * gy + s[_RG + 5] * gz
        ry = ((ry & _M30) - (ry >> 1 & _B29) - (ry >> 1 & _B29)) >> sh
        rz = s[_RG + 6] * gx + s[_RG + 7] * gy + s[_RG + 8] * gz
        rz = ((rz & _M30) - (rz >> 1 & _B29) - (rz >> 1 & _B29)) >> sh
        bx = (s[_BX] & _M30) - (s[_BX] >> 1 & _B29) - (s[_BX] >> 1 & _B29)
        by = (s[_BY] & _M30) - (s[_BY] >> 1 & _B29) - (s[_BY] >> 1 & _B29)
        bz = (s[_BZ] & _M30) - (s[_BZ] >> 1 & _B29) - (s[_BZ] >> 1 & _B29)
        wx = rx - bx
        wy = ry - by
        wz = rz - bz
        # Each axis is held within 0.4 rad per sample (at 50 Hz: 1146 deg/s, above that the
        # gyro saturates at >= 87 Hz anyway), so |w| < 0.7 rad per sample at every rate.
        if wx > _WMAX:
            wx = _WMAX
        elif wx < 0 - _WMAX:
            wx = 0 - _WMAX
        if wy > _WMAX:
            wy = _WMAX
        elif wy < 0 - _WMAX:
            wy = 0 - _WMAX
        if wz > _WMAX:
            wz = _WMAX
        elif wz < 0 - _WMAX:
            wz = 0 - _WMAX
        # u x w in Q28: u enters as Q15, w is split into a high part (w >> 13) and a 13-bit
        # low part so the rate keeps its full Q28 resolution. |u| = 1 and |w| < 0.7 rad per
        # sample keep every product below 2**30.
        ux = (s[_UX] & _M30) - (s[_UX] >> 1 & _B29) - (s[_UX] >> 1 & _B29)
        uy = (s[_UY] & _M30) - (s[_UY] >> 1 & _B29) - (s[_UY] >> 1 & _B29)
        uz = (s[_UZ] & _M30) - (s[_UZ] >> 1 & _B29) - (s[_UZ] >> 1 & _B29)
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
        # Accelerometer correction while |a| is near 1 g: u += k (a/|a| - u). With accel_lp_ms,
        # a is first low-passed, its state rotated with the body like u: every gait phase
        # counts the same (a band on the raw |a| passes only the phases of a running stride
        # between impact and flight, whose lateral acceleration leans one way: 1.1 deg of
        # obliquity bias on the synthetic run), and fast rotation does not smear it.
        ka = s[_AL_K]
        fx = ax
        fy = ay
        fz = az
        if ka > 0:
            # the sample, held within +-4 g (Q14)
            px = ax << 2
            py = ay << 2
            pz = az << 2
            if px > 65536:
                px = 65536
            elif px < -65536:
                px = -65536
            if py > 65536:
                py = 65536
            elif py < -65536:
                py = -65536
            if pz > 65536:
                pz = 65536
            elif pz < -65536:
                pz = -65536
            px = px << 4  # Q18: the low-pass keeps 4 more bits than its inputs
            py = py << 4
            pz = pz << 4
            if s[_AL_INIT]:
                s[_AL_INIT] = 0
                s[_ALX] = px
                s[_ALY] = py
                s[_ALZ] = pz
            qx = (s[_ALX] & _M30) - (s[_ALX] >> 1 & _B29) - (s[_ALX] >> 1 & _B29)
            qy = (s[_ALY] & _M30) - (s[_ALY] >> 1 & _B29) - (s[_ALY] >> 1 & _B29)
            qz = (s[_ALZ] & _M30) - (s[_ALZ] >> 1 & _B29) - (s[_ALZ] >> 1 & _B29)
            lx = (qx + 8) >> 4  # Q14 for the products
            ly = (qy + 8) >> 4
            lz = (qz + 8) >> 4
            # rotate with the body: l += l x w, w split as for u (high part Q15, 13-bit low
            # part; |w| < 0.4 rad per axis, |l| <= 4 g: each product < 2**30), rounded
            vx = ((ly * wzh + 16384) >> 15) - ((lz * wyh + 16384) >> 15)
            vx += ((ly * wzl + _R27) >> 28) - ((lz * wyl + _R27) >> 28)
            vy = ((lz * wxh + 16384) >> 15) - ((lx * wzh + 16384) >> 15)
            vy += ((lz * wxl + _R27) >> 28) - ((lx * wzl + _R27) >> 28)
            vz = ((lx * wyh + 16384) >> 15) - ((ly * wxh + 16384) >> 15)
            vz += ((lx * wyl + _R27) >> 28) - ((ly * wxl + _R27) >> 28)
            r = (1 << ka) >> 1
            qx += vx << 4
            qy += vy << 4
            qz += vz << 4
            qx += (px - qx + r) >> ka
            qy += (py - qy + r) >> ka
            qz += (pz - qz + r) >> ka
            # held within +-4 g (the first-order rotation stretches it at saturated rates)
            if qx > 1048576:
                qx = 1048576
            elif qx < -1048576:
                qx = -1048576
            if qy > 1048576:
                qy = 1048576
            elif qy < -1048576:
                qy = -1048576
            if qz > 1048576:
                qz = 1048576
            elif qz < -1048576:
                qz = -1048576
            s[_ALX] = qx
            s[_ALY] = qy
            s[_ALZ] = qz
            fx = (qx + 32) >> 6  # Q12
            fy = (qy + 32) >> 6
            fz = (qz + 32) >> 6
        n2 = ((fx + 1) >> 1) * ((fx + 1) >> 1)
        n2 += ((fy + 1) >> 1) * ((fy + 1) >> 1)
        n2 += ((fz + 1) >> 1) * ((fz + 1) >> 1)  # |a|^2, Q22
        used = 0
        if n2 > s[_N2_LO] and n2 < s[_N2_HI]:
            used = 1
            k = s[_K]
            left = s[CELL_INIT_LEFT]
            if left > 0:
                k += ((s[_K_INIT] - k) * left) // s[_INIT_N]
                s[CELL_INIT_LEFT] = left - 1
            t = n2 - _INV_LO_Q22
            i = t >> 16
            t0 = s[_INVSQRT + i]
            inv = t0 + (((s[_INVSQRT + i + 1] - t0) * (t & 65535)) >> 16)  # 1/|a|, Q14
            # (Q12 a * Q14 inv) << 2 = unit a in Q28; the difference to u in Q14 times k
            # (Q21, < 2**14) is Q35, >> 7 -> Q28.
            ux += (((((fx * inv) << 2) - ux + 8192) >> 14) * k + 64) >> 7
            uy += (((((fy * inv) << 2) - uy + 8192) >> 14) * k + 64) >> 7
            uz += (((((fz * inv) << 2) - uz + 8192) >> 14) * k + 64) >> 7
            # Integral term: the rotation the accelerometer asks for, a x u, is what a fyro
            # bias would leave over; over gait cycles linear acceleration averages out, so
            # a slow integral removes the bias while walking (Mahony). ki = k^2 / 8 (Q30).
            ki = s[_KI]
            if ki:
                ex = (fx * inv + 2048) >> 12  # unit a, Q14
                ey = (fy * inv + 2048) >> 12
                ez = (fz * inv + 2048) >> 12
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
        s[_ACC_USED] = used
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
        s[_UX] = ux
        s[_UY] = uy
        s[_UZ] = uz
        # Still: slow rates and |a| near 1 g for still_ms -> learn the gyro bias.
        still = s[_STILL_G]
        na = ((cx + 1) >> 1) * ((cx + 1) >> 1)
        na += ((cy + 1) >> 1) * ((cy + 1) >> 1)
        na += ((cz + 1) >> 1) * ((cz + 1) >> 1)
        if (
            gx > 0 - still
            and gx < still
            and gy > 0 - still
            and gy < still
            and gz > 0 - still
            and gz < still
            and na >= s[_STILL_A_LO]
            and na <= s[_STILL_A_HI]
        ):
            count = s[_STILL_COUNT]
            if count < s[_STILL_N]:
                s[_STILL_COUNT] = count + 1
            else:
                bs = s[_BIAS_SHIFT]
                bx += (rx - bx) >> bs
                by += (ry - by) >> bs
                bz += (rz - bz) >> bs
        else:
            s[_STILL_COUNT] = 0
        s[_BX] = bx
        s[_BY] = by
        s[_BZ] = bz
        # Outputs.
        hx = (ux + 8192) >> 14
        hy = (uy + 8192) >> 14
        hz = (uz + 8192) >> 14
        # obliquity = atan2(hy, hz), tilt = atan2(-hx, hypot(hy, hz)): shared/fixedpoint.py's
        # atan2_mdeg and hypot_q written out here, operation for operation (so bit-identical;
        # tests/test_estimator_ref.py checks it against them): a call from viper to a viper
        # function costs ~940 x86 instructions, the three of them a third of this update.
        ta = ptr32(_ATAN_Q4MDEG)
        p = hy if hy >= 0 else 0 - hy
        q = hz if hz >= 0 else 0 - hz
        a = 0
        if p <= q:
            if q != 0:
                r = (p << 15) // q
                i = r >> 7
                t0 = ta[i]
                a = t0 if i == 256 else t0 + (((ta[i + 1] - t0) * (r & 127)) >> 7)
        else:
            r = (q << 15) // p
            i = r >> 7
            t0 = ta[i]
            a = _Q4_90DEG - (t0 + (((ta[i + 1] - t0) * (r & 127)) >> 7))
        if hz < 0:
            a = _Q4_180DEG - a
        a = (a + 8) >> 4
        s[CELL_OBL] = 0 - a if hy < 0 else a
        # hypot(hy, hz): p, q as above; the larger one in q
        if p > q:
            r = p
            p = q
            q = r
        h = 0
        if q != 0:
            r = (p << 15) // q
            i = r >> 7
            ts = ptr32(_SEC_Q14)
            t0 = ts[i]
            h = t0 if i == 256 else t0 + (((ts[i + 1] - t0) * (r & 127)) >> 7)
            h = (q * h + 8192) >> 14
        # atan2(-hx, h), h >= 0
        p = hx if hx >= 0 else 0 - hx  # |-hx|
        a = 0
        if p <= h:
            if h != 0:
                r = (p << 15) // h
                i = r >> 7
                t0 = ta[i]
                a = t0 if i == 256 else t0 + (((ta[i + 1] - t0) * (r & 127)) >> 7)
        else:
            r = (h << 15) // p
            i = r >> 7
            t0 = ta[i]
            a = _Q4_90DEG - (t0 + (((ta[i + 1] - t0) * (r & 127)) >> 7))
        a = (a + 8) >> 4
        s[CELL_TILT] = 0 - a if hx > 0 else a
        # Linear acceleration (gravity removed), mg: a - u * 1 g.
        s[CELL_UP] = ((((ax * hx + ay * hy + az * hz) >> 12) - 16384) * 1000) >> 14
        s[CELL_LEFT] = ((ay - (hy >> 2)) * 1000) >> 12
        s[CELL_FWD] = ((ax - (hx >> 2)) * 1000) >> 12
        yaw = ((wx >> 14) * hx + (wy >> 14) * hy + (wz >> 14) * hz) >> 10
        s[CELL_YAW] = (yaw * s[_YAW_K]) >> s[_YAW_S]
