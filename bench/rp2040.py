"""Figures from the emulated RP2040 (sim/rp2040: rp2040js 1.4.1, cycle model not checked against
silicon). All times are emulated; cycles = emulated ns x 125 MHz (core.cycles is not used: it
over-counts hardware-divider operations, ../shared/notes/rp2040-emulator.md).

    python -m bench.rp2040 [loop|boot|replay|power|power-walk|power-idle] [--walk-s S]
        [--traces N] [--no-pull] [--batch N]

* power (issue 15, the loop that sleeps): power-walk (USB connected, the log download),
  power-walk --no-usb (at most 60 s: on the battery, what the budget uses) and power-idle
  below, and their summary written to build/power-measured.json for `hipcue power` (keys:
  POWER_KEYS).
* power-walk: the image as it boots on a board (no stage stamps, nothing started from the
  REPL) on a synthetic weak-right walk after 3 s standing; the session it logs by itself;
  `hipcue logs pull --all` over the pty halfway (not with --no-pull); `hipcue info` every
  20 s wall (the free heap). Over the walk: CPU duty and time asleep (the harness's 100 ms
  meter of busy cycles and WFI/WFE time), wake-ups per second (the core leaving WFI/WFE),
  whole-loop cycles per sample batch by batch (every busy cycle from one FIFO burst to the
  next over its samples), missed / late samples, cue latency from the data-ready edge of
  the crossing sample (its index from the same firmware on the unix port) to the motor pin,
  GC runs. --batch N: fifo_batch stored first (a boot that runs `config set`).
* power-idle: idle_stop_s = 2 stored, then standing 20 s (USB unplugged, VBUS low, for the
  middle of it), walking 8 s, standing: when the board waits for motion and wakes (the
  sensor's rate changes), the wake-up events, CPU duty and wake-ups while waiting with and
  without USB, the sessions logged.

* loop: the hipcue image boots (safe boot, then device/main.py `boot()` started from the REPL
  with sim/rp2040/chipbench.py stamping each stage), a synthetic weak-right walk
  (hipcue synth, 3 s standing first) is served by the LSM6DSOX at its 104 Hz output data rate,
  the host starts a session log, and halfway through downloads the logs over the pty with the
  real `hipcue logs` CLI. Per sample: cycles by stage (median, p99; the stamp pair's own cost,
  measured on a no-op, subtracted), the work per sample (data-ready edge to the loop's next
  wait) and CPU duty, late / missed (overwritten unread) samples, free heap, GC runs (the pc
  entering gc_collect), cue latency (the data-ready edge of the sample on which the app turned
  the motor on, to the first rising edge on the motor pin).
* boot: power-up of the hipcue image (no stamps) to the first sample read.
* replay: `hipcue replay --engine rp2040` against the unix port on the shared real traces:
  samples.csv and steps.csv byte-identical, summary.json identical but for the engine name.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
from sim.paths import data_dir  # noqa: E402

DATA = data_dir()
HIPCUE = Path(sys.executable).parent / "hipcue"

STAGES = {
    2: "board.next_sample (read)",
    4: "app.tick",
    6: "log.service",
    8: "service.sample",
    10: "service.poll",
    12: "board.take_button",
    14: "board.data_ready",
}
# --calls: single calls inside the loop's stages, stamped too (sim/rp2040/chipbench.py CALLS);
# reported per call only (they nest inside the stages above)
CALLS = {
    22: "  call: log.start",
    24: "  call: log.flush",
    26: "  call: log._rotate",
    28: "  call: service._handle (a request)",
    30: "  call: service._hash_work",
    32: "  call: service._session_started",
    34: "  call: log._piece (sliced file work)",
    36: "  call: service._save_piece (sliced config save)",
}
# app.tick's parts (--parts): stamped inside the tick's window (sim/rp2040/chipbench.py)
PARTS = {
    16: "  tick: estimator update",
    18: "  tick: step detector update",
    20: "  tick: cue update",
}


def _pct(a, q):
    return float(np.percentile(a, q)) if len(a) else float("nan")


def _cli(port: str, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HIPCUE), *argv, "--port", port, "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _synth_samples(segs: list, seed: int) -> np.ndarray:
    """t_s, acc (g), gyro (dps) of a synthetic walk (hipcue synth, through its CSV)."""
    from hipcue import synth
    from hipcue.trace import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "walk.trace.csv"
        synth.write_trace_csv(synth.generate(segs, seed=seed), str(p))
        tr = read_trace(p)
    return np.column_stack([tr.t_s, tr.acc_g, tr.gyro_dps])


def board_loop(
    walk_s: float = 20.0,
    firmware: Path | None = None,
    flash_in=None,
    parts: bool = False,
    calls: bool = False,
) -> dict:
    """firmware/flash_in: another image and filesystem (the make deploy path: stock
    MicroPython with the .mpy files on its LittleFS, from deploy_path()). parts: stamp
    app.tick's parts too (their stamps are taken out of the tick's and the work's figures)."""
    from hipcue import synth
    from sim.rp2040 import EMULATOR, Chip, Serial, ensure_firmware
    from sim.rp2040 import HERE as SIMDIR

    fw = firmware or ensure_firmware()
    segs = [synth.Segment("stand", 3.0), synth.Segment("walk", walk_s, 105.0, 4.0, 9.0)]
    samples = _synth_samples(segs, 7)
    n = len(samples)
    out: dict = {"emulator": EMULATOR, "trace_samples": n, "walk_s": walk_s}
    t_wall = time.time()
    with Chip(
        firmware=fw,
        samples=samples,
        mode="odr",
        safe_boot=True,
        watch_gc=True,
        flash_in=flash_in,
    ) as chip:
        ser = Serial(chip)
        chip.wait_usb()
        ser.read_until(b">>> ", 60)
        ser.raw_repl()
        pre = ("PARTS = 1\n" if parts else "") + ("CALLS = 1\n" if calls else "")
        ser.exec_start(pre + (SIMDIR / "chipbench.py").read_text())
        banner = ser.read_until(b"\n", 120).decode(errors="replace")
        if "hipcue:" not in banner:
            banner += ser.read_until(b"\n", 120).decode(errors="replace")
        out["banner"] = banner.strip()
        if "hipcue:" not in banner:
            try:
                banner += ser.read_until(b"\x04", 30).decode(errors="replace")
            except Exception:  # noqa: BLE001 - report what came
                banner += bytes(ser.buf).decode(errors="replace")
            raise RuntimeError("the firmware did not start: " + banner.strip()[-600:])
        ser.close()
        p = _cli(chip.port, "logs", "start")
        out["logs_start"] = p.returncode
        # halfway: download the logs while the walk goes on
        while chip.status()["next_sample"] < n // 2:
            time.sleep(2)
        with tempfile.TemporaryDirectory() as tmp:
            p = _cli(chip.port, "logs", "stop")
            st0 = chip.status()
            p = _cli(chip.port, "logs", "pull", "--all", "--out", tmp, "-q")
            st1 = chip.status()
            out["download_rc"] = p.returncode
            out["download_err"] = p.stderr.strip()[-200:]
            out["download_bytes"] = sum(f.stat().st_size for f in Path(tmp).glob("*"))
            out["download_emulated_s"] = (st1["t_ns"] - st0["t_ns"]) / 1e9
            out["download_window_ns"] = [st0["t_ns"], st1["t_ns"]]
        while True:
            st = chip.status()
            if st["next_sample"] >= n:
                break
            time.sleep(2)
        ev = chip.stop()
        if chip.fault:
            raise RuntimeError(chip.fault)
    out["wall_s"] = time.time() - t_wall
    keep = os.environ.get("HIPCUE_RP2040_EVENTS")
    if keep:
        Path(keep).write_text(json.dumps(ev))
    out.update(analyse(ev, parts))
    out["calls_stamped"] = calls
    return out


