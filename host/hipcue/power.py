"""`hipcue power`: the battery budget, computed from measured figures and cited currents.

Nothing here is a guess dressed as a figure. Every current comes from FIGURES, each with its
document, section/table and kind:
  datasheet   a manufacturer's datasheet value (typical unless said);
  measured    a published measurement by a third party (board level, at its supply);
  firmware    a setting of hipcue's own firmware; computed: worked out in hardware/;
  assumption  no source found: a clearly labelled value, kept in the output's notes.
The firmware's own behaviour (CPU duty, wake-ups, flash writes, cues per stride and their
length) is MEASURED: on the emulated RP2040 (sim/rp2040, `python -m bench.rp2040 loop`, or a
measured-figures JSON written by the firmware's sleep work) and on the firmware loop in
simulation (the weak-right demo walk, `run_firmware`). hardware/power.md is the document.

The measured-figures JSON (`hipcue power --measured FILE`); every key optional, a missing key
takes the built-in chip measurement (CHIP_RECORD) and the output says which came from where:

  {"schema": "hipcue.power.measured/1",
   "source":               text: what produced the figures (command, emulator, date)
   "rate_hz":              IMU output data rate while walking, Hz (104)
   "cpu_mhz":              core clock of the measurement, MHz (125)
   "work_cycles_per_sample": core cycles of the loop's work per sample, median
   "duty_pct":             share of time the core runs while walking, % (work / period)
   "walk_sleep":           what the core does between samples while walking:
                           "none" (busy-waits: awake 100 %), "wfe" (WFE/WFI, clocks
                           running: time.sleep_ms, machine.idle), "lightsleep" or "dormant"
   "walk_wakeups_per_s":   wake-ups from that sleep per second while walking
   "wake_ms":              core awake time each wake-up costs beyond the work (clock restart)
   "flash_busy_ms_per_s":  flash erase/program time per second of walking (stall), ms
   "standby_sleep":        the core between walks: "none" (the loop keeps running),
                           "wfe", "lightsleep" or "dormant" (motion wake-up)
   "standby_duty_pct":     share of time the core works in standby, %
   "standby_wakeups_per_s": wake-ups per second in standby
   "standby_imu":          the IMU between walks: "hp" (accel+gyro high-performance, as
                           walking), "xl_lp" (accel low-power, gyro off), "xl_ulp", "off"
  }
The power helper's bench.rp2040 `power` summary (build/power-measured.json) is read too: its
keys are translated by POWER_SUMMARY_KEYS (mcu_hz, walking_duty_pct, walking_wakes_per_s, ...).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hipcue import HipcueError
from hipcue.argtypes import number, whole

SCHEMA_NAME = "hipcue.power.measured/1"

# -- cited figures ----------------------------------------------------------------------------
# key: (value, unit, kind, source). Board-level figures of the Pico are currents from its
# 5 V VBUS input (the Pico datasheet measures there), converted to the cell by power
# (see `cell_from_vbus`).
FIGURES: dict[str, tuple[float, str, str, str]] = {
    "pico_active_125": (
        20.0,
        "mA at 5 V",
        "measured",
        "adafruit/circuitpython PR #7430 (Pico board, RP2040 running at 125 MHz: ~20 mA)",
    ),
    "pico_active_20": (
        6.0,
        "mA at 5 V",
        "measured",
        "adafruit/circuitpython PR #7430 (the same board at 20 MHz: ~6 mA)",
    ),
    "pico_bootsel_idle": (
        8.7,
        "mA at 5 V",
        "datasheet",
        "Raspberry Pi Pico datasheet § 3.1.2, Table 3 (BOOTSEL mode, USB idle, 25 C, mean of 3)",
    ),
    "pico_sleep": (
        1.3,
        "mA at 5 V",
        "datasheet",
        "Raspberry Pi Pico datasheet § 3.1.4, Table 5 (hello_sleep, 25 C, mean of 3)",
    ),
    "pico_wfe": (
        20.0,
        "mA at 5 V",
        "measured",
        "rp-rs/rp-hal issue #659: a Pico waiting in WFE/WFI (clocks running) still drew ~20 mA; "
        "taken as the active current at the same clock: no saving",
    ),
    "pico_dormant": (
        0.8,
        "mA at 5 V",
        "datasheet",
        "Raspberry Pi Pico datasheet § 3.1.3, Table 4 (hello_dormant, 25 C, mean of 3)",
    ),
    "mp_lightsleep_timer": (
        1.5,
        "mA at 5 V",
        "measured",
        "MicroPython commit 'rp2: lightsleep' (D. George): Pico from USB, "
        "machine.lightsleep(5000) ~1.5 mA",
    ),
    "mp_lightsleep": (
        0.9,
        "mA at 5 V",
        "measured",
        "the same commit: machine.lightsleep() with no timer ~0.9 mA",
    ),
    "rp2040_dormant_dvdd": (
        0.18,
        "mA",
        "datasheet",
        "RP2040 datasheet § 5.7.2, Table 637 (Dormant, typical DVDD; chip only)",
    ),
    "rp2040_sleep_dvdd": (
        0.39,
        "mA",
        "datasheet",
        "RP2040 datasheet § 5.7.2, Table 637 (Sleep, typical DVDD; chip only)",
    ),
    "rt6150_iq": (
        0.060,
        "mA",
        "datasheet",
        "Richtek RT6150A/B datasheet, Electrical Characteristics: power save mode quiescent "
        "current 60 uA typ (VIN = VOUT = 3.6 V, IOUT = 0); included in the Pico board figures",
    ),
    "rt6150_eff": (
        0.85,
        "",
        "assumption",
        "buck-boost efficiency at these loads: the RT6150 datasheet gives 'up to 90 %'; "
        "85 % assumed",
    ),
    "pico_en_pullup_kohm": (
        100.0,
        "kOhm",
        "datasheet",
        "Raspberry Pi Pico datasheet § 4.4: the SMPS EN pin is pulled up to VSYS by 100 kOhm",
    ),
    "imu_hp": (
        0.55,
        "mA",
        "datasheet",
        "ST LSM6DSOX datasheet DS12814, front page: 0.55 mA in combo high-performance mode",
    ),
    "imu_xl_lp_52": (
        0.026,
        "mA",
        "datasheet",
        "ST LSM6DSO32 datasheet DocID032891 Rev 1, § 4.2 Table 4: LA_IddLP 26 uA at 52 Hz "
        "(sister part: the LSM6DSOX's DS12814 table was not found; the same 0.55 mA combo "
        "figure; used for 12.5-52 Hz wake-up as an upper bound)",
    ),
    "imu_xl_ulp_52": (
        0.0095,
        "mA",
        "datasheet",
        "ST LSM6DSO32 datasheet, § 4.2 Table 4: LA_IddULP 9.5 uA at 52 Hz (sister part)",
    ),
    "imu_pd": (
        0.003,
        "mA",
        "datasheet",
        "ST LSM6DSO32 datasheet, § 4.2 Table 4: IddPD 3 uA in power-down (sister part)",
    ),
    "flash_prog": (
        20.0,
        "mA",
        "datasheet",
        "Winbond W25Q128JV datasheet § 9.4: page program / sector erase current 20 mA typ "
        "(the same JV family as the Pico's W25Q16JV; assumed equal)",
    ),
    "erm_ma_per_v": (
        20.0,
        "mA/V",
        "datasheet",
        "Adafruit product #1201 (60 mA at 3 V, 80 mA at 4 V, 100 mA at 5 V: all three on 20 mA/V)",
    ),
    "erm_rated_v": (
        3.0,
        "V",
        "firmware",
        "device/drivers/haptic.py rated_mv = 3000: the hold duty gives the motor 3.0 V "
        "(Adafruit #1201's 60 mA point)",
    ),
    "erm_kick_ms": (
        25.0,
        "ms",
        "firmware",
        "device/drivers/haptic.py: full duty for kick_ms = 25 at each cue's start",
    ),
    "d1_drop_v": (
        0.25,
        "V",
        "assumption",
        "Schottky drop cell -> VSYS at these currents (hardware/build-a-pico.md § 4)",
    ),
    "i2c_pullup_kohm": (
        10.0,
        "kOhm",
        "assumption",
        "pull-up per line on the IMU breakout (value not verified on the board)",
    ),
    "i2c_bus_ms_per_sample": (
        0.55,
        "ms",
        "computed",
        "computed in hardware/README.md: FIFO status + two 7-byte words at 400 kHz",
    ),
    "charger_leak": (
        0.002,
        "mA",
        "datasheet",
        "TP4056 datasheet: < 2 uA battery drain without input",
    ),
    "protect_leak": (
        0.003,
        "mA",
        "assumption",
        "DW01A cell protection: 'a few uA' (hardware/README.md, not from its datasheet)",
    ),
    "breakout_led": (
        2.0,
        "mA",
        "assumption",
        "power LED on the IMU breakout (hardware/build-a-pico.md: 1-3 mA estimate, midpoint)",
    ),
    "nano_led": (
        2.5,
        "mA",
        "assumption",
        "Nano RP2040 Connect power LED, always on (build-b § 8 estimate, 2-3 mA)",
    ),
    "nano_chain": (
        1.7,
        "x",
        "assumption",
        "build b: 3.3 V rail power -> cell power (MP2322 buck, 5 V boost, two Schottkys; "
        "build-b § 8, efficiencies assumed, no datasheet figure found)",
    ),
    "latch_reg_iq": (
        0.015,
        "mA",
        "datasheet",
        "TI TPS62240 datasheet SLVS762C, Features: 15 uA typical quiescent current (an "
        "always-on buck for the IMU behind a power latch)",
    ),
    "latch_leak": (
        0.001,
        "mA",
        "assumption",
        "P-FET power latch in the VSYS line, off-state leakage (not from a datasheet)",
    ),
}

# The chip measurement the budget uses when no measured-figures JSON gives a key: README
# section 14 / hardware/README.md, 2026-12-04, `python -m bench.rp2040 boot loop --walk-s 30`
# (rp2040js 1.4.1, cycle model not checked against silicon): the polling loop reading the
# LSM6DSOX FIFO at 104 Hz, a session logged.
CHIP_RECORD: dict = {
    "schema": SCHEMA_NAME,
    "source": "emulated RP2040 (rp2040js 1.4.1), python -m bench.rp2040 loop --walk-s 30, "
    "2026-12-04 (README section 14): the polling loop",
    "rate_hz": 104.0,
    "cpu_mhz": 125.0,
    "work_cycles_per_sample": 73254.0,
    "duty_pct": 6.1,
    "walk_sleep": "none",
    "walk_wakeups_per_s": 0.0,
    "wake_ms": 0.0,
    "flash_busy_ms_per_s": 516.0 / 33.0,
    "standby_sleep": "none",
    "standby_duty_pct": 0.0,  # (not used while standby_sleep is "none")
    "standby_wakeups_per_s": 0.0,
    "standby_imu": "hp",
}
SLEEPS = ("none", "wfe", "lightsleep", "dormant")
IMU_MODES = ("hp", "xl_lp", "xl_ulp", "off")
NUMBERS = {
    "rate_hz": (1.0, 7000.0),
    "cpu_mhz": (1.0, 300.0),
    "work_cycles_per_sample": (0.0, 1e9),
    "duty_pct": (0.0, 100.0),
    "walk_wakeups_per_s": (0.0, 10000.0),
    "wake_ms": (0.0, 1000.0),
    "flash_busy_ms_per_s": (0.0, 1000.0),
    "standby_wakeups_per_s": (0.0, 10000.0),
    "standby_duty_pct": (0.0, 100.0),
}
CHOICE_KEYS = {"walk_sleep": SLEEPS, "standby_sleep": SLEEPS, "standby_imu": IMU_MODES}
# assumed clock-restart time per wake-up from lightsleep when the measurement gives none
WAKE_MS_ASSUMED = 1.0
# The `power` helper's summary (bench.rp2040 power -> build/power-measured.json): key -> ours
# (a function of the value), None: accepted, not used by the budget.
POWER_SUMMARY_KEYS = {
    "mcu_hz": ("cpu_mhz", lambda v: v / 1e6),
    "walking_duty_pct": ("duty_pct", None),
    "walking_wakes_per_s": ("walk_wakeups_per_s", None),
    "walking_cycles_per_sample_median": ("work_cycles_per_sample", None),
    "idle_duty_pct": ("standby_duty_pct", None),
    "idle_wakes_per_s": ("standby_wakeups_per_s", None),
    "fifo_batch": None,
    "walking_asleep_pct": None,
    "walking_cycles_per_sample_p99": None,
    "cue_latency_ms_median": None,
    "cue_latency_ms_p95": None,
    "idle_asleep_pct": None,
    "idle_usb_duty_pct": None,
    "idle_usb_wakes_per_s": None,
    "walking_imu_mode": None,
}


def _sleep_from_text(text: str) -> str:
    t = text.lower()
    for mode in ("dormant", "lightsleep"):
        if mode in t:
            return mode
    if "wfe" in t or "wfi" in t or "idle" in t:
        return "wfe"
    raise HipcueError(f"sleep_mode {text!r}: expected WFE/WFI, lightsleep or dormant")


def translate_summary(got: dict) -> tuple[dict, list[str]]:
    """The power helper's summary keys as ours; (translated, keys accepted but not used)."""
    out: dict = {}
    unused = []
    for key, val in got.items():
        if key in POWER_SUMMARY_KEYS:
            rule = POWER_SUMMARY_KEYS[key]
            if rule is None or val is None:
                unused.append(key)
                continue
            ours, f = rule
            if not isinstance(val, int | float) or isinstance(val, bool):
                raise HipcueError(f"{key} = {val!r}: expected a number")
            out[ours] = f(val) if f else val
        elif key == "sleep_mode":
            # "walking: WFE (...), clocks on; waiting for motion without USB: lightsleep(250)"
            for part in str(val).split(";"):
                mode = _sleep_from_text(part)
                head = part.strip().lower()
                if head.startswith("walking"):
                    out["walk_sleep"] = mode
                elif head.startswith(("waiting", "idle", "standby")):
                    out["standby_sleep"] = mode
                else:
                    out["walk_sleep"] = out["standby_sleep"] = mode
        elif key == "idle_imu_mode":
            t = str(val).lower()
            out["standby_imu"] = "xl_lp" if "low" in t and "gyro off" in t else "hp"
        else:
            out[key] = val
    if "walk_sleep" in out and out["walk_sleep"] == "wfe":
        out.setdefault("wake_ms", 0.0)  # clocks stay on: nothing to restart
    return out, unused


