"""A live config change mid-session (issue #13) updates the running cue detector in place: its
counters, stride history, refractory countdown and the session's faded-schedule share stay;
only the changed setting changes. Before, the detector was rebuilt: counters lost and the
share recomputed from the already advanced session_index (100 % -> 50 %)."""

from __future__ import annotations

from array import array
from pathlib import Path

from device import service as S
from device.app import App
from device.logstore import LogStore
from hipcue import synth
from hipcue.replay import quantise
from hipcue.trace import read_trace
from shared import cue as C
from shared.config import Config
from sim.board import SimBoard


class _Link:
    def read_byte(self) -> int:
        return -1

    def write_some(self, mv: memoryview) -> int:
        return len(mv)

    def restore_ctrl_c(self) -> None:
        pass


def _walk(tmp_path: Path):
    tr = synth.generate(synth.PRESETS["weak-right"](60.0), seed=3)
    p = tmp_path / "walk.csv"
    synth.write_trace_csv(tr, p)
    t = read_trace(p)
    counts, _ = quantise(t, "lsm6dsox")
    return t, array("h", counts.reshape(-1).tolist())


SETS = {
    "mount": "forward=-z left=+y up=+x",
    "feedback": "faded",
    "fade_start_pct": "100",
    "fade_end_pct": "0",
    "fade_sessions": "2",
    "stride_n": "3",
    "stride_m": "3",
    "refractory_strides": "1",
    "threshold_deg": "8",
}


def _run(tmp_path: Path, counts, n, change=None, at=0):
    d = tmp_path / ("run-%d" % len(list(tmp_path.iterdir())))
    d.mkdir()
    cfg = Config().updated(SETS)
    S.save_config(str(d), cfg)
    board = SimBoard(counts, array("i", [10000] * n))
    app = App(board, cfg, calibrate=False, period_us=10000)
    svc = S.Service(
        _Link(), cfg, str(d), app=app, board=board,
        ticks_ms=lambda: 0, ticks_diff=lambda a, b: a - b,
    )  # fmt: skip
    svc.log = LogStore(str(d / "logs"), 10000, fw="t")
    svc.log.start(app, "command")  # session 0 of the faded schedule: every cue
    cue0 = app.cue
    fires = []
    snap = None
    i = 0
    while board.next_sample():
        app.tick()
        if app.cue.fired:
            fires.append(app.n)
        svc.log.service(app)
        i += 1
        if change and i == at:
            before = list(app.cue._s)
            sent: list[dict] = []
            svc._reply = lambda seq, r, sent=sent: sent.append(r)
            svc._c_config_set(7, {"values": change})
            snap = (before, list(app.cue._s), sent[0])
    assert app.cue is cue0
    return app, fires, snap


def test_live_change_keeps_the_session_state(tmp_path: Path) -> None:
    t, counts = _walk(tmp_path)
    n = t.n
    a, fires_a, _ = _run(tmp_path, counts, n)
    assert a.cue.fade_pct == 100 and len(fires_a) >= 10
    assert a.cue._s[C._C_STRIDE] > 0  # the stride rule withheld some: history matters
    # the pulse length changed halfway: decisions, counters, share all as without it
    b, fires_b, snap = _run(tmp_path, counts, n, {"cue_ms": "160"}, n // 2)
    before, after, reply = snap
    assert reply["changed"] == ["cue_ms"] and reply["restart_needed"] == []
    assert after[C._PULSE_N] == 16 and before[C._PULSE_N] == 15
    keep = [k for k in range(C._NCELLS) if k != C._PULSE_N]
    assert [after[k] for k in keep] == [before[k] for k in keep]  # nothing else moved
    assert fires_b == fires_a
    assert b.cue.counters() == a.cue.counters() and b.cue.cues == a.cue.cues
    assert b.cue.fade_pct == 100  # the session's share, not the next session's (50)
    # a threshold change takes effect at once and keeps the state too
    c, fires_c, snap = _run(tmp_path, counts, n, {"threshold_deg": "4"}, n // 2)
    before, after, _ = snap
    assert after[C._THR] == after[C._THR_L] == after[C._THR_R] == 4000
    for k in (C._HIST_L, C._HIST_R, C._FADE_ACC, C._STEPS, C._C_STRIDE, C._REFR_LEFT):
        assert after[k] == before[k], k
    assert [f for f in fires_c if f <= n // 2] == [f for f in fires_a if f <= n // 2]
    assert len(fires_c) > len(fires_a)  # a lower threshold: more cues after the change


def test_fade_keys_apply_from_the_next_session(tmp_path: Path) -> None:
    t, counts = _walk(tmp_path)
    _c, _f, snap = _run(tmp_path, counts, 3000, {"fade_start_pct": "40"}, 1500)
    before, after, reply = snap
    assert reply["changed"] == ["fade_start_pct"] and reply["restart_needed"] == []
    assert after == before  # this session keeps its share (100 %)
