"""Session log format, version 2 (`.hcl` files): the device writes it, the host reads it.

Runs under MicroPython (the writer, on the device) and CPython (the reader, on the host); the
same bytes come out of both. Everything is little-endian.

File
    b"HCL" + bytes([FORMAT_VERSION])    magic, 4 bytes
    frame, frame, ...                   first frame is the header ('H'); the last is 'E' when
                                        the session ended cleanly (a power cut leaves none)
Frame
    tag u8 | length u16 | payload[length] | crc32 u32   (crc32 of tag, length and payload)
    'H' header:  JSON object: format, fw, device, session, start_unix, start_n, period_us,
                 rate_hz, raw, reason, config (Config.as_dict()), calibration (object)
    'B' block:   block header (version 2), then records (below); one block per flush
    'E' end:     JSON object: reason, t_cs, steps, cues, dropped, faults, lost_blocks, blocks
                 (version 2: the number of the block that would come next, so a reader
                 also sees the last blocks missing)
Block header (version 2, 6 bytes, 7 when the clocks are far apart): u8 state: bits 0-4 seq
    (the block's number in the session, from 0, modulo 32: blocks written or attempted),
    bit 5 EV_FULL, bit 6 the side of the last step before the block, bit 7 the probe flag;
    u24 step clock at the block's start, modulo 2**24 (46.6 hours: the reader takes the value
    nearest the clock it had); then the event clock: i16 event - step clock, or with EV_FULL
    u24 modulo 2**24 (when the difference does not fit). Each block is self-contained: a
    block that is lost (a failed write) or torn loses only its own records; the next block
    carries the clocks and the side, and its seq shows how many blocks are missing (up to 31
    in a row).
Reading: a frame that is cut short or fails its CRC is skipped: the reader looks for the next
    intact block or end frame after it (resync) and reports the skipped bytes and any missing
    block numbers in `gaps`; when none follows (a torn tail), the rest is dropped and reported
    in `error`. Version 1 files (no block header; the clocks continue from block to block)
    are still read; there the first bad frame ends the readable part, as before.

Records in a block. Two clocks, both in 10 ms units (cs) from the session start: the step
clock (steps, R_TIME) and the event clock (cues, faults, summaries, R_ETIME). A record's dt is
the time since the previous record on its clock; the clocks continue from block to block.
    0x00..0xDF  short step, 2 bytes: dt = byte0; byte1 = cued << 7 | drop (0.1 deg, 0..127);
                the stance side alternates (the opposite of the previous step's side)
    R_STEP      0xE0 dt u8, u16 side << 15 | cued << 14 | drop (0.1 deg, 0..16383): 4 bytes
    R_TIME      0xE1 u16 advance of the step clock (a pause longer than 2.23 s): 3 bytes
    R_CUE       0xE2 dt u8: a cue fired: 2 bytes
    R_FAULT     0xE3 dt u8, u16 fault bits (their new value): 4 bytes
    R_SUMMARY   0xE4 dt u8, u16 steps, cues, late, missed, dropped since the last: 12 bytes
    R_ETIME     0xE5 u16 advance of the event clock (a gap longer than 2.55 s): 3 bytes
    R_BACK      0xE6 u16 step clock set back (a step reported after a later one): 3 bytes
    R_FEEDBACK  0xE7 dt u8, count u8, count x u16: the feedback counters (shared/cue.py
                COUNTER_NAMES order: gated, ..., withheld_probe, probe_steps) accumulated since
                the previous R_FEEDBACK of the session (or its start), each saturating at 65535;
                written with a summary (each minute and at the end) when any is non-zero
    R_PROBE     0xE8 u8 flag: the steps after this record (this session) were (1) / were not
                (0) in a feedback-off probe block; written when the flag changes (from 0)
    0xE9..0xEF  extension records: tag, u8 length, payload[length]; a reader skips the ones it
                does not know (so later additions keep this reader working)
    R_GATED     0xE9 (extension) length 1, u8 gate bits (shared/cue.py GATE_TURN 4, GATE_TILT
                64): the next step of the block was taken in a turn or bent over/reclined
                (issue 16: the progress view averages only level straight steps); written
                only before such a step, so a step without it was level and straight
    R_RAW       0xF0 u32 n0, u8 count, count x (int16 ax ay az gx gy gz raw counts): samples
                n0, n0 + 1, ... on the firmware's time grid (raw capture only)

R_FEEDBACK and R_PROBE (issue #7) are written only when the feedback rules suppress or
withhold something or probe blocks are on: a session with the default rules is byte-for-byte
what it was before them. A reader from before them stops at the first block holding one
("unknown record type"; everything before that block is kept).

Size: a walking step is 2 bytes (4 when its side repeats or its drop is over 12.7 deg), a cue
2 bytes, a flush 13 bytes (frame 7 + block header 6), a summary 15 bytes a minute
(`make bench` measures hours per MB on a synthetic walk: sim/logstore_run.py bench).
Raw capture: 12 bytes a sample plus 6 per 255 samples and 13 per flush: ~72 kB a minute at
100 Hz.
"""

