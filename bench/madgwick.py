"""Madgwick (2010) IMU (6DOF) gradient-descent orientation filter, plain Python floats.

The standard `MadgwickAHRSupdateIMU` of the reference C code (x-io, 2011), line for line:
gyro integration of the quaternion rate, one normalised gradient-descent step toward the
normalised accelerometer scaled by beta, integration over dt, normalisation. Runs under
MicroPython (the cost comparison) and CPython (the sanity check). The class is used as a
baseline only: `MadgwickNative` is the same code compiled with @micropython.native.
"""

from math import sqrt

from shared.mp import micropython


class Madgwick:
    def __init__(self, dt, beta=0.1):
        self.dt = dt
        self.beta = beta
        self.q0 = 1.0
        self.q1 = 0.0
        self.q2 = 0.0
        self.q3 = 0.0

    def update(self, gx, gy, gz, ax, ay, az):
        """gyro in rad/s, accel in any unit (normalised here)."""
        q0 = self.q0
        q1 = self.q1
        q2 = self.q2
        q3 = self.q3
        qd1 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz)
        qd2 = 0.5 * (q0 * gx + q2 * gz - q3 * gy)
        qd3 = 0.5 * (q0 * gy - q1 * gz + q3 * gx)
        qd4 = 0.5 * (q0 * gz + q1 * gy - q2 * gx)
        if not (ax == 0.0 and ay == 0.0 and az == 0.0):
            r = 1.0 / sqrt(ax * ax + ay * ay + az * az)
            ax *= r
            ay *= r
            az *= r
            _2q0 = 2.0 * q0
            _2q1 = 2.0 * q1
            _2q2 = 2.0 * q2
            _2q3 = 2.0 * q3
            _4q0 = 4.0 * q0
            _4q1 = 4.0 * q1
            _4q2 = 4.0 * q2
            _8q1 = 8.0 * q1
            _8q2 = 8.0 * q2
            q0q0 = q0 * q0
            q1q1 = q1 * q1
            q2q2 = q2 * q2
            q3q3 = q3 * q3
            s0 = _4q0 * q2q2 + _2q2 * ax + _4q0 * q1q1 - _2q1 * ay
            s1 = (
                _4q1 * q3q3
                - _2q3 * ax
                + 4.0 * q0q0 * q1
                - _2q0 * ay
                - _4q1
                + _8q1 * q1q1
                + _8q1 * q2q2
                + _4q1 * az
            )
            s2 = (
                4.0 * q0q0 * q2
                + _2q0 * ax
                + _4q2 * q3q3
                - _2q3 * ay
                - _4q2
                + _8q2 * q1q1
                + _8q2 * q2q2
                + _4q2 * az
            )
            s3 = 4.0 * q1q1 * q3 - _2q1 * ax + 4.0 * q2q2 * q3 - _2q2 * ay
            n = s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3
            if n > 0.0:
                r = 1.0 / sqrt(n)
                b = self.beta * r
                qd1 -= b * s0
                qd2 -= b * s1
                qd3 -= b * s2
                qd4 -= b * s3
        dt = self.dt
        q0 += qd1 * dt
        q1 += qd2 * dt
        q2 += qd3 * dt
        q3 += qd4 * dt
        r = 1.0 / sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
        self.q0 = q0 * r
        self.q1 = q1 * r
        self.q2 = q2 * r
        self.q3 = q3 * r

    def up(self):
        """Earth's up (z) in the sensor frame: third row of R(q) (q: sensor -> earth)."""
        q0, q1, q2, q3 = self.q0, self.q1, self.q2, self.q3
        return (
            2.0 * (q1 * q3 - q0 * q2),
            2.0 * (q0 * q1 + q2 * q3),
            q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3,
        )


class MadgwickNative(Madgwick):
    """The same update, compiled with @micropython.native (the firmware's own treatment)."""

    @micropython.native
    def update(self, gx, gy, gz, ax, ay, az):
        """gyro in rad/s, accel in any unit (normalised here)."""
        q0 = self.q0
        q1 = self.q1
        q2 = self.q2
        q3 = self.q3
        qd1 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz)
        qd2 = 0.5 * (q0 * gx + q2 * gz - q3 * gy)
        qd3 = 0.5 * (q0 * gy - q1 * gz + q3 * gx)
        qd4 = 0.5 * (q0 * gz + q1 * gy - q2 * gx)
        if not (ax == 0.0 and ay == 0.0 and az == 0.0):
            r = 1.0 / sqrt(ax * ax + ay * ay + az * az)
            ax *= r
            ay *= r
            az *= r
            _2q0 = 2.0 * q0
            _2q1 = 2.0 * q1
            _2q2 = 2.0 * q2
            _2q3 = 2.0 * q3
            _4q0 = 4.0 * q0
            _4q1 = 4.0 * q1
            _4q2 = 4.0 * q2
            _8q1 = 8.0 * q1
            _8q2 = 8.0 * q2
            q0q0 = q0 * q0
            q1q1 = q1 * q1
            q2q2 = q2 * q2
            q3q3 = q3 * q3
            s0 = _4q0 * q2q2 + _2q2 * ax + _4q0 * q1q1 - _2q1 * ay
            s1 = (
                _4q1 * q3q3
                - _2q3 * ax
                + 4.0 * q0q0 * q1
                - _2q0 * ay
                - _4q1
                + _8q1 * q1q1
                + _8q1 * q2q2
                + _4q1 * az
            )
            s2 = (
                4.0 * q0q0 * q2
                + _2q0 * ax
                + _4q2 * q3q3
                - _2q3 * ay
                - _4q2
                + _8q2 * q1q1
                + _8q2 * q2q2
                + _4q2 * az
            )
            s3 = 4.0 * q1q1 * q3 - _2q1 * ax + 4.0 * q2q2 * q3 - _2q2 * ay
            n = s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3
            if n > 0.0:
                r = 1.0 / sqrt(n)
                b = self.beta * r
                qd1 -= b * s0
                qd2 -= b * s1
                qd3 -= b * s2
                qd4 -= b * s3
        dt = self.dt
        q0 += qd1 * dt
        q1 += qd2 * dt
        q2 += qd3 * dt
        q3 += qd4 * dt
        r = 1.0 / sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
        self.q0 = q0 * r
        self.q1 = q1 * r
        self.q2 = q2 * r
        self.q3 = q3 * r
