"""Cross-key rules of the config schema (issue #13): no config that `config set` accepts can
stop the firmware from starting, and no stored file can either: a refused, torn or corrupt
config.json is set aside (renamed, never deleted) with fault FAULT_CONFIG and the defaults run.
"""

import json
import os
import subprocess
import sys
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device import service as S
from device.app import App
from shared import protocol as P
from shared.config import CHOICES, IMUS, RULES, SCHEMA, Config, ConfigError, format_milli
from sim.board import SimBoard
from tests.conftest import ROOT, micropython_bin


def _sweep(engine, tmp_path, stride):
    return json.loads(
        subprocess.run(
            [engine, "tests/mp_config_sweep.py", str(tmp_path), str(stride)],
            cwd=ROOT,
            env={"MICROPYPATH": str(ROOT), "PYTHONPATH": str(ROOT), "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_every_pairing_of_range_ends_boots_on_micropython(tmp_path):
    """Every pair of keys at every pairing of their range ends (choices: each value): each
    config that config.set's rules accept is stored, loaded back at boot without a fault and
    run by the firmware loop on the MicroPython unix port. 0 boot rejects."""
    r = _sweep(micropython_bin(), tmp_path, 1)
    assert r["engine"] == "micropython"
    n = len(SCHEMA)
    assert r["tried"] >= 4 * n * (n - 1) // 2  # every pair, at least 2 x 2 ends
    assert r["boot_rejects"] == []
    assert r["refused"] > 0 and r["accepted"] > r["refused"]


def test_cpython_sweep_gives_the_same_answers(tmp_path):
    mp = _sweep(micropython_bin(), tmp_path, 29)
    cp = _sweep(sys.executable, tmp_path, 29)
    assert cp["engine"] == "cpython"
    for k in ("tried", "accepted", "refused", "boot_rejects"):
        assert cp[k] == mp[k], k


def _text(key, v):
    return format_milli(v) if SCHEMA[key][0] == "dec" else str(v)


# Per rule (its two keys): a pair just past the boundary and one just inside it.
CASES = {
    ("min_step_ms", "max_step_ms"): ((600, 600), (599, 600)),
    ("hysteresis_deg", "threshold_deg"): ((3000, 3000), (2999, 3000)),
    ("hysteresis_deg", "threshold_left_deg"): ((3000, 3000), (2999, 3000)),
    ("hysteresis_deg", "threshold_right_deg"): ((3000, 3000), (2999, 3000)),
    ("cal_still_ms", "cal_window_ms"): ((2001, 2000), (2000, 2000)),
    ("probe_len_steps", "probe_every_steps"): ((20, 20), (19, 20)),
    ("filter_tau_ms", "rate_hz"): ((1280, 100), (1281, 100)),
    ("rate_hz", "cpu_mhz"): ((120, 48), (119, 48)),
}


def test_every_rule_has_its_cases():
    assert sorted(CASES) == sorted((a, b) for a, b, _ in RULES)


@pytest.mark.parametrize("a,b,rule", RULES)
def test_each_rule_refuses_its_pair_everywhere(a, b, rule, tmp_path):
    """For each rule, the pair at the boundary: refused by Config.updated (replay --set, the
    host's config set), by the device's config.set, and set aside when stored."""
    (bad_a, lo_b), (ok_a, ok_b) = CASES[(a, b)]
    bad = {a: _text(a, bad_a), b: _text(b, lo_b)}
    ok = {a: _text(a, ok_a), b: _text(b, ok_b)}
    with pytest.raises(ConfigError) as e:
        Config().updated(bad)
    msg = str(e.value)
    assert a in msg and b in msg and "\n" not in msg
    Config().updated(ok)  # one step inside: accepted
    # the device's config.set (service), all or nothing
    svc = S.Service(
        None, Config(), str(tmp_path), ticks_ms=lambda: 0, ticks_diff=lambda a, b: a - b
    )
    sent = []
    svc._reply = lambda seq, d: sent.append(d)
    with pytest.raises(S._Reject) as r:
        svc._c_config_set(1, {"values": bad})
    assert r.value.code == P.E_CONFIG and str(e.value) in r.value.msg
    assert svc.cfg.values == Config().values and not os.path.exists(tmp_path / "config.json")
    svc._c_config_set(2, {"values": ok})
    assert sent and sent[0]["changed"]
    # stored (e.g. by an older firmware without the rule): set aside at boot
    cfg = Config()
    cfg.values[a], cfg.values[b] = bad_a, lo_b
    S.save_config(str(tmp_path), cfg)
    got, note, fault = S.load_config(str(tmp_path))
    assert fault == S.FAULT_CONFIG and got.values == Config().values
    assert "refused" in note and a in note and "config.json.bad0" in note
    assert json.loads((tmp_path / "config.json.bad0").read_text())[a] == _text(a, bad_a)


def test_hysteresis_below_threshold_re_arms():
    """The smallest accepted gap between threshold and hysteresis still re-arms the cue: two
    sags past 1.0 deg give two cues (hysteresis 0.999 deg)."""
    cfg = Config().updated({"threshold_deg": "1.0", "hysteresis_deg": "0.999"})
    from shared.cue import CueDetector

    cue = CueDetector(10000, cfg["threshold_deg"], cfg["hysteresis_deg"], 10, 0, 20)
    for obl in [0] * 5 + [1500] * 10 + [0] * 10 + [1500] * 10 + [0] * 10:
        cue.update(obl, 1)
    assert cue.cues == 2
    with pytest.raises(ConfigError):
        Config().updated({"threshold_deg": "1.0", "hysteresis_deg": "1.0"})


def _value(key):
    kind, default, lo, hi = SCHEMA[key][:4]
    if kind in ("int", "dec"):
        return st.one_of(st.sampled_from([lo, hi, default]), st.integers(lo, hi)).map(
            lambda v: _text(key, v)
        )
    if kind == "mount":
        return st.sampled_from([default, "forward=+x left=+y up=+z", "forward=-y left=+x up=+z"])
    return st.sampled_from(sorted(IMUS) if key == "imu" else list(CHOICES[key]))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.fixed_dictionaries({}, optional={k: _value(k) for k in SCHEMA}))
def test_any_accepted_config_runs(items):
    """Property over the whole schema: a config is refused with one line, or the firmware
    loop builds and runs on it (CPython; the pair sweep above runs on MicroPython)."""
    try:
        cfg = Config().updated(items)
    except ConfigError as e:
        assert "\n" not in str(e)
        return
    period_us = (1000000 + cfg["rate_hz"] // 2) // cfg["rate_hz"]
    n = 30
    counts = array("h", [4098, 0, 0, 3, 0, 0] * n)
    board = SimBoard(counts, array("i", [period_us] * n))
    app = App(board, cfg, calibrate=True, period_us=period_us)
    while board.next_sample():
        app.tick()
        app.idle()
    assert app.n == n - 1


def _valid_bytes():
    cfg = Config().updated({"threshold_deg": "7.5", "min_step_ms": "300"})
    return json.dumps(cfg.as_dict()).encode()


BAD_FILES = {
    "empty": b"",
    "garbage": bytes(range(256)),
    "not utf-8": b'{"threshold_deg": "\xff\xfe"}',
    "not an object": b"[1, 2, 3]",
    "null": b"null",
    "out of range": b'{"threshold_deg": "99"}',
    "unknown key": b'{"colour": "red"}',
    "wrong type": b'{"threshold_deg": [6]}',
    "min = max step": b'{"min_step_ms": "500", "max_step_ms": "500"}',
    "hysteresis = threshold": b'{"threshold_deg": "1.0", "hysteresis_deg": "1.0"}',
}


def _load_case(tmp_path, data):
    d = tmp_path
    for f in os.listdir(d):
        os.remove(d / f)
    (d / "config.json").write_bytes(data)
    return S.load_config(str(d))


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_stored_file_is_set_aside(tmp_path, name):
    data = BAD_FILES[name]
    cfg, note, fault = _load_case(tmp_path, data)
    assert fault == S.FAULT_CONFIG and cfg.values == Config().values
    assert note.startswith("stored config ") and note.endswith(": defaults") and "\n" not in note
    assert not (tmp_path / "config.json").exists()
    assert (tmp_path / "config.json.bad0").read_bytes() == data  # kept as it was


def test_every_torn_prefix_is_set_aside(tmp_path):
    """A write torn at any byte (e.g. by a tool that wrote in place): each prefix is set aside
    with its bytes intact; the whole file loads."""
    data = _valid_bytes()
    for cut in range(len(data)):
        cfg, note, fault = _load_case(tmp_path, data[:cut])
        assert fault == S.FAULT_CONFIG and cfg.values == Config().values, cut
        assert (tmp_path / "config.json.bad0").read_bytes() == data[:cut]
    cfg, note, fault = _load_case(tmp_path, data)
    assert fault == 0 and note == "stored config loaded" and cfg["threshold_deg"] == 7500


def test_partial_object_keeps_defaults_for_missing_keys(tmp_path):
    """An older firmware's file with fewer keys is a valid config (the missing keys default)."""
    cfg, note, fault = _load_case(tmp_path, b'{"threshold_deg": "8"}')
    assert fault == 0 and cfg["threshold_deg"] == 8000 and cfg["min_step_ms"] == 250


def test_set_aside_never_deletes_until_the_slots_are_full(tmp_path):
    for i in range(S.SET_ASIDE_MAX + 2):
        (tmp_path / "config.json").write_bytes(b"torn %d" % i)
        _cfg, note, fault = S.load_config(str(tmp_path))
        assert fault == S.FAULT_CONFIG
    names = sorted(os.listdir(tmp_path))
    assert names == ["config.json.bad%d" % i for i in range(S.SET_ASIDE_MAX)]
    kept = {(tmp_path / n).read_bytes() for n in names}
    assert {b"torn %d" % i for i in range(S.SET_ASIDE_MAX - 1)} <= kept  # the first 7 kept
    assert b"torn %d" % (S.SET_ASIDE_MAX + 1) in kept  # the last slot takes the newest


def test_bad_stored_files_on_micropython(tmp_path):
    """The firmware's own json and os on the unix port: the same answers as CPython."""
    cases = {name: list(data) for name, data in BAD_FILES.items()}
    cases["torn"] = list(_valid_bytes()[:40])
    cases["valid"] = list(_valid_bytes())
    code = (
        "import json, os\n"
        "from device.service import load_config\n"
        f"d = {str(tmp_path)!r}\n"
        f"cases = {cases!r}\n"
        "out = {}\n"
        "for name in sorted(cases):\n"
        "    for f in os.listdir(d):\n"
        "        os.remove(d + '/' + f)\n"
        "    with open(d + '/config.json', 'wb') as f:\n"
        "        f.write(bytes(cases[name]))\n"
        "    cfg, note, fault = load_config(d)\n"
        "    kept = open(d + '/config.json.bad0', 'rb').read() if fault else b''\n"
        "    out[name] = [fault, cfg['threshold_deg'], kept == bytes(cases[name])]\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run(
        [micropython_bin(), "-c", code],
        cwd=ROOT,
        env={"MICROPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    got = json.loads(out)
    for name in BAD_FILES:
        assert got[name] == [S.FAULT_CONFIG, 6000, True], name
    assert got["torn"] == [S.FAULT_CONFIG, 6000, True]
    assert got["valid"] == [0, 7500, False]


def test_virtual_device_boots_on_a_corrupt_stored_config(tmp_path):
    """The firmware on the MicroPython unix port behind a pty: a torn config.json does not stop
    it; it runs the defaults, reports the fault and the note, and the file is kept aside."""
    from hipcue import link as L
    from hipcue.sim import Sim

    data = tmp_path / "device"
    data.mkdir()
    torn = _valid_bytes()[:37]
    (data / "config.json").write_bytes(torn)
    with Sim(speed=1.0, duration_s=10.0, data_dir=data) as sim, L.connect(sim.port) as c:
        info = c.request("info")
        assert info["faults"] & S.FAULT_CONFIG
        assert "set aside as" in info["config"] and "config.json.bad0" in info["config"]
        assert c.request("config.get")["values"] == Config().as_dict()
    assert (data / "config.json.bad0").read_bytes() == torn
