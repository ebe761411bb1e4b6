"""The device's byte transport: sys.stdin/sys.stdout, which the REPL shares.

The same code runs on the RP2040 (USB CDC) and on the unix port (a pty, see host/hipcue/sim.py).
Measured on the unix port (../shared/notes/micropython-on-the-host.md): reads of more than one
byte block until all arrive, so input is taken one byte at a time after POLLIN; a blocking
write into a full port stalled the loop for ~100 ms, so output goes out only after POLLOUT,
in pieces of at most `piece` bytes.

The readiness checks use `ipoll(0)`, which yields into a tuple the poller owns, instead of
`poll(0)`, which builds a new list on every call: the board loop asks `readable()` after every
sample, and that must not allocate (tests/test_board_loop_alloc.py).
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
        # bound once: the board loop iterates ipoll_in(0) after every sample (a byte waiting
        # yields one entry; nothing is allocated)
        self.ipoll_in = self._pin.ipoll
        self._one = bytearray(1)
        self.piece = piece

    @micropython.native  # asked after every sample: keep it cheap
    def readable(self):
        """1 when a byte is waiting (no allocation)."""
        for _ in self._pin.ipoll(0):
            return 1
        return 0

    def read_byte(self):
        """One byte (0..255), or -1 when none is waiting. Never blocks."""
        if not self.readable():
            return -1
        if self._in.readinto(self._one) != 1:
            return -1
        return self._one[0]

    def write_some(self, mv):
        """Write the start of memoryview mv if the port can take it; returns bytes written."""
        ok = 0
        for _ in self._pout.ipoll(0):
            ok = 1
        if not ok:
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
