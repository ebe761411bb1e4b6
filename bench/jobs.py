"""Shared host-side helpers: synthetic traces as `Trace` objects, firmware jobs for MicroPython."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hipcue import synth
from hipcue.replay import mount_from_meta, plan_rate, quantise
from hipcue.trace import Trace
from shared.config import Config

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HIPCUE_SHARED_DATA") or "/work/shared/data/real")
if not DATA.exists() and not os.environ.get("HIPCUE_SHARED_DATA"):
    DATA = REPO.parent / "shared" / "data" / "real"


def synth_trace(preset: str, duration_s: float, seed: int):
    """(Trace for run_firmware, SynthTrace with the truth)."""
    st = synth.generate(synth.PRESETS[preset](duration_s), seed=seed)
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
    counts, _ = quantise(trace, cfg["imu"])
    dt_us = np.zeros(trace.n, dtype="<i4")
    dt_us[1:] = np.rint(np.diff(trace.t_s) * 1e6).clip(0, 2**31 - 1)
    dt_us[0] = rate.period_us
    return cfg, counts, dt_us, rate.period_us


def write_job(job: Path, trace: Trace, calibrate: bool = True, extra: dict | None = None) -> dict:
    cfg, counts, dt_us, period_us = firmware_inputs(trace)
    job.mkdir(parents=True, exist_ok=True)
    (job / "counts.bin").write_bytes(counts.tobytes())
    (job / "dt.bin").write_bytes(dt_us.tobytes())
    spec = {
        "config": cfg.as_dict(),
        "calibrate": calibrate,
        "period_us": period_us,
        "n": trace.n,
        "acc_ug": 0,
        "gyro_udps": 0,
    }
    from shared.config import IMUS

    spec["acc_ug"], spec["gyro_udps"] = IMUS[cfg["imu"]]
    spec.update(extra or {})
    (job / "job.json").write_text(json.dumps(spec))
    return spec
