"""InvenSense MPU-6050 accelerometer + gyroscope over I2C, the cheap option (GY-521).

Sources: MPU-6000/MPU-6050 Product Specification PS-MPU-6000A-00 rev 3.4 (§ 6.1-6.2
sensitivities: 4096 LSB/g at AFS_SEL=2, 16.4 LSB/dps at FS_SEL=3) and the Register Map
RM-MPU-6000A-00 rev 4.2 (§ 4, one section per register; the register numbers are
in the comments below).
Full scale +-8 g (244 ug/LSB) and +-2000 dps (60976 udps/LSB), matching shared/config.py
IMUS["mpu6050"]. The bus is passed in; no allocation per read.

Data-ready goes to INT (push-pull, active high, latched until any register read,
INT_RD_CLEAR), so the one 14-byte burst below also releases the line.
"""

from device.drivers.i2cdev import I2CDevice, sleep_ms
from shared.mp import const, micropython

_SMPLRT_DIV = const(0x19)  # Register 25 SMPLRT_DIV: rate = 1 kHz / (1 + div), DLPF on
_CONFIG = const(0x1A)  # Register 26 CONFIG: DLPF_CFG bits 2:0
_GYRO_CONFIG = const(0x1B)  # Register 27 GYRO_CONFIG: FS_SEL bits 4:3
_ACCEL_CONFIG = const(0x1C)  # Register 28 ACCEL_CONFIG: AFS_SEL bits 4:3
_FIFO_EN = const(0x23)  # Register 35 FIFO_EN: bit 6..4 XG YG ZG, bit 3 ACCEL
_INT_PIN_CFG = const(0x37)  # Register 55 INT_PIN_CFG: 7 LEVEL, 6 OPEN, 5 LATCH, 4 RD_CLEAR
_INT_ENABLE = const(0x38)  # Register 56 INT_ENABLE: bit 0 DATA_RDY_EN
_INT_STATUS = const(0x3A)  # Register 58 INT_STATUS: bit 0 DATA_RDY_INT, bit 4 FIFO_OFLOW_INT
_ACCEL_XOUT_H = const(0x3B)  # Registers 59-72: accel x y z, temp, gyro x y z (0x43), BE
_USER_CTRL = const(0x6A)  # Register 106 USER_CTRL: bit 6 FIFO_EN, bit 2 FIFO_RESET
_PWR_MGMT_1 = const(0x6B)  # Register 107 PWR_MGMT_1: bit 7 DEVICE_RESET, bit 6 SLEEP, CLKSEL 2:0
_FIFO_COUNTH = const(0x72)  # Registers 114-115 FIFO_COUNT: bytes, big-endian
_FIFO_R_W = const(0x74)  # Register 116 FIFO_R_W: reads pop the FIFO
_WHO_AM_I = const(0x75)  # Register 117 WHO_AM_I reads 68h (AD0 does not change it)
_WHO_AM_I_VALUE = const(0x68)

_FS_2000 = const(0x18)  # FS_SEL = 3
_AFS_8G = const(0x10)  # AFS_SEL = 2
_CLK_PLL_XGYRO = const(0x01)  # CLKSEL = 1, SLEEP = 0
_INT_LATCH_RD_CLEAR = const(0x30)  # active high, push-pull, latched, cleared by any read
_FIFO_ACCEL_GYRO = const(0x78)  # XG YG ZG ACCEL: 12 bytes a sample, accel then gyro
_FIFO_SAMPLE = const(12)


