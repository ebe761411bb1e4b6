"""Tests of the synthetic trace generator (host/hipcue/synth.py) against the trace spec.

The checks are built to be independent of the generator's own conventions where they can be:
the default mount is undone by hand, the gyro is integrated with a separate RK4 integrator, and
the step truth is recomputed from the obliquity column with the spec's drop definition.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from hipcue import synth  # noqa: E402
from hipcue.synth import PRESETS, Segment, SynthTrace, generate  # noqa: E402

RATE = 100.0
PITCH_DEG = 15.0
REQUIRED = ["t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"]
TRUTH = ["obliquity_deg", "tilt_deg", "yaw_deg", "stance", "ic", "activity"]
ACCEL_LSB_G = 0.244e-3
GYRO_LSB_DPS = 70e-3


# ---------------------------------------------------------------------------------- helpers


def straight_walk(drop_left: float = 4.0, drop_right: float = 9.0) -> list[Segment]:
    return [
        Segment("stand", 2.0),
        Segment("walk", 56.0, drop_left_stance_deg=drop_left, drop_right_stance_deg=drop_right),
        Segment("stand", 2.0),
    ]


def vec(trace: SynthTrace, names: list[str]) -> np.ndarray:
    return np.stack([np.asarray(trace.columns[n], dtype=float) for n in names], axis=1)


def body_from_default_mount(v_sensor: np.ndarray, pitch_deg: float = PITCH_DEG) -> np.ndarray:
    """Undo 'forward=-z left=+y up=+x' by hand, then the device's pitch about the left axis."""
    device = np.stack([-v_sensor[:, 2], v_sensor[:, 1], v_sensor[:, 0]], axis=1)
    p = math.radians(pitch_deg)
    r_body_device = np.array(
        [[math.cos(p), 0.0, math.sin(p)], [0.0, 1.0, 0.0], [-math.sin(p), 0.0, math.cos(p)]]
    )
    return device @ r_body_device.T


