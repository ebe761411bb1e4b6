"""The device's command service: polled between samples, bounded work per poll.

    service = Service(link, cfg, data_dir, app=app, board=board)
    while board.next_sample():
        app.tick(); service.sample(app); ...; service.poll()   (until the next sample is due)

Each `poll()` reads at most MAX_IN bytes, handles at most one request and writes at most
MAX_OUT bytes, and only what the port can take (POLLOUT): it never blocks, so a host that
stops reading stalls the answers, never the samples. A request's work is one step: a 4 KiB
log chunk, a config file write, a directory listing. Buffers are made once here; what still
allocates (base64 text of an answer, JSON of small commands) happens only between samples.

Ctrl-C: the app runs with kbd_intr(-1), so a 0x03 is data. A 0x03 between frames (parser
idle) is taken as Ctrl-C: Ctrl-C is restored and KeyboardInterrupt raised, so mpremote can
interrupt the app and take over the REPL; a 0x03 inside a frame only makes that frame bad.
A frame left unfinished for STALE_MS (the host went away mid-frame) is dropped.

Files under data_dir: config.json (written as config.json.tmp, then renamed over: a power cut
leaves the old or the new file, never half of one) and logs/ (served by logs.* commands).

Session logs: `service.log` is the LogStore (device/logstore.py) writing into logs/, or None.
`logs.start` / `logs.stop` drive it by command; `logs.delete` refuses its current session.
`logs.list` gives each file's SHA-256, computed incrementally between requests (HASH_SLICE
bytes per poll, cached by name and size), never in one poll: a file whose hash is not ready
yet is listed with sha256 null (and counted in "hashing"); the session being written never
gets one (it is still growing). The host lists again until the hashes it needs are there.
"""

import binascii
import hashlib
import json
import os
import struct
import time
from array import array

from shared import fromconfig, sides
from shared import programme as PG
from shared import protocol as P
from shared.calib import CAL_DONE, CAL_FAILED, CAL_RUNNING
from shared.config import IMUS, SCHEMA, Config, ConfigError
from shared.feedback import session_fade_pct
from shared.fixedpoint import isqrt
from shared.mp import const
from shared.slstest import PHASE_NAMES

FIRMWARE_VERSION = "0.1.0"

MAX_IN = 128  # bytes read per poll
MAX_OUT = 512  # bytes written per poll: one piece (device/link.py); a write the USB CDC
# cannot take at once waits in the driver, and 4 KiB a poll took up to 3.1 M cycles (25 ms) on
# the emulated RP2040 during a log download (the board loop polls again until the next sample)
STALE_MS = 1000  # an unfinished frame is dropped after this long without a byte
LIST_MAX = 32  # log names per logs.list answer (each with its 64-digit hash)
HASH_SLICE = 256  # bytes hashed per poll (1 KiB took 73,600 cycles a poll on the emulated RP2040)
CFG_PIECE = 256  # bytes of config.json text written per poll in a sliced save (one flash page)
CFG_PARTS = 4  # config keys encoded per poll in a sliced save (8 took ~400,000 cycles)
LIVE_LEASE_MS = 10000  # the live stream stops unless the host renews it within this time
STEP_RING = 8  # step events waiting to be sent
MAX_REPS_REPLY = 40  # reps an exercise.status/stop answer carries (the log has them all)

_IDLE = 0
_FRAME = 1

# Config keys the running app takes at once, in place (shared/fromconfig.update_cue: the cue
# detector keeps its session state); the others apply at the next start. The faded schedule
# (feedback, fade_*, session_index) applies from the next session: a session keeps its share.
LIVE_KEYS = (
    "threshold_deg",
    "hysteresis_deg",
    "dwell_ms",
    "refractory_ms",
    "cue_ms",
    "threshold_left_deg",
    "threshold_right_deg",
    "stride_n",
    "stride_m",
    "refractory_strides",
    "hysteresis_strides",
    "probe_every_steps",
    "probe_len_steps",
    "cue_side_pattern",
    "cue_gap_ms",
    "cue_ms_per_deg",
    "cue_max_ms",
)
NEXT_SESSION_KEYS = ("feedback", "fade_start_pct", "fade_end_pct", "fade_sessions", "session_index")

# App states, fault bits and events (device/app.py); read here, never changed in meaning.
_ST_CALIBRATING = 0
_FAULT_CAL_FAILED = 1
_EV_HOST = 8

# Service.wants cells, read by the board loop (device/main.py) so it calls the service only
# when there is something to do:
WANT_POLL = const(0)  # 1: call poll() on the next sample even if no byte came in (work or a timer
#                 is pending: an answer being sent, a partial frame, a log file open for
#                 reading, the live stream, hashing, a running test); 0: only input wakes it
WANT_SAMPLE = const(1)  # 1: call sample() after every tick (the live stream is on)


def config_path(data_dir):
    return data_dir + "/config.json"


SET_ASIDE_MAX = 8  # config.json.bad0 .. bad7 kept; the last is reused when all are taken
FAULT_CONFIG = 8  # App.faults bit: the stored config was refused and set aside (defaults run)


def _set_aside(path):
    """Rename a refused stored config to path.badN (the first free N): kept, not deleted,
    for the host to read back; returns the new name."""
    for i in range(SET_ASIDE_MAX):
        bad = "%s.bad%d" % (path, i)
        try:
            os.stat(bad)
        except OSError:
            break
    else:
        try:
            os.remove(bad)
        except OSError:
            pass
    os.rename(path, bad)
    return bad


def load_config(data_dir):
    """Config from data_dir/config.json -> (Config, note, fault): the stored config, or the
    defaults with fault FAULT_CONFIG when it is unreadable (torn, corrupt, not JSON) or
    refused by the schema (a key out of range, unknown, or a cross-key rule broken): such a
    file is set aside as config.json.badN and the defaults run, so no stored file can stop
    the firmware from starting. fault 0 when the file is absent (a new device)."""
    cfg = Config()
    path = config_path(data_dir)
    try:
        os.remove(path + ".tmp")  # a write that a power cut interrupted: the old file stands
    except OSError:
        pass
    try:
        f = open(path)
    except OSError:
        return cfg, "no stored config: defaults", 0
    why = ""
    try:
        try:
            d = json.load(f)
        finally:
            f.close()
        if not isinstance(d, dict):
            raise ConfigError("not a JSON object")
        cfg.load_dict(d)
        return cfg, "stored config loaded", 0
    except ConfigError as e:
        why = "refused (%s)" % e
    except Exception as e:  # noqa: BLE001 - a torn or corrupt file: nothing may stop the boot
        why = "unreadable (%s)" % (type(e).__name__,)
    cfg.reset()
    try:
        where = "set aside as " + _set_aside(path)
    except OSError:
        where = "could not be set aside"
    return cfg, "stored config %s, %s: defaults" % (why, where), FAULT_CONFIG