def analyse(ev: dict, parts: bool = False) -> dict:
    """Per-sample figures from the harness's observations (see module doc)."""
    stamps = ev["stamps"]
    served = np.array(ev["samples"], dtype=np.float64)  # [t drdy, t read or -1]
    out: dict = {}
    cal = []
    heap_boot = heap_collected = None
    heap = []
    open_at: dict[int, float] = {}
    # per-sample accumulation: a sample's window runs from one next_sample exit to the next
    stages_in = {**STAGES, **PARTS} if parts else STAGES
    per: dict[int, list[float]] = {c: [] for c in stages_in}
    cur: dict[int, float] = {c: 0.0 for c in stages_in}
    calls: dict[int, list[int]] = {c: [] for c in stages_in}
    ncur: dict[int, int] = {c: 0 for c in stages_in}
    ns_entries = []  # next_sample entry times
    ns_exits = []
    started = False
    probes = []  # (start, end) of the heap probes (not the loop's work)
    probe_at = None
    one: dict[int, list[float]] = {}  # code -> per-call ns, less the flash stalls inside it
    flash = sorted((f[0], f[0] + f[4]) for f in ev["flash"])

    def stalled(a: float, b: float) -> float:
        return sum(max(0.0, min(b, f1) - max(a, f0)) for f0, f1 in flash if f0 < b and f1 > a)

    for t, v in stamps:
        if v == 0x83:
            probe_at = t
            continue
        if v & 0x80 and v > 0xFF:
            if (v & 0xFF) == 0x80 and probe_at is not None:
                probes.append((probe_at, t))
                probe_at = None
            kind = v & 0xFF
            free = v >> 8
            if kind == 0x81:
                heap_boot = free
            elif kind == 0x82:
                heap_collected = free
            else:
                heap.append((t, free))
            continue
        code = v & ~1
        if v & 1:
            t0 = open_at.pop(code, None)
            if t0 is None:
                continue
            d = t - t0
            if code == 0:
                cal.append(d)
                continue
            one.setdefault(code, []).append(d - stalled(t0, t))
            if code not in stages_in:
                continue
            cur[code] += d
            ncur[code] += 1
            if code == 2:
                ns_exits.append(t)
                if started:
                    for c in stages_in:
                        if c != 2:
                            per[c].append(cur[c])
                            calls[c].append(ncur[c])
                            cur[c] = 0.0
                            ncur[c] = 0
                started = True
                per[2].append(d)
                cur[2] = 0.0
                ncur[2] = 0
        else:
            open_at[code] = t
            if code == 2:
                ns_entries.append(t)
    stamp_ns = float(np.median(cal)) if cal else 0.0
    out["stamp_pair_cycles"] = stamp_ns / 8
    # the read stage: from the data-ready edge (not the entry: next_sample waits in there) to exit
    drdy = served[:, 0]
    exits = np.array(ns_exits)
    entries = np.array(ns_entries)
    read_cost = []
    work = []
    late = 0
    for i in range(len(exits) - 1):
        k = np.searchsorted(drdy, exits[i], side="right") - 1  # the sample this call read
        if k < 0:
            continue
        edge = drdy[k]
        entry = entries[i] if i < len(entries) else exits[i]
        if entry > edge:
            late += 1  # data-ready was up before the loop came to wait for it
        read_cost.append(exits[i] - max(edge, entry))
        nxt = entries[i + 1] if i + 1 < len(entries) else np.nan
        start = max(edge, entry)
        probe = sum(max(0.0, min(b, nxt) - max(a, start)) for a, b in probes if a < nxt)
        work.append(nxt - start - probe)  # from the edge to the loop waiting again
    stages = {}
    m = min(len(read_cost), *(len(per[c]) for c in stages_in if c != 2))
    ncalls = np.zeros(m)
    nested = np.zeros(m)  # stamp pairs of the tick's parts, inside the tick's window
    for c in PARTS if parts else ():
        nested += np.array(calls[c][:m], dtype=np.float64)
    for c, name in stages_in.items():
        if c == 2:
            # edge to exit: about half a stamp pair is inside the window
            vals = np.array(read_cost[:m], dtype=np.float64) - stamp_ns / 2
            ncalls += 1
            per_call = np.ones(m)
        else:
            # the sum over the calls in that sample, less one stamp pair per call
            per_call = np.array(calls[c][:m], dtype=np.float64)
            vals = np.array(per[c][:m], dtype=np.float64) - per_call * stamp_ns
            if c == 4:
                vals = vals - nested * stamp_ns
            ncalls += per_call
        if not m:
            continue
        stages[name] = {
            "mean_cycles": float(np.mean(vals)) / 8,
            "median_cycles": _pct(vals, 50) / 8,
            "p99_cycles": _pct(vals, 99) / 8,
            "calls_per_sample_mean": float(np.mean(per_call)),
        }
    out["stages"] = stages
    # single calls: CPU cycles of one call (flash stalls inside it taken out; the stamp pairs
    # nested inside a call are not), and the stall per call as its own figure
    names = {**stages_in, **CALLS}
    percall = {}
    for c, vals_ns in sorted(one.items()):
        if c not in names or c == 2:
            continue
        a = np.array(vals_ns, dtype=np.float64) - stamp_ns
        percall[names[c].strip()] = {
            "calls": len(a),
            "median_cycles": _pct(a, 50) / 8,
            "p99_cycles": _pct(a, 99) / 8,
            "max_cycles": float(np.max(a)) / 8,
        }
    out["per_call"] = percall
    # work: edge to the next wait, less the stamps' own cost (one pair per stamped call)
    w = np.array(work[:m], dtype=np.float64) - ncalls * stamp_ns
    w = w[np.isfinite(w)]
    period_ns = float(np.median(np.diff(drdy))) if len(drdy) > 1 else 1e7
    out["period_us"] = period_ns / 1000
    out["work_median_cycles"] = _pct(w, 50) / 8
    out["work_p99_cycles"] = _pct(w, 99) / 8
    out["work_max_cycles"] = float(np.max(w)) / 8 if len(w) else float("nan")
    # the same with the flash stalls inside each sample's window taken out (CPU only)
    wc = []
    for i in range(min(m, len(work))):
        if i + 1 >= len(entries) or not np.isfinite(work[i]):
            continue
        k = np.searchsorted(drdy, exits[i], side="right") - 1
        start = max(drdy[k], entries[i])
        wc.append(work[i] - stalled(start, entries[i + 1]) - ncalls[i] * stamp_ns)
    out["work_cpu_p99_cycles"] = _pct(wc, 99) / 8
    out["work_cpu_max_cycles"] = float(np.max(wc)) / 8 if wc else float("nan")
    out["duty_median_pct"] = 100 * _pct(w, 50) / period_ns
    out["samples_read"] = int(np.sum(served[:, 1] >= 0))
    first = int(np.argmax(served[:, 1] >= 0)) if out["samples_read"] else len(served)
    # overwritten unread: before the loop's first read (boot), and after it
    out["samples_missed_at_boot"] = first
    out["samples_missed"] = int(np.sum(served[first:, 1] < 0))
    out["missed_during_flash"] = int(
        sum(
            1
            for k in range(first, len(served))
            if served[k, 1] < 0
            and any(f[0] <= served[k, 0] <= f[0] + f[4] + 2e7 for f in ev["flash"])
        )
    )
    out["samples_late"] = late
    # the LSM6DSOX FIFO (the firmware batches into it): words lost to an overrun, the deepest
    # backlog (words of 7 bytes, 2 a sample), words read
    out["fifo_words_lost"] = ev.get("fifo_words_lost", 0)
    out["fifo_peak_words"] = ev.get("fifo_peak_words", 0)
    out["fifo_words_read"] = ev.get("fifo_words_read", 0)
    out["heap_free_after_boot"] = heap_boot
    out["heap_free_after_boot_collected"] = heap_collected
    out["heap_free_low"] = min(f for _, f in heap) if heap else None
    gcs = ev.get("gc", [])
    t_loop = ns_exits[0] if ns_exits else 0
    walking = [g for g in gcs if g[0] > t_loop]
    out["gc_runs_total"] = len(gcs)
    out["gc_runs_in_loop"] = len(walking)
    out["gc_ms"] = [round((g[1] - g[0]) / 1e6, 2) for g in walking if g[1] > 0][:50]
    # cue latency: motor on-commands, the sample read last before each, its data-ready edge
    lat = []
    for t_cmd, duty, t_pin in ev["motor"]:
        if duty <= 0 or t_pin < 0:
            continue
        reads = served[(served[:, 1] >= 0) & (served[:, 1] <= t_cmd)]
        if not len(reads):
            continue
        lat.append((t_pin - reads[-1, 0]) / 1e6)
    out["cues"] = len(lat)
    out["cue_latency_ms_median"] = _pct(lat, 50)
    out["cue_latency_ms_p95"] = _pct(lat, 95)
    out["flash_ops"] = len(ev["flash"])
    out["flash_stall_ms"] = sum(f[4] for f in ev["flash"]) / 1e6
    out["emulated_s"] = ev["t_ns"] / 1e9
    return out


