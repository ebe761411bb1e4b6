"""Replay on the emulated chip: runs ON the RP2040 (MicroPython), sent over the raw REPL by
sim/rp2040/replay.py after a safe boot, with `JOB = {...}` (config, calibrate, period_us, n)
put in front of it. Not part of the firmware image.

The firmware's own board layer reads each sample from the emulated LSM6DSOX over I2C, on its
data-ready pin, as on the board (device/board.py `next_sample()`: dt_us is measured with
ticks_us between data-ready edges, which the emulator raises at the trace's times); the app
ticks on it exactly as sim/run.py does on the unix port. Between samples the core waits
in WFI (machine.idle) woken by the data-ready edge, so idle time costs no wall time; as
next_sample() then finds data-ready already up, the sample is stamped as next_sample() stamps
it when it waits for the edge itself (at the read). A sample whose data-ready was already up
before the wait counts as late (the previous tick overran) and keeps next_sample()'s own
late stamping.

Out on stdout (binary, after the line HIPCUE-RUN): per sample b"D" + obl, tilt (int32 mdeg),
cue (u8), grid (int32 firmware sample index); per completed step b"T" + ic, end (int32), side
(u8), drop (int32 mdeg), cued (u8); then b"E" and one JSON line, the fields of sim/run.py's
result.json.
"""

import json
import struct
import sys
from time import ticks_diff, ticks_us

from machine import Pin, idle

from device import board as hw
from device.app import App, end_steps
from shared.config import Config


def _wake(pin):
    pass


def run(job):
    cfg = Config()
    for key in job["config"]:
        cfg.set(key, job["config"][key])
    board = hw.Board(rate_hz=cfg["rate_hz"], imu=cfg["imu"], pins=hw.detect_pins())
    if board.fault:
        raise OSError("board fault %d at start" % board.fault)
    app = App(board, cfg, calibrate=job["calibrate"], period_us=job["period_us"])
    cal = job.get("calibration")
    if cal and not job["calibrate"]:  # a recorded calibration (a raw session's header)
        app.apply_calibration(cal["frame_q14"], cal["gyro_frame"], cal["bias_q28"])
    n = job["n"]
    out = sys.stdout.buffer
    buf = bytearray(1500)
    mv = memoryview(buf)
    pos = 0
    drdy = board._drdy
    drdy.irq(_wake, Pin.IRQ_RISING)
    k = 0
    board.sensor.configure()  # the emulated sensor starts its stream here
    out.write(b"HIPCUE-RUN\n")
    i = 0
    while i < n:
        late = 1 if drdy.value() else 0
        while not drdy.value():
            idle()
        prev = board._last_us
        if board.next_sample() != 1:
            raise OSError("no sample %d (fault %d)" % (i, board.fault))
        if not late:
            # This loop waited for the edge itself (in WFI), so next_sample() found data-ready
            # up and took its late path (a grid stamp). Restore what it does when it waits
            # for the edge: the sample stamped when it was read.
            now = ticks_us()
            board.dt_us = ticks_diff(now, prev)
            board._last_us = now
            board.t_us = now
        board.late = late
        app.tick()
        if pos > 1400:
            out.write(mv[:pos])
            pos = 0
        buf[pos] = 68  # D
        struct.pack_into(
            "<iiBi", buf, pos + 1, app.obliquity_mdeg, app.tilt_mdeg, app.motor_on, app.n
        )
        pos += 14
        i += 1
        while app.ring_tail != app.ring_head:
            j = app.ring_tail & 31
            buf[pos] = 84  # T
            struct.pack_into(
                "<iiBiB",
                buf,
                pos + 1,
                app.ring_ic[j],
                app.ring_end[j],
                app.ring_stance[j],
                app.ring_drop[j],
                app.ring_cued[j],
            )
            pos += 15
            k += 1
            app.ring_tail += 1
    # the recording ends: the step detector's last steps, as after its timeout (sim/run.py)
    end_steps(app)
    while app.ring_tail != app.ring_head:
        if pos > 1400:
            out.write(mv[:pos])
            pos = 0
        j = app.ring_tail & 31
        buf[pos] = 84  # T
        struct.pack_into(
            "<iiBiB",
            buf,
            pos + 1,
            app.ring_ic[j],
            app.ring_end[j],
            app.ring_stance[j],
            app.ring_drop[j],
            app.ring_cued[j],
        )
        pos += 15
        k += 1
        app.ring_tail += 1
    buf[pos] = 69  # E
    out.write(mv[: pos + 1])
    result = {
        "engine": "rp2040",
        "samples": n,
        "calibrated": app.calibrated,
        "calibration_failed": 1 if app.faults & 1 else 0,
        "calibration_end_index": app.cal.seen - 1 if app.calibrated else -1,
        "calibration_error": app.cal_error,
        "missed": app.missed,
        "late": app.late,
        "cues": app.cue.cues,
        "steps": k,
        "steps_lost": app.steps_lost,
        "motor_events_dropped": 0,
        "faults": app.faults,
        "feedback": app.feedback_counters(),
    }
    print(json.dumps(result))


run(JOB)  # noqa: F821
