"""Config schema: defaults, units, ranges, and one clear error per bad value."""

import json
import subprocess

import pytest

from shared.config import SCHEMA, Config, ConfigError, format_milli, parse_decimal_milli, validate
from tests.conftest import ROOT, micropython_bin


def test_defaults_are_valid_and_in_range():
    cfg = Config()
    for key, (kind, default, lo, hi, _unit, help_text) in SCHEMA.items():
        assert help_text
        if kind in ("int", "dec"):
            assert lo <= default <= hi, key
        assert validate(key, cfg.text(key)) == cfg[key]


@pytest.mark.parametrize(
    "text,milli",
    [("6", 6000), ("6.5", 6500), ("-0.25", -250), ("+1.001", 1001), ("0.1000", 100), (".5", 500)],
)
def test_decimals_without_floats(text, milli):
    assert parse_decimal_milli(text) == milli


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1e3", "1.0005", "nan", "--1", "1."])
def test_bad_decimals(text):
    with pytest.raises(ValueError):
        parse_decimal_milli(text)


def test_format_round_trip():
    for v in (0, 1, -1, 999, 1000, 6500, -250, 123456):
        assert parse_decimal_milli(format_milli(v)) == v


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("threshold_deg", "25", "threshold_deg: 25 is out of range 1.0..20.0 deg"),
        ("threshold_deg", "six", "threshold_deg: 'six' is not a number"),
        ("dwell_ms", "1.5", "dwell_ms: '1.5' is not a whole number"),
        ("dwell_ms", "-1", "dwell_ms: -1 is out of range 0..500 ms"),
        ("rate_hz", "49", "rate_hz: 49 is out of range 50..1000 Hz"),
        ("imu", "bmi160", "imu: 'bmi160' is not one of"),
        ("mount", "forward=+x left=+x up=+z", "three different sensor axes"),
        ("mount", "forward=+x left=+z up=+y", "left-handed"),
        ("mount", "forward=+x up=+z", "left is missing"),
        ("colour", "red", "unknown config key 'colour'"),
    ],
)
def test_bad_values_give_one_clear_error(key, value, message):
    cfg = Config()
    before = dict(cfg.values)
    with pytest.raises(ConfigError) as e:
        cfg.set(key, value)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert cfg.values == before  # a refused value changes nothing


def test_dict_round_trip():
    cfg = Config()
    cfg.set("threshold_deg", "7.25")
    cfg.set("mount", "forward=+z  left=-y up=+x")
    other = Config()
    other.load_dict(json.loads(json.dumps(cfg.as_dict())))
    assert other.values == cfg.values
    assert other["mount"] == "forward=+z left=-y up=+x"


def test_same_answers_on_micropython():
    """The device validates with the same code: same values, same messages."""
    cases = [
        ("threshold_deg", "6.5"),
        ("threshold_deg", "99"),
        ("dwell_ms", "x"),
        ("mount", "forward=-z left=+y up=+x"),
        ("mount", "forward=+x left=+z up=+y"),
        ("nokey", "1"),
    ]
    code = (
        "from shared.config import validate, ConfigError\n"
        f"for k, v in {cases!r}:\n"
        "    try:\n"
        "        print(repr(validate(k, v)))\n"
        "    except ConfigError as e:\n"
        "        print('E', e)\n"
    )
    mp = subprocess.run(
        [micropython_bin(), "-c", code],
        cwd=ROOT,
        env={"MICROPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cp = subprocess.run(
        ["python3", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert mp == cp
    assert mp.count("E ") == 4