def spec_angles(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spec section 1, written out again here."""
    obliquity = np.degrees(np.arctan2(u[:, 1], u[:, 2]))
    tilt = np.degrees(np.arctan2(-u[:, 0], np.hypot(u[:, 1], u[:, 2])))
    return obliquity, tilt


def _qdot(q: tuple[float, ...], w: list[float]) -> tuple[float, float, float, float]:
    a, b, c, d = q
    x, y, z = w
    return (
        0.5 * (-b * x - c * y - d * z),
        0.5 * (a * x + c * z - d * y),
        0.5 * (a * y - b * z + d * x),
        0.5 * (a * z + b * y - c * x),
    )


def integrate_gyro(w_body: np.ndarray, h: float, q0: tuple[float, ...]) -> np.ndarray:
    """Body-to-world quaternions from body rates (rad/s): RK4 with cubic mid-interval rates."""
    w = np.asarray(w_body, dtype=float)
    before = np.vstack([w[:1], w[:-2]])
    after = np.vstack([w[2:], w[-1:]])
    mid = ((9.0 * (w[:-1] + w[1:]) - before - after) / 16.0).tolist()
    wl = w.tolist()
    out = np.empty((len(w), 4))
    q = tuple(q0)
    out[0] = q
    for k in range(len(w) - 1):
        k1 = _qdot(q, wl[k])
        k2 = _qdot(tuple(qi + 0.5 * h * ki for qi, ki in zip(q, k1, strict=True)), mid[k])
        k3 = _qdot(tuple(qi + 0.5 * h * ki for qi, ki in zip(q, k2, strict=True)), mid[k])
        k4 = _qdot(tuple(qi + h * ki for qi, ki in zip(q, k3, strict=True)), wl[k + 1])
        q = tuple(
            qi + h / 6.0 * (a + 2.0 * b + 2.0 * c + d)
            for qi, a, b, c, d in zip(q, k1, k2, k3, k4, strict=True)
        )
        norm = math.sqrt(sum(x * x for x in q))
        q = tuple(x / norm for x in q)
        out[k + 1] = q
    return out


def quat_zyx(yaw_deg: float, tilt_deg: float, obliquity_deg: float) -> tuple[float, ...]:
    """Quaternion of Rz(yaw) Ry(tilt) Rx(obliquity), the generator's documented convention."""
    cy, sy = math.cos(math.radians(yaw_deg) / 2), math.sin(math.radians(yaw_deg) / 2)
    cp, sp = math.cos(math.radians(tilt_deg) / 2), math.sin(math.radians(tilt_deg) / 2)
    cr, sr = math.cos(math.radians(obliquity_deg) / 2), math.sin(math.radians(obliquity_deg) / 2)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def integrated_orientation(trace: SynthTrace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate the trace's gyro from its initial truth; returns (up vectors u, left axes in
    world, yaw_deg)."""
    c = trace.columns
    w_body = np.radians(body_from_default_mount(vec(trace, ["gx_dps", "gy_dps", "gz_dps"])))
    q0 = quat_zyx(c["yaw_deg"][0], c["tilt_deg"][0], c["obliquity_deg"][0])
    w, x, y, z = integrate_gyro(w_body, 1.0 / trace.rate_hz, q0).T
    # rows/columns of R_wb: u = R^T z_world = third row; left axis in world = second column
    u = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1)
    left_world = np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], 1)
    yaw = np.degrees(np.unwrap(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))))
    return u, left_world, yaw


def read_trace_csv(path: Path) -> tuple[dict[str, str], list[str], list[list[str]]]:
    meta: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while lines[i].startswith("#"):
        key, _, value = lines[i][1:].partition(":")
        meta[key.strip()] = value.strip()
        i += 1
    rows = list(csv.reader(lines[i:]))
    return meta, rows[0], rows[1:]


@pytest.fixture(scope="module")
def weak_right() -> SynthTrace:
    return generate(PRESETS["weak-right"](60.0), seed=3)


@pytest.fixture(scope="module")
def mixed_ideal() -> SynthTrace:
    return generate(PRESETS["mixed"](60.0), seed=5, noise=False)


# ------------------------------------------------------------------------------ file format


def test_trace_csv_follows_spec(tmp_path: Path, weak_right: SynthTrace) -> None:
    path = tmp_path / "trace.csv"
    synth.write_trace_csv(weak_right, path)
    meta, header, rows = read_trace_csv(path)

    assert meta["source"].startswith("hipcue synth ")
    assert meta["rate_hz"] == "100"
    assert meta["mount"] == "forward=-z left=+y up=+x"
    assert meta["imu"] == "LSM6DSOX \u00b18 g \u00b12000 dps"
    assert set(REQUIRED + TRUTH) <= set(header)
    assert len(rows) == 6000 and all(len(r) == len(header) for r in rows)

    col = {name: [r[j] for r in rows] for j, name in enumerate(header)}
    numeric = np.array([[float(v) for v in col[n]] for n in REQUIRED + TRUTH[:3]])
    assert np.all(np.isfinite(numeric))
    t = numeric[0]
    assert t[0] == 0.0 and np.all(np.diff(t) > 0)
    assert np.allclose(np.diff(t), 0.01, atol=1e-6)
    assert set(col["stance"]) == {"L", "R", "-"}
    assert set(col["ic"]) == {"L", "R", "-"}
    assert set(col["activity"]) == {"stand", "walk", "turn"}
    # the file holds what the trace holds
    assert np.allclose(numeric[1], weak_right.columns["ax_g"], atol=5e-7)
    assert np.allclose(numeric[7], weak_right.columns["obliquity_deg"], atol=5e-5)


def test_steps_csv(tmp_path: Path, weak_right: SynthTrace) -> None:
    path = tmp_path / "steps.csv"
    synth.write_steps_csv(weak_right, path)
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    assert rows[0] == ["t_ic_s", "stance", "drop_deg"]
    assert len(rows) - 1 == len(weak_right.steps) > 80
    for (t, side, drop), row in zip(weak_right.steps, rows[1:], strict=True):
        assert float(row[0]) == pytest.approx(t, abs=1e-4)
        assert row[1] == side
        assert float(row[2]) == pytest.approx(drop, abs=1e-4)


def test_values_are_quantised_counts(tmp_path: Path) -> None:
    trace = generate(PRESETS["mixed"](40.0), seed=1)  # includes running, i.e. large values
    path = tmp_path / "trace.csv"
    synth.write_trace_csv(trace, path)
    _, header, rows = read_trace_csv(path)
    data = np.array([[float(r[header.index(n)]) for n in REQUIRED[1:]] for r in rows])
    for j, lsb in enumerate([ACCEL_LSB_G] * 3 + [GYRO_LSB_DPS] * 3):
        counts = data[:, j] / lsb
        assert np.abs(counts - np.rint(counts)).max() < 1e-3
        assert counts.min() >= -32768 and counts.max() <= 32767
        assert len(np.unique(np.rint(counts))) > 100  # not stuck
    assert np.abs(data[:, :3]).max() > 1.5  # running reaches well past 1 g


def test_saturation() -> None:
    counts = synth.to_counts(np.array([-20.0, -7.9, 0.00013, 7.9, 20.0]), ACCEL_LSB_G)
    assert counts.tolist() == [-32768, -32377, 1, 32377, 32767]


# ------------------------------------------------------------------------- sensor physics


def _steady(trace: SynthTrace, kinds: set[str], margin_s: float) -> np.ndarray:
    """Samples of the given activities at least margin_s from any change of activity."""
    act = trace.columns["activity"]
    t = trace.columns["t_s"]
    change = t[1:][act[1:] != act[:-1]]
    far = np.all(np.abs(t[:, None] - change[None, :]) > margin_s, axis=1)
    return np.isin(act, list(kinds)) & far


def test_still_accel_matches_truth_angles(mixed_ideal: SynthTrace) -> None:
    still = _steady(mixed_ideal, {"stand", "sit"}, 1.6)
    assert still.sum() > 800
    f = body_from_default_mount(vec(mixed_ideal, ["ax_g", "ay_g", "az_g"]))[still]
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=0.002)  # gravity only
    obliquity, tilt = spec_angles(f)
    assert np.abs(obliquity - mixed_ideal.columns["obliquity_deg"][still]).max() < 0.1
    assert np.abs(tilt - mixed_ideal.columns["tilt_deg"][still]).max() < 0.1
    # sitting tilts the pelvis posteriorly (negative tilt) by 15-25 degrees
    sitting = _steady(mixed_ideal, {"sit"}, 1.6)[still]
    assert sitting.sum() > 300
    assert np.all((tilt[sitting] < -15.0) & (tilt[sitting] > -25.0))


@pytest.mark.parametrize("noise", [False, True])
def test_spec_calibration_recovers_truth(noise: bool) -> None:
    """The spec's standing calibration (mean up, then the mount's forward axis made orthogonal)
    must give the truth angles, whatever the mount pitch: it is not in the truth columns."""
    trace = generate(PRESETS["mixed"](60.0), seed=2, noise=noise, mount_pitch_deg=23.0)
    acc = vec(trace, ["ax_g", "ay_g", "az_g"])
    z_b = acc[:150].mean(axis=0)
    z_b /= np.linalg.norm(z_b)
    fwd = np.array([0.0, 0.0, -1.0])  # forward=-z
    x_b = fwd - (fwd @ z_b) * z_b
    x_b /= np.linalg.norm(x_b)
    y_b = np.cross(z_b, x_b)
    still = _steady(trace, {"stand", "sit"}, 1.6)
    u = acc[still] @ np.stack([x_b, y_b, z_b], axis=1)
    u /= np.linalg.norm(u, axis=1)[:, None]
    obliquity, tilt = spec_angles(u)
    tol = 1.0 if noise else 0.1  # with noise: offsets of up to 20 mg, noise, scale errors
    assert np.abs(obliquity - trace.columns["obliquity_deg"][still]).max() < tol
    assert np.abs(tilt - trace.columns["tilt_deg"][still]).max() < tol


def test_integrated_gyro_reproduces_truth() -> None:
    """Generator accuracy: with the quantisation off, integrating the gyro of a 60 s walk
    reproduces the truth within 0.01 degrees."""
    trace = generate(straight_walk(), seed=4, noise=False, quantise=False)
    u, _, yaw = integrated_orientation(trace)
    obliquity, tilt = spec_angles(u)
    assert np.abs(obliquity - trace.columns["obliquity_deg"]).max() < 0.01
    assert np.abs(tilt - trace.columns["tilt_deg"]).max() < 0.01
    assert np.abs(yaw - trace.columns["yaw_deg"]).max() < 0.01


@pytest.mark.parametrize("seed", [0, 1])
def test_integrated_quantised_gyro_stays_close(seed: int) -> None:
    """The noise-free (but quantised, 70 mdps steps) gyro: within 0.05 degrees is typical; the
    bound allows for sub-LSB standing sway that an undithered quantiser drops."""
    trace = generate(straight_walk(), seed=seed, noise=False)
    u, _, _ = integrated_orientation(trace)
    obliquity, tilt = spec_angles(u)
    err = np.maximum(
        np.abs(obliquity - trace.columns["obliquity_deg"]),
        np.abs(tilt - trace.columns["tilt_deg"]),
    )
    assert np.percentile(err, 90) < 0.05
    assert err.max() < 0.15


def test_velocity_closes() -> None:
    """Accelerometer, gyro-free orientation truth and mount agree: rotating the specific force
    to the world and removing gravity integrates to walking/running speeds and back to rest."""
    trace = generate(PRESETS["mixed"](60.0), seed=5, noise=False, quantise=False)
    c = trace.columns
    f_body = body_from_default_mount(vec(trace, ["ax_g", "ay_g", "az_g"]))
    rot = np.array(
        [
            synth.body_rotation(o, t, y)
            for o, t, y in zip(c["obliquity_deg"], c["tilt_deg"], c["yaw_deg"], strict=True)
        ]
    )
    a_world = (np.einsum("nij,nj->ni", rot, f_body) - [0.0, 0.0, 1.0]) * synth.G_MS2
    v = np.cumsum(a_world, axis=0) / trace.rate_hz
    speed = np.hypot(v[:, 0], v[:, 1])
    assert np.abs(v[-100:]).max() < 0.05  # at rest again at the end
    walk = _steady(trace, {"walk"}, 1.5)
    run = _steady(trace, {"run"}, 1.5)
    assert 1.0 < np.median(speed[walk]) < 1.4
    assert 2.5 < np.median(speed[run]) < 3.2
    sit = _steady(trace, {"sit"}, 1.6)
    assert np.abs(v[sit]).max() < 0.05


# ------------------------------------------------------------------------------ gait truth


def test_steps_alternate_and_match_the_obliquity(weak_right: SynthTrace) -> None:
    c = weak_right.columns
    t = c["t_s"]
    steps = weak_right.steps
    sides = [s for _, s, _ in steps]
    # alternate within a bout (this preset has one bout)
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False))
    ic_rows = np.flatnonzero(c["ic"] != "-")
    assert len(ic_rows) == len(steps)
    for (t_ic, side, _), row in zip(steps, ic_rows, strict=True):
        assert abs(t[row] - t_ic) <= 0.5 / RATE + 1e-9
        assert c["ic"][row] == side and c["stance"][row] == side
    # drop = the swing side's largest drop during the stance, recomputed per the spec; on the
    # sample grid a stance runs from its ic row to the next ic row (the last to the bout's end)
    ends = [*ic_rows[1:], np.flatnonzero(c["stance"] != "-")[-1] + 1]
    for (_, side, drop), i0, i1 in zip(steps, ic_rows, ends, strict=True):
        obl = c["obliquity_deg"][i0:i1]
        expect = np.maximum(-obl, 0).max() if side == "R" else np.maximum(obl, 0).max()
        assert drop == pytest.approx(expect, abs=1e-9)
        assert np.all(c["stance"][i0:i1] == side)
    # the cadence asked for (105 steps/min)
    t_ic = np.array([s[0] for s in steps])
    assert 60.0 / np.median(np.diff(t_ic)) == pytest.approx(105.0, rel=0.03)
    # the drop peaks 15-25 % of the step after IC
    for (_, side, _), i0, i1 in list(zip(steps, ic_rows, ends, strict=True))[10:20]:
        swing = -c["obliquity_deg"][i0:i1] if side == "R" else c["obliquity_deg"][i0:i1]
        assert 0.12 <= np.argmax(swing) / (i1 - i0) <= 0.28


@pytest.mark.parametrize(
    ("preset", "left", "right"),
    [("weak-right", 4.0, 9.0), ("weak-left", 9.0, 4.0), ("healthy", 4.0, 4.0)],
)
def test_drops_match_requested_amplitudes(preset: str, left: float, right: float) -> None:
    trace = generate(PRESETS[preset](60.0), seed=7)
    # steady walking: away from the 1 s ramps at the start and end of the bout
    steady = [(s, d) for t, s, d in trace.steps if 3.5 < t < 56.0]
    lefts = np.array([d for s, d in steady if s == "L"])
    rights = np.array([d for s, d in steady if s == "R"])
    assert len(lefts) > 40 and len(rights) > 40
    assert np.all(np.abs(lefts - left) <= 1.0) and np.all(np.abs(rights - right) <= 1.0)
    assert np.median(lefts) == pytest.approx(left, abs=0.3)
    assert np.median(rights) == pytest.approx(right, abs=0.3)
    assert np.std(rights) > 0.05  # step-to-step variability exists


def test_weak_right_drops_more_in_right_stance(weak_right: SynthTrace) -> None:
    right = np.median([d for _, s, d in weak_right.steps if s == "R"])
    left = np.median([d for _, s, d in weak_right.steps if s == "L"])
    assert right > left + 3.0


def test_obliquity_sign_convention() -> None:
    # the generator's rotation: positive obliquity lowers the right side
    r = synth.body_rotation(5.0, 0.0, 30.0)
    right_hip, left_hip = r @ [0.0, -0.15, 0.0], r @ [0.0, 0.15, 0.0]
    assert right_hip[2] < left_hip[2]
    u = r.T @ [0.0, 0.0, 1.0]
    assert spec_angles(u[None, :])[0][0] == pytest.approx(5.0)
    assert synth.angles_from_up(u)[0] == pytest.approx(5.0)
    # positive tilt tips the forward axis down (anterior)
    assert (synth.body_rotation(0.0, 5.0, 0.0) @ [1.0, 0.0, 0.0])[2] < 0

    # in a generated walk, against the orientation integrated from its gyro: where the truth
    # says obliquity > 0 the left axis points up in the world, i.e. the right side is lower
    trace = generate(straight_walk(), seed=9, noise=False)
    _, left_world, _ = integrated_orientation(trace)
    obl = trace.columns["obliquity_deg"]
    clear = np.abs(obl) > 0.5
    assert clear.sum() > 2000
    assert np.all(np.sign(left_world[clear, 2]) == np.sign(obl[clear]))
    # during right stance the left (swing) side drops: obliquity goes negative
    stance = trace.columns["stance"]
    assert obl[stance == "R"].min() < -8.0 and obl[stance == "L"].max() > 3.0


def test_mediolateral_acceleration_away_from_stance_foot() -> None:
    trace = generate(straight_walk(), seed=11, noise=False, quantise=False)
    c = trace.columns
    f_body = body_from_default_mount(vec(trace, ["ax_g", "ay_g", "az_g"]))
    rot = np.array(
        [
            synth.body_rotation(o, t, y)
            for o, t, y in zip(c["obliquity_deg"], c["tilt_deg"], c["yaw_deg"], strict=True)
        ]
    )
    a_left = np.einsum("nij,nj->ni", rot, f_body)[:, 1]  # straight walk: world y = left
    t = c["t_s"]
    steps = [s for s in trace.steps if 4.0 < s[0] < 55.0]
    for (t0, side, _), (t1, _, _) in zip(steps, steps[1:], strict=False):
        mid = (t >= t0 + 0.35 * (t1 - t0)) & (t < t0 + 0.65 * (t1 - t0))
        mean = a_left[mid].mean()
        assert (mean < -0.05) if side == "L" else (mean > 0.05)  # L stance: toward the right


# ---------------------------------------------------------------------------- activities


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets(name: str) -> None:
    segments = PRESETS[name](60.0)
    assert sum(s.duration_s for s in segments) == pytest.approx(60.0)
    assert segments[0].kind == "stand" and segments[0].duration_s >= 2.0
    trace = generate(segments, seed=0)
    c = trace.columns
    assert len(c["t_s"]) == 6000
    first = c["t_s"] < 2.0
    assert np.all(c["activity"][first] == "stand") and np.all(c["stance"][first] == "-")
    gyro = vec(trace, ["gx_dps", "gy_dps", "gz_dps"])[first]
    assert np.abs(gyro - gyro.mean(axis=0)).max() < 0.5  # still: bias and noise only
    # no jumps anywhere: sample-to-sample changes stay physical
    acc = vec(trace, ["ax_g", "ay_g", "az_g"])
    assert np.abs(np.diff(c["obliquity_deg"])).max() < 1.5
    assert np.abs(np.diff(acc, axis=0)).max() < 1.5


def test_run_has_flight_and_big_vertical_peaks() -> None:
    trace = generate(PRESETS["run"](30.0), seed=0, noise=False)
    f = body_from_default_mount(vec(trace, ["ax_g", "ay_g", "az_g"]))
    running = _steady(trace, {"run"}, 1.5)
    up = f[running, 2]
    assert (np.linalg.norm(f[running], axis=1) < 0.15).mean() > 0.15  # flight: free fall
    assert 1.5 < np.percentile(up, 95) < 2.6
    t_ic = np.array([s[0] for s in trace.steps if 5.0 < s[0] < 28.0])
    assert 160 < 60.0 / np.median(np.diff(t_ic)) < 180


def test_walk_vertical_and_turn() -> None:
    trace = generate(PRESETS["mixed"](60.0), seed=3, noise=False, quantise=False)
    f = body_from_default_mount(vec(trace, ["ax_g", "ay_g", "az_g"]))
    walk = _steady(trace, {"walk"}, 1.5)
    assert 0.2 < np.percentile(f[walk, 2] - 1.0, 99) < 0.7  # upward peaks incl. impacts
    assert -0.4 < np.percentile(f[walk, 2] - 1.0, 1) < -0.15
    yaw = trace.columns["yaw_deg"]
    stand = _steady(trace, {"stand"}, 1.6)
    assert np.median(yaw[stand][-50:]) - np.median(yaw[stand][:50]) == pytest.approx(180, abs=1)


def test_seeds_are_deterministic() -> None:
    a = generate(PRESETS["healthy"](20.0), seed=42)
    b = generate(PRESETS["healthy"](20.0), seed=42)
    c = generate(PRESETS["healthy"](20.0), seed=43)
    for name in REQUIRED + TRUTH:
        assert np.array_equal(a.columns[name], b.columns[name])
    assert a.steps == b.steps and a.meta == b.meta
    assert not np.array_equal(a.columns["ax_g"], c.columns["ax_g"])


def test_other_mounts_and_bad_input() -> None:
    trace = generate(
        [Segment("stand", 3.0)], mount="forward=+x left=+y up=+z", mount_pitch_deg=0, noise=False
    )
    acc = vec(trace, ["ax_g", "ay_g", "az_g"])
    assert np.allclose(acc.mean(axis=0), [0.0, 0.0, 1.0], atol=0.002)
    for bad in ["forward=+x left=+x up=+z", "forward=+x left=-y up=+z", "forward=x up=+z", "x"]:
        with pytest.raises(ValueError):
            synth.parse_mount(bad)
    with pytest.raises(ValueError):
        generate([Segment("walk", 10.0)])  # must start standing still
    with pytest.raises(ValueError):
        generate([Segment("stand", 2.0), Segment("hop", 5.0)])


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, steps = tmp_path / "t.csv", tmp_path / "s.csv"
    argv = ["--out", str(out), "--preset", "healthy", "--duration", "12", "--seed", "5"]
    assert synth.main([*argv, "--steps-out", str(steps)]) == 0
    meta, header, rows = read_trace_csv(out)
    assert meta["source"].startswith("hipcue synth preset=healthy duration_s=12 seed=5")
    assert len(rows) == 1200 and steps.read_text().startswith("t_ic_s,stance,drop_deg\n")
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    assert synth.main(["--out", str(bad), "--preset", "mixed", "--duration", "10"]) == 1
    assert "hipcue synth:" in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == sorted([out, steps])  # nothing half-written
    with pytest.raises(SystemExit):
        synth.main(["--out", str(bad), "--preset", "nope"])


def test_fast_enough() -> None:
    start = time.perf_counter()
    generate(PRESETS["mixed"](60.0), seed=0)
    assert time.perf_counter() - start < 1.0
