"""The whole board loop allocates nothing per sample, on the MicroPython unix port.

tests/mp_board_loop_probe.py runs device/main.py run() itself with the services boot() wires
(sim/loop.py: App, LogStore writing session files, Service over StdioLink on the
process's stdin/stdout, only the board layer replaced by trace samples) and measures
gc.mem_alloc() and micropython.mem_total() (which also sees heap-allocated bytecode frames,
freed at once) around 10,000 samples of steady walking with a session being logged. Negative
controls through the same loop show the probe sees an allocation in the tick and in the link
check. Commands are still served by the same loop over a real pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from shared import protocol as P
from tests.conftest import ROOT, micropython_bin
from tests.test_alloc import prepare_job

PROBE = ROOT / "tests" / "mp_board_loop_probe.py"
WARMUP = 1500
COUNT = 10_000


def _cmd(job: Path, data: Path, mode: str, warmup: int, count: int) -> list[str]:
    return [micropython_bin(), "-X", "heapsize=8M", str(PROBE), str(job), str(data), mode] + [
        str(warmup),
        str(count),
    ]


def probe(job: Path, data: Path, mode: str, warmup: int = WARMUP, count: int = COUNT) -> dict:
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    # stdin: a pipe that stays open and silent (no host talking)
    p = subprocess.Popen(
        _cmd(job, data, mode, warmup, count),
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = p.stdout.read(), p.stderr.read()  # type: ignore[union-attr]
        assert p.wait(timeout=300) == 0, (out + err).decode(errors="replace")[-2000:]
    finally:
        p.stdin.close()  # type: ignore[union-attr]
        if p.poll() is None:
            p.kill()
    r = json.loads(out.decode().strip().splitlines()[-1])
    assert r["engine"] == "micropython" and r["mode"] == mode
    print(f"\n[board loop probe] {mode}: {r}")
    return r


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("boardloop")
    from hipcue.synth import PRESETS, generate, write_trace_csv

    path = base / "weak-right.trace.csv"
    write_trace_csv(generate(PRESETS["weak-right"](150.0)), path)
    job = base / "job"
    assert prepare_job(job, path, True) >= WARMUP + COUNT
    return job


def _window(r: dict) -> dict:
    b, a = r["before"], r["after"]
    return {k: a[k] - b[k] for k in ("sample", "steps_logged", "cues_logged", "records", "flushes")}


def test_whole_board_loop_allocates_nothing_per_sample(walk, tmp_path):
    r = probe(walk, tmp_path / "data", "quiet")
    w = _window(r)
    assert w["sample"] == COUNT
    # the whole loop ran inside the window: steps and cues went into the session log
    assert r["after"]["active"] == 1 and w["steps_logged"] > 50 and w["cues_logged"] > 10, r
    assert r["after"]["log_faults"] == 0 and r["after"]["steps_lost"] == 0
    assert w["flushes"] == 0  # the flush is the one part that allocates (measured below)
    assert r["alloc"] == 0, r
    assert r["total"] == 0, r


def test_only_the_log_flush_allocates(walk, tmp_path):
    """With boot()'s log settings (a flush every 10 s, its file work sliced): no iteration
    allocates unless it did a piece of a flush (a statvfs tuple, memoryviews of the block,
    its CRC): the pieces of one flush come in consecutive iterations, from the one that
    seals the block (a rotation check, one write of one page here, the sync)."""
    r = probe(walk, tmp_path / "data", "flushing")
    w = _window(r)
    assert w["sample"] == COUNT and w["flushes"] >= 9 and w["steps_logged"] > 50, r
    assert r["allocating_other"] == 0 and r["bytes_other"] == 0, r
    assert r["flushes_seen"] == w["flushes"]
    assert 4 * w["flushes"] <= r["flush_iterations"] <= 5 * w["flushes"], r
    assert r["bytes_at_flush"] <= 512 * w["flushes"], r


@pytest.mark.parametrize("mode", ["planted_tick", "planted_link"])
def test_probe_sees_allocation_in_the_loop(walk, tmp_path, mode):
    r = probe(walk, tmp_path / "data", mode)
    assert _window(r)["sample"] == COUNT
    assert r["alloc"] > 0 and r["total"] >= 16 * COUNT, r  # >= one block per sample


def _frame(seq: int, cmd: dict) -> bytes:
    return P.encode(P.T_REQ, seq, json.dumps(cmd).encode())


def test_board_loop_serves_commands_between_samples(walk, tmp_path):
    """The same run() over a pipe: a request written while the loop walks is answered (the
    link check wakes the service), and the service is not polled on every sample."""
    data = tmp_path / "data"
    data.mkdir()
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    p = subprocess.Popen(
        _cmd(walk, data, "serve", 10, 0),
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdin is not None and p.stdout is not None
    try:
        got = b""
        for seq, cmd in ((1, {"cmd": "ping", "data": "a"}), (2, {"cmd": "config.get"})):
            time.sleep(0.3)  # the loop is walking (paced at ~100 us a sample)
            p.stdin.write(_frame(seq, cmd))
            p.stdin.flush()
            while got.count(b"\n") < seq:
                b = p.stdout.read1(4096)  # type: ignore[attr-defined]
                assert b, p.stderr.read().decode()  # type: ignore[union-attr]
                got += b
        rest, err = p.stdout.read(), p.stderr.read()  # type: ignore[union-attr]
        assert p.wait(timeout=120) == 0, err.decode()[-2000:]
    finally:
        p.stdin.close()
        if p.poll() is None:
            p.kill()
    lines = (got + rest).split(b"\n")
    frames = [P.decode(x[1:]) for x in lines if x.startswith(b"\x1e")]
    assert [(t, s) for t, s, _ in frames] == [(P.T_OK, 1), (P.T_OK, 2)]
    assert json.loads(frames[0][2]) == {"pong": "a"}
    assert "values" in json.loads(frames[1][2])
    r = json.loads(lines[-2] if not lines[-1].strip() else lines[-1])
    assert r["after"]["frames_ok"] == 2 and len(r["answered_at"]) == 2
    assert r["answered_at"][0] > 100  # the first request came in mid-walk
    # polled only around the requests (and the first scan of the log folder), not per sample
    assert r["samples"] > 10_000 and r["polls"] < r["samples"] // 20, r


def test_the_benchmarks_stage_split_runs_the_same_loop(walk, tmp_path):
    """bench/loopcost.py splits the loop's cost with sim/loop.py stages(), run()'s
    statements with markers between: the same session log bytes come out of both; and
    the same as from run() with the log store's file work unsliced (in one call)."""
    r = probe(walk, tmp_path / "data", "compare", 0, 0)
    assert r["files"] >= 1 and r["sizes"][0] > 1000 and r["same"], r
    assert r["same_unsliced"] and len(set(r["sizes"])) == 1, r
