"""Mount strings and the body frame (spec section 1).

A mount says which sensor axis points forward, left and up, e.g. "forward=-z left=+y up=+x".
The standing calibration then defines the body frame exactly (Gram-Schmidt on the mean up
direction and the mount's forward axis). Frames are 3x3 integer matrices in Q14, row-major,
rows = body x (forward), y (left), z (up) written in sensor coordinates.
"""

from array import array

from shared.fixedpoint import isqrt

DEFAULT_MOUNT = "forward=-z left=+y up=+x"
Q14 = 16384

_AXES = {"+x": (0, 1), "-x": (0, -1), "+y": (1, 1), "-y": (1, -1), "+z": (2, 1), "-z": (2, -1)}
_NAMES = ("forward", "left", "up")


class MountError(ValueError):
    pass


def parse_mount(text):
    """Return ((axis, sign) for forward, left, up) or raise MountError with a clear message."""
    parts = {}
    for word in text.replace(",", " ").split():
        if "=" not in word:
            raise MountError("mount: expected name=axis, got %r" % word)
        name, axis = word.split("=", 1)
        name = name.strip().lower()
        axis = axis.strip().lower()
        if name not in _NAMES:
            raise MountError("mount: unknown direction %r (use forward, left, up)" % name)
        if name in parts:
            raise MountError("mount: %s given twice" % name)
        if axis in ("x", "y", "z"):
            axis = "+" + axis
        if axis not in _AXES:
            raise MountError("mount: %s=%s is not one of +x -x +y -y +z -z" % (name, axis))
        parts[name] = _AXES[axis]
    for name in _NAMES:
        if name not in parts:
            raise MountError("mount: %s is missing (need forward=, left= and up=)" % name)
    f, left, u = parts["forward"], parts["left"], parts["up"]
    if len({f[0], left[0], u[0]}) != 3:
        raise MountError("mount: forward, left and up must use three different sensor axes")
    m = mount_matrix(((f, left, u)))
    # forward x left must equal up for a right-handed frame.
    if _det(m) < 0:
        raise MountError("mount: %s is left-handed (forward x left must point up)" % text.strip())
    return (f, left, u)


def mount_matrix(axes):
    """Integer matrix (+-1/0, row-major) of body axes in sensor coordinates."""
    m = [0] * 9
    for row in range(3):
        axis, sign = axes[row]
        m[row * 3 + axis] = sign
    return m


def _det(m):
    return (
        m[0] * (m[4] * m[8] - m[5] * m[7])
        - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6])
    )


def mount_frame_q14(axes, out=None):
    """The body frame taken from the mount alone (no calibration), Q14."""
    m = mount_matrix(axes)
    if out is None:
        out = array("i", [0] * 9)
    for i in range(9):
        out[i] = m[i] * Q14
    return out


def calibrated_frame_q14(axes, mean_up, out=None):
    """Body frame from the mean still accelerometer reading (sensor axes, any integer scale).

    z = mean up, normalised; x = the mount's forward axis made orthogonal to z; y = z cross x.
    Raises MountError if the mean up direction is nearly parallel to the forward axis.
    """
    ax, ay, az = mean_up[0], mean_up[1], mean_up[2]
    # Rescale so the vector has about 14 bits: keeps every product below 2**30.
    big = max(abs(ax), abs(ay), abs(az))
    if big == 0:
        raise MountError("calibration: zero acceleration, the sensor gives no data")
    while big >= 32768:
        ax >>= 1
        ay >>= 1
        az >>= 1
        big >>= 1
    while big < 16384:
        ax <<= 1
        ay <<= 1
        az <<= 1
        big <<= 1
    n = isqrt(ax * ax + ay * ay + az * az)
    z = [(ax * Q14 + n // 2) // n, (ay * Q14 + n // 2) // n, (az * Q14 + n // 2) // n]
    fwd = mount_matrix(axes)[0:3]
    f = [fwd[0] * Q14, fwd[1] * Q14, fwd[2] * Q14]
    d = (f[0] * z[0] + f[1] * z[1] + f[2] * z[2]) >> 14  # f.z, Q14
    x = [f[i] - ((d * z[i]) >> 14) for i in range(3)]
    nx = isqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2])
    if nx < Q14 // 4:  # forward within ~15 deg of up: the mount is wrong
        raise MountError("calibration: the mount's forward axis points (nearly) up; check --mount")
    x = [(x[i] * Q14 + nx // 2) // nx for i in range(3)]
    y = [
        (z[1] * x[2] - z[2] * x[1] + 8192) >> 14,
        (z[2] * x[0] - z[0] * x[2] + 8192) >> 14,
        (z[0] * x[1] - z[1] * x[0] + 8192) >> 14,
    ]
    if out is None:
        out = array("i", [0] * 9)
    for i in range(3):
        out[i] = x[i]
        out[3 + i] = y[i]
        out[6 + i] = z[i]
    return out
