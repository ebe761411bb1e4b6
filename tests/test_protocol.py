"""shared/protocol.py: frames round-trip, damage is detected, and MicroPython agrees byte for
byte with CPython."""

import binascii
import json
import os
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import protocol as P
from tests.conftest import ROOT, micropython_bin

REPL_CONTROL = {0x01, 0x02, 0x03, 0x04, 0x05}


@settings(max_examples=300, deadline=None)
@given(
    typ=st.integers(0, 255),
    seq=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=P.MAX_PAYLOAD),
)
def test_roundtrip_and_no_control_bytes(typ, seq, payload):
    wire = P.encode(typ, seq, payload)
    assert wire[0] == P.SOF and wire[-1] == P.EOL
    body = wire[1:-1]
    assert all(P.B64_OK[b] for b in body)  # so never 0x03, SOF or LF inside a frame
    assert not REPL_CONTROL & set(wire)
    assert P.decode(body) == (typ, seq, payload)
    assert len(wire) <= P.MAX_LINE


def test_every_byte_value_gets_through():
    payload = bytes(range(256)) * 16
    typ, seq, got = P.decode(P.encode(P.T_DATA, 9, payload)[1:-1])
    assert got == payload


def _raw(typ, seq, payload, version=P.VERSION):
    return binascii.a2b_base64(P.encode(typ, seq, payload, version)[1:-1])


def _b64(raw):
    return binascii.b2a_base64(raw, newline=False)


@pytest.mark.parametrize(
    "mangle, code",
    [
        (lambda r: r[:-1], P.E_FRAME),  # truncated
        (lambda r: r[:4], P.E_FRAME),  # shorter than a header
        (lambda r: r + b"x", P.E_FRAME),  # longer than its length field
        (lambda r: r[:6] + bytes([r[6] ^ 0x40]) + r[7:], P.E_CRC),  # payload bit flip
        (lambda r: r[:-1] + bytes([r[-1] ^ 1]), P.E_CRC),  # CRC bit flip
    ],
)
def test_damage_is_detected(mangle, code):
    raw = _raw(P.T_REQ, 77, b'{"cmd":"info"}')
    with pytest.raises(P.ProtocolError) as e:
        P.decode(_b64(mangle(raw)))
    assert e.value.code == code


def test_bad_base64_and_version():
    with pytest.raises(P.ProtocolError) as e:
        P.decode(b"abc")
    assert e.value.code == P.E_FRAME
    with pytest.raises(P.ProtocolError) as e:
        P.decode(_b64(_raw(P.T_REQ, 5, b"{}", version=2)))
    assert e.value.code == P.E_VERSION and e.value.seq == 5
    assert "version 2" in e.value.msg


def test_seq_of_a_damaged_frame_is_reported():
    raw = bytearray(_raw(P.T_REQ, 0x1234, b'{"cmd":"info"}'))
    raw[-1] ^= 0xFF
    with pytest.raises(P.ProtocolError) as e:
        P.decode(_b64(bytes(raw)))
    assert e.value.seq == 0x1234
    assert P.peek_seq(_b64(bytes(raw))) == 0x1234


@pytest.mark.parametrize(
    "name, ok",
    [
        ("session-001.csv", True),
        ("a", True),
        ("x" * P.LOG_NAME_MAX, True),
        ("x" * (P.LOG_NAME_MAX + 1), False),
        ("", False),
        ("../config.json", False),
        ("..", False),
        ("a/b", False),
        ("a\\b", False),
        (".hidden", False),
        ("a..b", False),
        ("ä.csv", False),
        ("a b", False),
        (None, False),
        (7, False),
    ],
)
def test_log_names(name, ok):
    assert (P.check_log_name(name) is None) == ok


def test_event_formats_match_sizes():
    assert struct.calcsize(P.EVT_SAMPLE_FMT) == P.EVT_SAMPLE_SIZE
    assert struct.calcsize(P.EVT_STEP_FMT) == P.EVT_STEP_SIZE


MP_SCRIPT = """
import json, sys
from shared import protocol as P
out = []
for typ, seq, n in ((1, 1, 0), (2, 65535, 17), (3, 300, 4104), (5, 9, 255)):
    payload = bytes([(i * 7 + n) & 255 for i in range(n)])
    w = P.encode(typ, seq, payload)
    t, s, p = P.decode(w[1:-1])
    assert (t, s, bytes(p)) == (typ, seq, payload)
    out.append(w.decode())
for bad in (b"abc", b"AQEHAA4A", b"AQEHAA4AeyJjbWQiOiJpbmZvIn1/Xhgq"):
    try:
        P.decode(bad)
        out.append("accepted")
    except P.ProtocolError as e:
        out.append("%d %d %s" % (e.code, e.seq, e.msg))
out.append(str(P.check_log_name("../x")))
print(json.dumps(out))
"""


def _expected():
    out = []
    for typ, seq, n in ((1, 1, 0), (2, 65535, 17), (3, 300, 4104), (5, 9, 255)):
        payload = bytes([(i * 7 + n) & 255 for i in range(n)])
        out.append(P.encode(typ, seq, payload).decode())
    for bad in (b"abc", b"AQEHAA4A", b"AQEHAA4AeyJjbWQiOiJpbmZvIn1/Xhgq"):
        try:
            P.decode(bad)
            out.append("accepted")
        except P.ProtocolError as e:
            out.append("%d %d %s" % (e.code, e.seq, e.msg))
    out.append(str(P.check_log_name("../x")))
    return out


def test_micropython_agrees_with_cpython(tmp_path):
    script = tmp_path / "proto_mp.py"
    script.write_text(MP_SCRIPT)
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    r = subprocess.run(
        [micropython_bin(), str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout) == _expected()
