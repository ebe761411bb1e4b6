"""Standing calibration: find the first still period and average it.

Still = every gyro axis within `still_dps` of the window's first sample and below twice that
in absolute value, and every accel axis within `still_mg` of the window's first sample.
Any non-still sample restarts the window. Works on raw counts, so every interpreter makes
the same decision on the same data.
"""

from array import array

from shared.mp import micropython

CAL_RUNNING = 0
CAL_DONE = 1
CAL_FAILED = -1


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
        self._g_dev = (still_mdps * 1000) // gyro_udps_per_lsb
        self._g_abs = 2 * self._g_dev
        self._a_dev = (still_mg * 1000) // acc_ug_per_lsb
        self.ref = array("i", [0] * 6)
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
        self.seen += 1
        ref = self.ref
        sums = self.sums
        still = self.count > 0
        if still:
            ad = self._a_dev
            gd = self._g_dev
            ga = self._g_abs
            for i in range(3):
                d = s[i] - ref[i]
                if d > ad or d < -ad:
                    still = False
                g = s[3 + i]
                d = g - ref[3 + i]
                if d > gd or d < -gd or g > ga or g < -ga:
                    still = False
        if not still:
            # Start a new window at this sample.
            for i in range(6):
                ref[i] = s[i]
                sums[i] = 0
            self.count = 0
            self.start = self.seen - 1
        for i in range(6):
            sums[i] += s[i]
        self.count += 1
        if self.count >= self._need_n:
            self.status = CAL_DONE
        elif self.seen >= self._limit_n:
            self.status = CAL_FAILED
        return self.status
