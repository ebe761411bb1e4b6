"""Fuzzing the device's command service (device/service.py) in process, under CPython.

More than 10,000 random, mutated, truncated, oversized and valid frames go into a Service
that sits beside a running App. After every batch: each poll did bounded work, the service
still answers a ping with the right seq, the app kept sampling, config.json on "flash" equals
the config in memory and is valid, and the logs are untouched. A 0x03 may only interrupt
(KeyboardInterrupt) when the parser is between frames.
"""

import binascii
import json
import os
import random
from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device import service as S
from device.app import App
from shared import protocol as P
from shared.config import SCHEMA, Config
from sim.board import SimBoard

FRAMES_SENT = [0]


class FakeLink:
    """The port: bytes in, bytes out; writes accepted in pieces like a busy USB port."""

    def __init__(self, rng):
        self.rx = deque()
        self.tx = bytearray()
        self.rng = rng
        self.read_in_poll = 0
        self.written_in_poll = 0

    def read_byte(self):
        if not self.rx:
            return -1
        self.read_in_poll += 1
        return self.rx.popleft()

    def write_some(self, mv):
        if self.rng.random() < 0.2:
            return 0  # port busy
        n = min(len(mv), self.rng.choice((1, 7, 64, 512)))
        self.tx += bytes(mv[:n])
        self.written_in_poll += n
        return n

    def restore_ctrl_c(self):
        pass


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def _walk_counts(n=4000):
    """Still, then a crude sway: enough for the app to calibrate and run."""
    rng = np.random.default_rng(1)
    t = np.arange(n) / 100
    counts = np.zeros((n, 6), dtype=np.int16)
    counts[:, 0] = 4096  # +x up (default mount: forward=-z left=+y up=+x)
    counts[:, 1] = (np.sin(t * 6) * 400 * (t > 3)).astype(np.int16)
    counts[:, :3] += rng.integers(-3, 4, (n, 3)).astype(np.int16)
    return counts


class Rig:
    def __init__(self, tmp):
        self.dir = str(tmp)
        os.makedirs(self.dir + "/logs", exist_ok=True)
        self.keep = os.path.join(self.dir, "logs", "keep-0001.csv")
        with open(self.keep, "wb") as f:
            f.write(bytes(range(256)) * 40)
        cfg = Config()
        S.save_config(self.dir, cfg)
        from array import array

        counts = _walk_counts()
        self.board = SimBoard(array("h", counts.reshape(-1).tolist()), array("i", [10000] * 4000))
        self.app = App(self.board, cfg, calibrate=True)
        self.rng = random.Random(5)
        self.link = FakeLink(self.rng)
        self.clock = Clock()
        self.svc = S.Service(
            self.link, cfg, self.dir, app=self.app, board=self.board,
            ticks_ms=self.clock, ticks_diff=lambda a, b: a - b,
        )  # fmt: skip
        self.svc.active_log = "session-0001.csv"
        self.samples = 0
        self.seq = 1

    def tick(self):
        if not self.board.next_sample():
            self.board.i = -1
            self.board.next_sample()
        self.app.tick()
        self.svc.sample(self.app)
        self.samples += 1
        self.clock.ms += 10

    def run(self, polls):
        for _ in range(polls):
            self.tick()
            for _ in range(4):  # a few polls between samples
                self.link.read_in_poll = self.link.written_in_poll = 0
                was_idle = self.svc._rx_state == S._IDLE
                try:
                    self.svc.poll()
                except KeyboardInterrupt:
                    # Only a bare 0x03 between frames may interrupt.
                    assert was_idle or self.svc._rx_state == S._IDLE
                assert self.link.read_in_poll <= S.MAX_IN
                assert self.link.written_in_poll <= S.MAX_OUT + 512

    def frames_out(self):
        out = []
        buf = bytes(self.link.tx)
        for part in buf.split(bytes([P.SOF]))[1:]:
            line = part.split(b"\n", 1)[0]
            try:
                out.append(P.decode(line))
            except P.ProtocolError:
                pass
        return out


def _req(seq, obj):
    return P.encode(P.T_REQ, seq, json.dumps(obj).encode())


