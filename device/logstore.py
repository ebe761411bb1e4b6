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

Sliced file work (`sliced=1`, the board's setting, device/main.py boot()): no service() call
does more than one piece of file work, so none overruns a sample period on the chip (issue
11). A flush seals the block at the same sample as before and swaps it with a second
buffer (the records go on into that one); the next calls each do one piece: the rotation
check, then a write of at most PIECE bytes (one flash page), then the sync. A session start
sets up the session in RAM at once (its header is built there, the records start), and
the next calls do the rotation check, the file's creation, the header's JSON (ENCODE_PARTS
keys and values a call), its write (a page a call) and its sync.
`due[0]` is the next sample while a piece is pending. The file gets the same bytes in the
same order as unsliced (the blocks end at the same samples), and a power cut between two
pieces leaves the file as at its last sync: the block in flight is lost as a cut before its
flush would lose it, nothing synced before. stop() (a session's end) still does all of its
file work in one call, finishing any pending piece first.
"""

import os
from array import array

from shared import logformat as lf
from shared.config import EXERCISE_KEYS, FEEDBACK_KEYS, POWER_KEYS, SCHEMA, format_milli
from shared.cue import COUNTER_CELL0, COUNTER_NAMES
from shared.mp import micropython

LOG_FULL = 1  # no space even after rotation: records are being dropped
LOG_IO = 2  # a filesystem error other than "full"
LOG_DROPPED = 4  # the RAM buffer overflowed (flushes too rare for the record rate)

_ENOSPC = 28
_RING_MASK = 31  # device/app.py _RING_MASK
_NEVER = 0x3FFFFFFF  # `due`: no timed work (a small int on every port)
PIECE = 256  # bytes written per sliced call: one flash page
# sliced file work, the next piece (`_phase`)
_P_IDLE = 0
_P_OPEN_ROTATE = 1  # a session start: the rotation check
_P_OPEN = 2  # create the file
_P_ROTATE = 3  # a block (or the header, after _P_OPEN): the rotation check
_P_WRITE = 4  # the next PIECE bytes
_P_SYNC = 5  # sync: the block (or the header) is on flash
_P_ENCODE = 6  # the header's JSON, ENCODE_PARTS parts (keys, values) a call
ENCODE_PARTS = 3  # 8 took ~850,000 cycles a call on the emulated RP2040


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


_LAZY = []  # type: list  # a sliced start's header: its "config" made from a copy of cfg.values, in parts


def _header_config_parts(values):
    """lf.dumps(_header_config(cfg)) in parts, from a copy of cfg.values (a sliced start:
    the texts are made while encoding, a few keys a call, not in start())."""
    skip = FEEDBACK_KEYS + EXERCISE_KEYS + POWER_KEYS
    sep = "{"
    for key in sorted(SCHEMA):
        v = values[key]
        if key in skip and v == SCHEMA[key][1]:
            continue
        t = format_milli(v) if SCHEMA[key][0] == "dec" else str(v)  # Config.text()
        yield sep + lf.dumps(str(key)) + ":" + lf.dumps(t)
        sep = ","
    yield "}" if sep == "," else "{}"


def _header_parts(info, values):
    """lf.dumps(info) in parts, its "config" (_LAZY) from values (_header_config_parts)."""
    sep = "{"
    for k in sorted(info):
        yield sep + lf.dumps(str(k)) + ":"
        sep = ","
        v = info[k]
        if v is _LAZY:
            yield from _header_config_parts(values)
        else:
            yield from lf.dumps_parts(v)
    yield "}" if sep == "," else "{}"


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
        sliced=0,
    ):
        self.root = root
        self.sliced = sliced  # file work a piece per service() call (see the module doc)
        self._phase = _P_IDLE
        self._info = None  # the header of a session being opened (sliced)
        # sliced: the block in flight, in the second buffer (the two swap at each seal:
        # nothing is copied) and a view of each, made once
        self._out = bytearray(buf_bytes if sliced else 0)
        self._outv = memoryview(self._out)
        self._recv = self._outv  # (set below, with the record buffer)
        self._pend = self._outv  # the bytes being written: a block or the header
        self._pend_n = 0
        self._pend_off = 0
        self._pend_records = 0  # the block's records (lost if its write fails)
        self._pend_head = 0  # 1: the header is in flight
        self._cfg_values = None  # a sliced start's copy of the config's values
        self._gen = None  # the header's JSON being encoded, and its parts so far
        self._parts = None
        self.period_us = period_us
        self.fw = fw
        self.device = device
        self.rec = lf.RecordBuffer(buf_bytes, period_us)
        self._recv = memoryview(self.rec.buf)
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
            "config": _LAZY if self.sliced else _header_config(app.cfg),
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
        if self.sliced:
            # the file work follows, a piece per service() call; the session (and its
            # session_index advance, on_session) starts now
            self._info = info
            self._cfg_values = dict(app.cfg.values)  # the config as it is now
            self._phase = _P_OPEN_ROTATE
            if self.on_session is not None and count:
                try:
                    self.on_session(app, k)
                except Exception:
                    self.faults |= LOG_IO
            self._set_due(app, n)
            return k
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
        self._finish()
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
        if self._phase:
            self._piece()  # one piece of sliced file work; a due flush waits for it
        elif n - self._last_flush_n >= self.flush_n or rec.pos * 4 >= rec.size * 3:
            if self.sliced:
                self._begin_block()
            else:
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
        if self._phase or self.raw or (app.faults | (self.faults << 8)) != self._faults_seen:
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
    def opening(self):
        """1 while a sliced session start has file work left (its file is not open yet)."""
        return 1 if self._info is not None or self._gen is not None else 0

    def work(self):
        """One piece of pending sliced file work, if any (for a caller waiting on it)."""
        if self._phase:
            self._piece()

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def _begin_block(self):
        """Sliced flush: seal the block, move it to the block in flight, clear the buffer."""
        rec = self.rec
        k = rec.seal()
        if k == 0:
            return
        if self.file is None:
            self.dropped += rec.records
            self.lost_blocks += 1
            rec.clear()
            return
        out = self._out
        outv = self._outv
        self._out = rec.buf
        self._outv = self._recv
        rec.buf = out
        self._recv = outv
        self._pend = self._outv
        self._pend_n = k
        self._pend_off = 0
        self._pend_records = rec.records
        self._pend_head = 0
        rec.clear()
        self._phase = _P_ROTATE

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def _piece(self):
        """One piece of sliced file work (see the module doc). Never raises."""
        ph = self._phase
        if ph == _P_OPEN_ROTATE:
            self._rotate(2048)
            self._phase = _P_OPEN
        elif ph == _P_OPEN:
            info = self._info
            self._info = None
            self._phase = _P_IDLE
            try:
                self.file = open(self.root + "/" + session_name(self.current), "wb")
            except Exception as e:
                self._fail(e)
                self._close_quietly()
                return
            self._parts = []
            self._gen = _header_parts(info, self._cfg_values)
            self._cfg_values = None
            self._phase = _P_ENCODE
        elif ph == _P_ENCODE:
            parts = self._parts
            k = ENCODE_PARTS
            for p in self._gen:  # type: ignore[union-attr]
                parts.append(p)  # type: ignore[union-attr]
                k -= 1
                if k == 0:
                    return
            self._gen = None
            self._parts = None
            # lf.header_frame(info), from its parts
            self._pend = memoryview(lf.MAGIC + lf.frame(lf.F_HEADER, "".join(parts).encode()))  # type: ignore[arg-type]
            self._pend_n = len(self._pend)
            self._pend_off = 0
            self._pend_records = 0
            self._pend_head = 1
            self._phase = _P_WRITE  # the start's rotation check covered the header
        elif ph == _P_ROTATE:
            self._rotate(self._pend_n + 512)
            self._phase = _P_WRITE
        elif ph == _P_WRITE:
            a = self._pend_off
            b = a + PIECE
            if b > self._pend_n:
                b = self._pend_n
            try:
                self.file.write(self._pend[a:b])  # type: ignore[union-attr]
            except Exception as e:
                self._lose(e)
                return
            self._pend_off = b
            if b >= self._pend_n:
                self._phase = _P_SYNC
        elif ph == _P_SYNC:
            try:
                self.file.flush()  # type: ignore[union-attr]
            except Exception as e:
                self._lose(e)
                return
            self.bytes_written += self._pend_n
            self.flushes += 1
            self.faults &= ~(LOG_FULL | LOG_IO)
            self._phase = _P_IDLE
            self._pend = self._outv

    def _lose(self, e):
        """A sliced write failed: as flush() and start() do (the block's records are lost;
        a header that fails closes the file, the session goes on without one)."""
        self._phase = _P_IDLE
        self._pend = self._outv
        self._fail(e)
        if self._pend_head or self._gen is not None:
            self._gen = None
            self._parts = None
            self._close_quietly()
        else:
            self.dropped += self._pend_records
            self.lost_blocks += 1

    def _finish(self):
        """All pending sliced file work, now (a session's end)."""
        while self._phase or self._info is not None:
            self._piece()

    @micropython.native  # on the flush schedule: no heap-allocated frame
    def flush(self):
        """Write the buffered block to the file and sync it. Never raises."""
        if self.sliced:
            self._finish()
            self._begin_block()
            self._finish()
            return
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
