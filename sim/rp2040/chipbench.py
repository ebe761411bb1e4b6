"""The board loop with stage stamps: runs ON the emulated RP2040 (MicroPython), sent over the raw
REPL by bench/rp2040.py after a safe boot. Not part of the firmware image.

It starts the firmware exactly as the frozen /main.py does (device/main.py `boot()`), but
first replaces `device.main.run` with a function that wraps the loop's stage methods on the
instances it is given (board.next_sample, app.tick, log.service, service.sample,
service.poll, board.take_button, board.data_ready) and then calls the real `run`. Each
wrapper writes a stamp to TBMAN (0x4006c000, unused by the firmware) at entry (code) and exit
(code | 1); the emulator timestamps them. Fixed arity, no *args: the wrappers allocate
nothing. A wrapped no-op, stamped the same way before the loop starts (code 0), measures what
a stamp pair adds (subtracted by the host). Every 64 samples, outside the stamped windows:
the free heap (gc.mem_free() << 8 | 0x80, after a 0x83 stamp: the host takes the probe's
time out of the work per sample). At loop entry: the free heap as boot left it
(0x81 stamp), then after a gc.collect() (0x82 stamp).

With PARTS = 1 set before this text (bench/rp2040.py --parts), the parts of app.tick are
stamped too, inside the tick's window: device/app.py's entry points `_est_update` (code 16),
`_steps_step` (18) and `_cue_update` (20), replaced in the module the viper tick reads
them from. The host takes those stamps' cost out of the tick's figure.

With CALLS = 1 (bench/rp2040.py --calls), single calls inside the stages are stamped too,
reported per call by the host: log.start (22), log.flush (24), log._rotate (26),
service._handle (28: one request), service._hash_work (30), service._session_started (32),
log._piece (34: one piece of sliced file work), service._save_piece (36: one of a config save).
log.start's wrapper passes keyword arguments through (it allocates: diagnosis only).
"""

import gc

from machine import mem32

import device.main as M

STAMP = 0x4006C000
_run = M.run


def _noop():
    return 0


def _w0(f, code):
    def w():
        mem32[STAMP] = code
        r = f()
        mem32[STAMP] = code | 1
        return r

    return w


def _w1(f, code):
    def w(a):
        mem32[STAMP] = code
        r = f(a)
        mem32[STAMP] = code | 1
        return r

    return w


def _w2(f, code):
    def w(a, b):
        mem32[STAMP] = code
        r = f(a, b)
        mem32[STAMP] = code | 1
        return r

    return w


def _w3(f, code):
    def w(a, b, c):
        mem32[STAMP] = code
        r = f(a, b, c)
        mem32[STAMP] = code | 1
        return r

    return w


def _wkw(f, code):
    def w(*a, **kw):
        mem32[STAMP] = code
        r = f(*a, **kw)
        mem32[STAMP] = code | 1
        return r

    return w


def _sampled(f, code):
    k = [0]

    def w():
        k[0] += 1
        if not k[0] & 63:
            mem32[STAMP] = 0x83  # the heap probe's own time is taken out of the work
            mem32[STAMP] = (gc.mem_free() << 8) | 0x80
        mem32[STAMP] = code
        r = f()
        mem32[STAMP] = code | 1
        return r

    return w


def run(app, board, n=-1, log=None, service=None):
    cal = _w0(_noop, 0)
    for _ in range(32):
        cal()
    mem32[STAMP] = (gc.mem_free() << 8) | 0x81
    gc.collect()
    mem32[STAMP] = (gc.mem_free() << 8) | 0x82
    board.next_sample = _sampled(board.next_sample, 2)
    app.tick = _w0(app.tick, 4)
    if log is not None:
        log.service = _w1(log.service, 6)
    if service is not None:
        service.sample = _w1(service.sample, 8)
        service.poll = _w0(service.poll, 10)
    if getattr(board, "take_button", None) is not None:
        board.take_button = _w0(board.take_button, 12)
    if getattr(board, "data_ready", None) is not None:
        board.data_ready = _w0(board.data_ready, 14)
    if globals().get("PARTS"):
        import device.app as A

        A._est_update = _w2(A._est_update, 16)
        A._steps_step = _w2(A._steps_step, 18)
        A._cue_update = _w3(A._cue_update, 20)
    if globals().get("CALLS"):
        if log is not None:
            log.start = _wkw(log.start, 22)
            log.flush = _w0(log.flush, 24)
            log._rotate = _w1(log._rotate, 26)
            if getattr(log, "_piece", None) is not None:
                log._piece = _w0(log._piece, 34)
        if service is not None:
            service._handle = _w0(service._handle, 28)
            service._hash_work = _w0(service._hash_work, 30)
            service._session_started = _w2(service._session_started, 32)
            if getattr(service, "_save_piece", None) is not None:
                service._save_piece = _w0(service._save_piece, 36)
            if log is not None:
                log.on_session = service._session_started
    return _run(app, board, n, log, service)


M.run = run
M.boot()
