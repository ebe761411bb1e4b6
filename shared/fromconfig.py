"""The firmware's objects built from a Config: the one place that maps config keys (in their
stored units: mdeg, ms, mdps, mg) onto each constructor's arguments. The app, the command
service (live changes, recalibration) and the float reference all build through here, so a
new key or a changed default reaches every path at once."""

from shared.calib import Calibrator
from shared.config import IMUS
from shared.cue import CueDetector
from shared.estimator import Estimator
from shared.exercise import Exercise
from shared.feedback import configure_cue
from shared.steps import StepDetector


def estimator(cfg, period_us):
    acc_ug, gyro_udps = IMUS[cfg["imu"]]
    return Estimator(
        period_us,
        acc_ug,
        gyro_udps,
        tau_ms=cfg["filter_tau_ms"],
        accel_band_mg=cfg["accel_band_mg"],
        init_ms=cfg["init_ms"],
        # Exercise sets hold slow postures (one-leg sway, lying) whose pelvic rates pass the
        # still gate, so it would learn real rotation as gyro bias (make bench, section 13):
        # no still-bias learning there; the calibrated bias and the integral term remain.
        still_mdps=cfg["still_dps"] if cfg["mode"] == "walk" else 0,
        still_mg=cfg["still_mg"],
        accel_lp_ms=cfg["accel_lp_ms"],
    )


def step_detector(cfg, period_us):
    return StepDetector(period_us, cfg["min_step_ms"], cfg["max_step_ms"])


def cue_detector(cfg, period_us):
    """A CueDetector with cfg's common settings and its feedback rules."""
    cue = CueDetector(
        period_us,
        cfg["threshold_deg"],
        cfg["hysteresis_deg"],
        cfg["dwell_ms"],
        cfg["refractory_ms"],
        cfg["cue_ms"],
    )
    configure_cue(cue, cfg)
    cue.set_refractory_stride_pct(cfg["refractory_stride_pct"])
    return cue


def update_cue(cue, cfg):
    """A live config change: cfg's settings to a running CueDetector in place, keeping the
    session's state (counters, stride history, refractory, pulse) and the session's share of
    the faded schedule (the fade keys and session_index take effect at the next session)."""
    cue.set_common(
        cfg["threshold_deg"],
        cfg["hysteresis_deg"],
        cfg["dwell_ms"],
        cfg["refractory_ms"],
        cfg["cue_ms"],
    )
    configure_cue(cue, cfg, fade=cue.fade_pct, keep_state=1)
    cue.set_refractory_stride_pct(cfg["refractory_stride_pct"])


def calibrator(cfg, period_us):
    acc_ug, gyro_udps = IMUS[cfg["imu"]]
    return Calibrator(
        period_us,
        acc_ug,
        gyro_udps,
        cfg["cal_still_ms"],
        cfg["cal_window_ms"],
        cfg["still_dps"],
        cfg["still_mg"],
    )


def exercise(cfg, period_us):
    """The exercise detector for cfg's `mode` (shared/exercise.py); None when walking."""
    mode = cfg["mode"]
    if mode == "walk":
        return None
    return Exercise(
        period_us,
        mode,
        side=0 if cfg["ex_side"] == "left" else 1,
        reps=cfg["ex_reps"],
        threshold_mdeg=cfg["ex_threshold_deg"],
        rep_mdeg=cfg["ex_rep_deg"],
        dwell_ms=cfg["dwell_ms"],
        cue_ms=cfg["cue_ms"],
        min_rep_ms=cfg["ex_min_rep_ms"],
        tempo_ms=cfg["tempo_ms"],
    )
