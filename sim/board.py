"""A simulated board for the host: samples come from a recorded or synthetic trace, and the
motor's on/off switching is recorded with the sample index at which it happened.

It has the same surface as the real board layer (imu, dt_us, late, motor()), so the app
cannot tell them apart.
"""

import sys
from array import array

from shared.mp import micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr16, ptr32  # viper's pointer casts (builtins there)


class SimBoard:
    name = "sim"
    imu_name = "sim"

    def __init__(self, counts, dt_us, max_motor_events=65536):
        self._counts = counts  # array('h'): ax ay az gx gy gz per sample, raw counts
        self._dt = dt_us  # array('i'): microseconds since the previous sample, >= 0
        self.n = len(dt_us)
        self.i = -1  # index of the current sample in the trace
        self.imu = array("h", [0] * 6)
        self.dt_us = 0
        self.late = 0
        self.motor_state = 0
        self.motor_n = array("i", [0] * max_motor_events)  # trace index of each switch
        self.motor_v = bytearray(max_motor_events)  # 1 = switched on, 0 = off
        self.motor_events = 0
        self.motor_dropped = 0

    @micropython.viper
    def next_sample(self) -> int:
        """Load the next trace sample into `imu`; 0 at the end of the trace."""
        # Viper: the counts are copied as raw 16-bit cells; dt_us cells are >= 0, so their
        # (unsigned) ptr32 reads are exact.
        i = int(self.i) + 1
        if i >= int(self.n):
            return 0
        self.i = i
        src = ptr16(self._counts)
        j = i * 6
        imu = ptr16(self.imu)
        imu[0] = src[j]
        imu[1] = src[j + 1]
        imu[2] = src[j + 2]
        imu[3] = src[j + 3]
        imu[4] = src[j + 4]
        imu[5] = src[j + 5]
        self.dt_us = ptr32(self._dt)[i]
        return 1

    @micropython.native
    def motor(self, on: int):
        self.motor_state = on
        k = self.motor_events
        if k < len(self.motor_v):
            self.motor_n[k] = self.i
            self.motor_v[k] = on
            self.motor_events = k + 1
        else:
            self.motor_dropped += 1
