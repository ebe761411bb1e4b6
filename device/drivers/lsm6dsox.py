"""ST LSM6DSOX accelerometer + gyroscope over I2C (datasheet DS13223).

The bus is passed in; raw int16 counts are read into a preallocated buffer, no allocation
per read. Full scale +-8 g (0.244 mg/LSB) and +-2000 dps (70 mdps/LSB), data-ready on INT1.
"""

from shared.mp import const, micropython

_WHO_AM_I = const(0x0F)
_WHO_AM_I_VALUE = const(0x6C)
_INT1_CTRL = const(0x0D)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_STATUS = const(0x1E)
_OUTX_L_G = const(0x22)  # gyro x, y, z then accel x, y, z: 12 bytes, auto-increment

# ODR codes (CTRL1_XL / CTRL2_G bits 7:4) and their rates in Hz.
ODRS = ((12, 0x1), (26, 0x2), (52, 0x3), (104, 0x4), (208, 0x5), (416, 0x6), (833, 0x7))
_FS_XL_8G = const(0x0C)  # bits 3:2 = 11
_FS_G_2000 = const(0x0C)  # bits 3:2 = 11
_BDU_IF_INC = const(0x44)  # block data update, register auto-increment
_DRDY_XL_G = const(0x03)


class LSM6DSOX:
    name = "LSM6DSOX"
    acc_ug_per_lsb = 244
    gyro_udps_per_lsb = 70000

    def __init__(self, i2c, address=0x6A, rate_hz=104):
        self.i2c = i2c
        self.address = address
        self._one = bytearray(1)
        self._raw = bytearray(12)
        who = self._read_reg(_WHO_AM_I)
        if who != _WHO_AM_I_VALUE:
            raise OSError("LSM6DSOX not found at 0x%02x (WHO_AM_I 0x%02x)" % (address, who))
        self.rate_hz, code = ODRS[-1]
        for hz, c in ODRS:
            if hz >= rate_hz:
                self.rate_hz, code = hz, c
                break
        self._write_reg(_CTRL3_C, _BDU_IF_INC)
        self._write_reg(_CTRL1_XL, (code << 4) | _FS_XL_8G)
        self._write_reg(_CTRL2_G, (code << 4) | _FS_G_2000)
        self._write_reg(_INT1_CTRL, _DRDY_XL_G)

    def _read_reg(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._one)
        return self._one[0]

    def _write_reg(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.address, reg, self._one)

    def ready(self):
        return self._read_reg(_STATUS) & 0x03 == 0x03

    @micropython.native
    def read_into(self, out):
        """Fill out[0:6] with ax ay az gx gy gz raw counts (sensor axes)."""
        b = self._raw
        self.i2c.readfrom_mem_into(self.address, _OUTX_L_G, b)
        for i in range(3):
            g = b[2 * i] | (b[2 * i + 1] << 8)
            a = b[6 + 2 * i] | (b[7 + 2 * i] << 8)
            out[i] = a - 65536 if a & 0x8000 else a
            out[3 + i] = g - 65536 if g & 0x8000 else g
