"""hipcue serial protocol v1: one module for the firmware (device/service.py) and the host.

The device's USB serial port is also the MicroPython REPL, so a frame must never look like
REPL traffic and must never contain a REPL control byte (0x01..0x05: raw REPL, Ctrl-C, Ctrl-D).

Wire format of one frame (either direction):

    SOF (0x1E)  base64(frame)  LF (0x0A)

    frame = ver u8 | type u8 | seq u16 | len u16 | payload[len] | crc32 u32   (little-endian)

- base64 keeps every byte of a frame inside [A-Za-z0-9+/=], so binary payloads (log chunks)
  get through intact and a 0x03 can never appear inside a frame; binascii does the encoding
  in C on both sides (measured 11-19 MB/s on the unix port), cheaper than COBS or byte
  stuffing in bytecode. Cost: 4/3 on the wire.
- SOF (ASCII "record separator") is not a REPL control byte; a SOF inside a frame restarts
  the frame, so a frame cut off by a host that went away is dropped by the next one.
- crc32 (binascii.crc32, in both MicroPython and CPython) covers ver..payload; len catches
  truncation; ver lets later versions be refused with a clear error.
- seq matches a response to its request (the host never uses 0; the device answers a
  frame whose seq it could not read with seq 0). Events (live stream) carry their own
  counter in seq so the host can count lost events.
- Text between frames (print output, tracebacks, the REPL banner) is ignored by the host.
  A bare 0x03 between frames stops the app (Ctrl-C for mpremote); see device/service.py.

Requests carry a JSON object {"cmd": NAME, ...}; answers are OK (JSON), DATA (binary: log
chunks) or ERR (JSON {"code", "error", "msg"}). Events are binary records (EVT_* below).
"""

import binascii
import struct

VERSION = 1
SOF = 0x1E
EOL = 0x0A
HEADER = 6  # ver, type, seq, len
TRAILER = 4  # crc32
MAX_REQUEST = 512  # payload bytes of a request: commands are small
CHUNK = 4096  # log bytes per DATA frame
DATA_HEADER = 8  # offset u32, file size u32
MAX_PAYLOAD = CHUNK + DATA_HEADER  # largest payload either side sends


def b64_len(n):
    """Length of base64 text for n raw bytes (no newline)."""
    return (n + 2) // 3 * 4


# Longest SOF..LF line the device accepts (a request) and the host accepts (anything).
MAX_REQUEST_LINE = 1 + b64_len(HEADER + MAX_REQUEST + TRAILER) + 1
MAX_LINE = 1 + b64_len(HEADER + MAX_PAYLOAD + TRAILER) + 1

# Frame types.
T_REQ = 1  # host -> device: JSON {"cmd": ...}
T_OK = 2  # device -> host: JSON result
T_DATA = 3  # device -> host: binary result (DATA_HEADER + bytes)
T_ERR = 4  # device -> host: JSON {"code": int, "error": name, "msg": text}
T_EVT = 5  # device -> host: live event (binary, EVT_* below); seq = event counter

# Error codes (stable: the host maps them to messages and exit codes).
E_FRAME = 1  # malformed frame: not base64, too short, length field disagrees
E_CRC = 2  # CRC mismatch
E_VERSION = 3  # protocol version not supported
E_TOO_BIG = 4  # request longer than MAX_REQUEST
E_UNKNOWN_CMD = 5
E_BAD_REQUEST = 6  # payload not a JSON object, missing or wrongly typed argument
E_CONFIG = 7  # config value refused by the schema
E_NOT_FOUND = 8  # no such log
E_BAD_NAME = 9  # log name not allowed (path traversal, too long, bad characters)
E_BUSY = 10  # e.g. deleting the log being written, or calibrating already
E_IO = 11  # filesystem error on the device
E_STATE = 12  # command not possible now (e.g. no app running)
E_INTERNAL = 13  # a bug on the device: the message says where

