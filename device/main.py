"""Board entry point (copied to the board as /main.py by `make deploy`).

Boot: keep the Nano's radio in reset, then check the button: held at power-up = safe boot,
the app does not start and the REPL stays free for `mpremote` to repair files. Otherwise
load the stored config (a refused or half-written one falls back to defaults, and says so),
build the board (pins chosen from the board name, IMU from the config), start the
watchdog and run the loop. The loop never sleeps; it ticks the app only on a new sample:
`next_sample()` returns 2 while the IMU is faulted (no new data; the board plays the fault
buzz and probes the sensor until it answers again; the app's fault flag says so).

Between samples, in this order and each bounded: the session log store takes the completed
steps (and flushes every few seconds), then the serial command service is polled until the
IMU has the next sample ready, so a host never delays a sample by more than one poll.
"""

from device import board as hw
from device.app import App
from device.drivers.button import held_at_boot
from shared.config import Config

DATA_DIR = ""  # LittleFS is mounted at / on the rp2 port: config.json and logs/ live there
FAULT_IMU = 4  # App.faults bit: the IMU is missing or failing (see device/board.py)
BUTTON_LONG = 2  # device/drivers/button.py LONG


def run(app, board, n=-1, log=None, service=None):
    """The firmware loop; n samples (or loop periods) at most, -1 = forever."""
    while n != 0:
        r = board.next_sample()
        if r == 1:
            app.faults &= ~FAULT_IMU
            app.tick()
            if service is not None:
                service.sample(app)
        elif r == 0:
            break
        else:
            app.faults |= FAULT_IMU
        if log is not None:
            log.service(app)  # takes the step ring and logs cues/faults; flushes on schedule
        else:
            app.idle()
        take = getattr(board, "take_button", None)
        if take is not None:
            press = take()
            if press:
                on_button(app, press, log)
        if service is not None:
            ready = getattr(board, "data_ready", None)
            while service.poll() and ready is not None and not ready():
                pass
        if n > 0:
            n -= 1


def on_button(app, press, log):
    """Short press: start or stop a session; long press: stand still and recalibrate."""
    if press == BUTTON_LONG:
        from device.service import start_calibration

        start_calibration(app)
    elif log is not None:
        if log.active:
            log.stop(app, "button")
        else:
            log.start(app, "button")


def boot(clock=None, max_samples=-1, watchdog=True, serve=True):
    """Returns (app, board), or None on a safe boot. serve=False: no serial service and no
    log store (the boot tests drive the loop without a host or a filesystem)."""
    pins = hw.detect_pins()
    hw.hold_radio_in_reset(pins)
    if held_at_boot(hw.button_pin(pins)):
        print("hipcue: safe boot (button held at power-up): app not started")
        return None
    note = "defaults"
    cfg_fault = 0
    if serve:
        from device.service import load_config

        cfg, note, cfg_fault = load_config(DATA_DIR or ".")
    else:
        cfg = Config()
    board = hw.Board(rate_hz=cfg["rate_hz"], imu=cfg["imu"], pins=pins, clock=clock)
    app = App(board, cfg, calibrate=True, period_us=board.period_us)
    app.faults |= cfg_fault  # a refused stored config was set aside: the defaults run
    log = service = None
    if serve:
        from device.link import StdioLink
        from device.logstore import LogStore
        from device.service import FIRMWARE_VERSION, Service

        log = LogStore(
            (DATA_DIR or ".") + "/logs",
            period_us=board.period_us,
            fw=FIRMWARE_VERSION,
            device=board.name,
        )
        link = StdioLink()
        service = Service(link, cfg, DATA_DIR or ".", app=app, board=board)
        service.config_note = note
        service.log = log
        link.block_ctrl_c()  # a 0x03 inside a frame must not stop the app
    print(
        "hipcue: %s, %s, %d us, fault %d, %d mV"
        % (board.name, board.imu_name, board.period_us, board.fault, board.vbat_mv)
    )
    if watchdog:
        board.start_watchdog()
    run(app, board, max_samples, log, service)
    return app, board


if __name__ == "__main__":
    boot()
