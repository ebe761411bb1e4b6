"""The firmware job: one trace prepared for the firmware loop (replay, virtual device, probes).

A job folder holds
    job.json    the job's settings: n (samples), period_us, calibrate, and per use: config (a
                Config dict, for replay), speed_pct / loop / hold / trace (the virtual device),
                acc_ug / gyro_udps (probes)
    counts.bin  int16 ax ay az gx gy gz per sample (the IMU's raw counts), little-endian
    dt.bin      int32 us since the previous sample
`write_job` (CPython, the host side) is the one writer and `read_job` (MicroPython and CPython,
the firmware side) the one reader.
"""

import json
from array import array


def write_job(job_dir, counts, dt_us, period_us, calibrate=True, **settings):
    """Write a job: counts an int16 (n, 6) array, dt_us an int32 (n,) array (numpy's `<i2`,
    `<i4`, or anything with .tobytes() in that layout); settings go into job.json."""
    import os

    n = len(dt_us)
    if len(counts) != n:
        raise ValueError("counts has %d samples, dt_us %d" % (len(counts), n))
    os.makedirs(str(job_dir), exist_ok=True)
    spec = {"n": n, "period_us": int(period_us), "calibrate": bool(calibrate)}
    spec.update(settings)
    with open(str(job_dir) + "/counts.bin", "wb") as f:
        f.write(counts.tobytes())
    with open(str(job_dir) + "/dt.bin", "wb") as f:
        f.write(dt_us.tobytes())
    with open(str(job_dir) + "/job.json", "w") as f:
        f.write(json.dumps(spec))
    return spec


def _read_array(path, typecode, count, size):
    a = array(typecode, bytearray(count * size))
    with open(path, "rb") as f:
        got = f.readinto(a)
    if got != count * size:
        raise ValueError("%s: expected %d bytes, got %d" % (path, count * size, got))
    return a


def read_job(job_dir):
    """(settings dict, counts array('h') of n*6, dt array('i') of n) of a job folder."""
    with open(job_dir + "/job.json") as f:
        job = json.load(f)
    n = job["n"]
    counts = _read_array(job_dir + "/counts.bin", "h", n * 6, 2)
    dt = _read_array(job_dir + "/dt.bin", "i", n, 4)
    return job, counts, dt


def job_config(job):
    """The Config a replay job asks for (its "config" dict over the defaults)."""
    from shared.config import Config

    cfg = Config()
    conf = job.get("config", {})
    for key in conf:
        cfg.set(key, conf[key])
    cfg.check()  # the cross-key rules (shared/config.py), as on every other path
    return cfg
