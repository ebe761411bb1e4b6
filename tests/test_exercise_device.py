"""`hipcue exercise` on the virtual device (MicroPython unix port on a pty): an exercise set
started over the serial protocol counts the reps of a synthetic set, ends with the buzz, and
is stored as an exercise session whose end frame holds every rep."""

from __future__ import annotations

import json
import time

import pytest

from hipcue import exsynth, synth
from hipcue import link as L
from hipcue.cli import main
from hipcue.logs import read_session_file
from hipcue.sim import Sim


def _cli(capsys, port, *argv):
    capsys.readouterr()
    rc = main([*argv, "--port", port])
    out, err = capsys.readouterr()
    return rc, out, err


def test_exercise_set_on_the_virtual_device(tmp_path, capsys):
    tr, truth = exsynth.generate("single-leg-squat", "right", 4, seed=9)
    path = tmp_path / "sls.trace.csv"
    synth.write_trace_csv(tr, path)
    with Sim(trace=str(path), speed=4.0, loop=False, hold=True) as sim:
        with L.connect(sim.port) as c:
            with pytest.raises(L.DeviceError):
                c.request("exercise.start", mode="walk")
            with pytest.raises(L.DeviceError):
                c.request("exercise.start", mode="squat-jump")
            with pytest.raises(L.DeviceError):
                c.request("exercise.status_nope")
            r = c.request("exercise.start", mode="single-leg-squat", side="right", reps=4)
            assert r["started"] == "single-leg-squat" and r["reps"] == 4 and r["session"]
            with pytest.raises(L.DeviceError):
                c.request("exercise.start", mode="step-down")  # one set at a time
            c.request("sim.start")
            deadline = time.monotonic() + 60.0
            while True:
                st = c.request("exercise.status")
                if not st["running"]:
                    break
                assert time.monotonic() < deadline, st
                time.sleep(0.2)
        res = st["results"]
        assert res["done"] == 1 and res["count"] == 4 and len(res["reps"]) == 4, res
        for (t_ms, side, drop, dur_ms, _cued), want in zip(res["reps"], truth, strict=True):
            assert side == 1 and abs(drop / 1000 - want.drop_deg) <= 1.0
            assert want.t0 <= t_ms / 1000 <= want.t0 + want.dur  # the set began with the trace
            assert 0.5 <= dur_ms / 1000 <= want.dur
        s = read_session_file(sim.data_dir / "logs" / res["session"])
        assert s.header["exercise"] == "single-leg-squat" and s.header["ex_reps"] == 4
        assert s.end is not None and s.end["exercise"]["reps"] == res["reps"]
        # a set stopped early from the CLI (the trace has ended: no reps come)
        rc, out, err = _cli(capsys, sim.port, "exercise", "clamshell", "--reps", "3", "--no-wait")
        assert rc == 0 and "clamshell set started: 3 reps" in out, err
        with L.connect(sim.port) as c:
            stopped = c.request("exercise.stop")
            assert stopped["reason"] == "stopped" and stopped["done"] == 0
            with pytest.raises(L.DeviceError):
                c.request("exercise.stop")
        rc, out, err = _cli(
            capsys, sim.port, "exercise", "leg-lift", "--reps", "2", "--max-s", "0.5", "--json"
        )
        assert rc == 0, err
        j = json.loads(out)
        assert j["exercise"] == "leg-lift" and j["count"] == 0 and j["reason"] == "stopped"