def programme_path(data_dir):
    return data_dir + "/programme.json"


def load_programme(data_dir):
    """The stored programme (shared/programme.py) -> (stored dict {"plan", "base"} or None,
    note). A file that does not read or check is set aside (programme.json.badN), never
    fatal."""
    path = programme_path(data_dir)
    try:
        os.remove(path + ".tmp")
    except OSError:
        pass
    try:
        f = open(path)
    except OSError:
        return None, "no programme"
    try:
        try:
            d = json.load(f)
        finally:
            f.close()
        plan = PG.check(d["plan"])
        base = d["base"]
        if isinstance(base, bool) or not isinstance(base, int) or base < 0:
            raise PG.PlanError("base must be a whole number")
        return {"plan": plan, "base": base}, "programme %s loaded" % plan["id"]
    except Exception as e:  # noqa: BLE001 - a torn or corrupt file must not stop the boot
        why = str(e) or type(e).__name__
    try:
        where = "set aside as " + _set_aside(path)
    except OSError:
        where = "could not be set aside"
    return None, "stored programme refused (%s), %s" % (why, where)


def save_programme(data_dir, stored):
    path = programme_path(data_dir)
    if stored is None:
        try:
            os.remove(path)
        except OSError:
            pass
        return
    with open(path + ".tmp", "w") as f:
        json.dump(stored, f)
    os.rename(path + ".tmp", path)


def _config_json_parts(cfg):
    """json.dumps(cfg.as_dict()) in parts, a key and its text each, the texts made as they
    come: "".join() of them is that text. The keys go in as_dict()'s order: a dict filled
    with the same keys in the same order iterates in the same order (on MicroPython too,
    whose dicts do not keep insertion order), and json.dumps() takes that order."""
    order = {}
    for key in SCHEMA:  # as Config.as_dict() fills its dict
        order[key] = 0
    sep = "{"
    for k in order:
        yield sep + json.dumps(k) + ": " + json.dumps(cfg.text(k))
        sep = ", "
    yield "}" if sep == ", " else "{}"


def save_config(data_dir, cfg):
    """Write config atomically: tmp file, then rename over the old one."""
    path = config_path(data_dir)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg.as_dict(), f)
    os.rename(tmp, path)


def apply_config_live(app, keys):
    """Hand changed keys to the running app; returns the keys that wait for a restart (the
    faded-schedule keys are not among them: they apply from the next session)."""
    later = []
    cue_changed = 0
    for k in keys:
        if k in LIVE_KEYS:
            cue_changed = 1
        elif k not in NEXT_SESSION_KEYS:
            later.append(k)
    if cue_changed and app is not None:
        fromconfig.update_cue(app.cue, app.cfg)  # in place: the session's state stays
    return later


def start_calibration(app):
    """Recalibrate the running app from the next still period (the old frame stays in use
    until a new one is found; on failure it is kept)."""
    cfg = app.cfg
    app.cal = fromconfig.calibrator(cfg, app.period_us)
    app.cal_error = ""
    app.faults &= ~_FAULT_CAL_FAILED
    app.calibrated = 0
    app.state = _ST_CALIBRATING


