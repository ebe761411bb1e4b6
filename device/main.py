"""Board entry point (copied to the board as /main.py by `make deploy`).

Boot: keep the Nano's radio in reset, then check the button: held at power-up = safe boot,
the app does not start and the REPL stays free for `mpremote` to repair files. Otherwise
load the stored config (a refused or half-written one falls back to defaults, and says so),
build the board (pins chosen from the board name, IMU from the config), start the
watchdog and run the loop. It ticks the app only on a new sample: `next_sample()` returns 2
while the IMU is faulted (no new data; the board plays the fault buzz and probes the sensor
until it answers again; the app's fault flag says so), 3 while the board waits for motion.

The loop sleeps (issue 15, device/board.py): the LSM6DSOX batches `fifo_batch` samples into
its FIFO, the MCU sleeps until the threshold interrupt, reads the batch in one burst and the
loop ticks its samples one by one (each on the sensor's grid, so the outputs are those of a
sample-by-sample loop). After `idle_stop_s` without a step (not while calibrating, in a test,
an exercise set or a live stream) a session still open ends ("still") and the board waits
for motion: gyro off, accelerometer at 26 Hz in low power with its wake-up interrupt; the
wake-up (or a button press) brings it back to sampling, and the first step starts a session
as before. The command service runs only while USB is connected (the board's VBUS sense).

Between samples, in this order and each bounded: the session log store takes the completed
steps (and flushes every few seconds), then the serial command service is polled until the
IMU has the next sample ready, so a host never delays a sample by more than one poll. Each
runs only when it has work (run() says how it knows); on a sample with nothing to do the
loop reads a few integers and moves on.
"""

import sys
from array import array

from device import app as _app
from device.app import App
from shared.config import Config
from shared.mp import const, micropython

DATA_DIR = ""  # LittleFS is mounted at / on the rp2 port: config.json and logs/ live there
FAULT_IMU = const(4)  # App.faults bit: the IMU is missing or failing (see device/board.py)
BUTTON_LONG = 2  # device/drivers/button.py LONG
# device/app.py's event cells and bits, device/service.py's `wants` cells (as constants here:
# a module global costs a dictionary lookup on every use)
_CELL_N = const(0)
_CELL_EV = const(14)
_EV_STEP = const(1)
_EV_FAULT = const(4)
_WANT_POLL = const(0)
_WANT_SAMPLE = const(1)
if (_CELL_N, _CELL_EV, _EV_STEP, _EV_FAULT) != (
    _app.CELL_N,
    _app.CELL_EV,
    _app.EV_STEP,
    _app.EV_FAULT,
):
    raise ImportError("device/main.py: the app's event cells moved")
_NONE = array("i", [0])  # for a board without an event cell, a loop without a service
_NEVER = array("i", [0x3FFFFFFF])  # `due` of a loop without a log store
_ALWAYS = array("i", [1, 1])  # `wants` of a service that does not say
_NO_WANTS = array("i", [0, 0])  # `wants` of a loop without a service
_BOARD_CELLS = array("i", [1, 0])  # a board without `cells`: USB up, never waits for motion
_WAITING = const(3)  # device/board.py WAITING: no sample, the board waits for motion


_M30 = const(0x3FFFFFFF)  # sign correction of int32 cells read with ptr32 (device/app.py)
_B29 = const(0x20000000)

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)


def _zero():
    return 0


def _one():
    return 1


def _ignore(*args):
    pass


_NO_INPUT = ()


def _present(x):
    return 1 if x is not None else 0


def _may_wait(app, log, service):
    """After a still period (the board's `idle_stop_s` without a step): 1 if the loop may
    put the board into its wait for motion (the app is not calibrating, running a test or
    an exercise set, no live stream is on); a session still open ends ("still")."""
    if not app.may_wait():
        return 0
    if service is not None and getattr(service, "wants", _NO_WANTS)[_WANT_SAMPLE]:
        return 0
    if log is not None and log.active:
        log.stop(app, "still")
    return 1


class _PollInput:
    """For a link without `ipoll_in`: its readable() as an ipoll-like iterable."""

    def __init__(self, readable):
        self.readable = readable

    def __call__(self, timeout):
        return (1,) if self.readable() else _NO_INPUT


