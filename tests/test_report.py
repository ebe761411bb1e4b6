"""`hipcue report`: renders from the sample sessions that ship with the project (tests/data),
every PNG has a sensible size and is not blank, the page is self-contained, and the numbers are
metrics.summarise()'s (the function replay uses)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from hipcue import synth
from hipcue.cli import main
from hipcue.metrics import drop_distribution, summarise, trend
from hipcue.replay import replay
from hipcue.session import load_session
from tests.conftest import ROOT

SAMPLES = ROOT / "tests" / "data" / "sessions"
SAMPLE_SESSIONS = sorted(str(p) for p in SAMPLES.iterdir())
SUMMARY_KEYS = tuple(summarise([], [], 0.0))


def _check_png(data: bytes | Path, min_w: int = 1000, min_h: int = 300) -> np.ndarray:
    img = mpimg.imread(io.BytesIO(data) if isinstance(data, bytes) else data, format="png")
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h, (w, h)
    rgb = img[..., :3]
    assert np.std(rgb) > 0.03  # not a blank canvas
    # something other than white and light grey is drawn over a good part of it
    ink = np.mean(np.min(rgb, axis=2) < 0.6)
    assert ink > 0.005, ink
    return img


def _synth_trace(tmp: Path, preset: str, seed: int, duration: float, start: str | None) -> Path:
    tr = synth.generate(synth.PRESETS[preset](duration), seed=seed)
    if start:
        tr.meta["start"] = start
    p = tmp / f"{preset}-{seed}.trace.csv"
    synth.write_trace_csv(tr, p)
    return p


def test_samples_ship_small_and_complete():
    total = sum(f.stat().st_size for f in SAMPLES.rglob("*") if f.is_file())
    assert total < 300 * 1024
    kinds = {load_session(p).kind for p in SAMPLE_SESSIONS}
    assert kinds == {"replay", "trace"}
    assert len(SAMPLE_SESSIONS) >= 3


def test_report_from_the_sample_sessions(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", *SAMPLE_SESSIONS, "--out", str(out), "--window", "10"]) == 0
    printed = capsys.readouterr().out
    assert "trend over 3 sessions" in printed and f"report: {out / 'report.html'}" in printed
    page = (out / "report.html").read_text()
    pngs = sorted((out / "img").glob("*.png"))
    # per session: overview, drops, three 10 s windows of a 24 s session; plus the trends
    assert len(pngs) == 3 * (2 + 3) + 1
    for p in pngs:
        _check_png(p)
    # self-contained: every image is an embedded PNG, the PNGs on disk are the same ones,
    # no script, no external resource
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == len(pngs)
    embedded = set()
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        _check_png(data)
        embedded.add(data)
    assert embedded == {p.read_bytes() for p in pngs}
    assert "<script" not in page
    assert not re.search(r"(href|src)=\"(https?:)?//", page)
    assert "@import" not in page and "url(" not in page
    # time windows: an index per session, one window shown at a time
    assert page.count('class="win"') == 9
    assert 'href="#2025-11-03-walk-w3"' in page
    assert ".win:target" in page
    # the plain-text summary is written and embedded
    text = (out / "summary.txt").read_text()
    assert text in printed
    assert "median drop: left stance" in text and "cues 16, 47.1 per 100 steps" in text
    assert text.replace("&", "&amp;").splitlines()[0] in page


def test_numbers_are_summarise_s_and_replay_s(tmp_path):
    # a replay output folder: the figures are recomputed by metrics.summarise() and agree
    # with what `hipcue replay` wrote
    folder = SAMPLES / "2025-11-03-walk"
    sess = load_session(folder)
    written = json.loads((folder / "summary.json").read_text())
    assert {k: sess.summary[k] for k in SUMMARY_KEYS} == {k: written[k] for k in SUMMARY_KEYS}
    # a trace: replayed through the firmware, the same figures as `hipcue replay`
    trace = SAMPLES / "2025-11-17-walk.trace.csv"
    sess = load_session(trace)
    written = replay(trace, tmp_path / "r")
    assert {k: sess.summary[k] for k in SUMMARY_KEYS} == {k: written[k] for k in SUMMARY_KEYS}
    # and the report prints those figures
    out = tmp_path / "rep"
    assert main(["report", str(trace), "--out", str(out), "-q"]) == 0
    text = (out / "summary.txt").read_text()
    s = sess.summary
    assert f"right stance {s['right_stance_drop_deg']:.1f} deg" in text
    assert f"cues {s['cues']}, {s['cues_per_100_steps']:g} per 100 steps" in text
    assert f"cadence {s['cadence_spm']:g} steps/min" in text
    assert f"asymmetry index {s['asymmetry_index_pct']:+.1f} %" in text
    # the distribution's medians are summarise()'s
    dist = drop_distribution(sess.steps)
    assert dist["L"]["median"] == s["left_stance_drop_deg"]
    assert dist["R"]["median"] == s["right_stance_drop_deg"]


@pytest.mark.parametrize(
    ("preset", "seed", "sign"),
    [("weak-left", 1, -1), ("weak-right", 2, 1), ("healthy", 3, 0)],
)
def test_synthetic_presets_render(tmp_path, preset, seed, sign):
    trace = _synth_trace(tmp_path, preset, seed, 16.0, None)
    out = tmp_path / "rep"
    assert main(["report", str(trace), "--out", str(out), "-q"]) == 0
    sess = load_session(trace)
    asym = sess.summary["asymmetry_index_pct"]
    if sign:
        assert asym * sign > 30
    else:
        assert abs(asym) < 25 and sess.summary["cues"] == 0  # healthy: no cue at 6 deg
    assert sess.date_from == "file time"  # no `# start:` line
    pngs = sorted((out / "img").glob("*.png"))
    assert [p.name.split("-")[-1] for p in pngs] == ["drops.png", "overview.png"]  # 1 window
    for p in pngs:
        _check_png(p)
    assert "Trends" not in (out / "report.html").read_text()  # one session: no trend


def test_long_session_is_cut_into_windows_and_trends_follow_the_dates(tmp_path):
    a = _synth_trace(tmp_path, "weak-right", 4, 70.0, "2025-12-01T10:00:00Z")
    b = _synth_trace(tmp_path, "healthy", 5, 12.0, "2025-11-20")
    out = tmp_path / "rep"
    assert main(["report", str(a), str(b), "--out", str(out), "--window", "30", "-q"]) == 0
    windows = sorted((out / "img").glob("weak-right-4-w*.png"))
    assert [p.name for p in windows] == [f"weak-right-4-w00{k}.png" for k in (1, 2, 3)]
    for p in windows + [out / "img" / "trends.png"]:
        _check_png(p)
    page = (out / "report.html").read_text()
    assert "W3 1:00–1:10" in page
    text = (out / "summary.txt").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\s+2025-1\d-\d\d ", line)]
    assert [r.split()[0] for r in rows] == ["2025-11-20", "2025-12-01"]  # by date, not argv
    sa, sb = load_session(a), load_session(b)
    assert trend([(sa.start, sa.summary), (sb.start, sb.summary)])[0][0] == sb.start


def test_bad_sessions_fail_with_one_line_and_leave_the_old_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(SAMPLES / "2025-11-03-walk"), "--out", str(out), "-q"]) == 0
    before = (out / "report.html").read_bytes()
    capsys.readouterr()
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    for args in ([str(tmp_path / "missing")], [str(bad)], [str(SAMPLES)]):
        assert main(["report", *args, "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("hipcue: error: ") and "\n" not in err
    broken = tmp_path / "broken.csv"
    broken.write_text("t_s,ax_g\n0,1\n")
    assert main(["report", str(broken), "--out", str(out)]) == 1
    assert "missing column" in capsys.readouterr().err
    assert (out / "report.html").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".hipcue-report-")]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine")
def test_headless_chromium_screenshot(tmp_path):
    out = tmp_path / "rep"
    assert main(["report", *SAMPLE_SESSIONS, "--out", str(out), "--window", "10", "-q"]) == 0
    shot = tmp_path / "shot.png"
    cmd = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        # no background connections: this machine's network is closed
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        (out / "report.html").as_uri(),
    ]
    subprocess.run(cmd, timeout=60, capture_output=True, env=dict(os.environ, HOME=str(tmp_path)))
    _check_png(shot, min_w=1280, min_h=2000)


def test_report_from_the_session_library(tmp_path):
    """Sessions pulled into the library report with trends: per-step logs as their step
    peaks, a raw capture replayed through the firmware."""
    from array import array

    from device.app import App
    from device.logstore import LogStore
    from hipcue import synth
    from hipcue.library import Library
    from hipcue.replay import quantise
    from hipcue.report import build_report
    from hipcue.session import load_sessions
    from hipcue.trace import read_trace
    from shared.config import Config
    from sim.board import SimBoard

    tr = synth.generate(synth.PRESETS["weak-right"](30.0), seed=6)
    p = tmp_path / "w.csv"
    synth.write_trace_csv(tr, p)
    trace = read_trace(p)
    cfg = Config()
    counts, _ = quantise(trace, cfg["imu"])
    lib_path = tmp_path / "library.sqlite"
    with Library(lib_path) as lib:
        for raw in (0, 1):
            board = SimBoard(array("h", counts.reshape(-1).tolist()), array("i", [10000] * trace.n))
            app = App(board, cfg, calibrate=True, period_us=10000)
            logs = tmp_path / f"logs{raw}"
            log = LogStore(str(logs), period_us=10000, fw="test", device="sim")
            log.start(app, "command", raw=raw)
            while board.next_sample():
                app.tick()
                log.service(app)
            log.stop(app, "end")
            for f in sorted(logs.iterdir()):
                lib.add_session(f.read_bytes(), "sim", f"R{raw}-{f.name}")
    sessions = load_sessions([str(lib_path)])
    assert len(sessions) == 2
    kinds = sorted(s.kind for s in sessions)
    assert kinds == ["log", "trace"]
    for s in sessions:
        assert s.summary["right_stance_drop_deg"] > s.summary["left_stance_drop_deg"] + 3
    out = tmp_path / "rep"
    build_report(sessions, out)
    assert (out / "img" / "trends.png").exists()
