"""Regenerate the sample sessions in tests/data/sessions (small, synthetic, deterministic).

    .venv/bin/python -m tests.data.make_samples [DIR]

Three weekly sessions of a wearer with a weak right hip whose right-stance drop improves
(9, 8, 7 deg; left stance 4 deg), 20 s of walking each between 2 s of standing:
- two as replay output folders (`hipcue replay` output, plus the session date as "start");
- the last as a raw capture: a trace CSV with a `# start:` line (for `hipcue tune`).
Traces keep only the spec's required columns at the counts' resolution, to stay small.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hipcue import synth
from hipcue.replay import run_firmware, write_outputs
from hipcue.trace import read_trace

OUT = Path(__file__).resolve().parent / "sessions"
WALK_S = 20.0
SESSIONS = (
    # (name, start, right-stance drop, seed, raw capture?)
    ("2025-11-03-walk", "2025-11-03T09:30:00+01:00", 9.0, 3, False),
    ("2025-11-10-walk", "2025-11-10T09:40:00+01:00", 8.0, 4, False),
    ("2025-11-17-walk", "2025-11-17T09:35:00+01:00", 7.0, 5, True),
)
COLUMNS = (
    (("t_s", "%.2f"),)
    + tuple((c, "%.5f") for c in ("ax_g", "ay_g", "az_g"))
    + tuple((c, "%.3f") for c in ("gx_dps", "gy_dps", "gz_dps"))
)


def trace_text(drop_right: float, seed: int, start: str) -> str:
    segments = [
        synth.Segment("stand", 2.0),
        synth.Segment("walk", WALK_S, 105.0, 4.0, drop_right),
        synth.Segment("stand", 2.0),
    ]
    tr = synth.generate(segments, seed=seed)
    lines = [
        f"# source: hipcue synth seed={seed}, walk {WALK_S:g} s at 105 spm, "
        "drop: left stance 4 deg, right stance "
        f"{drop_right:g} deg (tests/data/make_samples.py)",
        "# rate_hz: 100",
        f"# mount: {tr.mount}",
        f"# start: {start}",
        ",".join(c for c, _ in COLUMNS),
    ]
    cols = [tr.columns[c] for c, _ in COLUMNS]
    for i in range(len(cols[0])):
        lines.append(",".join(fmt % col[i] for (_, fmt), col in zip(COLUMNS, cols, strict=True)))
    return "\n".join(lines) + "\n"


def main(out: Path = OUT) -> None:
    """Write the sessions into `out` (tests/test_sample_sessions.py writes them into a temporary
    folder and compares: the committed files are what this command makes)."""
    OUT = out  # noqa: N806
    OUT.mkdir(parents=True, exist_ok=True)
    for name, start, drop_right, seed, raw in SESSIONS:
        text = trace_text(drop_right, seed, start)
        if raw:
            (OUT / f"{name}.trace.csv").write_text(text)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            tp = Path(tmp) / f"{name}.trace.csv"
            tp.write_text(text)
            res = run_firmware(read_trace(tp))
            summary = write_outputs(res, OUT / name)
        summary["trace"] = f"{name}.trace.csv"  # not shipped: the folder is the session
        summary["start"] = start
        (OUT / name / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT}: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    import sys

    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
