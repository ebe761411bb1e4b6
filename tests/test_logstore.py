"""The device log store (device/logstore.py) and the host side (hipcue.logs, hipcue.library):
rotation, a full flash, the real firmware loop with raw capture replayed exactly on the host,
pulling with resume, and pulling into the library twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from hipcue.library import Library, default_library_path
from hipcue.logs import LogError, RemoteFile, pull, raw_to_trace_csv, read_session_file
from tests.conftest import need_data
from tests.test_logformat import run_script


def test_rotation_and_a_full_flash():
    r = run_script("micropython", "full", "40")  # 160 kB of flash
    print(f"\n[full flash] {r}")
    assert r["rotation_ok"] and r["deleted"] > 0  # oldest whole sessions went first
    assert r["sessions_intact"] and r["config_untouched"]
    assert r["raised"] is None  # the sample loop never saw an exception
    assert r["full_fault"] & 1 and r["dropped"] > 0  # LOG_FULL set, records dropped
    assert r["cues_during_full"] > 0  # cues went on
    assert r["only_current_left"]  # never the current session
    assert r["full_session_error"] is None  # what was written reads back intact


def test_bench_figures():
    r = run_script("micropython", "bench")
    print(f"\n[log bench] {r}")
    assert r["steps_walk"]["hours_per_MB"] >= 40
    # x86 timings (a GC pause or a busy CI machine can make one service() call late): the
    # mean flush stays far inside a 10 ms sample period; RP2040 figures need the board.
    assert r["steps_walk"]["flush_mean_us"] < 2000 and r["raw"]["flush_mean_us"] < 2000
    assert 70000 <= r["raw"]["bytes_per_min"] <= 76000


@pytest.fixture(scope="module")
def app_run(tmp_path_factory):
    from tests.test_alloc import prepare_job

    base = tmp_path_factory.mktemp("applog")
    job = base / "job"
    trace = need_data() / "mobgap_HA_001_Test11_Trial1.trace.csv"
    prepare_job(job, trace, False, (("threshold_deg", "3"),))
    out = base / "logs"
    out.mkdir()
    r = run_script("micropython", "app", str(job), str(out), "1")
    return trace, out, r


def test_raw_session_replays_exactly_on_the_host(app_run, tmp_path):
    from hipcue.logs import replay_options
    from hipcue.replay import run_firmware
    from hipcue.trace import read_trace

    _trace, out, r = app_run
    (k,) = r["sessions"]
    s = read_session_file(out / f"S{k:04d}.hcl")
    assert s.complete and s.raw_samples > 0
    # the device's own step list (from its ring) equals what it logged
    rows = [tuple(int(v) for v in x.split(",")) for x in (out / "steps.csv").read_text().split()]
    assert len(s.steps) == len(rows) == r["steps"] > 0
    for st, (_ic, side, drop, cued) in zip(s.steps, rows, strict=True):
        assert st.stance == ("R" if side else "L") and st.cued == cued
        assert round(st.drop_deg * 10) == min(max((drop + 50) // 100, 0), 16383)
    # raw capture -> trace CSV -> hipcue replay: the same steps and cues
    path = tmp_path / "raw.trace.csv"
    path.write_text(raw_to_trace_csv(s))
    opts = replay_options(s)
    assert opts["exact"]
    res = run_firmware(
        read_trace(path), opts["mount"], opts["sets"], opts["calibrate"], engine="cpython"
    )
    assert len(res.steps) == len(rows)
    for st, got in zip(s.steps, res.steps, strict=True):
        assert (got.stance, got.cued) == (st.stance, st.cued)
        assert abs(got.drop_deg - st.drop_deg) <= 0.05 + 1e-9
        assert abs(got.t_s - st.t_s) < 0.011
    assert len(res.cue_index) == r["cues"] == len(s.cues_s)


class FakeDevice:
    """The device side of `logs list` / chunked reads, with a cable that can be pulled."""

    def __init__(self, files: dict[str, bytes], active: str = "") -> None:
        self.files = files
        self.active = active
        self.fail_after = -1  # bytes to serve before the cable is pulled
        self.served = 0

    def list(self) -> list[RemoteFile]:
        return [
            RemoteFile(n, len(d), hashlib.sha256(d).hexdigest(), n == self.active)
            for n, d in sorted(self.files.items())
        ]

    def read(self, name: str, offset: int, n: int) -> bytes:
        if self.fail_after >= 0 and self.served >= self.fail_after:
            raise OSError("cable pulled")
        data = self.files[name][offset : offset + n]
        self.served += len(data)
        return data


@pytest.fixture
def device_files(tmp_path) -> dict[str, bytes]:
    d = tmp_path / "dev"
    d.mkdir()
    run_script("cpython", "write", str(d), "9", "30000", "0")
    files = {p.name: p.read_bytes() for p in sorted(d.glob("S*.hcl"))}
    r = tmp_path / "devraw"
    r.mkdir()
    run_script("cpython", "write", str(r), "9", "3000", "1")
    files["S0003.hcl"] = (r / "S0001.hcl").read_bytes()
    return files


def test_pull_resumes_after_a_cut_cable_and_twice_changes_nothing(tmp_path, device_files):
    dev = FakeDevice(device_files, active="S0003.hcl")
    lib = Library(tmp_path / "lib.sqlite")
    parts = tmp_path / "partial"
    dev.fail_after = 1500
    with pytest.raises(OSError):
        pull(dev, lib, "dev-1", parts, chunk=512)
    assert lib.counts()["sessions"] == 0
    dev.fail_after = -1
    first = dev.served
    rep = pull(dev, lib, "dev-1", parts, chunk=512)
    assert rep.added == ["S0001.hcl", "S0002.hcl"] and rep.resumed == ["S0001.hcl"]
    assert rep.skipped_active == ["S0003.hcl"]
    total = sum(len(device_files[n]) for n in rep.added)
    assert first + rep.bytes_read == total  # resumed, not restarted
    assert not list(parts.rglob("*.part"))
    counts = lib.counts()
    assert counts["sessions"] == 2 and counts["steps"] > 0
    db_before = (tmp_path / "lib.sqlite").read_bytes()
    rep2 = pull(dev, lib, "dev-1", parts)
    assert rep2.added == [] and rep2.bytes_read == 0 and rep2.already == rep.added
    assert lib.counts() == counts
    assert (tmp_path / "lib.sqlite").read_bytes() == db_before
    # the session ended: now it is pulled (a raw capture)
    dev.active = ""
    rep3 = pull(dev, lib, "dev-1", parts)
    assert rep3.added == ["S0003.hcl"]
    raw = lib.session("S0003")
    assert raw.raw_samples == 3000
    assert raw_to_trace_csv(raw).count("\n") > 3000
    lib.close()


def test_pull_rejects_a_bad_hash(tmp_path, device_files):
    dev = FakeDevice({"S0001.hcl": device_files["S0001.hcl"]})
    lib = Library(tmp_path / "lib.sqlite")
    real_list = dev.list

    def bad_list() -> list[RemoteFile]:
        out = real_list()
        out[0].sha256 = "0" * 64
        return out

    dev.list = bad_list  # type: ignore[method-assign]
    with pytest.raises(LogError, match="hash mismatch"):
        pull(dev, lib, "dev-1", tmp_path / "p")
    assert lib.counts()["sessions"] == 0 and not list((tmp_path / "p").rglob("*.part"))


def test_library_add_is_idempotent_and_exports(tmp_path, device_files):
    path = tmp_path / "sub" / "lib.sqlite"
    with Library(path) as lib:
        data = device_files["S0001.hcl"]
        sid, added = lib.add_session(data, "dev-1", "S0001.hcl")
        assert added
        assert lib.add_session(data, "dev-1", "S0001.hcl") == (sid, False)
        s = lib.sessions()[0]
        assert s["sha256"] == hashlib.sha256(data).hexdigest() and s["complete"] == 1
        assert s["n_steps"] > 0 and s["firmware"] == "test-1"
        assert lib.export(sid, "csv").startswith("t_s,kind,")
        assert '"steps"' in lib.export("S0001", "json")
        assert lib.resolve(s["sha256"][:8]) == sid
    with sqlite3.connect(path) as db:
        n = db.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
        assert n == s["n_steps"]


def test_default_library_path(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_library_path() == Path(tmp_path) / "hipcue" / "library.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_library_path().parts[-3:] == ("share", "hipcue", "library.sqlite")


def test_feedback_counters_and_probe_steps_round_trip(tmp_path):
    """Issue #7: suppression counters (R_FEEDBACK) and probe steps (R_PROBE), written by the
    device's store under MicroPython in the real firmware loop, read back on the host."""
    from hipcue.logs import export_csv, export_json
    from tests.test_alloc import prepare_job

    job = tmp_path / "job"
    trace = need_data() / "mobgap_HA_001_Test11_Trial1.trace.csv"
    sets = (
        ("threshold_deg", "3"),
        ("stride_n", "2"),
        ("stride_m", "3"),
        ("probe_every_steps", "10"),
        ("probe_len_steps", "3"),
        ("turn_gate_dps", "60"),
    )
    prepare_job(job, trace, False, sets)
    out = tmp_path / "logs"
    out.mkdir()
    r = run_script("micropython", "app", str(job), str(out), "1")
    (k,) = r["sessions"]
    s = read_session_file(out / f"S{k:04d}.hcl")
    print(f"\n[feedback log] counters {r['counters']} probe steps {sum(r['probe'])}")
    assert s.complete and len(s.steps) == r["steps"] > 0
    # every step's probe flag as the app's ring had it
    assert [st.probe for st in s.steps] == r["probe"] and sum(r["probe"]) > 0
    # the session started with the app, so the logged counters add up to the app's own
    assert s.feedback_totals == r["counters"]
    assert r["counters"]["probe_steps"] > 0 and r["counters"]["withheld_stride"] > 0
    assert r["counters"]["gated"] > 0
    d = json.loads(export_json(s))
    assert d["feedback_totals"] == r["counters"] and len(d["probe_steps"]) == sum(r["probe"])
    csv_text = export_csv(s)
    assert csv_text.count(",probe\n") == sum(r["probe"]) and ",feedback," in csv_text


