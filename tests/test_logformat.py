"""Session log format v1 (shared/logformat.py): the device writer under MicroPython, the host
reader under CPython, byte-exact; torn tails and bad CRCs; the size arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipcue.logs import LogError, export_csv, export_json, read_session, read_session_file
from shared import logformat as lf
from sim import paths

PERIOD_US = 10000


def run_script(engine: str, *args: str) -> dict:
    return paths.run_json(engine, "logstore_run.py", *args)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    out = {}
    for engine in ("micropython", "cpython"):
        for raw in ("0", "1"):
            d = tmp_path_factory.mktemp(f"{engine}-{raw}")
            out[engine + raw] = (d, run_script(engine, "write", str(d), "42", "30000", raw))
    return out


def test_device_writer_is_byte_exact_across_engines(written):
    for raw in ("0", "1"):
        d_mp, r_mp = written["micropython" + raw]
        d_cp, r_cp = written["cpython" + raw]
        assert r_mp["engine"] == "micropython" and r_cp["engine"] == "cpython"
        assert r_mp["sessions"] == r_cp["sessions"] and r_mp["sessions"]
        for name in r_mp["sessions"]:
            assert (d_mp / name).read_bytes() == (d_cp / name).read_bytes(), name


def _expected_steps(logged: list, start_n: int, end_n: int | None) -> list[tuple]:
    out = []
    for ic, side, drop, cued in logged:
        if ic < start_n or (end_n is not None and ic >= end_n):
            continue
        ds = min(max((drop + 50) // 100, 0), 16383)
        out.append(((ic - start_n) * PERIOD_US // 10000, side, ds, cued))
    return out


def test_host_reader_reads_what_the_device_logged(written):
    d, r = written["micropython0"]
    assert r["dropped"] == 0 and r["store_faults"] == 0
    assert len(r["sessions"]) == 2  # walk, still (auto stop), walk (auto start)
    sessions = [read_session_file(d / name) for name in r["sessions"]]
    assert [s.end["reason"] for s in sessions if s.end] == ["still", "still"]
    assert [s.header["reason"] for s in sessions] == ["walking", "walking"]
    starts = [s.header["start_n"] for s in sessions]
    got = []
    for s in sessions:
        assert s.error is None and s.complete
        raw = lf.parse((d / s.name).read_bytes())
        got.append(raw)
    want_all = r["steps"]
    for k, s in enumerate(sessions):
        end = starts[k + 1] if k + 1 < len(starts) else None
        want = _expected_steps(want_all, starts[k], end)
        assert got[k]["steps"] == want
        want_cues = [
            (n - starts[k]) * PERIOD_US // 10000
            for n in r["cues"]
            if n >= starts[k] and (end is None or n < end)
        ]
        assert got[k]["cues"] == want_cues
        assert s.end is not None and s.end["steps"] == len(want)
    assert sum(len(g["steps"]) for g in got) == len(want_all)
    # summaries account for every step
    assert sum(x[1] for g in got for x in g["summaries"]) == len(want_all)
    # faults: logged when they change during a session; the header has the state at start
    fault_times = [t for g in got for t, _bits in g["faults"]]
    assert len(fault_times) <= len(r["faults"])
    assert all("faults" in s.header for s in sessions)
    h = sessions[0].header
    assert h["format"] == lf.FORMAT_VERSION and h["fw"] == "test-1"
    assert h["config"]["threshold_deg"] == "6.0" and "calibration" in h


def test_raw_capture_keeps_every_sample(written):
    d, r = written["micropython1"]
    (name,) = r["sessions"]
    s = read_session_file(d / name)
    assert s.complete and s.header["raw"] == 1 and s.end["reason"] == "command"
    # 30000 ticks; the walker skips 2 grid samples now and then: runs restart there
    assert s.raw_samples == 30000
    last = -1
    for n0, block in s.raw:
        assert n0 > last
        last = n0 + len(block) // 12 - 1
    size = s.size
    # documented: 12 bytes a sample plus framing (~72 kB a minute at 100 Hz)
    per_min = size / (30000 / 6000)
    assert 72000 <= per_min <= 74000, per_min


def test_torn_tail_is_detected_and_dropped(written):
    d, r = written["micropython0"]
    data = (d / r["sessions"][0]).read_bytes()
    full = lf.parse(data)
    boundaries = set()
    pos = 4
    while pos < len(data):
        pos += 3 + (data[pos + 1] | data[pos + 2] << 8) + 4
        boundaries.add(pos)
    for cut in range(len(data)):
        p = lf.parse(data[:cut])
        assert p["steps"] == full["steps"][: len(p["steps"])]
        assert p["cues"] == full["cues"][: len(p["cues"])]
        if cut in boundaries or cut == 4:
            assert p["error"] is None
        else:
            assert p["error"], cut
            assert p["good_bytes"] <= cut


def test_bad_crc_and_versions_are_reported(written):
    d, r = written["micropython0"]
    data = bytearray((d / r["sessions"][0]).read_bytes())
    full = lf.parse(bytes(data))
    data[len(data) // 2] ^= 0x10
    p = lf.parse(bytes(data))
    assert p["error"] and "CRC" in p["error"]
    assert p["steps"] == full["steps"][: len(p["steps"])] and len(p["steps"]) < len(full["steps"])
    s = read_session(bytes(data), "x.hcl")
    assert s.error and s.notes and not s.complete
    assert "version 9" in lf.parse(b"HCL\x09" + bytes(data[4:]))["error"]
    with pytest.raises(LogError):
        read_session(b"not a log at all", "x.hcl")


def test_exports(written):
    d, r = written["micropython0"]
    s = read_session_file(d / r["sessions"][0])
    text = export_csv(s)
    lines = text.splitlines()
    assert lines[0] == "t_s,kind,stance,drop_deg,cued,value"
    assert sum(1 for x in lines if ",step," in x) == len(s.steps)
    assert sum(1 for x in lines if ",cue," in x) == len(s.cues_s)
    j = json.loads(export_json(s))
    assert len(j["steps"]) == len(s.steps) and j["sha256"] == s.sha256
    assert j["header"]["session"] == 1


def _size_per_hour(spm: int, cued_frac: float, flush_s: float) -> int:
    # The format's arithmetic: 2 bytes a step, 2 a cue, 7 a flush, 15 a minute of summary
    # (12 + an event-clock advance), plus the header once.
    return int(2 * spm * 60 + 2 * spm * 60 * cued_frac + 7 * 3600 / flush_s + 15 * 60) + 800


@pytest.mark.parametrize("spm", [100, 110, 120])
def test_forty_hours_per_megabyte_arithmetic(spm):
    hours_per_mb = 1e6 / _size_per_hour(spm, 0.2, 10)
    assert hours_per_mb >= 40, (spm, hours_per_mb)


def test_forty_hours_per_megabyte_measured(tmp_path):
    """An hour at 110 steps a minute (a fifth of them cued) through the real writer."""
    from device.logstore import LogStore
    from sim.logstore_run import FakeApp

    app = FakeApp(1, "walk")
    store = LogStore(str(tmp_path), PERIOD_US, fw="x", still_ms=600000)
    store.start(app, "command")
    for _ in range(360000):
        app.tick(1)
        store.service(app)
    store.stop(app, "command")
    size = (tmp_path / "S0001.hcl").stat().st_size
    spm = len(app.steps) / 60
    cued = len(app.cue_ns) / len(app.steps)
    assert 105 <= spm <= 115 and 0.1 < cued < 0.3
    hours_per_mb = 1e6 / size
    print(f"\n[log size] {spm:.0f} steps/min, {cued:.0%} cued: {size} B/h, {hours_per_mb:.1f} h/MB")
    assert hours_per_mb >= 40
    assert abs(size - _size_per_hour(round(spm), cued, 10)) < 0.1 * size
