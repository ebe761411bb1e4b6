"""The virtual device: the firmware under the MicroPython unix port, its serial port on a pty.

    micropython -i -m sim.unix_main JOB_DIR DATA_DIR      (started by `hipcue sim`)

JOB_DIR (written by host/hipcue/sim.py) holds job.json (period_us, n, speed_pct, loop,
calibrate, hold, trace name), counts.bin (int16 ax ay az gx gy gz per sample) and dt.bin (int32 us
since the previous sample), as for sim/run.py. DATA_DIR is the device's filesystem:
config.json and logs/. stdin/stdout are the serial port (the pty), as on the board.

Session logs: a LogStore (device/logstore.py) over DATA_DIR/logs, serviced once per sample
right after tick(), as on the board: it takes the app's step ring itself (the live stream
only peeks at the ring first), starts a session on walking, ends it after standing still,
and the end of a trace played once ends the running session ("end": the wearer took the
device off). `hold` in job.json: no sample is fed until the host sends `sim.start` (so the
host can set the config before the walk starts).

Samples are due on the trace's clock divided by the speed; between samples the command
service is polled until the next one is due. A sample handled more than half a (wall-clock)
period after it was due counts as late (board.late, counted by the app).

A Ctrl-C from mpremote (0x03 between frames) ends the loop with KeyboardInterrupt; `-i` then
leaves the unix port at its REPL, as a board would be, so `mpremote resume` works.
"""

import sys
import time

from device.app import App
from device.link import StdioLink
from device.logstore import LogStore
from device.service import FIRMWARE_VERSION, Service, load_config
from sim.board import SimBoard
from sim.job import read_job

GUARD_US = 500  # stop serving this long before a sample is due
RESYNC_US = 200000  # further behind than this (process stopped): restart the clock


class Runner:
    def __init__(self, job_dir, data_dir):
        job, counts, dt = read_job(job_dir)
        self.job = job
        self.cfg, note, cfg_fault = load_config(data_dir)
        self.board = SimBoard(counts, dt)
        self.board.name = "unix-sim"
        self.app = App(self.board, self.cfg, calibrate=job["calibrate"], period_us=job["period_us"])
        self.app.faults |= cfg_fault  # a refused stored config was set aside (defaults run)
        self.link = StdioLink()
        self.service = Service(self.link, self.cfg, data_dir, app=self.app, board=self.board)
        self.service.config_note = note
        self.service.info_hook = self.info
        self.log = LogStore(
            data_dir + "/logs",
            period_us=job["period_us"],
            fw=FIRMWARE_VERSION,
            device=self.board.name,
            buf_bytes=4096,  # a raw capture fills 1.2 kB a second at 100 Hz
            sliced=1,  # as the board's (device/main.py boot())
        )
        self.service.log = self.log
        self.held = 1 if job.get("hold") else 0
        self.service.add_command("sim.start", self.sim_start)
        self.speed_pct = job["speed_pct"]
        self.loop = job["loop"]
        self.laps = 0
        self.done = 0
        self.max_lag_us = 0
        self.resyncs = 0
        self.overruns = 0

    def sim_start(self, req):
        """`sim.start`: a held simulator starts feeding samples."""
        was = self.held
        self.held = 0
        return {"started": 1 if was else 0, "sample": self.board.i}

    def info(self):
        return {
            # the data folder is on the host's disk: its free space is no flash figure
            "flash_free": None,
            "storage": "simulator: a folder on the host's disk, not flash",
            "sim": {
                "held": self.held,
                "trace": self.job["trace"],
                "speed": self.speed_pct / 100,
                "sample": self.board.i,
                "samples": self.board.n,
                "laps": self.laps,
                "done": self.done,
                "max_lag_us": self.max_lag_us,
                "resyncs": self.resyncs,
                "service_overruns": self.overruns,
            },
        }

    def run(self):
        app = self.app
        board = self.board
        service = self.service
        link = self.link
        log = self.log
        speed = self.speed_pct
        half_us = app.period_us * 50 // speed  # half a period, wall clock
        # Stop serving this long before a sample is due; at high speeds a sample period is
        # short (500 us at 20x), so the guard shrinks with it and the port is still served.
        guard_us = min(GUARD_US, app.period_us * 25 // speed)
        while self.held:  # `hipcue sim --hold`: wait for sim.start
            if not service.poll():
                link.wait(20)
        due = time.ticks_us()
        while True:
            if not board.next_sample():
                self.laps += 1
                if not self.loop:
                    break
                board.i = -1
                continue
            due = time.ticks_add(due, board.dt_us * 100 // speed)
            # Between samples: serve the port until the sample is due.
            while True:
                rem = time.ticks_diff(due, time.ticks_us())
                if rem <= guard_us:
                    break
                if service.poll():
                    if time.ticks_diff(time.ticks_us(), due) > half_us:
                        self.overruns += 1  # the service itself made this sample late
                    continue
                # Sleep, waking on input: poll() has ms resolution, so short waits are slept
                # in slices small enough that a request waits at most ~0.3 ms.
                if rem >= 2000:
                    link.wait((rem - 1000) // 1000)
                else:
                    time.sleep_us(min(rem - guard_us, 300))
            while time.ticks_diff(due, time.ticks_us()) > 0:
                pass
            lag = time.ticks_diff(time.ticks_us(), due)
            board.late = 1 if lag > half_us else 0
            if lag > self.max_lag_us:
                self.max_lag_us = lag
            if lag > RESYNC_US:
                due = time.ticks_us()
                self.resyncs += 1
            app.tick()
            service.sample(app)
            if service.live:
                # The live stream peeks at new steps; the log store takes them off the ring.
                k = app.ring_tail
                while k != app.ring_head:
                    j = k & 31
                    service.step(
                        app.ring_ic[j],
                        app.ring_end[j],
                        app.ring_stance[j],
                        app.ring_drop[j],
                        app.ring_cued[j],
                    )
                    k += 1
            log.service(app)
        # The trace is over: the wearer took the device off. Keep serving the port.
        log.stop(app, "end")
        self.done = 1
        while True:
            if not service.poll():
                link.wait(20)


def main(argv):
    if len(argv) != 3:
        print("usage: micropython -i -m sim.unix_main JOB_DIR DATA_DIR")
        return 2
    try:
        import termios  # type: ignore[import-not-found]  # unix port only

        termios.setraw(0)  # the firmware's end of the pty: raw, no echo (see sim.py)
    except (ImportError, OSError, AttributeError):
        pass
    runner = Runner(argv[1], argv[2])
    with open(argv[1] + "/ready", "w") as f:  # the simulator waits for this file
        f.write("1")
    sys.stdout.write("hipcue virtual device ready\r\n")
    runner.link.block_ctrl_c()
    try:
        runner.run()
    finally:
        runner.link.restore_ctrl_c()
        runner.log.stop(runner.app, "interrupted")  # no-op when no session is running
    return 0


if __name__ == "__main__":
    main(sys.argv)
