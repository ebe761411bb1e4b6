"""The progress view (issue #16) over a demo library recorded by the firmware (sim/progress.py:
two weeks of a synthetic wearer whose right-stance drop falls from 10 to 6 deg), its figures
against the generator's truth, its answers, and the page printed by a real browser (headless
Chromium to PDF: one A4 page, its key text there)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hipcue import progress
from hipcue.cli import main
from hipcue.library import Library
from hipcue.logs import read_session
from sim import progress as demo

MINUTES = (1, 2)  # the demo programme's minutes, shortened for the suite


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    lib = tmp_path_factory.mktemp("progress") / "library.sqlite"
    demo.build_library(lib, minutes=MINUTES)
    return lib


def test_the_demo_library_is_what_the_device_logged(library):
    with Library(library, create=False) as lib:
        heads = [read_session(lib.session_bytes(r["id"])[1]).header for r in lib.sessions()]
    kinds = [("sls" if h.get("test") else h.get("exercise") or "walk") for h in heads]
    assert kinds.count("sls") == 3 and kinds.count("walk") == 8  # baseline + 7 of 8 walks
    assert kinds.count("single-leg-squat") == 4 and kinds.count("clamshell") == 4
    assert all(h["start_unix"] > 0 for h in heads)  # walking sessions are dated too
    tags = [h["programme"] for h in heads if "programme" in h and "plan" in h["programme"]]
    # programme session numbers advance with the device's session_index; day 11 was missed
    assert [t["session"] for t in tags] == [1, 2, 3, 4, 5, 6, 7]
    assert [t["minutes"] for t in tags] == [1, 1, 1, 1, 2, 2, 2]
    fades = [t["fade_pct"] for t in tags]
    assert fades[0] == 100 and fades == sorted(fades, reverse=True) and fades[-1] < 20
    ex = [h for h in heads if h.get("exercise")]
    assert all(h["programme"] == {"id": "DEMO"} for h in ex)


def test_level_straight_figures_against_the_truth(library):
    p = progress.load(library)
    assert len(p.walks) == 8 and len(p.sets) == 8 and len(p.sls) == 3
    for k, w in enumerate(p.walks):
        # each walk has two sharp U-turns: their steps are gated out, the rest are averaged
        assert w.gated["L"] + w.gated["R"] >= 4, w.gated
        assert w.level["L"].n + w.level["R"].n + w.gated["L"] + w.gated["R"] == w.steps
        # truth: left stance 4.5 deg, right stance 10 -> 6 deg over the programme
        want_r = demo.BASE_DROP_R
        if k:
            day = demo.PROGRAMME_DAYS.index(w.start.day - demo.START.day)
            want_r += (demo.END_DROP_R - demo.BASE_DROP_R) * day / 7
        assert abs((w.level["R"].mean or 0) - want_r) < 1.0, (k, w.level)
        assert abs((w.level["L"].mean or 0) - demo.DROP_L) < 1.0
        assert 0 < (w.level["R"].sd or 0) < 1.5
        if k:  # the plan's feedback-off probe blocks: 20 of every 60 steps
            n = w.probe["L"].n + w.probe["R"].n
            assert 0.2 < n / (w.level["L"].n + w.level["R"].n) < 0.45


def test_the_answers(library):
    p = progress.load(library)
    qa = dict(progress.answers(p))
    drop = qa["Is the drop smaller than at the start, and on which side?"]
    want = (
        r"right stance \(right hip\): 9\.\d° on 02 Nov → 6\.\d° on 14 Nov: "
        r"smaller by \d\.\d° — beyond the 2\.7° measurement error"
    )
    assert re.search(want, drop), drop
    assert re.search(r"left stance \(left hip\).*within the ±2\.7° measurement error", drop)
    assert "the right hip is the one to train" in drop
    fb = qa["With feedback and without it?"]
    assert "in the feedback-off probe blocks" in fb and "beyond the 2.7°" in fb
    adh = qa["Did the wearer do the programme?"]
    assert "6 of 8 walking sessions done" in adh, adh
    assert "too short: 5" in adh and "not done: 8" in adh
    assert "single-leg-squat right 4/4" in adh and "clamshell right 4/4" in adh
    sls = [v for k, v in qa.items() if k.startswith("Single-leg stance")][0]
    assert "right stance 7." in sls and "beyond the 4° measurement error" in sls
    a = progress.adherence(p)
    assert a is not None and a["minutes_planned"] == 12 and a["sessions_logged"] == 7
    assert [r["done"] for r in a["per_session"]] == [True] * 4 + [False, True, True, False]


def test_a_side_short_of_steps_is_not_compared(tmp_path):
    """A walk with fewer than 7 level straight steps a side says why and is left out."""
    from hipcue.logs import LogStep

    w = progress.Walk(
        name="S1",
        start=demo.START,
        minutes=0.1,
        steps=9,
        level={"L": progress.stats([5.0] * 5), "R": progress.stats([8.0] * 4)},
        gated={"L": 0, "R": 3},
        probe={"L": progress.stats([]), "R": progress.stats([])},
        feedback={"L": progress.stats([]), "R": progress.stats([])},
        cues=0,
        programme=None,
        calibrated=True,
    )
    assert w.why_not("L") == "5 level straight steps in left stance (need 7)"
    assert w.why_not("R") == (
        "4 level straight steps in right stance (need 7); 3 left out in turns or bent over"
    )
    p = progress.Progress("x", [w], [], [], None, [])
    qa = progress.answers(p)
    assert "no session has 7 level straight steps" in qa[0][1]
    assert "not compared" in progress.text(p)
    assert LogStep(0.0, "L", 1.0, 0).gated == 0  # the reader's default: a level step
    assert progress.stats([4.0, 6.0]).sd == pytest.approx(1.414, abs=0.01)


def test_page_is_self_contained_and_printable(library, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(library), "--progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Did the wearer do the programme?" in printed and "progress.html" in printed
    page = (out / "progress.html").read_text()
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "https://" not in page and "<link" not in page and "<img" not in page
    assert page.count("<svg") == 4 and "@media print" in page and "@page" in page
    assert (out / "progress.txt").read_text().startswith("progress over ")
    # a set of sessions, not a library: refused in one line
    assert main(["report", str(out / "progress.txt"), "--progress", "--out", str(out)]) == 1
    assert "give one session library" in capsys.readouterr().err


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(
    _chromium() is None or shutil.which("pdftotext") is None,
    reason="no chromium or pdftotext on this machine (`make browser` installs Debian's)",
)
def test_printed_by_a_real_browser_on_one_page(library, tmp_path):
    out = tmp_path / "rep"
    assert main(["report", str(library), "--progress", "--out", str(out), "-q"]) == 0
    pdf = tmp_path / "progress.pdf"
    cmd = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        (out / "progress.html").as_uri(),
    ]
    env = dict(os.environ, HOME=str(tmp_path))
    subprocess.run(cmd, timeout=120, capture_output=True, env=env)
    assert pdf.exists() and pdf.stat().st_size > 5000
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60)
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout
    assert re.search(r"^Page size:.*\(A4\)", info.stdout, re.M), info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60
    ).stdout
    flat = " ".join(text.split())
    for key in (
        "hip drop progress",
        "Is the drop smaller than at the start",
        "beyond the 2.7° measurement error",
        "With feedback and without it?",
        "feedback-off probe blocks",
        "Did the wearer do the programme?",
        "6 of 8 walking sessions done",
        "Single-leg stance test",
        "Exercise sets",
        "right stance (right hip)",
    ):
        assert key in flat, key


def test_gated_steps_in_the_log_format():
    """R_GATED marks only the next step; a block without it reads as level straight steps,
    and the record is an extension (0xE9): a reader that does not know it skips it."""
    from shared import logformat as lf

    rec = lf.RecordBuffer(256, 10000)
    assert rec.step(100, 0, 4000, 0) and rec.gated(4) and rec.step(160, 1, 9000, 1)
    assert rec.gated(64 | 4) and rec.step(220, 0, 4200, 0) and rec.step(280, 1, 8800, 0)
    k = rec.seal()
    head = lf.header_frame({"format": 2, "period_us": 10000})
    data = bytes(head) + bytes(rec.buf[:k])
    p = lf.parse(data)
    assert p["error"] is None and len(p["steps"]) == 4
    assert p["gated"] == [0, 4, 68, 0]
    assert lf.R_EXT_FIRST <= lf.R_GATED <= lf.R_EXT_LAST


def test_the_session_report_of_a_library_leaves_sets_and_tests_out(library, capsys):
    """`hipcue report LIBRARY` (not --progress) plots the walks and says what it left out."""
    from hipcue.session import load_sessions

    sessions = load_sessions([str(library)])
    assert len(sessions) == 8 and all(s.kind == "log" for s in sessions)
    assert "11 exercise set and test session(s) left out" in capsys.readouterr().err