# -- the loop that sleeps (issue 15) -------------------------------------------------------------
POWER_JSON = ROOT / "build" / "power-measured.json"
# build/power-measured.json (written by `python -m bench.rp2040 power` and make bench section
# 14): emulator figures, the inputs a power budget multiplies by datasheet currents
POWER_KEYS = {
    "source": "what measured it (emulated RP2040, not silicon)",
    "mcu_hz": "the core clock the figures are at (125 MHz)",
    "rate_hz": "the IMU's output data rate while walking",
    "fifo_batch": "samples per FIFO threshold interrupt (MCU wake-up) while walking",
    "walking_duty_pct": "share of time the core runs (not WFI/WFE, not a flash stall), walking",
    "walking_wakes_per_s": "core wake-ups from WFI/WFE per second, walking",
    "walking_asleep_pct": "share of time asleep (lightsleep or WFE), walking",
    "walking_cycles_per_sample_median": "whole loop, busy cycles per sample, median of batches",
    "walking_cycles_per_sample_p99": "the same, 99th percentile",
    "cue_latency_ms_median": "data-ready of the crossing sample to the motor pin, median",
    "cue_latency_ms_p95": "the same, 95th percentile",
    "idle_duty_pct": "share of time the core runs while waiting for motion, USB unplugged",
    "idle_wakes_per_s": "wake-ups per second then (machine.lightsleep(250) each)",
    "idle_asleep_pct": "share of time asleep then (lightsleep: PLLs off, clk_sys = 12 MHz XOSC)",
    "idle_usb_duty_pct": "share of time the core runs while waiting, USB connected (WFE)",
    "idle_usb_wakes_per_s": "wake-ups per second then",
    "idle_imu_mode": "the IMU's mode while waiting",
    "walking_imu_mode": "the IMU's mode while walking",
    "sleep_mode": "the MCU's sleep between batches",
}


