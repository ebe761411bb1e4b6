"""TDK InvenSense ICM-42688-P accelerometer + gyroscope over I2C (datasheet DS-000347).

The bus is passed in; raw int16 counts go into a preallocated buffer, no allocation per
read. Full scale +-8 g (4096 LSB/g = 244 ug/LSB) and +-2000 dps (16.4 LSB/dps =
60976 udps/LSB), DS-000347 tables 1 and 2, matching shared/config.py IMUS["icm42688"].
Data-ready is routed to INT1 in latched mode, push-pull, active high, so the line stays
high until the sample is read: the one burst below ends on INT_STATUS, which clears it.
The FIFO (stream mode, 16-byte packets with accel, gyro, temperature and a timestamp) is
the alternative source.

Register numbers and bit fields: DS-000347, the user bank 0 register map and
its register descriptions (the register named in each comment below).
"""

from device.drivers.i2cdev import I2CDevice, pick_rate, sleep_ms, sleep_us
from shared.mp import const, micropython

_DEVICE_CONFIG = const(0x11)  # DEVICE_CONFIG: bit 0 SOFT_RESET_CONFIG
_INT_CONFIG = const(0x14)  # INT_CONFIG: bit 2 INT1_MODE (1 latched), 1 push-pull, 0 active high
_FIFO_CONFIG = const(0x16)  # FIFO_CONFIG: FIFO_MODE bits 7:6 (01 stream-to-FIFO)
_ACCEL_DATA_X1 = const(0x1F)  # ACCEL_DATA_X1 .. GYRO_DATA_Z0 (2Ah): accel then gyro, BE
_INT_STATUS = const(0x2D)  # INT_STATUS: bit 3 DATA_RDY_INT (cleared on read)
_FIFO_COUNTH = const(0x2E)  # FIFO_COUNTH, FIFO_COUNTL: bytes in the FIFO, big-endian
_FIFO_DATA = const(0x30)  # FIFO_DATA: reads pop the FIFO, the address does not advance
_SIGNAL_PATH_RESET = const(0x4B)  # SIGNAL_PATH_RESET: bit 1 FIFO_FLUSH
_PWR_MGMT0 = const(0x4E)  # PWR_MGMT0: GYRO_MODE bits 3:2, ACCEL_MODE bits 1:0 (11 = LN)
_GYRO_CONFIG0 = const(0x4F)  # GYRO_CONFIG0: GYRO_FS_SEL bits 7:5, GYRO_ODR bits 3:0
_ACCEL_CONFIG0 = const(0x50)  # ACCEL_CONFIG0: ACCEL_FS_SEL bits 7:5, ACCEL_ODR bits 3:0
_FIFO_CONFIG1 = const(0x5F)  # FIFO_CONFIG1: bit 0 ACCEL_EN, 1 GYRO_EN, 2 TEMP_EN, 5 WM_GT_TH
_FIFO_CONFIG2 = const(0x60)  # FIFO_CONFIG2/3: watermark in bytes, 12 bits
_INT_CONFIG1 = const(0x64)  # INT_CONFIG1: bit 4 INT_ASYNC_RESET, must be cleared
_INT_SOURCE0 = const(0x65)  # INT_SOURCE0: bit 3 UI_DRDY_INT1_EN, bit 2 FIFO_THS_INT1_EN
_WHO_AM_I = const(0x75)  # WHO_AM_I reads 47h
_WHO_AM_I_VALUE = const(0x47)
_REG_BANK_SEL = const(0x76)

# GYRO_ODR / ACCEL_ODR codes (bits 3:0), ascending rate.
ODRS = ((25, 0xA), (50, 0x9), (100, 0x8), (200, 0x7), (500, 0xF), (1000, 0x6))
_GYRO_FS_2000 = const(0x00)  # GYRO_FS_SEL = 000: +-2000 dps
_ACCEL_FS_8G = const(0x20)  # ACCEL_FS_SEL = 001: +-8 g
_INT1_LATCHED_PP_HIGH = const(0x07)
_ACCEL_GYRO_LN = const(0x0F)
_UI_DRDY_INT1_EN = const(0x08)
_FIFO_STREAM = const(0x40)
_FIFO_PACKET = const(16)  # packet 3: header, accel 6, gyro 6, temperature 1, timestamp 2
_HEADER_EMPTY = const(0x80)  # HEADER_MSG: the FIFO is empty
_HEADER_ACCEL_GYRO = const(0x60)  # HEADER_ACCEL | HEADER_GYRO


