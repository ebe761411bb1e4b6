"""The device's byte transport: sys.stdin/sys.stdout, which the REPL shares.

The same code runs on the RP2040 (USB CDC) and on the unix port (a pty, see host/hipcue/sim.py).
Measured on the unix port (../shared/notes/micropython-on-the-host.md): reads of more than one
byte block until all arrive, so input is taken one byte at a time after POLLIN; a blocking
write into a full port stalled the loop for ~100 ms, so output goes out only after POLLOUT,
in pieces of at most `piece` bytes.
"""

import select
import sys

from shared.mp import micropython


class StdioLink:
    def __init__(self, piece=512):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._pin = select.poll()
        self._pin.register(sys.stdin, select.POLLIN)
        self._pout = select.poll()
        self._pout.register(sys.stdout, select.POLLOUT)
        self._one = bytearray(1)
        self.piece = piece

    def readable(self):
        return 1 if self._pin.poll(0) else 0

    def read_byte(self):
        """One byte (0..255), or -1 when none is waiting. Never blocks."""
        if not self._pin.poll(0):
            return -1
        if self._in.readinto(self._one) != 1:
            return -1
        return self._one[0]

    def write_some(self, mv):
        """Write the start of memoryview mv if the port can take it; returns bytes written."""
        if not self._pout.poll(0):
            return 0
        if len(mv) > self.piece:
            mv = mv[: self.piece]
        w = self._out.write(mv)
        return 0 if w is None else w

    def wait(self, ms):
        """Sleep up to ms, waking early when input arrives."""
        self._pin.poll(ms)

    @staticmethod
    def block_ctrl_c():
        # While the app runs a 0x03 is data: the service decides whether it is a Ctrl-C.
        micropython.kbd_intr(-1)

    @staticmethod
    def restore_ctrl_c():
        micropython.kbd_intr(3)