GOAL_DAYS = 30.0
GOAL_MOONSHOT_DAYS = 60.0
GOAL_STANDBY_MONTHS = 6.0
DAYS_PER_MONTH = 30.44


def default_measured_path() -> Path | None:
    """The measured-figures JSON used when none is named: HIPCUE_POWER_MEASURED, else
    bench/power-measured.json, else build/power-measured.json (what `python -m bench.rp2040
    power` writes) in the source tree, the first that exists; None: the built-in record."""
    import os

    env = os.environ.get("HIPCUE_POWER_MEASURED")
    if env:
        return Path(env)
    from sim.paths import CODE_ROOT

    for p in (
        Path(CODE_ROOT) / "bench" / "power-measured.json",
        Path(CODE_ROOT) / "build" / "power-measured.json",  # python -m bench.rp2040 power
    ):
        if p.exists():
            return p
    return None


def fig(key: str) -> float:
    return FIGURES[key][0]


def load_measured(path: str | Path | None) -> tuple[dict, dict]:
    """(figures, origin per key). Keys the file lacks come from CHIP_RECORD."""
    got: dict = {}
    where = "built-in chip record (README section 14)"
    if path is not None:
        p = Path(path)
        try:
            got = json.loads(p.read_text())
        except FileNotFoundError:
            raise HipcueError(f"{p}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise HipcueError(f"{p}: cannot read: {e}") from None
        except json.JSONDecodeError as e:
            raise HipcueError(f"{p}: not JSON: {e.msg} at line {e.lineno}") from None
        if not isinstance(got, dict):
            raise HipcueError(f"{p}: expected a JSON object of measured figures")
        try:
            got, unused = translate_summary(got)
        except HipcueError as e:
            raise HipcueError(f"{p}: {e}") from None
        schema = got.get("schema", SCHEMA_NAME)
        if schema != SCHEMA_NAME:
            raise HipcueError(f"{p}: schema {schema!r}, expected {SCHEMA_NAME!r}")
        for key, val in got.items():
            if key in ("schema", "source"):
                continue
            if key in NUMBERS:
                lo, hi = NUMBERS[key]
                ok = isinstance(val, int | float) and not isinstance(val, bool)
                if not ok or not math.isfinite(val) or not lo <= val <= hi:
                    raise HipcueError(f"{p}: {key} = {val!r}: expected a number in {lo:g}..{hi:g}")
            elif key in CHOICE_KEYS:
                if val not in CHOICE_KEYS[key]:
                    raise HipcueError(
                        f"{p}: {key} = {val!r}: expected one of {', '.join(CHOICE_KEYS[key])}"
                    )
            else:
                raise HipcueError(f"{p}: unknown key {key!r} (see hardware/power.md)")
        where = str(got.get("source") or p)
    else:
        unused = []
    out = dict(CHIP_RECORD)
    origin = {}
    for key in CHIP_RECORD:
        if key in ("schema", "source"):
            continue
        if key in got:
            out[key] = got[key]
            origin[key] = where
        else:
            origin[key] = "built-in chip record (README section 14)"
    if "duty_pct" not in got and "work_cycles_per_sample" in got:
        out["duty_pct"] = (
            100.0 * out["work_cycles_per_sample"] * out["rate_hz"] / (out["cpu_mhz"] * 1e6)
        )
        origin["duty_pct"] = "computed from work_cycles_per_sample"
    if unused:
        origin["(read, not used)"] = ", ".join(unused)
    if out["walk_sleep"] in ("lightsleep", "dormant") and "wake_ms" not in got:
        out["wake_ms"] = WAKE_MS_ASSUMED
        origin["wake_ms"] = f"assumption ({WAKE_MS_ASSUMED:g} ms clock restart per wake-up)"
    return out, origin


# -- the arithmetic ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    board: str = "pico"  # pico (build a) or nano (build b)
    cell_mah: float = 500.0
    usable: float = 0.85  # share of the rated capacity usable (hardware/build-a-pico.md § 5)
    v_cell: float = 3.7
    walk_h: float = 1.0  # hours of walking per day
    rate_hz: float | None = None  # another ODR: work and wake-ups scale with it
    cpu_mhz: float | None = None  # another clock: duty scales as cycles / clock
    cue_ms: float | None = None  # another cue length
    breakout_led: bool = False  # build a: the IMU breakout's power LED left on
    latch: bool = False  # standby behind a power latch: only the IMU on its own regulator


@dataclass
class Cues:
    """Measured on the firmware loop (weak-right demo walk): cues per stride, motor-on time
    per cue, cadence."""

    cues_per_stride: float
    cue_on_ms: float
    cadence_spm: float
    source: str = ""
    detail: dict = field(default_factory=dict)


def cell_from_vbus(ma_5v: float, v_cell: float) -> float:
    """A Pico board current measured at its 5 V input, as a current from the cell: the same
    power, the same regulator efficiency (an assumption; VBUS also feeds the Schottky D1 and
    the VBUS-sense divider, so this overstates the cell current a little)."""
    return ma_5v * 5.0 / v_cell


def pico_active_5v(mhz: float) -> float:
    """Board current at 5 V with the core running at `mhz`: the line through the two
    published points (20 mA at 125 MHz, 6 mA at 20 MHz)."""
    f1, i1 = 125.0, fig("pico_active_125")
    f0, i0 = 20.0, fig("pico_active_20")
    return i0 + (i1 - i0) * (mhz - f0) / (f1 - f0)


def rail_to_cell(ma_3v3: float, o: Options) -> float:
    """A load on the 3.3 V rail as a current from the cell."""
    if o.board == "nano":
        return ma_3v3 * 3.3 * fig("nano_chain") / o.v_cell
    return ma_3v3 * 3.3 / (o.v_cell * fig("rt6150_eff"))


def board_to_cell(ma_5v: float, o: Options) -> float:
    """A Pico board-level figure (RP2040 + flash + regulator) as a cell current; for build b
    the same RP2040 load behind the Nano's longer power chain."""
    ma = cell_from_vbus(ma_5v, o.v_cell)
    if o.board == "nano":
        # back to the 3.3 V rail (through the Pico's regulator efficiency), then build b's chain
        return rail_to_cell(ma * o.v_cell * fig("rt6150_eff") / 3.3, o)
    return ma


def sleep_5v(mode: str, mhz: float = 125.0) -> float:
    if mode == "wfe":  # clocks running: the active current at that clock (rp-hal #659)
        return pico_active_5v(mhz) * fig("pico_wfe") / fig("pico_active_125")
    if mode == "lightsleep":
        return fig("mp_lightsleep_timer")
    if mode == "dormant":
        return fig("pico_dormant")
    raise ValueError(mode)


def imu_ma(mode: str) -> float:
    return {
        "hp": fig("imu_hp"),
        "xl_lp": fig("imu_xl_lp_52"),
        "xl_ulp": fig("imu_xl_ulp_52"),
        "off": fig("imu_pd"),
    }[mode]


def motor_charge_per_cue(on_ms: float, v_cell: float) -> float:
    """Cell charge (mA x ms) per cue: the kick at full duty from V_SYS for kick_ms, then the
    hold duty that gives the motor its rated 3.0 V (battery current = duty x motor current)."""
    v_sys = v_cell - fig("d1_drop_v")
    k = fig("erm_ma_per_v")
    kick = min(on_ms, fig("erm_kick_ms"))
    i_kick = k * v_sys
    rated = fig("erm_rated_v")
    hold_duty = min(1.0, rated / v_sys)
    i_hold = hold_duty * k * min(rated, v_sys)
    return kick * i_kick + (on_ms - kick) * i_hold


def effective(m: dict, o: Options) -> dict:
    """The measured figures moved to the options' rate and clock (cycles per sample kept)."""
    e = dict(m)
    rate = o.rate_hz or m["rate_hz"]
    mhz = o.cpu_mhz or m["cpu_mhz"]
    e["duty_pct"] = m["duty_pct"] * (rate / m["rate_hz"]) * (m["cpu_mhz"] / mhz)
    e["walk_wakeups_per_s"] = m["walk_wakeups_per_s"] * rate / m["rate_hz"]
    e["rate_hz"] = rate
    e["cpu_mhz"] = mhz
    return e


def budget(m: dict, cues: Cues, o: Options) -> dict:
    """Rows (consumer, mA walking, mA standby, basis) and the totals, days and goals."""
    e = effective(m, o)
    rows: list[tuple[str, float, float, str]] = []
    mhz = e["cpu_mhz"]
    active = board_to_cell(pico_active_5v(mhz), o)
    flash_frac = e["flash_busy_ms_per_s"] / 1000.0
    # walking: the core
    if e["walk_sleep"] == "none":
        awake = 1.0
        mcu_w = active
        basis = (
            f"busy-waits between samples: awake 100 % at {mhz:g} MHz "
            f"(work {e['duty_pct']:.1f} % of it); board {pico_active_5v(mhz):.1f} mA at 5 V"
        )
    else:
        wake = e["walk_wakeups_per_s"] * e["wake_ms"] / 1000.0
        awake = min(1.0, e["duty_pct"] / 100.0 + wake + flash_frac)
        sleep = board_to_cell(sleep_5v(e["walk_sleep"], mhz), o)
        mcu_w = awake * active + (1.0 - awake) * sleep
        basis = (
            f"awake {100 * awake:.1f} % at {mhz:g} MHz (work {e['duty_pct']:.1f} %, "
            f"{e['walk_wakeups_per_s']:.0f} wake-ups/s x {e['wake_ms']:g} ms, flash), "
            f"{e['walk_sleep']} the rest"
        )
    # standby: the core
    if o.latch:
        mcu_s = 0.0
        basis_s = "off behind the latch"
    elif e["standby_sleep"] == "none":
        mcu_s = active
        basis_s = "the loop keeps running (no standby mode)"
    else:
        sl = board_to_cell(sleep_5v(e["standby_sleep"], mhz), o)
        wake_ms = e["wake_ms"] if e["standby_sleep"] == "wfe" else e["wake_ms"] or WAKE_MS_ASSUMED
        frac = min(
            1.0, e["standby_duty_pct"] / 100.0 + e["standby_wakeups_per_s"] * wake_ms / 1000.0
        )
        mcu_s = frac * active + (1.0 - frac) * sl
        basis_s = f"{e['standby_sleep']} (board figure incl. regulator and flash standby)"
    rows.append(("RP2040 + flash + regulator (board)", mcu_w, mcu_s, basis + "; " + basis_s))
    # flash programming on top of the board figure
    flash = rail_to_cell(flash_frac * fig("flash_prog"), o)
    rows.append(
        (
            "flash erase/program",
            flash,
            0.0,
            f"{e['flash_busy_ms_per_s']:.1f} ms/s busy x {fig('flash_prog'):g} mA",
        )
    )
    # the IMU
    imu_s_mode = "xl_lp" if o.latch and e["standby_imu"] == "hp" else e["standby_imu"]
    imu_w = rail_to_cell(fig("imu_hp"), o)
    imu_s = imu_ma(imu_s_mode)
    if o.latch:  # on the latch's own buck from the cell, the build's chain switched off
        imu_s = imu_s * 3.3 / (o.v_cell * fig("rt6150_eff"))
    else:
        imu_s = rail_to_cell(imu_s, o)
    rows.append(
        (
            "IMU (LSM6DSOX)",
            imu_w,
            imu_s,
            f"walking accel+gyro high-performance; standby {imu_s_mode}",
        )
    )
    # I2C pull-ups: low half of the bus time on each of two lines
    pull = 3.3 / fig("i2c_pullup_kohm")  # mA per line while low
    bus = fig("i2c_bus_ms_per_sample") / 1000.0 * e["rate_hz"]
    pull_w = rail_to_cell(2 * pull * 0.5 * bus, o)
    pull_s = pull_w if e["standby_sleep"] == "none" and not o.latch else 0.0
    rows.append(
        (
            "I2C pull-ups",
            pull_w,
            pull_s,
            f"2 lines x {pull:.2f} mA, low half of {100 * bus:.1f} % bus time",
        )
    )
    # the motor
    strides_per_s = cues.cadence_spm / 120.0
    cues_per_s = cues.cues_per_stride * strides_per_s
    on_ms = o.cue_ms if o.cue_ms is not None else cues.cue_on_ms
    motor = cues_per_s * motor_charge_per_cue(on_ms, o.v_cell) / 1000.0
    rows.append(
        (
            "vibration motor (ERM)",
            motor,
            0.0,
            f"{cues.cues_per_stride:.2f} cues/stride x {strides_per_s:.3f} strides/s x "
            f"{on_ms:.0f} ms ({motor_charge_per_cue(on_ms, o.v_cell) / 1000.0:.2f} mA s/cue)",
        )
    )
    # LEDs
    if o.board == "nano":
        led = rail_to_cell(fig("nano_led"), o)
        rows.append(("power LED (Nano, always on)", led, 0.0 if o.latch else led, "assumption"))
    elif o.breakout_led:
        led = rail_to_cell(fig("breakout_led"), o)
        rows.append(("IMU breakout power LED", led, 0.0 if o.latch else led, "assumption"))
    # always there: charger and protection; the latch's own regulator and leakage
    leak = fig("charger_leak") + fig("protect_leak")
    rows.append(("charger + cell protection", leak, leak, "TP4056 < 2 uA; DW01A assumed 3 uA"))
    if o.latch:
        lat = fig("latch_reg_iq") + fig("latch_leak")
        rows.append(("power latch: IMU regulator + switch", 0.0, lat, "TPS62240 Iq + leakage"))
    walk = sum(r[1] for r in rows)
    stand = sum(r[2] for r in rows)
    usable = o.cell_mah * o.usable
    per_day = walk * o.walk_h + stand * (24.0 - o.walk_h)
    days = usable / per_day
    months = usable / stand / 24.0 / DAYS_PER_MONTH
    return {
        "rows": rows,
        "walking_ma": walk,
        "standby_ma": stand,
        "mah_per_day": per_day,
        "days": days,
        "standby_months": months,
        "awake_pct": 100.0 * awake,
        "effective": e,
        "goals": [
            (f"days at {o.walk_h:g} h/day walking", days, f">= {GOAL_DAYS:g}", days >= GOAL_DAYS),
            (
                "moonshot days",
                days,
                f">= {GOAL_MOONSHOT_DAYS:g}",
                days >= GOAL_MOONSHOT_DAYS,
            ),
            (
                "months in standby",
                months,
                f">= {GOAL_STANDBY_MONTHS:g}",
                months >= GOAL_STANDBY_MONTHS,
            ),
        ],
    }


# -- the measured cue rate --------------------------------------------------------------------


def measure_cues(duration_s: float = 90.0, seed: int = 7, sets=(), engine: str = "cpython"):
    """The weak-right demo walk (hipcue demo's: seed 7) through the firmware loop: cues per
    right-stance stride, motor-on time per cue (the app's motor command, samples x period),
    cadence."""
    import numpy as np

    from hipcue.replay import run_firmware
    from sim.inputs import synth_trace

    tr, _st = synth_trace("weak-right", duration_s, seed)
    res = run_firmware(tr, calibrate=True, sets=list(sets), engine=engine)
    cue = np.asarray(res.cue, dtype=np.int8)
    period_s = float(np.median(np.diff(tr.t_s)))
    n_cues = len(res.cue_index)
    on_ms = 1000.0 * float(cue.sum()) * period_s / n_cues if n_cues else 0.0
    right = sum(1 for s in res.steps if s.stance == "R")
    s = res.summary
    cadence = float(s.get("cadence_spm") or 0.0)
    return Cues(
        cues_per_stride=n_cues / right if right else 0.0,
        cue_on_ms=on_ms,
        cadence_spm=cadence,
        source=f"weak-right demo walk, {duration_s:g} s, seed {seed}, firmware loop ({engine})",
        detail={"cues": n_cues, "right_stance_steps": right, "steps": len(res.steps)},
    )


# -- the command ------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--measured",
        metavar="FILE",
        help="measured-figures JSON (keys: hardware/power.md); default: $HIPCUE_POWER_MEASURED, "
        "else bench/ or build/power-measured.json if present, else the built-in emulated-chip "
        "record; 'builtin': the record",
    )
    p.add_argument("--board", choices=("pico", "nano"), default="pico", help="build a or b")
    p.add_argument("--cell-mah", type=number(10, 100000, " mAh"), default=500.0)
    p.add_argument("--usable", type=number(0.1, 1.0), default=0.85, help="usable share")
    p.add_argument("--walk-h", type=number(0, 24, " h"), default=1.0, help="walking h/day")
    p.add_argument("--rate-hz", type=number(12.5, 1000, " Hz"), help="another IMU rate")
    p.add_argument("--cpu-mhz", type=number(10, 250, " MHz"), help="another core clock")
    p.add_argument("--cue-ms", type=number(0, 4000, " ms"), help="another cue length")
    p.add_argument("--breakout-led", action="store_true", help="build a: IMU breakout LED on")
    p.add_argument("--latch", action="store_true", help="standby behind a power latch")
    p.add_argument(
        "--walk-s", type=whole(20, 3600, " s"), default=90, help="demo walk for the cue rate"
    )
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    if args.measured == "builtin":
        path = None
    else:
        path = args.measured or default_measured_path()
    m, origin = load_measured(path)
    o = Options(
        board=args.board,
        cell_mah=args.cell_mah,
        usable=args.usable,
        walk_h=args.walk_h,
        rate_hz=args.rate_hz,
        cpu_mhz=args.cpu_mhz,
        cue_ms=args.cue_ms,
        breakout_led=args.breakout_led,
        latch=args.latch,
    )
    if o.walk_h >= 24.0:
        raise HipcueError("--walk-h must be below 24 (the rest of the day is standby)")
    cues = measure_cues(float(args.walk_s))
    b = budget(m, cues, o)
    if args.json:
        out = {
            "measured": m,
            "origin": origin,
            "cues": {
                "cues_per_stride": cues.cues_per_stride,
                "cue_on_ms": cues.cue_on_ms,
                "cadence_spm": cues.cadence_spm,
                "source": cues.source,
            },
            "options": o.__dict__,
            "rows": [
                {"consumer": r[0], "walking_ma": r[1], "standby_ma": r[2], "basis": r[3]}
                for r in b["rows"]
            ],
            **{k: b[k] for k in ("walking_ma", "standby_ma", "mah_per_day", "days")},
            "standby_months": b["standby_months"],
            "goals": [
                {"goal": g[0], "value": g[1], "target": g[2], "status": "PASS" if g[3] else "MISS"}
                for g in b["goals"]
            ],
            "figures": {k: list(v) for k, v in FIGURES.items()},
        }
        print(json.dumps(out, indent=1))
        return 0
    for line in report_lines(m, origin, cues, o, b):
        print(line)
    return 0