class ICM42688:
    name = "ICM-42688-P"
    acc_ug_per_lsb = 244
    gyro_udps_per_lsb = 60976

    def __init__(self, i2c, address=0x68, rate_hz=100, fifo=False):
        self.dev = I2CDevice(i2c, address)
        self.i2c = i2c
        self.address = address
        self._raw = bytearray(15)  # accel 6, gyro 6, TMST_FSYNC 2, INT_STATUS 1
        self._packet = bytearray(_FIFO_PACKET)
        self._count = bytearray(2)
        self.fifo = fifo
        self.fifo_ts = 0  # 16-bit timestamp of the last FIFO packet (us, TMST_RES = 0)
        self.rate_hz, self._code = pick_rate(ODRS, rate_hz)
        self.period_us = 1000000 // self.rate_hz
        self.reset()
        self.configure()

    def reset(self):
        dev = self.dev
        dev.write_reg(_REG_BANK_SEL, 0)
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        dev.write_reg(_DEVICE_CONFIG, 0x01)
        sleep_ms(2)  # registers usable 1 ms after a soft reset (DEVICE_CONFIG)

    def configure(self):
        dev = self.dev
        dev.write_reg(_REG_BANK_SEL, 0)
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        code = self._code
        dev.write_reg(_GYRO_CONFIG0, _GYRO_FS_2000 | code)
        dev.write_reg(_ACCEL_CONFIG0, _ACCEL_FS_8G | code)
        dev.write_reg(_INT_CONFIG, _INT1_LATCHED_PP_HIGH)
        dev.update_bits(_INT_CONFIG1, 0x10, 0)  # INT_ASYNC_RESET = 0 for a working INT1
        if self.fifo:
            dev.write_reg(_FIFO_CONFIG1, 0x27)  # accel + gyro + temp (packet 3), WM_GT_TH
            dev.write_reg(_FIFO_CONFIG2, _FIFO_PACKET)
            dev.write_reg(_FIFO_CONFIG2 + 1, 0)
            dev.write_reg(_FIFO_CONFIG, _FIFO_STREAM)
            dev.write_reg(_SIGNAL_PATH_RESET, 0x02)  # FIFO_FLUSH
            dev.write_reg(_INT_SOURCE0, 0x04)
        else:
            dev.write_reg(_FIFO_CONFIG, 0)  # bypass
            dev.write_reg(_INT_SOURCE0, _UI_DRDY_INT1_EN)
        dev.write_reg(_PWR_MGMT0, _ACCEL_GYRO_LN)
        sleep_us(300)  # no register writes for 200 us after leaving OFF (PWR_MGMT0)

    def ready(self):
        if self.fifo:
            return self.fifo_level() >= _FIFO_PACKET
        return self.dev.read_reg(_INT_STATUS) & 0x08

    @micropython.native
    def read_into(self, out):
        """Fill out[0:6] with ax ay az gx gy gz raw counts: one 15-byte burst from
        ACCEL_DATA_X1, big-endian, accel before gyro, ending on INT_STATUS (clears INT1)."""
        b = self._raw
        self.i2c.readfrom_mem_into(self.address, _ACCEL_DATA_X1, b)
        for i in range(6):
            v = (b[2 * i] << 8) | b[2 * i + 1]
            out[i] = v - 65536 if v & 0x8000 else v

    @micropython.native
    def fifo_level(self):
        """Bytes waiting in the FIFO (FIFO_COUNTH/L)."""
        c = self._count
        self.i2c.readfrom_mem_into(self.address, _FIFO_COUNTH, c)
        return (c[0] << 8) | c[1]

    @micropython.native
    def fifo_read_into(self, out):
        """Pop one 16-byte packet (DS-000347 "FIFO packet structure", packet 3); 1 if it held
        accel and gyro, 0 if the FIFO was empty. The packet's timestamp goes to fifo_ts."""
        if self.fifo_level() < _FIFO_PACKET:
            return 0
        p = self._packet
        self.i2c.readfrom_mem_into(self.address, _FIFO_DATA, p)
        if p[0] & _HEADER_EMPTY or p[0] & _HEADER_ACCEL_GYRO != _HEADER_ACCEL_GYRO:
            return 0
        for i in range(6):
            v = (p[1 + 2 * i] << 8) | p[2 + 2 * i]
            out[i] = v - 65536 if v & 0x8000 else v
        self.fifo_ts = (p[14] << 8) | p[15]
        return 1
