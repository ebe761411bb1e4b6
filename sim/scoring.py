"""Steps and contacts against reference gait events: one scorer for the firmware and its peers.

References (../shared/data/real, see its README for sources and licences):
- ipol_S0x_Ty: heel strikes per foot from foot-mounted IMUs (CyrilVoisard/ipol_dataset_1,
  AGPL-3.0, read in place): stand, walk 10 m, U-turn, walk back, stop. The reference covers the
  whole walk, so every detection that matches no heel strike is an extra step, anywhere in the
  recording, except inside the U-turn span (the reference lists only some of its steps).
- mobgap_HA_001_*: initial contacts with Left/Right per walking bout from the INDIP reference
  system (mobilise-d/mobgap example data, Apache-2.0). The circuit (Test11) has steps outside
  the bouts (shuffles, sitting down), which the reference does not list: extra steps count
  within the bouts (with MARGIN_S either side); detections outside are reported as `outside`.
  The INDIP bouts skip some steps (gaps of 1-2 s inside a bout) that the optical reference
  (Stereophoto) lists, and back: a detection that matches a contact of either system is no
  extra step; matched and side are scored against INDIP alone.

Scoring, the same for every detector: a detection matches a reference initial contact within
MATCH_S (one to one, closest pairs first). Side accuracy: matched contacts whose stance side
(the foot that strikes) is the reference's. Extra steps: unmatched detections in the scored
span, as % of the reference contacts. Timing bias: median of (detected - reference) over the
matched contacts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MATCH_S = 0.150
MARGIN_S = 1.0


@dataclass
class Reference:
    name: str  # trace file stem without .trace
    dataset: str  # row of the per-dataset table
    subject: str
    trace: Path
    ic_t: np.ndarray
    ic_side: np.ndarray  # "L" / "R"
    spans: list[tuple[float, float]]  # where unmatched detections count as extra
    ignore: list[tuple[float, float]] = field(default_factory=list)  # not scored for extras
    # contacts of a second reference system: a detection within MATCH_S of one is no extra
    # step (the INDIP bouts of the circuit skip steps the optical system saw, and back)
    also_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    calibrate: bool = True  # the recording starts standing still


def _ic_list(times, sides):
    t, s = [], []
    for ts, side in zip(times, sides, strict=True):
        if ts is None or (isinstance(ts, float) and math.isnan(ts)):
            continue
        t.append(float(ts))
        s.append("L" if str(side).lower().startswith("l") else "R")
    return t, s


def load_references(
    data_dir: Path, system: str = "INDIP", other: str = "Stereophoto"
) -> list[Reference]:
    """Every shared recording with reference initial contacts, in a fixed order."""
    refs: list[Reference] = []
    for p in sorted(data_dir.glob("ipol_*_reference_events.json")):
        d = json.loads(p.read_text())
        name = p.name.replace("_reference_events.json", "")
        t, s = _ic_list(d["InitialContact_s"], d["InitialContact_LeftRight"])
        subj = name.split("_")[1]
        refs.append(
            Reference(
                name=name,
                dataset=f"ipol {subj}",
                subject=f"ipol-{subj}",
                trace=data_dir / f"{name}.trace.csv",
                ic_t=np.array(t),
                ic_side=np.array(s),
                spans=[(-math.inf, math.inf)],
                ignore=[tuple(d["u_turn_s"])],
            )
        )
    for p in sorted(data_dir.glob("mobgap_*_reference_events.json")):
        d = json.loads(p.read_text())
        name = p.name.replace("_reference_events.json", "")
        t, s, spans = [], [], []
        for wb in d[system]["MicroWB"]:
            spans.append((wb["Start_s"] - MARGIN_S, wb["End_s"] + MARGIN_S))
            tt, ss = _ic_list(wb["InitialContact_s"], wb["InitialContact_LeftRight"])
            t += tt
            s += ss
        also = []
        for wb in d.get(other, {}).get("MicroWB", []):
            also += _ic_list(wb["InitialContact_s"], wb["InitialContact_LeftRight"])[0]
        test = name.split("_")[3]
        refs.append(
            Reference(
                name=name,
                dataset=f"mobgap HA_001 {test}",
                subject="mobgap-HA_001",
                trace=data_dir / f"{name}.trace.csv",
                ic_t=np.array(t),
                ic_side=np.array(s),
                spans=spans,
                also_t=np.array(also),
                # the short walks start moving (no still second): replayed uncalibrated
                calibrate=test != "Test5",
            )
        )
    return refs


def _inside(t: np.ndarray, spans) -> np.ndarray:
    m = np.zeros(len(t), bool)
    for a, b in spans:
        m |= (t >= a) & (t <= b)
    return m


def score(det_t, det_side, ref: Reference) -> dict:
    """Counts for one recording (add them up with `total`)."""
    det_t = np.asarray(det_t, float)
    det_side = np.asarray(det_side, dtype="<U1")
    nd, nr = len(det_t), len(ref.ic_t)
    det_used = np.zeros(nd, bool)
    ref_used = np.zeros(nr, bool)
    pairs = []
    if nd and nr:
        d = det_t[None, :] - ref.ic_t[:, None]
        ri, di = np.nonzero(np.abs(d) <= MATCH_S)
        order = np.argsort(np.abs(d[ri, di]), kind="stable")
        for k in order:
            r, j = ri[k], di[k]
            if not ref_used[r] and not det_used[j]:
                ref_used[r] = det_used[j] = True
                pairs.append((r, j))
    side_ok = sum(int(det_side[j] == ref.ic_side[r]) for r, j in pairs)
    bias = [float(det_t[j] - ref.ic_t[r]) for r, j in pairs]
    scored = _inside(det_t, ref.spans) & ~_inside(det_t, ref.ignore)
    if len(ref.also_t) and nd:
        scored &= np.min(np.abs(det_t[:, None] - ref.also_t[None, :]), axis=1) > MATCH_S
    missed_t = [float(t) for t in ref.ic_t[~ref_used]]
    return {
        "name": ref.name,
        "ref": nr,
        "detected": nd,
        "matched": len(pairs),
        "side_ok": side_ok,
        "extra": int(np.sum(scored & ~det_used)),
        "outside": int(np.sum(~_inside(det_t, ref.spans))),
        "bias_s": bias,
        "missed_t": missed_t,
        "extra_t": [float(t) for t in det_t[scored & ~det_used]],
    }


def total(scores: list[dict]) -> dict:
    """Per-dataset figures from per-recording counts."""
    ref = sum(s["ref"] for s in scores)
    matched = sum(s["matched"] for s in scores)
    side_ok = sum(s["side_ok"] for s in scores)
    extra = sum(s["extra"] for s in scores)
    bias = [b for s in scores for b in s["bias_s"]]
    return {
        "recordings": len(scores),
        "ref": ref,
        "matched": matched,
        "side_ok": side_ok,
        "extra": extra,
        "outside": sum(s["outside"] for s in scores),
        "matched_pct": 100.0 * matched / ref if ref else None,
        "side_pct": 100.0 * side_ok / matched if matched else None,
        "extra_pct": 100.0 * extra / ref if ref else None,
        "bias_ms": 1000.0 * float(np.median(bias)) if bias else None,
    }


GOALS = {"matched_pct": 97.0, "side_pct": 99.0, "extra_pct": 3.0, "bias_ms": 20.0}


def meets_goals(t: dict) -> bool:
    return (
        t["matched_pct"] is not None
        and t["matched_pct"] >= GOALS["matched_pct"]
        and t["side_pct"] >= GOALS["side_pct"]
        and t["extra_pct"] <= GOALS["extra_pct"]
        and abs(t["bias_ms"]) <= GOALS["bias_ms"]
    )


def by_dataset(refs: list[Reference], scores: list[dict]) -> dict[str, dict]:
    """Totals per dataset row, in the order of first appearance, plus "all"."""
    rows: dict[str, list[dict]] = {}
    for ref, s in zip(refs, scores, strict=True):
        rows.setdefault(ref.dataset, []).append(s)
    out = {k: total(v) for k, v in rows.items()}
    out["all"] = total(scores)
    return out


def firmware_detections(ref: Reference, engine: str = "cpython", sets=()) -> dict:
    """The firmware's steps on a reference recording, through `hipcue replay`'s own path
    (calibrating from the still start where the recording has one): score(**this, ref=ref)."""
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    res = run_firmware(read_trace(ref.trace), calibrate=ref.calibrate, engine=engine, sets=sets)
    return {"det_t": [s.t_s for s in res.steps], "det_side": [s.stance for s in res.steps]}


def _f(v, fmt):
    return "n/a" if v is None else fmt.format(v)


def format_table(columns: dict[str, dict[str, dict]]) -> list[str]:
    """columns: detector name -> by_dataset() result. One line per dataset, detectors beside
    each other: IC matched %, side %, extra %, median bias ms."""
    names = list(columns)
    datasets = list(next(iter(columns.values())))
    head = f"{'dataset':<22} {'ICs':>4}"
    for n in names:
        head += f" | {n + ': matched':>18} {'side':>6} {'extra':>6} {'bias':>6}"
    lines = [head]
    for ds in datasets:
        first = columns[names[0]][ds]
        line = f"{ds:<22} {first['ref']:>4}"
        for n in names:
            t = columns[n][ds]
            line += (
                f" | {_f(t['matched_pct'], '{:.1f}%'):>18} {_f(t['side_pct'], '{:.1f}%'):>6}"
                f" {_f(t['extra_pct'], '{:.1f}%'):>6} {_f(t['bias_ms'], '{:+.0f}'):>6}"
            )
        lines.append(line)
    return lines
