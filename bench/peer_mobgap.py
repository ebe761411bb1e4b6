"""The peer: mobgap 1.2.0 (Mobilise-D's validated single-lower-back algorithms, offline and
non-causal) on the shared traces. Runs in .venv-peer (bench/requirements-peer.txt), not the
project venv; bench/gait.py calls it and scores its output with sim/scoring.py.

    .venv-peer/bin/python bench/peer_mobgap.py TRACE.csv ...   -> JSON on stdout:
    {trace file name: {"t": [IC times, s], "side": ["L"/"R", ...]}}

Pipeline as mobgap's Mobilise-D pipeline runs it: gait sequences (GsdIluz), then within each
sequence initial contacts (IcdShinImproved) and their left/right (LrcMcCamley). The sensor
axes are put in mobgap's body frame (is = up, ml = right, pa = forward) from the trace's
`# mount:` line; acceleration in m/s^2, rate from the median interval.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd

G = 9.80665
AX = {"x": 0, "y": 1, "z": 2}


def read(path: str):
    mount = "forward=-z left=+y up=+x"
    header = None
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            if line.startswith("#"):
                if "mount:" in line:
                    mount = line.split("mount:", 1)[1].split("(")[0].strip()
                continue
            if header is None:
                header = line.strip().split(",")
                continue
            rows.append(line.strip().split(","))
    cols = {n: i for i, n in enumerate(header)}
    want = ["t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps"]
    a = np.array([[float(r[cols[n]]) for n in want] for r in rows])
    axes = {}
    for word in mount.split():
        name, ax = word.split("=")
        sign = -1.0 if ax.startswith("-") else 1.0
        axes[name] = (AX[ax[-1]], sign)
    return a[:, 0], a[:, 1:4], a[:, 4:7], axes


def body(v, axes, name):
    i, s = axes[name]
    return s * v[:, i]


def detect(path: str) -> dict:
    from mobgap.gait_sequences import GsdIluz
    from mobgap.initial_contacts import IcdShinImproved
    from mobgap.laterality import LrcMcCamley

    t, acc, gyr, axes = read(path)
    fs = float(round(1.0 / np.median(np.diff(t)), 3))
    df = pd.DataFrame(
        {
            "acc_is": body(acc, axes, "up") * G,
            "acc_ml": -body(acc, axes, "left") * G,
            "acc_pa": body(acc, axes, "forward") * G,
            "gyr_is": body(gyr, axes, "up"),
            "gyr_ml": -body(gyr, axes, "left"),
            "gyr_pa": body(gyr, axes, "forward"),
        }
    )
    gs = GsdIluz().detect(df, sampling_rate_hz=fs).gs_list_
    out_t: list[float] = []
    out_s: list[str] = []
    for _, g in gs.iterrows():
        start, end = int(g["start"]), int(g["end"])
        part = df.iloc[start:end].reset_index(drop=True)
        ics = IcdShinImproved().detect(part, sampling_rate_hz=fs).ic_list_
        if len(ics) == 0:
            continue
        lr = LrcMcCamley().predict(part, ics, sampling_rate_hz=fs).ic_lr_list_
        for _, row in lr.iterrows():
            i = start + int(row["ic"])
            out_t.append(float(t[min(i, len(t) - 1)]))
            out_s.append("L" if row["lr_label"] == "left" else "R")
    order = np.argsort(out_t, kind="stable")
    return {"t": [out_t[k] for k in order], "side": [out_s[k] for k in order]}


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")
    out = {}
    for p in argv[1:]:
        out[p.rsplit("/", 1)[-1]] = detect(p)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
