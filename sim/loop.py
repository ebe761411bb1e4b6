"""The board loop of device/main.py on the MicroPython unix port, over a replay job.

Host-only (never shipped to the board, see the Makefile's FIRMWARE_SRC). `build()` makes what
`device.main.boot()` makes on the board: the App, a LogStore writing sessions into a folder,
the command Service over the byte link (StdioLink: stdin/stdout, a pipe or a pty here, USB CDC
on the board), wired as boot() wires them; only the board layer is substituted: `LoopBoard`
(sim/board.py) serves the job's samples. Then `device.main.run()` itself runs, the very
loop the board runs. Used by the allocation test (tests/mp_board_loop_probe.py) and the
benchmark (bench/mp_board_loop.py).

LoopBoard over SimBoard: `data_ready()` says 1 (in a replay the next sample is always
waiting, so the loop serves the port once per sample and moves on: the bounded case),
`take_button()` gives the presses scripted with `press(at_sample, kind)`, and `with_hook(fn)`
has fn() called at the start of every next_sample() (the benchmark's per-sample markers).
"""

import sys
from array import array

from device import main as fw
from device.app import App
from device.link import StdioLink
from device.logstore import LogStore
from device.service import FIRMWARE_VERSION, Service
from sim.board import SimBoard

if sys.implementation.name != "micropython":
    from shared.mp import ptr32  # viper's pointer cast (a builtin there)
from shared.config import Config
from shared.mp import micropython
from sim.job import read_job


class LoopBoard(SimBoard):
    name = "unix-loop"

    def __init__(self, counts, dt_us, max_motor_events=65536):
        super().__init__(counts, dt_us, max_motor_events)
        self.button_event = 0
        self.events = array("i", [0])  # as device/board.py: 1 while a press waits
        self._press_at = array("i", [-1] * 8)
        self._press_kind = array("i", [0] * 8)
        self._presses = 0
        self.fault = 0
        self.vbat_mv = 0

    def press(self, at_sample, kind):
        """A button event (1 short, 2 long) reported after sample at_sample is read. The
        first press replaces next_sample() on this board by one that also checks the
        presses (an instance attribute, which run() binds as the board's own)."""
        k = self._presses
        self._press_at[k] = at_sample
        self._press_kind[k] = kind
        self._presses = k + 1
        if k == 0:
            self.next_sample = self._next_with_presses  # type: ignore[method-assign]

    def with_hook(self, hook):
        """From now on hook() is called at the start of every next_sample()."""
        read = self.next_sample

        def next_sample():
            hook()
            return read()

        self.next_sample = next_sample  # type: ignore[method-assign]

    def mark_samples(self, on):
        """on: next_sample() makes a callgrind marker (a hash() call) first (an instance
        attribute over SimBoard's method, which run() binds); off: SimBoard's again."""
        if on:
            self.next_sample = self._next_marked  # type: ignore[method-assign]
        elif "next_sample" in self.__dict__:
            del self.next_sample

    @micropython.viper
    def _next_marked(self) -> int:
        """SimBoard.next_sample with hash(0) first."""
        hash(0)
        return int(SimBoard.next_sample(self))

    def _next_with_presses(self):
        r = SimBoard.next_sample(self)
        k = self._presses
        while k > 0:
            k -= 1
            if self._press_at[k] == self.i:
                self.button_event = self._press_kind[k]
                self.events[0] = 1
        return r

    def data_ready(self):
        return 1

    def take_button(self):
        ev = self.button_event
        self.button_event = 0
        self.events[0] = 0
        return ev


def load(job_dir, max_motor_events=65536):
    """(job dict, Config, LoopBoard) from a job folder (the format of sim/job.py)."""
    job, counts, dt = read_job(job_dir)
    cfg = Config()
    conf = job.get("config", {})
    for key in conf:
        cfg.set(key, conf[key])
    return job, cfg, LoopBoard(counts, dt, max_motor_events)


def build(job_dir, data_dir, link=None, max_motor_events=65536, **log_kw):
    """What boot() builds, over the job's samples: (job, board, app, log, service).
    log_kw: LogStore settings other than boot()'s defaults (e.g. flush_ms)."""
    job, cfg, board = load(job_dir, max_motor_events)
    if "sliced" not in log_kw:
        log_kw["sliced"] = 1  # as boot() builds it
    app = App(board, cfg, calibrate=job["calibrate"], period_us=job["period_us"])
    log = LogStore(
        data_dir + "/logs",
        period_us=job["period_us"],
        fw=FIRMWARE_VERSION,
        device=board.name,
        **log_kw,
    )
    if link is None:
        link = StdioLink()
    service = Service(link, cfg, data_dir, app=app, board=board)
    service.config_note = "simloop"
    service.log = log
    return job, board, app, log, service


@micropython.viper
def stages(app, board, n: int, log, service):
    """device/main.py run() with a marker, hash(0), before each of its stages, for the
    benchmark's split (callgrind dumps at each marker): read, tick (with the live stream's
    sample), log (the event check and the log service), button, service (the link check and
    the command service). run()'s statements, in the same order, also in viper, for a board,
    log store and service that are all there (tested: the same log files come out)."""
    next_sample = board.next_sample
    tick = app.tick
    cells = ptr32(app.cells)
    bev = ptr32(board.events)
    take = board.take_button
    ready = board.data_ready
    due = ptr32(log.due)
    log_service = log.service
    wants = ptr32(service.wants)
    poll = service.poll
    sample = service.sample
    ipoll_in = service.link.ipoll_in
    fault = int(app.faults) & 4
    while n != 0:
        hash(0)
        r = int(next_sample())
        if r == 1:
            if fault:
                fault = 0
                app.faults = int(app.faults) & ~4
                cells[14] |= 4
        elif r == 0:
            break
        elif not fault:
            fault = 4
            app.faults = int(app.faults) | 4
            cells[14] |= 4
        hash(0)
        if r == 1:
            tick()
            if wants[1]:
                sample(app)  # (live steps are not peeked here: the benchmark has no host)
        hash(0)
        c = cells[0]
        if cells[14] or (c & 0x3FFFFFFF) - (c >> 1 & 0x20000000) - (c >> 1 & 0x20000000) >= due[0]:
            cells[14] = 0
            was = int(log.active)
            log_service(app)
            if int(log.active) != was:
                wants[0] = 1
        hash(0)
        if bev[0]:
            press = take()
            if press:
                fw.on_button(app, press, log)
                wants[0] = 1
        hash(0)
        go = wants[0]
        if not go:
            for _ in ipoll_in(0):
                go = 1
                break
        if go:
            while poll() and not ready():
                pass
        if n > 0:
            n -= 1
