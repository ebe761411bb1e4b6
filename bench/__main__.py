"""`python -m bench` (from the repo root; `make bench`): the firmware's figures against their
targets, printed one per line and written to bench/latest.json.

  1  allocation per sample of the whole loop (MicroPython, gc.mem_alloc + micropython.mem_total)
  2  instructions per sample (callgrind, MicroPython unix port): hipcue loop vs float Madgwick
  3  synthetic walks: obliquity RMS, per-step drop error p95, step detection rate
  4  cue latency vs the true threshold crossing (synthetic walks, 100 Hz)
  5  steps on every shared recording with reference events (ipol, mobgap): ICs matched, stance
     side, extra steps, contact timing bias, per dataset, beside mobgap 1.2.0 (bench/gait.py)
  6  BROAD 07: tilt / obliquity / up-vector error vs optical truth, ours and imufusion 1.3.3
  7  fixed point vs the float64 reference (sim/floatref.py)
  8  serial link on the virtual device: round trip, log download throughput, late samples
  9  session logs: hours per MB (per-step and raw), flash bytes per hour, flush duration
 10  feedback: false cues per 1,000 steps (healthy-like synthetic walks, real mobgap walks) and
     cue sensitivity on walks whose drop is 2 deg past the threshold (default settings)
 11  the whole board loop (device/main.py run(): read, tick, log service, button, command
     service and link check) on the unix port: x86 instructions per sample (callgrind, mean,
     median, p99, by stage), bytes per sample, a 10-minute walk's collections (bench/loopcost.py)
 12  gates: the turn gate's threshold from straight walking and U-turns, the tilt gate on the
     bent-over stretch of the mobgap circuit (sim/gates.py)
 13  exercise mode: reps counted, per-rep drop error, cue latency, roll-back cue (synthetic sets)
 14  the hipcue image on an emulated RP2040 (bench/rp2040.py; rp2040js 1.4.1, cycle model not
     checked against silicon): boot; the loop that sleeps (FIFO batches, issue 15): cycles per
     sample, CPU duty, wake-ups and time asleep walking and waiting for motion, missed/late
     samples, cue latency to the motor pin, GC, heap (build/power-measured.json for `hipcue
     power`); the stages by cycles, heap; the make deploy path; replay identity
 15  power (bench/power.py): `hipcue power`'s battery budget from the measured chip figures and
     cited currents (hardware/power.md), days on 500 mAh and standby months against the goals;
     the low-power settings with their measured effect: ~52 Hz (resampled real recordings,
     synthetic walks at 52 Hz), a lower core clock (cycles / clock), shorter and faded cues
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import accuracy, cellread, cost, gait, gait_tune, loopcost  # noqa: E402
from bench import exercise as exbench  # noqa: E402
from shared.config import SCHEMA  # noqa: E402
from sim import gates, running, scoring, stairs  # noqa: E402
from sim import realdata as real  # noqa: E402


def _gates():
    refs = scoring.load_references(real.DATA)
    return {
        "turn": gates.turn_figures(refs, SCHEMA["turn_tau_ms"][1]),
        "turn_raw": gates.turn_figures(refs, 0),
        "tilt": gates.tilt_figures(refs),
    }


def _gait_loso():
    return gait_tune.loso(scoring.load_references(real.DATA), gait_tune.GRID)


def _stairs():
    f = stairs.figures(scoring.load_references(real.DATA))
    f.pop("detail")
    return f


def _call(name_args):
    name, args = name_args
    fn = {
        "alloc": cost.alloc,
        "instructions": cost.instructions,
        "tickparts": cost.tick_parts,
        "cellread": cellread.cell_read_cost,
        "walk": accuracy.one_walk,
        "gait": gait.bench_run,
        "gait_loso": _gait_loso,
        "stairs": _stairs,
        "gates": _gates,
        "broad": real.broad,
        "fixfloat": real.fixed_vs_float,
        "fusioncheck": real.imufusion_check,
        "loop_instr": loopcost.instructions,
        "loop_alloc": loopcost.alloc,
        "loop_walk": loopcost.walk,
        "loop_heap": loopcost.heap,
        "exercise": exbench.one_set,
        "ex_still": exbench.still_effect,
    }[name]
    t0 = time.time()
    try:
        return {"ok": True, "value": fn(*args), "s": time.time() - t0}
    except Exception as e:  # noqa: BLE001 - one failed figure must not hide the others
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "tb": traceback.format_exc()}


class Report:
    def __init__(self):
        self.rows: list[dict] = []
        self.lines: list[str] = []

    def section(self, title: str):
        self.lines.append(f"# {title}")

    def fig(self, name, value, target=None, ok=None, fmt="{:.2f}", unit=""):
        if value is None:
            text = "n/a"
        elif isinstance(value, str):
            text = value
        else:
            text = fmt.format(value) + unit
        status = "" if ok is None else ("PASS" if ok else "MISS")
        tgt = "" if target is None else f"target {target}"
        self.lines.append(f"{name:<46} {text:>16}   {tgt:<16} {status}".rstrip())
        self.rows.append({"name": name, "value": value, "target": target, "status": status or None})

    def note(self, text: str):
        self.lines.append(f"  {text}")

    def error(self, what: str, res: dict):
        self.lines.append(f"{what:<46} {'ERROR':>16}   {res['error']}")
        self.rows.append(
            {"name": what, "value": None, "target": None, "status": "ERROR", "error": res["error"]}
        )


def _feedback_figures() -> dict:
    import tempfile

    from hipcue import synth
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    out: dict = {"synth_steps": 0, "synth_cues": 0, "mobgap_steps": 0, "mobgap_cues": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for drop in (3.0, 4.0, 5.0):
            for seed in (1, 2, 3):
                segs = [
                    synth.Segment("stand", 3.0),
                    synth.Segment("walk", 60.0, 105.0, drop, drop),
                    synth.Segment("stand", 2.0),
                ]
                tr = synth.generate(segs, seed=seed)
                p = f"{tmp}/h{drop}-{seed}.csv"
                synth.write_trace_csv(tr, p)
                res = run_firmware(read_trace(p), engine="cpython")
                out["synth_steps"] += res.summary["steps"]
                out["synth_cues"] += res.summary["cues"]
        qualifying = cued = 0
        for seed in (1, 2, 3):
            segs = [
                synth.Segment("stand", 3.0),
                synth.Segment("walk", 60.0, 105.0, 4.0, 8.0),
                synth.Segment("stand", 2.0),
            ]
            tr = synth.generate(segs, seed=seed)
            p = f"{tmp}/s{seed}.csv"
            synth.write_trace_csv(tr, p)
            res = run_firmware(read_trace(p), engine="cpython")
            truth = [t for t, side, d in tr.steps if side == "R" and d >= 7.0]
            qualifying += len(truth)
            det = [s.t_s for s in res.steps if s.stance == "R" and s.cued]
            cued += sum(1 for t in truth if any(abs(t - d) <= 0.15 for d in det))
    for name in real.MOBGAP_TRIALS:
        res = run_firmware(
            read_trace(real.DATA / f"mobgap_HA_001_{name}.trace.csv"),
            calibrate=False,
            engine="cpython",
        )
        out["mobgap_steps"] += res.summary["steps"]
        out["mobgap_cues"] += res.summary["cues"]
    out["synth_false_per_1000"] = 1000.0 * out["synth_cues"] / max(1, out["synth_steps"])
    out["mobgap_false_per_1000"] = 1000.0 * out["mobgap_cues"] / max(1, out["mobgap_steps"])
    out["qualifying"] = qualifying
    out["cued"] = cued
    out["sensitivity"] = cued / max(1, qualifying)
    return out


def _rp2040_section(r: Report, detail: dict) -> None:
    """14: the hipcue image on the emulated RP2040 (bench/rp2040.py). Walk length and the
    number of replayed traces: HIPCUE_BENCH_RP2040_WALK_S (default 60 s emulated),
    HIPCUE_BENCH_RP2040_TRACES (default 0: every shared real trace)."""
    import os

    from bench import rp2040
    from sim.rp2040 import EMULATOR, emulator_missing, ensure_emulator

    r.section(f"14 board loop on the chip ({EMULATOR})")
    try:
        ensure_emulator()
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 emulator", {"error": str(e)})
        return
    why = emulator_missing()
    if why:
        r.error("rp2040 emulator", {"error": why})
        return
    walk_s = float(os.environ.get("HIPCUE_BENCH_RP2040_WALK_S", "60"))
    limit = int(os.environ.get("HIPCUE_BENCH_RP2040_TRACES", "0"))
    try:
        b = rp2040.boot_time()
        detail["rp2040_boot"] = b
        r.fig(
            "boot to first sample (formatted flash)",
            b["formatted"]["boot_to_first_sample_ms"],
            None,
            None,
            "{:.0f}",
            " ms",
        )
        r.note(
            f"first power-up on blank flash {b['blank_flash']['boot_to_first_sample_ms']:.0f} ms "
            f"(LittleFS formatted: {b['blank_flash']['flash_stall_ms']:.0f} ms of erase stalls)"
        )
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 boot", {"error": f"{type(e).__name__}: {e}"})
    try:
        pw = rp2040.power(walk_s)
        detail["rp2040_power"] = pw
        w = pw["walk"]["walking"]
        r.fig(
            "whole loop cycles/sample median (batched)",
            w["cycles_per_sample_median"],
            "<= 40000",
            w["cycles_per_sample_median"] <= 40000,
            "{:.0f}",
        )
        r.fig("whole loop cycles/sample p99", w["cycles_per_sample_p99"], None, None, "{:.0f}")
        r.fig(
            "CPU duty walking at 104 Hz",
            w["duty_pct"],
            "<= 3.2 %",
            w["duty_pct"] <= 3.2,
            "{:.1f}",
            " %",
        )
        r.fig("wake-ups per second walking", w["wakes_per_s"], None, None, "{:.1f}", "/s")
        r.fig("time asleep walking (WFE)", w["asleep_pct"], None, None, "{:.1f}", " %")
        r.note(
            f"fifo_batch {pw['walk']['fifo_batch']}: {w['samples_per_batch_mean']:.2f} samples "
            f"a batch read; the image as it boots (no stage stamps), session logged, "
            f"{pw['walk'].get('download_bytes', 0)} B of logs pulled mid-walk"
        )
        r.fig(
            "missed samples (overwritten unread)",
            w["samples_missed"],
            0,
            w["samples_missed"] == 0,
            "{:.0f}",
        )
        r.fig(
            "late samples (> a batch behind)",
            w["samples_late"],
            0,
            w["samples_late"] == 0,
            "{:.0f}",
        )
        r.fig(
            "cue latency median (data-ready -> motor pin)",
            w["cue_latency_ms_median"],
            "<= 15 ms",
            w["cue_latency_ms_median"] <= 15,
            "{:.2f}",
            " ms",
        )
        r.fig(
            "cue latency p95",
            w["cue_latency_ms_p95"],
            "<= 25 ms",
            w["cue_latency_ms_p95"] <= 25,
            "{:.2f}",
            " ms",
        )
        r.note(
            f"{w['cues']} cues (the unix port gives {w['cues_unix_port']} on the trace), from "
            f"the data-ready edge of the crossing sample; max {w['cue_latency_ms_max']:.1f} ms"
        )
        r.fig(
            "GC runs while walking",
            pw["walk"]["gc_runs_walking"],
            0,
            pw["walk"]["gc_runs_walking"] == 0,
            "{:.0f}",
        )
        r.fig(
            "heap free low (sampled by info)", pw["walk"]["heap_free_low"], None, None, "{}", " B"
        )
        i = pw["idle"]
        for key, label in (("waiting_no_usb", "no USB"), ("waiting_usb", "USB")):
            if key in i:
                r.fig(
                    f"waiting for motion ({label}): CPU duty",
                    i[key]["duty_pct"],
                    None,
                    None,
                    "{:.2f}",
                    " %",
                )
                r.fig(
                    f"waiting for motion ({label}): wake-ups",
                    i[key]["wakes_per_s"],
                    None,
                    None,
                    "{:.1f}",
                    "/s",
                )
        nu = pw["walk_no_usb"]["walking"]
        r.fig(
            "CPU duty walking, USB unplugged (lightsleep)",
            nu["duty_pct"],
            None,
            None,
            "{:.1f}",
            " %",
        )
        r.fig("wake-ups per second, USB unplugged", nu["wakes_per_s"], None, None, "{:.1f}", "/s")
        r.note(f"motion events at {i['motion_events_s']} s; sensor rates {i['odr_changes']}")
        r.note(f"figures for hipcue power: {rp2040.POWER_JSON}")
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 power", {"error": f"{type(e).__name__}: {e}"})
    try:
        v = rp2040.board_loop(min(walk_s, 30.0))
        detail["rp2040_loop"] = v
        for name, st in v["stages"].items():
            if name.startswith("board.next_sample"):
                continue  # with batching it includes the sleep: see the figures above
            r.note(
                f"{name:<28} median {st['median_cycles']:>8.0f}  p99 {st['p99_cycles']:>8.0f}"
                f"  calls/sample {st['calls_per_sample_mean']:.3f}"
            )
        r.note(f"stamp pair (subtracted per call) {v['stamp_pair_cycles']:.0f} cycles")
        r.fig(
            "heap free after boot",
            v["heap_free_after_boot"],
            ">= 100 KB",
            v["heap_free_after_boot"] >= 100_000,
            "{:.0f}",
            " B",
        )
        r.note(f"after a gc.collect() {v['heap_free_after_boot_collected']} B")
        r.fig(
            "heap free low-water mark (stamped run)", v["heap_free_low"], None, None, "{:.0f}", " B"
        )
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 loop", {"error": f"{type(e).__name__}: {e}"})
    try:
        import tempfile

        from sim.rp2040 import STOCK_UF2

        with tempfile.TemporaryDirectory() as tmp:
            flash = Path(tmp) / "flash.bin"
            d = rp2040.deploy_path(flash)
            detail["rp2040_deploy"] = d
            r.fig("make deploy path (.mpy on stock 1.28) starts", "yes" if d["started"] else "no")
            r.note(f"boot output: {d['boot_output'][-120:]!r}")
            if d["started"]:
                v = rp2040.board_loop(min(walk_s, 10.0), STOCK_UF2, flash)
                detail["rp2040_deploy_loop"] = v
                r.fig(
                    "  .mpy: heap free after boot",
                    v["heap_free_after_boot"],
                    None,
                    None,
                    "{:.0f}",
                    " B",
                )
                r.note(
                    f"after a gc.collect() {v['heap_free_after_boot_collected']} B; loop "
                    f"median {v['work_median_cycles']:.0f} cycles/sample; GC runs "
                    f"{v['gc_runs_in_loop']} in {v['emulated_s']:.0f} s"
                )
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 deploy path", {"error": f"{type(e).__name__}: {e}"})
    try:
        v = rp2040.replay_identity(limit)
        detail["rp2040_replay"] = v
        r.fig(
            "replay rp2040 == unix port (traces)",
            f"{v['identical']}/{v['of']}",
            "all",
            v["identical"] == v["of"] and v["all_real_traces"],
        )
        bad = [t["trace"] for t in v["traces"] if not t["identical"]]
        if bad:
            r.note("differ: " + ", ".join(bad))
        r.note(
            "missed/late on the chip: "
            + ", ".join(
                f"{t['trace'].split('.')[0]} {t.get('missed', '?')}/{t.get('late', '?')}"
                for t in v["traces"]
            )
        )
    except Exception as e:  # noqa: BLE001
        r.error("rp2040 replay", {"error": f"{type(e).__name__}: {e}"})


def _loop_figures(r: Report, got: dict, detail: dict) -> None:
    c = got["loop_instr"][0]
    if c["ok"]:
        v = c["value"]
        detail["board_loop_instructions"] = v
        r.fig(
            "loop instr/sample median (callgrind)",
            v["median"],
            "<= 20000",
            v["median"] <= 20000,
            "{:.0f}",
        )
        r.fig("  mean", v["mean"], "<= 20000", v["mean"] <= 20000, "{:.0f}")
        r.fig("  p99 / max", f"{v['p99']:.0f}/{v['max']:.0f}")
        st = v.get("stages", {})
        r.note(
            "by stage, median (mean): "
            + ", ".join(
                f"{k} {st[k]['median']:.0f} ({st[k]['mean']:.0f})" for k in loopcost.STAGE_NAMES
            )
        )
        r.note(
            f"{v['iterations_dumped']} iterations dumped one by one after {loopcost.WARMUP} "
            f"warm-up samples of a walk with a session logged, no host traffic; marker "
            f"{v['marker']:.0f} subtracted; mean over {v['n_mean']} unmarked samples; read = "
            "the simulated board (sim/loop.py), not I2C"
        )
    else:
        r.error("board loop instructions", c)
    a = got["loop_alloc"][0]
    if a["ok"]:
        v = a["value"]
        detail["board_loop_alloc"] = v
        fl = v["after"]["flushes"] - v["before"]["flushes"]
        r.fig(
            "loop alloc bytes/sample incl. flushes",
            v["bytes_per_sample_mem_total"],
            None,
            None,
            "{:.2f}",
        )
        r.note(
            f"{v['n']} samples in one run() call, GC off, boot()'s log settings, set-up "
            f"subtracted: mem_alloc / mem_total deltas {v['mem_alloc_delta']} / "
            f"{v['mem_total_delta']} B, all from {fl} log flushes (the only iterations that "
            "allocate: tests/test_board_loop_alloc.py, and the walk below)"
        )
    else:
        r.error("board loop alloc", a)
    w = got["loop_walk"][0]
    if w["ok"]:
        v = w["value"]
        detail["board_loop_walk"] = v
        r.fig("10-min walk: collections", v["collections"], "0", v["collections"] == 0, "{:d}")
        r.fig(
            "  bytes/sample, iterations without a flush",
            v["bytes_per_sample_no_flush"],
            0,
            v["bytes_no_flush"] == 0,
            "{:.2f}",
        )
        r.fig("  bytes per log flush", v["bytes_per_flush"], None, None, "{:.0f}")
        r.note(
            f"{v['n']} samples (100 Hz) with a session logged, GC on, 8 MB heap: "
            f"{v['iterations_allocating_no_flush']} iterations without a flush allocated; "
            f"{v['flush_iterations']} flushes allocated {v['bytes_at_flushes']} B in all"
        )
    else:
        r.error("board loop walk", w)
    h = got["loop_heap"][0]
    if h["ok"]:
        v = h["value"]
        detail["board_loop_heap"] = v
        for kind in ("py", "mpy"):
            x = v[kind]
            r.fig(
                f"live heap after start-up ({kind})",
                x["after_start"] / 1024,
                None,
                None,
                "{:.1f}",
                " KiB",
            )
            r.note(
                f"modules {x['modules'] / 1024:.1f} KiB, objects {x['objects'] / 1024:.1f} KiB "
                f"(of which the simulated board's trace {x['trace_bytes'] / 1024:.1f} KiB); "
                f"after 500 samples {x['after_500_samples'] / 1024:.1f} KiB"
            )
        r.note("64-bit unix port: words are 8 bytes (4 on the RP2040)")
    else:
        r.error("board loop heap", h)


def main() -> int:
    t_start = time.time()
    jobs = [("instructions", ()), ("tickparts", ()), ("cellread", ()), ("loop_instr", ())]
    jobs += [("walk", w) for w in accuracy.WALKS]
    jobs += [("alloc", ()), ("broad", ())]
    jobs += [("gait", ()), ("gait_loso", ()), ("stairs", ()), ("gates", ())]
    jobs += [("fixfloat", (w,)) for w in real.FIXED_VS_FLOAT]
    jobs += [("fusioncheck", ()), ("loop_alloc", ()), ("loop_walk", ())]
    jobs += [("loop_heap", ())]
    jobs += [("exercise", j) for j in exbench.JOBS]
    jobs += [("ex_still", j) for j in exbench.STILL_JOBS]
    with ProcessPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(_call, jobs))
    got: dict = {}
    for (name, _args), res in zip(jobs, results, strict=True):
        got.setdefault(name, []).append(res)
    r = Report()
    detail: dict = {}

    # 1 -----------------------------------------------------------------------------------
    r.section("1 allocation per sample (MicroPython unix port, whole loop, steady walking)")
    a = got["alloc"][0]
    if a["ok"]:
        v = a["value"]
        detail["alloc"] = v
        r.fig(
            "alloc bytes/sample (gc.mem_alloc)",
            v["bytes_per_sample_mem_alloc"],
            0,
            v["mem_alloc_delta"] == 0,
            "{:.1f}",
        )
        r.fig(
            "alloc bytes/sample (mem_total)",
            v["bytes_per_sample_mem_total"],
            0,
            v["mem_total_delta"] == 0,
            "{:.1f}",
        )
        r.note(
            f"{v['n']} samples after {cost.WARMUP} warm-up, {v['steps']} steps drained; "
            f"raw deltas {v['mem_alloc_delta']} / {v['mem_total_delta']} B"
        )
    else:
        r.error("alloc", a)

    # 2 -----------------------------------------------------------------------------------
    r.section("2 instructions per sample (callgrind, MicroPython unix port x86-64)")
    c = got["instructions"][0]
    if c["ok"]:
        v = c["value"]
        detail["instructions"] = v
        r.fig("instr/sample hipcue loop", v["hipcue_loop"], None, None, "{:.0f}")
        r.fig(
            "instr/sample Madgwick update (bytecode)",
            v["madgwick_update_bytecode"],
            None,
            None,
            "{:.0f}",
        )
        r.fig(
            "instr/sample Madgwick update (@native)",
            v["madgwick_update_native"],
            None,
            None,
            "{:.0f}",
        )
        r.fig(
            "ratio hipcue / Madgwick (cheaper)",
            v["ratio_vs_cheaper_madgwick"],
            "<= 0.333",
            v["ratio_vs_cheaper_madgwick"] <= 1 / 3,
            "{:.3f}",
        )
        r.fig("  loop vs loop (Madgwick incl. load)", v["ratio_loop_vs_loop"], None, None, "{:.3f}")
        per = v["per_region_per_sample"]
        r.note(
            "regions (instr/sample incl. map+call): "
            + ", ".join(f"{k} {per[k]:.0f}" for k in cost.REGIONS)
            + f"; collected outside regions: {v['collected_outside_regions']}"
        )
    else:
        r.error("instructions", c)
    c = got["tickparts"][0]
    if c["ok"]:
        v = c["value"]
        detail["tick_parts"] = v
        r.fig("  tick by part: estimator update", v["est"], None, None, "{:.0f}")
        r.fig("  tick by part: step detector update", v["steps"], None, None, "{:.0f}")
        r.fig("  tick by part: cue update", v["cue"], None, None, "{:.0f}")
        r.fig("  tick by part: the tick's own work", v["rest"], None, None, "{:.0f}")
        r.note(
            f"tick without the board read {v['tick']:.0f}; bench/mp_tick_parts.py: each part "
            f"fed the tick's recorded arguments from the same state, {v['n']} samples, mean"
        )
    else:
        r.error("tick parts", c)
    c = got["cellread"][0]
    if c["ok"]:
        v = c["value"]
        detail["cell_read"] = v
        r.fig("instr/state-cell read, inline (viper)", v["inline"], None, None, "{:.0f}")
        r.fig("instr/state-cell read, helper call", v["helper"], None, None, "{:.0f}")
        r.note("why the sign-correcting read stays inline (23 reads per tick)")
    else:
        r.error("cell read", c)

    # 3 + 4 -------------------------------------------------------------------------------
    walks = [x["value"] for x in got["walk"] if x["ok"]]
    bad = [x for x in got["walk"] if not x["ok"]]
    for b in bad:
        r.error("synthetic walk", b)
    if walks:
        s = accuracy.combine(walks)
        detail["synthetic"] = s
        detail["synthetic_walks"] = [
            {k: w[k] for k in w if k not in ("drop_err", "latencies_s")} for w in walks
        ]
        r.section(
            f"3 synthetic walks ({len(walks)} x {accuracy.DURATION_S:.0f} s: "
            f"{', '.join(s['walks'])}; noise + bias on)"
        )
        r.fig(
            "obliquity RMS error (walking)",
            s["obliquity_rms_deg"],
            "<= 1.0 deg",
            s["obliquity_rms_deg"] <= 1.0,
            "{:.2f}",
            " deg",
        )
        r.fig("  worst walk", s["obliquity_rms_deg_worst_walk"], None, None, "{:.2f}", " deg")
        r.note(
            "per walk rms (mean, std) deg: "
            + "; ".join(
                f"{w['walk']} {w['obl_rms']:.2f} ({w['obl_mean_err']:+.2f}, {w['obl_std_err']:.2f})"
                for w in walks
            )
        )
        r.fig(
            "step drop error p95",
            s["drop_err_p95_deg"],
            "<= 1.0 deg",
            s["drop_err_p95_deg"] is not None and s["drop_err_p95_deg"] <= 1.0,
            "{:.2f}",
            " deg",
        )
        r.fig("  median / max", f"{s['drop_err_median_deg']:.2f}/{s['drop_err_max_deg']:.2f} deg")
        r.fig("step detection rate", 100.0 * s["step_detection_rate"], None, None, "{:.1f}", " %")
        r.note(
            f"{s['steps_matched']} of {s['steps_truth']} truth steps matched (+-150 ms, same "
            f"stance); {s['steps_detected']} detected"
        )
        r.section("4 cue latency (true |obliquity| crossing the threshold -> motor on)")
        r.fig(
            "cue latency median",
            s["cue_latency_median_ms"],
            "<= 20 ms",
            s["cue_latency_median_ms"] is not None and s["cue_latency_median_ms"] <= 20,
            "{:.1f}",
            " ms",
        )
        r.fig(
            "cue latency p95",
            s["cue_latency_p95_ms"],
            "<= 40 ms",
            s["cue_latency_p95_ms"] is not None and s["cue_latency_p95_ms"] <= 40,
            "{:.1f}",
            " ms",
        )
        r.fig("cue crossings scored", s["cue_crossings_scored"], None, None, "{:d}")
        r.fig("cue misses (no cue within 200 ms)", s["cue_misses"], None, None, "{:d}")
        r.note(
            f"min latency {s['cue_latency_min_ms']:.1f} ms (a cue up to "
            f"{accuracy.EARLY_S * 1000:.0f} ms early counts); crossings skipped as not armed "
            f"(cue in the preceding refractory period): {s['cue_crossings_not_armed']}"
        )

    # 5 -----------------------------------------------------------------------------------
    r.section(
        "5 steps on every shared recording with reference events (sim/scoring.py; "
        "python -m bench.gait): hipcue firmware vs mobgap 1.2.0"
    )
    g5 = got["gait"][0]
    if g5["ok"]:
        v = g5["value"]
        detail["gait"] = v["table"]
        for line in scoring.format_table(v["table"]):
            r.note(line)
        ours = v["table"]["hipcue"]
        peer = v["table"].get(gait.PEER_NAME)
        for ds, t in ours.items():
            if ds != "all" and peer is None:
                continue
            ahead = None
            if peer is not None:
                p = peer[ds]
                ahead = (
                    t["matched_pct"] >= p["matched_pct"]
                    and t["side_pct"] >= p["side_pct"]
                    and t["extra_pct"] <= p["extra_pct"]
                    and abs(t["bias_ms"]) <= abs(p["bias_ms"])
                )
            r.fig(
                f"gait goals met, {ds}",
                "yes" if scoring.meets_goals(t) else "no",
                "97/99/3/20",
                scoring.meets_goals(t),
            )
            if ahead is not None:
                r.fig(f"ahead of mobgap, {ds}", "yes" if ahead else "no", None, ahead)
        if peer is None:
            r.note(f"mobgap peer not run: {v.get('peer_error')}")
    else:
        r.error("gait table", g5)
    g5 = got["gait_loso"][0]
    if g5["ok"]:
        detail["gait_loso"] = g5["value"]
        r.note("defaults held out (bench/gait_tune.py: each subject scored with the grid point")
        r.note("that did best on the other three; matched / side / extra / bias ms):")
        for line in gait_tune.format_loso(g5["value"]):
            r.note("  " + line)
    else:
        r.error("gait leave-one-subject-out", g5)
    g5 = got["stairs"][0]
    if g5["ok"]:
        f = g5["value"]
        detail["stairs"] = f
        r.fig(
            "stairs: apparent climb per step, level walks (max)",
            f["apparent_per_step_max_m"] * 100,
            None,
            None,
            "{:.1f}",
            " cm",
        )
        r.note(
            f"sim/stairs.py: no shared recording has stairs; vertical acceleration integrated "
            f"twice over {f['legs']} level ipol legs climbs a median "
            f"{f['apparent_per_step_median_m'] * 100:.1f} cm per step, up to "
            f"{f['apparent_per_step_max_m'] * 100:.1f} (a riser: {f['riser_m'] * 100:.0f}); "
            f"{f['legs_over_half_a_riser_per_step']} legs above half a riser: no stair gate"
        )
    else:
        r.error("stairs", g5)

    # 6 -----------------------------------------------------------------------------------
    r.section("6 BROAD 07 fast rotation vs optical reference (movement samples)")
    b6 = got["broad"][0]
    if b6["ok"]:
        v = b6["value"]
        detail["broad"] = v
        o, f, fl = v["ours"], v["imufusion"], v["float64_reference"]
        r.fig(
            "tilt RMS (ours)",
            o["tilt_rms_deg"],
            "<= 1.5 deg",
            o["tilt_rms_deg"] <= 1.5,
            "{:.2f}",
            " deg",
        )
        r.fig("obliquity RMS (ours)", o["obliquity_rms_deg"], None, None, "{:.2f}", " deg")
        r.fig("  |tilt| < 60 deg", o["obliquity_rms_deg_tilt_lt_60"], None, None, "{:.2f}", " deg")
        r.fig("up-vector angle RMS (ours)", o["up_angle_rms_deg"], None, None, "{:.2f}", " deg")
        r.fig("tilt RMS (imufusion 1.3.3)", f["tilt_rms_deg"], None, None, "{:.2f}", " deg")
        r.fig("obliquity RMS (imufusion)", f["obliquity_rms_deg"], None, None, "{:.2f}", " deg")
        r.fig(
            "up-vector angle RMS (imufusion)", f["up_angle_rms_deg"], None, None, "{:.2f}", " deg"
        )
        r.fig(
            "up-vector angle RMS (float64 ref)",
            fl["up_angle_rms_deg"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        r.note(
            f"{v['samples_scored']} samples scored (movement==1, finite ref, after "
            f"calibration end index {v['calibration_end_index']})"
        )
        d = v["dynamic"]
        r.fig(
            "tilt RMS, | |a| - 1 g | > 0.5 g (ours)",
            d["tilt_rms_deg_ours"],
            "<= imufusion",
            d["tilt_rms_deg_ours"] <= d["tilt_rms_deg_imufusion"],
            "{:.2f}",
            " deg",
        )
        r.fig(
            "tilt RMS, | |a| - 1 g | > 0.5 g (imufusion)",
            d["tilt_rms_deg_imufusion"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        r.note(
            f"the highest dynamics shared (no fast-translation recording): {d['samples']} "
            f"samples within 100 ms of | |a| - 1 g | > 0.5 g; BROAD 07 peaks at "
            f"{d['acc_max_g']:.2f} g and {d['gyro_max_dps']:.0f} dps; up-vector angle RMS "
            f"there {d['up_angle_rms_deg_ours']:.2f} deg (imufusion "
            f"{d['up_angle_rms_deg_imufusion']:.2f})"
        )
    else:
        r.error("broad", b6)
    fc = got["fusioncheck"][0]
    if fc["ok"]:
        detail["imufusion_check_max_up_diff"] = fc["value"]
        r.note(
            f"imufusion call check: x-io data vs the shipped imufusion output, max |up diff| "
            f"{fc['value']:.4f}"
        )

    # 7 -----------------------------------------------------------------------------------
    r.section("7 fixed point vs float64 reference (sim/floatref.py)")
    rows = []
    for x in got["fixfloat"]:
        if not x["ok"]:
            r.error("fixed vs float", x)
            continue
        v = x["value"]
        rows.append(v)
        lim = v["max_obl_diff_deg_tilt_lt_60"]
        r.fig(
            f"max obl diff {v['trace']}",
            v["max_obl_diff_deg"],
            "<= 0.05 deg",
            v["max_obl_diff_deg"] <= 0.05,
            "{:.3f}",
            " deg",
        )
        r.fig(
            "  |tilt| < 60 deg",
            lim,
            "<= 0.05 deg",
            lim is not None and lim <= 0.05,
            "{:.3f}",
            " deg",
        )
        r.fig(
            "  max up-vector angle diff",
            v["max_up_angle_diff_deg"],
            "<= 0.05 deg",
            v["max_up_angle_diff_deg"] <= 0.05,
            "{:.3f}",
            " deg",
        )
    detail["fixed_vs_float"] = rows

    # 8 -----------------------------------------------------------------------------------
    # Run alone, after the pool: it measures timing on the virtual device in real time.
    r.section("8 serial link, virtual device on a pty (1 MiB log download, real time)")
    try:
        from hipcue.sim import bench as link_bench

        v = link_bench()
        detail["link"] = v
        r.fig("round trip median", v["latency_ms_median"], None, None, "{:.2f}", " ms")
        r.fig("round trip p99", v["latency_ms_p99"], None, None, "{:.2f}", " ms")
        r.fig(
            "log download throughput",
            v["throughput_kB_s"],
            ">= 500 kB/s",
            v["throughput_kB_s"] >= 500,
            "{:.0f}",
            " kB/s",
        )
        r.fig(
            "late samples during the download",
            v["late_during_download"],
            "0",
            v["late_during_download"] == 0,
            "{:d}",
        )
        r.note(
            f"{v['samples_during_download']} samples during the download; service overruns "
            f"{v.get('service_overruns', 0)} (late samples the service itself caused)"
        )
    except Exception as e:  # noqa: BLE001
        r.error("serial link", {"error": f"{type(e).__name__}: {e}"})

    # 9 -----------------------------------------------------------------------------------
    r.section("9 session logs (LittleFS on simulated NOR flash, MicroPython unix port)")
    try:
        from sim.paths import run_json

        v = run_json("micropython", "logstore_run.py", "bench")
        detail["logs"] = v
        w, raw = v["steps_walk"], v["raw"]
        r.fig(
            "per-step log: hours of walking per MB",
            w["hours_per_MB"],
            ">= 40 h/MB",
            w["hours_per_MB"] >= 40,
            "{:.1f}",
            " h",
        )
        r.fig(
            "  with a cue every other step",
            v["steps_cues"]["hours_per_MB"],
            None,
            None,
            "{:.1f}",
            " h",
        )
        r.fig(
            "raw capture: bytes per minute (100 Hz)",
            raw["bytes_per_min"],
            None,
            None,
            "{:.0f}",
            " B",
        )
        r.fig("raw capture: hours per MB", raw["hours_per_MB"], None, None, "{:.2f}", " h")
        r.fig(
            "flash programmed per hour (per-step)",
            w["prog_bytes_per_hour"] / 1e6,
            None,
            None,
            "{:.2f}",
            " MB",
        )
        r.fig("  erases per hour (4 kB blocks)", w["erases_per_hour"], None, None, "{:.0f}")
        r.fig("flush duration mean / max", f"{w['flush_mean_us']}/{w['flush_max_us']} us")
        r.fig(
            "late samples while logging",
            w["late_samples"] + raw["late_samples"],
            "0",
            w["late_samples"] + raw["late_samples"] == 0,
            "{:d}",
        )
    except Exception as e:  # noqa: BLE001
        r.error("session logs", {"error": f"{type(e).__name__}: {e}"})

    # 10 ----------------------------------------------------------------------------------
    r.section("10 feedback at default settings (threshold 6 deg)")
    try:
        v = _feedback_figures()
        detail["feedback"] = v
        r.fig(
            "false cues /1000 steps, healthy synthetic",
            v["synth_false_per_1000"],
            None,
            None,
            "{:.1f}",
        )
        r.note(
            f"{v['synth_steps']} steps of walks with 3, 4 and 5 deg drops (seeds 1-3), "
            f"{v['synth_cues']} cues"
        )
        r.fig(
            "false cues /1000 steps, mobgap HA_001",
            v["mobgap_false_per_1000"],
            None,
            None,
            "{:.1f}",
        )
        r.note(
            f"{v['mobgap_steps']} steps, {v['mobgap_cues']} cues; replayed without calibration "
            "(the recordings start in motion), so their obliquity carries the sensor's mount "
            "offset: not a clinical false-cue rate"
        )
        r.fig(
            "cue sensitivity, drop = threshold + 2 deg",
            100 * v["sensitivity"],
            None,
            None,
            "{:.1f}",
            " %",
        )
        r.note(f"{v['qualifying']} qualifying right-stance steps, {v['cued']} cued")
        rf = running.run_figures()
        detail["running"] = rf
        r.fig(
            "running: cue sensitivity, drop >= thr + 1",
            100 * rf["sensitivity"],
            ">= 98 %",
            rf["sensitivity"] >= 0.98,
            "{:.1f}",
            " %",
        )
        r.fig(
            "running: false cues /1000 steps",
            rf["false_per_1000"],
            "<= 10",
            rf["false_per_1000"] <= 10,
            "{:.1f}",
        )
        r.fig(
            "running: obliquity RMS",
            rf["obliquity_rms_deg"],
            "<= 1 deg",
            rf["obliquity_rms_deg"] <= 1.0,
            "{:.2f}",
            " deg",
        )
        r.note(
            f"sim/running.py: 3 x 60 s at 170 steps/min, drops 4 / 7 deg; "
            f"{rf['qualifying']} qualifying stances, {rf['cued']} cued, {rf['cues']} cues; "
            f"tilt RMS {rf['tilt_rms_deg']:.2f} deg"
        )
    except Exception as e:  # noqa: BLE001
        r.error("feedback", {"error": f"{type(e).__name__}: {e}"})

    # 11 ----------------------------------------------------------------------------------
    r.section("11 whole board loop, device/main.py run() (MicroPython unix port x86-64)")
    _loop_figures(r, got, detail)

    # 12 ----------------------------------------------------------------------------------
    r.section("12 gates: turn threshold and tilt gate from the shared recordings (sim/gates.py)")
    g12 = got["gates"][0]
    if g12["ok"]:
        v = g12["value"]
        detail["gates"] = v
        tf = v["turn"]
        r.fig(
            "turn gate threshold (rule of sim/gates.py)",
            tf["threshold_dps"],
            f"= default {SCHEMA['turn_gate_dps'][1] / 1000:g}",
            tf["threshold_dps"] * 1000 == SCHEMA["turn_gate_dps"][1] and tf["separates"],
            "{:.0f}",
            " deg/s",
        )
        r.note(
            f"yaw rate low-passed over {tf['tau_ms']} ms: straight walking max "
            f"{tf['straight_max_dps']:.1f} deg/s (x 1.2, up to 5), U-turn medians from "
            f"{tf['turn_median_min_dps']:.1f}; raw rate: straight max "
            f"{v['turn_raw']['straight_max_dps']:.1f}, U-turn medians from "
            f"{v['turn_raw']['turn_median_min_dps']:.1f} (no threshold separates them)"
        )
        for row in tf["rows"]:
            r.note(
                f"  {row['name']:<30} straight max {row['straight_max_dps'] or 0:6.1f}  "
                f"U-turn median {row['turn_median_dps'] or 0:6.1f} deg/s"
            )
        tl = v["tilt"]
        r.fig(
            "cue samples while |tilt| > 30 deg, mobgap Test11",
            tl["gate_on"]["cue_samples_bent"],
            "0",
            tl["gate_on"]["cue_samples_bent"] == 0,
            "{:d}",
        )
        r.note(
            f"gate off: {tl['gate_off']['cue_samples_bent']} cue samples bent over "
            f"({tl['gate_on']['bent_s']:.1f} s past 30 deg, up to "
            f"{tl['gate_on']['max_tilt_deg']:.0f}); calibrated ipol walks: tilt "
            f"{tl['walk_tilt_min_deg']:.1f} .. {tl['walk_tilt_max_deg']:.1f} deg"
        )
    else:
        r.error("gates", g12)

    # 13 ----------------------------------------------------------------------------------
    sets = [x["value"] for x in got.get("exercise", []) if x["ok"]]
    for b in (x for x in got.get("exercise", []) if not x["ok"]):
        r.error("exercise set", b)
    if sets:
        try:
            still = [x["value"] for x in got.get("ex_still", []) if x["ok"]]
            exbench.report(r, sets, detail, still)
        except Exception as e:  # noqa: BLE001
            r.error("exercise", {"error": f"{type(e).__name__}: {e}"})

    # 14 ----------------------------------------------------------------------------------
    _rp2040_section(r, detail)

    # 15 ----------------------------------------------------------------------------------
    r.section("15 power: the battery budget (hipcue power) and the low-power settings")
    try:
        from bench import power as power_bench

        v = power_bench.run_all(detail.get("rp2040_loop"))
        detail["power"] = v
        power_bench.report(r, v)
    except Exception as e:  # noqa: BLE001
        r.error("power", {"error": f"{type(e).__name__}: {e}"})

    elapsed = time.time() - t_start
    r.lines.append(
        f"# {sum(1 for x in r.rows if x['status'] == 'PASS')} PASS, "
        f"{sum(1 for x in r.rows if x['status'] == 'MISS')} MISS, "
        f"{sum(1 for x in r.rows if x['status'] == 'ERROR')} ERROR; {elapsed:.0f} s"
    )
    print("\n".join(r.lines))
    out = {
        "figures": r.rows,
        "detail": detail,
        "elapsed_s": round(elapsed, 1),
        "timings_s": {
            f"{n}{list(a)}": round(x.get("s", 0), 1)
            for (n, a), x in zip(jobs, results, strict=True)
        },
    }
    (HERE / "latest.json").write_text(json.dumps(out, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
