"""Real recordings (figures 5, 6, 7): BROAD tilt vs optical truth (ours and
imufusion 1.3.3), fixed-point firmware vs the float64 reference of sim/floatref.py."""

from __future__ import annotations

import numpy as np

from hipcue.replay import run_firmware
from hipcue.trace import read_trace
from shared.mount import parse_mount
from sim.floatref import float_frame, run_reference
from sim.inputs import DATA, firmware_inputs, synth_trace

MOBGAP_TRIALS = ("Test5_Trial1", "Test5_Trial2", "Test11_Trial1")
BROAD = "broad_07_fast_rotation.trace.csv"
BROAD_MOUNT = "forward=+x left=+y up=+z"


# ---------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------


def up_from_angles(obl_deg, tilt_deg):
    """Unit up vector in the body frame from the spec's obliquity and tilt."""
    o = np.radians(obl_deg)
    t = np.radians(tilt_deg)
    return np.stack([-np.sin(t), np.cos(t) * np.sin(o), np.cos(t) * np.cos(o)], axis=1)


def angles_from_up(u):
    obl = np.degrees(np.arctan2(u[:, 1], u[:, 2]))
    tilt = np.degrees(np.arctan2(-u[:, 0], np.hypot(u[:, 1], u[:, 2])))
    return obl, tilt


def angle_between(u, v):
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    c = np.cross(u, v)
    return np.degrees(np.arctan2(np.linalg.norm(c, axis=1), np.einsum("ij,ij->i", u, v)))


