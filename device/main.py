"""Board entry point (copied to the board as /main.py by `make deploy`).

Boot: keep the Nano's radio in reset, then check the button: held at power-up = safe boot,
the app does not start and the REPL stays free for `mpremote` to repair files. Otherwise
build the board (pins chosen from the board name, IMU from the config), start the
watchdog and run the loop. The loop never sleeps; it ticks the app only on a new sample:
`next_sample()` returns 2 while the IMU is faulted (no new data; the board plays the fault
buzz and probes the sensor until it answers again).
"""

from device import board as hw
from device.app import App
from device.drivers.button import held_at_boot
from shared.config import Config


def run(app, board, n=-1):
    """The firmware loop; n samples (or loop periods) at most, -1 = forever."""
    while n != 0:
        r = board.next_sample()
        if r == 1:
            app.tick()
        elif r == 0:
            break
        app.idle()
        if n > 0:
            n -= 1


def boot(clock=None, max_samples=-1, watchdog=True):
    """Returns (app, board), or None on a safe boot."""
    pins = hw.detect_pins()
    hw.hold_radio_in_reset(pins)
    if held_at_boot(hw.button_pin(pins)):
        print("hipcue: safe boot (button held at power-up): app not started")
        return None
    cfg = Config()
    board = hw.Board(rate_hz=cfg["rate_hz"], imu=cfg["imu"], pins=pins, clock=clock)
    app = App(board, cfg, calibrate=True, period_us=board.period_us)
    print(
        "hipcue: %s, %s, %d us, fault %d, %d mV"
        % (board.name, board.imu_name, board.period_us, board.fault, board.vbat_mv)
    )
    if watchdog:
        board.start_watchdog()
    run(app, board, max_samples)
    return app, board


if __name__ == "__main__":
    boot()
