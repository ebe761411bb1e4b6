# MicroPython (unix port) and CPython: every pairing of range ends of the config schema,
# through the device's own path: the config.set rules (Config.updated: each key, then the
# cross-key rules), then, for each config they accept, the boot path: stored as config.json,
# loaded back by device/service.load_config and run by the App for 200 samples.
#
#   MICROPYPATH=<repo> micropython tests/mp_config_sweep.py DATA_DIR [STRIDE]
#
# STRIDE > 1 takes every STRIDE-th pair (a quick run). Prints one JSON line: pairs tried,
# accepted, refused, and the accepted configs the boot path refused or crashed on.
import json
import sys
from array import array

from device.app import App
from device.service import load_config, save_config
from shared.config import CHOICES, IMUS, SCHEMA, Config, ConfigError, format_milli
from sim.board import SimBoard


def ends(key):
    kind, default, lo, hi = SCHEMA[key][:4]
    if kind == "int":
        return [str(lo), str(hi)]
    if kind == "dec":
        return [format_milli(lo), format_milli(hi)]
    if kind == "mount":
        return [default, "forward=+x left=+y up=+z"]
    if key == "imu":
        return sorted(IMUS)
    return list(CHOICES[key])


def run_app(cfg, n):
    period_us = (1000000 + cfg["rate_hz"] // 2) // cfg["rate_hz"]
    counts = array("h", [0] * (6 * n))
    for i in range(n):
        counts[6 * i] = 4098  # 1 g on +x, a little gyro
        counts[6 * i + 3] = 3
    board = SimBoard(counts, array("i", [period_us] * n))
    app = App(board, cfg, calibrate=True, period_us=period_us)
    while board.next_sample():
        app.tick()
        app.idle()
    return app


def main(argv):
    data_dir = argv[1]
    stride = int(argv[2]) if len(argv) > 2 else 1
    keys = sorted(SCHEMA)  # the same order on both interpreters
    tried = accepted = refused = 0
    bad = []
    k = 0
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            k += 1
            if (k - 1) % stride:
                continue
            a, b = keys[i], keys[j]
            for va in ends(a):
                for vb in ends(b):
                    tried += 1
                    try:
                        cfg = Config().updated({a: va, b: vb})
                    except ConfigError:
                        refused += 1
                        continue
                    accepted += 1
                    try:
                        save_config(data_dir, cfg)
                        got, note, fault = load_config(data_dir)
                        if fault or got.values != cfg.values:
                            bad.append([a, va, b, vb, note])
                            continue
                        run_app(got, 20)
                    except Exception as e:  # noqa: BLE001 - the finding this sweep looks for
                        bad.append([a, va, b, vb, "%s: %s" % (type(e).__name__, e)])
    print(
        json.dumps(
            {
                "engine": sys.implementation.name,
                "tried": tried,
                "accepted": accepted,
                "refused": refused,
                "boot_rejects": bad,
            }
        )
    )


main(sys.argv)
