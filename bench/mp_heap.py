"""Run by the MicroPython unix port (bench/loopcost.py heap() starts it):

    MICROPYPATH=[MPY_DIR:]<repo> micropython -X heapsize=H bench/mp_heap.py JOB_DIR DATA_DIR

Live heap after start-up: gc.mem_alloc() after gc.collect() at three points: before the
firmware's modules are imported, after importing what boot() imports (the modules as .py
source, or as .mpy files when MPY_DIR comes first in MICROPYPATH), after building what boot()
builds (sim/loop.py build(): App, LogStore, Service, StdioLink; the simulated board with a
16-entry motor log, its trace of JOB_DIR's few samples). Then 500 samples of run(), and the
heap again. Prints one JSON line.
"""

import gc
import json
import sys

gc.collect()
a0 = gc.mem_alloc()
from device import main as fw  # noqa: E402
from device.app import App  # noqa: E402, F401
from device.link import StdioLink  # noqa: E402, F401
from device.logstore import LogStore  # noqa: E402, F401
from device.service import Service  # noqa: E402, F401

gc.collect()
a1 = gc.mem_alloc()
from sim.loop import build  # noqa: E402

gc.collect()
a2 = gc.mem_alloc()
job, board, app, log, service = build(sys.argv[1], sys.argv[2], max_motor_events=16)
gc.collect()
a3 = gc.mem_alloc()
fw.run(app, board, 500, log, service)
gc.collect()
a4 = gc.mem_alloc()
print(
    json.dumps(
        {
            "modules": a1 - a0,
            "sim_module": a2 - a1,
            "objects": a3 - a2,
            "after_start": a3 - a0 - (a2 - a1),
            "after_500_samples": a4 - a0 - (a2 - a1),
            "trace_bytes": len(board._counts) * 2 + len(board._dt) * 4,
            "free": gc.mem_free(),
            "from_mpy": type(fw).__name__ == "module" and fw.__file__.endswith(".mpy"),
            "file": fw.__file__,
        }
    )
)
