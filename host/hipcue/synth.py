"""Synthetic traces of a sacrum-worn IMU during standing, walking, running, turning and sitting.

Writes trace CSV v1 files (``../shared/spec/trace-and-replay.md`` section 2) with exact truth
columns, so the firmware's estimator and step detector can be checked against known answers.

Model, in short (every number below is in SI units unless its name says otherwise):

* Frames. World: z up, x the initial walking direction. Body (pelvis): x forward, y left, z up,
  equal to the world frame (up to heading) when standing in neutral. Pelvis orientation
  ``R_wb = Rz(psi) @ Ry(theta) @ Rx(phi)`` (yaw, then pitch about left, then roll about forward),
  so the up vector in the body frame is ``u = R_wb.T @ z = (-sin theta, cos theta sin phi,
  cos theta cos phi)`` and the spec's angles come out as obliquity = phi (positive: the left side
  rises, i.e. the RIGHT side is lower) and tilt = theta (positive: the forward axis tips down,
  anterior tilt). The truth columns are nevertheless always computed from ``u`` with the spec's
  formulas.
* Gait. Each bout of walking/running runs on a smooth gait phase Phi(t) that counts steps
  (Phi = k at the k-th initial contact, IC): its rate is the cadence, crossfaded between segments,
  plus a small seeded phase modulation (step-to-step timing variability). ICs alternate sides; a
  step lasts from one IC to the next. During a stance the swing side drops: each step adds a C2
  bump that starts late in the previous step, peaks 17-23 % of the step after its IC with that
  step's amplitude (the side's requested drop, +/- a few % per step) and is back to level before
  the next step's peak, so the per-step extremes are exactly the drops asked for. Tilt
  oscillates once per step, yaw once per stride.
* Acceleration. The sacrum moves along the progression path (speed = step length x cadence,
  following the heading, so speed changes and turns give their tangential and centripetal
  parts) plus a bounded displacement: vertical once per step, anterior-posterior once per step
  (braking, then propulsion), mediolateral once per stride (over the stance foot, pushed away
  from it), sitting down, standing sway. Its second derivative is the linear acceleration, so
  the velocity cannot drift. Running has contact and flight: a half-sine ground reaction
  averaging 1 g, and zero specific force in flight. A zero-mean impact transient (a Ricker
  wavelet) follows each IC.
* Activities ramp in and out with C2-smooth (quintic) transitions, so orientation, angular rate
  and acceleration have no jumps.
* Sensor. Gyro = body angular velocity, from the Euler-angle rates (central differences of the
  analytic angle functions, h = 1e-4 s: relative error ~1e-6; integrating it reproduces the
  orientation to well under 0.01 degree over a minute). Accel = specific force
  ``R_wb.T @ (a_world / g + z)`` in g, with a_world from second differences (h = 2e-4 s) of the
  displacement. Both are mapped to the sensor's axes through the mount and ``mount_pitch_deg``,
  then given the datasheet's errors and quantised to int16 counts.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hipcue.argtypes import number, whole

FloatArray = npt.NDArray[np.float64]

G_MS2 = 9.80665  # standard gravity; the accelerometer's "g"

DEFAULT_MOUNT = "forward=-z left=+y up=+x"
KINDS = ("stand", "walk", "run", "turn", "sit", "sls_left", "sls_right")
SLS_KINDS = frozenset({"sls_left", "sls_right"})  # single-leg stance (Trendelenburg test)
SLS_RAMP_S = 0.3  # lifting the foot: the drop builds up over this; putting it down: falls
SLS_SWAY_HZ = 0.4  # the drop sways +/- sway_deg at this rate while on one leg
SLS_IMPACT_G = 0.8  # the lifted foot coming down: a vertical Ricker transient
SLS_IMPACT_W_S = 0.03
GAIT_KINDS = frozenset({"walk", "run", "turn"})

GAIT_RAMP_S = 1.0  # gait bouts ramp up over their first and down over their last second
STYLE_CROSSFADE_S = 1.0  # walk <-> run style change inside a bout, centred on the boundary
SIT_TRANSITION_S = 1.5  # sitting down / standing up
MIN_START_STILL_S = 2.0  # the firmware calibrates from the initial standing period
_DIFF_H_S = 1e-4  # step of the central differences for the angle rates and the speed
_DIFF2_H_S = 2e-4  # step of the second differences of the displacements


# --------------------------------------------------------------------------------------------
# Sensor model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImuModel:
    """Datasheet numbers of an IMU at one full-scale setting (typical values)."""

    name: str
    accel_fs_g: float
    accel_sens_g: float  # g per LSB
    gyro_fs_dps: float
    gyro_sens_dps: float  # dps per LSB
    accel_noise_g_rthz: float  # noise density, g/sqrt(Hz)
    gyro_noise_dps_rthz: float  # noise density, dps/sqrt(Hz)
    accel_offset_g: float  # zero-g level offset accuracy, typical (+/-)
    gyro_bias_dps: float  # zero-rate level, typical (+/-)
    sens_tol: float  # sensitivity tolerance, typical (+/-, fraction)

    @property
    def label(self) -> str:
        return f"{self.name} \u00b1{self.accel_fs_g:g} g \u00b1{self.gyro_fs_dps:g} dps"


# ST LSM6DSOX (datasheet DS12814; the LSM6DSO, DS12140, has the same sensing core and the same
# Table 2 figures) in high-performance mode at FS = +/-8 g and +/-2000 dps, typical values:
# - sensitivity 0.244 mg/LSB at +/-8 g (4 x the 0.061 mg/LSB at +/-2 g of DS12140 Rev 2,
#   Table 2 note 13) and 70 mdps/LSB at +/-2000 dps (note 16);
# - sensitivity tolerance +/-1 % (after factory trimming, note 2);
# - zero-g level offset +/-20 mg, zero-rate level +/-1 dps;
# - noise density 70 ug/sqrt(Hz) (accel, independent of ODR, note 8) and 3.8 mdps/sqrt(Hz)
#   (gyro, independent of ODR and FS, note 6); the RMS noise is taken over BW = ODR/2, as the
#   datasheet states its RMS figures (note 10).
# Sources: the sensitivities and notes 2, 6, 8, 10, 13, 16 were read from DS12140 Rev 2 pp. 10-11
# (as mirrored for the SparkFun SEN-18020 board); 0.244 mg / 70 mdps per LSB also agree with the
# family's later LSM6DSV. The Table 2 rows with the +/-1 %, +/-20 mg, +/-1 dps, 70 ug/sqrt(Hz)
# and 3.8 mdps/sqrt(Hz) figures could not be retrieved here: they are the DSOX typicals as
# remembered (70 ug/sqrt(Hz) is also the brief's stated fallback). Check them against DS12814
# before relying on the noise model.
LSM6DSOX = ImuModel(
    name="LSM6DSOX",
    accel_fs_g=8.0,
    accel_sens_g=0.244e-3,
    gyro_fs_dps=2000.0,
    gyro_sens_dps=70e-3,
    accel_noise_g_rthz=70e-6,
    gyro_noise_dps_rthz=3.8e-3,
    accel_offset_g=20e-3,
    gyro_bias_dps=1.0,
    sens_tol=0.01,
)

_INT16_MIN = -32768
_INT16_MAX = 32767


def to_counts(values: FloatArray, sens: float) -> npt.NDArray[np.int64]:
    """Physical values -> int16 counts (round to nearest, saturate)."""
    counts = np.rint(values / sens)
    return np.clip(counts, _INT16_MIN, _INT16_MAX).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Mount
# --------------------------------------------------------------------------------------------

_AXES = {"x": 0, "y": 1, "z": 2}


def parse_mount(mount: str) -> FloatArray:
    """``forward=<axis> left=<axis> up=<axis>`` -> C, with ``v_sensor = C @ v_device``.

    Column j of C is the device's body-aligned axis j (forward, left, up) written in the sensor's
    axes. Only proper rotations are accepted (a left-handed mapping cannot be a real sensor).
    """
    parts: dict[str, str] = {}
    for token in mount.replace(",", " ").split():
        key, sep, value = token.partition("=")
        if not sep or key not in ("forward", "left", "up") or key in parts:
            raise ValueError(
                f"bad mount {mount!r}: expected 'forward=<axis> left=<axis> up=<axis>'"
            )
        parts[key] = value.strip()
    if set(parts) != {"forward", "left", "up"}:
        raise ValueError(f"bad mount {mount!r}: needs forward=, left= and up=")
    c = np.zeros((3, 3))
    for j, key in enumerate(("forward", "left", "up")):
        value = parts[key]
        sign = -1.0 if value.startswith("-") else 1.0
        name = value.lstrip("+-")
        if name not in _AXES or len(value) - len(name) > 1:
            raise ValueError(f"bad mount {mount!r}: axis {value!r} is not one of +x -x +y -y +z -z")
        c[_AXES[name], j] = sign
    if not np.allclose(c.T @ c, np.eye(3)) or np.linalg.det(c) < 0.5:
        raise ValueError(f"bad mount {mount!r}: axes must be distinct and right-handed")
    return c


def rot_x(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> FloatArray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def sensor_from_body(mount: str, mount_pitch_deg: float) -> FloatArray:
    """Matrix M with ``v_sensor = M @ v_body``.

    The device sits rotated about the body's left axis by ``mount_pitch_deg`` (positive: its up
    axis leans forward, as on the inclined sacrum, ``R_body_device = Ry(pitch)``); the mount maps
    the device's forward/left/up to sensor axes. A pitch-only offset keeps the mount's forward axis
    in the body's x-z plane, so the spec's standing calibration recovers the body frame exactly.
    """
    return parse_mount(mount) @ rot_y(math.radians(mount_pitch_deg)).T


def body_rotation(obliquity_deg: float, tilt_deg: float, yaw_deg: float) -> FloatArray:
    """``R_wb = Rz(yaw) @ Ry(tilt) @ Rx(obliquity)`` (this module's angle convention)."""
    return (
        rot_z(math.radians(yaw_deg))
        @ rot_y(math.radians(tilt_deg))
        @ rot_x(math.radians(obliquity_deg))
    )


def angles_from_up(u: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Spec section 1: (obliquity_deg, tilt_deg) from up vectors u (shape (..., 3))."""
    ux, uy, uz = u[..., 0], u[..., 1], u[..., 2]
    obliquity = np.degrees(np.arctan2(uy, uz))
    tilt = np.degrees(np.arctan2(-ux, np.hypot(uy, uz)))
    return obliquity, tilt


# --------------------------------------------------------------------------------------------
# Activities and styles
# --------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """One activity. Drops are the swing side's peak drop during that side's stance, degrees."""

    kind: str
    duration_s: float
    cadence_spm: float = 105.0
    drop_left_stance_deg: float = 4.0
    drop_right_stance_deg: float = 4.0
    turn_deg: float = 0.0
    # sls_left / sls_right: standing on that leg for the whole segment (the foot is lifted at
    # its start); the swing side drops drop_left_stance_deg (sls_left: the right side) or
    # drop_right_stance_deg (sls_right: the left side), +/- sway_deg; foot_down_s: the lifted
    # foot comes down (impact, level pelvis) this long after the segment's start (None: held)
    sway_deg: float = 0.0
    foot_down_s: float | None = None


@dataclass
class SynthTrace:
    rate_hz: float
    mount: str
    columns: dict[str, npt.NDArray[Any]]
    steps: list[tuple[float, str, float]]
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Style:
    """Gait amplitudes of one kind of locomotion (peak values of the resulting accelerations)."""

    tilt_deg: float  # +/- once per step: posterior at IC, anterior at mid-step
    yaw_deg: float  # +/- once per stride
    vert_g: float  # walking: +/- once per step, upward peak at vert_phase of the step
    vert_phase: float
    impact_g: float  # Ricker transient after each IC
    impact_w_s: float  # its width (sigma): peak frequency ~0.225/w Hz, little above ODR/2
    impact_delay_s: float
    ml_g: float  # mediolateral, once per stride, away from the stance foot at mid-stance
    ap_g: float  # anterior-posterior, once per step: braking after IC, then propulsion
    step_len_m: float


_WALK = _Style(
    tilt_deg=1.75,
    yaw_deg=4.0,
    vert_g=0.28,
    vert_phase=0.1,
    impact_g=0.2,
    impact_w_s=0.015,
    impact_delay_s=0.03,
    ml_g=0.12,
    ap_g=0.2,
    step_len_m=0.65,
)
_RUN = _Style(
    tilt_deg=2.5,
    yaw_deg=5.0,
    vert_g=0.0,  # running uses the contact/flight model below instead
    vert_phase=0.0,
    impact_g=0.9,
    impact_w_s=0.012,
    impact_delay_s=0.025,
    ml_g=0.2,
    ap_g=0.4,
    step_len_m=1.0,
)
RUN_CONTACT = 0.7  # fraction of a running step on the ground (flight for the rest)


def _style(kind: str) -> _Style:
    return _RUN if kind == "run" else _WALK


# --------------------------------------------------------------------------------------------
# Smooth shapes
# --------------------------------------------------------------------------------------------


def _smoothstep(x: FloatArray) -> FloatArray:
    """Quintic 0 -> 1 on [0, 1], C2 (zero slope and curvature at both ends)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def _smoothstep_integral(x: FloatArray) -> FloatArray:
    """Integral of _smoothstep from 0 to x (0 for x <= 0, x - 0.5 for x >= 1)."""
    xc = np.clip(x, 0.0, 1.0)
    inner = xc**4 * (xc * (xc - 3.0) + 2.5)
    return inner + np.maximum(x - 1.0, 0.0)


def _window(t: FloatArray, t0: float, t1: float, ramp: float) -> FloatArray:
    """1 inside [t0+ramp, t1-ramp], smooth ramps at both ends, 0 outside [t0, t1]."""
    return _smoothstep((t - t0) / ramp) * _smoothstep((t1 - t) / ramp)


DROP_RISE = 0.4  # step fraction from the start of a drop bump to its peak
DROP_FALL = 0.7  # step fraction from the peak back to level


def _drop_bump(x: FloatArray, peak: FloatArray) -> FloatArray:
    """Bump of the step phase x: 0 -> 1 at x = peak -> 0, C2 everywhere (quintic ramps; a kink
    in the angular acceleration at every step would make gyro integration drift)."""
    rise = _smoothstep((x - peak + DROP_RISE) / DROP_RISE)
    fall = 1.0 - _smoothstep((x - peak) / DROP_FALL)
    return np.where(x < peak, rise, fall)


def _ricker(x: FloatArray) -> FloatArray:
    """Impact transient, peak 1 at x = 0 (x in widths). It is the second derivative of a
    Gaussian, so it changes neither the velocity nor, in the end, the position."""
    x2 = x * x
    return (1.0 - x2) * np.exp(-0.5 * x2)


def _run_vertical(sigma: FloatArray, c: float = RUN_CONTACT) -> FloatArray:
    """Vertical displacement over a running step, in units of g * step_duration^2.

    The ground reaction is a half sine over the contact fraction c with peak pi/(2c) body
    weights (so it averages 1 g over the step) and zero in flight; the displacement is its
    double integral minus gravity, with the velocity and position constants chosen so that it is
    periodic (continuous with zero mean, up to C2) from step to step.
    """
    f2 = np.where(
        sigma < c,
        0.5 * (sigma - (c / math.pi) * np.sin(math.pi * np.minimum(sigma, c) / c)),
        sigma - 0.5 * c,
    )
    v0 = 0.5 * (c - 1.0)
    mean_f2 = c * c / 4.0 - c * c / math.pi**2 + 0.5 * (1.0 - c * c) - 0.5 * c * (1.0 - c)
    z0 = -(mean_f2 - 1.0 / 6.0 + 0.5 * v0)
    return f2 - 0.5 * sigma * sigma + v0 * sigma + z0


def _ap_shape(sigma: FloatArray, c: float) -> FloatArray:
    """Periodic displacement D(sigma) with D'' = -sin(2 pi sigma / c) while on the ground
    (sigma < c: braking, then propulsion) and 0 in flight. Walking: c = 1."""
    w = 2.0 * math.pi / c
    s = np.minimum(sigma, c)
    p2 = (np.sin(w * s) / w - s) / w  # double integral of the burst; constant after contact
    v0 = c / w  # makes D periodic
    z0 = c * c / (2.0 * w) + c * (1.0 - c) / w - c / (2.0 * w)  # zero mean
    return p2 + v0 * sigma + z0


def _ml_periodic(tau: FloatArray, c: float) -> FloatArray:
    """Stride-periodic D(tau), tau in [0, 2) steps: D'' = +sin(pi s / c) while on the ground in
    the first step (s = time since IC, in steps), its mirror image in the second, 0 in flight."""
    k = c / math.pi
    first = tau < 1.0
    since_ic = np.where(first, tau, tau - 1.0)
    s = np.minimum(since_ic, c)
    half = k * (s - k * np.sin(s / k))  # double integral of a half-sine burst
    # first step: the burst, then the velocity it left (2k) carries on through the flight;
    # second step: the mirrored burst brings the velocity back to zero
    end_first = k * c + 2.0 * k * (1.0 - c)
    q2 = np.where(first, half + 2.0 * k * (since_ic - s), end_first + 2.0 * k * s - half)
    return q2 - k * tau  # the drift -k * tau makes it periodic over the stride


@functools.lru_cache(maxsize=8)
def _ml_mean(c: float) -> float:
    return float(np.mean(_ml_periodic(np.linspace(0.0, 2.0, 20001)[:-1], c)))


def _ml_shape(tau: FloatArray, c: float) -> FloatArray:
    """_ml_periodic with zero mean (units: g * step_duration^2 per g of amplitude)."""
    return _ml_periodic(tau, c) - _ml_mean(c)


# --------------------------------------------------------------------------------------------
# The plan: segments, bouts, steps and random draws, fixed before any sample is computed
# --------------------------------------------------------------------------------------------


@dataclass
class _Bout:
    """A run of contiguous walk/turn/run segments, walked on one smooth gait phase.

    The gait phase Phi(t) counts steps: Phi = k at the k-th initial contact. Its rate is the
    crossfaded cadence plus a small seeded phase modulation (the step-to-step variability of
    timing), and it is smooth (C-infinity), so every gait signal built on it is smooth too.
    """

    t0: float
    t1: float
    ramp: float
    fade: float
    starts: list[float]  # segment start times (first = t0)
    segs: list[Segment]
    side0: float  # stance side of step 0: +1 left, -1 right
    mod: FloatArray  # phase modulation, rows (amplitude in steps, omega rad/s, phase rad)
    ic: FloatArray = field(default_factory=lambda: np.zeros(0))  # IC times, a few beyond t1
    amp_deg: FloatArray = field(default_factory=lambda: np.zeros(0))  # per step
    peak: FloatArray = field(default_factory=lambda: np.zeros(0))  # per step
    n_steps: int = 0  # steps in the truth table (ICs before the walker has stopped)

    def _edges(self, t: FloatArray) -> list[FloatArray]:
        return [_smoothstep((t - ts + 0.5 * self.fade) / self.fade) for ts in self.starts[1:]]

    def weights(self, t: FloatArray) -> list[FloatArray]:
        """Crossfade weights of the bout's segments (they sum to 1)."""
        edges = [np.ones_like(t), *self._edges(t), np.zeros_like(t)]
        return [edges[j] - edges[j + 1] for j in range(len(self.segs))]

    def blend(self, t: FloatArray, pick: Callable[[Segment], float]) -> FloatArray:
        return sum(
            (w * pick(s) for w, s in zip(self.weights(t), self.segs, strict=True)),
            np.zeros_like(t),
        )

    def run_weight(self, t: FloatArray) -> FloatArray:
        return self.blend(t, lambda s: 1.0 if s.kind == "run" else 0.0)

    def envelope(self, t: FloatArray) -> FloatArray:
        return _window(t, self.t0, self.t1, self.ramp)

    def step_rate(self, t: FloatArray) -> FloatArray:
        """Nominal steps per second (crossfaded cadence, without the modulation)."""
        return self.blend(t, lambda s: s.cadence_spm) / 60.0

    def phase(self, t: FloatArray) -> FloatArray:
        cad = [s.cadence_spm for s in self.segs]
        steps = cad[0] * (t - self.t0)
        for j, ts in enumerate(self.starts[1:], start=1):
            x = (t - ts + 0.5 * self.fade) / self.fade
            steps = steps + (cad[j] - cad[j - 1]) * self.fade * _smoothstep_integral(x)
        phase = steps / 60.0
        for amp, omega, ph in self.mod:
            phase = phase + amp * (np.sin(omega * (t - self.t0) + ph) - math.sin(ph))
        return phase

    def phase_rate(self, t: FloatArray) -> FloatArray:
        rate = self.step_rate(t)
        for amp, omega, ph in self.mod:
            rate = rate + amp * omega * np.cos(omega * (t - self.t0) + ph)
        return rate

    def side(self, k: npt.NDArray[np.int64]) -> FloatArray:
        return np.where(k % 2 == 0, self.side0, -self.side0)

    def solve_ics(self) -> None:
        """IC times: Phi(t_k) = k, from a 1 ms grid refined by Newton's method."""
        margin = 3.0 * 60.0 / min(s.cadence_spm for s in self.segs)
        grid = np.arange(self.t0, self.t1 + margin, 1e-3, dtype=np.float64)
        ph = self.phase(grid)
        ks = np.arange(0, int(math.floor(self.phase(np.array([self.t1]))[0])) + 3)
        t = np.interp(ks.astype(np.float64), ph, grid)
        for _ in range(4):
            t = t - (self.phase(t) - ks) / self.phase_rate(t)
        t[0] = self.t0
        self.ic = t
        wind_down = 0.25 / float(self.step_rate(np.array([self.t1]))[0])
        self.n_steps = max(1, int(np.count_nonzero(t < self.t1 - wind_down)))


@dataclass
class _Plan:
    total_s: float
    seg_t0: list[float]
    segs: list[Segment]
    bouts: list[_Bout]
    step_t0: FloatArray  # truth steps: IC times
    step_t1: FloatArray  # end of each step (next IC, or the end of the bout)
    step_stance: FloatArray  # +1 left stance, -1 right stance
    sits: list[tuple[float, float, float, float]]  # t0, t1, ramp, tilt_deg
    turns: list[tuple[float, float, float]]  # t0, t1, turn_rad
    sway_deg: FloatArray  # (3 axes: obliquity, tilt, yaw) x 2 components x (amp, f_hz, phase)
    sway_m: FloatArray  # (3 axes: x, y, z) x 2 components x (amp, f_hz, phase)
    gait_tilt_scale: float
    gait_yaw_scale: float
    # single-leg stances: t0, end of the stance (foot down or segment end), obliquity sign
    # (+1: standing on the left leg, the right side drops), drop_deg, sway_deg, foot down?
    sls: list[tuple[float, float, float, float, float, bool]] = field(default_factory=list)


def sls_truth(seg: Segment) -> dict[str, Any]:
    """What a single-leg stance segment asks for: the stance, the swing side's drop and sway,
    and the foot-down time (s from the segment start, None: held to the end)."""
    left = seg.kind == "sls_left"
    return {
        "stance": "L" if left else "R",
        "drop_deg": seg.drop_left_stance_deg if left else seg.drop_right_stance_deg,
        "sway_deg": seg.sway_deg,
        "foot_down_s": seg.foot_down_s,
    }


def _plan(segments: Sequence[Segment], rng: np.random.Generator) -> _Plan:
    seg_t0: list[float] = []
    t = 0.0
    for s in segments:
        seg_t0.append(t)
        t += s.duration_s
    total = t

    # gait bouts = maximal runs of contiguous walk/turn/run segments
    bouts: list[_Bout] = []
    i = 0
    while i < len(segments):
        if segments[i].kind not in GAIT_KINDS:
            i += 1
            continue
        j = i
        while j < len(segments) and segments[j].kind in GAIT_KINDS:
            j += 1
        b0 = seg_t0[i]
        b1 = seg_t0[j - 1] + segments[j - 1].duration_s
        mod = np.empty((2, 3))
        mod[:, 0] = rng.uniform(0.01, 0.02, 2)  # steps; ~2 % timing variability
        mod[:, 1] = 2.0 * math.pi * rng.uniform(0.1, 0.3, 2)
        mod[:, 2] = rng.uniform(0.0, 2.0 * math.pi, 2)
        bouts.append(
            _Bout(
                t0=b0,
                t1=b1,
                ramp=min(GAIT_RAMP_S, 0.5 * (b1 - b0)),
                fade=min([STYLE_CROSSFADE_S, *(s.duration_s for s in segments[i:j])]),
                starts=seg_t0[i:j],
                segs=list(segments[i:j]),
                side0=1.0 if rng.random() < 0.5 else -1.0,
                mod=mod,
            )
        )
        i = j

    t0s: list[float] = []
    t1s: list[float] = []
    sides: list[float] = []
    for bout in bouts:
        bout.solve_ics()
        k = np.arange(len(bout.ic))
        side = bout.side(k)
        drop_l = bout.blend(bout.ic, lambda s: s.drop_left_stance_deg)
        drop_r = bout.blend(bout.ic, lambda s: s.drop_right_stance_deg)
        var = np.clip(rng.normal(0.0, 0.04, len(k)), -0.08, 0.08)  # step-to-step variability
        bout.amp_deg = np.where(side > 0, drop_l, drop_r) * (1.0 + var)
        bout.peak = rng.uniform(0.17, 0.23, len(k))  # drop peak, fraction of the step after IC
        n = bout.n_steps
        t0s += bout.ic[:n].tolist()
        t1s += [*bout.ic[1:n].tolist(), bout.t1]
        sides += side[:n].tolist()

    sits: list[tuple[float, float, float, float]] = []
    turns: list[tuple[float, float, float]] = []
    sls: list[tuple[float, float, float, float, float, bool]] = []
    for s, ts in zip(segments, seg_t0, strict=True):
        if s.kind == "sit":
            ramp = min(SIT_TRANSITION_S, 0.5 * s.duration_s)
            sits.append((ts, ts + s.duration_s, ramp, float(rng.uniform(-23.0, -16.0))))
        if s.kind == "turn" and s.turn_deg != 0.0:
            turns.append((ts, ts + s.duration_s, math.radians(s.turn_deg)))
        if s.kind in SLS_KINDS:
            tr = sls_truth(s)
            down = s.foot_down_s is not None and s.foot_down_s < s.duration_s
            t_end = ts + (s.foot_down_s if down and s.foot_down_s is not None else s.duration_s)
            sign = 1.0 if s.kind == "sls_left" else -1.0
            sls.append((ts, t_end, sign, tr["drop_deg"], s.sway_deg, down))

    def sway(amp_lo: float, amp_hi: float) -> FloatArray:
        out = np.empty((3, 2, 3))
        out[..., 0] = rng.uniform(amp_lo, amp_hi, (3, 2))
        out[..., 1] = rng.uniform(0.1, 0.4, (3, 2))
        out[..., 2] = rng.uniform(0.0, 2.0 * math.pi, (3, 2))
        return out

    return _Plan(
        total_s=total,
        seg_t0=seg_t0,
        segs=list(segments),
        bouts=bouts,
        step_t0=np.array(t0s, dtype=np.float64),
        step_t1=np.array(t1s, dtype=np.float64),
        step_stance=np.array(sides, dtype=np.float64),
        sits=sits,
        turns=turns,
        sway_deg=sway(0.02, 0.05),
        sway_m=sway(0.3e-3, 1.0e-3),
        gait_tilt_scale=float(rng.uniform(0.86, 1.14)),
        gait_yaw_scale=float(rng.uniform(0.8, 1.2)),
        sls=sls,
    )


# --------------------------------------------------------------------------------------------
# Kinematics, evaluable at any times
# --------------------------------------------------------------------------------------------


def _lerp(w: FloatArray, walk: float, run: float) -> FloatArray:
    return (1.0 - w) * walk + w * run


def _sway(params: FloatArray, t: FloatArray) -> FloatArray:
    """Sum of sines per axis, shape (len(t), 3)."""
    out = np.zeros((len(t), 3))
    for axis in range(3):
        for amp, f_hz, ph in params[axis]:
            out[:, axis] += amp * np.sin(2.0 * math.pi * f_hz * t + ph)
    return out


def _heading(plan: _Plan, t: FloatArray) -> FloatArray:
    """Walking direction (rad from world x): turns are smooth over their whole segment."""
    heading = np.zeros_like(t)
    for t0, t1, turn in plan.turns:
        heading += turn * _smoothstep((t - t0) / (t1 - t0))
    return heading


def _angles(plan: _Plan, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """(phi, theta, psi, heading) in radians: obliquity, tilt, yaw (with heading), heading."""
    phi_deg = np.zeros_like(t)
    theta_deg = np.zeros_like(t)
    psi_osc_deg = np.zeros_like(t)
    env_all = np.zeros_like(t)
    for b in plan.bouts:
        env = b.envelope(t)
        env_all += env
        phase = b.phase(t)
        w_run = b.run_weight(t)
        # contralateral drop: L stance -> the right side drops -> obliquity > 0 (spec); each
        # step's C2 bump starts late in the previous step, peaks at sp of its own step and has
        # settled before the next step's peak, so the swing side's largest drop during a stance
        # is exactly that step's amplitude
        k_now = np.floor(phase).astype(np.int64)
        n = len(b.amp_deg)
        for k in (k_now, k_now + 1):
            valid = (k >= 0) & (k < n)
            kc = np.clip(k, 0, n - 1)
            bump = _drop_bump(phase - k, b.peak[kc])
            phi_deg += np.where(valid, env * b.side(kc) * b.amp_deg[kc] * bump, 0.0)
        tilt_amp = plan.gait_tilt_scale * _lerp(w_run, _WALK.tilt_deg, _RUN.tilt_deg)
        theta_deg -= env * tilt_amp * np.cos(2.0 * math.pi * phase)
        # yaw: the swing side's hip swings forward; at a right IC the right hip is ahead (yaw > 0)
        yaw_amp = plan.gait_yaw_scale * _lerp(w_run, _WALK.yaw_deg, _RUN.yaw_deg)
        psi_osc_deg -= env * yaw_amp * b.side0 * np.cos(math.pi * phase)

    for t0, t1, ramp, tilt in plan.sits:
        theta_deg += tilt * _window(t, t0, t1, ramp)

    for t0, t1, sign, drop, sway, _down in plan.sls:
        ramp = min(SLS_RAMP_S, 0.5 * (t1 - t0))
        wave = drop + sway * np.sin(2.0 * math.pi * SLS_SWAY_HZ * (t - t0))
        phi_deg += sign * wave * _window(t, t0, t1, ramp)

    sw = (1.0 - env_all)[:, None] * _sway(plan.sway_deg, t)
    heading = _heading(plan, t)
    phi = np.radians(phi_deg + sw[:, 0])
    theta = np.radians(theta_deg + sw[:, 1])
    psi = heading + np.radians(psi_osc_deg + sw[:, 2])
    return phi, theta, psi, heading


def _progression_velocity(plan: _Plan, t: FloatArray) -> FloatArray:
    """World velocity of the walking progression (speed along the heading), shape (n, 3)."""
    speed = np.zeros_like(t)
    for b in plan.bouts:
        speed += b.envelope(t) * b.blend(t, lambda s: _style(s.kind).step_len_m * s.cadence_spm)
    speed /= 60.0
    heading = _heading(plan, t)
    return np.stack([speed * np.cos(heading), speed * np.sin(heading), np.zeros_like(t)], axis=1)


def _displacement(plan: _Plan, t: FloatArray) -> FloatArray:
    """World displacement of the sacrum from its progression path (m), shape (n, 3): the gait
    oscillations, sitting down and standing sway. All bounded, so velocity cannot drift."""
    d = np.zeros((len(t), 3))  # heading frame: x along the walking direction, y left, z up
    env_all = np.zeros_like(t)
    for b in plan.bouts:
        env = b.envelope(t)
        env_all += env
        phase = b.phase(t)
        w_run = b.run_weight(t)
        step_s = 1.0 / b.step_rate(t)  # nominal step duration
        scale = G_MS2 * step_s**2  # displacement per g of acceleration amplitude
        sigma = phase - np.floor(phase)  # phase within the step
        tau = np.mod(phase, 2.0)  # phase within the stride
        w_walk = 1.0 - w_run
        # vertical, walking: lowest (upward acceleration) just after IC, highest at mid-step
        walk_z = (
            -_WALK.vert_g
            / (2.0 * math.pi) ** 2
            * np.cos(2.0 * math.pi * (phase - _WALK.vert_phase))
        )
        # vertical, running: contact and flight (see _run_vertical)
        vert = w_walk * walk_z + w_run * _run_vertical(sigma)
        # anterior-posterior: braking after IC, propulsion late in stance; none in flight
        ap = w_walk * _WALK.ap_g * _ap_shape(sigma, 1.0)
        ap = ap + w_run * _RUN.ap_g * _ap_shape(sigma, RUN_CONTACT)
        # mediolateral: over the stance foot, accelerating away from it around mid-stance
        # (L stance: toward the right, -y); none in flight
        ml = w_walk * _WALK.ml_g * _ml_shape(tau, 1.0)
        ml = -b.side0 * (ml + w_run * _RUN.ml_g * _ml_shape(tau, RUN_CONTACT))
        d[:, 0] += env * scale * ap
        d[:, 1] += env * scale * ml
        d[:, 2] += env * scale * vert

    for t0, t1, ramp, _ in plan.sits:  # sitting down: the sacrum goes down and back
        w = _window(t, t0, t1, ramp)
        d[:, 0] -= 0.12 * w
        d[:, 2] -= 0.25 * w

    d += (1.0 - env_all)[:, None] * _sway(plan.sway_m, t)

    heading = _heading(plan, t)
    ch, sh = np.cos(heading), np.sin(heading)
    return np.stack([ch * d[:, 0] - sh * d[:, 1], sh * d[:, 0] + ch * d[:, 1], d[:, 2]], axis=1)


def _impacts(plan: _Plan, t: FloatArray) -> FloatArray:
    """Vertical impact transients after each IC (m/s^2)."""
    out = np.zeros_like(t)
    for b in plan.bouts:
        env = b.envelope(t)
        w_run = b.run_weight(t)
        amp = _lerp(w_run, _WALK.impact_g, _RUN.impact_g) * G_MS2
        width = _lerp(w_run, _WALK.impact_w_s, _RUN.impact_w_s)
        delay = _lerp(w_run, _WALK.impact_delay_s, _RUN.impact_delay_s)
        k_now = np.floor(b.phase(t)).astype(np.int64)
        n = len(b.ic)
        for k in (k_now, k_now + 1):  # this step's IC and the next one's
            valid = (k >= 0) & (k < n)
            x = (t - b.ic[np.clip(k, 0, n - 1)] - delay) / width
            out += np.where(valid & (np.abs(x) < 8.0), env * amp * _ricker(x), 0.0)
    for _t0, t1, _sign, _drop, _sway, down in plan.sls:
        if down:
            x = (t - t1) / SLS_IMPACT_W_S
            out += np.where(np.abs(x) < 8.0, SLS_IMPACT_G * G_MS2 * _ricker(x), 0.0)
    return out


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def _validate(segments: Sequence[Segment], rate_hz: float, allow_moving_start: bool) -> None:
    if not segments:
        raise ValueError("no segments")
    if not (rate_hz > 0.0 and math.isfinite(rate_hz)):
        raise ValueError(f"bad rate_hz {rate_hz!r}")
    for i, s in enumerate(segments):
        if s.kind not in KINDS:
            raise ValueError(f"segment {i}: unknown kind {s.kind!r} (one of {', '.join(KINDS)})")
        if not (s.duration_s > 0.0 and math.isfinite(s.duration_s)):
            raise ValueError(f"segment {i}: duration_s must be > 0")
        if s.kind in GAIT_KINDS and not (20.0 <= s.cadence_spm <= 240.0):
            raise ValueError(f"segment {i}: cadence_spm {s.cadence_spm} outside 20..240")
        if s.kind in GAIT_KINDS and s.duration_s * s.cadence_spm / 60.0 < 1.0:
            raise ValueError(f"segment {i}: {s.kind} shorter than one step")
    first = segments[0]
    if not allow_moving_start and (first.kind != "stand" or first.duration_s < MIN_START_STILL_S):
        raise ValueError(f"the trace must start with >= {MIN_START_STILL_S:g} s of 'stand'")


def _describe(segments: Sequence[Segment]) -> str:
    out = []
    for s in segments:
        text = f"{s.kind}:{s.duration_s:g}s"
        if s.kind in GAIT_KINDS:
            text += (
                f"({s.cadence_spm:g}spm,dropL={s.drop_left_stance_deg:g},"
                f"dropR={s.drop_right_stance_deg:g}"
            )
            text += f",turn={s.turn_deg:g})" if s.kind == "turn" else ")"
        out.append(text)
    return " ".join(out)


def sense(
    t: FloatArray,
    angles: Callable[[FloatArray], tuple[FloatArray, FloatArray, FloatArray]],
    accel_world: Callable[[FloatArray], FloatArray],
    m_sb: FloatArray,
    rng: np.random.Generator,
    noise: bool,
    imu: ImuModel,
    quantise: bool,
    rate_hz: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, dict[str, str]]:
    """The IMU's readings of a motion: (accel g, gyro dps in the sensor's axes, the up vector
    u in the body frame, yaw psi rad, the sensor-error metadata). `angles(t)` gives the body's
    (phi, theta, psi) in radians (module docstring), `accel_world(t)` the sacrum's linear
    acceleration in the world frame (m/s^2, shape (n, 3)); both evaluable at any times."""
    n = len(t)
    # orientation and its rates (central differences of the analytic angle functions)
    h = _DIFF_H_S
    phi, theta, psi = angles(t)
    phi_p, theta_p, psi_p = angles(t + h)
    phi_m, theta_m, psi_m = angles(t - h)
    dphi = (phi_p - phi_m) / (2.0 * h)
    dtheta = (theta_p - theta_m) / (2.0 * h)
    dpsi = (psi_p - psi_m) / (2.0 * h)

    cf, sf = np.cos(phi), np.sin(phi)
    ct, st = np.cos(theta), np.sin(theta)
    cp, sp = np.cos(psi), np.sin(psi)
    # body angular velocity for R = Rz(psi) Ry(theta) Rx(phi): vee(R^T dR/dt)
    w_body = np.stack(
        [dphi - st * dpsi, cf * dtheta + sf * ct * dpsi, -sf * dtheta + cf * ct * dpsi], axis=1
    )
    r_wb = np.empty((n, 3, 3))
    r_wb[:, 0, 0] = cp * ct
    r_wb[:, 0, 1] = cp * st * sf - sp * cf
    r_wb[:, 0, 2] = cp * st * cf + sp * sf
    r_wb[:, 1, 0] = sp * ct
    r_wb[:, 1, 1] = sp * st * sf + cp * cf
    r_wb[:, 1, 2] = sp * st * cf - cp * sf
    r_wb[:, 2, 0] = -st
    r_wb[:, 2, 1] = ct * sf
    r_wb[:, 2, 2] = ct * cf

    a_world = accel_world(t)

    # specific force in g, in the body frame; u = R^T z is the up vector
    u = r_wb[:, 2, :].copy()
    f_body = np.einsum("nji,nj->ni", r_wb, a_world / G_MS2) + u

    accel = f_body @ m_sb.T
    gyro = np.degrees(w_body) @ m_sb.T

    meta_errors: dict[str, str] = {}
    if noise:

        def typical(typ: float) -> FloatArray:
            # within the datasheet's typical band: sigma = typ/3, clipped at +/- typ
            return np.clip(rng.normal(0.0, typ / 3.0, 3), -typ, typ)

        a_off = typical(imu.accel_offset_g)
        g_bias = typical(imu.gyro_bias_dps)
        a_scale = 1.0 + rng.uniform(-imu.sens_tol, imu.sens_tol, 3)
        g_scale = 1.0 + rng.uniform(-imu.sens_tol, imu.sens_tol, 3)
        bw = 0.5 * rate_hz  # datasheet RMS noise is quoted over BW = ODR/2
        a_sigma = imu.accel_noise_g_rthz * math.sqrt(bw)
        g_sigma = imu.gyro_noise_dps_rthz * math.sqrt(bw)
        accel = accel * a_scale + a_off + rng.normal(0.0, a_sigma, accel.shape)
        gyro = gyro * g_scale + g_bias + rng.normal(0.0, g_sigma, gyro.shape)

        def fmt(v: FloatArray, scale: float) -> str:
            return " ".join(f"{x * scale:+.3f}" for x in v)

        meta_errors = {
            "accel_offset_mg": fmt(a_off, 1e3),
            "gyro_bias_dps": fmt(g_bias, 1.0),
            "accel_scale_error_pct": fmt(a_scale - 1.0, 100.0),
            "gyro_scale_error_pct": fmt(g_scale - 1.0, 100.0),
            "accel_noise_mg_rms": f"{a_sigma * 1e3:.3f}",
            "gyro_noise_dps_rms": f"{g_sigma:.4f}",
        }
    if quantise:
        accel = to_counts(accel, imu.accel_sens_g) * imu.accel_sens_g
        gyro = to_counts(gyro, imu.gyro_sens_dps) * imu.gyro_sens_dps

    return accel, gyro, u, psi, meta_errors


def generate(
    segments: list[Segment],
    *,
    rate_hz: float = 100.0,
    mount: str = DEFAULT_MOUNT,
    mount_pitch_deg: float = 15.0,
    seed: int = 0,
    noise: bool = True,
    imu: ImuModel = LSM6DSOX,
    quantise: bool = True,
    allow_moving_start: bool = False,
) -> SynthTrace:
    """Simulate a trace of the given activities.

    ``noise=False`` gives an ideal sensor (no offset, bias, scale error or white noise) whose
    readings are still quantised to ``imu``'s int16 counts. ``quantise=False`` (for checks of the
    kinematics only: such a file is not what a board could produce) skips the quantisation, which
    without noise to dither it leaves sub-LSB rates (standing sway) out of the gyro.
    ``allow_moving_start`` lifts the rule that a trace starts with 2 s of standing still.
    """
    _validate(segments, rate_hz, allow_moving_start)
    m_sb = sensor_from_body(mount, mount_pitch_deg)
    rng = np.random.default_rng(seed)
    plan = _plan(segments, rng)

    n = int(math.floor(plan.total_s * rate_hz + 1e-9))
    t = np.arange(n, dtype=np.float64) / rate_hz

    def angles(tt: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        return _angles(plan, tt)[:3]

    def accel_world(t: FloatArray) -> FloatArray:
        h = _DIFF_H_S
        # linear acceleration of the sacrum in the world frame: the progression's speed and
        # heading changes, the second derivative of the bounded displacements, and the impacts
        v_p = _progression_velocity(plan, t + h)
        v_m = _progression_velocity(plan, t - h)
        h2 = _DIFF2_H_S
        d_p = _displacement(plan, t + h2)
        d_0 = _displacement(plan, t)
        d_m = _displacement(plan, t - h2)
        a_world = (v_p - v_m) / (2.0 * h) + (d_p - 2.0 * d_0 + d_m) / (h2 * h2)
        a_world[:, 2] += _impacts(plan, t)
        return a_world

    accel, gyro, u, psi, meta_errors = sense(
        t, angles, accel_world, m_sb, rng, noise, imu, quantise, rate_hz
    )

    # truth
    obliquity, tilt = angles_from_up(u)
    yaw = np.degrees(psi)
    stance = np.full(n, "-", dtype="<U1")
    ic = np.full(n, "-", dtype="<U1")
    activity = np.empty(n, dtype="<U5")
    seg_idx = np.clip(np.searchsorted(np.array(plan.seg_t0), t, side="right") - 1, 0, None)
    kinds = np.array([s.kind for s in plan.segs])
    activity[:] = kinds[seg_idx]

    steps: list[tuple[float, str, float]] = []
    for t0, t1, side in zip(plan.step_t0, plan.step_t1, plan.step_stance, strict=True):
        label = "L" if side > 0 else "R"
        # on the sample grid a stance runs from the sample nearest its IC to the one nearest
        # the next IC (exclusive), so the ic and stance columns agree
        i0 = int(round(t0 * rate_hz))
        i1 = min(int(round(t1 * rate_hz)), n)
        stance[i0:i1] = label
        if i0 < n:
            ic[i0] = label
        obl = obliquity[i0:i1]
        # swing side's drop: during L stance the right side (obliquity > 0), else the left
        swing_drop = np.maximum(obl, 0.0) if side > 0 else np.maximum(-obl, 0.0)
        steps.append((float(t0), label, float(swing_drop.max()) if len(obl) else 0.0))

    columns: dict[str, npt.NDArray[Any]] = {
        "t_s": t,
        "ax_g": accel[:, 0],
        "ay_g": accel[:, 1],
        "az_g": accel[:, 2],
        "gx_dps": gyro[:, 0],
        "gy_dps": gyro[:, 1],
        "gz_dps": gyro[:, 2],
        "obliquity_deg": obliquity,
        "tilt_deg": tilt,
        "yaw_deg": yaw,
        "stance": stance,
        "ic": ic,
        "activity": activity,
    }
    source = (
        f"hipcue synth seed={seed} rate_hz={rate_hz:g} mount_pitch_deg={mount_pitch_deg:g} "
        f"noise={int(noise)} quantise={int(quantise)} segments={_describe(segments)}"
    )
    meta = {
        "source": source,
        "rate_hz": f"{rate_hz:g}",
        "mount": mount,
        "imu": imu.label,
        "mount_pitch_deg": f"{mount_pitch_deg:g}",
        "truth": (
            "obliquity_deg/tilt_deg of the pelvis from its up vector (spec section 1), "
            "relative to standing neutral; yaw_deg = heading + pelvic rotation (Z of ZYX); "
            "stance L/R from IC to the next IC; ic marks the sample nearest each IC"
        ),
        **meta_errors,
    }
    return SynthTrace(rate_hz=rate_hz, mount=mount, columns=columns, steps=steps, meta=meta)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

_FORMATS = {
    "t_s": "%.6f",
    "ax_g": "%.6f",
    "ay_g": "%.6f",
    "az_g": "%.6f",
    "gx_dps": "%.6f",
    "gy_dps": "%.6f",
    "gz_dps": "%.6f",
    "obliquity_deg": "%.4f",
    "tilt_deg": "%.4f",
    "yaw_deg": "%.4f",
}
_FIRST_META = ("source", "rate_hz", "mount", "imu")


def _write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and rename, so no half-written file is left behind."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_trace_csv(trace: SynthTrace, path: str | os.PathLike[str]) -> None:
    """The spec's trace CSV v1: ``# key: value`` comments, a header row, one row per sample."""
    lines = []
    keys = [k for k in _FIRST_META if k in trace.meta]
    keys += [k for k in trace.meta if k not in _FIRST_META]
    for key in keys:
        value = " ".join(str(trace.meta[key]).split())  # one line each
        lines.append(f"# {key}: {value}")
    names = list(trace.columns)
    lines.append(",".join(names))
    cols: list[list[str]] = []
    for name in names:
        col = trace.columns[name]
        fmt = _FORMATS.get(name)
        if fmt is None and col.dtype.kind == "f":
            fmt = "%.6f"
        cols.append([fmt % v for v in col.tolist()] if fmt else [str(v) for v in col.tolist()])
    lines.extend(",".join(row) for row in zip(*cols, strict=True))
    _write_atomic(path, "\n".join(lines) + "\n")


def write_steps_csv(trace: SynthTrace, path: str | os.PathLike[str]) -> None:
    """Per-step truth: ``t_ic_s,stance,drop_deg``."""
    lines = ["t_ic_s,stance,drop_deg"]
    lines += [f"{t:.4f},{side},{drop:.4f}" for t, side, drop in trace.steps]
    _write_atomic(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------


def _course(duration_s: float, drop_left: float, drop_right: float) -> list[Segment]:
    """2 s stand, walking at 105 spm with gentle turns, 2 s stand."""
    if duration_s < 8.0:
        raise ValueError("walking presets need a duration of at least 8 s")

    def walk(d: float) -> Segment:
        return Segment("walk", d, 105.0, drop_left, drop_right)

    def turn(d: float, deg: float) -> Segment:
        return Segment("turn", d, 105.0, drop_left, drop_right, deg)

    w = duration_s - 4.0
    if w >= 24.0:
        a = (w - 8.0) / 3.0
        middle = [walk(a), turn(4.0, 45.0), walk(a), turn(4.0, -30.0), walk(a)]
    elif w >= 12.0:
        a = (w - 4.0) / 2.0
        middle = [walk(a), turn(4.0, 30.0), walk(a)]
    else:
        middle = [walk(w)]
    return [Segment("stand", 2.0), *middle, Segment("stand", 2.0)]


def _mixed(duration_s: float) -> list[Segment]:
    if duration_s < 30.0:
        raise ValueError("preset 'mixed' needs a duration of at least 30 s")
    k = (duration_s - 3.0) / 50.0  # the rest is shared out in these proportions
    return [
        Segment("stand", 3.0),
        Segment("walk", 10.0 * k),
        Segment("turn", 5.0 * k, turn_deg=180.0),
        Segment("stand", 3.0 * k),
        Segment("sit", 8.0 * k),
        Segment("stand", 3.0 * k),
        Segment("walk", 8.0 * k),
        Segment("run", 10.0 * k, 170.0, 6.0, 6.0),
        Segment("stand", 3.0 * k),
    ]


def _run(duration_s: float) -> list[Segment]:
    if duration_s < 6.0:
        raise ValueError("preset 'run' needs a duration of at least 6 s")
    return [Segment("stand", 3.0), Segment("run", duration_s - 3.0, 170.0, 6.0, 6.0)]


PRESETS: dict[str, Callable[[float], list[Segment]]] = {
    "weak-right": lambda d: _course(d, 4.0, 9.0),
    "weak-left": lambda d: _course(d, 9.0, 4.0),
    "healthy": lambda d: _course(d, 4.0, 4.0),
    "mixed": _mixed,
    "run": _run,
}
# Exercise sets (issue #16): generated by exsynth.py, with truth per rep (--reps-out).
EXERCISE_PRESETS = ("single-leg-squat", "step-down", "band-walk", "leg-lift", "clamshell")


# --------------------------------------------------------------------------------------------
# CLI: hipcue synth
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="trace CSV to write")
    parser.add_argument(
        "--preset", choices=sorted([*PRESETS, *EXERCISE_PRESETS]), default="weak-right"
    )
    parser.add_argument(
        "--duration",
        type=number(1, 7200, " s"),
        default=60.0,
        help="seconds (default 60; walking presets)",
    )
    parser.add_argument("--seed", type=whole(0, 2**32 - 1), default=0)
    parser.add_argument(
        "--rate", type=number(10, 2000, " Hz"), default=100.0, help="sample rate, Hz"
    )
    parser.add_argument("--steps-out", default=None, help="also write the per-step truth CSV")
    parser.add_argument("--mount", default=DEFAULT_MOUNT, help="device mount (spec section 1)")
    parser.add_argument(
        "--mount-pitch", type=number(-90, 90, " deg"), default=15.0, help="degrees about left"
    )
    parser.add_argument(
        "--no-noise", action="store_true", help="ideal IMU: no offsets, scale errors or noise"
    )
    parser.add_argument(
        "--side", choices=("left", "right"), default="left", help="exercise presets: the hip"
    )
    parser.add_argument(
        "--reps", type=whole(1, 200), default=10, help="exercise presets: reps or steps"
    )
    parser.add_argument("--reps-out", default=None, help="exercise presets: per-rep truth CSV")


def run(args: argparse.Namespace) -> int:
    if args.preset in EXERCISE_PRESETS:
        return _run_exercise(args)
    try:
        segments = PRESETS[args.preset](args.duration)
        trace = generate(
            segments,
            rate_hz=args.rate,
            mount=args.mount,
            mount_pitch_deg=args.mount_pitch,
            seed=args.seed,
            noise=not args.no_noise,
        )
        trace.meta["source"] = trace.meta["source"].replace(
            "hipcue synth ", f"hipcue synth preset={args.preset} duration_s={args.duration:g} ", 1
        )
        write_trace_csv(trace, args.out)
        if args.steps_out:
            write_steps_csv(trace, args.steps_out)
    except (ValueError, OSError) as exc:
        print(f"hipcue synth: {exc}", file=sys.stderr)
        return 1
    n = len(trace.columns["t_s"])
    print(f"wrote {args.out}: {n} samples, {len(trace.steps)} steps")
    return 0


def _run_exercise(args: argparse.Namespace) -> int:
    from hipcue import exsynth

    try:
        trace, reps = exsynth.generate(
            args.preset,
            args.side,
            args.reps,
            rate_hz=args.rate,
            mount=args.mount,
            mount_pitch_deg=args.mount_pitch,
            seed=args.seed,
            noise=not args.no_noise,
        )
        write_trace_csv(trace, args.out)
        if args.reps_out:
            exsynth.write_reps_csv(reps, args.reps_out)
    except (ValueError, OSError) as exc:
        print(f"hipcue synth: {exc}", file=sys.stderr)
        return 1
    n = len(trace.columns["t_s"])
    print(f"wrote {args.out}: {n} samples, {len(reps)} reps ({args.preset}, {args.side})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hipcue synth", description="synthetic IMU traces")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
