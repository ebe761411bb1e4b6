"""Standing calibration: find the first still period and average it.

Still is judged against running statistics, not against one sample: every axis has a running
mean (first-order low-pass, time constant about 250 ms) and a running mean absolute deviation
from it. A sample is still when
- every gyro axis: running deviation <= `still_mdps`, |running mean| <= 2 x `still_mdps` (a
  turning wearer is not still) and the sample itself within 4 x `still_mdps` of the mean;
- every accel axis: running deviation <= `still_mg`, the sample within 3 x `still_mg` of the
  running mean, and the running mean within `still_mg` of its value where the window began (the
  pelvis did not tilt away during the window).
So ordinary postural sway (a standing person's 1-2 dps SD) is still, walking and turning are
not. Any non-still sample restarts the window. Integer arithmetic on raw counts, so every
interpreter makes the same decision on the same data.
"""

from array import array

from shared.mp import const, micropython

CAL_RUNNING = 0
CAL_DONE = 1
CAL_FAILED = -1

_F = const(4)  # fractional bits of the running mean and deviation


class Calibrator:
    def __init__(
        self,
        period_us,
        acc_ug_per_lsb,
        gyro_udps_per_lsb,
        still_ms=1000,
        window_ms=10000,
        still_mdps=3000,
        still_mg=40,
    ):
        self._need_n = (still_ms * 1000 + period_us - 1) // period_us
        self._limit_n = (window_ms * 1000) // period_us
        g_dev = (still_mdps * 1000) // gyro_udps_per_lsb
        a_dev = (still_mg * 1000) // acc_ug_per_lsb
        self._g_dev = g_dev << _F  # running deviation limit, gyro
        self._g_abs = (2 * g_dev) << _F  # |running mean| limit, gyro
        self._g_spk = (4 * g_dev) << _F  # one sample's distance from the mean, gyro
        self._a_dev = a_dev << _F
        self._a_spk = (3 * a_dev) << _F
        k = 1  # running statistics: 2**k samples ~ 250 ms
        while (period_us << k) < 250000 and k < 12:
            k += 1
        self._k = k
        self.mean = array("i", [0] * 6)  # running mean per axis, counts << _F
        self.dev = array("i", [0] * 6)  # running mean |sample - mean|, counts << _F
        self.ref = array("i", [0] * 3)  # accel running mean where the window began
        self.sums = array("i", [0] * 6)  # sums over the current still window (counts)
        self.count = 0  # samples in the current still window
        self.seen = 0  # samples seen since start
        self.start = 0  # sample index (since start) where the still window began
        self.status = CAL_RUNNING

    @micropython.native
    def update(self, s) -> int:
        """Feed one raw sample (array of ax ay az gx gy gz counts); returns the status."""
        if self.status != CAL_RUNNING:
            return self.status
        mean = self.mean
        dev = self.dev
        ref = self.ref
        sums = self.sums
        k = self._k
        if self.seen == 0:
            for i in range(6):
                mean[i] = s[i] << _F
                dev[i] = 0
        self.seen += 1
        still = True
        for i in range(6):
            x = s[i] << _F
            m = mean[i]
            m += (x - m) >> k
            mean[i] = m
            d = x - m
            if d < 0:
                d = 0 - d
            v = dev[i]
            v += (d - v) >> k
            dev[i] = v
            if i < 3:
                if v > self._a_dev or d > self._a_spk:
                    still = False
                elif self.count > 0:
                    e = m - ref[i]
                    if e > self._a_dev or e < 0 - self._a_dev:
                        still = False
            elif v > self._g_dev or d > self._g_spk or m > self._g_abs or m < 0 - self._g_abs:
                still = False
        if not still:
            self.count = 0
            return self._check()
        if self.count == 0:
            # a new window starts at this sample
            for i in range(6):
                sums[i] = 0
            for i in range(3):
                ref[i] = mean[i]
            self.start = self.seen - 1
        for i in range(6):
            sums[i] += s[i]
        self.count += 1
        if self.count >= self._need_n:
            self.status = CAL_DONE
            return CAL_DONE
        return self._check()

    @micropython.native
    def _check(self) -> int:
        if self.seen >= self._limit_n:
            self.status = CAL_FAILED
        return self.status
