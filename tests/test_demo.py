"""`make demo` end to end (shortened): summary printed, plot written and not blank."""

import json

import matplotlib.image as mpimg
import numpy as np

from hipcue.cli import main


def test_demo_tells_the_story(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--duration", "30"]) == 0
    text = capsys.readouterr().out
    for word in ("steps:", "cues:", "median drop:", "truth:", "plot:"):
        assert word in text
    s = json.loads((out / "summary.json").read_text())
    assert s["engine"] == "micropython"
    assert s["steps"] > 30 and s["cues"] > 5
    # weak right hip: the drop during right stance is the larger one, near the truth (9 deg)
    assert s["right_stance_drop_deg"] > s["left_stance_drop_deg"] + 3
    assert abs(s["right_stance_drop_deg"] - 9.0) < 1.5
    img = mpimg.imread(out / "obliquity.png")
    assert img.shape[0] > 500 and img.shape[1] > 1000
    assert np.std(img[..., :3]) > 0.05  # not a blank canvas
