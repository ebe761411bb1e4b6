# MicroPython (unix port) and CPython: device/main.py's boot path on the simulated board.
#
#   MICROPYPATH=<dir with the fake machine.py>:<repo> micropython tests/mp_boot_probe.py N
#
# An LSM6DSOX held still with +x up (1 g = 4098 counts at 244 ug/LSB) on I2C0; main.boot()
# builds the board and the App and runs N samples. Prints one JSON line.
import json
import sys

if sys.implementation.name != "micropython":
    from tests import fake_machine

    sys.modules["machine"] = fake_machine
import machine  # noqa: E402

from device import main as fw  # noqa: E402
from tests.fake_i2c import FakeLSM6DSOX  # noqa: E402


def main(argv):
    n = int(argv[1])
    SIM = machine.SIM
    SIM.reset()
    dev = SIM.buses[0].attach(FakeLSM6DSOX(SIM.clock))
    s = dev.sample
    s[0], s[1], s[2], s[3], s[4], s[5] = 4098, 12, -20, 3, -2, 1
    SIM.inputs[6] = dev.wait_int
    SIM.adc[29] = 24000
    app, board = fw.boot(clock=SIM.clock, max_samples=n, serve=False)
    print(
        json.dumps(
            {
                "engine": sys.implementation.name,
                "n": app.n,
                "samples": board.samples,
                "state": app.state,
                "calibrated": app.calibrated,
                "faults": app.faults,
                "board_fault": board.fault,
                "missed": app.missed,
                "wdt_timeout_ms": SIM.wdt_timeout_ms,
                "wdt_feeds": SIM.wdt_feeds,
                "wdt_max_gap_us": SIM.wdt_max_gap_us,
                "i2c": SIM.i2c_init[0],
                "imu": board.imu_name,
                "vbat_mv": board.vbat_mv,
                "ctrl1_xl": dev.regs[0x10],
            }
        )
    )


main(sys.argv)
