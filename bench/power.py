"""Power (issue 15): the battery budget of `hipcue power` from this run's measurements, and the
low-power settings a user can choose, each with its measured effect on accuracy.

    .venv/bin/python -m bench.power            # everything (a few minutes on the unix host)
    .venv/bin/python -m bench.power budget     # the budget only (seconds)
    .venv/bin/python -m bench.power budget --chip-walk-s 20   # with a fresh emulated chip loop

Budget: `hipcue.power.budget` over the measured figures: a measured-figures JSON when there is
one (HIPCUE_POWER_MEASURED, else bench/power-measured.json: the firmware's sleeping loop
writes its emulator figures there, keys in hardware/power.md), else this run's emulated-chip
loop (make bench section 14, the same board_loop), else the built-in chip record; the cue
rate from the weak-right demo walk through the firmware loop.

Settings:
  (a) 52 Hz output data rate. Real recordings, resampled the way the sensor's ODR would
      sample them: the 100 Hz recordings keep every second sample of their grid (50 Hz;
      a dropped packet leaves its grid slot empty, the slots stay on the original times),
      the 285.7 Hz BROAD recording every fifth (57.1 Hz, the nearest integer step to 52 Hz).
      Scored as at the full rate: steps and contacts against the reference events
      (sim/scoring.py, ipol and mobgap), obliquity and tilt against BROAD's optical truth,
      and on every real recording the obliquity and per-step drop against the same
      recording's full-rate run. Synthetic walks generated at 52 Hz (bench/accuracy.py).
  (b) a lower core clock (cpu_mhz, machine.freq()): duty and cue latency as the measured
      cycles over the clock (rp2040js was not run at another clock: computed), current from
      the board figures of hardware/power.md.
  (c) shorter and faded cues: motor-on time and cues on the weak-right demo walk, cue
      onsets compared with the default (latency unchanged when every onset is the same).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hipcue import power  # noqa: E402
from hipcue.trace import Trace, read_trace  # noqa: E402
from sim.paths import data_dir  # noqa: E402

DATA = data_dir()
LOW_HZ = 52.0


# -- measured inputs ----------------------------------------------------------------------------


def measured_inputs(chip_loop: dict | None = None) -> tuple[dict, dict, str]:
    """(figures, origin per key, what was used)."""
    path = power.default_measured_path()
    if path:
        m, origin = power.load_measured(path)
        return m, origin, f"measured-figures JSON {path}"
    m, origin = power.load_measured(None)
    if chip_loop and chip_loop.get("work_median_cycles"):
        emu = f"this run's emulated chip loop ({chip_loop.get('emulator', 'rp2040js')})"
        m["work_cycles_per_sample"] = float(chip_loop["work_median_cycles"])
        m["duty_pct"] = float(chip_loop["duty_median_pct"])
        m["rate_hz"] = 1e6 / float(chip_loop["period_us"])
        if chip_loop.get("emulated_s"):
            m["flash_busy_ms_per_s"] = float(chip_loop["flash_stall_ms"]) / float(
                chip_loop["emulated_s"]
            )
            origin["flash_busy_ms_per_s"] = emu
        for k in ("work_cycles_per_sample", "duty_pct", "rate_hz"):
            origin[k] = emu
        return m, origin, emu
    return m, origin, "built-in chip record"


# -- resampling as the sensor's ODR would --------------------------------------------------------


def decimate(tr: Trace, step: int) -> Trace:
    """Every `step`-th slot of the trace's sample grid (slots from the first sample's time at
    the median interval; a slot whose sample was dropped stays empty)."""
    t = tr.t_s
    period = float(np.median(np.diff(t)))
    slot = np.rint((t - t[0]) / period).astype(np.int64)
    keep = np.flatnonzero(slot % step == 0)
    meta = dict(tr.meta)
    if "rate_hz" in meta:
        meta["rate_hz"] = f"{1.0 / (period * step):.4f}"
    return Trace(
        path=Path(f"{tr.path}@1/{step}"),
        meta=meta,
        header=tr.header,
        t_s=t[keep],
        t_text=[tr.t_text[i] for i in keep],
        acc_g=tr.acc_g[keep],
        gyro_dps=tr.gyro_dps[keep],
        extra={k: [v[i] for i in keep] for k, v in tr.extra.items()},
        first_data_line=tr.first_data_line,
    )


def step_for(tr: Trace) -> int:
    """The integer decimation that brings the trace nearest to 52 Hz."""
    hz = 1.0 / float(np.median(np.diff(tr.t_s)))
    return max(1, int(round(hz / LOW_HZ)))


# -- (a) 52 Hz ----------------------------------------------------------------------------------


def steps_at_low_rate() -> dict:
    """The gait table (bench/gait.py's scoring, the firmware only) at full and reduced rate."""
    from hipcue.replay import run_firmware
    from sim import scoring

    refs = scoring.load_references(DATA)
    full, low = [], []
    rates = {}
    for r in refs:
        tr = read_trace(r.trace)
        k = step_for(tr)
        lo = decimate(tr, k)
        rates[r.name] = round(1.0 / float(np.median(np.diff(lo.t_s))), 2)
        for t, out in ((tr, full), (lo, low)):
            res = run_firmware(t, calibrate=r.calibrate, engine="cpython")
            out.append(
                scoring.score(
                    det_t=[s.t_s for s in res.steps],
                    det_side=[s.stance for s in res.steps],
                    ref=r,
                )
            )
    return {
        "full": scoring.by_dataset(refs, full),
        "low": scoring.by_dataset(refs, low),
        "rates_hz": rates,
    }


def _calibrate(name: str) -> bool:
    return not name.startswith(("mobgap", "broad", "xio"))


def obliquity_at_low_rate() -> dict:
    """Every shared real recording: the reduced-rate run against the full-rate run of the
    same recording at the kept samples (obliquity, tilt), and the per-step drops of steps
    found in both (same stance, ICs within 150 ms)."""
    from hipcue.replay import run_firmware
    from sim.realdata import BROAD_MOUNT

    rows = []
    for p in sorted(DATA.glob("*.trace.csv")):
        tr = read_trace(p)
        k = step_for(tr)
        lo = decimate(tr, k)
        mount = BROAD_MOUNT if p.name.startswith("broad") else None
        cal = _calibrate(p.name)
        a = run_firmware(tr, mount=mount, calibrate=cal, engine="cpython")
        b = run_firmware(lo, mount=mount, calibrate=cal, engine="cpython")
        idx = np.searchsorted(tr.t_s, lo.t_s)
        start = int(np.searchsorted(lo.t_s, tr.t_s[0] + 10.0))  # past calibration/convergence
        d_obl = (b.obl_mdeg[start:] - a.obl_mdeg[idx[start:]]) / 1000.0
        d_tilt = (b.tilt_mdeg[start:] - a.tilt_mdeg[idx[start:]]) / 1000.0
        tilt = np.abs(a.tilt_mdeg[idx[start:]] / 1000.0)
        upright = tilt < 60.0
        drops = []
        st_a = [(s.t_s, s.stance, s.drop_deg) for s in a.steps]
        for t, side, drop in ((s.t_s, s.stance, s.drop_deg) for s in b.steps):
            near = [x for x in st_a if x[1] == side and abs(x[0] - t) <= 0.15]
            if near:
                best = min(near, key=lambda x: abs(x[0] - t))
                drops.append(abs(drop - best[2]))
        rows.append(
            {
                "trace": p.name,
                "low_hz": round(1.0 / float(np.median(np.diff(lo.t_s))), 2),
                "obl_rms_diff_deg": float(np.sqrt(np.mean(d_obl[upright] ** 2)))
                if upright.any()
                else None,
                "tilt_rms_diff_deg": float(np.sqrt(np.mean(d_tilt[upright] ** 2)))
                if upright.any()
                else None,
                "upright_share": float(upright.mean()) if len(upright) else 0.0,
                "steps_full": len(a.steps),
                "steps_low": len(b.steps),
                "steps_both": len(drops),
                "drop_diff_p95_deg": float(np.percentile(drops, 95)) if drops else None,
                "drop_diff_median_deg": float(np.median(drops)) if drops else None,
            }
        )
    return {"traces": rows}


def broad_at_low_rate() -> dict:
    from sim import realdata

    tr = read_trace(DATA / realdata.BROAD)
    k = step_for(tr)
    return {
        "full": realdata.broad(tr)["ours"],
        "low": realdata.broad(decimate(tr, k))["ours"],
        "low_hz": round(1.0 / float(np.median(np.diff(tr.t_s))) / k, 2),
    }


def synth_at_low_rate() -> dict:
    from bench import accuracy

    out = {}
    for hz in (100.0, LOW_HZ):
        out[f"{hz:g}"] = accuracy.combine([accuracy.one_walk(p, s, hz) for p, s in accuracy.WALKS])
    return out


# -- (b) core clock ---------------------------------------------------------------------------


def clock_figures(m: dict, chip_loop: dict | None, clocks=(125.0, 96.0, 48.0)) -> list[dict]:
    """Duty, cue latency and board current at each clock: measured cycles / clock."""
    lat_ms = (chip_loop or {}).get("cue_latency_ms_median") or 1.08  # README section 14
    rows = []
    for mhz in clocks:
        rows.append(
            {
                "cpu_mhz": mhz,
                "duty_pct": m["duty_pct"] * m["cpu_mhz"] / mhz,
                "p99_work_ms": (chip_loop or {}).get("work_p99_cycles", 201218.0) / (mhz * 1e3),
                "cue_latency_ms": lat_ms * m["cpu_mhz"] / mhz,
                "board_ma_5v": power.pico_active_5v(mhz),
                "cell_ma": power.cell_from_vbus(power.pico_active_5v(mhz), 3.7),
            }
        )
    return rows


CLOCK_PROBE = """
import machine, time
def spin(n):
    s = 0
    for i in range(n):
        s += i ^ (i >> 1)
    return s
out = []
for hz in (125000000, 48000000, 125000000):
    machine.freq(hz)
    t0 = time.ticks_us()
    spin(20000)
    out.append((machine.freq(), time.ticks_diff(time.ticks_us(), t0)))
print(out)
"""


def emulator_clock_check() -> dict:
    """Does rp2040js run the core slower after machine.freq(48 MHz)? The same bytecode loop
    timed with time.ticks_us (the timer runs from the 1 MHz tick, not the core clock) at 125,
    48, then 125 MHz again, on stock MicroPython 1.28 in the emulator."""
    import ast

    from sim.rp2040 import STOCK_UF2, Chip, Serial

    with Chip(firmware=STOCK_UF2) as chip:
        ser = Serial(chip)
        chip.wait_usb()
        ser.raw_repl(60)
        got = ast.literal_eval(ser.exec(CLOCK_PROBE, 300).strip())
        ser.close()
        chip.stop()
    (f0, us0), (f1, us1), (f2, us2) = got
    return {
        "runs": [{"freq_hz": f, "loop_us": us} for f, us in got],
        "slowdown_at_48": us1 / us0,
        "expected_if_honoured": 125 / 48,
        "honoured": abs(us1 / us0 - 125 / 48) < 0.25,
    }


# -- (c) cues -----------------------------------------------------------------------------------


def cue_settings() -> list[dict]:
    """Motor-on time per minute of walking for cue lengths and the faded schedule; cue onsets
    against the default's (the same onsets: the same latency and sensitivity)."""
    from hipcue.replay import run_firmware
    from sim.inputs import synth_trace

    tr, _ = synth_trace("weak-right", 90.0, 7)
    period = float(np.median(np.diff(tr.t_s)))
    base = run_firmware(tr, calibrate=True, engine="cpython")
    walk_min = 87.0 / 60.0  # the walking part of the 90 s walk (3 s standing first)
    variants = [
        ("default (cue_ms 150)", []),
        ("cue_ms 100", ["cue_ms=100"]),
        ("cue_ms 60", ["cue_ms=60"]),
    ]
    for s in range(4):
        variants.append((f"faded, session {s} of 3", ["feedback=faded", f"session_index={s}"]))
    rows = []
    for name, sets in variants:
        res = run_firmware(tr, calibrate=True, engine="cpython", sets=sets) if sets else base
        on_s = float(np.asarray(res.cue, dtype=np.int64).sum()) * period
        n = len(res.cue_index)
        same = list(res.cue_index) == list(base.cue_index)
        subset = set(res.cue_index) <= set(base.cue_index)
        on_ms = 1000.0 * on_s / n if n else 0.0
        charge = n * power.motor_charge_per_cue(on_ms, 3.7) / 1000.0 if n else 0.0  # mA s
        rows.append(
            {
                "setting": name,
                "sets": sets,
                "cues": n,
                "cue_on_ms": on_ms,
                "motor_on_s_per_min": on_s / walk_min,
                "motor_mA_s_per_min": charge / walk_min,
                "onsets_identical": same,
                "onsets_subset": subset,
            }
        )
    return rows


# -- the budget and the section -------------------------------------------------------------------


def budgets(m: dict) -> list[tuple[str, dict, object]]:
    """(label, budget, options): the measured firmware, then the board choices and settings."""
    cues = power.measure_cues()
    base = power.Options()
    out = [("measured firmware, build a", power.budget(m, cues, base), base)]
    out.append(("  build b (Nano)", power.budget(m, cues, replace(base, board="nano")), None))
    out.append(
        (
            "  IMU breakout LED left on",
            power.budget(m, cues, replace(base, breakout_led=True)),
            None,
        )
    )
    out.append(("  52 Hz ODR", power.budget(m, cues, replace(base, rate_hz=LOW_HZ)), None))
    out.append(("  48 MHz core", power.budget(m, cues, replace(base, cpu_mhz=48.0)), None))
    out.append(("  cues of 60 ms", power.budget(m, cues, replace(base, cue_ms=60.0)), None))
    return out


def projection(m: dict) -> dict:
    """NOT a measurement: the measured work with the core in lightsleep between samples (a
    wake-up per sample, 1 ms assumed each) and dormant with motion wake-up in standby, IMU
    accel low-power: what the sleeping firmware would give if it matches these assumptions."""
    p = dict(m)
    p.update(
        walk_sleep="lightsleep",
        walk_wakeups_per_s=m["rate_hz"],
        wake_ms=power.WAKE_MS_ASSUMED,
        standby_sleep="dormant",
        standby_wakeups_per_s=0.0,
        standby_imu="xl_lp",
    )
    cues = power.measure_cues()
    o = power.Options()
    return {
        "sleeping loop": power.budget(p, cues, o),
        "sleeping loop + latch": power.budget(p, cues, replace(o, latch=True)),
        "sleeping loop + latch + 60 ms cues": power.budget(
            p, cues, replace(o, latch=True, cue_ms=60.0)
        ),
        "sleeping loop + latch + 52 Hz": power.budget(
            p, cues, replace(o, latch=True, rate_hz=LOW_HZ)
        ),
        "sleeping + latch + 60 ms + 48 MHz": power.budget(
            p, cues, replace(o, latch=True, cue_ms=60.0, cpu_mhz=48.0)
        ),
    }


def run_all(chip_loop: dict | None = None, accuracy: bool = True) -> dict:
    m, origin, used = measured_inputs(chip_loop)
    out: dict = {"measured": m, "origin": origin, "used": used}
    out["budgets"] = [(label, b) for label, b, _ in budgets(m)]
    out["projection"] = projection(m)
    out["clock"] = clock_figures(m, chip_loop)
    if accuracy:
        try:
            out["emulator_clock"] = emulator_clock_check()
        except Exception as e:  # noqa: BLE001 - no emulator here: said, not hidden
            out["emulator_clock"] = {"error": f"{type(e).__name__}: {e}"}
    if accuracy:
        out["steps"] = steps_at_low_rate()
        out["obliquity"] = obliquity_at_low_rate()
        out["broad"] = broad_at_low_rate()
        out["synth"] = synth_at_low_rate()
        out["cues"] = cue_settings()
    return out


def report(r, v: dict) -> None:
    """Section 15 lines into bench/__main__.py's Report."""
    r.note(f"measured inputs: {v['used']}")
    for label, b in v["budgets"]:
        goals = b["goals"]
        r.fig(
            f"{label}: mA walking / standby",
            f"{b['walking_ma']:.1f} / {b['standby_ma']:.2f}",
        )
        if label.startswith("measured"):
            r.fig("  days on 500 mAh, 1 h/day walking", goals[0][1], ">= 30", goals[0][3], "{:.1f}")
            r.fig("  moonshot days", goals[1][1], ">= 60", goals[1][3], "{:.1f}")
            r.fig("  months in standby", goals[2][1], ">= 6", goals[2][3], "{:.2f}")
        else:
            r.note(
                f"{label.strip()}: {b['days']:.1f} days, standby {b['standby_months']:.2f} months"
            )
    r.note("PROJECTION, not measured (sleep behaviour assumed, see hardware/power.md):")
    for label, b in v["projection"].items():
        r.note(
            f"  {label:<36} {b['walking_ma']:5.1f} / {b['standby_ma']:.3f} mA -> "
            f"{b['days']:5.1f} days, standby {b['standby_months']:.1f} months"
        )
    ec = v.get("emulator_clock")
    if ec and "error" in ec:
        r.note(f"emulator clock check not run: {ec['error']}")
    elif ec:
        runs = ", ".join(f"{x['freq_hz'] / 1e6:g} MHz {x['loop_us']} us" for x in ec["runs"])
        r.note(
            f"rp2040js after machine.freq(): the same loop {runs}: x{ec['slowdown_at_48']:.2f} "
            f"at 48 MHz ({'honours' if ec['honoured'] else 'does not honour'} the clock; "
            f"x{ec['expected_if_honoured']:.2f} if it did)"
        )
    for row in v["clock"]:
        r.note(
            f"core {row['cpu_mhz']:>3.0f} MHz: duty {row['duty_pct']:.1f} %, p99 work "
            f"{row['p99_work_ms']:.2f} ms, cue latency {row['cue_latency_ms']:.2f} ms "
            f"(cycles / clock, computed), board {row['board_ma_5v']:.1f} mA at 5 V"
        )
    if "steps" in v:
        full, low = v["steps"]["full"]["all"], v["steps"]["low"]["all"]
        for key, name in (
            ("matched_pct", "ICs matched"),
            ("side_pct", "stance side correct"),
            ("extra_pct", "extra steps"),
            ("bias_ms", "contact timing bias"),
        ):
            unit = " ms" if key == "bias_ms" else " %"
            r.fig(
                f"~52 Hz {name}" + " [" + f"full {full[key]:.1f}{unit}" + "]",
                low[key],
                None,
                None,
                "{:.1f}",
                unit,
            )
        for ds in v["steps"]["low"]:
            if ds == "all":
                continue
            f, lo = v["steps"]["full"][ds], v["steps"]["low"][ds]
            r.note(
                f"{ds:<16} matched {lo['matched_pct']:.1f} % (full {f['matched_pct']:.1f}), "
                f"side {lo['side_pct']:.1f} ({f['side_pct']:.1f}), extra "
                f"{lo['extra_pct']:.1f} ({f['extra_pct']:.1f}), bias {lo['bias_ms']:.0f} ms "
                f"({f['bias_ms']:.0f})"
            )
        b = v["broad"]
        r.fig(
            f"{b['low_hz']:.0f} Hz BROAD tilt RMS"
            + " ["
            + f"full {b['full']['tilt_rms_deg']:.2f}"
            + "]",
            b["low"]["tilt_rms_deg"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        r.fig(
            f"{b['low_hz']:.0f} Hz BROAD obliquity RMS"
            + " ["
            + f"full {b['full']['obliquity_rms_deg']:.2f}"
            + "]",
            b["low"]["obliquity_rms_deg"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        for row in v["obliquity"]["traces"]:
            o = row["obl_rms_diff_deg"]
            d = row["drop_diff_p95_deg"]
            os_ = "-" if o is None else f"{o:.2f}"
            ds = "-" if d is None else f"{d:.2f}"
            r.note(
                f"{row['trace'][:-10]:<34} {row['low_hz']:>5.1f} Hz: obl diff RMS {os_} deg, "
                f"steps {row['steps_low']}/{row['steps_full']}, drop diff p95 {ds} deg"
            )
        s100, s52 = v["synth"]["100"], v["synth"][f"{LOW_HZ:g}"]
        r.fig(
            "52 Hz synth obliquity RMS" + " [" + f"100 Hz {s100['obliquity_rms_deg']:.2f}" + "]",
            s52["obliquity_rms_deg"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        r.fig(
            "52 Hz synth drop error p95" + " [" + f"100 Hz {s100['drop_err_p95_deg']:.2f}" + "]",
            s52["drop_err_p95_deg"],
            None,
            None,
            "{:.2f}",
            " deg",
        )
        r.fig(
            "52 Hz synth step detection"
            + " ["
            + f"100 Hz {100 * s100['step_detection_rate']:.1f}"
            + "]",
            100 * s52["step_detection_rate"],
            None,
            None,
            "{:.1f}",
            " %",
        )
        r.fig(
            "52 Hz synth cue latency median"
            + " ["
            + f"100 Hz {s100['cue_latency_median_ms']:.0f}"
            + "]",
            s52["cue_latency_median_ms"],
            "<= 20 ms",  # section 4's goal
            s52["cue_latency_median_ms"] is not None and s52["cue_latency_median_ms"] <= 20,
            "{:.0f}",
            " ms",
        )
        r.fig(
            "52 Hz synth cue latency p95" + " [" + f"100 Hz {s100['cue_latency_p95_ms']:.0f}" + "]",
            s52["cue_latency_p95_ms"],
            "<= 40 ms",
            s52["cue_latency_p95_ms"] is not None and s52["cue_latency_p95_ms"] <= 40,
            "{:.0f}",
            " ms",
        )
        for row in v["cues"]:
            on = "identical" if row["onsets_identical"] else "differ"
            if not row["onsets_identical"] and row["onsets_subset"]:
                on = "a subset"
            r.note(
                f"{row['setting']:<24} {row['cues']:>3} cues x {row['cue_on_ms']:>4.0f} ms: motor "
                f"{row['motor_on_s_per_min']:.2f} s/min, {row['motor_mA_s_per_min']:.0f} mA s/min; "
                f"onsets {on}"
            )


def _print(v: dict) -> None:
    class R:
        def __init__(self):
            self.lines: list[str] = []

        def fig(self, name, value, target=None, ok=None, fmt="{:.2f}", unit=""):
            text = (
                value
                if isinstance(value, str)
                else ("n/a" if value is None else fmt.format(value) + unit)
            )
            st = "" if ok is None else ("PASS" if ok else "MISS")
            tg = "" if target is None else f"target {target}"
            self.lines.append(f"{name:<46} {text:>16}   {tg:<16} {st}".rstrip())

        def note(self, text):
            self.lines.append(f"  {text}")

    r = R()
    report(r, v)
    print("\n".join(r.lines))


def main(argv: list[str]) -> int:
    """[budget] [--chip-walk-s S]: S > 0 measures the chip loop afresh (bench.rp2040)."""
    acc = "budget" not in argv
    chip = None
    if "--chip-walk-s" in argv:
        from bench import rp2040

        chip = rp2040.board_loop(float(argv[argv.index("--chip-walk-s") + 1]))
    v = run_all(chip, accuracy=acc)
    (HERE / "power-latest.json").write_text(json.dumps(v, indent=1, default=str) + "\n")
    _print(v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
