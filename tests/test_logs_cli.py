"""Session logs end to end through the real CLI, against the virtual device (firmware under the
MicroPython unix port, LogStore writing S0001.hcl ... into its logs/ folder):

pull into a library (twice: nothing changes), a transfer cut off by closing the port then
resumed (hash checked), export as CSV and JSON, the library listing, a raw session replayed on
the host against a direct replay of the same trace, and the session being written refused
for deletion.

The device is started held (`hold`), a raw session is started by command before the first
sample, then the trace (a 40 s weak-right walk) is played once at 20x; its end closes the
session.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from pathlib import Path

import pytest

from hipcue import link as L
from hipcue import synth
from hipcue.cli import main
from hipcue.devcmd import DeviceLogs, pull_sessions
from hipcue.library import Library
from hipcue.logs import read_session_file
from hipcue.sim import Sim

SPEED = 20.0
WALK_S = 40.0


class Dev:
    def __init__(self, sim: Sim, trace: Path) -> None:
        self.sim = sim
        self.port = sim.port
        self.trace = trace
        self.logs = sim.data_dir / "logs"

    def cli(self, capsys, *argv: str, port: bool = True) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([*argv, "--port", self.port] if port else list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    def request(self, cmd: str, **args):
        with L.connect(self.port) as c:
            return c.request(cmd, **args)


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    base = tmp_path_factory.mktemp("logs-cli")
    trace = base / "weak-right.trace.csv"
    synth.write_trace_csv(synth.generate(synth.PRESETS["weak-right"](WALK_S), seed=11), trace)
    with Sim(trace=str(trace), speed=SPEED, loop=False, hold=True) as sim:
        d = Dev(sim, trace)
        assert d.request("info")["sim"]["held"] == 1
        r = d.request("logs.start", raw=1)  # before the first sample: an exact raw capture
        assert r["started"] == "S0001.hcl"
        d.request("sim.start")
        limit = time.monotonic() + WALK_S / SPEED * 5 + 10
        while not d.request("info")["sim"]["done"]:
            assert time.monotonic() < limit, "the walk did not end"
            time.sleep(0.1)
        yield d


def _device_file(dev: Dev, name: str = "S0001.hcl") -> bytes:
    return (dev.logs / name).read_bytes()


def test_session_written_and_listed_with_hash(dev, capsys):
    # the device hashes between samples, a slice per poll: `logs list` shows null until then
    deadline = time.monotonic() + 30
    while True:
        rc, out, _ = dev.cli(capsys, "logs", "list", "--json")
        assert rc == 0
        logs = {d["name"]: d for d in json.loads(out)}
        if logs["S0001.hcl"]["sha256"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    data = _device_file(dev)
    assert logs["S0001.hcl"]["size"] == len(data)
    assert logs["S0001.hcl"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert not logs["S0001.hcl"]["recording"]
    s = read_session_file(dev.logs / "S0001.hcl")
    assert s.complete and s.end is not None and s.end["reason"] == "end"
    assert s.header["raw"] == 1 and s.header["start_n"] == 0
    assert s.raw_samples == dev.sim.job["n"]  # every sample of the walk, none dropped
    assert len(s.steps) > 50 and len(s.cues_s) > 5


def test_hash_is_computed_between_polls(dev):
    """A file that appears is listed without a hash first, then hashed a slice per poll."""
    body = bytes(range(256)) * 4096  # 1 MiB: 1024 slices
    (dev.logs / "big.bin").write_bytes(body)
    try:
        with L.connect(dev.port) as c:
            first = {e[0]: e for e in c.request("logs.list")["logs"]}
            assert first["big.bin"][3] is None
            limit = time.monotonic() + 10
            while True:
                got = {e[0]: e for e in c.request("logs.list")["logs"]}["big.bin"][3]
                if got:
                    break
                assert time.monotonic() < limit
                time.sleep(0.02)
        assert got == hashlib.sha256(body).hexdigest()
    finally:
        (dev.logs / "big.bin").unlink()


def test_pull_into_library_then_again(dev, capsys, tmp_path):
    lib = tmp_path / "lib.sqlite"
    out = tmp_path / "files"
    rc, text, err = dev.cli(capsys, "logs", "pull", "--library", str(lib), "--out", str(out))
    assert rc == 0, err
    assert "pulled S0001.hcl" in text and "100.0%" in err
    data = _device_file(dev)
    assert (out / "S0001.hcl").read_bytes() == data
    with Library(lib) as L1:
        counts = L1.counts()
        rows = L1.sessions()
        assert L1.data_by_sha256(hashlib.sha256(data).hexdigest()) == data
    assert counts["sessions"] == 1 and counts["steps"] > 50
    assert rows[0]["name"] == "S0001.hcl" and rows[0]["complete"] == 1 and rows[0]["raw"] == 1
    # again: nothing downloaded, nothing added
    rc, text, _ = dev.cli(
        capsys, "logs", "pull", "--library", str(lib), "--out", str(out), "--json"
    )
    r = json.loads(text)
    assert rc == 0 and r["added"] == [] and "S0001.hcl" in r["already"] and r["bytes_read"] == 0
    with Library(lib) as L2:
        assert L2.counts() == counts and L2.sessions() == rows
    assert sorted(p.name for p in out.iterdir()) == ["S0001.hcl"]
    assert not list((tmp_path / "partial").rglob("*.part"))


class CutAfter(DeviceLogs):
    """The cable is pulled after `n` chunks: the port is closed under the transfer."""

    def __init__(self, c: L.Client, n: int) -> None:
        super().__init__(c)
        self.n = n

    def read(self, name: str, offset: int, n: int) -> bytes:
        if self.reads == self.n:
            self.c.ser.close()
        return super().read(name, offset, n)


def test_pull_resumes_after_a_cut_cable(dev, capsys, tmp_path):
    lib_path = tmp_path / "lib.sqlite"
    data = _device_file(dev)
    assert len(data) > 6 * 4096
    with Library(lib_path) as lib, L.connect(dev.port) as c:
        with pytest.raises(L.LinkError, match="pull again to resume"):
            pull_sessions(c, lib, dev=CutAfter(c, 4))
        assert lib.counts()["sessions"] == 0
    (part,) = (tmp_path / "partial").rglob("S0001.hcl.*.part")
    assert part.read_bytes() == data[: 4 * 4096]
    rc, text, err = dev.cli(capsys, "logs", "pull", "--library", str(lib_path), "--json")
    assert rc == 0, err
    r = json.loads(text)
    assert r["added"] == ["S0001.hcl"] and r["resumed"] == ["S0001.hcl"]
    assert r["bytes_read"] == len(data) - 4 * 4096  # only the rest was read
    assert not part.exists()
    with Library(lib_path) as lib:
        (row,) = lib.sessions()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert lib.session_bytes(row["id"])[1] == data
    rc, text, _ = dev.cli(capsys, "logs", "pull", "--library", str(lib_path))
    assert rc == 0 and "already in the library: S0001.hcl" in text


def test_export_csv_json_and_sessions(dev, capsys, tmp_path):
    lib = tmp_path / "lib.sqlite"
    assert dev.cli(capsys, "logs", "pull", "--library", str(lib), "-q")[0] == 0
    s = read_session_file(dev.logs / "S0001.hcl")
    rc, out, _ = dev.cli(
        capsys, "logs", "export", "S0001", "--csv", "--library", str(lib), port=False
    )
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    steps = [r for r in rows if r["kind"] == "step"]
    assert len(steps) == len(s.steps) and sum(r["kind"] == "cue" for r in rows) == len(s.cues_s)
    assert [(r["stance"], float(r["drop_deg"]), int(r["cued"])) for r in steps] == [
        (x.stance, x.drop_deg, x.cued) for x in s.steps
    ]
    path = tmp_path / "s1.json"
    rc, _, _ = dev.cli(
        capsys, "logs", "export", "S0001.hcl", "--json", "--library", str(lib), "--out", str(path),
        port=False,
    )  # fmt: skip
    assert rc == 0
    d = json.loads(path.read_text())
    assert d["sha256"] == s.sha256 and d["complete"] and len(d["steps"]) == len(s.steps)
    assert d["raw_samples"] == dev.sim.job["n"]
    rc, out, _ = dev.cli(capsys, "logs", "sessions", "--library", str(lib), port=False)
    assert rc == 0 and "S0001.hcl" in out and s.sha256[:12] in out
    rc, _, err = dev.cli(
        capsys, "logs", "export", "S0099", "--csv", "--library", str(lib), port=False
    )
    assert rc == 1 and "no session 'S0099'" in err


def _steps_csv(path: Path) -> list[tuple[float, str, str, str]]:
    rows = list(csv.DictReader(path.open()))
    return [(round(float(r["t_s"]), 6), r["stance"], r["drop_deg"], r["cued"]) for r in rows]


def _samples(path: Path) -> list[tuple[float, str, str, str]]:
    rows = list(csv.DictReader(path.open()))
    return [(round(float(r["t_s"]), 6), r["obliquity_deg"], r["tilt_deg"], r["cue"]) for r in rows]


def test_replay_of_a_pulled_raw_session_is_exact(dev, capsys, tmp_path):
    """What this proves: the raw session pulled from the virtual device, replayed on the host
    (`hipcue replay S0001.hcl`), gives per sample the same obliquity, tilt and motor output,
    and the same steps (time, side, drop, cued) and cues, as `hipcue replay` of the trace
    the device was fed; and its steps match what the device itself logged (to the log's
    0.1 deg and 10 ms)."""
    files = tmp_path / "files"
    lib = tmp_path / "lib.sqlite"
    rc, _, err = dev.cli(capsys, "logs", "pull", "--library", str(lib), "--out", str(files), "-q")
    assert rc == 0, err
    rc, out, err = dev.cli(
        capsys, "replay", str(files / "S0001.hcl"), "--out", str(tmp_path / "a"), port=False
    )
    assert rc == 0, err
    assert "replay exact" in err
    rc, _, err = dev.cli(capsys, "replay", str(dev.trace), "--out", str(tmp_path / "b"), port=False)
    assert rc == 0, err
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["session"]["exact"] is True
    for key in ("steps", "cues", "left_stance_drop_deg", "right_stance_drop_deg", "cued_steps"):
        assert a[key] == b[key], key
    assert _steps_csv(tmp_path / "a" / "steps.csv") == _steps_csv(tmp_path / "b" / "steps.csv")
    assert _samples(tmp_path / "a" / "samples.csv") == _samples(tmp_path / "b" / "samples.csv")
    # ... and the device's own log of the walk
    s = read_session_file(files / "S0001.hcl")
    rep = _steps_csv(tmp_path / "a" / "steps.csv")
    assert len(rep) == len(s.steps) and a["cues"] == len(s.cues_s)
    for (t, stance, drop, cued), st in zip(rep, s.steps, strict=True):
        assert (stance, int(cued)) == (st.stance, st.cued)
        assert abs(float(drop) - st.drop_deg) <= 0.05 + 1e-9
        assert abs(t - st.t_s) < 0.0101


def test_session_being_written_cannot_be_deleted(dev, capsys, tmp_path):
    rc, out, _ = dev.cli(capsys, "logs", "start", "--json")
    assert rc == 0
    name = json.loads(out)["started"]
    assert name != "S0001.hcl"
    rc, _, err = dev.cli(capsys, "logs", "delete", name)
    assert rc == 1 and "is being written" in err
    rc, out, _ = dev.cli(capsys, "logs", "list", "--json")
    assert {d["name"]: d["recording"] for d in json.loads(out)}[name] is True
    # a pull meanwhile leaves the session being written alone
    rc, out, _ = dev.cli(capsys, "logs", "pull", "--library", str(tmp_path / "l.sqlite"), "--json")
    r = json.loads(out)
    assert rc == 0 and r["recording"] == [name] and name not in r["added"]
    rc, out, _ = dev.cli(capsys, "logs", "stop")
    assert rc == 0 and f"stopped {name}" in out
    rc, out, _ = dev.cli(capsys, "logs", "stop")
    assert rc == 0 and "not recording" in out
    rc, out, err = dev.cli(capsys, "logs", "delete", name)
    assert rc == 0 and f"deleted {name}" in out, err
    assert not (dev.logs / name).exists() and (dev.logs / "S0001.hcl").exists()
