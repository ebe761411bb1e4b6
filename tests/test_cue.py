"""Cue detector: threshold, dwell, pulse, refractory period, hysteresis, enable."""

from shared.cue import CueDetector

P = 10000  # 100 Hz


def run(cue, obl_mdeg, enabled=1):
    motor, fired = [], []
    for v in obl_mdeg:
        motor.append(cue.update(v, enabled))
        fired.append(cue.fired)
    return motor, fired


def test_below_threshold_never_cues():
    cue = CueDetector(P, 6000, 1000, 10, 1000, 150)
    motor, fired = run(cue, [5999, -5999, 0] * 100)
    assert sum(motor) == 0 and sum(fired) == 0 and cue.cues == 0


def test_dwell_then_pulse_of_the_configured_length():
    cue = CueDetector(P, 6000, 1000, 10, 1000, 150)
    motor, fired = run(cue, [0, 7000, 7000, 7000] + [3000] * 40)
    # 10 ms dwell at 100 Hz: the second sample past the threshold fires
    assert fired.index(1) == 2 and sum(fired) == 1
    assert motor[2] == 1 and sum(motor) == 15  # 150 ms
    assert motor[17] == 0


def test_zero_dwell_fires_on_the_first_sample():
    cue = CueDetector(P, 6000, 1000, 0, 1000, 150)
    _, fired = run(cue, [0, 6000])
    assert fired == [0, 1]


def test_single_sample_spike_is_debounced():
    cue = CueDetector(P, 6000, 1000, 20, 1000, 150)
    _, fired = run(cue, [0, 9000, 0, 9000, 9000, 0, 9000, 9000, 9000])
    assert fired.index(1) == 8  # needs three samples in a row past 6 deg (20 ms dwell)


def test_refractory_period_and_hysteresis():
    cue = CueDetector(P, 6000, 1000, 0, 1000, 100)
    seq = [7000] + [4000] * 10 + [7000] * 5  # back past the threshold 110 ms later
    seq += [4000] * 100 + [7000]  # again after the refractory second: cues
    _, fired = run(cue, seq)
    assert [i for i, f in enumerate(fired) if f] == [0, len(seq) - 1]


def test_staying_down_gives_one_cue_only():
    cue = CueDetector(P, 6000, 1000, 0, 300, 100)
    # a long sag that wobbles inside the hysteresis band (5..6 deg) never re-arms
    seq = [8000] * 50 + [5500, 6500] * 100
    _, fired = run(cue, seq)
    assert sum(fired) == 1
    _, fired = run(cue, [4900, 6500])  # below 5 deg re-arms; refractory long over
    assert fired == [0, 1]


def test_left_and_right_drops_and_side():
    cue = CueDetector(P, 6000, 1000, 0, 0, 50)
    run(cue, [-7000])
    assert cue.drop_side == 0  # left side lower
    run(cue, [0, 7000])
    assert cue.drop_side == 1 and cue.cues == 2


def test_disabled_never_cues_but_keeps_state():
    cue = CueDetector(P, 6000, 1000, 0, 0, 50)
    motor, fired = run(cue, [9000] * 20, enabled=0)
    assert sum(fired) == 0 and sum(motor) == 0
    _, fired = run(cue, [9000])
    assert fired == [1]


def test_times_scale_with_the_sample_rate():
    cue = CueDetector(2500, 6000, 1000, 10, 1000, 150)  # 400 Hz
    motor, fired = run(cue, [7000] * 100)
    assert fired.index(1) == 4 and sum(motor) == 60


def test_pulse_growth_below_one_sample_per_degree_counts():
    """cue_ms_per_deg is kept in ms (issue #13): 4 ms/deg at 100 Hz, 5 deg past the threshold
    lengthens the 150 ms pulse by 20 ms (2 samples); before, 4 ms rounded to 0 samples first."""
    from shared.cue import CueDetector

    cue = CueDetector(10000, 6000, 1000, 0, 0, 150)
    cue.configure(ms_per_deg=4, max_ms=600)
    on = 0
    for obl in [0] * 3 + [11000] * 40 + [0] * 20:
        on += cue.update(obl, 1)
    assert cue.cues == 1 and on == 15 + 2
