"""ST LSM6DSOX accelerometer + gyroscope over I2C (datasheet DS12814, rev. 3).

The bus is passed in; raw int16 counts are read into a preallocated buffer, no allocation
per read. Full scale +-8 g (0.244 mg/LSB) and +-2000 dps (70 mdps/LSB), DS12814 table 2,
matching shared/config.py IMUS["lsm6dsox"]. Sampling is driven by data-ready on INT1
(and/or INT2: on the Nano RP2040 Connect it is not documented which pad reaches GPIO24),
or by the FIFO in continuous mode with its threshold on the same pin(s).

Register numbers and bit fields: DS12814 § 8 "Register mapping" and § 9 "Register
description" (the register named in each comment below).
"""

import sys

from device.drivers.i2cdev import I2CDevice, pick_rate, sleep_us
from shared.mp import const, micropython

if sys.implementation.name != "micropython":
    from shared.mp import ptr8, ptr16  # viper's pointer casts (builtins there)

_INT1_CTRL = const(0x0D)  # INT1_CTRL (0Dh): bit 0 INT1_DRDY_XL, bit 1 INT1_DRDY_G, bit 3 FIFO_TH
_INT2_CTRL = const(0x0E)  # INT2_CTRL (0Eh): same bit layout for INT2
_WHO_AM_I = const(0x0F)  # WHO_AM_I (0Fh) reads 6Ch
_WHO_AM_I_VALUE = const(0x6C)
_FIFO_CTRL1 = const(0x07)  # FIFO_CTRL1 (07h): watermark WTM[7:0], in FIFO words
_FIFO_CTRL2 = const(0x08)  # FIFO_CTRL2 (08h): bit 0 WTM8
_FIFO_CTRL3 = const(0x09)  # FIFO_CTRL3 (09h): BDR_GY[3:0] bits 7:4, BDR_XL[3:0] bits 3:0
_FIFO_CTRL4 = const(0x0A)  # FIFO_CTRL4 (0Ah): FIFO_MODE[2:0] bits 2:0
_CTRL1_XL = const(0x10)  # CTRL1_XL (10h): ODR_XL[3:0] bits 7:4, FS_XL[1:0] bits 3:2
_CTRL2_G = const(0x11)  # CTRL2_G (11h): ODR_G[3:0] bits 7:4, FS_G[1:0] bits 3:2
_CTRL3_C = const(0x12)  # CTRL3_C (12h): bit 6 BDU, bit 2 IF_INC, bit 0 SW_RESET
_STATUS = const(0x1E)  # STATUS_REG (1Eh): bit 0 XLDA, bit 1 GDA
_OUTX_L_G = const(0x22)  # OUTX_L_G (22h) .. OUTZ_H_A (2Dh): gyro x y z, accel x y z, LE
_FIFO_STATUS1 = const(0x3A)  # FIFO_STATUS1 (3Ah): DIFF_FIFO[7:0] (unread words)
_FIFO_DATA_OUT_TAG = const(0x78)  # FIFO_DATA_OUT_TAG (78h), then 6 data bytes (79h..7Eh)
_CTRL6_C = const(0x15)  # CTRL6_C (15h): bit 4 XL_HM_MODE (1: accel high-performance off)
_WAKE_UP_SRC = const(0x1B)  # WAKE_UP_SRC (1Bh): bit 3 WU_IA, bits 2:0 X_WU Y_WU Z_WU
_TAP_CFG0 = const(0x56)  # TAP_CFG0 (56h): bit 4 SLOPE_FDS (0: slope filter), bit 0 LIR
_TAP_CFG2 = const(0x58)  # TAP_CFG2 (58h): bit 7 INTERRUPTS_ENABLE
_WAKE_UP_THS = const(0x5B)  # WAKE_UP_THS (5Bh): WK_THS[5:0]
_WAKE_UP_DUR = const(0x5C)  # WAKE_UP_DUR (5Ch): WAKE_DUR[1:0] bits 6:5, bit 4 WAKE_THS_W
_MD1_CFG = const(0x5E)  # MD1_CFG (5Eh): bit 5 INT1_WU
_MD2_CFG = const(0x5F)  # MD2_CFG (5Fh): bit 5 INT2_WU
_WAKE_ODR = const(0x2)  # 26 Hz: the accelerometer's rate while waiting for motion
WAKE_ODR_HZ = 26
WAKE_MG_PER_LSB_X4 = 125  # WK_THS weight with WAKE_THS_W = 1: FS_XL / 2^8 = 31.25 mg at 8 g
# The most words one batch read takes (7 bytes each): the FIFO can hold more after a long
# stall (a 4 KiB erase leaves ~10 words at 104 Hz); what is over stays for the next read.
BURST_WORDS = 64