@micropython.viper
def run(app, board, n: int = -1, log=None, service=None):
    """The firmware loop; n samples (or loop periods) at most, -1 = forever.

    Per sample it reads a few integer cells and calls only what has work: the board read
    and tick always; the live stream's sample() while it is on; the log store when the app
    reports an event (a step, a cue, a fault change, a host request) or the sample index
    reaches the store's `due` (its next summary, flush or still timeout); the button
    handler on a press (the board's event cell); the command service when a byte is
    waiting on the link (ipoll) or the service asked for another poll (an answer going
    out, a timer). Everything it calls is bound here, once: nothing on the way allocates.
    The services behave exactly as when they were called on every sample
    (device/logstore.py and device/service.py say why).
    """
    next_sample = board.next_sample
    tick = app.tick
    cells = ptr32(app.cells)
    ring_ic, ring_end, ring_stance = app.ring_ic, app.ring_end, app.ring_stance
    ring_drop, ring_cued = app.ring_drop, app.ring_cued
    bev = ptr32(getattr(board, "events", _NONE))
    take = getattr(board, "take_button", _zero)
    ready = getattr(board, "data_ready", _one)  # a board that cannot tell: one poll per sample
    # viper: a local first bound to None stays of type None, so the absent parts are
    # stand-ins and `has_log` / `has_service` say which are real
    due_obj = _NEVER
    idle = app.idle
    log_service = idle
    has_log = 0
    if _present(log):
        has_log = 1
        due_obj = log.due
        log_service = log.service
    due = ptr32(due_obj)
    wants_obj = _NO_WANTS
    poll = _zero
    sample = step = _ignore
    ipoll_in = _PollInput(_zero)
    has_service = 0
    if _present(service):
        has_service = 1
        # a service without `wants` (a test's stand-in) is polled and sampled every sample
        wants_obj = getattr(service, "wants", _ALWAYS)
        poll = service.poll
        sample = service.sample
        step = getattr(service, "step", _ignore)
        link = getattr(service, "link", None)
        ipoll_in = getattr(link, "ipoll_in", _zero)  # type: ignore[arg-type]
        if ipoll_in is _zero:
            ipoll_in = _PollInput(getattr(link, "readable", _zero))
    wants = ptr32(wants_obj)
    # the board's cells: [0] USB connected (the command service runs only then), [1] samples
    # without a step after which the board waits for motion (0: never)
    bc = ptr32(getattr(board, "cells", _BOARD_CELLS))
    wait_for_motion = getattr(board, "wait_for_motion", _zero)
    resume = getattr(board, "resume", _zero)
    resumed = getattr(app, "resumed", _zero)
    quiet = 0  # sample index of the last step (or of the start, or of the last wake)
    waiting = 0
    fault = int(app.faults) & FAULT_IMU
    while n != 0:
        r = int(next_sample())
        if r == 1:
            if waiting:
                waiting = 0  # motion (or the button) woke the board: sampling again
                resumed()
                quiet = -1
            if fault:
                fault = 0
                app.faults = int(app.faults) & ~FAULT_IMU
                cells[_CELL_EV] |= _EV_FAULT
            tick()
            if wants[_WANT_SAMPLE]:
                sample(app)
                if cells[_CELL_EV] & _EV_STEP:
                    # the live stream peeks at new steps; the log store takes them off
                    k = int(app.ring_tail)
                    head = int(app.ring_head)
                    while k != head:
                        j = k & 31
                        step(ring_ic[j], ring_end[j], ring_stance[j], ring_drop[j], ring_cued[j])
                        k += 1
        elif r == 0:
            break
        elif r == _WAITING:
            if wants[_WANT_SAMPLE]:
                resume()  # a live stream was asked for: sample again
        elif not fault:
            fault = FAULT_IMU
            app.faults = int(app.faults) | FAULT_IMU
            cells[_CELL_EV] |= _EV_FAULT
        c = cells[_CELL_N]
        cn = (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
        if bc[1] and r == 1:
            if quiet < 0 or cells[_CELL_EV] & _EV_STEP:
                quiet = cn
            elif cn - quiet >= bc[1]:
                quiet = cn
                if _may_wait(app, log, service):
                    waiting = int(wait_for_motion())
                    wants[_WANT_POLL] = 1  # the session's end (if one was open) is news
        if cells[_CELL_EV] or cn >= due[0]:
            cells[_CELL_EV] = 0
            if has_log:
                was = int(log.active)
                log_service(app)  # takes the step ring, logs cues/faults, flushes on schedule
                if int(log.active) != was:
                    wants[_WANT_POLL] = 1  # a session opened or closed: its hash is due
            else:
                idle()
        if bev[0]:
            press = take()
            if press:
                on_button(app, press, log)
                wants[_WANT_POLL] = 1
                quiet = -1  # a press gives the wearer a whole still period
        if has_service and bc[0]:
            go = wants[_WANT_POLL]
            if not go:
                for _ in ipoll_in(0):
                    go = 1
                    break
            if go:
                while poll() and not ready():
                    pass
        if n > 0:
            n -= 1


def on_button(app, press, log):
    """Short press: start or stop a session (in exercise mode: a set, device/service.py
    button()); long press: stand still and recalibrate."""
    if press == BUTTON_LONG:
        from device.service import start_calibration

        start_calibration(app)
    elif log is not None:
        hook = getattr(log, "button_hook", None)
        if hook is not None and hook(press):
            return
        if log.active:
            log.stop(app, "button")
        else:
            log.start(app, "button")


def boot(clock=None, max_samples=-1, watchdog=True, serve=True):
    """Returns (app, board), or None on a safe boot. serve=False: no serial service and no
    log store (the boot tests drive the loop without a host or a filesystem)."""
    from device import board as hw  # the machine layer, imported here: run() also runs
    from device.drivers.button import held_at_boot  # where `machine` lacks the rp2 parts

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
    # The LSM6DSOX batches into its FIFO: a flash erase stalls the core ~45 ms (no code runs
    # from flash meanwhile), and the samples that come in then wait there, to be read after it
    # and stamped on their grid slots (Board.next_sample), instead of being overwritten unread.
    # FIFO batching: the MCU sleeps between the sensor's threshold interrupts (every
    # fifo_batch samples) and the loop ticks the batch's samples one by one; after
    # idle_stop_s without a step the board waits for motion (device/board.py).
    board = hw.make_board(cfg, clock=clock, pins=pins)
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
            sliced=1,  # its file work a piece per call: none overruns a sample period
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