_NAMES = ["session-0001.csv", "nope.csv", "../x", "a/b", "", "x" * 40, ".h", 5, None]
_KEYS = list(SCHEMA) + ["bogus", ""]
_VALUES = st.one_of(
    st.integers(-(2**40), 2**40),
    st.text(max_size=12),
    st.sampled_from(["6.5", "7", "1e3", "-1", "0.0001", " 8 ", "+x", "forward=-z left=+y up=+x"]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
)
_REQUESTS = st.one_of(
    st.fixed_dictionaries({"cmd": st.sampled_from(["info", "ping", "config.get", "logs.list"])}),
    st.fixed_dictionaries(
        {"cmd": st.just("config.set"), "values": st.dictionaries(st.sampled_from(_KEYS), _VALUES)}
    ),
    st.fixed_dictionaries(
        {
            "cmd": st.just("logs.read"),
            "name": st.sampled_from(_NAMES),
            "off": st.one_of(st.integers(-5, 20000), st.text(max_size=3)),
            "len": st.one_of(st.integers(-5, 9000), st.none()),
        }
    ),
    st.fixed_dictionaries({"cmd": st.just("logs.delete"), "name": st.sampled_from(_NAMES)}),
    st.fixed_dictionaries(
        {
            "cmd": st.sampled_from(["live", "clock.set", "cal.status", "nope", ""]),
            "on": _VALUES,
            "epoch_s": _VALUES,
            "every_ms": _VALUES,
        }
    ),  # fmt: skip
    st.dictionaries(st.text(max_size=5), _VALUES, max_size=4),
    st.lists(st.integers(), max_size=4),
)


@st.composite
def _frame(draw):
    kind = draw(st.integers(0, 9))
    seq = draw(st.integers(0, 0xFFFF))
    req = draw(_REQUESTS)
    wire = bytearray(_req(seq, req)) if len(json.dumps(req)) <= P.MAX_REQUEST else bytearray()
    if kind <= 2 or not wire:
        return bytes(wire) or _req(seq, {"cmd": "ping"})
    if kind == 3:  # bit flips inside the base64 text
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(1, len(wire) - 2))
            wire[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(wire)
    if kind == 4:  # truncated, then the next frame follows
        return bytes(wire[: draw(st.integers(1, len(wire) - 1))])
    if kind == 5:  # raw binary frame body (CRC-valid, but random payload or type)
        raw = bytearray(P.HEADER + 40 + P.TRAILER)
        raw[P.HEADER : P.HEADER + 40] = draw(st.binary(min_size=40, max_size=40))
        n = P.seal(raw, draw(st.integers(0, 255)), seq, 40, draw(st.sampled_from([1, 1, 2, 0])))
        return b"\x1e" + binascii.b2a_base64(bytes(raw[:n]))
    if kind == 6:  # oversized
        return b"\x1e" + b"A" * draw(st.integers(P.MAX_REQUEST_LINE - 10, 3000)) + b"\n"
    if kind == 7:  # control bytes inside a frame: must not interrupt
        i = draw(st.integers(1, len(wire) - 2))
        return bytes(wire[:i]) + draw(st.sampled_from([b"\x03", b"\x04\x03", b"\x00", b"\x01"]))
    if kind == 8:  # garbage inside a frame
        return b"\x1e" + draw(st.binary(max_size=200)) + b"\n"
    return draw(st.binary(max_size=100))  # garbage between frames


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    return Rig(tmp_path_factory.mktemp("fuzzdev"))


def test_fuzz_service(rig):
    keep = open(rig.keep, "rb").read()

    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=True,
    )
    @given(frames=st.lists(_frame(), min_size=40, max_size=50))
    def fuzz(frames):
        for f in frames:
            rig.link.rx.extend(f)
            FRAMES_SENT[0] += 1
            rig.run(1)
        rig.link.rx.extend(b"\n")  # end any unfinished frame
        n0 = rig.app.n
        rig.run(3)
        assert rig.app.n == n0 + 3  # still sampling
        # Still answers, with the right seq.
        rig.link.tx.clear()
        rig.seq = rig.seq % 0xFFFF + 1
        rig.link.rx.extend(_req(rig.seq, {"cmd": "ping", "data": "ok"}))
        for _ in range(60):
            rig.run(1)
            got = [f for f in rig.frames_out() if f[0] == P.T_OK and f[1] == rig.seq]
            if got:
                break
        assert got and json.loads(got[0][2]) == {"pong": "ok"}
        rig.link.tx.clear()
        # Config on flash == config in memory, and valid; logs untouched.
        stored, note, fault = S.load_config(rig.dir)
        assert fault == 0
        assert note == "stored config loaded"
        assert stored.values == rig.svc.cfg.values
        assert open(rig.keep, "rb").read() == keep
        assert not os.path.exists(rig.dir + "/config.json.tmp")

    fuzz()
    assert FRAMES_SENT[0] >= 10000, FRAMES_SENT[0]


def test_ctrl_c_only_between_frames(rig):
    rig.link.rx.extend(b"\n")
    rig.run(2)
    rig.link.tx.clear()
    wire = _req(9, {"cmd": "ping"})
    rig.link.rx.extend(wire[:10] + b"\x03" + wire[10:])  # inside a frame: no interrupt
    rig.run(3)
    assert any(f[0] == P.T_ERR and json.loads(f[2])["code"] == P.E_FRAME for f in rig.frames_out())
    rig.link.rx.extend(b"\r\x03")
    with pytest.raises(KeyboardInterrupt):
        for _ in range(5):
            rig.svc.poll()


def test_stale_half_frame_is_dropped(rig):
    rig.link.rx.extend(_req(10, {"cmd": "ping"})[:12])
    rig.run(1)
    assert rig.svc._rx_state == S._FRAME
    rig.clock.ms += S.STALE_MS + 10
    rig.svc.poll()
    assert rig.svc._rx_state == S._IDLE


def test_retry_gets_the_stored_answer_without_running_twice(rig):
    rig.link.tx.clear()
    before = rig.svc.cfg["threshold_deg"]
    wire = _req(4242, {"cmd": "config.set", "values": {"threshold_deg": "7.25"}})
    rig.link.rx.extend(wire + wire)
    rig.run(20)
    answers = [f for f in rig.frames_out() if f[1] == 4242]
    assert len(answers) == 2 and answers[0] == answers[1]
    assert json.loads(answers[0][2])["changed"] == (["threshold_deg"] if before != 7250 else [])