# ODR codes (CTRL1_XL / CTRL2_G bits 7:4, also the FIFO batch rates BDR_XL / BDR_GY).
ODRS = (
    (12, 0x1),
    (26, 0x2),
    (52, 0x3),
    (104, 0x4),
    (208, 0x5),
    (416, 0x6),
    (833, 0x7),
    (1666, 0x8),
)
_FS_XL_8G = const(0x0C)  # FS_XL = 11: +-8 g
_FS_G_2000 = const(0x0C)  # FS_G = 11: +-2000 dps (FS_125 = 0)
_BDU_IF_INC = const(0x44)  # block data update, register address auto-increment
_SW_RESET = const(0x01)
_DRDY_XL_G = const(0x03)
_INT_FIFO_TH = const(0x08)
_FIFO_CONTINUOUS = const(0x06)  # FIFO_MODE = 110: continuous, oldest data overwritten
_TAG_GYRO = const(0x01)  # TAG_SENSOR (bits 7:3 of FIFO_DATA_OUT_TAG)
_TAG_ACCEL = const(0x02)


class LSM6DSOX:
    name = "LSM6DSOX"
    acc_ug_per_lsb = 244
    gyro_udps_per_lsb = 70000

    def __init__(self, i2c, address=0x6A, rate_hz=104, int_pins=1, fifo=False):
        self.dev = I2CDevice(i2c, address)
        self.i2c = i2c
        self.address = address
        self._raw = bytearray(12)
        self._word = bytearray(7)
        self._status = bytearray(2)
        self._pending = 0  # FIFO: bit 0 accel, bit 1 gyro of the sample being assembled
        self.watermark = 2  # FIFO words that raise the threshold interrupt (2 a sample)
        self._burst = bytearray(7 * BURST_WORDS)
        mv = memoryview(self._burst)
        # one view per burst length, made here: slicing at read time would allocate
        self._views = [mv[: 7 * k] for k in range(BURST_WORDS + 1)]
        self.waiting = 0  # 1 while in the motion wake-up mode (gyro off, accel low power)
        self.int_pins = int_pins
        self.fifo = fifo
        self.fifo_overruns = 0
        self.rate_hz, self._code = pick_rate(ODRS, rate_hz)
        self.period_us = 1000000 // self.rate_hz
        self.reset()
        self.configure()

    def reset(self):
        """Software reset (CTRL3_C SW_RESET): known state after a soft reboot of the MCU."""
        dev = self.dev
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        dev.write_reg(_CTRL3_C, _SW_RESET)
        for _ in range(100):  # cleared by the device within ~50 us (DS12814 CTRL3_C)
            if not dev.read_reg(_CTRL3_C) & _SW_RESET:
                break
            sleep_us(10)

    def configure(self):
        """Check WHO_AM_I and write the whole configuration (also used to recover)."""
        dev = self.dev
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        code = self._code
        dev.write_reg(_CTRL3_C, _BDU_IF_INC)
        dev.write_reg(_CTRL1_XL, (code << 4) | _FS_XL_8G)
        dev.write_reg(_CTRL2_G, (code << 4) | _FS_G_2000)
        dev.write_reg(_CTRL6_C, 0)  # accel high-performance (after the wake-up mode)
        dev.write_reg(_TAP_CFG2, 0)  # no wake-up interrupt
        dev.write_reg(_MD1_CFG, 0)
        dev.write_reg(_MD2_CFG, 0)
        self.waiting = 0
        if self.fifo:
            wtm = self.watermark
            dev.write_reg(_FIFO_CTRL1, wtm & 0xFF)  # threshold in words: 2 per sample
            dev.write_reg(_FIFO_CTRL2, (wtm >> 8) & 1)
            dev.write_reg(_FIFO_CTRL3, (code << 4) | code)
            dev.write_reg(_FIFO_CTRL4, 0)  # bypass first: empties the FIFO
            dev.write_reg(_FIFO_CTRL4, _FIFO_CONTINUOUS)
            route = _INT_FIFO_TH
        else:
            dev.write_reg(_FIFO_CTRL4, 0)
            route = _DRDY_XL_G
        self._pending = 0
        dev.write_reg(_INT1_CTRL, route if self.int_pins & 1 else 0)
        dev.write_reg(_INT2_CTRL, route if self.int_pins & 2 else 0)

    def set_batch(self, samples):
        """The FIFO threshold interrupt after `samples` samples (2 words each); takes effect
        at the next configure()."""
        self.watermark = 2 * max(1, min(samples, BURST_WORDS // 2))

    def wait_for_motion(self, ths_lsb, dur):
        """The motion wake-up mode (DS12814 § 6.2 "Wake-up interrupt", registers § 9): gyro
        powered down, accelerometer at 26 Hz in low-power mode (XL_HM_MODE = 1), FIFO in
        bypass, the wake-up interrupt (slope filter, latched: LIR) routed to the INT pin(s)
        in place of the FIFO threshold. ths_lsb: WK_THS in FS_XL/2^8 steps (31.25 mg at
        8 g, WAKE_THS_W = 1), 1..63; dur: WAKE_DUR, 0..3 ODR periods."""
        dev = self.dev
        dev.write_reg(_INT1_CTRL, 0)
        dev.write_reg(_INT2_CTRL, 0)
        dev.write_reg(_FIFO_CTRL4, 0)  # bypass: nothing batched
        dev.write_reg(_CTRL2_G, 0)  # gyro power-down
        dev.write_reg(_CTRL6_C, 0x10)  # XL_HM_MODE: low-power / normal modes
        dev.write_reg(_CTRL1_XL, (_WAKE_ODR << 4) | _FS_XL_8G)
        dev.write_reg(_WAKE_UP_THS, max(1, min(63, ths_lsb)))
        dev.write_reg(_WAKE_UP_DUR, ((dur & 3) << 5) | 0x10)  # WAKE_THS_W = 1
        dev.write_reg(_TAP_CFG0, 0x01)  # slope filter, latched interrupt
        dev.write_reg(_TAP_CFG2, 0x80)  # INTERRUPTS_ENABLE
        dev.read_reg(_WAKE_UP_SRC)  # clears a latched event from before
        dev.write_reg(_MD1_CFG, 0x20 if self.int_pins & 1 else 0)
        dev.write_reg(_MD2_CFG, 0x20 if self.int_pins & 2 else 0)
        self.waiting = 1

    def motion(self):
        """WAKE_UP_SRC: the latched wake-up event's bits (WU_IA | axes), 0 if none; reading
        it clears the latch (and the INT pin)."""
        return self.dev.read_reg(_WAKE_UP_SRC) & 0x0F

    def ready(self):
        """Data ready without the interrupt pin: a new sample (or FIFO pair) is waiting."""
        if self.fifo:
            return self.fifo_level() >= 2
        return self.dev.read_reg(_STATUS) & 0x03 == 0x03

    @micropython.native
    def read_into(self, out):
        """Fill out[0:6] with ax ay az gx gy gz raw counts (sensor axes) from the output
        registers: one 12-byte burst from OUTX_L_G, little-endian, gyro before accel."""
        b = self._raw
        self.i2c.readfrom_mem_into(self.address, _OUTX_L_G, b)
        for i in range(3):
            g = b[2 * i] | (b[2 * i + 1] << 8)
            a = b[6 + 2 * i] | (b[7 + 2 * i] << 8)
            out[i] = a - 65536 if a & 0x8000 else a
            out[3 + i] = g - 65536 if g & 0x8000 else g

    @micropython.native
    def fifo_level(self):
        """Unread FIFO words (FIFO_STATUS1/2 DIFF_FIFO[9:0]); counts an overrun (FIFO_OVR_IA)."""
        s = self._status
        self.i2c.readfrom_mem_into(self.address, _FIFO_STATUS1, s)
        if s[1] & 0x40:
            self.fifo_overruns += 1
        return s[0] | ((s[1] & 0x03) << 8)

    @micropython.native
    def fifo_batch_into(self, out, max_samples):
        """The whole FIFO in one go: FIFO_STATUS1/2, then one burst of every unread word (at
        most BURST_WORDS) from FIFO_DATA_OUT_TAG (the address rolls back from 7Eh to 78h,
        DS12814 § 9), decoded into out[6k:6k+6] (ax ay az gx gy gz) for k = 0.. up to
        max_samples; returns the number of whole samples. A sample whose second word is not
        in yet is kept in out[0:6] (its half read) for the next call."""
        n = self.fifo_level()
        if n <= 0:
            return 0
        if n > 2 * max_samples + 1:
            n = 2 * max_samples + 1
        if n > BURST_WORDS:
            n = BURST_WORDS
        self.i2c.readfrom_mem_into(self.address, _FIFO_DATA_OUT_TAG, self._views[n])
        r = _decode(self._burst, out, n, self._pending)
        self._pending = r & 3
        return r >> 2

    @micropython.native
    def fifo_read_into(self, out):
        """Pop FIFO words (tag + 6 bytes each, DS12814 § 9 FIFO_DATA_OUT_TAG) until one
        accel and one gyro word have been read; returns 1 then, 0 if the FIFO ran dry first
        (the half-read sample is kept for the next call)."""
        n = self.fifo_level()
        w = self._word
        i2c = self.i2c
        while n > 0:
            i2c.readfrom_mem_into(self.address, _FIFO_DATA_OUT_TAG, w)
            n -= 1
            tag = w[0] >> 3
            if tag == _TAG_ACCEL:
                base = 0
                self._pending |= 1
            elif tag == _TAG_GYRO:
                base = 3
                self._pending |= 2
            else:
                continue  # temperature / timestamp words are not batched here
            for i in range(3):
                v = w[1 + 2 * i] | (w[2 + 2 * i] << 8)
                out[base + i] = v - 65536 if v & 0x8000 else v
            if self._pending == 3:
                self._pending = 0
                return 1
        return 0


@micropython.viper
def _decode(b, out, n: int, p: int) -> int:
    """n FIFO words (tag + 6 bytes) in b into out (array 'h', 6 a sample: accel x y z, then
    gyro x y z); p: the half-assembled sample's bits (1 accel, 2 gyro) in out[0:6]. Returns
    (whole samples << 2) | the bits of a sample left half read, which is moved to out[0:6].
    Temperature and timestamp words are skipped."""
    src = ptr8(b)
    dst = ptr16(out)
    k = 0
    o = 0
    while n > 0:
        n -= 1
        tag = src[o] >> 3
        if tag == 2:  # TAG_ACCEL
            d = 6 * k
            p |= 1
        elif tag == 1:  # TAG_GYRO
            d = 6 * k + 3
            p |= 2
        else:
            o += 7
            continue
        v = src[o + 1] | (src[o + 2] << 8)
        dst[d] = v - ((v & 0x8000) << 1)
        v = src[o + 3] | (src[o + 4] << 8)
        dst[d + 1] = v - ((v & 0x8000) << 1)
        v = src[o + 5] | (src[o + 6] << 8)
        dst[d + 2] = v - ((v & 0x8000) << 1)
        o += 7
        if p == 3:
            p = 0
            k += 1
    if p and k:
        j = 6 * k
        for i in range(6):  # the half-read sample goes first, for the next burst
            dst[i] = dst[j + i]
    return (k << 2) | p
