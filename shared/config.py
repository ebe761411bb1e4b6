"""Device configuration: keys, units, defaults, valid ranges and validation.

One schema for the firmware and the host: `hipcue replay --set`, `config set` and the
device's stored config all go through `Config.set`, so a value the device would refuse is
refused everywhere with the same message. Decimal values are parsed without floats
("6.5" with unit deg is kept as 6500 milli-units) so every interpreter agrees exactly.
"""

from shared.mount import DEFAULT_MOUNT, MountError, parse_mount


class ConfigError(ValueError):
    pass


# kind: "int" (whole number in unit), "dec" (decimal, stored in milli-units), "mount",
# "choice". Entries: key -> (kind, default, lo, hi, unit, help). lo/hi in stored units.
SCHEMA = {
    "rate_hz": ("int", 100, 50, 1000, "Hz", "IMU sample rate of the firmware loop"),
    "cpu_mhz": ("int", 125, 48, 133, "MHz", "core clock (machine.freq); lower draws less"),
    "imu": ("choice", "lsm6dsox", 0, 0, "", "IMU model: lsm6dsox, icm42688, mpu6050"),
    "mount": ("mount", DEFAULT_MOUNT, 0, 0, "", "sensor axes pointing forward, left, up"),
    "threshold_deg": ("dec", 6000, 1000, 20000, "deg", "drop that triggers a cue"),
    "hysteresis_deg": (
        "dec",
        1000,
        0,
        5000,
        "deg",
        "drop must fall this far below the threshold before the next cue",
    ),
    "dwell_ms": ("int", 10, 0, 500, "ms", "drop must stay past the threshold this long"),
    "refractory_ms": ("int", 1000, 0, 10000, "ms", "no new cue this soon after one"),
    "refractory_stride_pct": (
        "int",
        40,
        0,
        100,
        "%",
        "while walking the refractory is at most this share of a stride (0: refractory_ms)",
    ),
    "cue_ms": ("int", 150, 20, 2000, "ms", "vibration pulse length"),
    "cue_walking_only": ("int", 1, 0, 1, "", "1: cue only while steps are being detected"),
    "filter_tau_ms": ("int", 4000, 200, 20000, "ms", "attitude filter time constant"),
    "accel_band_mg": (
        "int",
        500,
        50,
        500,
        "mg",
        "accelerometer corrects the estimate while | |a| - 1 g | is within this band",
    ),
    "accel_lp_ms": (
        "int",
        200,
        0,
        2000,
        "ms",
        "the accelerometer's correction uses |a| and a low-passed over this (0: raw)",
    ),
    "init_ms": ("int", 1000, 0, 10000, "ms", "fast-convergence period after (re)start"),
    "still_dps": (
        "dec",
        3000,
        500,
        20000,
        "deg/s",
        "gyro rate below which the wearer is still (bias learning, calibration)",
    ),
    "still_mg": ("int", 40, 5, 200, "mg", "accel change allowed while still"),
    "cal_still_ms": ("int", 1000, 1000, 10000, "ms", "still time needed to calibrate"),
    "cal_window_ms": ("int", 10000, 1000, 60000, "ms", "calibrate within this time from start"),
    "min_step_ms": ("int", 250, 150, 1000, "ms", "shortest step"),
    "max_step_ms": ("int", 1500, 500, 4000, "ms", "longest step; walking ends after it"),
    # -- feedback rules (issue #7): the defaults keep the behaviour above ----------------------
    "threshold_left_deg": (
        "dec",
        0,
        0,
        20000,
        "deg",
        "left-side drop that triggers a cue (0: threshold_deg; else at least 1)",
    ),
    "threshold_right_deg": (
        "dec",
        0,
        0,
        20000,
        "deg",
        "right-side drop that triggers a cue (0: threshold_deg; else at least 1)",
    ),
    "stride_n": ("int", 1, 1, 8, "", "cue when stride_n of the last stride_m stances of a side"),
    "stride_m": ("int", 1, 1, 8, "", "... are past the threshold (stride_n above stride_m: M)"),
    "refractory_strides": ("int", 0, 0, 100, "", "no new cue until this many strides passed"),
    "hysteresis_strides": (
        "int",
        0,
        0,
        100,
        "",
        "a side cues again only after this many of its stances below threshold - hysteresis",
    ),
    "feedback": (
        "choice",
        "continuous",
        0,
        0,
        "",
        "schedule: continuous, bandwidth (cue only past the threshold: as continuous), faded",
    ),
    "fade_start_pct": ("int", 100, 0, 100, "%", "faded: share of qualifying cues, session 0"),
    "fade_end_pct": ("int", 0, 0, 100, "%", "faded: share from session fade_sessions on"),
    "fade_sessions": ("int", 3, 1, 1000, "", "faded: sessions from start to end share"),
    "session_index": ("int", 0, 0, 65535, "", "sessions of feedback so far (faded schedule)"),
    "probe_every_steps": ("int", 0, 0, 10000, "", "feedback-off probe block every N steps"),
    "probe_len_steps": ("int", 0, 0, 10000, "", "steps per probe block (no cues, logged)"),
    "cue_side_pattern": ("int", 0, 0, 1, "", "1: one pulse for a left drop, two for a right"),
    "cue_gap_ms": ("int", 150, 20, 2000, "ms", "gap between the pulses of a pattern"),
    "cue_ms_per_deg": (
        "int",
        0,
        0,
        1000,
        "ms",
        "pulse grows by this much per degree the drop went past the threshold",
    ),
    "cue_max_ms": ("int", 600, 20, 4000, "ms", "longest pulse (with cue_ms_per_deg)"),
    "turn_gate_dps": (
        "dec",
        60000,
        0,
        2000000,
        "deg/s",
        "no cues while |yaw rate|, low-passed over turn_tau_ms, is above this (0: off)",
    ),
    "turn_tau_ms": (
        "int",
        250,
        0,
        5000,
        "ms",
        "time constant of the turn gate's yaw rate (0: the raw rate)",
    ),
    "tilt_gate_deg": (
        "dec",
        30000,
        0,
        90000,
        "deg",
        "no cues and no step drop while |tilt| is above this: bent over, reclined (0: off)",
    ),
    "turn_hold_ms": ("int", 500, 0, 10000, "ms", "the turn gate holds this long after a turn"),
    "sat_gate_ms": (
        "int",
        500,
        0,
        10000,
        "ms",
        "no cues this long after a raw axis saturated (0: off)",
    ),
    "gap_gate_ms": (
        "int",
        250,
        0,
        60000,
        "ms",
        "a gap in the samples this long (0: off) stops cues for gap_settle_ms",
    ),
    "gap_settle_ms": ("int", 1000, 0, 60000, "ms", "re-convergence time after a long gap"),
    # -- single-leg stance test (issue #7; shared/slstest.py) ----------------------------------
    "sls_side_s": ("int", 30, 5, 120, "s", "single-leg stance test: time on each leg"),
    "sls_rest_s": ("int", 10, 0, 120, "s", "single-leg stance test: rest between the legs"),
    "sls_impact_mg": (
        "int",
        250,
        50,
        4000,
        "mg",
        "single-leg stance test: vertical jolt taken as the lifted foot coming down",
    ),
    # -- exercise mode (issue #16; shared/exercise.py) -----------------------------------------
    "mode": (
        "choice",
        "walk",
        0,
        0,
        "",
        "walk, or an exercise set: single-leg-squat, step-down, band-walk, leg-lift, clamshell",
    ),
    "ex_side": (
        "choice",
        "left",
        0,
        0,
        "",
        "exercise: the hip trained (squat/step-down: the standing leg; lying: the top leg)",
    ),
    "ex_reps": ("int", 10, 1, 200, "", "exercise: reps in a set (end-of-set buzz)"),
    "ex_threshold_deg": (
        "dec",
        5000,
        1000,
        20000,
        "deg",
        "exercise: drop (lying: roll back) that triggers a cue during a rep",
    ),
    "ex_rep_deg": (
        "dec",
        0,
        0,
        30000,
        "deg",
        "exercise: pelvic motion that starts a rep (0: the exercise's own, shared/exercise.py)",
    ),
    "ex_min_rep_ms": ("int", 250, 100, 10000, "ms", "exercise: shortest rep or side step"),
    "tempo_ms": (
        "int",
        0,
        0,
        20000,
        "ms",
        "exercise: a short pacing buzz this often until the set is done, one per rep (0: off)",
    ),
}