def calibration_report(app):
    """State of the app's calibration, with its quality when done."""
    cal = app.cal
    cfg = app.cfg
    if cal.status == CAL_RUNNING:
        return {"state": "running", "seen_ms": cal.seen * app.period_us // 1000}
    if cal.status == CAL_FAILED or app.cal_error:
        why = app.cal_error or (
            "no still period of %d ms within %d ms: stand still after starting calibrate"
            % (cfg["cal_still_ms"], cfg["cal_window_ms"])
        )
        return {"state": "failed", "reason": why}
    n = cal.count
    acc_ug, gyro_udps = IMUS[cfg["imu"]]
    s = cal.sums
    g = isqrt((s[0] // n) ** 2 + (s[1] // n) ** 2 + (s[2] // n) ** 2) * acc_ug // 1000
    bias = 0
    for i in (3, 4, 5):
        b = abs(s[i] // n) * gyro_udps // 1000
        if b > bias:
            bias = b
    notes = []
    if abs(g - 1000) > 30:
        notes.append("gravity reads %d mg: accelerometer offset or scale error" % g)
    if bias > 2000:
        notes.append("gyro bias %d mdeg/s is high" % bias)
    return {
        "state": "done",
        "quality": "fair" if notes else "good",
        "notes": notes,
        "gravity_mg": g,
        "gyro_bias_mdps": bias,
        "still_ms": n * app.period_us // 1000,
        "found_after_ms": cal.start * app.period_us // 1000,
    }


class _Reject(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _int_arg(req, key, lo, hi, default=None):
    v = req.get(key, default)
    if v is None:
        raise _Reject(P.E_BAD_REQUEST, "missing argument %r" % key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Reject(P.E_BAD_REQUEST, "argument %r must be a whole number" % key)
    if v < lo or v > hi:
        raise _Reject(P.E_BAD_REQUEST, "argument %r=%d is out of range %d..%d" % (key, v, lo, hi))
    return v


class Service:
    def __init__(self, link, cfg, data_dir, app=None, board=None, ticks_ms=None, ticks_diff=None):
        self.link = link
        self.cfg = cfg
        self.app = app
        self.board = board
        self.data_dir = data_dir
        self.log_dir = data_dir + "/logs"
        self.active_log = None  # name of a log being written (not deletable), besides `log`'s
        self._log = None  # the LogStore writing sessions into log_dir (device/logstore.py)
        self.sessions_counted = 0  # session_index advances made (info)
        self.info_hook = None  # callable returning extra info (the simulator's trace)
        self.config_note = ""
        self._ms = ticks_ms or time.ticks_ms
        self._diff = ticks_diff or time.ticks_diff
        self._rx = bytearray(P.MAX_REQUEST_LINE)
        self._rx_n = 0
        self._rx_state = _IDLE
        self._rx_bad = 0
        self._rx_ms = 0
        self._ready = 0  # a complete frame is in _rx
        self._raw = bytearray(P.HEADER + P.MAX_PAYLOAD + P.TRAILER)
        self._tx = None  # memoryview of the wire bytes being sent
        self._tx_off = 0
        self._last_seq = -1  # seq and request CRC of the last answer, to resend on a retry
        self._last_crc = 0
        self._last_wire = None
        self._t_ms = self._ms()
        self.uptime_ms = 0
        self._clock_base = None  # epoch seconds at uptime 0, once the host set the clock
        self._rf = None  # open log file being read, and its name
        self._rf_name = ""
        self._rf_ms = self._t_ms
        self.wants = array("i", [1, 0])  # WANT_POLL, WANT_SAMPLE (see above)
        # live stream
        self.live = 0
        self._live_ms = self._t_ms
        self._lease_ms = LIVE_LEASE_MS
        self._live_every = 1
        self._live_count = 0
        self._evt_seq = 0
        self._sample_evt = bytearray(P.EVT_SAMPLE_SIZE)
        self._sample_ready = 0
        self._steps = bytearray(P.EVT_STEP_SIZE * STEP_RING)
        self._step_head = 0
        self._step_tail = 0
        # SHA-256 of log files, computed a slice per poll: name -> (size, hex digest)
        self._hashes = {}  # type: dict
        self._hqueue = []  # type: list
        self._hdirty = 1  # rescan the folder for files without a hash
        self._hf = None  # file being hashed, its name, size, bytes done and hash object
        self._hname = ""
        self._hsize = 0
        self._hdone = 0
        self._hobj = hashlib.sha256()
        self._hbuf = bytearray(HASH_SLICE)
        self._seen_session = -2  # the log store's session last seen (its change: rescan)
        # a config to save a piece per poll (a sliced session start's session_index advance:
        # _save_piece); requests wait meanwhile, so no other save runs between its pieces
        self._cfg_save = None
        self._cs_text = None  # its JSON text, the temporary file and the bytes written
        self._cs_f = None
        self._cs_off = 0
        self._cs_src = None
        self._cs_gen = None  # its JSON being encoded (CFG_PARTS keys a poll), the parts so far
        self._cs_parts = None
        self._start_wait = None  # (seq, session, raw): a logs.start waiting for its file
        # counters (info)
        self.frames_ok = 0
        self.frames_bad = 0
        self.noise = 0
        self.events_dropped = 0
        self._cmds = {
            "ping": self._c_ping,
            "info": self._c_info,
            "config.get": self._c_config_get,
            "config.set": self._c_config_set,
            "config.reset": self._c_config_reset,
            "cal.start": self._c_cal_start,
            "cal.status": self._c_cal_status,
            "live": self._c_live,
            "logs.list": self._c_logs_list,
            "logs.read": self._c_logs_read,
            "logs.delete": self._c_logs_delete,
            "logs.start": self._c_logs_start,
            "logs.stop": self._c_logs_stop,
            "clock.set": self._c_clock_set,
            "test.sls": self._c_test_sls,
            "test.status": self._c_test_status,
            "exercise.start": self._c_exercise_start,
            "exercise.status": self._c_exercise_status,
            "exercise.stop": self._c_exercise_stop,
            "programme.set": self._c_programme_set,
            "programme.get": self._c_programme_get,
            "programme.clear": self._c_programme_clear,
        }
        # the retraining programme (shared/programme.py): {"plan", "base"} or None
        self.programme, self.programme_note = load_programme(data_dir)
        # an exercise set started by command (shared/exercise.py): its session and reps
        self._ex_running = 0
        self._ex_session = None
        self._ex_auto = 1
        self._ex_reps = []  # [t_ms from the start, side, drop mdeg, duration ms, cued]
        self._ex_start_n = 0
        self._ex_buf = array("i", [0] * 6)
        self.ex_last = None
        # the single-leg stance test (shared/slstest.py): its session and the last results
        self._sls_running = 0
        self._sls_session = None
        self._sls_auto = 1
        self.sls_last = None

    @property
    def log(self):
        return self._log

    @log.setter
    def log(self, store):
        """Attach the log store; each session it starts advances session_index."""
        self._log = store
        if store is not None:
            store.on_session = self._session_started
            store.header_hook = self._programme_header
            store.button_hook = self.button
            app = self.app
            if app is not None and app.ex is not None and not self._ex_running:
                # the stored config's mode is an exercise: the set runs from boot; log it
                self._ex_begin(app.cfg, "boot")

    def _programme_header(self):
        """Header keys of a feedback session: its date (start_unix) when the clock is set,
        and while a programme is set the plan, this session's number in it (1-based, from
        session_index), its planned minutes and its share of cues."""
        d = {}
        now = self._clock_now()
        if now:
            d["start_unix"] = now  # a session the wearer started by walking: its date
        st = self.programme
        if st is not None:
            plan = st["plan"]
            k = self.cfg["session_index"] - st["base"] + 1
            d["programme"] = {
                "plan": plan,
                "session": k,
                "minutes": PG.planned_minutes(plan, k),
                "fade_pct": session_fade_pct(self.cfg),
            }
        return d

    def button(self, press):
        """A short press while the config's mode is an exercise starts a set (as the config
        sets it) or ends the running one; returns 1 when it took the press (device/main.py
        on_button), 0 to leave it to the session start/stop."""
        app = self.app
        if app is None or press != 1 or self._sls_running:
            return 0
        if self._ex_running:
            self._ex_finish("button")
            return 1
        if self.cfg["mode"] == "walk":
            return 0
        self._ex_begin(self.cfg, "button")
        return 1

    def _session_started(self, app, k):
        """A new session (its header records the index it runs with): its faded-schedule
        share goes to the cue detector, and `session_index` advances by one for the next
        session, saved with the config (atomically, save_config). A failed save keeps the
        advance in RAM only (the next save stores it)."""
        cfg = self.cfg
        idx = cfg["session_index"]
        if app is not None and app.cue is not None:
            app.cue.set_fade_pct(session_fade_pct(cfg))
        if idx < SCHEMA["session_index"][3]:
            new = Config()
            for key in cfg.values:
                new.values[key] = cfg.values[key]
            new.values["session_index"] = idx + 1
            if getattr(self._log, "sliced", 0):
                # the save waits for the next poll: the session start's call stays short
                self._cfg_save = new
                self.wants[WANT_POLL] = 1
            else:
                try:
                    save_config(self.data_dir, new)
                except OSError:
                    pass
            cfg.values["session_index"] = idx + 1
            self.sessions_counted += 1

    def add_command(self, name, fn):
        """An extra command (the simulator's): fn(request dict) returns the answer dict."""
        self._cmds[name] = lambda seq, req: self._reply(seq, fn(req))

    # -- called by the sample loop (between samples, cheap) ----------------------------
    def sample(self, app):
        """After each tick while the live stream is on (wants[WANT_SAMPLE]): take a
        decimated live record (no allocation)."""
        if not self.live:
            return
        self._live_count += 1
        if self._live_count < self._live_every:
            return
        self._live_count = 0
        self.wants[WANT_POLL] = 1
        obl = app.obliquity_mdeg
        tilt = app.tilt_mdeg
        struct.pack_into(
            P.EVT_SAMPLE_FMT,
            self._sample_evt,
            0,
            P.EVT_SAMPLE,
            app.n & 0xFFFFFFFF,
            obl,
            tilt,
            app.motor_on,
            app.cue.cues & 0xFFFF,
        )
        if self._sample_ready:
            self.events_dropped += 1
        self._sample_ready = 1

    def step(self, ic_n, end_n, side, drop_mdeg, cued):
        """A completed step (from the app's step ring) for the live stream."""
        if not self.live:
            return
        if self._step_head - self._step_tail >= STEP_RING:
            self.events_dropped += 1
            return
        off = (self._step_head % STEP_RING) * P.EVT_STEP_SIZE
        struct.pack_into(
            P.EVT_STEP_FMT,
            self._steps,
            off,
            P.EVT_STEP,
            ic_n & 0xFFFFFFFF,
            end_n & 0xFFFFFFFF,
            side,
            drop_mdeg,
            cued,
        )
        self._step_head += 1
        self.wants[WANT_POLL] = 1

    # -- the bounded poll ----------------------------------------------------------------
    def poll(self):
        """One bounded slice of work; returns 1 if more is ready to do at once."""
        if self._sls_running:
            self._sls_check()
        if self._ex_running:
            self._ex_check()
        now = self._ms()
        self.uptime_ms += self._diff(now, self._t_ms)
        self._t_ms = now
        link = self.link
        if self._rx_state == _FRAME and not self._ready:
            if self._diff(now, self._rx_ms) > STALE_MS:
                self._rx_state = _IDLE
                self.frames_bad += 1
        k = MAX_IN
        while k > 0 and not self._ready:
            b = link.read_byte()
            if b < 0:
                break
            k -= 1
            self._feed(b, now)
        if self._start_wait is not None and self._tx is None:
            self._start_reply()
        if self._cfg_save is not None and self._start_wait is None and self._tx is None:
            self._save_piece()
            self.wants[WANT_POLL] = 1
            return 1  # a piece of file work is this poll's work
        if self._ready and self._tx is None and self._start_wait is None and self._cfg_save is None:
            self._ready = 0
            self._rx_state = _IDLE
            self._handle()
            if self.app is not None:
                self.app.wake(_EV_HOST)  # the log service looks at once (a session, a
                # fault or a setting may have changed)
        if self._rf is not None and self._diff(now, self._rf_ms) > 2000:
            # at the first poll 2 s after the last logs.read (the loop does not poll just for
            # this: an idle poll costs ~72,000 cycles on the emulated RP2040)
            self._close_read()
        if self.live and self._diff(now, self._live_ms) > self._lease_ms:
            self.live = 0
            self.wants[WANT_SAMPLE] = 0
        if self._tx is None and not self._ready:
            self._next_event()
        hashing = 0
        if self._tx is None and not self._ready:
            hashing = self._hash_work()
        out = MAX_OUT
        blocked = 0
        while self._tx is not None and out > 0:
            w = link.write_some(self._tx[self._tx_off :])
            if w <= 0:
                blocked = 1
                break
            out -= w
            self._tx_off += w
            if self._tx_off >= len(self._tx):
                self._tx = None
        if self._ready or k == 0:
            r = 1
        elif blocked:
            r = 0
        elif self._tx is not None or hashing:
            r = 1
        else:
            r = 1 if self.live and (self._sample_ready or self._step_tail != self._step_head) else 0
        self.wants[WANT_POLL] = (
            1
            if r
            or self._tx is not None
            or self._rx_state != _IDLE
            or self.live
            or self._sls_running
            or self._ex_running
            or self._hdirty
            or self._hqueue
            or self._hf is not None
            or self._start_wait is not None
            or self._cfg_save is not None
            else 0
        )
        return r

    def _feed(self, b, now):
        if self._rx_state == _IDLE:
            if b == P.SOF:
                self._start_frame(now)
            elif b == 3:
                # Ctrl-C between frames: hand the port back to the REPL.
                self.link.restore_ctrl_c()
                raise KeyboardInterrupt
            else:
                self.noise += 1
            return
        self._rx_ms = now
        if b == P.SOF:
            self.frames_bad += 1  # the previous frame was cut off: this one replaces it
            self._start_frame(now)
        elif b == P.EOL or b == 13:
            self._ready = 1
        elif self._rx_n >= len(self._rx):
            self._rx_bad = P.E_TOO_BIG
        else:
            if not P.B64_OK[b] and not self._rx_bad:
                self._rx_bad = P.E_FRAME
            self._rx[self._rx_n] = b
            self._rx_n += 1

    def _start_frame(self, now):
        self._rx_state = _FRAME
        self._rx_n = 0
        self._rx_bad = 0
        self._rx_ms = now

    # -- requests ------------------------------------------------------------------------
    def _handle(self):
        text = memoryview(self._rx)[: self._rx_n]
        bad = self._rx_bad
        if bad:
            self.frames_bad += 1
            seq = P.peek_seq(text)
            if bad == P.E_TOO_BIG:
                self._error(seq, bad, "request longer than %d bytes" % P.MAX_REQUEST)
            else:
                self._error(seq, bad, "frame holds bytes outside base64")
            return
        if self._rx_n == 0:
            self.frames_bad += 1
            self._error(0, P.E_FRAME, "empty frame")
            return
        try:
            typ, seq, payload = P.decode(bytes(text))
        except P.ProtocolError as e:
            self.frames_bad += 1
            self._error(e.seq, e.code, e.msg)
            return
        self.frames_ok += 1
        if typ != P.T_REQ:
            self._error(seq, P.E_BAD_REQUEST, "frame type %d is not a request" % typ)
            return
        crc = binascii.crc32(payload) & 0xFFFFFFFF
        if seq == self._last_seq and crc == self._last_crc and self._last_wire is not None:
            self._send(self._last_wire)  # a retry of the last request: same answer
            return
        self._last_seq = seq
        self._last_crc = crc
        try:
            try:
                req = json.loads(payload)
            except Exception:
                raise _Reject(P.E_BAD_REQUEST, "request is not JSON") from None
            if not isinstance(req, dict):
                raise _Reject(P.E_BAD_REQUEST, "request must be a JSON object")
            name = req.get("cmd")
            if not isinstance(name, str):
                raise _Reject(P.E_BAD_REQUEST, "request has no 'cmd' text")
            fn = self._cmds.get(name)
            if fn is None:
                raise _Reject(
                    P.E_UNKNOWN_CMD,
                    "unknown command %r (known: %s)" % (name, ", ".join(sorted(self._cmds))),
                )
            fn(seq, req)
        except _Reject as e:
            self._error(seq, e.code, e.msg)
        except OSError as e:
            self._error(seq, P.E_IO, "filesystem error: %s" % e)
        except Exception as e:
            self._error(seq, P.E_INTERNAL, "%s: %s" % (type(e).__name__, e))

    def _send(self, wire):
        self._tx = memoryview(wire)
        self._tx_off = 0

    def _frame(self, typ, seq, n, remember=1):
        """Seal raw[HEADER:HEADER + n] as a frame and start sending it."""
        total = P.seal(self._raw, typ, seq, n)
        # MicroPython's b2a_base64 takes any buffer (the stubs say bytes): no copy.
        wire = b"\x1e" + binascii.b2a_base64(memoryview(self._raw)[:total])  # type: ignore[arg-type]
        if remember:
            self._last_wire = wire
        self._send(wire)

    def _reply(self, seq, obj):
        data = json.dumps(obj).encode()
        n = len(data)
        if n > P.MAX_PAYLOAD:
            self._error(seq, P.E_INTERNAL, "answer too long (%d bytes)" % n)
            return
        self._raw[P.HEADER : P.HEADER + n] = data
        self._frame(P.T_OK, seq, n)

    def _error(self, seq, code, msg):
        text = json.dumps({"code": code, "error": P.ERROR_NAMES.get(code, "?"), "msg": msg})
        data = text.encode()[: P.MAX_PAYLOAD]
        n = len(data)
        self._raw[P.HEADER : P.HEADER + n] = data
        self._frame(P.T_ERR, seq, n)

    def _next_event(self):
        if not self.live:
            self._sample_ready = 0
            self._step_tail = self._step_head
            return
        raw = self._raw
        if self._step_tail != self._step_head:
            off = (self._step_tail % STEP_RING) * P.EVT_STEP_SIZE
            raw[P.HEADER : P.HEADER + P.EVT_STEP_SIZE] = self._steps[off : off + P.EVT_STEP_SIZE]
            self._step_tail += 1
            n = P.EVT_STEP_SIZE
        elif self._sample_ready:
            raw[P.HEADER : P.HEADER + P.EVT_SAMPLE_SIZE] = self._sample_evt
            self._sample_ready = 0
            n = P.EVT_SAMPLE_SIZE
        else:
            return
        self._evt_seq = (self._evt_seq + 1) & 0xFFFF
        self._frame(P.T_EVT, self._evt_seq, n, 0)

    # -- commands ------------------------------------------------------------------------
    def _need_app(self):
        if self.app is None:
            raise _Reject(P.E_STATE, "the app is not running")
        return self.app

    def _c_ping(self, seq, req):
        self._reply(seq, {"pong": req.get("data", "")})

    def _c_info(self, seq, req):
        app = self.app
        board = self.board
        free = None
        try:
            st = os.statvfs(self.data_dir)
            free = st[0] * st[4]
        except (OSError, AttributeError):
            pass
        d = {
            "firmware": FIRMWARE_VERSION,
            "protocol": P.VERSION,
            "board": getattr(board, "name", "?"),
            "imu": getattr(board, "imu_name", "?"),
            "imu_model": self.cfg["imu"],
            "rate_hz": self.cfg["rate_hz"],
            "uptime_ms": self.uptime_ms,
            "flash_free": free,
            "battery_mv": getattr(board, "battery_mv", None),
            "clock": self._clock_now(),
            "max_request": P.MAX_REQUEST,
            "chunk": P.CHUNK,
            "live": self.live,
            "config": self.config_note,
            "programme": self.programme_note,
            "frames_ok": self.frames_ok,
            "frames_bad": self.frames_bad,
        }
        if app is not None:
            d["period_us"] = app.period_us
            d["samples"] = app.n + 1
            d["late"] = app.late
            d["missed"] = app.missed
            d["cues"] = app.cue.cues
            d["calibrated"] = app.calibrated
            d["faults"] = app.faults
            d["obliquity_mdeg"] = app.obliquity_mdeg
        if self.log is not None:
            d["log"] = self.log.info()
        try:
            import gc

            d["heap_free"] = gc.mem_free()  # now (the loop allocates nothing per sample)
        except (ImportError, AttributeError):
            pass
        if getattr(board, "batch", 0):
            # the loop that sleeps (device/board.py): FIFO batches read, sleeps, motion waits
            d["power"] = {
                "fifo_batch": board.batch,
                "batches": board.batches,
                "sleeps": board.sleeps,
                "light_sleeps": board.light_sleeps,
                "motion_waits": board.waits,
                "motion_wakes": board.wakes,
                "waiting": board.waiting,
                "usb": board.usb,
            }
        if self.info_hook is not None:
            d.update(self.info_hook())
        self._reply(seq, d)

    def _c_config_get(self, seq, req):
        self._reply(seq, {"values": self.cfg.as_dict()})

    def _c_config_set(self, seq, req):
        values = req.get("values")
        if not isinstance(values, dict) or not values:
            raise _Reject(P.E_BAD_REQUEST, "'values' must be an object of key: value")
        new = Config()
        for k in self.cfg.values:
            new.values[k] = self.cfg.values[k]
        changed = []
        for k in values:
            v = values[k]
            if k not in SCHEMA:
                raise _Reject(
                    P.E_CONFIG,
                    "unknown config key %r (known: %s)" % (k, ", ".join(sorted(SCHEMA))),
                )
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise _Reject(P.E_CONFIG, "%s: value must be text or a whole number" % k)
            try:
                new.set(k, str(v))
            except ConfigError as e:
                raise _Reject(P.E_CONFIG, str(e)) from None
            if new.values[k] != self.cfg.values[k]:
                changed.append(k)
        try:
            new.check()  # the cross-key rules over the whole new config (shared/config.py)
        except ConfigError as e:
            raise _Reject(P.E_CONFIG, str(e)) from None
        self._commit(seq, new, changed)

    def _c_config_reset(self, seq, req):
        new = Config()
        changed = [k for k in SCHEMA if new.values[k] != self.cfg.values[k]]
        self._commit(seq, new, changed)

    def _commit(self, seq, new, changed):
        save_config(self.data_dir, new)  # raises OSError -> E_IO, config unchanged
        for k in new.values:
            self.cfg.values[k] = new.values[k]
        later = apply_config_live(self.app, changed) if changed else []
        self._reply(
            seq, {"values": self.cfg.as_dict(), "changed": changed, "restart_needed": later}
        )

    def _c_cal_start(self, seq, req):
        app = self._need_app()
        start_calibration(app)  # the wearer is standing still now: (re)start from here
        self._reply(
            seq,
            {
                "state": "running",
                "window_ms": self.cfg["cal_window_ms"],
                "period_us": app.period_us,
            },
        )

    def _c_cal_status(self, seq, req):
        app = self._need_app()
        r = calibration_report(app)
        if r["state"] == "done" and app.cal.status != CAL_DONE:
            r = {"state": "failed", "reason": "calibration did not finish"}
        self._reply(seq, r)

    def _c_live(self, seq, req):
        on = req.get("on")
        if not isinstance(on, bool):
            raise _Reject(P.E_BAD_REQUEST, "argument 'on' must be true or false")
        every_ms = _int_arg(req, "every_ms", 10, 1000, 40)
        lease_ms = _int_arg(req, "lease_ms", 1000, 60000, LIVE_LEASE_MS)
        period_ms = self.app.period_us // 1000 if self.app is not None else 10
        if on and self.app is None:
            raise _Reject(P.E_STATE, "the app is not running")
        self.live = 1 if on else 0
        self.wants[WANT_SAMPLE] = self.live
        self._live_every = max(1, every_ms // max(1, period_ms))
        self._live_ms = self._ms()
        self._lease_ms = lease_ms
        self._reply(seq, {"live": self.live, "every_n": self._live_every, "lease_ms": lease_ms})

    def _name_arg(self, req):
        name = req.get("name")
        why = P.check_log_name(name)
        if why:
            raise _Reject(P.E_BAD_NAME, why)
        return name

    def _log_size(self, name):
        try:
            st = os.stat(self.log_dir + "/" + name)
        except OSError:
            raise _Reject(P.E_NOT_FOUND, "no log named %r" % name) from None
        if st[0] & 0x4000:
            raise _Reject(P.E_NOT_FOUND, "%r is not a log file" % name)
        return st[6]

    def _active_name(self):
        """Name of the session being written (by the log store, or the runner's own)."""
        log = self.log
        if log is not None and log.active and log.current >= 0:
            return "S%04d.hcl" % log.current  # device/logstore.py session_name()
        return self.active_log

    def _c_logs_list(self, seq, req):
        start = _int_arg(req, "start", 0, 1 << 20, 0)
        try:
            names = sorted(os.listdir(self.log_dir))
        except OSError:
            names = []
        active = self._active_name()
        out = []  # type: list
        total = 0
        pending = 0
        for name in names:
            if P.check_log_name(name):
                continue
            total += 1
            if total <= start or len(out) >= LIST_MAX:
                continue
            try:
                size = self._log_size(name)
            except _Reject:
                total -= 1
                continue
            sha = None
            if name != active:
                got = self._hashes.get(name)
                if got is not None and got[0] == size:
                    sha = got[1]
                else:
                    pending += 1
            out.append([name, size, 1 if name == active else 0, sha])
        if pending:
            self._hdirty = 1
        self._reply(seq, {"logs": out, "start": start, "total": total, "hashing": pending})

    # -- SHA-256 of the log files, a slice per poll ------------------------------------
    def _hash_work(self):
        """One bounded slice of hashing; returns 1 while more is to do."""
        log = self.log
        if log is not None:
            cur = log.current if log.active else -1
            if cur != self._seen_session:
                self._seen_session = cur
                self._hdirty = 1  # a session closed (or started): its hash is due
        if self._hf is None:
            if not self._hqueue:
                if not self._hdirty:
                    return 0
                self._hdirty = 0
                self._scan_hashes()
                return 1 if self._hqueue else 0
            self._open_hash(self._hqueue.pop())
            return 1
        want = self._hsize - self._hdone
        if want > HASH_SLICE:
            want = HASH_SLICE
        k = 0
        if want > 0:
            try:
                k = self._hf.readinto(memoryview(self._hbuf)[:want]) or 0
            except OSError:
                self._close_hash()
                return 1
            self._hobj.update(memoryview(self._hbuf)[:k])
            self._hdone += k
        if k == 0 or self._hdone >= self._hsize:
            if self._hdone == self._hsize:
                digest = binascii.hexlify(self._hobj.digest()).decode()
                self._hashes[self._hname] = (self._hsize, digest)
            self._close_hash()
        return 1

    def _scan_hashes(self):
        try:
            names = os.listdir(self.log_dir)
        except OSError:
            names = []
        active = self._active_name()
        keep = {}
        queue = []
        for name in names:
            if P.check_log_name(name) or name == active:
                continue
            try:
                size = self._log_size(name)
            except _Reject:
                continue
            got = self._hashes.get(name)
            if got is not None and got[0] == size:
                keep[name] = got
            else:
                queue.append(name)
        self._hashes = keep  # forget deleted files
        queue.sort()
        queue.reverse()  # popped from the end: oldest first
        self._hqueue = queue

    def _open_hash(self, name):
        if name == self._active_name():
            return
        try:
            size = self._log_size(name)
            self._hf = open(self.log_dir + "/" + name, "rb")
        except (OSError, _Reject):
            self._hf = None
            return
        self._hname = name
        self._hsize = size
        self._hdone = 0
        self._hobj = hashlib.sha256()

    def _close_hash(self):
        f = self._hf
        self._hf = None
        self._hname = ""
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def _close_read(self):
        if self._rf is not None:
            try:
                self._rf.close()
            except OSError:
                pass
        self._rf = None
        self._rf_name = ""

    def _c_logs_read(self, seq, req):
        name = self._name_arg(req)
        off = _int_arg(req, "off", 0, 0x7FFFFFFF)
        n = _int_arg(req, "len", 0, P.CHUNK, P.CHUNK)
        size = self._log_size(name)
        if self._rf is None or self._rf_name != name:
            self._close_read()
            self._rf = open(self.log_dir + "/" + name, "rb")
            self._rf_name = name
        self._rf_ms = self._ms()
        f = self._rf
        if off > size:
            off = size
        if n > size - off:
            n = size - off
        got = 0
        if n > 0:
            f.seek(off)
            base = P.HEADER + P.DATA_HEADER
            got = f.readinto(memoryview(self._raw)[base : base + n]) or 0
        struct.pack_into("<II", self._raw, P.HEADER, off, size)
        self._frame(P.T_DATA, seq, P.DATA_HEADER + got)

    def _c_logs_delete(self, seq, req):
        name = self._name_arg(req)
        if name == self._active_name():
            raise _Reject(P.E_BUSY, "%r is being written (logs.stop ends the session)" % name)
        size = self._log_size(name)
        if self._rf_name == name:
            self._close_read()
        if self._hname == name:
            self._close_hash()
        os.remove(self.log_dir + "/" + name)
        if name in self._hashes:
            del self._hashes[name]
        self._reply(seq, {"deleted": name, "size": size})

    def _need_log(self):
        if self.log is None:
            raise _Reject(P.E_STATE, "no session log store on this device")
        return self.log

    def _auto_arg(self, req, log):
        auto = req.get("auto")
        if auto is not None:
            log.auto = _int_arg(req, "auto", 0, 1)

    def _c_logs_start(self, seq, req):
        """Start a session now (raw=1: with every IMU sample); ends any running one."""
        log = self._need_log()
        app = self._need_app()
        raw = _int_arg(req, "raw", 0, 1, 0)
        self._auto_arg(req, log)
        now = self._clock_now()
        k = log.start(app, "command", raw=raw, start_unix=now or 0)
        if k >= 0 and getattr(log, "sliced", 0):
            # the log store opens the file a piece per call (device/logstore.py): the answer
            # goes when it is open (or failed), from a later poll
            self._start_wait = (seq, k, raw)
            self.wants[WANT_POLL] = 1
            return
        if k < 0:
            raise _Reject(P.E_IO, "cannot open a session file (log faults %d)" % log.faults)
        self._reply(seq, {"started": "S%04d.hcl" % k, "raw": raw, "auto": log.auto})

    def _save_piece(self):
        """One piece of a sliced config save: the same file work as save_config() (its
        JSON CFG_PARTS keys at a time, the temporary file, its text CFG_PIECE bytes at a
        time, its close, the rename over config.json), one step per poll. A power cut
        between two leaves the old config.json (and at most a partial config.json.tmp, as
        a cut inside save_config() would)."""
        path = config_path(self.data_dir)
        tmp = path + ".tmp"
        try:
            if self._cs_text is None:
                if self._cs_gen is None:
                    self._cs_src = self._cfg_save
                    self._cs_parts = []
                    self._cs_gen = _config_json_parts(self._cfg_save)
                k = CFG_PARTS
                for part in self._cs_gen:
                    self._cs_parts.append(part)  # type: ignore[union-attr]
                    k -= 1
                    if k == 0:
                        return
                self._cs_text = "".join(self._cs_parts).encode()  # type: ignore[arg-type]
                self._cs_gen = self._cs_parts = None
                self._cs_off = 0
                self._cs_f = open(tmp, "wb")
                return
            f = self._cs_f
            if f is not None:
                a = self._cs_off
                if a < len(self._cs_text):
                    f.write(self._cs_text[a : a + CFG_PIECE])
                    self._cs_off = a + CFG_PIECE
                    return
                self._cs_f = None
                f.close()
                return
            os.rename(tmp, path)
        except OSError:
            f = self._cs_f
            self._cs_f = None
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._cs_gen = self._cs_parts = None
        if self._cfg_save is self._cs_src:  # (a newer one came meanwhile: it is saved next)
            self._cfg_save = None  # saved, or failed: the advance stays in RAM (as save_config)
        self._cs_text = None
        self._cs_src = None

    def _start_reply(self):
        """The answer of a sliced logs.start, once the log store has opened the file."""
        log = self.log
        if log is not None and log.opening():
            log.work()  # one piece here too: a loop without samples (held, ended) still opens it
            return
        seq, k, raw = self._start_wait  # type: ignore[misc]
        self._start_wait = None
        if log is None or not log.active or log.current != k or log.file is None:
            faults = log.faults if log is not None else 0
            self._error(seq, P.E_IO, "cannot open a session file (log faults %d)" % faults)
            return
        self._reply(seq, {"started": "S%04d.hcl" % k, "raw": raw, "auto": log.auto})

    def _c_logs_stop(self, seq, req):
        """End the running session (none running: stopped is null)."""
        log = self._need_log()
        app = self._need_app()
        self._auto_arg(req, log)
        name = self._active_name() if log.active else None
        if name is not None:
            log.stop(app, "command")
        size = self._log_size(name) if name is not None else 0
        self._reply(seq, {"stopped": name, "size": size, "auto": log.auto})

    # -- single-leg stance test ---------------------------------------------------------
    def _c_test_sls(self, seq, req):
        """Start the guided single-leg stance test (left leg, rest, right leg). Its results
        go into a test session log (header "test": "sls"; end frame "sls": results) that
        does not count as a feedback session, and to `test.status`."""
        app = self._need_app()
        if self._sls_running:
            raise _Reject(P.E_STATE, "a single-leg stance test is running")
        cfg = self.cfg
        lim = SCHEMA["sls_side_s"]
        side_s = _int_arg(req, "side_s", lim[2], lim[3], cfg["sls_side_s"])
        lim = SCHEMA["sls_rest_s"]
        rest_s = _int_arg(req, "rest_s", lim[2], lim[3], cfg["sls_rest_s"])
        impact = cfg["sls_impact_mg"]
        t = app.start_sls(side_s, rest_s, impact)
        log = self.log
        self._sls_session = None
        if log is not None:
            self._sls_auto = log.auto
            log.auto = 0  # standing still must not end it, walking must not start another
            extra = {"test": "sls", "sls_side_s": side_s, "sls_rest_s": rest_s}
            extra["sls_impact_mg"] = impact
            now = self._clock_now()
            k = log.start(app, "test", start_unix=now or 0, header_extra=extra, count=0)
            if k >= 0:
                self._sls_session = "S%04d.hcl" % k
        self._sls_running = 1
        self.sls_last = None
        self._reply(
            seq,
            {
                "started": "sls",
                "side_s": side_s,
                "rest_s": rest_s,
                "total_s": t.total_n() * app.period_us // 1000000,
                "session": self._sls_session,
            },
        )

    def _sls_check(self):
        app = self.app
        t = app.sls if app is not None else None
        if t is None or not t.done or app.motor_on:
            return
        app.stop_sls()
        self._sls_running = 0
        res = t.results()
        res["session"] = self._sls_session
        self.sls_last = res
        log = self.log
        if log is not None:
            if self._sls_session is not None and log.active:
                log.stop(app, "test", end_extra={"sls": t.results()})
                self._hdirty = 1
            log.auto = self._sls_auto

    def _c_test_status(self, seq, req):
        app = self.app
        t = app.sls if app is not None else None
        d = {"running": self._sls_running, "results": self.sls_last}
        if t is not None and self._sls_running:
            d["phase"] = PHASE_NAMES[t.phase]
            d["side"] = sides.letter(t.side)
            d["session"] = self._sls_session
        self._reply(seq, d)

    # -- exercise sets (issue #16) --------------------------------------------------------
    def _c_exercise_start(self, seq, req):
        """Start an exercise set: mode (an exercise), side, reps and threshold_deg (text, as
        the config takes them; default: the config's). The set drives the motor until it is
        done (the end-of-set buzz) or `exercise.stop`; its reps go into an exercise session
        log (header "exercise": mode; end frame "exercise": the set and its reps), which does
        not count as a feedback session, and to `exercise.status`."""
        self._need_app()
        if self._ex_running or self._sls_running:
            raise _Reject(P.E_STATE, "a test or an exercise set is running")
        new = Config()
        for key in self.cfg.values:
            new.values[key] = self.cfg.values[key]
        for arg, key in (
            ("mode", "mode"),
            ("side", "ex_side"),
            ("reps", "ex_reps"),
            ("tempo_ms", "tempo_ms"),
        ):
            if arg in req:
                try:
                    new.set(key, str(req[arg]))
                except ConfigError as e:
                    raise _Reject(P.E_BAD_REQUEST, str(e)) from None
        if "threshold_deg" in req:
            try:
                new.set("ex_threshold_deg", str(req["threshold_deg"]))
            except ConfigError as e:
                raise _Reject(P.E_BAD_REQUEST, str(e)) from None
        if new["mode"] == "walk":
            raise _Reject(P.E_BAD_REQUEST, "mode: name an exercise (config mode is walk)")
        ex = self._ex_begin(new, "exercise")
        self._reply(
            seq,
            {
                "started": ex.mode,
                "side": new["ex_side"],
                "reps": new["ex_reps"],
                "threshold_deg": new.text("ex_threshold_deg"),
                "session": self._ex_session,
            },
        )

    def _ex_begin(self, new, reason):
        """Start the set config `new` describes and its exercise session log (reason: how it
        was started: "exercise" by command, "button", "boot" from the stored config)."""
        app = self.app
        ex = app.start_exercise(new)
        self._ex_reps = []
        self._ex_start_n = app.n if app.n > 0 else 0
        self.ex_last = None
        log = self.log
        self._ex_session = None
        if log is not None:
            self._ex_auto = log.auto
            log.auto = 0  # resting between reps must not end it, walking must not start one
            extra = {"exercise": new["mode"], "ex_side": new["ex_side"]}
            extra["ex_reps"] = new["ex_reps"]
            extra["ex_threshold_deg"] = new.text("ex_threshold_deg")
            if new["tempo_ms"]:
                extra["tempo_ms"] = new["tempo_ms"]
            if self.programme is not None:
                extra["programme"] = {"id": self.programme["plan"]["id"]}
            k = log.start(
                app, reason, start_unix=self._clock_now() or 0, header_extra=extra, count=0
            )
            if k >= 0:
                self._ex_session = "S%04d.hcl" % k
        self._ex_running = 1
        self.wants[WANT_POLL] = 1
        return ex

    def _ex_check(self):
        """Between samples: take one finished rep; end the set once it is done and its
        buzz is over."""
        app = self.app
        ex = app.ex if app is not None else None
        if ex is None:
            self._ex_running = 0
            return
        b = self._ex_buf
        if ex.take(b, 0):
            p = app.period_us
            self._ex_reps.append(
                [
                    (b[0] - self._ex_start_n) * p // 1000,
                    b[3],
                    b[4],
                    (b[1] - b[0]) * p // 1000,
                    b[5],
                ]
            )
            return
        if ex.done_n >= 0 and not app.motor_on:
            self._ex_finish("done")

    def _ex_results(self, reason):
        ex = self.app.ex
        reps = self._ex_reps
        drops = [r[2] for r in reps]
        return {
            "exercise": ex.mode,
            "reason": reason,
            "count": ex.count,
            "cues": ex.cues,
            "lost": ex.lost,
            "done": 1 if ex.done_n >= 0 else 0,
            "max_drop_mdeg": max(drops) if drops else None,
            "mean_drop_mdeg": sum(drops) // len(drops) if drops else None,
            "reps": reps,  # [t_ms, side, drop mdeg, duration ms, cued]
            "session": self._ex_session,
        }

    def _ex_finish(self, reason):
        app = self.app
        while app.ex.take(self._ex_buf, 0):  # reps not yet taken (bounded: the ring)
            b = self._ex_buf
            p = app.period_us
            t_ms = (b[0] - self._ex_start_n) * p // 1000
            self._ex_reps.append([t_ms, b[3], b[4], (b[1] - b[0]) * p // 1000, b[5]])
        app.stop_exercise()
        self._ex_running = 0
        res = self._ex_results(reason)
        self.ex_last = res
        log = self.log
        if log is not None:
            if self._ex_session is not None and log.active:
                log.stop(app, "exercise", end_extra={"exercise": res})
                self._hdirty = 1
            log.auto = self._ex_auto

    def _c_exercise_stop(self, seq, req):
        if not self._ex_running:
            raise _Reject(P.E_STATE, "no exercise set is running")
        self._ex_finish("stopped")
        self._reply(seq, self._ex_summary(self.ex_last))

    def _ex_summary(self, res):
        """A set's figures for a reply: the last MAX_REPS_REPLY reps only (all are logged)."""
        if res is None:
            return None
        d = {}
        for k in res:
            d[k] = res[k]
        d["reps"] = res["reps"][-MAX_REPS_REPLY:]
        return d

    def _c_exercise_status(self, seq, req):
        app = self.app
        ex = app.ex if app is not None else None
        d = {"running": self._ex_running, "results": self._ex_summary(self.ex_last)}
        if ex is not None and self._ex_running:
            d["exercise"] = ex.mode
            d["count"] = ex.count
            d["cues"] = ex.cues
            d["session"] = self._ex_session
            d["last"] = self._ex_reps[-1] if self._ex_reps else None
        self._reply(seq, d)

    # -- the retraining programme (issue #16) ----------------------------------------------
    def _c_programme_set(self, seq, req):
        """Store a programme (shared/programme.py) and set the config's faded schedule to it
        (session_index 0: the next walking session is the programme's first)."""
        try:
            plan = PG.check(req.get("plan"))
        except PG.PlanError as e:
            raise _Reject(P.E_BAD_REQUEST, "programme: %s" % e) from None
        new = Config()
        for k in self.cfg.values:
            new.values[k] = self.cfg.values[k]
        values = PG.config_values(plan)
        changed = []
        try:
            for k in values:
                new.set(k, values[k])
                if new.values[k] != self.cfg.values[k]:
                    changed.append(k)
            new.check()
        except ConfigError as e:
            raise _Reject(P.E_CONFIG, str(e)) from None
        stored = {"plan": plan, "base": new["session_index"]}
        save_programme(self.data_dir, stored)  # OSError -> E_IO, nothing changed
        save_config(self.data_dir, new)
        for k in new.values:
            self.cfg.values[k] = new.values[k]
        apply_config_live(self.app, changed)
        self.programme = stored
        self.programme_note = "programme %s set" % plan["id"]
        self._c_programme_get(seq, req)

    def _c_programme_get(self, seq, req):
        st = self.programme
        d = {"programme": None, "note": self.programme_note}
        if st is not None:
            plan = st["plan"]
            k = self.cfg["session_index"] - st["base"] + 1
            d["programme"] = plan
            d["next_session"] = k
            d["next_minutes"] = PG.planned_minutes(plan, k)
            d["next_fade_pct"] = session_fade_pct(self.cfg)
            d["dose_minutes"] = PG.dose_minutes(plan)
        self._reply(seq, d)

    def _c_programme_clear(self, seq, req):
        """Forget the programme (the config keeps its schedule: `config reset` for that)."""
        st = self.programme
        save_programme(self.data_dir, None)
        self.programme = None
        self.programme_note = "no programme"
        self._reply(seq, {"cleared": st["plan"]["id"] if st is not None else None})

    def _clock_now(self):
        base = self._clock_base
        return None if base is None else base + self.uptime_ms // 1000

    def _c_clock_set(self, seq, req):
        epoch = _int_arg(req, "epoch_s", 0, 0x7FFFFFFF)
        was = self._clock_now()
        self._clock_base = epoch - self.uptime_ms // 1000
        set_clock = getattr(self.board, "set_clock", None)
        if set_clock is not None:
            set_clock(epoch)
        self._reply(seq, {"was": was, "now": epoch})
