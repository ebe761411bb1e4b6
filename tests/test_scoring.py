"""sim/scoring.py: the one scorer of detected steps against reference initial contacts."""

from __future__ import annotations

import numpy as np

from sim import scoring


def _ref(t, side, spans=((-np.inf, np.inf),), ignore=()):
    return scoring.Reference(
        name="r",
        dataset="d",
        subject="s",
        trace=None,  # type: ignore[arg-type]
        ic_t=np.array(t, float),
        ic_side=np.array(side),
        spans=list(spans),
        ignore=list(ignore),
    )


def test_exact_detections_score_perfectly():
    ref = _ref([1.0, 1.5, 2.0], ["L", "R", "L"])
    t = scoring.total([scoring.score([1.0, 1.5, 2.0], ["L", "R", "L"], ref)])
    assert t["matched_pct"] == 100.0 and t["side_pct"] == 100.0
    assert t["extra_pct"] == 0.0 and t["bias_ms"] == 0.0
    assert scoring.meets_goals(t)


def test_late_wrong_side_extra_and_missed():
    ref = _ref([1.0, 1.5, 2.0, 2.5], ["L", "R", "L", "R"])
    # 40 ms late, the second on the wrong side, the last reference missed (200 ms off), one
    # extra step between; one detection in an ignored span is not extra
    det = [1.04, 1.54, 1.75, 2.04, 2.7, 3.5]
    side = ["L", "L", "R", "L", "R", "R"]
    ref.ignore.append((3.4, 3.6))
    s = scoring.score(det, side, ref)
    assert s["matched"] == 3 and s["side_ok"] == 2
    assert s["extra"] == 2  # 1.75 and 2.7
    assert s["missed_t"] == [2.5]
    t = scoring.total([s])
    assert t["matched_pct"] == 75.0 and abs(t["bias_ms"] - 40.0) < 1e-6
    assert not scoring.meets_goals(t)


def test_one_detection_matches_one_contact_closest_first():
    ref = _ref([1.0, 1.2], ["L", "R"])
    s = scoring.score([1.11], ["R"], ref)  # 110 ms from the first, 90 ms from the second
    assert s["matched"] == 1 and s["side_ok"] == 1 and abs(s["bias_s"][0] + 0.09) < 1e-9


def test_extras_count_only_inside_the_spans():
    ref = _ref([5.0, 5.5], ["L", "R"], spans=[(4.0, 6.5)])
    s = scoring.score([1.0, 5.0, 5.5, 6.0, 9.0], ["L", "L", "R", "L", "R"], ref)
    assert s["extra"] == 1 and s["outside"] == 2


def test_every_shared_reference_is_loaded(data_dir):
    refs = scoring.load_references(data_dir)
    assert len(refs) == 19  # 16 ipol trials, 3 mobgap trials
    assert sum(len(r.ic_t) for r in refs) > 600
    assert {r.dataset for r in refs} >= {"ipol S01", "ipol S02", "ipol S03"}
    for r in refs:
        assert r.trace.exists() and set(r.ic_side) <= {"L", "R"}


def test_a_contact_of_the_second_reference_is_no_extra_step():
    ref = _ref([1.0, 2.0], ["L", "R"])
    ref.also_t = np.array([1.5])
    s = scoring.score([1.0, 1.55, 2.0, 2.5], ["L", "R", "R", "L"], ref)
    assert s["matched"] == 2 and s["extra"] == 1 and s["extra_t"] == [2.5]