# The keys of issue #7's feedback rules: a session header records them only when they differ
# from their defaults (device/logstore.py), so default headers stay as they were; a reader
# takes an absent key as its default.
FEEDBACK_KEYS = (
    "threshold_left_deg",
    "threshold_right_deg",
    "stride_n",
    "stride_m",
    "refractory_strides",
    "hysteresis_strides",
    "feedback",
    "fade_start_pct",
    "fade_end_pct",
    "fade_sessions",
    "session_index",
    "probe_every_steps",
    "probe_len_steps",
    "cue_side_pattern",
    "cue_gap_ms",
    "cue_ms_per_deg",
    "cue_max_ms",
    "turn_gate_dps",
    "turn_tau_ms",
    "tilt_gate_deg",
    "refractory_stride_pct",
    "turn_hold_ms",
    "sat_gate_ms",
    "gap_gate_ms",
    "gap_settle_ms",
)
# Exercise mode (issue #16): like the feedback keys, absent from session headers and replay
# summaries while at their defaults, so walking sessions and replays stay as they were.
EXERCISE_KEYS = (
    "mode",
    "ex_side",
    "ex_reps",
    "ex_threshold_deg",
    "ex_rep_deg",
    "ex_min_rep_ms",
    "tempo_ms",
)
# Issue 15's low-power settings: absent from session headers and replay summaries at their
# defaults, as above.
POWER_KEYS = ("cpu_mhz",)
# The board loop's work per sample, p99, in core cycles (emulated RP2040, README section 14,
# 201,218): below the default clock it must fit in half a sample period (`check`).
LOOP_P99_CYCLES = 201218