def test_feedback_records_and_unknown_extensions_parse():
    """The new records on their own, and an extension record a reader does not know."""
    from shared import logformat as lf

    rec = lf.RecordBuffer(256, 10000)
    rec.restart(0)
    rec.step(10, 0, 3000, 0)
    rec.probe_flag(1)
    rec.step(60, 1, 4000, 0)
    rec.feedback(70, [1, 2, 0, 70000])
    rec.probe_flag(0)
    rec.step(110, 0, 5000, 1)
    k = rec.seal()
    body = bytes(rec.buf[3 : k - 4]) + bytes([0xE9, 2, 7, 7])  # unknown extension record
    head = lf.header_frame({"format": 1, "period_us": 10000})
    p = lf.parse(head + lf.frame(lf.F_BLOCK, body))
    assert p["error"] is None
    assert p["probe"] == [0, 1, 0] and len(p["steps"]) == 3
    assert p["feedback"] == [(70, [1, 2, 0, 65535])]


@pytest.mark.parametrize(
    "cfg_keys", [{}, {"feedback": "faded", "fade_sessions": "4", "rate_hz": "52"}]
)
def test_a_sliced_store_writes_the_same_bytes(tmp_path, cfg_keys):
    """The board's log store does its file work a piece per service() call (the header's
    JSON a few keys at a time, a page per write): the session file is byte for byte the
    unsliced store's, header (with non-default config keys) and blocks; between the start
    and the file being open, records are kept in RAM and the service says when it is due."""
    from device.logstore import LogStore
    from sim.logstore_run import FakeApp

    files = []
    for sliced in (0, 1):
        app = FakeApp(11)
        for key, text in cfg_keys.items():
            app.cfg.set(key, text)
        d = tmp_path / str(sliced)
        store = LogStore(str(d), 10000, fw="t", still_ms=600000, sliced=sliced)
        k = store.start(app, "command", start_unix=1700000000)
        assert store.opening() == sliced
        for _ in range(3500):
            app.tick(1)
            store.service(app)
            if store._phase:
                assert store.due[0] == app.n + 1  # a piece pending: called on the next sample
            if store.opening():
                assert store.file is None or store._gen is not None
        store.stop(app, "command")
        files.append((d / f"S{k:04d}.hcl").read_bytes())
    assert files[0] == files[1] and len(files[0]) > 1000
    assert read_session_file_bytes_ok(files[1])


def read_session_file_bytes_ok(data: bytes) -> bool:
    from shared import logformat as lf

    p = lf.parse(data)
    return p["error"] is None and p["end"] is not None and len(p["steps"]) > 20
