"""Mount strings, the calibrated body frame (spec section 1) and the still-period finder."""

import math
from array import array

import numpy as np
import pytest

from shared.calib import CAL_DONE, CAL_FAILED, CAL_RUNNING, Calibrator
from shared.mount import (
    MountError,
    calibrated_frame_q14,
    mount_frame_q14,
    mount_matrix,
    parse_mount,
)
from sim.floatref import float_frame


def test_parse_mount():
    assert parse_mount("forward=-z left=+y up=+x") == ((2, -1), (1, 1), (0, 1))
    assert parse_mount("up=x, forward=Y left=Z") == ((1, 1), (2, 1), (0, 1))
    m = np.array(mount_matrix(parse_mount("forward=-z left=+y up=+x"))).reshape(3, 3)
    assert np.allclose(np.cross(m[0], m[1]), m[2])  # right-handed


@pytest.mark.parametrize(
    "text,msg",
    [
        ("forward=-z left=+y", "up is missing"),
        ("forward=-z left=+z up=+x", "three different"),
        ("forward=+x left=+z up=+y", "left-handed"),
        ("forward=+w left=+y up=+x", "not one of"),
        ("back=+x left=+y up=+z", "unknown direction"),
        ("forward=+x forward=+y up=+z", "given twice"),
        ("forward", "expected name=axis"),
    ],
)
def test_bad_mounts(text, msg):
    with pytest.raises(MountError) as e:
        parse_mount(text)
    assert msg in str(e.value)


def _rot(axis, deg):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


@pytest.mark.parametrize("pitch,roll", [(0, 0), (15, 0), (-20, 3), (40, -8)])
def test_calibrated_frame_matches_gram_schmidt(pitch, roll):
    axes = parse_mount("forward=-z left=+y up=+x")
    m = np.array(mount_matrix(axes), float).reshape(3, 3)
    # body up in sensor coordinates, after the device leans on the sacrum
    up_sensor = m.T @ (_rot("y", pitch) @ _rot("x", roll) @ np.array([0, 0, 1.0]))
    mean_counts = [int(round(v * 4098 * 100)) for v in up_sensor]  # a 1 s sum at 100 Hz
    r = np.array(calibrated_frame_q14(axes, mean_counts), float).reshape(3, 3) / 16384
    ref = float_frame(axes, mean_counts)
    assert np.abs(r - ref).max() < 2e-4
    assert np.abs(r @ r.T - np.eye(3)).max() < 3e-4
    # z is the measured up; x stays in the plane of the mount's forward axis and up
    assert np.allclose(r[2], up_sensor / np.linalg.norm(up_sensor), atol=2e-4)
    assert abs(r[0] @ m[1]) < 2e-4 or roll != 0


def test_calibration_refuses_forward_pointing_up():
    axes = parse_mount("forward=-z left=+y up=+x")
    with pytest.raises(MountError, match="forward axis"):
        calibrated_frame_q14(axes, [0, 0, -4098])
    with pytest.raises(MountError, match="zero acceleration"):
        calibrated_frame_q14(axes, [0, 0, 0])


def test_mount_frame():
    r = list(mount_frame_q14(parse_mount("forward=+z left=-y up=+x")))
    assert r == [0, 0, 16384, 0, -16384, 0, 16384, 0, 0]


def _feed(cal, rows):
    st = CAL_RUNNING
    for i, row in enumerate(rows):
        st = cal.update(array("h", row))
        if st != CAL_RUNNING:
            return st, i
    return st, len(rows)


def test_calibrator_needs_one_still_second():
    cal = Calibrator(10000, 244, 70000, 1000, 10000, 3000, 40)
    moving = [[4098, 0, 300 * (i % 2), 0, 0, 500] for i in range(250)]
    still = [[4098 + (i % 3), 5, -3, 2, -1, 0] for i in range(100)]
    still = still * 3
    rows = moving + still
    st, i = _feed(cal, rows)
    # the running statistics (tau 250 ms) settle about 1.2 s after a 35 dps rotation stops
    assert st == CAL_DONE and 349 <= i <= 490
    assert cal.count == 100 and cal.sums[0] == sum(r[0] for r in rows[i - 99 : i + 1])


def test_calibrator_restarts_on_motion_and_gives_up_after_the_window():
    cal = Calibrator(10000, 244, 70000, 1000, 10000, 3000, 40)
    # 0.9 s still, a jolt, repeated: never a full second
    rows = ([[4098, 0, 0, 0, 0, 0]] * 90 + [[4098, 900, 0, 0, 0, 0]]) * 12
    st, i = _feed(cal, rows)
    assert st == CAL_FAILED and i == 999  # the 10th second ends the search


def test_constant_rotation_is_not_still():
    cal = Calibrator(10000, 244, 70000, 1000, 10000, 3000, 40)
    st, _ = _feed(cal, [[4098, 0, 0, 0, 0, 150]] * 200)  # 10.5 deg/s, steady
    assert st == CAL_RUNNING
