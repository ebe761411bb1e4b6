"""Session log format v2 (shared/logformat.py): the device writer under MicroPython, the host
reader under CPython, byte-exact; torn tails, bad CRCs and lost blocks (each block carries its
clocks and side); version 1 files still read; the size per hour, measured."""

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
    # documented: 12 bytes a sample plus framing (~72 kB a minute at 100 Hz; 75 kB with the
    # 1 KiB buffer used here: a flush, 13 bytes of framing, every ~60 samples)
    per_min = size / (30000 / 6000)
    assert 74000 <= per_min <= 76000, per_min


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


def _frames(data: bytes) -> list[tuple[int, int]]:
    out = []
    pos = 4
    while pos < len(data):
        end = pos + 3 + (data[pos + 1] | data[pos + 2] << 8) + 4
        out.append((pos, end))
        pos = end
    return out


def test_a_corrupt_block_loses_only_its_own_records(written):
    """A bit flipped in any block: the reader skips that block alone and says so; every other
    step keeps its time and its side."""
    d, r = written["micropython0"]
    data = (d / r["sessions"][0]).read_bytes()
    full = lf.parse(data)
    assert full["version"] == 2 and full["gaps"] == [] and full["error"] is None
    frames = _frames(data)
    blocks = [f for f in frames if data[f[0]] == lf.F_BLOCK]
    assert len(blocks) >= 5
    # the steps of each block, by parsing the file without it (its bytes zeroed)
    for k, (a, b) in enumerate(blocks):
        bad = bytearray(data)
        bad[(a + b) // 2] ^= 0x10
        p = lf.parse(bytes(bad))
        assert p["error"] is None and p["end"] == full["end"], k
        assert p["gaps"][0][:3] == ["skipped", a, b - a], k
        if k + 1 < len(blocks):
            assert p["gaps"][1][:3] == ["blocks", b, 1], k
        # what is left is the full list less one contiguous run (this block's steps)
        got = p["steps"]
        i = 0
        while i < len(got) and got[i] == full["steps"][i]:
            i += 1
        lost = len(full["steps"]) - len(got)
        assert got[i:] == full["steps"][i + lost :], k
        assert lost > 0 or k == len(blocks) - 1


def test_host_reader_reports_a_lost_block(written):
    d, r = written["micropython0"]
    data = (d / r["sessions"][0]).read_bytes()
    a, b = [f for f in _frames(data) if data[f[0]] == lf.F_BLOCK][2]
    s = read_session(data[:a] + data[b:], "x.hcl")  # the third block never landed
    assert not s.complete and s.end is not None and s.error is None
    assert [g[0] for g in s.gaps] == ["blocks"]
    assert any("1 block(s) missing after" in n for n in s.notes)
    assert json.loads(export_json(s))["gaps"] == s.gaps


def test_bad_versions_are_reported(written):
    d, r = written["micropython0"]
    data = bytearray((d / r["sessions"][0]).read_bytes())
    assert "version 9" in lf.parse(b"HCL\x09" + bytes(data[4:]))["error"]
    with pytest.raises(LogError):
        read_session(b"not a log at all", "x.hcl")
    # a torn header: nothing to resync to
    p = lf.parse(bytes(data[:20]))
    assert p["header"] is None and p["error"]


def _v1(data: bytes) -> bytes:
    """A version-2 file rewritten as version 1 (block headers removed, CRCs redone): what the
    earlier firmware wrote for the same records."""
    out = bytearray(b"HCL\x01")
    for a, b in _frames(data):
        tag = data[a]
        payload = data[a + 3 : b - 4]
        if tag == lf.F_BLOCK:
            payload = payload[lf.BLOCK_HEADER + (1 if payload[0] & lf.EV_FULL else 0) :]
        elif tag == lf.F_HEADER:
            h = json.loads(payload)
            h["format"] = 1
            payload = lf.dumps(h).encode()
        out += lf.frame(tag, payload)
    return bytes(out)


def test_block_clocks_across_wraps_and_far_apart_clocks():
    """Block headers keep exact times past 2**24 cs (46.6 h) and when the step and event
    clocks are more than 327 s apart (the event clock written in full), also with a block
    missing before them."""
    rb = lf.RecordBuffer(4096, 10000)
    rb.restart(0)
    h = lf.header_frame({"format": 2, "period_us": 10000})
    blocks = []
    want_steps = []
    want_cues = []
    side = 0
    for i, n in enumerate([100, 40000, 80000, (1 << 24) - 50, (1 << 24) + 70, 1 << 25]):
        side = 1 - side if i != 3 else side
        rb.step(n, side, 3000 + i, i & 1)
        want_steps.append((n, side, 30, i & 1))
        if i in (0, 4):
            rb.cue(n + 5)
            want_cues.append(n + 5)
        blocks.append(bytes(rb.buf[: rb.seal()]))
        rb.clear()
    p = lf.parse(h + b"".join(blocks))
    assert p["error"] is None and p["gaps"] == []
    assert p["steps"] == want_steps and p["cues"] == want_cues
    assert any(b[3] & lf.EV_FULL for b in blocks) and not blocks[0][3] & lf.EV_FULL
    for lost in range(len(blocks)):
        p = lf.parse(h + b"".join(b for k, b in enumerate(blocks) if k != lost))
        assert p["steps"] == want_steps[:lost] + want_steps[lost + 1 :], lost
        assert p["gaps"] == ([["blocks", p["gaps"][0][1], 1, p["gaps"][0][3]]] if lost < 5 else [])


def test_version_1_files_still_read(written):
    d, r = written["micropython0"]
    data = (d / r["sessions"][0]).read_bytes()
    full = lf.parse(data)
    old = lf.parse(_v1(data))
    assert old["version"] == 1 and old["error"] is None
    for key in ("steps", "cues", "faults", "summaries", "probe", "end"):
        assert old[key] == full[key], key
    # and in version 1 a bad frame still ends the readable part (no block headers to resync)
    bad = bytearray(_v1(data))
    bad[len(bad) // 2] ^= 0x10
    p = lf.parse(bytes(bad))
    assert p["error"] and "CRC" in p["error"] and p["gaps"] == []
    assert p["steps"] == full["steps"][: len(p["steps"])] and len(p["steps"]) < len(full["steps"])


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
    # The format's arithmetic: 2 bytes a step, 2 a cue, 13 a flush (frame 7, block header 6),
    # 15 a minute of summary (12 + an event-clock advance), plus the header once.
    return int(2 * spm * 60 + 2 * spm * 60 * cued_frac + 13 * 3600 / flush_s + 15 * 60) + 800


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
