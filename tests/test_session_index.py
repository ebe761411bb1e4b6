"""Issue #7: the device counts sessions for the faded schedule. Each session the log store
starts advances the config's `session_index` by one and saves the config (atomically: a
temporary file renamed over the old one); the session runs with the index it started with."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

from device import service as S
from device.app import App
from device.logstore import LogStore
from hipcue.logs import read_session_file
from shared import cue as cue_mod
from shared.config import Config
from shared.feedback import fade_pct
from sim.board import SimBoard


class _Link:
    def read_byte(self) -> int:
        return -1

    def write_some(self, mv: memoryview) -> int:
        return len(mv)

    def restore_ctrl_c(self) -> None:
        pass


def test_session_index_advances_and_is_saved(tmp_path: Path) -> None:
    cfg = Config()
    for k, v in (("feedback", "faded"), ("fade_sessions", "4"), ("session_index", "1")):
        cfg.set(k, v)
    S.save_config(str(tmp_path), cfg)
    board = SimBoard(array("h", [0, 0, 4096, 0, 0, 0] * 400), array("i", [10000] * 400))
    app = App(board, cfg, calibrate=False)
    svc = S.Service(
        _Link(), cfg, str(tmp_path), app=app, board=board,
        ticks_ms=lambda: 0, ticks_diff=lambda a, b: a - b,
    )  # fmt: skip
    store = LogStore(str(tmp_path / "logs"), 10000, fw="t")
    svc.log = store
    fades = []
    for i in range(3):
        for _ in range(50):
            board.next_sample()
            app.tick()
        k = store.start(app, "command")
        assert k == i + 1
        fades.append(app.cue._s[cue_mod._FADE_PCT])
        store.stop(app, "command")
        saved = json.loads((tmp_path / "config.json").read_text())
        assert int(saved["session_index"]) == 2 + i == cfg["session_index"]
        assert not (tmp_path / "config.json.tmp").exists()
    # each session's header has the index it ran with, and its share of cues
    idx = [
        int(
            read_session_file(tmp_path / "logs" / f"S{k:04d}.hcl").header["config"]["session_index"]
        )
        for k in (1, 2, 3)
    ]
    assert idx == [1, 2, 3]
    assert fades == [fade_pct(100, 0, 4, j) for j in idx] == [75, 50, 25]
    assert svc.sessions_counted == 3
    # the stored config loads back with the advanced index
    cfg2, _note, _fault = S.load_config(str(tmp_path))
    assert cfg2["session_index"] == 4


def test_a_sliced_start_saves_the_same_config_a_piece_per_poll(tmp_path: Path) -> None:
    """The board's store (sliced): the cue gets its share at the start, the index advances
    in RAM at once, and config.json is saved over the next polls, a piece each (its JSON a
    few keys a poll): the same bytes save_config() writes, and logs resume as before."""
    cfg = Config()
    for k, v in (("feedback", "faded"), ("fade_sessions", "4"), ("session_index", "1")):
        cfg.set(k, v)
    S.save_config(str(tmp_path), cfg)
    board = SimBoard(array("h", [0, 0, 4096, 0, 0, 0] * 400), array("i", [10000] * 400))
    app = App(board, cfg, calibrate=False)
    svc = S.Service(
        _Link(), cfg, str(tmp_path), app=app, board=board,
        ticks_ms=lambda: 0, ticks_diff=lambda a, b: a - b,
    )  # fmt: skip
    store = LogStore(str(tmp_path / "logs"), 10000, fw="t", sliced=1)
    svc.log = store
    for _ in range(50):
        board.next_sample()
        app.tick()
    assert store.start(app, "command") == 1
    assert app.cue._s[cue_mod._FADE_PCT] == 75 and cfg["session_index"] == 2
    saved = json.loads((tmp_path / "config.json").read_text())
    assert int(saved["session_index"]) == 1  # not yet: the save comes a piece per poll
    polls = 0
    while svc._cfg_save is not None:
        assert svc.poll() == 1
        polls += 1
        assert polls < 40
    assert polls >= 8  # the JSON over several polls, the file, its text, close, rename
    got = (tmp_path / "config.json").read_bytes()
    ref = tmp_path / "ref"
    ref.mkdir()
    S.save_config(str(ref), cfg)
    assert got == (ref / "config.json").read_bytes()
    assert not (tmp_path / "config.json.tmp").exists()
    store.stop(app, "command")
    assert read_session_file(tmp_path / "logs" / "S0001.hcl").header["config"]["session_index"]