def up_in_sensor_from_q(q):
    """q (n,4) w,x,y,z: sensor frame -> earth (z up). Up in the sensor frame = R(q)^T z."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack(
        [2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z], axis=1
    )


def _wrap(d):
    return (d + 180.0) % 360.0 - 180.0


def _rms(x):
    x = np.asarray(x, float)
    return float(np.sqrt(np.mean(x**2))) if len(x) else None


# ---------------------------------------------------------------------------------------------
# BROAD
# ---------------------------------------------------------------------------------------------


def run_imufusion(gyro_dps, acc_g, period_s):
    """imufusion 1.3.3 Ahrs, default settings, no magnetometer: quaternions (n,4) w,x,y,z."""
    import imufusion

    ahrs = imufusion.Ahrs()
    ahrs.set_sample_period(period_s)
    n = len(gyro_dps)
    qf = np.empty((n, 4))
    g = np.ascontiguousarray(gyro_dps, dtype=float)
    a = np.ascontiguousarray(acc_g, dtype=float)
    for i in range(n):
        ahrs.update_no_magnetometer(g[i], a[i])
        qf[i] = ahrs.get_quaternion()
    return qf


def imufusion_check() -> float:
    """Max |q - q_file| of our imufusion call against the x-io output shipped with the data."""
    tr = read_trace(DATA / "xio_fusion_sensor_data.trace.csv")
    ref = np.loadtxt(
        DATA / "xio_fusion_sensor_data.imufusion_1.3.3_output.csv",
        delimiter=",",
        skiprows=1,
        usecols=(1, 2, 3, 4),
    )
    q = run_imufusion(tr.gyro_dps, tr.acc_g, float(np.median(np.diff(tr.t_s))))
    return float(np.max(np.abs(up_in_sensor_from_q(q) - up_in_sensor_from_q(ref))))


def broad(tr=None) -> dict:
    """tr: the BROAD trace as read (default), or a resampled copy of it with its columns."""
    if tr is None:
        tr = read_trace(DATA / BROAD)
    res = run_firmware(tr, mount=BROAD_MOUNT, calibrate=True)
    cfg, counts, _dt, period_us = firmware_inputs(tr, BROAD_MOUNT)
    end = int(res.firmware["calibration_end_index"])
    need = (cfg["cal_still_ms"] * 1000 + period_us - 1) // period_us
    mean_up = counts[end - need + 1 : end + 1, 0:3].astype(float).mean(axis=0)
    r_cal = float_frame(parse_mount(cfg["mount"]), mean_up)  # rows: body axes in sensor coords

    q = np.stack([tr.column(c) for c in ("ref_qw", "ref_qx", "ref_qy", "ref_qz")], axis=1)
    move = tr.column("movement") == 1
    ok = move & np.all(np.isfinite(q), axis=1) & (np.arange(tr.n) > end)
    u_ref = up_in_sensor_from_q(np.where(np.isfinite(q), q, 0.0)) @ r_cal.T
    obl_ref, tilt_ref = angles_from_up(u_ref)

    obl = res.obl_mdeg / 1000.0
    tilt = res.tilt_mdeg / 1000.0
    u_est = up_from_angles(obl, tilt)

    # imufusion 1.3.3, default settings, no magnetometer, on the same file
    qf = run_imufusion(tr.gyro_dps, tr.acc_g, period_us * 1e-6)
    u_fus = up_in_sensor_from_q(qf) @ r_cal.T
    obl_fus, tilt_fus = angles_from_up(u_fus)

    # the same algorithm in float64 (sim/floatref.py): is the error the algorithm's?
    ref = run_reference(counts.astype(np.int64), cfg, period_us, True)
    u_flt = up_from_angles(ref[:, 0], ref[:, 1])

    lim = np.abs(tilt_ref) < 60.0
    # the highest linear acceleration in the shared data (no fast-translation recording is
    # shared): samples within 100 ms of | |a| - 1 g | > 0.5 g
    amag = np.linalg.norm(np.asarray(tr.acc_g, float), axis=1)
    w = max(1, int(round(0.1e6 / period_us)))
    hard = np.convolve((np.abs(amag - 1.0) > 0.5).astype(float), np.ones(2 * w + 1), "same") > 0
    dyn = ok & hard
    return {
        "dynamic": {
            "samples": int(dyn.sum()),
            "acc_max_g": float(amag.max()),
            "gyro_max_dps": float(np.linalg.norm(np.asarray(tr.gyro_dps, float), axis=1).max()),
            "tilt_rms_deg_ours": _rms(tilt[dyn] - tilt_ref[dyn]),
            "tilt_rms_deg_imufusion": _rms(tilt_fus[dyn] - tilt_ref[dyn]),
            "up_angle_rms_deg_ours": _rms(angle_between(u_est[dyn], u_ref[dyn])),
            "up_angle_rms_deg_imufusion": _rms(angle_between(u_fus[dyn], u_ref[dyn])),
        },
        "float64_reference": {
            "tilt_rms_deg": _rms(ref[ok, 1] - tilt_ref[ok]),
            "up_angle_rms_deg": _rms(angle_between(u_flt[ok], u_ref[ok])),
        },
        "samples_scored": int(ok.sum()),
        "calibration_end_index": end,
        "ours": {
            "tilt_rms_deg": _rms(tilt[ok] - tilt_ref[ok]),
            "obliquity_rms_deg": _rms(_wrap(obl[ok] - obl_ref[ok])),
            "obliquity_rms_deg_tilt_lt_60": _rms(_wrap(obl[ok & lim] - obl_ref[ok & lim])),
            "up_angle_rms_deg": _rms(angle_between(u_est[ok], u_ref[ok])),
        },
        "imufusion": {
            "tilt_rms_deg": _rms(tilt_fus[ok] - tilt_ref[ok]),
            "obliquity_rms_deg": _rms(_wrap(obl_fus[ok] - obl_ref[ok])),
            "obliquity_rms_deg_tilt_lt_60": _rms(_wrap(obl_fus[ok & lim] - obl_ref[ok & lim])),
            "up_angle_rms_deg": _rms(angle_between(u_fus[ok], u_ref[ok])),
        },
    }


# ---------------------------------------------------------------------------------------------
# fixed point vs float64 reference
# ---------------------------------------------------------------------------------------------


def fixed_vs_float(which: str) -> dict:
    if which == "synth":
        tr, _ = synth_trace("weak-right", 60.0, 3)
        mount, calibrate, name = None, True, "synth weak-right 60 s seed=3"
    elif which == "broad":
        tr = read_trace(DATA / BROAD)
        mount, calibrate, name = BROAD_MOUNT, True, "broad_07"
    elif which == "xio":
        tr = read_trace(DATA / "xio_fusion_sensor_data.trace.csv")
        mount, calibrate, name = None, False, "xio (no-calibrate)"
    else:
        tr = read_trace(DATA / f"mobgap_HA_001_{which}.trace.csv")
        mount, calibrate, name = None, False, f"mobgap {which} (no-calibrate)"
    res = run_firmware(tr, mount=mount, calibrate=calibrate)
    cfg, counts, _dt, period_us = firmware_inputs(tr, mount)
    ref = run_reference(counts.astype(np.int64), cfg, period_us, calibrate)
    obl = res.obl_mdeg / 1000.0
    tilt = res.tilt_mdeg / 1000.0
    d_obl = np.abs(_wrap(obl - ref[:, 0]))
    d_up = angle_between(up_from_angles(obl, tilt), up_from_angles(ref[:, 0], ref[:, 1]))
    lim = np.abs(ref[:, 1]) < 60.0
    return {
        "trace": name,
        "samples": tr.n,
        "max_obl_diff_deg": float(d_obl.max()),
        "max_obl_diff_deg_tilt_lt_60": float(d_obl[lim].max()) if lim.any() else None,
        "max_up_angle_diff_deg": float(d_up.max()),
        "samples_tilt_ge_60": int((~lim).sum()),
    }


FIXED_VS_FLOAT = ("synth", "broad", "xio", *MOBGAP_TRIALS)
