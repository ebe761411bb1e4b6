"""Supply voltage in integer millivolts from an ADC pin behind a divider.

Build (a), Pico: V_SYS / 3 on GP29 (ADC3), on the board (Pico datasheet, pinout; § 4.5).
Build (b), Nano RP2040 Connect: V_SYS / 2 on A0 = GPIO26 (ADC0), two 100 kOhm resistors.
`read_u16()` is scaled to 0..65535 for 0..3.3 V (RP2040 datasheet § 4.9; 12-bit inside).
On battery, V_cell ~= V_SYS + ~0.25 V (the Schottky diode); with USB in, V_SYS is ~4.7 V.
"""

from shared.mp import const

_FULL = const(65535)


class Battery:
    def __init__(self, adc, ratio=3, vref_mv=3300, samples=4):
        self.adc = adc
        self.ratio = ratio
        self.vref_mv = vref_mv
        self.samples = samples
        self.mv = 0

    def read_mv(self):
        """Average `samples` readings; integer mV. Largest intermediate: 65535 * 3300 * 3
        = 6.5e8 < 2**30, a small int on the RP2040."""
        s = 0
        for _ in range(self.samples):
            s += self.adc.read_u16()
        raw = s // self.samples
        self.mv = raw * self.vref_mv * self.ratio // _FULL
        return self.mv
