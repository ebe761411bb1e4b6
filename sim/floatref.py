"""Float64 reference of the firmware's attitude estimator (shared/estimator.py).

The same algorithm, written the obvious way in floats: the fixed-point firmware must
stay within 0.05 deg of it (tests/test_estimator_ref.py). Calibration window decisions are
integer comparisons on raw counts in both, so the reference reuses the firmware's
Calibrator and only redoes the arithmetic in floats.
"""

from __future__ import annotations

import math

import numpy as np

from shared import fromconfig
from shared.calib import CAL_DONE, CAL_FAILED
from shared.config import IMUS, Config
from shared.mount import mount_matrix, parse_mount


def float_frame(axes, mean_up) -> np.ndarray:
    z = np.asarray(mean_up, float)
    z = z / np.linalg.norm(z)
    f = np.asarray(mount_matrix(axes)[0:3], float)
    x = f - np.dot(f, z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.vstack([x, y, z])


class FloatEstimator:
    def __init__(self, period_us, acc_ug, gyro_udps, cfg: Config):
        self.dt = period_us * 1e-6
        self.acc_scale = acc_ug * 1e-6  # g per count
        self.gyro_scale = math.radians(gyro_udps * 1e-6) * self.dt  # rad/sample per count
        # The gain is a parameter of the algorithm: use the value the firmware derived from
        # tau (Q16), so this compares arithmetic, not parameter rounding.
        k_q21 = max(1, min(16383, (2097152 * period_us) // (cfg["filter_tau_ms"] * 1000)))
        self.k = k_q21 / 2097152
        self.ki = ((k_q21 * k_q21) >> 15) / 2**30
        self.k_init = min(16383, 20 * k_q21) / 2097152
        self.init_n = (cfg["init_ms"] * 1000) // period_us
        b = cfg["accel_band_mg"] / 1000.0
        self.n2_lo = max((1 - b) ** 2, 0.25)
        self.n2_hi = min((1 + b) ** 2, 2.25)
        # the still decision is made on raw counts, exactly as the firmware makes it
        self.still_g = (cfg["still_dps"] * 1000) // gyro_udps
        g_half = 500000 // acc_ug
        lo = g_half - (g_half * cfg["still_mg"]) // 1000
        hi = g_half + (g_half * cfg["still_mg"]) // 1000
        self.still_a = (lo * lo, hi * hi)
        self.still_n = 1000000 // period_us
        bias_n = (1500 * 1000) // period_us
        self.bias_a = 1.0 / 2 ** math.floor(math.log2(bias_n))
        self.R = np.eye(3)
        self.u = np.array([0.0, 0.0, 1.0])
        self.b = np.zeros(3)
        self.init_left = self.init_n
        self.still_count = 0
        ka = 0  # the accelerometer's low-pass, 2**-ka per sample, as the firmware's
        while ka < 12 and (period_us << (ka + 1)) <= cfg["accel_lp_ms"] * 1414:
            ka += 1
        self.al_a = 1.0 / 2**ka if ka else 1.0
        self.al = None

    def reset(self, u=(0.0, 0.0, 1.0)):
        self.u = np.asarray(u, float)
        self.init_left = self.init_n
        self.still_count = 0
        self.al = None

    def update(self, counts):
        c = np.asarray(counts, float)
        a = self.R @ (c[0:3] * self.acc_scale)
        r = self.R @ (c[3:6] * self.gyro_scale)
        w = np.clip(r - self.b, -0.4, 0.4)  # the firmware's rate limit (0.4 rad/sample)
        u = self.u + np.cross(self.u, w) + 0.5 * ((w @ self.u) * w - (w @ w) * self.u)
        if self.al_a < 1.0:
            c = np.clip(a, -4.0, 4.0)
            if self.al is None:
                self.al = c.copy()
            al = self.al + np.cross(self.al, w)  # rotated with the body, like u
            self.al = np.clip(al + (c - al) * self.al_a, -4.0, 4.0)
            a = self.al
        n2 = float(a @ a)
        if self.n2_lo < n2 < self.n2_hi:
            k = self.k
            if self.init_left > 0:
                k += (self.k_init - k) * self.init_left / self.init_n
                self.init_left -= 1
            ah = a / math.sqrt(n2)
            u = u + k * (ah - u)
            self.b -= np.cross(ah, u) * self.ki
        u = u * (3.0 - float(u @ u)) / 2.0
        self.u = u
        ci = [int(v) for v in counts]
        na = sum(((v + 1) >> 1) ** 2 for v in ci[0:3])
        g_still = all(-self.still_g < v < self.still_g for v in ci[3:6])
        if g_still and self.still_a[0] <= na <= self.still_a[1]:
            if self.still_count < self.still_n:
                self.still_count += 1
            else:
                self.b += (r - self.b) * self.bias_a
        else:
            self.still_count = 0
        obl = math.degrees(math.atan2(u[1], u[2]))
        tilt = math.degrees(math.atan2(-u[0], math.hypot(u[1], u[2])))
        return obl, tilt


def run_reference(counts: np.ndarray, cfg: Config, period_us: int, calibrate: bool):
    """Obliquity and tilt (deg) per sample, float64, for raw counts (n, 6)."""
    acc_ug, gyro_udps = IMUS[cfg["imu"]]
    axes = parse_mount(cfg["mount"])
    est = FloatEstimator(period_us, acc_ug, gyro_udps, cfg)
    est.R = np.asarray(mount_matrix(axes), float).reshape(3, 3)
    cal = fromconfig.calibrator(cfg, period_us)
    state = "cal" if calibrate else "run"
    out = np.zeros((len(counts), 2))
    for i, row in enumerate(counts):
        s = [int(v) for v in row]
        if i == 0 and not calibrate:
            a = est.R @ (np.asarray(s[0:3], float))
            est.reset(a / np.linalg.norm(a))
        out[i] = est.update(s)
        if state == "cal":
            st = cal.update(s)
            if st == CAL_DONE:
                sums = np.asarray(cal.sums, float)
                est.R = float_frame(axes, sums[0:3])
                est.b = est.R @ (sums[3:6] / cal.count * est.gyro_scale)
                est.reset()
                state = "run"
            elif st == CAL_FAILED:
                state = "run"
    return out
