"""The board loop of device/main.py on the MicroPython unix port, over a replay job.

Host-only (never shipped to the board, see the Makefile's FIRMWARE_SRC). `build()` makes what
`device.main.boot()` makes on the board: the App, a LogStore writing sessions into a folder,
the command Service over the byte link (StdioLink: stdin/stdout, a pipe or a pty here, USB CDC
on the board), wired as boot() wires them; only the board layer is substituted: `LoopBoard`
(device/simboard.py) serves the job's samples. Then `device.main.run()` itself runs, the very
loop the board runs. Used by the allocation test (tests/mp_board_loop_probe.py) and the
benchmark (bench/mp_board_loop.py).

LoopBoard over SimBoard: `data_ready()` says 1 (in a replay the next sample is always
waiting, so the loop serves the port once per sample and moves on: the bounded case),
`take_button()` gives the presses scripted with `press(at_sample, kind)`, and `hook`, when set,
is called at the start of every next_sample() (the benchmark's per-sample markers).
"""

import json
from array import array

from device.app import App
from device.link import StdioLink
from device.logstore import LogStore
from device.service import FIRMWARE_VERSION, Service
from device.simboard import SimBoard
from device.simrun import _read_array
from shared.config import Config


class LoopBoard(SimBoard):
    name = "unix-loop"

    def __init__(self, counts, dt_us):
        super().__init__(counts, dt_us)
        self.hook = None
        self.button_event = 0
        self._press_at = array("i", [-1] * 8)
        self._press_kind = array("i", [0] * 8)
        self._presses = 0
        self.fault = 0
        self.vbat_mv = 0

    def press(self, at_sample, kind):
        """A button event (1 short, 2 long) reported after sample at_sample is read."""
        k = self._presses
        self._press_at[k] = at_sample
        self._press_kind[k] = kind
        self._presses = k + 1

    def next_sample(self):
        hook = self.hook
        if hook is not None:
            hook()
        r = SimBoard.next_sample(self)
        k = self._presses
        while k > 0:
            k -= 1
            if self._press_at[k] == self.i:
                self.button_event = self._press_kind[k]
        return r

    def data_ready(self):
        return 1

    def take_button(self):
        ev = self.button_event
        self.button_event = 0
        return ev


def load(job_dir):
    """(job dict, Config, LoopBoard) from a job folder (the format of device/simrun.py)."""
    with open(job_dir + "/job.json") as f:
        job = json.load(f)
    cfg = Config()
    for key in job["config"]:
        cfg.set(key, job["config"][key])
    n = job["n"]
    counts = _read_array(job_dir + "/counts.bin", "h", n * 6, 2)
    dt = _read_array(job_dir + "/dt.bin", "i", n, 4)
    return job, cfg, LoopBoard(counts, dt)


def build(job_dir, data_dir, link=None):
    """What boot() builds, over the job's samples: (job, board, app, log, service)."""
    job, cfg, board = load(job_dir)
    app = App(board, cfg, calibrate=job["calibrate"], period_us=job["period_us"])
    log = LogStore(
        data_dir + "/logs", period_us=job["period_us"], fw=FIRMWARE_VERSION, device=board.name
    )
    if link is None:
        link = StdioLink()
    service = Service(link, cfg, data_dir, app=app, board=board)
    service.config_note = "simloop"
    service.log = log
    return job, board, app, log, service
