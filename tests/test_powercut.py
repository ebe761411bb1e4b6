"""Power loss while logging, under the MicroPython unix port: LittleFS (VfsLfs2) on a RAM
block device with NOR-flash semantics (sim/nor_flash.py). Power is cut at every program and
erase operation of a logging session, the operation lost or torn. After each cut: the
filesystem mounts, every step flushed before the cut reads back intact and none is corrupt,
the older sessions and the config file are byte-identical, and a new session logs normally.
"""

from __future__ import annotations

import os

import pytest

from tests.test_logformat import run_script


def _sweep(samples: int) -> dict:
    r = run_script("micropython", "sweep", "0", "-1", "lost,torn", str(samples))
    print(f"\n[power-cut sweep] {samples} samples: {r}")
    assert r["failures"] == []
    assert r["cases"] == 2 * r["ops"] and r["survived"] == r["cases"]
    return r


def test_power_cut_at_every_operation_of_a_two_minute_session():
    r = _sweep(12000)  # 2 minutes at 100 Hz: 12 flushes
    assert r["ops"] >= 50 and r["steps"] >= 150


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HIPCUE_SLOW") != "1", reason="long sweep: HIPCUE_SLOW=1")
def test_power_cut_at_every_operation_of_a_fifteen_minute_session():
    r = _sweep(90000)
    assert r["ops"] >= 300
