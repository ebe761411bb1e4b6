"""Running as a first-class mode (issue 14): the firmware on synthetic runs (hipcue.synth,
'run' segments at 170 steps/min, 0.71 s stride), scored against the synthetic truth.

- sensitivity: true stances whose drop is at least 1 deg past the threshold and whose
  detected step (same stance, IC within 150 ms) was cued;
- false cues per 1,000 steps: cue onsets with no true stance past the threshold around them
  (from 150 ms before its IC to its end) whose swing side is the side the estimate had down;
- obliquity and tilt RMS against the truth while running (after calibration).
"""

from __future__ import annotations

import tempfile

import numpy as np

MATCH_S = 0.150


def run_figures(seeds=(1, 2, 3), duration_s=60.0, drops=(4.0, 7.0), sets=()) -> dict:
    from hipcue import synth
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    q = c = false = steps = cues = 0
    eo, et = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            segs = [
                synth.Segment("stand", 3.0),
                synth.Segment("run", duration_s, 170.0, drops[0], drops[1]),
                synth.Segment("stand", 2.0),
            ]
            st = synth.generate(segs, seed=seed)
            p = f"{tmp}/run{seed}.csv"
            synth.write_trace_csv(st, p)
            tr = read_trace(p)
            res = run_firmware(tr, engine="cpython", sets=sets)
            thr = float(res.config["threshold_deg"])
            col = st.columns
            m = (np.asarray(col["activity"]) == "run") & (
                np.arange(tr.n) > res.firmware["calibration_end_index"]
            )
            eo.append(res.obl_mdeg[m] / 1000.0 - np.asarray(col["obliquity_deg"], float)[m])
            et.append(res.tilt_mdeg[m] / 1000.0 - np.asarray(col["tilt_deg"], float)[m])
            det = [(s.t_s, s.stance, s.cued) for s in res.steps]
            truth = st.steps
            for t_ic, side, drop in truth:
                if drop >= thr + 1.0:
                    q += 1
                    c += any(abs(t - t_ic) <= MATCH_S and sd == side and cu for t, sd, cu in det)
            t_ic_all = np.array([t for t, _s, _d in truth] + [np.inf])
            for i in res.cue_index:
                tc = float(tr.t_s[i])
                down = "R" if res.obl_mdeg[i] > 0 else "L"  # the side the estimate had down
                ok = False
                for k in range(len(truth)):
                    t0, side, drop = truth[k]
                    swing = "L" if side == "R" else "R"
                    if t0 - MATCH_S <= tc < t_ic_all[k + 1] and swing == down and drop >= thr:
                        ok = True
                        break
                false += 0 if ok else 1
            steps += len(truth)
            cues += len(res.cue_index)
    o = np.concatenate(eo)
    t = np.concatenate(et)
    return {
        "qualifying": q,
        "cued": c,
        "sensitivity": c / q if q else None,
        "cues": cues,
        "false_cues": false,
        "steps": steps,
        "false_per_1000": 1000.0 * false / steps if steps else None,
        "obliquity_rms_deg": float(np.sqrt(np.mean(o**2))),
        "tilt_rms_deg": float(np.sqrt(np.mean(t**2))),
    }
