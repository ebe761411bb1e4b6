"""Data-quality gates (issue 14): defaults reproduced from the shared real recordings
(../shared/data/real: ipol AGPL-3.0 read in place, mobgap Apache-2.0)."""

from __future__ import annotations

import pytest

from shared.config import SCHEMA
from sim import gates, scoring
from tests.conftest import need_data


@pytest.fixture(scope="module")
def refs():
    return scoring.load_references(need_data())


def test_turn_gate_default_comes_from_straight_walking_and_u_turns(refs):
    f = gates.turn_figures(refs, tau_ms=SCHEMA["turn_tau_ms"][1])
    # the rule of sim/gates.py gives the schema default, and it separates: above every
    # straight walk (largest: 47 deg/s, mobgap Test11), below every U-turn's median (68)
    assert f["threshold_dps"] * 1000 == SCHEMA["turn_gate_dps"][1]
    assert f["separates"]
    assert f["straight_max_dps"] < f["threshold_dps"] < f["turn_median_min_dps"]
    # the raw yaw rate would not separate: straight walking swings it past the U-turns' rates
    raw = gates.turn_figures(refs, tau_ms=0)
    assert raw["straight_max_dps"] > raw["turn_median_min_dps"]


def test_tilt_gate_no_cue_while_bent_over(refs):
    f = gates.tilt_figures(refs)
    # calibrated walks stay far inside the gate; the circuit's bent-over stretch (79 deg) is out
    assert -30 < f["walk_tilt_min_deg"] and f["walk_tilt_max_deg"] < 30
    assert f["gate_on"]["max_tilt_deg"] > 70 and f["gate_on"]["bent_s"] > 5
    assert f["gate_on"]["cue_samples_bent"] == 0
    assert f["gate_off"]["cue_samples_bent"] > 0  # without the gate, it cued bent over