CHOICES = {
    "feedback": ("continuous", "bandwidth", "faded"),
    "mode": ("walk", "single-leg-squat", "step-down", "band-walk", "leg-lift", "clamshell"),
    "ex_side": ("left", "right"),
}
# Decimal keys whose 0 means "use another key"; any other value must be at least this.
ZERO_OR_AT_LEAST = {"threshold_left_deg": 1000, "threshold_right_deg": 1000}

IMUS = {
    # name: (accel ug/LSB, gyro udps/LSB): the full-scale ranges the drivers set,
    # +-8 g and +-2000 dps. Datasheets: LSM6DSOX table 2 (0.244 mg/LSB, 70 mdps/LSB);
    # ICM-42688-P table 1/2 (4096 LSB/g, 16.4 LSB/dps); MPU-6050 (4096 LSB/g, 16.4 LSB/dps).
    "lsm6dsox": (244, 70000),
    "icm42688": (244, 60976),
    "mpu6050": (244, 60976),
}


def parse_decimal_milli(text):
    """'6.5' -> 6500, '-0.25' -> -250; at most three decimals; no floats involved."""
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    if s in ("", "."):
        raise ValueError("not a number")
    if "." in s:
        whole, frac = s.split(".", 1)
    else:
        whole, frac = s, ""
    if whole == "":
        whole = "0"
    if not whole.isdigit() or (frac and not frac.isdigit()) or (not frac and "." in s):
        raise ValueError("not a number")
    if len(frac) > 3:
        if frac[3:].strip("0"):
            raise ValueError("more than three decimals")
        frac = frac[:3]
    v = int(whole) * 1000 + int((frac + "000")[:3])
    return -v if neg else v


