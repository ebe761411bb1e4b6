"""The retraining programme (issue #16): the plan (shared/programme.py), stored on the device by
its command service and tagged onto every session it starts; `hipcue programme` against the
virtual device over a real pty, and adherence from the pulled library. Also the exercise
mode's remaining firmware parts: tempo pacing, a set from the button, a stored-config mode
logged from boot."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from device.main import on_button
from hipcue import exsynth, synth
from hipcue import link as L
from hipcue.cli import main
from hipcue.logs import read_session_file
from hipcue.sim import Sim
from shared import programme as PG
from shared.exercise import Exercise
from sim.progress import Boot, _arrays, _trace

PERIOD = 10000


def test_plan_defaults_are_the_studies_dose():
    plan = PG.check({})
    assert plan["walks"] == 8 and plan["weeks"] == 2
    mins = [PG.planned_minutes(plan, k) for k in range(1, 9)]
    assert mins == [15, 17, 19, 21, 24, 26, 28, 30]
    assert PG.dose_minutes(plan) == 180
    assert PG.planned_minutes(plan, 0) == 0 and PG.planned_minutes(plan, 9) == 0
    assert PG.planned_minutes(PG.check({"walks": 1, "min0": 20, "min1": 40}), 1) == 20
    cv = PG.config_values(plan)
    assert cv["feedback"] == "faded" and cv["fade_sessions"] == "7" and cv["session_index"] == "0"


@pytest.mark.parametrize(
    "bad, why",
    [
        ({"walks": 0}, "walks=0 is out of range"),
        ({"min1": 200}, "min1=200"),
        ({"weeks": True}, "weeks must be a whole number"),
        ({"id": "a/b"}, "only letters"),
        ({"id": ""}, "id must be"),
        ({"probe": [10, 10]}, "probe len"),
        ({"probe": [10]}, "probe must be"),
        ({"sets": [["walk", "left", 10, 3]]}, "set mode"),
        ({"sets": [["clamshell", "up", 10, 3]]}, "set side"),
        ({"sets": [["clamshell", "left", 0, 3]]}, "set reps"),
        ({"sets": [["clamshell", "left", 10, 3]] * 7}, "at most 6"),
        ({"colour": "red"}, "unknown programme key"),
        ([], "JSON object"),
    ],
)
def test_bad_plans_are_refused_in_one_line(bad, why):
    with pytest.raises(PG.PlanError, match=why):
        PG.check(bad)


def _boot(data: Path, tmp: Path, tr, name: str) -> Boot:
    counts, dt = _arrays(_trace(tr, tmp, name), PERIOD)
    return Boot(data, counts, dt, PERIOD)


def _walk(seconds: float):
    return synth.generate(synth.PRESETS["weak-right"](seconds), seed=4)


def test_service_stores_the_plan_and_tags_sessions(tmp_path):
    data = tmp_path / "dev"
    data.mkdir()
    b = _boot(data, tmp_path, _walk(20.0), "w0")
    with pytest.raises(RuntimeError, match="programme: walks=0"):
        b.request("programme.set", plan={"walks": 0})
    assert not (data / "programme.json").exists() and not (data / "config.json").exists()
    assert b.request("programme.get")["programme"] is None
    plan = {"id": "T1", "walks": 3, "min0": 10, "min1": 20, "probe": [30, 10]}
    r = b.request("programme.set", plan=plan)
    assert r["programme"]["id"] == "T1" and r["next_session"] == 1 and r["next_minutes"] == 10
    assert r["dose_minutes"] == 45
    cfg = json.loads((data / "config.json").read_text())
    assert (
        cfg["feedback"] == "faded"
        and cfg["fade_sessions"] == "2"
        and cfg["probe_every_steps"] == "30"
    )
    b.request("clock.set", epoch_s=1_800_000_000)
    b.run()
    b.finish()
    seen = []
    for k in range(4):  # power cycles: the plan and the session index survive on flash
        b = _boot(data, tmp_path, _walk(20.0), f"w{k + 1}")
        assert b.service.programme_note == "programme T1 loaded"
        b.request("clock.set", epoch_s=1_800_000_000 + 86400 * (k + 1))
        b.run()
        b.finish()
    for f in sorted((data / "logs").iterdir()):
        h = read_session_file(f).header
        assert h["start_unix"] >= 1_800_000_000  # a walking session carries its date
        seen.append(
            (h["programme"]["session"], h["programme"]["minutes"], h["programme"]["fade_pct"])
        )
        assert h["programme"]["plan"]["id"] == "T1"
    assert seen == [(1, 10, 100), (2, 15, 50), (3, 20, 0), (4, 0, 0), (5, 0, 0)]
    # a torn or refused programme file never stops the boot: set aside, no programme
    (data / "programme.json").write_text('{"plan": {"walks": 0}, "base": 0}')
    b = _boot(data, tmp_path, _walk(10.0), "bad")
    assert b.service.programme is None
    assert (
        "refused" in b.service.programme_note and "programme.json.bad0" in b.service.programme_note
    )
    assert (data / "programme.json.bad0").exists()
    assert b.request("programme.clear")["cleared"] is None


def test_exercise_from_the_stored_mode_and_the_button(tmp_path):
    """Config mode an exercise: the set runs from boot and is logged as an exercise session;
    a short press ends it, the next starts a new set (the buzz, the log)."""
    data = tmp_path / "dev"
    data.mkdir()
    (data / "config.json").write_text(
        json.dumps({"mode": "clamshell", "ex_side": "right", "ex_reps": "5", "tempo_ms": "3000"})
    )
    tr, truth = exsynth.generate("clamshell", "right", 6, seed=5)
    b = _boot(data, tmp_path, tr, "clam")
    assert b.service._ex_running == 1 and b.log.active  # logged from boot
    first = b.service._ex_session
    b.run(int((truth[3].t0 - 0.2) * 100))  # three reps, then a press
    on_button(b.app, 1, b.log)
    assert b.service._ex_running == 0 and b.service.ex_last["reason"] == "button"
    on_button(b.app, 1, b.log)  # the next press: a new set
    assert b.service._ex_running == 1 and b.service._ex_session != first
    b.run()
    b.finish()
    s1 = read_session_file(data / "logs" / first)
    assert s1.header["reason"] == "boot" and s1.header["exercise"] == "clamshell"
    assert s1.header["tempo_ms"] == 3000 and s1.header["config"]["mode"] == "clamshell"
    assert s1.end is not None and s1.end["exercise"]["count"] == 3
    assert s1.end["exercise"]["reason"] == "button" and not s1.end["exercise"]["done"]
    s2 = read_session_file(data / "logs" / b.service.ex_last["session"])
    assert s2.header["reason"] == "button" and s2.end["exercise"]["count"] == 3
    assert s2.end["exercise"]["reason"] == "end"
    # walking mode: a short press is the session start/stop it always was
    (data / "config.json").write_text(json.dumps({"mode": "walk"}))
    b = _boot(data, tmp_path, _walk(10.0), "walk")
    assert b.service._ex_running == 0 and not b.log.active
    on_button(b.app, 1, b.log)
    assert b.log.active and b.service._ex_running == 0


def test_tempo_pacing_pulses():
    """tempo_ms: a 40 ms pulse every tempo_ms from the set's first sample until it is done."""
    ex = Exercise(PERIOD, "clamshell", side=1, reps=2, tempo_ms=1000)
    motor = [ex.update(n, 0, 0) for n in range(350)]
    on = [n for n in range(350) if motor[n]]
    assert on == [n for k in (0, 100, 200, 300) for n in range(k, k + 4)]
    quiet = Exercise(PERIOD, "clamshell", side=1, reps=2)
    assert sum(quiet.update(n, 0, 0) for n in range(350)) == 0
    # two reps complete the set: the end-of-set buzz, then no more tempo pulses
    for n in range(350, 2000):
        rep = (n - 400) % 200 < 80 and n >= 400
        ex.update(n, 3000 if rep else 0, 0)
    assert ex.count >= 2 and ex.done_n > 0
    after = [ex.update(n, 0, 0) for n in range(2000, 2600)]
    assert sum(after) == 0