def _synth_trace(segs: list, seed: int):
    """(samples for the emulated sensor, the Trace) of a synthetic walk at the LSM6DSOX's
    104 Hz (the chip's app then runs at the period the unix port replays the trace at, so
    both give their cues on the same samples)."""
    from hipcue import synth
    from hipcue.trace import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "walk.trace.csv"
        synth.write_trace_csv(synth.generate(segs, seed=seed, rate_hz=104.0), str(p))
        tr = read_trace(p)
    return np.column_stack([tr.t_s, tr.acc_g, tr.gyro_dps]), tr


def sleep_figures(ev: dict, t0: float, t1: float) -> dict:
    """CPU and sleep figures of the window [t0, t1) (emulated ns) from the harness's wake
    episodes ([t_ns at the wake, busy cycles until the core waits again]): wake-ups per
    second, CPU duty (busy cycles x 8 ns over the window, from the harness's 100 ms meter),
    the fraction of the window the core spent waiting (WFI/WFE; the rest is busy or held by
    a flash operation)."""
    ep = np.array(ev.get("episodes") or [[0, 0]], dtype=np.float64)
    m = (ep[:, 0] >= t0) & (ep[:, 0] < t1)
    meter = np.array(ev["meter"], dtype=np.float64)  # [t_ns, busy cycles, waiting ns] so far
    a = int(np.searchsorted(meter[:, 0], t0))
    b = int(np.searchsorted(meter[:, 0], t1)) - 1
    t0, t1 = meter[a, 0], meter[b, 0]  # the window on the meter's 100 ms ticks
    m = (ep[:, 0] >= t0) & (ep[:, 0] < t1)
    span = t1 - t0
    busy_ns = float(meter[b, 1] - meter[a, 1]) * 8
    wait_ns = float(meter[b, 2] - meter[a, 2])
    stall = sum(
        min(f[0] + f[4], t1) - max(f[0], t0) for f in ev["flash"] if f[0] + f[4] > t0 and f[0] < t1
    )
    return {
        "window_s": span / 1e9,
        "wakes_per_s": float(m.sum()) / (span / 1e9),
        "duty_pct": 100 * busy_ns / span,
        "asleep_pct": 100 * wait_ns / span,
        "flash_stall_pct": 100 * stall / span,
        "busy_cycles_per_s": busy_ns / 8 / (span / 1e9),
    }


