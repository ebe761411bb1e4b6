"""Simulated I2C bus and IMU / haptic chips at register level, for the driver tests.

Runs under CPython and the MicroPython unix port; the read path allocates nothing (the
allocation tests measure the driver and this model together). Each chip keeps a 256-byte
register file, produces samples on its own ODR grid from a shared FakeClock, and models
what the drivers depend on: WHO_AM_I, reset values, soft reset, which bits select ODR and
full scale, output register order / endianness, address auto-increment (and where it does
not happen: LSM6DSOX with IF_INC = 0, the ICM-42688 / MPU-6050 FIFO data registers), the
FIFOs, status bits cleared by reads, and the interrupt line (latched or pulsed, polarity).

Faults: `FakeI2C.fail_next(n)` makes the next n transactions raise OSError(EIO) (what the
rp2 port raises on a NACK or bus error); `device.present = False` makes a chip NACK.
"""

from array import array

from shared.mp import micropython

EIO = 5


class FakeClock:
    """Microsecond clock for the board and the chips; `auto_us` passes on each reading so
    busy loops in the code under test end."""

    def __init__(self, start_us=0, auto_us=5):
        self.now_us = start_us
        self.auto_us = auto_us

    def ticks_us(self):
        self.now_us += self.auto_us
        return self.now_us

    def ticks_ms(self):
        return self.now_us // 1000

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d

    def sleep_ms(self, ms):
        self.now_us += ms * 1000

    def sleep_us(self, us):
        self.now_us += us

    def advance(self, us):
        self.now_us += us


