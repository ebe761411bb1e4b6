"""Evaluation inputs (host side, CPython): synthetic traces as `Trace` objects and firmware jobs
made from a trace exactly as `hipcue replay` makes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hipcue import synth
from hipcue.replay import job_arrays, mount_from_meta, plan_rate
from hipcue.trace import Trace
from shared.config import IMUS, Config
from sim import job as _job
from sim.paths import data_dir

DATA = data_dir()


def synth_trace(preset: str, duration_s: float, seed: int, rate_hz: float = 100.0):
    """(Trace for run_firmware, SynthTrace with the truth), sampled at rate_hz."""
    st = synth.generate(synth.PRESETS[preset](duration_s), seed=seed, rate_hz=rate_hz)
    c = st.columns
    t = np.asarray(c["t_s"], float)
    acc = np.stack([c["ax_g"], c["ay_g"], c["az_g"]], axis=1).astype(float)
    gyr = np.stack([c["gx_dps"], c["gy_dps"], c["gz_dps"]], axis=1).astype(float)
    tr = Trace(
        path=Path(f"synth:{preset}:{duration_s:g}s:seed{seed}"),
        meta=dict(st.meta),
        header=["t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"],
        t_s=t,
        t_text=[f"{v:.6f}" for v in t],
        acc_g=acc,
        gyro_dps=gyr,
        first_data_line=1,
    )
    return tr, st


def firmware_inputs(trace: Trace, mount: str | None = None):
    """(Config, counts (n,6) int16, dt_us int32, period_us): exactly what run_firmware feeds."""
    cfg = Config()
    m = mount or mount_from_meta(trace.meta)
    if m:
        cfg.set("mount", m)
    rate = plan_rate(trace, cfg, False)
    counts, dt_us, _ = job_arrays(trace, cfg["imu"], rate.period_us)
    return cfg, counts, dt_us, rate.period_us


def write_job(job: Path, trace: Trace, calibrate: bool = True, extra: dict | None = None) -> dict:
    """A replay job of `trace` (default config, the trace's mount), with the IMU's scale."""
    cfg, counts, dt_us, period_us = firmware_inputs(trace)
    acc_ug, gyro_udps = IMUS[cfg["imu"]]
    settings = {"config": cfg.as_dict(), "acc_ug": acc_ug, "gyro_udps": gyro_udps}
    settings.update(extra or {})
    return _job.write_job(job, counts, dt_us, period_us, calibrate=calibrate, **settings)
