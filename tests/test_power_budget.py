"""`hipcue power` (issue 15): the budget arithmetic against values worked out by hand from the
cited figures (hardware/power.md), the measured-figures JSON and the command."""

import json

import pytest

from hipcue import HipcueError
from hipcue import power as P
from hipcue.cli import main

CELL = 3.7
TO_CELL = 3.3 / (CELL * 0.85)  # a 3.3 V-rail load through the RT6150 at 85 % (assumed)


def measured(**kw):
    m = dict(P.CHIP_RECORD)
    m.update(duty_pct=6.1, rate_hz=104.0, cpu_mhz=125.0, flash_busy_ms_per_s=10.0)
    m.update(kw)
    return m


CUES = P.Cues(cues_per_stride=1.0, cue_on_ms=150.0, cadence_spm=120.0)  # one cue a second


def test_conversions_by_hand():
    assert P.cell_from_vbus(20.0, CELL) == pytest.approx(27.027, abs=1e-3)  # 20 x 5 / 3.7
    # the line through (20 MHz, 6 mA) and (125 MHz, 20 mA)
    assert P.pico_active_5v(125.0) == pytest.approx(20.0)
    assert P.pico_active_5v(48.0) == pytest.approx(6.0 + 14.0 * 28.0 / 105.0)
    assert P.rail_to_cell(1.0, P.Options()) == pytest.approx(TO_CELL)
    assert P.rail_to_cell(1.0, P.Options(board="nano")) == pytest.approx(3.3 * 1.7 / CELL)


def test_motor_charge_by_hand():
    """Kick: 25 ms at 20 mA/V x (3.7 - 0.25) V = 69 mA; hold: duty 3.0/3.45 of 60 mA."""
    hold = 3.0 / 3.45 * 60.0
    assert P.motor_charge_per_cue(150.0, CELL) == pytest.approx(25 * 69.0 + 125 * hold)
    assert P.motor_charge_per_cue(20.0, CELL) == pytest.approx(20 * 69.0)  # all kick
    # a flat cell below the rated 3 V: full duty throughout, the motor at V_SYS
    assert P.motor_charge_per_cue(100.0, 3.1) == pytest.approx(100 * 20.0 * 2.85)


def test_busy_loop_budget_by_hand():
    b = P.budget(measured(), CUES, P.Options())
    mcu = 20.0 * 5 / CELL
    flash = 0.010 * 20.0 * TO_CELL
    imu = 0.55 * TO_CELL
    pull = 2 * (3.3 / 10.0) * 0.5 * (0.55e-3 * 104) * TO_CELL
    motor = 1.0 * (25 * 69.0 + 125 * 3.0 / 3.45 * 60.0) / 1000.0
    leak = 0.002 + 0.003
    walk = mcu + flash + imu + pull + motor + leak
    stand = mcu + imu + pull + leak  # the polling loop keeps running when not walking
    assert b["walking_ma"] == pytest.approx(walk)
    assert b["standby_ma"] == pytest.approx(stand)
    assert b["mah_per_day"] == pytest.approx(walk + 23 * stand)
    assert b["days"] == pytest.approx(500 * 0.85 / (walk + 23 * stand))
    assert [g[3] for g in b["goals"]] == [False, False, False]
    assert b["awake_pct"] == 100.0


def test_sleeping_loop_and_latch_by_hand():
    m = measured(
        walk_sleep="lightsleep",
        walk_wakeups_per_s=104.0,
        wake_ms=1.0,
        flash_busy_ms_per_s=0.0,
        standby_sleep="dormant",
        standby_imu="xl_lp",
    )
    b = P.budget(m, CUES, P.Options())
    awake = 0.061 + 104 * 0.001
    mcu = awake * 20.0 * 5 / CELL + (1 - awake) * 1.5 * 5 / CELL
    assert b["awake_pct"] == pytest.approx(100 * awake)
    assert b["rows"][0][1] == pytest.approx(mcu)
    assert b["rows"][0][2] == pytest.approx(0.8 * 5 / CELL)  # Pico datasheet Table 4
    stand = 0.8 * 5 / CELL + 0.026 * TO_CELL + 0.005
    assert b["standby_ma"] == pytest.approx(stand)
    lat = P.budget(m, CUES, P.Options(latch=True))
    stand_l = 0.026 * TO_CELL + 0.005 + 0.015 + 0.001
    assert lat["standby_ma"] == pytest.approx(stand_l)
    assert lat["standby_months"] == pytest.approx(425 / stand_l / 24 / 30.44)
    assert lat["goals"][2][3] is True and b["goals"][2][3] is False


def test_rate_and_clock_scale_the_measured_cycles():
    m = measured(walk_sleep="lightsleep", walk_wakeups_per_s=104.0, wake_ms=1.0)
    e = P.effective(m, P.Options(rate_hz=52.0, cpu_mhz=48.0))
    assert e["duty_pct"] == pytest.approx(6.1 * 0.5 * 125 / 48)
    assert e["walk_wakeups_per_s"] == pytest.approx(52.0)
    lo = P.budget(m, CUES, P.Options(cpu_mhz=48.0))
    hi = P.budget(m, CUES, P.Options())
    assert lo["rows"][0][1] < hi["rows"][0][1]  # fewer mA at 48 MHz although awake longer
    short = P.budget(m, CUES, P.Options(cue_ms=60.0))
    assert short["walking_ma"] == pytest.approx(
        hi["walking_ma"]
        - (P.motor_charge_per_cue(150, CELL) - P.motor_charge_per_cue(60, CELL)) / 1000
    )