class FakeI2C:
    def __init__(self):
        self.devices = {}
        self.fail_n = 0
        self.fail_addr = -1
        self.transactions = 0
        self.errors = 0

    def attach(self, dev):
        self.devices[dev.address] = dev
        return dev

    def fail_next(self, n, addr=-1):
        self.fail_n = n
        self.fail_addr = addr

    def scan(self):
        return sorted(a for a in self.devices if self.devices[a].present)

    @micropython.native
    def _dev(self, addr):
        self.transactions += 1
        if self.fail_n > 0 and (self.fail_addr < 0 or self.fail_addr == addr):
            self.fail_n -= 1
            self.errors += 1
            raise OSError(EIO)
        d = self.devices.get(addr)
        if d is None or not d.present:
            self.errors += 1
            raise OSError(EIO)
        return d

    @micropython.native
    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        self._dev(addr).read(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, n, addrsize=8):
        buf = bytearray(n)
        self._dev(addr).read(memaddr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self._dev(addr).write(memaddr, buf)


class Ring:
    """Byte FIFO over a preallocated bytearray."""

    def __init__(self, size):
        self.buf = bytearray(size)
        self.size = size
        self.head = 0
        self.count = 0
        self.dropped = 0

    @micropython.native
    def push(self, b):
        if self.count == self.size:
            self.head = (self.head + 1) % self.size  # overwrite the oldest
            self.count -= 1
            self.dropped += 1
        self.buf[(self.head + self.count) % self.size] = b
        self.count += 1

    @micropython.native
    def pop(self):
        if self.count == 0:
            return -1
        b = self.buf[self.head]
        self.head = (self.head + 1) % self.size
        self.count -= 1
        return b

    def clear(self):
        self.head = 0
        self.count = 0


class RegDevice:
    """Register file plus a sample generator on the chip's ODR grid."""

    address = 0
    defaults = ()  # (reg, value) reset values

    def __init__(self, clock, address=-1):
        if address >= 0:
            self.address = address
        self.clock = clock
        self.regs = bytearray(256)
        self.present = True
        self.sample = array("h", [0] * 6)  # ax ay az gx gy gz produced (unless gen)
        self.gen = None  # gen(k, out): fill out[0:6] for sample k
        self.k = 0  # samples produced
        self.last_t = -(10**9)
        self._period = 0
        self.next_t = 0
        self.writes = []  # (reg, value) log
        self.resets = 0
        self.reset_regs()

    def reset_regs(self):
        for i in range(256):
            self.regs[i] = 0
        for reg, v in self.defaults:
            self.regs[reg] = v
        self._period = 0

    @micropython.native
    def update(self):
        p = self.period_us()
        now = self.clock.now_us
        if p != self._period:
            self._period = p
            self.next_t = now + p
        if p <= 0:
            return
        while now >= self.next_t:
            out = self.sample
            if self.gen is not None:
                self.gen(self.k, out)
            self.produce(self.next_t, out)
            self.last_t = self.next_t
            self.k += 1
            self.next_t += p

    @micropython.native
    def read(self, reg, buf):
        self.update()
        n = len(buf)
        for i in range(n):
            buf[i] = self.rd(reg)
            reg = self.next_reg(reg)
        self.after_read()

    def write(self, reg, buf):
        self.update()
        for v in buf:
            self.writes.append((reg, v))
            self.wr(reg, v)
            reg = self.next_reg(reg)
        self.update()  # a new ODR starts its grid from the write

    def after_read(self):
        pass

    def rd(self, reg):
        return self.regs[reg]

    def wr(self, reg, v):
        self.regs[reg] = v

    def next_reg(self, reg):
        return (reg + 1) & 0xFF

    def wait_int(self):
        """What a data-ready pin shows when the board polls it. While it is low, time
        passes up to the chip's next sample (a busy wait), or 100 us when it is not
        sampling."""
        self.update()
        if self.int_level():
            return 1
        if self._period > 0 and self.present:
            if self.next_t > self.clock.now_us:
                self.clock.now_us = self.next_t
        else:
            self.clock.now_us += 100
        return 0  # this poll saw the line low; the next one sees the new sample


def _le(regs, at, v):
    regs[at] = v & 0xFF
    regs[at + 1] = (v >> 8) & 0xFF


def _be(regs, at, v):
    regs[at] = (v >> 8) & 0xFF
    regs[at + 1] = v & 0xFF


class FakeLSM6DSOX(RegDevice):
    address = 0x6A
    defaults = ((0x0F, 0x6C), (0x12, 0x04))  # WHO_AM_I, CTRL3_C: IF_INC = 1
    _ODR_HZ = (0, 12, 26, 52, 104, 208, 416, 833, 1666)

    def __init__(self, clock, address=-1):
        self.fifo = Ring(256 * 7)
        self.word = bytearray(7)
        self.fifo_ovr = 0
        super().__init__(clock, address)

    def reset_regs(self):
        super().reset_regs()
        self.fifo.clear()
        self.resets += 1

    def period_us(self):
        code = self.regs[0x10] >> 4
        if code == 0 or code >= len(self._ODR_HZ) or self.regs[0x11] >> 4 != code:
            return 0
        return 1000000 // self._ODR_HZ[code]

    @micropython.native
    def produce(self, t, s):
        r = self.regs
        for i in range(3):
            _le(r, 0x22 + 2 * i, s[3 + i])
            _le(r, 0x28 + 2 * i, s[i])
        r[0x1E] |= 0x03
        if r[0x0A] & 0x07 == 0x06 and r[0x09] & 0x0F and r[0x09] >> 4:
            cnt = (self.k & 3) << 1
            if self.k & 1:  # both orders occur in the FIFO
                self._push(0x02, cnt, s, 0)
                self._push(0x01, cnt, s, 3)
            else:
                self._push(0x01, cnt, s, 3)
                self._push(0x02, cnt, s, 0)
            if self.k & 3 == 3:
                self._push(0x03, cnt, s, 0)  # a temperature word the driver must skip

    @micropython.native
    def _push(self, tag, cnt, s, base):
        f = self.fifo
        if f.count + 7 > f.size:
            self.fifo_ovr = 1
        f.push((tag << 3) | cnt)
        for i in range(3):
            v = s[base + i]
            f.push(v & 0xFF)
            f.push((v >> 8) & 0xFF)

    def fifo_words(self):
        return self.fifo.count // 7

    @micropython.native
    def rd(self, reg):
        if reg == 0x3A:
            return self.fifo_words() & 0xFF
        if reg == 0x3B:
            return ((self.fifo_words() >> 8) & 0x03) | (0x40 if self.fifo_ovr else 0)
        if reg == 0x78:
            w = self.word
            for i in range(7):
                b = self.fifo.pop()
                w[i] = 0 if b < 0 else b
            return w[0]
        if 0x79 <= reg <= 0x7E:
            return self.word[reg - 0x78]
        if reg == 0x27:
            self.regs[0x1E] &= ~0x02 & 0xFF  # gyro read: GDA cleared
        elif reg == 0x2D:
            self.regs[0x1E] &= ~0x01 & 0xFF  # accel read: XLDA cleared
        return self.regs[reg]

    def wr(self, reg, v):
        if reg == 0x0F or 0x1E <= reg <= 0x2D or 0x3A <= reg <= 0x3B:
            return  # read-only
        if reg == 0x12 and v & 0x01:
            self.reset_regs()  # SW_RESET, self-clearing
            return
        self.regs[reg] = v
        if reg == 0x0A and v & 0x07 == 0:
            self.fifo.clear()  # bypass mode empties the FIFO
            self.fifo_ovr = 0

    @micropython.native
    def next_reg(self, reg):
        if not self.regs[0x12] & 0x04:
            return reg  # IF_INC = 0: no auto-increment
        if reg == 0x7E:
            return 0x78  # FIFO output: rolls back to the tag for the next word
        return (reg + 1) & 0xFF

    def _level(self, ctrl):
        c = self.regs[ctrl]
        st = self.regs[0x1E]
        if c & 0x01 and st & 0x01 or c & 0x02 and st & 0x02:
            return 1
        wtm = self.regs[0x07] | ((self.regs[0x08] & 1) << 8)
        if c & 0x08 and wtm and self.fifo_words() >= wtm:
            return 1
        return 0

    def int_level(self):
        return self._level(0x0D)

    def int2_level(self):
        return self._level(0x0E)


class FakeICM42688(RegDevice):
    address = 0x68
    # WHO_AM_I, INT_CONFIG1 (INT_ASYNC_RESET = 1), INT_SOURCE0, INTF_CONFIG0 (big-endian)
    defaults = ((0x75, 0x47), (0x64, 0x10), (0x65, 0x10), (0x4C, 0x30))
    _ODR_HZ = {0x6: 1000, 0x7: 200, 0x8: 100, 0x9: 50, 0xA: 25, 0xF: 500}

    def __init__(self, clock, address=-1):
        self.fifo = Ring(2048)
        self.count_latch = 0
        super().__init__(clock, address)

    def reset_regs(self):
        super().reset_regs()
        self.fifo.clear()
        self.resets += 1

    def period_us(self):
        r = self.regs
        if r[0x4E] & 0x0F != 0x0F:
            return 0  # accel and gyro not both in low-noise mode: no data
        a = self._ODR_HZ.get(r[0x50] & 0x0F, 0)
        g = self._ODR_HZ.get(r[0x4F] & 0x0F, 0)
        if a == 0 or a != g:
            return 0
        return 1000000 // a

    @micropython.native
    def produce(self, t, s):
        r = self.regs
        for i in range(3):
            _be(r, 0x1F + 2 * i, s[i])
            _be(r, 0x25 + 2 * i, s[3 + i])
        r[0x2D] |= 0x08  # DATA_RDY_INT
        if r[0x16] >> 6 == 1 and r[0x5F] & 0x03 == 0x03:
            f = self.fifo
            f.push(0x68)  # HEADER_ACCEL | HEADER_GYRO | ODR timestamp
            for i in range(6):
                v = s[i]
                f.push((v >> 8) & 0xFF)
                f.push(v & 0xFF)
            f.push(0x10)  # temperature
            f.push((t >> 8) & 0xFF)
            f.push(t & 0xFF)

    @micropython.native
    def rd(self, reg):
        if self.regs[0x76] != 0 and reg != 0x76:
            return 0  # only bank 0 is modelled
        if reg == 0x2D:
            v = self.regs[0x2D]
            self.regs[0x2D] = 0  # cleared on read
            return v
        if reg == 0x2E:
            self.count_latch = self.fifo.count
            return (self.count_latch >> 8) & 0xFF
        if reg == 0x2F:
            return self.count_latch & 0xFF
        if reg == 0x30:
            b = self.fifo.pop()
            return 0xFF if b < 0 else b
        return self.regs[reg]

    def wr(self, reg, v):
        if reg != 0x76 and self.regs[0x76] != 0:
            return
        if reg == 0x75 or 0x1D <= reg <= 0x30:
            return
        if reg == 0x11 and v & 0x01:
            self.reset_regs()
            return
        if reg == 0x4B:
            if v & 0x02:
                self.fifo.clear()  # FIFO_FLUSH
            return
        self.regs[reg] = v

    @micropython.native
    def next_reg(self, reg):
        if reg == 0x30:
            return reg  # FIFO_DATA: bursts stay on the FIFO
        return (reg + 1) & 0xFF

    def int_level(self):
        r = self.regs
        if r[0x64] & 0x10:
            return 0  # INT_ASYNC_RESET left at 1: INT1 does not work properly
        src = r[0x65]
        lvl = 0
        if src & 0x08:
            if r[0x14] & 0x04:
                lvl = 1 if r[0x2D] & 0x08 else 0  # latched until INT_STATUS is read
            else:
                lvl = 1 if self.clock.now_us - self.last_t < 100 else 0  # 100 us pulse
        if src & 0x04:
            wm = r[0x60] | ((r[0x61] & 0x0F) << 8)
            if wm and self.fifo.count >= wm:
                lvl = 1
        if not r[0x14] & 0x01:
            lvl ^= 1  # active low
        return lvl


class FakeMPU6050(RegDevice):
    address = 0x68
    defaults = ((0x75, 0x68), (0x6B, 0x40))  # WHO_AM_I, PWR_MGMT_1: SLEEP

    def __init__(self, clock, address=-1):
        self.fifo = Ring(1024)
        self.count_latch = 0
        super().__init__(clock, address)

    def reset_regs(self):
        super().reset_regs()
        self.fifo.clear()
        self.resets += 1

    def period_us(self):
        r = self.regs
        if r[0x6B] & 0x40:
            return 0  # asleep
        dlpf = r[0x1A] & 0x07
        base = 1000 if 1 <= dlpf <= 6 else 8000
        return 1000000 * (1 + r[0x19]) // base

    @micropython.native
    def produce(self, t, s):
        r = self.regs
        for i in range(3):
            _be(r, 0x3B + 2 * i, s[i])
            _be(r, 0x43 + 2 * i, s[3 + i])
        _be(r, 0x41, 1234)  # temperature, skipped by the driver
        r[0x3A] |= 0x01
        if r[0x6A] & 0x40:
            f = self.fifo
            en = r[0x23]
            if f.count + 12 > f.size:
                r[0x3A] |= 0x10  # FIFO_OFLOW_INT
            if en & 0x08:
                for i in range(3):
                    f.push((s[i] >> 8) & 0xFF)
                    f.push(s[i] & 0xFF)
            for i in range(3):
                if en & (0x40 >> i):
                    f.push((s[3 + i] >> 8) & 0xFF)
                    f.push(s[3 + i] & 0xFF)

    @micropython.native
    def rd(self, reg):
        if reg == 0x3A:
            v = self.regs[0x3A]
            self.regs[0x3A] = 0
            return v
        if reg == 0x72:
            self.count_latch = self.fifo.count
            return (self.count_latch >> 8) & 0xFF
        if reg == 0x73:
            return self.count_latch & 0xFF
        if reg == 0x74:
            b = self.fifo.pop()
            return 0 if b < 0 else b
        return self.regs[reg]

    def after_read(self):
        if self.regs[0x37] & 0x10:
            self.regs[0x3A] &= ~0x01 & 0xFF  # INT_RD_CLEAR: any read clears the status

    def wr(self, reg, v):
        if reg == 0x75 or 0x3A <= reg <= 0x48:
            return
        if reg == 0x6B and v & 0x80:
            self.reset_regs()  # DEVICE_RESET
            return
        if reg == 0x6A and v & 0x04:
            self.fifo.clear()  # FIFO_RESET, self-clearing
            v &= ~0x04
        self.regs[reg] = v

    @micropython.native
    def next_reg(self, reg):
        if reg == 0x74:
            return reg  # FIFO_R_W
        return (reg + 1) & 0xFF

    def int_level(self):
        r = self.regs
        lvl = 0
        if r[0x38] & 0x01:
            if r[0x37] & 0x20:
                lvl = r[0x3A] & 0x01
            else:
                lvl = 1 if self.clock.now_us - self.last_t < 50 else 0  # 50 us pulse
        if r[0x37] & 0x80:
            lvl ^= 1  # INT_LEVEL = 1: active low
        return lvl


class FakeDRV2605L(RegDevice):
    address = 0x5A
    defaults = ((0x00, 0xE0), (0x01, 0x40), (0x1A, 0x36))  # DEVICE_ID 7, STANDBY

    def reset_regs(self):
        super().reset_regs()
        self.rtp_log = []

    def period_us(self):
        return 0

    def wr(self, reg, v):
        if reg == 0x00:
            return
        self.regs[reg] = v
        if reg == 0x02:
            self.rtp_log.append(v)

    def int_level(self):
        return 0


def pattern_gen(k, out):
    """A deterministic sample k covering both signs and the int16 extremes."""
    out[0] = ((k * 97) % 65536) - 32768
    out[1] = -((k * 31) % 30000)
    out[2] = 4096 + (k % 7)
    out[3] = ((k * 13) % 65536) - 32768
    out[4] = (k % 500) - 250
    out[5] = 32767 - (k % 3)