def batch_figures(ev: dict, t0: float, t1: float, period_ns: float, batch: int) -> dict:
    """Whole-loop cycles per sample, batch by batch: the busy cycles from one batch read to the
    next over the samples of the batch (every stage of the loop, the sleep's own wake-ups
    included); missed (overwritten unread) and late samples (read more than a batch of
    periods plus 2 ms after their data-ready: what batching itself delays is not late)."""
    served = np.array(ev["samples"], dtype=np.float64)
    ep = np.array(ev.get("episodes") or [[0, 0]], dtype=np.float64)
    read = served[:, 1]
    first = int(np.argmax(read >= 0)) if np.any(read >= 0) else len(read)
    w = (served[:, 0] >= t0) & (served[:, 0] < t1)
    rs = np.unique(read[w & (read >= 0)])
    # batch reads: read times more than 1 ms apart start a new batch
    starts = [rs[0]] if len(rs) else []
    counts = [0] if len(rs) else []
    for r in rs:
        if r - starts[-1] > 1e6:
            starts.append(r)
            counts.append(0)
        counts[-1] += int(np.sum(read == r))
    per = []
    for i in range(len(starts) - 1):
        a, b = starts[i] - 1e6, starts[i + 1] - 1e6
        m = (ep[:, 0] >= a) & (ep[:, 0] < b)
        per.append(float(ep[m, 1].sum()) / max(1, counts[i]))
    delay = read[w & (read >= 0)] - served[w & (read >= 0), 0]
    return {
        "cycles_per_sample_median": _pct(per, 50),
        "cycles_per_sample_p99": _pct(per, 99),
        "cycles_per_sample_mean": float(np.mean(per)) if per else float("nan"),
        "batches": len(starts),
        "samples_per_batch_mean": float(np.mean(counts)) if counts else float("nan"),
        "samples_missed": int(np.sum((read[first:] < 0) & w[first:])),
        "samples_late": int(np.sum(delay > batch * period_ns + 2e6)),
        "read_delay_ms_median": _pct(delay, 50) / 1e6,
        "read_delay_ms_max": float(delay.max()) / 1e6 if len(delay) else float("nan"),
    }


def cue_latency(ev: dict, trace, offset: int = 0) -> dict:
    """Cue latency on the chip: for each cue the app gives on this trace (its sample index from
    the same firmware on the unix port, hipcue replay; the chip's app sees the same samples),
    from that sample's data-ready edge to the next rising edge of the motor pin. With FIFO
    batching the crossing sample is any of its batch: this is not the last sample read."""
    from hipcue.replay import run_firmware

    res = run_firmware(trace, calibrate=True, engine="micropython")
    served = np.array(ev["samples"], dtype=np.float64)
    pins = sorted(t for _, duty, t in ev["motor"] if duty > 0 and t >= 0)
    lat = []
    for k in res.cue_index:
        if k + offset >= len(served):
            continue
        t = served[k + offset, 0]
        nxt = [p for p in pins if p >= t]
        if nxt and nxt[0] - t < 0.5e9:
            lat.append((nxt[0] - t) / 1e6)
    return {
        "cues": len(lat),
        "cues_unix_port": len(res.cue_index),
        "cue_latency_ms_median": _pct(lat, 50),
        "cue_latency_ms_p95": _pct(lat, 95),
        "cue_latency_ms_max": max(lat) if lat else float("nan"),
    }


def _boot_with_config(fw: Path, flash: Path, sets: list[str]) -> None:
    """Power the emulated board up once to store a config (config.json in its flash)."""
    from sim.rp2040 import Chip

    with Chip(firmware=fw, flash_out=flash) as chip:
        chip.wait_usb(120)
        p = _cli(chip.port, "config", "set", *sets)
        if p.returncode != 0:
            raise RuntimeError("config set failed: " + p.stderr[-200:])


def power_walk(
    walk_s: float = 30.0,
    stand_s: float = 3.0,
    pull: bool = True,
    batch: int = 0,
    usb: bool = True,
) -> dict:
    """The image as it boots on a board (no stage stamps): a synthetic weak-right walk, the
    session it logs by itself (it starts on the first step), a log download over the pty
    halfway (`hipcue logs pull --all`); figures over the walk (from the first step on)."""
    from hipcue import synth
    from sim.rp2040 import EMULATOR, Chip, ensure_firmware

    fw = ensure_firmware()
    segs = [synth.Segment("stand", stand_s), synth.Segment("walk", walk_s, 105.0, 4.0, 9.0)]
    samples, trace = _synth_trace(segs, 7)
    n = len(samples)
    out: dict = {"emulator": EMULATOR, "walk_s": walk_s, "stand_s": stand_s, "trace_samples": n}
    t_wall = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        flash = None
        if batch:
            flash = Path(tmp) / "flash.bin"
            _boot_with_config(fw, flash, [f"fifo_batch={batch}"])
        out["fifo_batch"] = batch or 3
        vbus_at = None if usb else [[500, False]]  # unplugged (VBUS low) from 0.5 s
        out["usb"] = usb
        with Chip(
            firmware=fw,
            samples=samples,
            mode="odr",
            watch_gc=True,
            flash_in=flash,
            vbus_at=vbus_at,
        ) as chip:
            chip.wait_usb(120)
            if pull and usb:
                while chip.status()["next_sample"] < n // 2:
                    time.sleep(2)
                st0 = chip.status()
                p = _cli(chip.port, "logs", "pull", "--all", "--out", tmp, "-q", timeout=3600)
                st1 = chip.status()
                out["download_rc"] = p.returncode
                out["download_err"] = p.stderr.strip()[-200:]
                out["download_bytes"] = sum(f.stat().st_size for f in Path(tmp).glob("*.hcl"))
                out["download_emulated_s"] = (st1["t_ns"] - st0["t_ns"]) / 1e9
            heap = []  # `hipcue info` now and then: the free heap as the loop leaves it
            last = 0.0
            while chip.status()["next_sample"] < n - 1:
                if usb and time.time() - last > 20:
                    last = time.time()
                    try:
                        info = json.loads(_cli(chip.port, "info", "--json").stdout)
                        heap.append(info.get("heap_free"))
                        out["power_counters"] = info.get("power")
                    except ValueError:
                        pass
                time.sleep(2)
            heap = [h for h in heap if h is not None]
            out["heap_free_samples"] = len(heap)
            out["heap_free_low"] = min(heap) if heap else None
            out["heap_free_last"] = heap[-1] if heap else None
            ev = chip.stop()
            if chip.fault:
                raise RuntimeError(chip.fault)
    out["wall_s"] = round(time.time() - t_wall, 1)
    keep = os.environ.get("HIPCUE_RP2040_EVENTS")
    if keep:
        Path(keep).write_text(json.dumps(ev))
    served = np.array(ev["samples"], dtype=np.float64)
    period_ns = float(np.median(np.diff(served[:, 0])))
    t0 = served[min(len(served) - 1, int(stand_s * 1e9 / period_ns) + 100), 0]
    t1 = served[-1, 0] - 1e8
    out["walking"] = sleep_figures(ev, t0, t1)
    out["walking"].update(batch_figures(ev, t0, t1, period_ns, out["fifo_batch"]))
    out["walking"].update(cue_latency(ev, trace))
    gcs = ev.get("gc", [])
    out["gc_runs_walking"] = sum(1 for g in gcs if t0 <= g[0] < t1)
    out["fifo_words_lost"] = ev.get("fifo_words_lost", 0)
    out["fifo_peak_words"] = ev.get("fifo_peak_words", 0)
    out["flash_ops"] = len(ev["flash"])
    out["emulated_s"] = ev["t_ns"] / 1e9
    return out


