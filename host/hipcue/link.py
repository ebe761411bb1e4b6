"""Host side of the serial protocol (shared/protocol.py): find a board, open it, talk to it.

Ports are opened through `serial.serial_for_url`, so --port takes a device path
(/dev/ttyACM0, COM5, the pty that `hipcue sim` prints) or any pyserial URL
(`socket://host:port`, `rfc2217://...`, `loop://`).

`Client.request` sends one request and waits for the answer with the same seq; when none
comes in time, or the frame arrived damaged, it sends the same frame again (the device
answers a repeated seq+payload with its stored answer, so a retry never runs a command
twice). Text between frames (print output, tracebacks, a REPL prompt) is kept so that a
device sitting at the REPL gets a clear message instead of a timeout.
"""

from __future__ import annotations

import collections
import json
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial
import serial.tools.list_ports

from hipcue import HipcueError
from shared import protocol as P

# USB VID:PID of MicroPython firmware on the supported boards (hardware/README.md).
BOARD_IDS: dict[tuple[int, int], str] = {
    (0x2E8A, 0x0005): "Raspberry Pi Pico (MicroPython)",
    (0x2341, 0x015E): "Arduino Nano RP2040 Connect (MicroPython)",
    (0xF055, 0x9802): "MicroPython board",
}


class LinkError(HipcueError):
    """No device, no answer, or the port failed (CLI exit code 3)."""


class DeviceError(HipcueError):
    """The device refused a request: code is one of shared.protocol.E_*."""

    def __init__(self, code: int, name: str, msg: str) -> None:
        super().__init__(f"device: {msg} ({name})")
        self.code = code
        self.name = name
        self.msg = msg


@dataclass
class Board:
    port: str
    vid: int
    pid: int
    description: str
    serial_number: str | None


def find_boards(all_ports: bool = False) -> list[Board]:
    """Serial ports with a MicroPython board's VID:PID (or every USB serial port)."""
    found = []
    for p in serial.tools.list_ports.comports():
        if p.vid is None or p.pid is None:
            continue
        name = BOARD_IDS.get((p.vid, p.pid))
        if name is None and not all_ports:
            continue
        found.append(Board(p.device, p.vid, p.pid, name or p.description, p.serial_number))
    return found


def resolve_port(port: str | None) -> str:
    """The --port value, or the only board present."""
    if port:
        return port
    boards = find_boards()
    if not boards:
        raise LinkError(
            "no MicroPython board found (plug one in, or give --port; "
            "`hipcue sim` prints a virtual one)"
        )
    if len(boards) > 1:
        names = ", ".join(b.port for b in boards)
        raise LinkError(f"{len(boards)} boards found ({names}): choose one with --port")
    return boards[0].port


class PortBusy(LinkError):
    """Another program (another hipcue) holds the port's exclusive lock."""


def open_port(port: str) -> serial.SerialBase:
    """Open the port exclusively: a device path gets pyserial's exclusive lock (flock on
    POSIX), so a second hipcue on the same port fails at once with "port busy" instead of
    taking the first one's answers (which made it report a failure for a change the device
    had applied). URL ports (socket://, loop://) have no lock."""
    try:
        # Baud rate means nothing to USB CDC or a pty; pyserial puts the port in raw mode.
        return serial.serial_for_url(
            port, baudrate=115200, timeout=0.02, write_timeout=2, exclusive=True
        )
    except (serial.SerialException, OSError, ValueError) as e:
        if "exclusively lock" in str(e):
            raise PortBusy(
                f"{port}: port busy (another hipcue or program holds it; close it and retry)"
            ) from None
        raise LinkError(f"cannot open {port}: {e}") from None


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


