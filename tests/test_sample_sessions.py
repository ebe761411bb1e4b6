"""The sample sessions in tests/data/sessions are exactly what `python -m tests.data.make_samples`
makes from the current firmware (issue #13: fixtures that a regeneration would change are
stale; this fails until they are regenerated and committed)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.data import make_samples


def test_committed_sample_sessions_are_what_the_command_makes(tmp_path: Path) -> None:
    make_samples.main(tmp_path)
    committed = make_samples.OUT
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    have = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert made == have
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (committed / rel).read_bytes(), (
            f"{rel} is stale: run .venv/bin/python -m tests.data.make_samples"
        )
    # and they agree with the spec's crediting: every cue is some step's, none twice
    for d in committed.iterdir():
        if d.is_dir():
            s = json.loads((d / "summary.json").read_text())
            assert s["cued_steps"] == s["cues"] > 0, d.name