def power_idle(still_s: float = 20.0, walk_s: float = 10.0, idle_stop_s: int = 5) -> dict:
    """Motion wake-up: idle_stop_s stored first (5 s: the first step is reported 2-3 s into a
    walk, so a shorter one sends the board back to waiting before the session starts), then
    the board boots on a trace of standing (it calibrates, then after idle_stop_s without a
    step waits for motion: gyro off, accelerometer at 26 Hz low power), USB unplugged (VBUS
    low) for the middle of the still stretch, then walking (the wake-up interrupt; a session
    starts on the first step), then standing again (the session ends after idle_stop_s, the
    board waits again). Figures: CPU duty and wake-ups per second while waiting, with and
    without USB; when the sensor's data rate changed; the motion events; the sessions
    logged."""
    from hipcue import synth
    from sim.rp2040 import EMULATOR, Chip, ensure_firmware

    fw = ensure_firmware()
    segs = [
        synth.Segment("stand", still_s),
        synth.Segment("walk", walk_s, 105.0, 4.0, 9.0),
        synth.Segment("stand", idle_stop_s + 6.0),
    ]
    samples, _ = _synth_trace(segs, 11)
    n = len(samples)
    out: dict = {"emulator": EMULATOR, "idle_stop_s": idle_stop_s, "still_s": still_s}
    t_wall = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        flash = Path(tmp) / "flash.bin"
        _boot_with_config(fw, flash, [f"idle_stop_s={idle_stop_s}"])
        t_usb_off, t_usb_on = still_s * 0.5e9, (still_s - 1.5) * 1e9
        vbus_at = [[t_usb_off / 1e6, False], [t_usb_on / 1e6, True]]
        with Chip(
            firmware=fw, samples=samples, mode="odr", flash_in=flash, vbus_at=vbus_at
        ) as chip:
            chip.wait_usb(120)
            while chip.status()["next_sample"] < n - 1:
                time.sleep(0.5)
            lst = _cli(chip.port, "logs", "list")
            out["logs_list"] = lst.stdout.strip().splitlines()[-5:]
            ev = chip.stop()
            if chip.fault:
                raise RuntimeError(chip.fault)
    out["wall_s"] = round(time.time() - t_wall, 1)
    steps = ev.get("odr_steps", [])
    out["odr_changes"] = [[round(t / 1e9, 3), hz, g] for t, hz, g in steps]
    out["motion_events_s"] = [round(t / 1e9, 3) for t in ev.get("motion_events", [])]
    waits = [t for t, hz, g in steps if hz == 26]
    if waits:
        a = max(waits[0] + 0.2e9, 0)
        out["waiting_usb"] = sleep_figures(ev, a, t_usb_off)
        out["waiting_no_usb"] = sleep_figures(ev, t_usb_off + 1.2e9, t_usb_on)
    resumed = [t for t, hz, g in steps if hz == 104 and g == 104 and t > still_s * 0.9e9]
    out["wake_latency_ms"] = (
        (resumed[0] - still_s * 1e9) / 1e6 if resumed else None
    )  # from the start of walking to the sensor back at 104 Hz
    out["emulated_s"] = ev["t_ns"] / 1e9
    return out


def power(walk_s: float = 30.0, pull: bool = True) -> dict:
    """Section 14's power figures; also written to build/power-measured.json (POWER_KEYS)."""
    res = {
        "walk": power_walk(walk_s, pull=pull),  # USB connected: the download, the heap
        # on the battery, USB unplugged: the walk the budget needs (lightsleep between batches)
        "walk_no_usb": power_walk(min(walk_s, 60.0), pull=False, usb=False),
        "idle": power_idle(),
    }
    res["summary"] = write_summary(res["walk_no_usb"], res["idle"])
    return res


