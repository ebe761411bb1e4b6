"""Synthetic exercise sets (issue #16) with truth per rep: `hipcue synth --preset EXERCISE`.

The same frames, sensor model and trace format as the walking generator (synth.py, whose
`sense` turns a motion into IMU readings); only the motion differs. Every set starts with
3 s of standing still (the firmware calibrates from it). Rep k runs from t0_k for T_k
seconds; its shape is w(x) (x = (t - t0_k) / T_k): a quintic rise over the first 45 %, a
10 % hold at the bottom and a quintic return over the last 45 % (C2, so rates and
accelerations have no jumps).

* single-leg-squat / step-down, on the `side` leg: after 1 s the other foot lifts (the swing
  side drops a baseline b0 of 0.5-2 deg, swaying +/-0.3 deg at 0.4 Hz). Per rep the pelvis
  tilts forward by A (squat 12-25 deg, step-down 8-15 deg) and goes down by D (squat
  0.15-0.30 m, step-down 0.10-0.20 m) and back 5 cm; the swing side drops to d_k (2-12 deg)
  with the same shape, shifted by -5..+10 % of the rep. Reps last 2-4 s (step-down 1.5-3 s),
  with 0.8-1.5 s between them. The foot comes down 1 s after the last rep.
* band-walk: side steps to the left, 0.6-0.9 s each, stances alternating (right first: the
  left foot steps out); the swing side drops 3-10 deg per step (a bump over the step), the
  pelvis moves 0.15 m left per step with a 1 cm bounce.
* leg-lift / clamshell, `side` the top leg: the wearer lies down onto the other side over 3 s
  (obliquity to +/-90 deg), rests 2 s, then reps: the pelvis hikes by 3-8 deg (leg-lift) or
  1-3 deg (clamshell) and rolls back by r_k: leg-lift 0-4 deg, clamshell 0-12 deg (the
  compensation; its truth is the rep's "drop").
Truth per rep: start time, duration, stance side, the rep's peak drop (the swing side's drop
for squats/step-downs/side steps, the roll back for the lying exercises; from the truth
obliquity and tilt over the rep), the time of that peak, and the rep's peak pelvic motion in
the detector's terms (a rep moving the pelvis less than the onset cannot be counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipcue import synth
from hipcue.synth import FloatArray

EXERCISES = synth.EXERCISE_PRESETS
START_STILL_S = 3.0
LIFT_S = 1.0  # standing on both legs after the still start, before the foot lifts
FOOT_RAMP_S = 0.3
SWAY_DEG = 0.3
SWAY_HZ = 0.4
LIE_S = 3.0
REST_S = 2.0


@dataclass
class Rep:
    t0: float
    dur: float
    stance: str  # "L" or "R"
    drop_deg: float = 0.0  # truth: the peak drop (lying: roll back) over the rep
    peak_s: float = 0.0
    # truth: the rep's peak pelvic motion as the detector sees it (shared/exercise.py): tilt
    # rise (squat, step-down), |obliquity| (band walk), |d obliquity| + |d tilt| (lying)
    motion_deg: float = 0.0


def _shape(x: FloatArray) -> FloatArray:
    """0 -> 1 over x in [0, 0.45], 1 to 0.55, -> 0 at 1; 0 outside [0, 1]."""
    return synth._smoothstep(x / 0.45) * (1.0 - synth._smoothstep((x - 0.55) / 0.45))


def _bump(x: FloatArray) -> FloatArray:
    """0 -> 1 -> 0 over x in [0, 1] (a side step's drop)."""
    return synth._smoothstep(x / 0.5) * (1.0 - synth._smoothstep((x - 0.5) / 0.5))


class _Plan:
    def __init__(self, exercise: str, side: str, reps: int, rng: np.random.Generator) -> None:
        if exercise not in EXERCISES:
            raise ValueError(f"unknown exercise {exercise!r} (one of {', '.join(EXERCISES)})")
        if side not in ("left", "right"):
            raise ValueError(f"side must be left or right, not {side!r}")
        if not 1 <= reps <= 200:
            raise ValueError(f"reps {reps}: must be 1..200")
        self.exercise = exercise
        self.side = side
        u = rng.uniform
        self.reps: list[Rep] = []
        self.amp_tilt: list[float] = []
        self.amp_obl: list[float] = []
        self.amp_z: list[float] = []
        self.shift: list[float] = []
        self.sway_phase = float(u(0.0, 2.0 * math.pi))
        # stance left: the right side drops, obliquity > 0 (spec)
        self.sign = 1.0 if side == "left" else -1.0
        t = START_STILL_S
        if exercise in ("single-leg-squat", "step-down"):
            squat = exercise == "single-leg-squat"
            self.b0 = float(u(0.5, 2.0))
            self.lift_t = t + LIFT_S
            t = self.lift_t + 1.5
            for _ in range(reps):
                dur = float(u(2.0, 4.0) if squat else u(1.5, 3.0))
                self.reps.append(Rep(t, dur, "L" if side == "left" else "R"))
                self.amp_tilt.append(float(u(12.0, 25.0) if squat else u(8.0, 15.0)))
                self.amp_z.append(float(u(0.15, 0.30) if squat else u(0.10, 0.20)))
                self.amp_obl.append(float(u(2.0, 12.0)))
                self.shift.append(float(u(-0.05, 0.10)))
                t += dur + float(u(0.8, 1.5))
            self.down_t = t + 1.0
            self.total_s = self.down_t + 2.0
        elif exercise == "band-walk":
            self.b0 = 0.0
            stance = "R"
            for _ in range(reps):
                dur = float(u(0.6, 0.9))
                self.reps.append(Rep(t, dur, stance))
                self.amp_obl.append(float(u(3.0, 10.0)))
                stance = "L" if stance == "R" else "R"
                t += dur
            self.total_s = t + 2.0
        else:
            lift = exercise == "leg-lift"
            self.b0 = 0.0
            # top leg left: lying on the right side, the left side up, obliquity +90
            self.lie_sign = 1.0 if side == "left" else -1.0
            self.lie_t = t
            t += LIE_S + REST_S
            for _ in range(reps):
                dur = float(u(1.5, 3.0))
                self.reps.append(Rep(t, dur, "L" if side == "left" else "R"))
                self.amp_obl.append(float(u(3.0, 8.0) if lift else u(1.0, 3.0)))
                self.amp_tilt.append(float(u(0.0, 4.0) if lift else u(0.0, 12.0)))
                t += dur + float(u(0.8, 1.5))
            self.total_s = t + 2.0

    # -- kinematics, evaluable at any times ----------------------------------------------
    def angles(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        phi = np.zeros_like(t)
        theta = np.zeros_like(t)
        ex = self.exercise
        if ex in ("single-leg-squat", "step-down"):
            on = synth._window(t, self.lift_t, self.down_t, FOOT_RAMP_S)
            sway = SWAY_DEG * np.sin(2.0 * math.pi * SWAY_HZ * t + self.sway_phase)
            phi += self.sign * (self.b0 + sway) * on
            for k, r in enumerate(self.reps):
                x = (t - r.t0) / r.dur
                theta += self.amp_tilt[k] * _shape(x)
                phi += self.sign * (self.amp_obl[k] - self.b0) * _shape(x - self.shift[k])
        elif ex == "band-walk":
            for k, r in enumerate(self.reps):
                s = 1.0 if r.stance == "L" else -1.0
                phi += s * self.amp_obl[k] * _bump((t - r.t0) / r.dur)
        else:
            phi += self.lie_sign * 90.0 * synth._smoothstep((t - self.lie_t) / LIE_S)
            for k, r in enumerate(self.reps):
                w = _shape((t - r.t0) / r.dur)
                # the top side hikes: lying with obliquity +90, the pelvis rotates toward 0
                phi -= self.lie_sign * self.amp_obl[k] * w
                theta -= self.amp_tilt[k] * w  # rolling back: the forward axis turns up
        return np.radians(phi), np.radians(theta), np.zeros_like(t)

    def displacement(self, t: FloatArray) -> FloatArray:
        d = np.zeros((len(t), 3))
        ex = self.exercise
        if ex in ("single-leg-squat", "step-down"):
            for k, r in enumerate(self.reps):
                w = _shape((t - r.t0) / r.dur)
                d[:, 2] -= self.amp_z[k] * w
                d[:, 0] -= 0.05 * w
        elif ex == "band-walk":
            for r in self.reps:
                x = (t - r.t0) / r.dur
                d[:, 1] += 0.15 * synth._smoothstep(x)
                d[:, 2] += 0.01 * _bump(x)
        else:
            d[:, 2] -= 0.5 * synth._smoothstep((t - self.lie_t) / LIE_S)
        return d

    def accel_world(self, t: FloatArray) -> FloatArray:
        h2 = synth._DIFF2_H_S
        return (
            self.displacement(t + h2) - 2.0 * self.displacement(t) + self.displacement(t - h2)
        ) / (h2 * h2)


def generate(
    exercise: str,
    side: str = "left",
    reps: int = 10,
    *,
    rate_hz: float = 100.0,
    mount: str = synth.DEFAULT_MOUNT,
    mount_pitch_deg: float = 15.0,
    seed: int = 0,
    noise: bool = True,
) -> tuple[synth.SynthTrace, list[Rep]]:
    """A synthetic exercise set and its truth per rep."""
    rng = np.random.default_rng(seed)
    plan = _Plan(exercise, side, reps, rng)
    n = int(math.floor(plan.total_s * rate_hz + 1e-9))
    t = np.arange(n, dtype=np.float64) / rate_hz
    m_sb = synth.sensor_from_body(mount, mount_pitch_deg)
    accel, gyro, u, psi, meta_errors = synth.sense(
        t, plan.angles, plan.accel_world, m_sb, rng, noise, synth.LSM6DSOX, True, rate_hz
    )
    obliquity, tilt = synth.angles_from_up(u)
    lying = exercise in ("leg-lift", "clamshell")
    rest_tilt = 0.0
    out: list[Rep] = []
    for r in plan.reps:
        i0 = int(math.ceil(r.t0 * rate_hz))
        i1 = min(int(math.floor((r.t0 + r.dur) * rate_hz)) + 1, n)
        if lying:
            d = np.maximum(rest_tilt - tilt[i0:i1], 0.0)
        elif r.stance == "L":
            d = np.maximum(obliquity[i0:i1], 0.0)
        else:
            d = np.maximum(-obliquity[i0:i1], 0.0)
        j = int(np.argmax(d))
        if lying:
            rest_obl = 90.0 if side == "left" else -90.0
            motion = np.abs(obliquity[i0:i1] - rest_obl) + np.abs(tilt[i0:i1] - rest_tilt)
        elif exercise == "band-walk":
            motion = np.abs(obliquity[i0:i1])
        else:
            motion = tilt[i0:i1]
        rep = Rep(r.t0, r.dur, r.stance, float(d[j]), float(t[i0 + j]), float(motion.max()))
        out.append(rep)
    activity = np.full(n, "stand", dtype="<U5")
    for r in plan.reps:
        activity[(t >= r.t0) & (t < r.t0 + r.dur)] = "rep"
    columns = {
        "t_s": t,
        "ax_g": accel[:, 0],
        "ay_g": accel[:, 1],
        "az_g": accel[:, 2],
        "gx_dps": gyro[:, 0],
        "gy_dps": gyro[:, 1],
        "gz_dps": gyro[:, 2],
        "obliquity_deg": obliquity,
        "tilt_deg": tilt,
        "yaw_deg": np.degrees(psi),
        "activity": activity,
    }
    meta = {
        "source": (
            f"hipcue synth exercise={exercise} side={side} reps={reps} seed={seed} "
            f"rate_hz={rate_hz:g} mount_pitch_deg={mount_pitch_deg:g} noise={int(noise)}"
        ),
        "rate_hz": f"{rate_hz:g}",
        "mount": mount,
        "imu": synth.LSM6DSOX.label,
        "mount_pitch_deg": f"{mount_pitch_deg:g}",
        "truth": (
            "obliquity_deg/tilt_deg of the pelvis from its up vector (spec section 1); "
            "activity 'rep' inside each rep's window (the per-rep truth: --reps-out)"
        ),
        **meta_errors,
    }
    trace = synth.SynthTrace(rate_hz=rate_hz, mount=mount, columns=columns, steps=[], meta=meta)
    return trace, out


def write_reps_csv(reps: list[Rep], path: str) -> None:
    """Per-rep truth: t_s (start), duration_s, stance, drop_deg, peak_s, motion_deg."""
    lines = ["t_s,duration_s,stance,drop_deg,peak_s,motion_deg"]
    lines += [
        f"{r.t0:.4f},{r.dur:.4f},{r.stance},{r.drop_deg:.4f},{r.peak_s:.4f},{r.motion_deg:.4f}"
        for r in reps
    ]
    synth._write_atomic(path, "\n".join(lines) + "\n")


def read_reps_csv(path: str) -> list[Rep]:
    rows = open(path).read().splitlines()[1:]
    out = []
    for row in rows:
        t0, dur, stance, drop, peak, motion = row.split(",")
        out.append(Rep(float(t0), float(dur), stance, float(drop), float(peak), float(motion)))
    return out
