"""Session logs on the board's filesystem (LittleFS), append-only, safe against power loss.

One file per session in one folder: ROOT/S0001.hcl, S0002.hcl, ... (shared/logformat.py).
Records go into a preallocated RAM buffer (appending allocates nothing); the buffer is written
to the file and synced only by `flush()`: every `flush_ms` of sample time, when the buffer is
three quarters full, and at session end. LittleFS commits a sync atomically, so a power cut
loses at most the records since the last flush, and each block carries a CRC anyway.

Never raises into the sample loop: a full or failing filesystem sets a fault bit
(`faults`: LOG_FULL, LOG_IO) and the records are dropped (`dropped`); cues go on.
When free space falls below `reserve` bytes, whole sessions are deleted, oldest first, never
the current one.

Feedback counters (issue #7): the CueDetector's suppression counters go into the log as
R_FEEDBACK records (their growth since the last one) with each summary, and the probe flag of
each step (App.ring_probe, when the app has one) as R_PROBE records where it changes.

`service(app)` is the between-sample hook for App.idle(): it drains the app's step ring into
the log, notes cue fires, fault changes, raw samples (raw capture), periodic summaries, starts
a session on the first step (walking) and ends it after `still_ms` without steps.

It does the same whether it is called on every sample or only when there is something to do:
`due[0]` is the first sample index at which timed work falls due (a summary, a flush, the end
of a still period; every sample in raw capture; the next one when a fault bit is still to be
recorded). The board loop (device/main.py) calls service() when the app reports an event
(a step, a cue, a fault change, a host request) or the sample index reaches `due[0]`.
"""

import os
from array import array

from shared import logformat as lf
from shared.config import EXERCISE_KEYS, FEEDBACK_KEYS, POWER_KEYS, SCHEMA
from shared.cue import COUNTER_CELL0, COUNTER_NAMES
from shared.mp import micropython

LOG_FULL = 1  # no space even after rotation: records are being dropped
LOG_IO = 2  # a filesystem error other than "full"
LOG_DROPPED = 4  # the RAM buffer overflowed (flushes too rare for the record rate)

_ENOSPC = 28
_RING_MASK = 31  # device/app.py _RING_MASK
_NEVER = 0x3FFFFFFF  # `due`: no timed work (a small int on every port)


def session_name(k):
    return "S%04d.hcl" % k


def session_number(name):
    """'S0012.hcl' -> 12; -1 for anything else."""
    if len(name) < 6 or name[0] != "S" or not name.endswith(".hcl"):
        return -1
    d = name[1:-4]
    if not d.isdigit():
        return -1
    return int(d)