def write_summary(walk: dict | None, idle: dict | None) -> dict:
    """build/power-measured.json from a power_walk and a power_idle result (None: keep what
    the file has from an earlier run)."""
    old = json.loads(POWER_JSON.read_text()) if POWER_JSON.exists() else {}
    if walk is None or idle is None:
        if not old:
            raise RuntimeError(f"{POWER_JSON}: no earlier figures to complete")
    summary = dict(old)
    src = old.get("source", "")
    if walk is not None:
        src = "python -m bench.rp2040 power (emulated RP2040, rp2040js 1.4.1, cycle model not "
        src += (
            "checked against silicon; figures are emulator figures; walking: a %.0f s walk, "
            % (walk["walk_s"])
        )
        src += "USB connected)" if walk.get("usb", True) else "USB unplugged)"
    summary.update(
        {
            "source": src
            or "python -m bench.rp2040 power (emulated RP2040, rp2040js 1.4.1, cycle "
            "model not checked against silicon; figures are emulator figures)",
            "mcu_hz": 125_000_000,
            "rate_hz": 104,
            "idle_imu_mode": "accel 26 Hz low-power, gyro off, wake-up interrupt",
            "walking_imu_mode": "accel + gyro 104 Hz high-performance, FIFO",
            "sleep_mode": "walking without USB: lightsleep (machine.lightsleep to the batch's "
            "due time, then WFE in machine.idle until the INT pin); waiting for motion without "
            "USB: machine.lightsleep(250)",
        }
    )
    if walk is not None:
        w = walk["walking"]
        summary.update(
            {
                "fifo_batch": walk["fifo_batch"],
                "walking_duty_pct": w["duty_pct"],
                "walking_wakes_per_s": w["wakes_per_s"],
                "walking_asleep_pct": w["asleep_pct"],
                "walking_cycles_per_sample_median": w["cycles_per_sample_median"],
                "walking_cycles_per_sample_p99": w["cycles_per_sample_p99"],
                "cue_latency_ms_median": w["cue_latency_ms_median"],
                "cue_latency_ms_p95": w["cue_latency_ms_p95"],
            }
        )
    if idle is not None:
        i = idle
        summary.update(
            {
                "idle_duty_pct": i.get("waiting_no_usb", {}).get("duty_pct"),
                "idle_wakes_per_s": i.get("waiting_no_usb", {}).get("wakes_per_s"),
                "idle_asleep_pct": i.get("waiting_no_usb", {}).get("asleep_pct"),
                "idle_usb_duty_pct": i.get("waiting_usb", {}).get("duty_pct"),
                "idle_usb_wakes_per_s": i.get("waiting_usb", {}).get("wakes_per_s"),
            }
        )
    summary = {k: v for k, v in summary.items() if k in POWER_KEYS}  # only documented keys
    POWER_JSON.parent.mkdir(exist_ok=True)
    POWER_JSON.write_text(json.dumps(summary, indent=1))
    return summary


def boot_time() -> dict:
    """Power-up to the first sample read, the hipcue image as it boots on a board."""
    from hipcue import synth
    from sim.rp2040 import Chip, ensure_firmware

    fw = ensure_firmware()
    samples = _synth_samples([synth.Segment("stand", 3.0)], 1)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        flash = Path(tmp) / "flash.bin"
        # first power-up on blank flash (formats LittleFS), then the second, as a board boots
        for name, fin in (("blank_flash", None), ("formatted", flash)):
            with Chip(firmware=fw, samples=samples, mode="odr", flash_in=fin, flash_out=flash) as c:
                c.wait_usb()
                while True:
                    st = c.status()
                    if st["next_sample"] > 20 or st["t_ns"] > 5e9:
                        break
                    time.sleep(0.5)
                ev = c.stop()
            reads = [r for _, r in ev["samples"] if r >= 0]
            out[name] = {
                "boot_to_first_sample_ms": reads[0] / 1e6 if reads else None,
                "usb_enumerated_ms": c.usb_ns / 1e6,
                "flash_stall_ms": sum(f[4] for f in ev["flash"]) / 1e6,
            }
    return out