def test_measured_json_keys_and_origin(tmp_path):
    f = tmp_path / "m.json"
    f.write_text(
        json.dumps(
            {
                "schema": P.SCHEMA_NAME,
                "source": "test run",
                "walk_sleep": "lightsleep",
                "walk_wakeups_per_s": 13.0,
                "work_cycles_per_sample": 62500.0,
            }
        )
    )
    m, origin = P.load_measured(f)
    assert m["walk_sleep"] == "lightsleep" and origin["walk_sleep"] == "test run"
    assert origin["rate_hz"].startswith("built-in")
    assert m["duty_pct"] == pytest.approx(100 * 62500 * 104 / 125e6)  # from the cycles
    assert m["wake_ms"] == P.WAKE_MS_ASSUMED and origin["wake_ms"].startswith("assumption")


@pytest.mark.parametrize(
    "text,what",
    [
        ("{", "not JSON"),
        ("[1]", "expected a JSON object"),
        ('{"schema": "other/1"}', "schema"),
        ('{"duty": 3}', "unknown key 'duty'"),
        ('{"duty_pct": 130}', "duty_pct = 130"),
        ('{"duty_pct": true}', "duty_pct = True"),
        ('{"walk_sleep": "deep"}', "walk_sleep = 'deep'"),
    ],
)
def test_bad_measured_json_is_one_line(tmp_path, text, what):
    f = tmp_path / "m.json"
    f.write_text(text)
    with pytest.raises(HipcueError) as e:
        P.load_measured(f)
    assert what in str(e.value) and "\n" not in str(e.value)


def test_the_demo_walk_cues_once_per_stride():
    """The weak-right demo walk (right-stance drops 9 deg, threshold 6): about one cue per
    right stance, each the default 150 ms long."""
    c = P.measure_cues(60.0)
    assert 0.9 <= c.cues_per_stride <= 1.0
    assert abs(c.cue_on_ms - 150.0) <= 10.0
    assert 95 <= c.cadence_spm <= 115


def test_cli_prints_the_budget_and_goals(tmp_path, capsys):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"source": "from a test", "standby_sleep": "dormant"}))
    assert main(["power", "--measured", str(f), "--walk-s", "30"]) == 0
    out = capsys.readouterr().out
    assert "days at 1 h/day walking" in out and "months in standby" in out
    assert out.count("MISS") + out.count("PASS") == 3
    assert "from a test: standby_sleep" in out
    assert main(["power", "--json", "--latch", "--walk-s", "30"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert j["options"]["latch"] is True and {g["status"] for g in j["goals"]} <= {"PASS", "MISS"}
    assert j["days"] == pytest.approx(425 / j["mah_per_day"])


def test_cli_errors(tmp_path, capsys):
    assert main(["power", "--measured", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hipcue: error:") and "no such file" in err and err.count("\n") == 1
    assert main(["power", "--walk-h", "24"]) == 1
    assert "below 24" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["power", "--cell-mah", "nan"])
    assert e.value.code == 2


def test_every_figure_is_cited_in_hardware_power_md():
    """hardware/power.md's table lists each figure the budget uses, with its value and kind."""
    from tests.conftest import ROOT

    doc = (ROOT / "hardware" / "power.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    for key, (value, _unit, kind, _src) in P.FIGURES.items():
        row = rows.get(f"`{key}`")
        assert row is not None, key
        assert f"| {value:g} " in row and f"| {kind} |" in row, key


def test_default_measured_file_from_the_environment(tmp_path, monkeypatch, capsys):
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"source": "env file", "walk_sleep": "dormant"}))
    monkeypatch.setenv("HIPCUE_POWER_MEASURED", str(f))
    assert P.default_measured_path() == f
    assert main(["power", "--walk-s", "30"]) == 0
    assert "env file: walk_sleep" in capsys.readouterr().out
    assert main(["power", "--measured", "builtin", "--walk-s", "30"]) == 0
    assert "env file" not in capsys.readouterr().out


def test_the_power_helpers_summary_is_read(capsys):
    """bench.rp2040 `power` writes its own key names (build/power-measured.json): translated;
    a WFE wait with the clocks running costs what the active core costs (rp-hal #659), the
    motion wait in lightsleep MicroPython's 1.5 mA at 5 V."""
    from tests.conftest import ROOT

    f = ROOT / "tests" / "data" / "power-summary-example.json"
    m, origin = P.load_measured(f)
    assert m["cpu_mhz"] == 125.0 and m["duty_pct"] == 5.0 and m["walk_wakeups_per_s"] == 40.0
    assert m["walk_sleep"] == "wfe" and m["wake_ms"] == 0.0
    assert m["standby_sleep"] == "lightsleep"  # "waiting for motion ...: machine.lightsleep(250)"
    assert m["standby_imu"] == "xl_lp" and m["standby_duty_pct"] == 0.5
    assert "fifo_batch" in origin["(read, not used)"]
    b = P.budget(m, CUES, P.Options())
    assert b["rows"][0][1] == pytest.approx(20.0 * 5 / CELL)  # no saving in WFE
    awake = 0.005 + 4.0 * P.WAKE_MS_ASSUMED / 1000  # 4 wake-ups/s, each a clock restart
    stand = awake * 20.0 * 5 / CELL + (1 - awake) * 1.5 * 5 / CELL
    assert b["rows"][0][2] == pytest.approx(stand)
    assert b["rows"][2][2] == pytest.approx(0.026 * TO_CELL)  # the IMU in low-power standby
    assert main(["power", "--measured", str(f), "--walk-s", "30"]) == 0
    assert "read, not used by the budget: fifo_batch" in capsys.readouterr().out