def list_sessions(root):
    """Session numbers in root, oldest first."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    out = []
    for name in names:
        k = session_number(name)
        if k >= 0:
            out.append(k)
    out.sort()
    return out


def file_sha256(path, chunk=1024):
    """Hex SHA-256 of a file, read in chunks (for `logs list` on the device)."""
    import hashlib
    from binascii import hexlify

    h = hashlib.sha256()
    buf = bytearray(chunk)
    with open(path, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            h.update(memoryview(buf)[:k])
    return hexlify(h.digest()).decode()


def _header_config(cfg):
    """The config for a session header: the feedback and exercise keys only when not at
    their defaults (walking headers stay as they were before those keys)."""
    d = cfg.as_dict()
    for key in FEEDBACK_KEYS + EXERCISE_KEYS + POWER_KEYS:
        if cfg[key] == SCHEMA[key][1]:
            del d[key]
    return d


def calibration_of(app):
    """The calibration the app runs with, as plain data for the session header."""
    est = app.est
    return {
        "calibrate": 1 if getattr(app, "calibrate", 1) else 0,
        "calibrated": app.calibrated,
        "error": app.cal_error,
        "frame_q14": list(est._ra),
        "gyro_frame": list(est._rg),
        "bias_q28": [est.bx, est.by, est.bz],
    }


class LogStore:
    def __init__(
        self,
        root="/flash/logs",
        period_us=10000,
        fw="",
        device="",
        buf_bytes=1024,
        flush_ms=10000,
        summary_ms=60000,
        still_ms=300000,
        reserve=16384,
    ):
        self.root = root
        self.period_us = period_us
        self.fw = fw
        self.device = device
        self.rec = lf.RecordBuffer(buf_bytes, period_us)
        self.flush_n = max(1, flush_ms * 1000 // period_us)
        self.summary_n = max(1, summary_ms * 1000 // period_us)
        self.still_n = max(1, still_ms * 1000 // period_us)
        self.reserve = reserve
        self.faults = 0
        self.dropped = 0  # records lost: buffer full, filesystem full or failing
        self.active = 0
        self.raw = 0
        self.auto = 1  # start on walking, stop when still
        self.current = -1  # session number being written
        self.file = None
        self.flushes = 0
        self.lost_blocks = 0  # blocks of the current session whose write failed
        self.bytes_written = 0
        self.sessions_deleted = 0
        self._last_flush_n = 0
        self._last_step_n = 0
        self._last_summary_n = 0
        self._start_n = 0
        self._cues_seen = 0
        self._faults_seen = 0
        self._steps = 0
        self._cues = 0
        self._sum_steps = 0
        self._sum_cues = 0
        self._sum_late = 0
        self._sum_missed = 0
        self._sum_dropped = 0
        self._late0 = 0
        self._missed0 = 0
        self._fb_base = array("i", [0] * len(COUNTER_NAMES))  # counters at the last record
        self._fb_delta = array("i", [0] * len(COUNTER_NAMES))
        self._fb_cue = None
        # on_session(app, k): called when session k has started (its header written); the
        # service advances and saves the config's session_index there (device/service.py)
        self.on_session = None
        # header_hook(): extra header keys for a feedback session (count=1), or None; the
        # service tags a programme's sessions with it, and dates a session started by
        # walking (start_unix, once the host has set the clock; device/service.py)
        self.header_hook = None
        self.button_hook = None  # button_hook(press) -> 1 when it took a short press
        self.due = array("i", [_NEVER])  # sample index of the next timed work (see above)
        self._next = 1
        try:
            os.mkdir(root)
        except OSError:
            pass
        have = list_sessions(root)
        if have:
            self._next = have[-1] + 1

    # -- sessions ----------------------------------------------------------------------
    def start(self, app, reason="command", raw=0, start_unix=0, header_extra=None, count=1):
        """Open a new session at the app's current sample. Returns its number (-1: failed).
        count=0: not a feedback session (a test): on_session is not called."""
        if self.active:
            self.stop(app, "restart")
        k = self._next
        self._next = k + 1
        self.current = k
        self.active = 1
        self.raw = raw
        n = app.n if app.n > 0 else 0
        if app.ring_tail != app.ring_head:
            # started by a step: the session starts at its initial contact
            ic = app.ring_ic[app.ring_tail & _RING_MASK]
            if 0 <= ic < n:
                n = ic
        self._start_n = n
        self._last_flush_n = n
        self._last_step_n = n
        self._last_summary_n = n
        self._cues_seen = app.cue.cues
        self._faults_seen = app.faults
        self._steps = 0
        self._cues = 0
        self._sum_steps = self._sum_cues = self._sum_dropped = 0
        self._late0 = app.late
        self._missed0 = app.missed
        self._fb_snapshot(app)
        self.rec.restart(n)
        self.dropped = 0
        self.lost_blocks = 0
        info = {
            "format": lf.FORMAT_VERSION,
            "fw": self.fw,
            "device": self.device,
            "session": k,
            "start_unix": start_unix,
            "start_n": n,
            "period_us": self.period_us,
            "rate_hz": app.cfg["rate_hz"],
            "raw": raw,
            "reason": reason,
            "config": _header_config(app.cfg),
            "calibration": calibration_of(app),
            "faults": app.faults | (self.faults << 8),
        }
        if header_extra:
            for key in header_extra:
                info[key] = header_extra[key]
        if count and self.header_hook is not None:
            try:
                more = self.header_hook()
            except Exception:
                more = None
                self.faults |= LOG_IO
            if more:
                for key in more:
                    if key != "start_unix" or not start_unix:
                        info[key] = more[key]
        self._rotate(2048)
        try:
            f = open(self.root + "/" + session_name(k), "wb")
            self.file = f
            self._write(lf.header_frame(info))
        except Exception as e:
            self._fail(e)
            self._close_quietly()
        if self.file is not None and self.on_session is not None and count:
            try:
                self.on_session(app, k)
            except Exception:
                self.faults |= LOG_IO
        self._set_due(app, n)
        return k if self.file is not None else -1

    def stop(self, app, reason="command", end_extra=None):
        """End the session: flush, write the end frame (plus end_extra's keys), close."""
        if not self.active:
            return
        self._summary(app)
        self.flush()
        if self.file is not None:
            info = {
                "reason": reason,
                "t_cs": lf.cs_of(app.n - self._start_n, self.period_us),
                "steps": self._steps,
                "cues": self._cues,
                "dropped": self.dropped,
                "lost_blocks": self.lost_blocks,
                "blocks": self.rec.seq,  # the next block's number: the reader's last check
                "faults": self._faults_seen | (self.faults << 8),
            }
            if end_extra:
                for key in end_extra:
                    info[key] = end_extra[key]
            try:
                self._write(lf.end_frame(info))
                self.file.close()
            except Exception as e:
                self._fail(e)
            self.file = None
        self.active = 0
        self.raw = 0
        self.due[0] = _NEVER

    # -- between samples ---------------------------------------------------------------
    @micropython.native  # a bytecode frame this size would be heap-allocated on every call
    def service(self, app):
        """Call once per sample from App.idle(), or when `due` or an app event says so;
        bounded work, never raises."""
        n = app.n
        if app.ring_tail != app.ring_head and not self.active and self.auto:
            self.start(app, "walking")
        rec = self.rec
        probes = getattr(app, "ring_probe", None)
        gated = getattr(app, "ring_gated", None)
        while app.ring_tail != app.ring_head:
            if self.active:
                j = app.ring_tail & _RING_MASK
                if probes is not None and not rec.probe_flag(probes[j]):
                    self._drop()
                if gated is not None and gated[j] and not rec.gated(gated[j]):
                    self._drop()
                if rec.step(app.ring_ic[j], app.ring_stance[j], app.ring_drop[j], app.ring_cued[j]):
                    self._steps += 1
                    self._sum_steps += 1
                else:
                    self._drop()
                self._last_step_n = n
            app.ring_tail += 1
        if not self.active:
            self.due[0] = _NEVER
            return
        if app.cue.cues != self._cues_seen:
            self._cues_seen = app.cue.cues
            if rec.cue(app._last_fire_n):
                self._cues += 1
                self._sum_cues += 1
            else:
                self._drop()
        bits = app.faults | (self.faults << 8)
        if bits != self._faults_seen:
            self._faults_seen = bits
            if not rec.fault(n, bits):
                self._drop()
        if self.raw:
            if not rec.raw(n, app.board.imu):
                self._drop()
        if n - self._last_summary_n >= self.summary_n:
            self._summary(app)
        if n - self._last_flush_n >= self.flush_n or rec.pos * 4 >= rec.size * 3:
            self.flush()
            self._last_flush_n = n
        if self.auto and not self.raw and n - self._last_step_n >= self.still_n:
            self.stop(app, "still")
        self._set_due(app, n)

    @micropython.native
    def _set_due(self, app, n):
        """The first sample index at which service() has timed work (see the module doc)."""
        if not self.active:
            self.due[0] = _NEVER
            return
        if self.raw or (app.faults | (self.faults << 8)) != self._faults_seen:
            self.due[0] = n + 1
            return
        d = self._last_summary_n + self.summary_n
        f = self._last_flush_n + self.flush_n
        if f < d:
            d = f
        if self.auto:
            f = self._last_step_n + self.still_n
            if f < d:
                d = f
        self.due[0] = d

    @micropython.native  # between samples: no heap-allocated frame
    def _drop(self):
        self.dropped += 1
        self._sum_dropped += 1
        self.faults |= LOG_DROPPED

    @micropython.native  # between samples: no heap-allocated frame
    def _summary(self, app):
        late = app.late - self._late0
        missed = app.missed - self._missed0
        self._late0 = app.late
        self._missed0 = app.missed
        if not self.rec.summary(
            app.n, self._sum_steps, self._sum_cues, late, missed, self._sum_dropped
        ):
            self._drop()
        self._sum_steps = self._sum_cues = self._sum_dropped = 0
        self._last_summary_n = app.n
        self._feedback(app)

    @micropython.native  # between samples: no heap-allocated frame
    def _fb_cells(self, app):
        cue = getattr(app, "cue", None)
        return cue, getattr(cue, "_s", None)

    def _fb_snapshot(self, app):
        cue, s = self._fb_cells(app)
        self._fb_cue = cue
        base = self._fb_base
        for k in range(len(base)):
            base[k] = s[COUNTER_CELL0 + k] if s is not None else 0

    @micropython.native  # between samples: no heap-allocated frame
    def _feedback(self, app):
        """An R_FEEDBACK record of the counters' growth since the last one (none: no growth)."""
        cue = getattr(app, "cue", None)  # as _fb_cells(), without its tuple (an allocation)
        s = getattr(cue, "_s", None)
        if s is None:
            return
        base = self._fb_base
        if cue is not self._fb_cue:  # rebuilt on a live config change: counting from 0
            self._fb_cue = cue
            for k in range(len(base)):
                base[k] = 0
        d = self._fb_delta
        any_ = 0
        for k in range(len(base)):
            v = s[COUNTER_CELL0 + k]
            x = v - base[k] if v >= base[k] else v
            d[k] = x
            if x:
                any_ = 1
        if not any_:
            return
        if self.rec.feedback(app.n, d):
            for k in range(len(base)):
                base[k] = s[COUNTER_CELL0 + k]
        else:
            self._drop()

    # -- file work (only here) ---------------------------------------------------------
    @micropython.native  # on the flush schedule: no heap-allocated frame
    def flush(self):
        """Write the buffered block to the file and sync it. Never raises."""
        rec = self.rec
        k = rec.seal()
        if k == 0:
            return
        if self.file is None:
            self.dropped += rec.records
            self.lost_blocks += 1
            rec.clear()
            return
        self._rotate(k + 512)
        try:
            self._write(memoryview(rec.buf)[:k])
        except Exception as e:
            # Lost: only this block's records (the next block carries the clocks and the
            # side, and its number shows the gap to a reader).
            self.dropped += rec.records
            self.lost_blocks += 1
            self._fail(e)
        rec.clear()

    def _close_quietly(self):
        f = self.file
        self.file = None
        if f is not None:
            try:
                f.close()
            except Exception:
                pass

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def _write(self, data):
        f = self.file
        if f is None:
            raise OSError(5)
        f.write(data)
        f.flush()
        self.bytes_written += len(data)
        self.flushes += 1
        self.faults &= ~(LOG_FULL | LOG_IO)

    def _fail(self, e):
        if isinstance(e, OSError) and e.args and e.args[0] == _ENOSPC:
            self.faults |= LOG_FULL
        else:
            self.faults |= LOG_IO

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def free_bytes(self):
        try:
            st = os.statvfs(self.root)
        except Exception:
            return -1
        return st[0] * st[3]

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def _rotate(self, need):
        """Delete whole sessions, oldest first and never the current one, until there is
        room for `need` bytes beyond the reserve."""
        free = self.free_bytes()
        if free < 0:
            return
        while free < self.reserve + need:
            victim = -1
            for k in list_sessions(self.root):
                if k != self.current:
                    victim = k
                    break
            if victim < 0:
                return
            try:
                os.remove(self.root + "/" + session_name(victim))
                self.sessions_deleted += 1
            except Exception as e:
                self._fail(e)
                return
            free = self.free_bytes()

    def info(self):
        """Plain data for the host's `logs list`."""
        return {
            "active": self.active,
            "current": self.current,
            "raw": self.raw,
            "faults": self.faults,
            "dropped": self.dropped,
            "lost_blocks": self.lost_blocks,
            "flushes": self.flushes,
            "bytes_written": self.bytes_written,
            "sessions_deleted": self.sessions_deleted,
        }