ERROR_NAMES = {
    E_FRAME: "bad_frame",
    E_CRC: "bad_crc",
    E_VERSION: "bad_version",
    E_TOO_BIG: "too_big",
    E_UNKNOWN_CMD: "unknown_command",
    E_BAD_REQUEST: "bad_request",
    E_CONFIG: "bad_config",
    E_NOT_FOUND: "not_found",
    E_BAD_NAME: "bad_name",
    E_BUSY: "busy",
    E_IO: "io_error",
    E_STATE: "bad_state",
    E_INTERNAL: "internal",
}

# Live events: first payload byte is the kind.
EVT_SAMPLE = 0x53  # 'S': n u32, obliquity mdeg i32, tilt mdeg i32, motor u8, cues u16
EVT_STEP = 0x50  # 'P': ic n u32, end n u32, side u8 (0 L stance, 1 R), drop mdeg i32, cued u8
EVT_SAMPLE_FMT = "<BIiiBH"
EVT_STEP_FMT = "<BIIBiB"
EVT_SAMPLE_SIZE = 16
EVT_STEP_SIZE = 15

# Log names: no path separators or dot-dot, bounded length (device filesystems are small).
LOG_NAME_MAX = 32
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

# 256-entry table: 1 where the byte may appear inside a frame's base64 text.
B64_OK = bytearray(256)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=":
    B64_OK[_c] = 1


class ProtocolError(ValueError):
    """A frame or request that cannot be accepted; code is one of E_*."""

    def __init__(self, code, msg, seq=0):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.seq = seq


def seal(raw, typ, seq, n, version=VERSION):
    """Fill in header and CRC around raw[HEADER:HEADER + n]; returns the frame's length."""
    struct.pack_into("<BBHH", raw, 0, version, typ, seq & 0xFFFF, n)
    end = HEADER + n
    crc = binascii.crc32(memoryview(raw)[:end]) & 0xFFFFFFFF
    struct.pack_into("<I", raw, end, crc)
    return end + TRAILER


def encode(typ, seq, payload, version=VERSION):
    """One frame as wire bytes: SOF, base64, LF."""
    n = len(payload)
    raw = bytearray(HEADER + n + TRAILER)
    raw[HEADER : HEADER + n] = payload
    seal(raw, typ, seq, n, version)
    return b"\x1e" + binascii.b2a_base64(bytes(raw))


def peek_seq(text):
    """Best-effort seq from the start of a frame's base64 text (for errors); 0 if unknown."""
    if len(text) < 8:
        return 0
    try:
        raw = binascii.a2b_base64(bytes(text[:8]))
    except ValueError:
        return 0
    if len(raw) < 4:
        return 0
    return raw[2] | (raw[3] << 8)


def decode(text):
    """base64 text between SOF and LF -> (type, seq, payload bytes); raises ProtocolError."""
    try:
        raw = binascii.a2b_base64(text)
    except ValueError:
        raise ProtocolError(E_FRAME, "frame is not valid base64", peek_seq(text)) from None
    if len(raw) < HEADER + TRAILER:
        raise ProtocolError(E_FRAME, "frame too short (%d bytes)" % len(raw))
    ver, typ, seq, n = struct.unpack_from("<BBHH", raw, 0)
    if len(raw) != HEADER + n + TRAILER:
        raise ProtocolError(
            E_FRAME, "frame length %d does not match its header (%d)" % (len(raw), n), seq
        )
    (crc,) = struct.unpack_from("<I", raw, HEADER + n)
    if binascii.crc32(memoryview(raw)[: HEADER + n]) & 0xFFFFFFFF != crc:
        raise ProtocolError(E_CRC, "CRC mismatch", seq)
    if ver != VERSION:
        raise ProtocolError(
            E_VERSION, "protocol version %d not supported (device speaks %d)" % (ver, VERSION), seq
        )
    return typ, seq, raw[HEADER : HEADER + n]


def check_log_name(name):
    """None if `name` is an acceptable log file name, else the reason it is not."""
    if not isinstance(name, str):
        return "log name must be text"
    if not name or len(name) > LOG_NAME_MAX:
        return "log name must be 1..%d characters" % LOG_NAME_MAX
    if name[0] == "." or ".." in name:
        return "log name %r must not start with '.' or contain '..'" % name
    for ch in name:
        if ch not in _NAME_CHARS:
            return "log name %r: only letters, digits, '.', '_' and '-' are allowed" % name
    return None
