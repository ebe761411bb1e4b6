"""Every missed and extra contact of the firmware's step detector on the shared recordings, by
where it happens (issue 14): walk start (its first two contacts), U-turn (within 0.5 s of its
span), the walk's last three contacts, after the walk, inside a straight walk; mobgap: a bout's
first or last contact (or before / after it, within the scorer's 1 s margin), inside a bout.
A miss with an extra within 400 ms is a mistimed contact (counted in both columns, marked in
the list).

    .venv/bin/python -m bench.gait_misses          # the table
    .venv/bin/python -m bench.gait_misses --list   # and every event

It runs shared/steps.py over the firmware's own inputs (bench/gait_tune.py's detect, the same
records as bench/gait.py) with the shipped defaults.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import numpy as np

from bench.gait_tune import detect
from sim import scoring
from sim.capture import capture
from sim.paths import data_dir

NEAR_S = 0.5  # "at" a U-turn, a walk's start or end: within this of its span
PAIR_S = 0.4  # a miss and an extra this close: one mistimed contact


def _where(t: float, ref: scoring.Reference, ev: dict) -> str:
    ic = ref.ic_t
    if "u_turn_s" in ev:
        w0, w1 = ev["walk_s"]
        u0, u1 = ev["u_turn_s"]
        if t > w1 + NEAR_S:
            return "after the walk"
        if u0 - NEAR_S <= t <= u1 + NEAR_S:
            return "U-turn"
        first = ic[ic >= w0 - NEAR_S]
        if t < w0 + NEAR_S or (len(first) and t <= first[min(1, len(first) - 1)] + 0.05):
            return "walk start"
        last = ic[ic <= w1 + NEAR_S]
        if len(last) >= 3 and t >= last[-3] - 0.05:
            return "last steps"
        return "straight walk"
    for wb in ev["INDIP"]["MicroWB"]:
        bt = [x for x in wb["InitialContact_s"] if x is not None and x == x]
        if not bt:
            continue
        if t < bt[0] - scoring.MARGIN_S or t > bt[-1] + scoring.MARGIN_S:
            continue
        if t <= bt[0] + 0.05:
            return "bout start"
        if t >= bt[-1] - 0.05:
            return "bout end"
        return "inside a bout"
    return "outside bouts"


def analyse(refs) -> dict:
    rows: Counter = Counter()
    events = []
    for r in refs:
        ev = json.loads(r.trace.with_name(r.name + "_reference_events.json").read_text())
        d = detect(capture(r))
        s = scoring.score(**d, ref=r)
        extra = np.array(s["extra_t"])
        missed = np.array(s["missed_t"])
        for kind, ts, other in (("missed", missed, extra), ("extra", extra, missed)):
            for t in ts:
                pair = bool(len(other) and np.min(np.abs(other - t)) <= PAIR_S)
                where = _where(float(t), r, ev)
                rows[(where, kind)] += 1
                if pair:
                    rows[(where, kind + " (mistimed)")] += 1
                events.append((r.name, float(t), kind, where, pair))
    return {"rows": rows, "events": events}


def format_table(res: dict) -> list[str]:
    rows = res["rows"]
    places = sorted({w for w, _ in rows}, key=lambda w: -rows[(w, "missed")] - rows[(w, "extra")])
    lines = [f"{'where':<16} {'missed':>7} {'of which mistimed':>18} {'extra':>6}"]
    for w in places:
        lines.append(
            f"{w:<16} {rows[(w, 'missed')]:>7} {rows[(w, 'missed (mistimed)')]:>18} "
            f"{rows[(w, 'extra')]:>6}"
        )
    tm = sum(v for (w, k), v in rows.items() if k == "missed")
    te = sum(v for (w, k), v in rows.items() if k == "extra")
    tp = sum(v for (w, k), v in rows.items() if k == "missed (mistimed)")
    lines.append(f"{'all':<16} {tm:>7} {tp:>18} {te:>6}")
    return lines


def main(argv: list[str]) -> int:
    res = analyse(scoring.load_references(data_dir()))
    for line in format_table(res):
        print(line)
    if "--list" in argv:
        for name, t, kind, where, pair in res["events"]:
            print(f"  {name:<28} {t:7.2f} {kind:<6} {where}{' (mistimed)' if pair else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
