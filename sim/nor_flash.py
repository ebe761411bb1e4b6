# A RAM block device that behaves like NOR flash, with power-cut injection (MicroPython).
#
# Programming only clears bits (new = old AND data); erasing a block sets all its bytes to
# 0xFF. Every program and erase is one numbered operation; when `cut_at` is reached, power is
# cut: the operation is lost (nothing lands) or torn (the first half lands), PowerCut is
# raised, and the device is dead from then on (every later operation is ignored:
# nothing lands), so the flash holds exactly what was there at the moment of the cut.
#
# LittleFS may call these methods from a finaliser with the heap locked, so they allocate
# nothing: the byte loops are @viper functions over the buffers, and PowerCut is raised as a
# preallocated instance.
import micropython


class PowerCut(BaseException):
    pass


@micropython.viper
def _copy(dst, doff: int, src, soff: int, n: int):
    d = ptr8(dst)  # noqa: F821
    s = ptr8(src)  # noqa: F821
    i = 0
    while i < n:
        d[doff + i] = s[soff + i]
        i += 1


@micropython.viper
def _program(dst, doff: int, src, soff: int, n: int):
    d = ptr8(dst)  # noqa: F821
    s = ptr8(src)  # noqa: F821
    i = 0
    while i < n:
        d[doff + i] = d[doff + i] & s[soff + i]
        i += 1


@micropython.viper
def _erase(dst, doff: int, n: int):
    d = ptr8(dst)  # noqa: F821
    i = 0
    while i < n:
        d[doff + i] = 0xFF
        i += 1


class NorFlash:
    def __init__(self, block_size=4096, block_count=64, data=None):
        self.bs = block_size
        self.count = block_count
        if data is None:
            data = bytearray(block_size * block_count)
            _erase(data, 0, len(data))
        self.data = data
        self.ops = 0  # program + erase operations so far
        self.cut_at = -1  # operation index at which power is cut (-1: never)
        self.torn = 0  # 1: the cut operation half lands; 0: it is lost
        self.dead = 0
        self.progs = 0
        self.prog_bytes = 0
        self.erases = 0
        self.reads = 0
        self._cut = PowerCut()

    def readblocks(self, block, buf, off=0):
        self.reads += 1
        _copy(buf, 0, self.data, block * self.bs + off, len(buf))

    def writeblocks(self, block, buf, off=0):
        if self.dead:
            return  # no power: nothing lands (a finaliser may still try to sync)
        base = block * self.bs + off
        n = len(buf)
        k = self.ops
        self.ops = k + 1
        if k == self.cut_at:
            self.dead = 1
            if self.torn:
                _program(self.data, base, buf, 0, n >> 1)
            raise self._cut
        _program(self.data, base, buf, 0, n)
        self.progs += 1
        self.prog_bytes += n

    def ioctl(self, op, arg):
        if op == 4:
            return self.count
        if op == 5:
            return self.bs
        if op == 6:
            if self.dead:
                return 0
            k = self.ops
            self.ops = k + 1
            base = arg * self.bs
            if k == self.cut_at:
                self.dead = 1
                if self.torn:
                    _erase(self.data, base, self.bs >> 1)
                raise self._cut
            _erase(self.data, base, self.bs)
            self.erases += 1
            return 0
        return 0