class Client:
    def __init__(
        self,
        ser: serial.SerialBase,
        timeout: float = 1.0,
        retries: int = 3,
    ) -> None:
        self.ser = ser
        self.timeout = timeout
        self.retries = retries
        self._seq = random.randint(1, 0xFFFF)
        self._buf = bytearray()
        self._answers: dict[int, Frame] = {}
        self.events: collections.deque[Frame] = collections.deque(maxlen=4096)
        self.text = bytearray()  # recent bytes seen between frames
        self.bad_frames = 0
        self.retried = 0
        try:
            ser.reset_input_buffer()  # answers a previous host left unread
        except (serial.SerialException, OSError):
            pass

    def close(self) -> None:
        self.ser.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ----------------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq = self._seq % 0xFFFF + 1  # 1..65535: 0 means "seq unknown"
        return self._seq

    def send(self, seq: int, req: dict[str, Any]) -> bytes:
        payload = json.dumps(req, separators=(",", ":")).encode()
        if len(payload) > P.MAX_REQUEST:
            raise HipcueError(f"request too long ({len(payload)} > {P.MAX_REQUEST} bytes)")
        wire = P.encode(P.T_REQ, seq, payload)
        self.write(wire)
        return wire

    def write(self, data: bytes) -> None:
        try:
            self.ser.write(data)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"write to {self.ser.name} failed: {e}") from None

    def pump(self, wait: float) -> None:
        """Read what has arrived (waiting up to `wait` s for the first byte); sort frames."""
        ser = self.ser
        try:
            n = ser.in_waiting
            if n == 0 and wait > 0:
                data = ser.read(1)  # waits up to ser.timeout (set once: changing it is a syscall)
                n = ser.in_waiting
                if n:
                    data += ser.read(n)
            else:
                data = ser.read(n) if n else b""
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"read from {ser.name} failed: {e}") from None
        if data:
            self._buf += data
            self._parse()

    def _parse(self) -> None:
        buf = self._buf
        while True:
            start = buf.find(P.SOF)
            if start < 0:
                self._keep_text(buf)
                buf.clear()
                return
            if start:
                self._keep_text(buf[:start])
                del buf[:start]
            end = buf.find(P.EOL, 1)
            nxt = buf.find(P.SOF, 1)
            if 0 < nxt and (end < 0 or nxt < end):
                self.bad_frames += 1  # cut off by a new frame
                del buf[:nxt]
                continue
            if end < 0:
                if len(buf) > P.MAX_LINE:
                    self.bad_frames += 1
                    buf.clear()
                return
            text = bytes(buf[1:end]).rstrip(b"\r")
            del buf[: end + 1]
            try:
                typ, seq, payload = P.decode(text)
            except P.ProtocolError:
                self.bad_frames += 1
                continue
            frame = Frame(typ, seq, bytes(payload))
            if typ == P.T_EVT:
                self.events.append(frame)
            else:
                self._answers[seq] = frame

    def _keep_text(self, data: bytes | bytearray) -> None:
        self.text += data
        del self.text[:-512]

    def take(self, seq: int) -> Frame | None:
        return self._answers.pop(seq, None)

    def at_repl(self) -> bool:
        t = bytes(self.text)
        return t.rstrip().endswith(b">>>") or b"raw REPL" in t

    # -- requests --------------------------------------------------------------------
    def exchange(self, req: dict[str, Any], timeout: float | None = None) -> Frame:
        """Send a request, return its answer frame (OK/DATA/ERR); retries on silence."""
        seq = self.next_seq()
        wait = self.timeout if timeout is None else timeout
        wire = self.send(seq, req)
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                self.write(wire)
            deadline = time.monotonic() + wait
            while True:
                frame = self.take(seq)
                if frame is not None:
                    if frame.type == P.T_ERR:
                        err = _error_of(frame)
                        if err.code in (P.E_CRC, P.E_FRAME) and attempt < self.retries:
                            break  # damaged on the way: send again
                        raise err
                    return frame
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.pump(min(left, 0.05))
        if self.at_repl():
            raise LinkError(
                f"{self.ser.name}: the device is at the MicroPython REPL, the hipcue app is "
                "not running (reset the board, or restart `hipcue sim`)"
            )
        raise LinkError(
            f"no answer from {self.ser.name} to {req.get('cmd')!r} after "
            f"{self.retries + 1} tries (is the hipcue firmware running?)"
        )

    def request(self, cmd: str, timeout: float | None = None, **args: Any) -> Any:
        frame = self.exchange({"cmd": cmd, **args}, timeout)
        if frame.type != P.T_OK:
            raise LinkError(f"{cmd}: unexpected answer type {frame.type}")
        return json.loads(frame.payload)

    # -- logs ------------------------------------------------------------------------
    def read_log(
        self,
        name: str,
        size: int,
        sink: Callable[[int, bytes], None],
        progress: Callable[[int], None] | None = None,
        window: int = 4,
    ) -> int:
        """Download `size` bytes of a log with `window` chunk requests in flight."""
        chunk = P.CHUNK
        pending: dict[int, tuple[int, bytes, float]] = {}  # seq -> (offset, wire, sent at)
        tries: dict[int, int] = {}
        next_off = 0
        got = 0
        while got < size:
            while len(pending) < window and next_off < size:
                seq = self.next_seq()
                n = min(chunk, size - next_off)
                wire = self.send(seq, {"cmd": "logs.read", "name": name, "off": next_off, "len": n})
                pending[seq] = (next_off, wire, time.monotonic())
                tries[seq] = 0
                next_off += n
            self.pump(0.05)
            now = time.monotonic()
            for seq in list(pending):
                off, wire, sent = pending[seq]
                frame = self.take(seq)
                if frame is None:
                    if now - sent > self.timeout:
                        if tries[seq] >= self.retries:
                            raise LinkError(f"no answer from {self.ser.name} while reading {name}")
                        tries[seq] += 1
                        self.retried += 1
                        self.write(wire)
                        pending[seq] = (off, wire, now)
                    continue
                del pending[seq]
                if frame.type == P.T_ERR:
                    raise _error_of(frame)
                if frame.type != P.T_DATA or len(frame.payload) < P.DATA_HEADER:
                    raise LinkError(f"{name}: unexpected answer while reading")
                at, _total = struct.unpack_from("<II", frame.payload, 0)
                data = frame.payload[P.DATA_HEADER :]
                want = min(chunk, size - off)
                if at != off or len(data) != want:
                    raise LinkError(
                        f"{name}: device sent {len(data)} bytes at {at}, expected {want} at "
                        f"{off} (did the log shrink?)"
                    )
                sink(off, data)
                got += len(data)
                if progress:
                    progress(got)
        return got


def _error_of(frame: Frame) -> DeviceError:
    try:
        d = json.loads(frame.payload)
        return DeviceError(int(d["code"]), str(d.get("error", "?")), str(d.get("msg", "")))
    except (ValueError, KeyError, TypeError):
        return DeviceError(P.E_INTERNAL, "internal", "unreadable error answer")


def connect(port: str | None, timeout: float = 1.0) -> Client:
    return Client(open_port(resolve_port(port)), timeout=timeout)