def format_milli(v):
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    s = "%d.%03d" % (v // 1000, v % 1000)
    s = s.rstrip("0")
    if s.endswith("."):
        s += "0"
    return sign + s


# Pairs of keys that must agree (issue #13): each (check, message) takes the whole values dict.
# A value can be in its own range and still make a config the firmware cannot run (a step
# detector whose shortest step is not shorter than its longest) or one that silently stops
# cueing (a re-arm level at or below zero: one cue per session). Every path that takes a config
# (config set on the device, replay --set, the stored config at boot, a replay job) checks
# the whole config with `check` after setting its keys, so none accepts what another refuses.
def _thresholds(v):
    """The effective cue thresholds (mdeg) with their keys: common and per side."""
    out = [("threshold_deg", v["threshold_deg"])]
    for k in ("threshold_left_deg", "threshold_right_deg"):
        if v[k] != 0:
            out.append((k, v[k]))
    return out


def check(values):
    """The cross-key rules over a complete values dict: the first broken rule's one-line
    message, or None. RULES lists the pairs."""
    if values["min_step_ms"] >= values["max_step_ms"]:
        return "min_step_ms (%d) must be below max_step_ms (%d)" % (
            values["min_step_ms"],
            values["max_step_ms"],
        )
    hyst = values["hysteresis_deg"]
    for key, thr in _thresholds(values):
        if hyst >= thr:
            return "hysteresis_deg (%s) must be below %s (%s): the cue would never re-arm" % (
                format_milli(hyst),
                key,
                format_milli(thr),
            )
    if values["cal_still_ms"] > values["cal_window_ms"]:
        return (
            "cal_still_ms (%d) must not exceed cal_window_ms (%d): calibration could never finish"
            % (
                values["cal_still_ms"],
                values["cal_window_ms"],
            )
        )
    tau_min = filter_tau_min_ms(values["rate_hz"])
    if values["filter_tau_ms"] < tau_min:
        return (
            "filter_tau_ms (%d) must be at least %d at rate_hz %d: a shorter one gives the "
            "same filter (the gain is capped at 1/128 per sample)"
            % (values["filter_tau_ms"], tau_min, values["rate_hz"])
        )
    msg = _clock_rule(values["cpu_mhz"], values["rate_hz"])
    if msg:
        return msg
    every = values["probe_every_steps"]
    if every > 0 and values["probe_len_steps"] >= every:
        return "probe_len_steps (%d) must be below probe_every_steps (%d): feedback always off" % (
            values["probe_len_steps"],
            every,
        )
    return None


def max_rate_at(cpu_mhz):
    """The highest rate_hz whose p99 loop work (LOOP_P99_CYCLES) fits in half a period."""
    return cpu_mhz * 1000000 // (2 * LOOP_P99_CYCLES)


def _clock_rule(cpu_mhz, rate_hz):
    """Below the default clock the loop must keep up (above it there is only more room)."""
    if cpu_mhz < SCHEMA["cpu_mhz"][1] and rate_hz > max_rate_at(cpu_mhz):
        return (
            "rate_hz (%d) must be at most %d at cpu_mhz %d: the loop's p99 work (%d cycles) "
            "must fit in half a sample period"
            % (rate_hz, max_rate_at(cpu_mhz), cpu_mhz, LOOP_P99_CYCLES)
        )
    return None


def filter_tau_min_ms(rate_hz):
    """The shortest filter_tau_ms whose gain (shared/estimator.py: k = 2**21 x period / tau, in
    Q21 per sample) is below its cap of 2**14 - 1; any shorter tau gives the capped gain."""
    period_us = (1000000 + rate_hz // 2) // rate_hz
    return (2097152 * period_us) // 16384000 + 1


# The pairs `check` relates (for the tests and the README): (key, key, rule).
RULES = (
    ("min_step_ms", "max_step_ms", "min_step_ms < max_step_ms"),
    ("hysteresis_deg", "threshold_deg", "hysteresis_deg < threshold_deg"),
    ("hysteresis_deg", "threshold_left_deg", "hysteresis_deg < threshold_left_deg (if not 0)"),
    ("hysteresis_deg", "threshold_right_deg", "hysteresis_deg < threshold_right_deg (if not 0)"),
    ("cal_still_ms", "cal_window_ms", "cal_still_ms <= cal_window_ms"),
    ("probe_len_steps", "probe_every_steps", "probe_len_steps < probe_every_steps (if not 0)"),
    ("filter_tau_ms", "rate_hz", "filter_tau_ms > 128 sample periods (1,281 ms at 100 Hz)"),
    ("rate_hz", "cpu_mhz", "below 125 MHz: rate_hz <= cpu_mhz x 1e6 / (2 x 201,218) (119 at 48)"),
)


class Config:
    """Current values in stored units (int, or str for mount/choice)."""

    def __init__(self):
        self.values = {}
        self.reset()

    def reset(self):
        for key in SCHEMA:
            self.values[key] = SCHEMA[key][1]

    def __getitem__(self, key):
        return self.values[key]

    def set(self, key, text):
        """Validate and set from text (as typed by a user); raise ConfigError."""
        self.values[key] = validate(key, text)

    def text(self, key):
        kind = SCHEMA[key][0]
        v = self.values[key]
        if kind == "dec":
            return format_milli(v)
        return str(v)

    def as_dict(self):
        """Plain dict for JSON: decimals as text-free numbers are the host's business."""
        d = {}
        for key in SCHEMA:
            d[key] = self.text(key)
        return d

    def check(self):
        """Raise ConfigError if the values break a cross-key rule (`check`)."""
        msg = check(self.values)
        if msg is not None:
            raise ConfigError(msg)

    def copy(self):
        new = Config()
        for key in self.values:
            new.values[key] = self.values[key]
        return new

    def updated(self, items):
        """A new Config: this one with items (key -> text) set, each validated, then the
        whole checked; raises ConfigError and leaves this one unchanged."""
        new = self.copy()
        for key in items:
            new.set(key, items[key])
        new.check()
        return new

    def load_dict(self, d):
        """Set every key of d (text or numbers), then check the whole; ConfigError if not."""
        for key in d:
            self.set(key, str(d[key]))
        self.check()


def validate(key, text):
    if key not in SCHEMA:
        raise ConfigError("unknown config key %r (known: %s)" % (key, ", ".join(sorted(SCHEMA))))
    kind, _default, lo, hi, unit, _help = SCHEMA[key]
    if not isinstance(text, str):
        text = str(text)
    if kind == "mount":
        try:
            parse_mount(text)
        except MountError as e:
            raise ConfigError(str(e)) from None
        return " ".join(text.split())
    if kind == "choice":
        v = text.strip().lower()
        if key == "imu" and v not in IMUS:
            raise ConfigError("imu: %r is not one of %s" % (text, ", ".join(sorted(IMUS))))
        if key in CHOICES and v not in CHOICES[key]:
            raise ConfigError("%s: %r is not one of %s" % (key, text, ", ".join(CHOICES[key])))
        return v
    try:
        if kind == "dec":
            v = parse_decimal_milli(text)
        else:
            t = text.strip()
            if not (t.isdigit() or (t[:1] in "+-" and t[1:].isdigit())):
                raise ValueError("not a whole number")
            v = int(t)
    except ValueError as e:
        raise ConfigError("%s: %r is %s" % (key, text, e)) from None
    if v < lo or v > hi:
        if kind == "dec":
            rng = "%s..%s" % (format_milli(lo), format_milli(hi))
        else:
            rng = "%d..%d" % (lo, hi)
        raise ConfigError("%s: %s is out of range %s %s" % (key, text.strip(), rng, unit))
    least = ZERO_OR_AT_LEAST.get(key, 0)
    if v != 0 and v < least:
        raise ConfigError(
            "%s: %s is below %s %s (0: use the common value)"
            % (key, text.strip(), format_milli(least), unit)
        )
    return v