def report_lines(m: dict, origin: dict, cues: Cues, o: Options, b: dict) -> list[str]:
    e = b["effective"]
    lines = [
        f"hipcue power: build {'a (Pico)' if o.board == 'pico' else 'b (Nano RP2040 Connect)'}, "
        f"{o.cell_mah:g} mAh x {o.usable:g} usable at {o.v_cell:g} V, "
        f"{o.walk_h:g} h/day walking",
        f"loop: {e['rate_hz']:g} Hz, {e['cpu_mhz']:g} MHz, work {e['duty_pct']:.2f} % of the "
        f"core, between samples: {e['walk_sleep']}; standby: {e['standby_sleep']}, IMU "
        f"{e['standby_imu']}" + ("; power latch" if o.latch else ""),
        f"cues: {cues.cues_per_stride:.2f} per stride, {cues.cue_on_ms:.0f} ms each, "
        f"{cues.cadence_spm:.0f} steps/min ({cues.source})",
        "",
        f"{'consumer':<38} {'walking mA':>10} {'standby mA':>11}  basis",
    ]
    for name, w, s, basis in b["rows"]:
        lines.append(f"{name:<38} {w:>10.3f} {s:>11.4f}  {basis}")
    lines += [
        f"{'total':<38} {b['walking_ma']:>10.2f} {b['standby_ma']:>11.3f}",
        "",
        f"per day: {b['mah_per_day']:.1f} mAh -> {b['days']:.1f} days; standby alone "
        f"{b['standby_months']:.2f} months",
    ]
    for name, val, tgt, ok in b["goals"]:
        lines.append(f"{name:<34} {val:>8.2f}   target {tgt:<8} {'PASS' if ok else 'MISS'}")
    lines.append("")
    lines.append("measured figures from:")
    seen: dict[str, list[str]] = {}
    for k, src in origin.items():
        if k == "(read, not used)":
            continue
        seen.setdefault(src, []).append(k)
    for src, keys in seen.items():
        lines.append(f"  {src}: {', '.join(keys)}")
    if "(read, not used)" in origin:
        lines.append(f"  read, not used by the budget: {origin['(read, not used)']}")
    lines.append("currents: hardware/power.md (datasheet / measured / assumption per figure)")
    kinds = sorted({FIGURES[k][2] for k in FIGURES})
    lines.append(f"  kinds used: {', '.join(kinds)}")
    return lines
