"""Step detector: numpy prototype and evaluation on the mobgap HA_001 recordings.

    python bench/steps_proto.py            # prototype figures + integer detector, 100 Hz
    python bench/steps_proto.py --all      # also 50/200/400 Hz and other up-vector filters
    python bench/steps_proto.py --plot D   # figures of Test11 with detections into D

Data: mobgap example data HA_001 (Apache-2.0, mobilise-d/mobgap; /work/shared/data/real).
Inputs are computed from the traces by sim/stepsig.py (float up-vector filter, then rounded to
the firmware's integer units). A reference IC is matched by a detection within +-150 ms (each
detection used once); its side must be the reference foot. "Unmatched (either)" are detections
that match no IC of either reference; "outside" are those more than 1 s away from every bout of
either reference (sitting, standing, turning on the spot ...).

Part 1 is the float prototype that chose the signals:
- IC signal: peaks of the 40 ms difference ("jerk") of low-passed (acc_up - acc_fwd), against
  acc_up alone: fraction of reference ICs with a peak above 25 % of the walking level within
  150 ms, and peaks outside walking.
- Side: sign of the difference of the per-step sums of acc_left between neighbouring steps,
  with the reference ICs as step boundaries (upper bound for the causal detector).
Part 2 runs shared/steps.py (the integer detector) exactly as the firmware would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim import stepsig  # noqa: E402

TRIALS = stepsig.MOBGAP_TRIALS
SYSTEMS = ("INDIP", "Stereophoto")


# ------------------------------------------------------------------ part 1: float prototype


def lowpass(x, fc, fs, order=2):
    a = 1.0 - np.exp(-2 * np.pi * fc / fs)
    y = np.asarray(x, dtype=float)
    for _ in range(order):
        out = np.empty_like(y)
        s = y[0]
        for i, v in enumerate(y):
            s += a * (v - s)
            out[i] = s
        y = out
    return y


def jerk(x, fc, fs, span_ms=40):
    d = max(1, round(span_ms * fs / 1000))
    c = lowpass(x, fc, fs)
    j = np.zeros_like(c)
    j[d:] = c[d:] - c[:-d]
    return j


def prototype_ic_signals(sigs):
    print("1a. IC signal (float): reference ICs (both systems) with a peak > 25 % of the walking")
    print("    95th percentile within 150 ms; peaks in and outside walking bouts (+- 1 s)")
    for name in ("up-fwd 4 Hz", "up-fwd 6 Hz", "up 4 Hz", "up 6 Hz"):
        hit = n_ref = p_in = p_out = 0
        for trial in TRIALS:
            s = sigs[trial]
            fs = 1e6 / s["period_us"]
            up = np.asarray(s["acc_up_mg"], float)
            x = up - s["acc_fwd_mg"] if name.startswith("up-fwd") else up
            j = jerk(x, float(name.split()[-2]), fs)
            t = s["t"]
            refs, bouts = [], []
            for system in SYSTEMS:
                rt, _, b = stepsig.reference(trial, system)
                refs.append(rt[~np.isnan(rt)])
                bouts += b
            walk = np.zeros(len(j), bool)
            for b0, b1 in bouts:
                walk |= (t >= b0 - 1) & (t <= b1 + 1)
            thr = 0.25 * np.percentile(j[walk], 95)
            pk = np.flatnonzero((j[1:-1] > j[:-2]) & (j[1:-1] >= j[2:]) & (j[1:-1] > thr)) + 1
            keep = []  # one peak per 150 ms, the largest
            for p in pk:
                if keep and p - keep[-1] < 0.15 * fs:
                    if j[p] > j[keep[-1]]:
                        keep[-1] = p
                else:
                    keep.append(p)
            pt = t[np.array(keep, int)]
            for rt in refs:
                for x_ in rt:
                    n_ref += 1
                    hit += int(len(pt) > 0 and np.min(np.abs(pt - x_)) <= 0.15)
            inw = walk[np.array(keep, int)]
            p_in += int(inw.sum())
            p_out += int((~inw).sum())
        print(f"    {name:12s} ICs {hit}/{n_ref}  peaks in walking {p_in}, outside {p_out}")


def prototype_side(sigs):
    print("1b. side from per-step lateral sums, reference ICs as boundaries (float):")
    for turn in (0.0, 1.0):
        for system in SYSTEMS:
            ok = n = 0
            for trial in TRIALS:
                s = sigs[trial]
                fs = 1e6 / s["period_us"]
                rt, rs, _ = stepsig.reference(trial, system)
                keep = ~np.isnan(rt)
                rt, rs = rt[keep], rs[keep]
                idx = np.rint(rt * fs).astype(int)
                # lateral acc without the centripetal part (speed turn m/s x yaw rate)
                lat = (
                    np.asarray(s["acc_left_mg"], float)
                    - turn * np.radians(np.asarray(s["gyro_up_cdps"]) / 100.0) / 9.80665 * 1000.0
                )
                sums = np.array([lat[idx[k] : idx[k + 1]].sum() for k in range(len(idx) - 1)])
                for k in range(1, len(sums)):
                    if rt[k + 1] - rt[k - 1] > 3.0:
                        continue  # a pause, not neighbouring steps
                    n += 1
                    ok += int((sums[k - 1] - sums[k] > 0) == (rs[k] == 0))
            print(f"    turn speed {turn:.0f} m/s, {system:11s}: {ok}/{n} = {100 * ok / n:.1f} %")


def reference_agreement():
    print("1c. the references against each other (ICs inside the other's bouts, +- 150 ms):")
    for trial in TRIALS:
        (it, is_, _), (st, ss, sb) = (stepsig.reference(trial, k) for k in SYSTEMS)
        ok = ~np.isnan(st)
        sel = np.array([any(b0 - 0.2 <= x <= b1 + 0.2 for b0, b1 in sb) for x in it], bool)
        r = stepsig.score(st[ok], ss[ok], it[sel], is_[sel], sb)
        print(
            f"    {trial:14s} INDIP ICs in Stereophoto bouts: {r['matched']}/{r['n_ref']} "
            f"found by Stereophoto, {r['side_ok']} same side"
        )


# ------------------------------------------------------------------ part 2: integer detector


def evaluate(rate_hz=None, tau_s=2.0, verbose=True, kw=None):
    pooled = {k: [0, 0, 0] for k in SYSTEMS}
    rows = []
    false = {}
    for trial in TRIALS:
        sig = stepsig.trial_signals(trial, rate_hz=rate_hz, tau_s=tau_s)
        det = stepsig.run_detector(sig, **(kw or {}))
        ev = stepsig.evaluate(trial, det, sig["period_us"])
        for system in SYSTEMS:
            r = ev[system]
            p = pooled[system]
            p[0] += r["n_ref"]
            p[1] += r["matched"]
            p[2] += r["side_ok"]
            rows.append((trial, system, r))
        false[trial] = ev["union"]
    if verbose:
        print(f"    {'trial':14s} {'reference':11s} {'ICs':>4s} {'matched':>8s} {'side ok':>8s}")
        for trial, system, r in rows:
            print(
                f"    {trial:14s} {system:11s} {r['n_ref']:4d} {r['matched']:8d} {r['side_ok']:8d}"
            )
        for trial, u in false.items():
            print(
                f"    {trial:14s} detections {u['n_det']:3d}, unmatched (either) "
                f"{u['unmatched']:2d}, outside bouts {u['outside']:2d}: {u['unmatched_t']}"
            )
    out = []
    for system in SYSTEMS:
        n, m, s = pooled[system]
        out.append(f"{system} {m}/{n} = {100 * m / n:.1f} % side {100 * s / max(m, 1):.1f} %")
    fu = sum(u["unmatched"] for u in false.values())
    fo = sum(u["outside"] for u in false.values())
    out.append(f"unmatched {fu} (outside bouts {fo})")
    return " | ".join(out)


def plot(outdir, kw=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    trial = "Test11_Trial1"
    sig = stepsig.trial_signals(trial)
    det = stepsig.run_detector(sig, **(kw or {}))
    fs = 1e6 / sig["period_us"]
    t = sig["t"]
    j = jerk(np.asarray(sig["acc_up_mg"], float) - sig["acc_fwd_mg"], 4.0, fs)
    for t0 in range(0, int(t[-1]) + 1, 20):
        m = (t >= t0) & (t < t0 + 20)
        fig, ax = plt.subplots(3, 1, figsize=(16, 8), sharex=True)
        ax[0].plot(t[m], j[m], lw=0.7)
        ax[0].set_ylabel("jerk (up-fwd), mg/40 ms")
        ax[1].plot(t[m], sig["acc_left_mg"][m], lw=0.7)
        ax[1].set_ylabel("acc_left, mg")
        ax[2].plot(t[m], sig["obl_mdeg"][m] / 1000.0, lw=0.7)
        ax[2].set_ylabel("obliquity, deg")
        for ic_n, side, _drop, _end in det:
            x = ic_n / fs
            if t0 <= x < t0 + 20:
                for a in ax:
                    a.axvline(x, color="g" if side == 0 else "r", lw=3, alpha=0.3)
        for system, ls in (("INDIP", "-"), ("Stereophoto", ":")):
            rt, rs, _ = stepsig.reference(trial, system)
            for x, sd in zip(rt, rs, strict=True):
                if t0 <= x < t0 + 20:
                    for a in ax:
                        a.axvline(x, color="g" if sd == 0 else "r", ls=ls, lw=1)
        ax[-1].set_xlabel("s (wide: detections, thin: INDIP, dotted: Stereophoto; green L, red R)")
        fig.tight_layout()
        fig.savefig(outdir / f"steps_{trial}_{t0:03d}.png")
        plt.close(fig)
    print(f"figures in {outdir}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", action="store_true", help="also other rates and up-vector filters")
    ap.add_argument("--plot", metavar="DIR", help="write figures of Test11 into DIR")
    args = ap.parse_args(argv)
    sigs = {trial: stepsig.trial_signals(trial) for trial in TRIALS}
    print("1. float prototype")
    prototype_ic_signals(sigs)
    prototype_side(sigs)
    reference_agreement()
    print("2. shared/steps.py (integer), 100 Hz, up-vector filter tau 2 s")
    print("    " + evaluate())
    if args.all:
        for rate in (50, 200, 400):
            print(f"    {rate} Hz: " + evaluate(rate_hz=rate, verbose=False))
        for tau in (1.0, 5.0):
            print(f"    tau {tau:.0f} s: " + evaluate(tau_s=tau, verbose=False))
    if args.plot:
        plot(args.plot)


if __name__ == "__main__":
    main()