class MPU6050:
    name = "MPU-6050"
    acc_ug_per_lsb = 244
    gyro_udps_per_lsb = 60976

    def __init__(self, i2c, address=0x68, rate_hz=100, fifo=False):
        self.dev = I2CDevice(i2c, address)
        self.i2c = i2c
        self.address = address
        self._raw = bytearray(14)
        self._sample = bytearray(_FIFO_SAMPLE)
        self._count = bytearray(2)
        self.fifo = fifo
        self.fifo_overruns = 0
        self._div = max(0, min(255, (1000 + rate_hz // 2) // rate_hz - 1))
        self.period_us = 1000 * (1 + self._div)
        self.rate_hz = 1000 // (1 + self._div)
        # DLPF below half the sample rate: 3 = 44 Hz, 2 = 94 Hz, 1 = 184 Hz (Register 26 table)
        self._dlpf = 3 if self.rate_hz < 188 else (2 if self.rate_hz < 368 else 1)
        self.reset()
        self.configure()

    def reset(self):
        dev = self.dev
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        dev.write_reg(_PWR_MGMT_1, 0x80)  # DEVICE_RESET; all registers to their defaults
        sleep_ms(100)  # reset time (after DEVICE_RESET, Register 107)

    def configure(self):
        dev = self.dev
        dev.check_id(_WHO_AM_I, _WHO_AM_I_VALUE, self.name)
        dev.write_reg(_PWR_MGMT_1, _CLK_PLL_XGYRO)  # wake (SLEEP is 1 after reset)
        dev.write_reg(_CONFIG, self._dlpf)
        dev.write_reg(_SMPLRT_DIV, self._div)
        dev.write_reg(_GYRO_CONFIG, _FS_2000)
        dev.write_reg(_ACCEL_CONFIG, _AFS_8G)
        dev.write_reg(_INT_PIN_CFG, _INT_LATCH_RD_CLEAR)
        if self.fifo:
            dev.write_reg(_USER_CTRL, 0x04)  # FIFO_RESET
            dev.write_reg(_FIFO_EN, _FIFO_ACCEL_GYRO)
            dev.write_reg(_USER_CTRL, 0x40)  # FIFO_EN
        else:
            dev.write_reg(_FIFO_EN, 0)
            dev.write_reg(_USER_CTRL, 0)
        dev.write_reg(_INT_ENABLE, 0x01)  # DATA_RDY_EN

    def ready(self):
        if self.fifo:
            return self.fifo_level() >= _FIFO_SAMPLE
        return self.dev.read_reg(_INT_STATUS) & 0x01

    @micropython.native
    def read_into(self, out):
        """Fill out[0:6] with ax ay az gx gy gz raw counts: one 14-byte burst from
        ACCEL_XOUT_H (accel, temperature, gyro), big-endian; the temperature is skipped."""
        b = self._raw
        self.i2c.readfrom_mem_into(self.address, _ACCEL_XOUT_H, b)
        for i in range(3):
            a = (b[2 * i] << 8) | b[2 * i + 1]
            g = (b[8 + 2 * i] << 8) | b[9 + 2 * i]
            out[i] = a - 65536 if a & 0x8000 else a
            out[3 + i] = g - 65536 if g & 0x8000 else g

    @micropython.native
    def fifo_level(self):
        """Bytes in the 1024-byte FIFO; after an overflow the FIFO is reset (its sample
        alignment is lost) and counted in fifo_overruns."""
        c = self._count
        self.i2c.readfrom_mem_into(self.address, _FIFO_COUNTH, c)
        n = (c[0] << 8) | c[1]
        if n >= 1024 - _FIFO_SAMPLE:
            self.fifo_overruns += 1
            self.dev.write_reg(_USER_CTRL, 0x44)  # FIFO_EN | FIFO_RESET
            return 0
        return n

    @micropython.native
    def fifo_read_into(self, out):
        """Pop one 12-byte sample (accel x y z, gyro x y z, big-endian); 0 if none."""
        if self.fifo_level() < _FIFO_SAMPLE:
            return 0
        s = self._sample
        self.i2c.readfrom_mem_into(self.address, _FIFO_R_W, s)
        for i in range(6):
            v = (s[2 * i] << 8) | s[2 * i + 1]
            out[i] = v - 65536 if v & 0x8000 else v
        return 1