def deploy_path(keep_flash: Path | None = None) -> dict:
    """The `make deploy` path on the emulated chip: stock MicroPython 1.28 (../shared/rp2), the
    .mpy files of `make firmware` copied with mpremote over the pty (as `make deploy` does, less
    its reset), then a power cycle from the saved flash: does the firmware start from .mpy
    files, and what does it print."""
    from sim.rp2040 import STOCK_UF2, Chip, Serial

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        fw_dir = Path(tmp) / "fw"
        p = subprocess.run(
            ["make", "-s", "-o", ".venv/.installed-stamp", "firmware", f"FIRMWARE_OUT={fw_dir}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            raise RuntimeError("make firmware failed: " + p.stderr[-200:])
        flash = Path(tmp) / "flash.bin"
        mpremote = Path(sys.executable).parent / "mpremote"
        with Chip(firmware=STOCK_UF2, flash_out=flash) as chip:
            ser = Serial(chip)
            chip.wait_usb()
            ser.raw_repl(60)
            ser.write(b"\x02")  # back to the friendly REPL for mpremote
            ser.close()
            t0 = time.time()
            p = subprocess.run(
                [
                    str(mpremote),
                    "connect",
                    chip.port,
                    "fs",
                    "cp",
                    "-r",
                    str(fw_dir / "shared"),
                    str(fw_dir / "device"),
                    ":",
                    "+",
                    "fs",
                    "cp",
                    str(fw_dir / "main.py"),
                    ":main.py",
                ],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            out["mpremote_rc"] = p.returncode
            out["mpremote_err"] = p.stderr.strip()[-300:]
            out["copy_wall_s"] = round(time.time() - t0, 1)
            chip.stop()
        from hipcue import synth

        samples = _synth_samples([synth.Segment("stand", 5.0)], 1)
        with Chip(firmware=STOCK_UF2, flash_in=flash, samples=samples, mode="odr") as chip:
            ser = Serial(chip)
            chip.wait_usb()
            text = b""
            end = time.time() + 300
            while time.time() < end and b"hipcue:" not in text and b"Error" not in text:
                try:
                    text += ser.read_exact(1, 5)
                except Exception:  # noqa: BLE001 - nothing yet
                    if chip.status()["t_ns"] > 20e9:
                        break
            try:
                text += ser.read_until(b"\n", 20)
            except Exception:  # noqa: BLE001
                pass
            ser.close()
            out["boot_output"] = text.decode(errors="replace").strip()[-400:]
            out["started"] = b"hipcue:" in text and b"Error" not in text
            if out["started"]:
                info = _cli(chip.port, "info", "--json")
                out["info_rc"] = info.returncode
        if keep_flash is not None:
            keep_flash.write_bytes(flash.read_bytes())
    return out


def replay_identity(limit: int = 0) -> dict:
    """hipcue replay: rp2040 engine vs the unix port on each shared real trace."""
    from hipcue.replay import replay

    traces = sorted(DATA.glob("*.trace.csv"), key=lambda p: p.stat().st_size)
    if limit:
        traces = traces[:limit]
    rows = []
    for tr in traces:
        calibrate = not tr.name.startswith(("mobgap", "broad", "xio"))
        with tempfile.TemporaryDirectory() as tmp:
            a, b = Path(tmp) / "rp2040", Path(tmp) / "unix"
            t0 = time.time()
            err = None
            try:
                replay(tr, a, calibrate=calibrate, engine="rp2040")
            except Exception as e:  # noqa: BLE001 - reported per trace
                err = str(e)
            wall = time.time() - t0
            if err is None:
                replay(tr, b, calibrate=calibrate, engine="micropython")
                same = all(
                    (a / f).read_bytes() == (b / f).read_bytes()
                    for f in ("samples.csv", "steps.csv")
                )
                sa = json.loads((a / "summary.json").read_text())
                sb = json.loads((b / "summary.json").read_text())
                sa.pop("engine")
                sb.pop("engine")
                rows.append(
                    {
                        "trace": tr.name,
                        "identical": bool(same and sa == sb),
                        "samples": sa["samples"],
                        "missed": sa["missed_samples"],
                        "late": sa["late_samples"],
                        "wall_s": round(wall, 1),
                    }
                )
            else:
                rows.append({"trace": tr.name, "identical": False, "error": err})
    return {
        "traces": rows,
        "identical": sum(1 for r in rows if r["identical"]),
        "of": len(rows),
        "all_real_traces": limit == 0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.rp2040")
    ap.add_argument("what", nargs="*", default=["boot", "loop", "replay"])
    ap.add_argument("--walk-s", type=float, default=20.0)
    ap.add_argument("--traces", type=int, default=0, help="replay only the N shortest")
    ap.add_argument("--out", default=str(HERE / "rp2040-latest.json"))
    ap.add_argument("--no-pull", action="store_true", help="power: no log download mid-walk")
    ap.add_argument("--batch", type=int, default=0, help="power-walk: fifo_batch (0: default)")
    ap.add_argument("--no-usb", action="store_true", help="power-walk: USB unplugged (VBUS low)")
    ap.add_argument(
        "--calls", action="store_true", help="loop: stamp single calls too (log.flush, ...)"
    )
    ap.add_argument(
        "--parts", action="store_true", help="loop: stamp app.tick's parts too (estimator, ...)"
    )
    a = ap.parse_args(argv)
    res: dict = {}
    if "boot" in a.what:
        res["boot"] = boot_time()
        print(json.dumps(res["boot"]))
    if "loop" in a.what:
        res["loop"] = board_loop(a.walk_s, parts=a.parts, calls=a.calls)
        print(json.dumps(res["loop"], indent=1))
    if "deploy" in a.what:
        with tempfile.TemporaryDirectory() as tmp:
            flash = Path(tmp) / "flash.bin"
            res["deploy"] = deploy_path(flash)
            print(json.dumps(res["deploy"], indent=1))
            if res["deploy"].get("started"):
                from sim.rp2040 import STOCK_UF2

                res["deploy_loop"] = board_loop(a.walk_s, STOCK_UF2, flash)
                print(json.dumps(res["deploy_loop"], indent=1))
    if "power" in a.what:
        res["power"] = power(a.walk_s, pull=not a.no_pull)
        print(json.dumps(res["power"], indent=1))
    if "power-walk" in a.what:
        res["power_walk"] = power_walk(
            a.walk_s, pull=not a.no_pull, batch=a.batch, usb=not a.no_usb
        )
        if a.no_usb and not a.batch and POWER_JSON.exists():
            write_summary(res["power_walk"], None)  # the idle figures kept
        print(json.dumps(res["power_walk"], indent=1))
    if "power-idle" in a.what:
        res["power_idle"] = power_idle()
        print(json.dumps(res["power_idle"], indent=1))
        if POWER_JSON.exists():
            write_summary(None, res["power_idle"])  # the walk's figures kept
    if "replay" in a.what:
        res["replay"] = replay_identity(a.traces)
        print(json.dumps(res["replay"], indent=1))
    Path(a.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
