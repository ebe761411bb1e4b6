"""Register access shared by the I2C drivers: the bus is passed in, one scratch byte is
allocated once, and every access goes through `readfrom_mem_into` / `writeto_mem`.

Used only at set-up and on recovery; the per-sample burst reads live in each driver.
"""

try:
    from time import sleep_ms, sleep_us
except ImportError:  # CPython (tests): the same names over time.sleep
    from time import sleep as _sleep

    def sleep_ms(ms):  # type: ignore[misc]
        _sleep(ms / 1000)

    def sleep_us(us):  # type: ignore[misc]
        _sleep(us / 1000000)


class I2CDevice:
    def __init__(self, i2c, address):
        self.i2c = i2c
        self.address = address
        self._one = bytearray(1)

    def read_reg(self, reg):
        self.i2c.readfrom_mem_into(self.address, reg, self._one)
        return self._one[0]

    def write_reg(self, reg, value):
        self._one[0] = value
        self.i2c.writeto_mem(self.address, reg, self._one)

    def update_bits(self, reg, mask, value):
        """Read-modify-write: only the bits in `mask` change."""
        self.write_reg(reg, (self.read_reg(reg) & ~mask & 0xFF) | (value & mask))

    def check_id(self, reg, expected, name):
        who = self.read_reg(reg)
        if who != expected:
            raise OSError(
                "%s not found at 0x%02x (WHO_AM_I 0x%02x, expected 0x%02x)"
                % (name, self.address, who, expected)
            )


def pick_rate(table, rate_hz):
    """The first (hz, code) in an ascending table with hz >= rate_hz, else the fastest."""
    for hz, code in table:
        if hz >= rate_hz:
            return hz, code
    return table[-1]