import json
import struct
from binascii import crc32

from shared.mp import micropython

FORMAT_VERSION = 2
MAGIC = b"HCL\x02"
READS = (1, 2)  # format versions this reader takes
BLOCK_HEADER = 6  # version 2 (7 with EV_FULL): u8 state, u24 step clock, i16 / u24 event clock
SEQ_MASK = 31
EV_FULL = 0x20
CLOCK_MASK = 0xFFFFFF

F_HEADER = 0x48  # 'H'
F_BLOCK = 0x42  # 'B'
F_END = 0x45  # 'E'

R_STEP = 0xE0
R_TIME = 0xE1
R_CUE = 0xE2
R_FAULT = 0xE3
R_SUMMARY = 0xE4
R_ETIME = 0xE5
R_BACK = 0xE6
R_FEEDBACK = 0xE7
R_PROBE = 0xE8
R_GATED = 0xE9  # an extension record (below)
R_EXT_FIRST = 0xE9  # ..0xEF: tag, u8 length, payload (skipped when unknown)
R_EXT_LAST = 0xEF
R_RAW = 0xF0

SHORT_DT_MAX = 0xDF
FRAME_OVERHEAD = 7
RAW_SAMPLE_BYTES = 12


@micropython.native  # called per record: no heap-allocated frame
def cs_of(d, period_us):
    """Grid samples -> 10 ms units, exact, with no intermediate beyond 2**30 (no big ints)."""
    q = d // 10000
    r = d - q * 10000
    return q * period_us + (r * period_us) // 10000


def frame(tag, payload):
    """A whole frame as bytes (header and end frames; blocks are built in place)."""
    n = len(payload)
    head = bytes((tag, n & 0xFF, n >> 8))
    c = crc32(payload, crc32(head)) & 0xFFFFFFFF
    return head + payload + struct.pack("<I", c)


def dumps(obj):
    """Compact JSON with sorted keys: the same bytes under MicroPython and CPython (whose
    dicts iterate in different orders). Strings should be ASCII."""
    if isinstance(obj, dict):
        keys = sorted(obj)
        return "{" + ",".join(json.dumps(str(k)) + ":" + dumps(obj[k]) for k in keys) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def dumps_parts(obj):
    """dumps(obj) in parts, in order: "".join(dumps_parts(obj)) == dumps(obj); a dict's key
    and a value each a part (a list one part). For encoding spread over several calls
    (device/logstore.py: a header's JSON took ~2.5 M cycles in one call on the emulated
    RP2040)."""
    if isinstance(obj, dict):
        sep = "{"
        for k in sorted(obj):
            yield sep + json.dumps(str(k)) + ":"
            sep = ","
            yield from dumps_parts(obj[k])
        yield "}" if sep == "," else "{}"
    else:
        yield dumps(obj)


def header_frame(info):
    return MAGIC + frame(F_HEADER, dumps(info).encode())


def end_frame(info):
    return frame(F_END, dumps(info).encode())