def test_programme_on_the_virtual_device_and_adherence(tmp_path, capsys):
    trace = tmp_path / "walk.trace.csv"
    synth.write_trace_csv(_walk(40.0), trace)

    def cli(*argv: str, port: bool = True) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main([*argv, "--port", sim.port] if port else list(argv))
        out, err = capsys.readouterr()
        return rc, out, err

    lib = tmp_path / "library.sqlite"
    with Sim(trace=str(trace), speed=8.0, loop=False, hold=True) as sim:
        rc, out, err = cli("programme", "show")
        assert rc == 0 and "no programme on the device" in out, err
        with pytest.raises(SystemExit) as e:  # usage: out of range, nothing sent
            cli("programme", "set", "--walks", "0")
        assert e.value.code == 2 and "--walks: 0 is outside 1..100" in capsys.readouterr().err
        rc, out, err = cli("programme", "set", "--probe", "10:20")
        assert rc == 1 and "probe len" in err
        rc, out, err = cli(
            "programme", "set", "--id", "PTY", "--walks", "2", "--minutes", "1:2",
            "--exercise", "clamshell:right:5:2", "--start", "2026-11-02",
        )  # fmt: skip
        assert rc == 0, err
        assert "programme PTY: 2 walking sessions over 2 weeks from 2026-11-02" in out
        assert "minutes per session: 1 2 (dose 3 min)" in out and "next: session 1" in out
        rc, out, _ = cli("programme", "show", "--json")
        assert json.loads(out)["programme"]["sets"] == [["clamshell", "right", 5, 2]]
        with L.connect(sim.port) as c:
            assert c.request("info")["clock"] is not None  # programme set dated the device
        with L.connect(sim.port) as c:
            c.request("sim.start")
            limit = time.monotonic() + 60
            while not c.request("info")["sim"]["done"]:
                assert time.monotonic() < limit
                time.sleep(0.1)
        limit = time.monotonic() + 30
        while True:
            rc, out, err = cli("logs", "pull", "--library", str(lib), "-q")
            assert rc == 0, err
            if "S0001.hcl" in out or time.monotonic() > limit:
                break
            time.sleep(0.2)
    rc, out, err = cli("programme", "adherence", "--library", str(lib), port=False)
    assert rc == 0, err
    # a 40 s walk against a 1 min session: logged, too short to count as done
    assert "walking sessions done: 0 of 2 (logged 1;" in out, out
    assert "minutes walked: 0.6 of 3 (20 % of the dose)" in out
    assert "        1        1     0.6  short  20" in out
    assert "exercise clamshell right x5: 0 of 4 sets done" in out
    rc, out, _ = cli("programme", "adherence", "--library", str(lib), "--json", port=False)
    a = json.loads(out)
    assert a["id"] == "PTY" and a["per_session"][0]["logged"] and not a["per_session"][1]["logged"]
    assert a["per_session"][0]["dates"][0] >= "2026"  # dated from the synced clock
    # a library without a programme: one line
    empty = tmp_path / "empty.sqlite"
    from hipcue.library import Library

    Library(empty).close()
    rc, _, err = cli("programme", "adherence", "--library", str(empty), port=False)
    assert rc == 1 and err.startswith("hipcue: error:")