class RecordBuffer:
    """Records of one block, appended into a preallocated buffer: appending allocates nothing
    (the append methods are @native: a bytecode frame of their size would be allocated on
    the heap on every call).

    The buffer keeps 3 bytes in front for the frame's tag and length and 4 at the end for its
    CRC, so `seal()` finishes the frame in place. A record that does not fit is dropped and
    counted (`dropped`); the clocks are not advanced by dropped records.
    """

    def __init__(self, size, period_us):
        self.buf = bytearray(size)
        self.size = size
        self.period_us = period_us
        self.dropped = 0
        self.restart(0)

    def restart(self, n0):
        """A new session starting at grid sample n0: both clocks at 0."""
        self.n0 = n0
        self.step_cs = 0
        self.event_cs = 0
        self.side = 1  # so a first left step may be short
        self.probe = 0  # the probe flag of the steps written (R_PROBE)
        self.seq = 0  # number of the next block in the session
        self._begin()

    def clear(self):
        """After a flush (written or failed): empty, clocks kept; the next block's number is
        one up, so a reader sees a block that never landed."""
        self.seq = (self.seq + 1) & SEQ_MASK
        self._begin()

    def _begin(self):
        # The block header: the state a reader needs to decode this block on its own.
        b = self.buf
        st = self.seq | ((self.side & 1) << 6) | ((self.probe & 1) << 7)
        v = self.step_cs
        b[4] = v & 0xFF
        b[5] = (v >> 8) & 0xFF
        b[6] = (v >> 16) & 0xFF
        d = self.event_cs - v
        if -32768 <= d <= 32767:
            d &= 0xFFFF
            b[7] = d & 0xFF
            b[8] = d >> 8
            self.b0 = 9
        else:
            st |= EV_FULL
            v = self.event_cs
            b[7] = v & 0xFF
            b[8] = (v >> 8) & 0xFF
            b[9] = (v >> 16) & 0xFF
            self.b0 = 10
        b[3] = st
        self.pos = self.b0
        self.raw_at = 0  # position of the open raw chunk's count byte (0: none)
        self.raw_next = -1
        self.records = 0

    @micropython.native
    def room(self, k):
        return self.pos + k + 4 <= self.size

    def fill(self):
        return self.pos

    @micropython.native
    def _t(self, n):
        return cs_of(n - self.n0, self.period_us)

    @micropython.native
    def step(self, n, side, drop_mdeg, cued):
        t = self._t(n)
        dt = t - self.step_cs
        back = 0
        if dt < 0:
            back = -dt
            dt = 0
        ds = (drop_mdeg + 50) // 100
        if ds < 0:
            ds = 0
        elif ds > 16383:
            ds = 16383
        adv = 0
        if dt > SHORT_DT_MAX:
            adv = dt
            dt = 0
        need = 4 if (side == self.side or ds > 127) else 2
        extra = 3 * ((adv + 65534) // 65535) + 3 * ((back + 65534) // 65535)
        if not self.room(need + extra):
            self.dropped += 1
            return 0
        b = self.buf
        p = self.pos
        while back > 0:
            a = back if back < 65535 else 65535
            b[p] = R_BACK
            b[p + 1] = a & 0xFF
            b[p + 2] = a >> 8
            p += 3
            back -= a
        while adv > 0:
            a = adv if adv < 65535 else 65535
            b[p] = R_TIME
            b[p + 1] = a & 0xFF
            b[p + 2] = a >> 8
            p += 3
            adv -= a
        if need == 2:
            b[p] = dt
            b[p + 1] = (cued << 7) | ds
            p += 2
        else:
            v = (side << 15) | (cued << 14) | ds
            b[p] = R_STEP
            b[p + 1] = dt
            b[p + 2] = v & 0xFF
            b[p + 3] = v >> 8
            p += 4
        self.pos = p
        self.step_cs = t
        self.side = side
        self.records += 1
        self.raw_at = 0
        return 1

    @micropython.native
    def _event(self, n, tag, k):
        # Writes the event's tag and dt (after any R_ETIME); returns the position after them,
        # or 0 when the record (k bytes after tag and dt) does not fit.
        t = self._t(n)
        dt = t - self.event_cs
        if dt < 0:
            dt = 0
            t = self.event_cs
        adv = 0
        if dt > 255:
            adv = dt
            dt = 0
        if not self.room(2 + k + 3 * ((adv + 65534) // 65535)):
            self.dropped += 1
            return 0
        b = self.buf
        p = self.pos
        while adv > 0:
            a = adv if adv < 65535 else 65535
            b[p] = R_ETIME
            b[p + 1] = a & 0xFF
            b[p + 2] = a >> 8
            p += 3
            adv -= a
        b[p] = tag
        b[p + 1] = dt
        self.event_cs = t
        self.records += 1
        self.raw_at = 0
        return p + 2

    @micropython.native
    def cue(self, n):
        p = self._event(n, R_CUE, 0)
        if p:
            self.pos = p
        return 1 if p else 0

    @micropython.native
    def fault(self, n, bits):
        p = self._event(n, R_FAULT, 2)
        if p:
            b = self.buf
            b[p] = bits & 0xFF
            b[p + 1] = (bits >> 8) & 0xFF
            self.pos = p + 2
        return 1 if p else 0

    @micropython.native
    def summary(self, n, steps, cues, late, missed, dropped):
        p = self._event(n, R_SUMMARY, 10)
        if p:
            struct.pack_into(
                "<HHHHH",
                self.buf,
                p,
                _u16(steps),
                _u16(cues),
                _u16(late),
                _u16(missed),
                _u16(dropped),
            )
            self.pos = p + 10
        return 1 if p else 0

    @micropython.native
    def feedback(self, n, counts):
        """The feedback counters accumulated since the last call (a sequence of ints)."""
        k = len(counts)
        p = self._event(n, R_FEEDBACK, 1 + 2 * k)
        if p:
            b = self.buf
            b[p] = k
            p += 1
            for i in range(k):
                v = _u16(counts[i])
                if v < 0:
                    v = 0
                b[p] = v & 0xFF
                b[p + 1] = v >> 8
                p += 2
            self.pos = p
        return 1 if p else 0

    @micropython.native
    def probe_flag(self, flag):
        """Mark the steps written after this as in (1) / out of (0) a probe block."""
        if flag == self.probe:
            return 1
        if not self.room(2):
            self.dropped += 1
            return 0
        b = self.buf
        b[self.pos] = R_PROBE
        b[self.pos + 1] = 1 if flag else 0
        self.pos += 2
        self.probe = 1 if flag else 0
        self.records += 1
        self.raw_at = 0
        return 1

    @micropython.native
    def gated(self, bits):
        """The next step was taken with these turn/tilt gate bits on (R_GATED, 3 bytes; written
        only with room for the step after it, so it never marks a later step)."""
        if not self.room(7):
            self.dropped += 1
            return 0
        b = self.buf
        p = self.pos
        b[p] = R_GATED
        b[p + 1] = 1
        b[p + 2] = bits & 0xFF
        self.pos = p + 3
        self.records += 1
        self.raw_at = 0
        return 1

    @micropython.native
    def raw(self, n, s):
        """One IMU sample (array of 6 raw int16 counts) at grid index n."""
        b = self.buf
        at = self.raw_at
        if at and n == self.raw_next and b[at] < 255:
            if not self.room(RAW_SAMPLE_BYTES):
                self.dropped += 1
                return 0
            p = self.pos
            b[at] += 1
        else:
            if not self.room(6 + RAW_SAMPLE_BYTES):
                self.dropped += 1
                return 0
            p = self.pos
            b[p] = R_RAW
            struct.pack_into("<I", b, p + 1, n)
            b[p + 5] = 1
            self.raw_at = p + 5
            p += 6
        struct.pack_into("<hhhhhh", b, p, s[0], s[1], s[2], s[3], s[4], s[5])
        self.pos = p + RAW_SAMPLE_BYTES
        self.raw_next = n + 1
        return 1

    def seal(self):
        """Finish the block frame in place; returns its length (0 when there are no records)."""
        if self.pos <= self.b0:
            return 0
        n = self.pos - 3
        b = self.buf
        b[0] = F_BLOCK
        b[1] = n & 0xFF
        b[2] = n >> 8
        c = crc32(memoryview(b)[: self.pos]) & 0xFFFFFFFF
        p = self.pos
        b[p] = c & 0xFF
        b[p + 1] = (c >> 8) & 0xFF
        b[p + 2] = (c >> 16) & 0xFF
        b[p + 3] = (c >> 24) & 0xFF
        return self.pos + 4


@micropython.native
def _u16(v):
    return v if v < 65535 else 65535


# -- reading (host and tests; also runs under MicroPython) ------------------------------------


def parse(data):
    """Parse a whole session file. Returns a dict:

    header (dict or None), end (dict or None), steps [(t_cs, side, drop_ds, cued)],
    cues [t_cs], faults [(t_cs, bits)], summaries [(t_cs, steps, cues, late, missed, dropped)],
    feedback [(t_cs, [counts])] (R_FEEDBACK), probe [0/1 per step, in step order] (R_PROBE),
    gated [gate bits per step, in step order: 0 level straight] (R_GATED),
    raw [(n0, bytes)] (runs of 12-byte samples), frames (count of good frames),
    good_bytes (end of the last intact frame), error (None, or why the rest was dropped),
    version (of the file), gaps (version 2: ["skipped", at byte, bytes, step clock] for bytes
    skipped to the next intact frame, ["blocks", at byte, count, step clock] for block
    numbers missing before the block at that byte; the step clock is the last one known).
    """
    out = {
        "header": None,
        "end": None,
        "steps": [],
        "cues": [],
        "faults": [],
        "summaries": [],
        "feedback": [],
        "probe": [],
        "gated": [],
        "raw": [],
        "frames": 0,
        "good_bytes": 0,
        "error": None,
        "version": 0,
        "gaps": [],
    }  # type: dict
    if len(data) == 0:
        out["error"] = "empty file"
        return out
    if len(data) < 4 or bytes(data[:3]) != MAGIC[:3] or data[3] not in READS:
        if bytes(data[:3]) == MAGIC[:3] and len(data) >= 4:
            out["error"] = "format version %d is not supported (this reader: %s)" % (
                data[3],
                ", ".join(str(v) for v in READS),
            )
        else:
            out["error"] = "not a hipcue session log (bad magic)"
        return out
    version = data[3]
    out["version"] = version
    mv = memoryview(data)
    pos = 4
    out["good_bytes"] = 4
    clocks = [0, 0, 1, 0, 0]  # step clock, event clock, previous side, probe flag, next seq
    while pos < len(data):
        err = _frame_error(data, mv, pos)
        if err is None:
            tag = data[pos]
            end = pos + 3 + (data[pos + 1] | (data[pos + 2] << 8))
            payload = mv[pos + 3 : end]
            if tag == F_HEADER:
                if out["header"] is not None:
                    err = "second header at byte %d" % pos
            elif out["header"] is None:
                out["error"] = "frame at byte %d comes before the header" % pos
                break
            elif tag == F_BLOCK:
                if version >= 2:
                    e = _block(payload, clocks, out, pos)
                else:
                    e = _records(payload, clocks, out)
                if e:
                    err = "block at byte %d: %s" % (pos, e)
            elif tag != F_END:
                err = "unknown frame type 0x%02x at byte %d" % (tag, pos)
        if err is not None:
            nxt = _resync(data, mv, pos + 1) if version >= 2 and out["header"] else -1
            if nxt < 0:
                out["error"] = err
                break
            out["gaps"].append(["skipped", pos, nxt - pos, clocks[0]])
            pos = nxt
            continue
        if tag == F_HEADER:
            out["header"] = json.loads(bytes(payload).decode())
        elif tag == F_END:
            out["end"] = e = json.loads(bytes(payload).decode())
            if version >= 2 and isinstance(e, dict) and isinstance(e.get("blocks"), int):
                k = (e["blocks"] - clocks[4]) & SEQ_MASK
                if k:
                    out["gaps"].append(["blocks", pos, k, clocks[0]])
        pos = end + 4
        out["frames"] += 1
        out["good_bytes"] = pos
    return out


def _frame_error(data, mv, pos):
    # Why the frame at pos is not intact, or None.
    if len(data) - pos < FRAME_OVERHEAD:
        return "torn frame at byte %d (%d bytes)" % (pos, len(data) - pos)
    n = data[pos + 1] | (data[pos + 2] << 8)
    end = pos + 3 + n
    if end + 4 > len(data):
        return "torn frame at byte %d (needs %d bytes, %d left)" % (
            pos,
            n + FRAME_OVERHEAD,
            len(data) - pos,
        )
    want = struct.unpack_from("<I", data, end)[0]
    if crc32(mv[pos:end]) & 0xFFFFFFFF != want:
        return "CRC error in frame at byte %d" % pos
    return None


def _resync(data, mv, pos):
    # The next position from pos holding an intact block or end frame (-1: none).
    n = len(data)
    while pos + FRAME_OVERHEAD <= n:
        t = data[pos]
        if (t == F_BLOCK or t == F_END) and _frame_error(data, mv, pos) is None:
            return pos
        pos += 1
    return -1


def _block(payload, clocks, out, at):
    # A version-2 block: its header sets the clocks and the side, then its records.
    if len(payload) < BLOCK_HEADER:
        return "block header cut off"
    p = payload
    seq = p[0] & SEQ_MASK
    want = clocks[4]
    if seq != want:
        out["gaps"].append(["blocks", at, (seq - want) & SEQ_MASK, clocks[0]])
    sc = _unwrap(p[1] | (p[2] << 8) | (p[3] << 16), clocks[0])
    k = BLOCK_HEADER
    if p[0] & EV_FULL:
        if len(payload) < k + 1:
            return "block header cut off"
        ec = _unwrap(p[4] | (p[5] << 8) | (p[6] << 16), clocks[1])
        k += 1
    else:
        d = p[4] | (p[5] << 8)
        ec = sc + (d - 0x10000 if d & 0x8000 else d)
    clocks[0] = sc
    clocks[1] = ec
    clocks[2] = (p[0] >> 6) & 1
    clocks[3] = (p[0] >> 7) & 1
    clocks[4] = (seq + 1) & SEQ_MASK
    return _records(payload[k:], clocks, out)


def _unwrap(v24, prev):
    # The clock value that is v24 modulo 2**24, nearest to prev (clocks move forward; the
    # step clock may be set back by a few seconds, R_BACK).
    v = (prev & ~CLOCK_MASK) | v24
    if v < prev - (1 << 23):
        v += 1 << 24
    elif v > prev + (1 << 23) and v >= 1 << 24:
        v -= 1 << 24
    return v


def _records(p, clocks, out):
    # Parse one block's records, appending to out; on an error nothing is appended.
    steps = []
    cues = []
    faults = []
    sums = []
    fb = []
    probes = []
    gated = []
    pending = 0
    raw = []
    sc, ec, side, probe = clocks[0], clocks[1], clocks[2], clocks[3]
    i = 0
    n = len(p)
    while i < n:
        b = p[i]
        if b <= SHORT_DT_MAX:
            if i + 2 > n:
                return "short step record cut off"
            sc += b
            side = 1 - side
            v = p[i + 1]
            steps.append((sc, side, v & 0x7F, v >> 7))
            probes.append(probe)
            gated.append(pending)
            pending = 0
            i += 2
        elif b == R_STEP:
            if i + 4 > n:
                return "step record cut off"
            sc += p[i + 1]
            v = p[i + 2] | (p[i + 3] << 8)
            side = v >> 15
            steps.append((sc, side, v & 0x3FFF, (v >> 14) & 1))
            probes.append(probe)
            gated.append(pending)
            pending = 0
            i += 4
        elif b == R_TIME or b == R_ETIME or b == R_BACK:
            if i + 3 > n:
                return "time record cut off"
            a = p[i + 1] | (p[i + 2] << 8)
            if b == R_TIME:
                sc += a
            elif b == R_BACK:
                sc -= a
            else:
                ec += a
            i += 3
        elif b == R_CUE or b == R_FAULT or b == R_SUMMARY:
            k = 2 if b == R_CUE else (4 if b == R_FAULT else 12)
            if i + k > n:
                return "event record 0x%02x cut off" % b
            ec += p[i + 1]
            if b == R_CUE:
                cues.append(ec)
            elif b == R_FAULT:
                faults.append((ec, p[i + 2] | (p[i + 3] << 8)))
            else:
                sums.append((ec,) + struct.unpack_from("<HHHHH", p, i + 2))
            i += k
        elif b == R_FEEDBACK:
            if i + 3 > n:
                return "feedback record cut off"
            k = p[i + 2]
            if i + 3 + 2 * k > n:
                return "feedback record cut off"
            ec += p[i + 1]
            fb.append((ec, [p[i + 3 + 2 * j] | (p[i + 4 + 2 * j] << 8) for j in range(k)]))
            i += 3 + 2 * k
        elif b == R_PROBE:
            if i + 2 > n:
                return "probe record cut off"
            probe = 1 if p[i + 1] else 0
            i += 2
        elif R_EXT_FIRST <= b <= R_EXT_LAST:
            if i + 2 > n or i + 2 + p[i + 1] > n:
                return "extension record 0x%02x cut off" % b
            if b == R_GATED and p[i + 1] >= 1:
                pending = p[i + 2]
            i += 2 + p[i + 1]
        elif b == R_RAW:
            if i + 6 > n:
                return "raw record cut off"
            n0 = struct.unpack_from("<I", p, i + 1)[0]
            c = p[i + 5]
            e = i + 6 + c * RAW_SAMPLE_BYTES
            if c == 0 or e > n:
                return "raw record cut off"
            raw.append((n0, bytes(p[i + 6 : e])))
            i = e
        else:
            return "unknown record type 0x%02x at offset %d" % (b, i)
    clocks[0] = sc
    clocks[1] = ec
    clocks[2] = side
    clocks[3] = probe
    out["steps"].extend(steps)
    out["feedback"].extend(fb)
    out["probe"].extend(probes)
    out["gated"].extend(gated)
    out["cues"].extend(cues)
    out["faults"].extend(faults)
    out["summaries"].extend(sums)
    out["raw"].extend(raw)
    return None
