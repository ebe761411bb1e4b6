# Scripts for the log store tests: run under the MicroPython unix port (and, for `write` and
# `app`, also under CPython, to compare bytes).
#
#   MICROPYPATH=<code root> micropython -X heapsize=32M sim/logstore_run.py MODE ARGS...
#
# write DIR SEED SAMPLES RAW   a synthetic walker (FakeApp) logged into DIR on the host's own
#                              filesystem; prints one JSON line with everything it logged
# sweep FROM TO MODES          power cuts at operations FROM..TO-1 of a logging session on
#                              LittleFS over NOR flash; MODES "lost", "torn" or "lost,torn";
#                              prints one JSON line: cases, survived, failures, ops
# sweep ... SAMPLES 1           the same with the store's file work sliced (device/logstore.py)
# slicecut SAMPLES             sliced: a power cut between two pieces, after each piece of a
#                              session; and the file byte-identical to the unsliced store's
# wfail MODES SAMPLES          a write failure at every write of a session (after its header),
#                              MODES "lost", "torn" or "lost,torn"; prints one JSON line
# full BLOCKS                  fill a small flash: rotation, then a full flash (cues go on)
# bench                        flush timing, bytes programmed per hour, hours per MB
# app JOB OUT RAW              the real App over a replay job with the store in its idle
#                              step; writes the session(s) to OUT, steps.csv beside them
import json
import sys
import time
from array import array

from device.logstore import LogStore, list_sessions, session_name
from shared import logformat as lf
from shared.config import Config

PERIOD_US = 10000


class _Est:
    def __init__(self):
        self._ra = array("i", [16384, 0, 0, 0, 16384, 0, 0, 0, 16384])
        self._rg = array("i", [1, 0, 0, 0, 1, 0, 0, 0, 1])
        self.bx = 12
        self.by = -7
        self.bz = 3


class _Cue:
    def __init__(self):
        self.cues = 0


class _Board:
    def __init__(self):
        self.imu = array("h", [0] * 6)


class FakeApp:
    """The App's surface the store reads, driven by a deterministic synthetic walker."""

    def __init__(self, seed, profile="test"):
        self.profile = profile  # "test": many odd cases; "walk": typical; "cues": a cue
        self.cfg = Config()  # on every other step
        self.n = -1
        self.ring_ic = array("i", [0] * 32)
        self.ring_end = array("i", [0] * 32)
        self.ring_stance = array("i", [0] * 32)
        self.ring_drop = array("i", [0] * 32)
        self.ring_cued = array("i", [0] * 32)
        self.ring_head = 0
        self.ring_tail = 0
        self.cue = _Cue()
        self._last_fire_n = -1
        self.faults = 0
        self.late = 0
        self.missed = 0
        self.calibrated = 1
        self.cal_error = ""
        self.est = _Est()
        self.board = _Board()
        self.rnd = seed & 0x7FFFFFFF
        self.next_step = 30
        self.side = 0
        self.steps = []  # (ic, side, drop_mdeg, cued) of every step pushed
        self.cue_ns = []
        self.fault_ns = []

    def rand(self, m):
        self.rnd = (self.rnd * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.rnd >> 8) % m

    def tick(self, walking):
        self.n += 1
        if self.rand(4000) == 0:  # a missed sample now and then
            self.n += 2
            self.missed += 2
        if self.rand(3000) == 0:
            self.late += 1
        imu = self.board.imu
        for i in range(6):
            imu[i] = self.rand(65536) - 32768
        if self.rand(20000) == 0:
            self.faults ^= 2
            self.fault_ns.append(self.n)
        if walking and self.n >= self.next_step:
            ic = self.n - self.rand(20)
            test = self.profile == "test"
            if self.rand(25 if test else 500) != 0:
                self.side = 1 - self.side
            if test:
                drop = self.rand(16000) if self.rand(30) else 13000 + self.rand(40000)
                cued = 1 if drop > 9000 else 0
            else:
                drop = 2000 + self.rand(7000)
                cued = 1 if drop > 7500 else 0
                if self.profile == "cues":
                    cued = len(self.steps) & 1
            if cued:
                self.cue.cues += 1
                self._last_fire_n = self.n
                self.cue_ns.append(self.n)
            j = self.ring_head & 31
            self.ring_ic[j] = ic
            self.ring_end[j] = self.n
            self.ring_stance[j] = self.side
            self.ring_drop[j] = drop
            self.ring_cued[j] = cued
            self.ring_head += 1
            self.steps.append((ic, self.side, drop, cued))
            gap = 45 + self.rand(25) if test else 50 + self.rand(10)
            if self.rand(40 if test else 2000) == 0:
                gap = 250 + self.rand(400)  # a pause longer than a short step's dt
            self.next_step = self.n + gap


def walk(app, store, samples, walk_until):
    for _ in range(samples):
        app.tick(app.n < walk_until)
        store.service(app)


def mode_write(d, seed, samples, raw):
    app = FakeApp(seed)
    store = LogStore(d, PERIOD_US, fw="test-1", device="fake", still_ms=20000)
    if raw:
        store.start(app, "command", raw=1, start_unix=1700000000)
        walk(app, store, samples, samples * 2 // 3)
        store.stop(app, "command")
    else:
        # walk, stand still (auto stop), walk again (auto start), end by command
        walk(app, store, samples, samples // 2)
        app.next_step = app.n + 10
        walk(app, store, samples, app.n + samples // 4)
        store.stop(app, "command")
    out = {
        "engine": sys.implementation.name,
        "sessions": [session_name(k) for k in list_sessions(d)],
        "steps": app.steps,
        "cues": app.cue_ns,
        "faults": app.fault_ns,
        "dropped": store.dropped,
        "store_faults": store.faults,
    }
    print(json.dumps(out))


# -- power cuts on LittleFS over NOR flash -----------------------------------------------
MOUNT = "/flash"
ROOT = MOUNT + "/logs"
CONFIG = MOUNT + "/config.json"


def _vfs():
    import vfs

    return vfs


def mount(dev, fresh=False):
    vfs = _vfs()
    if fresh:
        vfs.VfsLfs2.mkfs(dev, progsize=256)
    fs = vfs.VfsLfs2(dev, progsize=256)
    vfs.mount(fs, MOUNT)
    return fs


def umount():
    try:
        _vfs().umount(MOUNT)
    except Exception:
        pass


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def make_base(blocks):
    """A flash image with a config file and two finished sessions."""
    from sim.nor_flash import NorFlash

    dev = NorFlash(4096, blocks)
    mount(dev, fresh=True)
    with open(CONFIG, "w") as f:
        f.write(json.dumps(Config().as_dict()))
    app = FakeApp(7)
    store = LogStore(ROOT, PERIOD_US, fw="base", still_ms=20000)
    for _ in range(2):
        store.start(app, "command")
        walk(app, store, 1500, app.n + 1500)
        store.stop(app, "command")
    old = {}
    for name in [session_name(k) for k in list_sessions(ROOT)]:
        old[name] = read_file(ROOT + "/" + name)
    old["config"] = read_file(CONFIG)
    umount()
    return dev.data, old


class Tracker:
    """Which steps are durable: all steps buffered before the last completed flush."""

    def __init__(self):
        self.durable = 0
        self.session = -1
        self.pieces = 0


def scenario(dev_data, cut_at, torn, samples, tracker, sliced=0, cut_after=-1):
    """One logging session; returns the device (dead if the power was cut).
    sliced: the store's file work a piece per service() call (device/logstore.py);
    cut_after >= 0: the power goes right after the service() call that did piece number
    cut_after (a cut between two pieces: the next flash operation never happens).
    tracker.pieces: the pieces done (the session start's are done by the first calls)."""
    from sim.nor_flash import NorFlash, PowerCut

    dev = NorFlash(4096, len(dev_data) // 4096, bytearray(dev_data))
    mount(dev)
    dev.ops = 0
    dev.cut_at = cut_at
    dev.torn = torn
    app = FakeApp(99)
    store = LogStore(ROOT, PERIOD_US, fw="sweep", still_ms=600000, sliced=sliced)
    try:
        tracker.session = store.start(app, "command")
        flushes = store.flushes
        sealed = 0  # steps in the blocks sealed so far (durable once their sync is done)
        for _ in range(samples):
            app.tick(1)
            busy = store._phase
            store.service(app)
            if busy:
                tracker.pieces += 1
                if tracker.pieces - 1 == cut_after:
                    dev.cut_at = dev.ops
            elif store._phase:
                sealed = store._steps  # a sliced flush sealed its block in this call
            if store.flushes != flushes:
                flushes = store.flushes
                tracker.durable = sealed if sliced else store._steps
        store.stop(app, "command")
        tracker.durable = store._steps
    except PowerCut:
        try:
            store._close_quietly()  # the dead flash ignores it; no finaliser later
        except BaseException:
            pass
    umount()
    return dev


def verify(dev, old, reference, tracker):
    """Remount after the cut and check everything; returns None or what is wrong."""
    from sim.nor_flash import NorFlash

    dev2 = NorFlash(4096, dev.count, dev.data)
    try:
        mount(dev2)
    except Exception as e:
        return "mount failed: %r" % (e,)
    try:
        for key in old:
            path = CONFIG if key == "config" else ROOT + "/" + key
            if read_file(path) != old[key]:
                return "%s changed" % key
        name = session_name(tracker.session)
        names = [session_name(k) for k in list_sessions(ROOT)]
        steps = []
        if name in names:
            data = read_file(ROOT + "/" + name)
            if len(data):
                p = lf.parse(data)
                if p["error"] and not (p["error"] == "empty file"):
                    return "session %s: %s" % (name, p["error"])
                if p["gaps"]:
                    return "session %s: gaps before the cut: %r" % (name, p["gaps"])
                steps = p["steps"]
        if steps != reference[: len(steps)]:
            return "steps read back differ from the ones logged"
        if len(steps) < tracker.durable:
            return "%d steps read back, %d were flushed" % (len(steps), tracker.durable)
        # logging resumes
        app = FakeApp(5)
        store = LogStore(ROOT, PERIOD_US, fw="resume", still_ms=600000)
        k = store.start(app, "command")
        walk(app, store, 700, 10**9)
        store.stop(app, "command")
        p = lf.parse(read_file(ROOT + "/" + session_name(k)))
        if p["error"] or p["end"] is None or len(p["steps"]) != len(app.steps):
            return "resumed session is not intact: %r" % (p["error"],)
        if store.faults:
            return "store faults after resume: %d" % store.faults
    except Exception as e:
        return "after remount: %r" % (e,)
    finally:
        umount()
    return None


def mode_sweep(start, stop, modes, samples=3000, blocks=48, sliced=0):
    base, old = make_base(blocks)
    # reference run without a cut: the steps and the number of operations
    tr = Tracker()
    dev = scenario(base, -1, 0, samples, tr, sliced)
    total = dev.ops
    mount(dev)
    reference = lf.parse(read_file(ROOT + "/" + session_name(tr.session)))["steps"]
    umount()
    if stop < 0 or stop > total:
        stop = total
    cases = 0
    ok = 0
    failures = []
    for torn in [1 if m == "torn" else 0 for m in modes.split(",")]:
        for k in range(start, stop):
            tr = Tracker()
            dev = scenario(base, k, torn, samples, tr, sliced)
            err = verify(dev, old, reference, tr) if dev.dead else "no cut happened"
            cases += 1
            if err is None:
                ok += 1
            elif len(failures) < 20:
                failures.append([k, "torn" if torn else "lost", err])
    out = {"cases": cases, "survived": ok, "failures": failures, "ops": total, "steps": 0}
    out["steps"] = len(reference)
    print(json.dumps(out))


def mode_slicecut(samples=3000, blocks=48):
    """Sliced file work, the power cut between two pieces, after each piece of a session
    (its start's and every flush's); the session file also byte-identical, without a cut,
    to the one the unsliced store writes."""
    base, old = make_base(blocks)
    files = []
    for sliced in (0, 1):
        tr = Tracker()
        dev = scenario(base, -1, 0, samples, tr, sliced)
        mount(dev)
        files.append(read_file(ROOT + "/" + session_name(tr.session)))
        umount()
    pieces = tr.pieces
    reference = lf.parse(files[1])["steps"]
    cases = ok = 0
    failures = []
    for j in range(pieces):
        tr = Tracker()
        dev = scenario(base, -1, 0, samples, tr, 1, j)
        err = verify(dev, old, reference, tr) if dev.dead else "no cut happened"
        cases += 1
        if err is None:
            ok += 1
        elif len(failures) < 20:
            failures.append([j, err])
    out = {"cases": cases, "survived": ok, "failures": failures, "pieces": pieces}
    out["identical"] = 1 if files[0] == files[1] else 0
    out["bytes"] = len(files[1])
    out["steps"] = len(reference)
    print(json.dumps(out))


class FailingFile:
    """A session file whose write number `fail_at` (0: the first after the header) fails with
    EIO: "lost" (nothing lands) or "torn" (the first half lands). Records, per write, the
    steps and cues the store had buffered by then, so a sweep knows each block's records."""

    def __init__(self, f, store, fail_at, torn):
        self.f = f
        self.store = store
        self.fail_at = fail_at
        self.torn = torn
        self.writes = 0
        self.marks = []  # (steps, cues) logged by the end of each write

    def write(self, data):
        k = self.writes
        self.writes = k + 1
        self.marks.append((self.store._steps, self.store._cues))
        if k == self.fail_at:
            if self.torn:
                self.f.write(bytes(data[: len(data) // 2]))
            raise OSError(5)
        return self.f.write(data)

    def flush(self):
        return self.f.flush()

    def close(self):
        return self.f.close()


def _wfail_session(fail_at, torn, samples):
    app = FakeApp(99)
    store = LogStore(ROOT, PERIOD_US, fw="wfail", still_ms=600000)
    k = store.start(app, "command")
    ff = FailingFile(store.file, store, fail_at, torn)
    store.file = ff
    walk(app, store, samples, 10**9)
    store.stop(app, "command")
    return k, ff, store, app


def mode_wfail(modes, samples, blocks=48):
    """A write failure at every write of a session after its header (every block and the end
    frame), lost or torn, on LittleFS over NOR flash. Checks that only the failed block's
    steps and cues are missing, every other step has its time and side, and the reader reports
    the gap (or the missing end). Prints one JSON line."""
    from sim.nor_flash import NorFlash

    dev = NorFlash(4096, blocks)
    mount(dev, fresh=True)
    k, ff, store, app = _wfail_session(-1, 0, samples)
    ref = lf.parse(read_file(ROOT + "/" + session_name(k)))
    writes = ff.writes
    marks = ff.marks
    umount()
    cases = ok = 0
    failures = []
    worst_dt = 0
    lost_steps = []
    for torn in [1 if m == "torn" else 0 for m in modes.split(",")]:
        for w in range(writes):
            dev = NorFlash(4096, blocks)
            mount(dev, fresh=True)
            k, ff, store, app = _wfail_session(w, torn, samples)
            p = lf.parse(read_file(ROOT + "/" + session_name(k)))
            umount()
            cases += 1
            s0, c0 = marks[w - 1] if w > 0 else (0, 0)
            s1, c1 = marks[w]
            last = w == writes - 1  # the end frame
            if last:
                want_steps, want_cues = ref["steps"], ref["cues"]
            else:
                want_steps = ref["steps"][:s0] + ref["steps"][s1:]
                want_cues = ref["cues"][:c0] + ref["cues"][c1:]
            err = None
            if p["steps"] != want_steps:
                n = min(len(p["steps"]), len(want_steps))
                i = 0
                while i < n and p["steps"][i] == want_steps[i]:
                    i += 1
                err = "steps differ from step %d (block %d)" % (i, w)
                if i < n:
                    dt = abs(p["steps"][i][0] - want_steps[i][0])
                    worst_dt = max(worst_dt, dt)
            elif p["cues"] != want_cues:
                err = "cues differ"
            elif last:
                if p["end"] is not None:
                    err = "end frame read though its write failed"
            elif p["end"] is None or p["end"]["lost_blocks"] != 1:
                err = "end frame missing or lost_blocks != 1"
            elif p["error"] is not None:
                err = "reader error: %s" % p["error"]
            else:
                kinds = [g[0] for g in p["gaps"]]
                if "blocks" not in kinds or (torn and "skipped" not in kinds):
                    err = "gap not reported: %r" % (p["gaps"],)
            if not last:
                lost_steps.append(s1 - s0)
            if err is None:
                ok += 1
            elif len(failures) < 20:
                failures.append([w, "torn" if torn else "lost", err])
    out = {
        "cases": cases,
        "survived": ok,
        "failures": failures,
        "writes": writes,
        "steps": len(ref["steps"]),
        "cues": len(ref["cues"]),
        "max_lost_steps": max(lost_steps) if lost_steps else 0,
        "worst_dt_cs": worst_dt,
    }
    print(json.dumps(out))


def mode_full(blocks):
    """Small flash: sessions until rotation deletes old ones; then one session that fills it."""
    from sim.nor_flash import NorFlash

    dev = NorFlash(4096, blocks)
    mount(dev, fresh=True)
    with open(CONFIG, "w") as f:
        f.write("{}")
    cfg_bytes = read_file(CONFIG)
    app = FakeApp(3)
    store = LogStore(ROOT, PERIOD_US, fw="full", still_ms=600000, reserve=8192, buf_bytes=4096)
    started = []
    seen_max = 0
    for _ in range(12):
        started.append(store.start(app, "command", raw=1))
        walk(app, store, 2000, 10**9)
        store.stop(app, "command")
        seen_max = max(seen_max, len(list_sessions(ROOT)))
    left = list_sessions(ROOT)
    ok_rotation = left == started[len(started) - len(left) :] and store.sessions_deleted > 0
    all_ok = True
    for k in left:
        p = lf.parse(read_file(ROOT + "/" + session_name(k)))
        all_ok = all_ok and p["error"] is None and p["end"] is not None
    # a full flash: the current session alone is bigger than the flash (raw capture)
    cues_before = app.cue.cues
    store.start(app, "command", raw=1)
    raised = None
    try:
        walk(app, store, 40000, 10**9)
        store.stop(app, "command")
    except Exception as e:
        raised = repr(e)
    out = {
        "rotation_ok": ok_rotation,
        "sessions_intact": all_ok,
        "sessions_left": left,
        "max_sessions": seen_max,
        "deleted": store.sessions_deleted,
        "raised": raised,
        "full_fault": store.faults,
        "dropped": store.dropped,
        "cues_during_full": app.cue.cues - cues_before,
        "config_untouched": read_file(CONFIG) == cfg_bytes,
        "only_current_left": list_sessions(ROOT) == [store.current],
    }
    p = lf.parse(read_file(ROOT + "/" + session_name(store.current)))
    out["full_session_error"] = p["error"]
    out["full_session_raw_runs"] = len(p["raw"])
    umount()
    print(json.dumps(out))


def mode_bench():
    """Per hour of walking at 110 steps/min: bytes in the files and bytes programmed."""
    from sim.nor_flash import NorFlash

    out = {}
    for raw, profile in ((0, "walk"), (0, "cues"), (1, "walk")):
        dev = NorFlash(4096, 256 if not raw else 1024)
        mount(dev, fresh=True)
        app = FakeApp(11, profile)
        store = LogStore(
            ROOT, PERIOD_US, fw="bench", still_ms=600000, buf_bytes=8192 if raw else 1024
        )
        store.start(app, "command", raw=raw)
        dev.progs = dev.prog_bytes = dev.erases = 0
        worst = 0
        total = 0
        nflush = 0
        late = 0
        samples = 6000 * (2 if raw else 30)  # 2 or 30 minutes
        for _ in range(samples):
            app.tick(1)
            f0 = store.flushes
            t0 = time.ticks_us()
            store.service(app)
            dt = time.ticks_diff(time.ticks_us(), t0)
            if store.flushes != f0:
                nflush += 1
                total += dt
                worst = max(worst, dt)
            if dt > PERIOD_US:
                late += 1
        store.stop(app, "command")
        size = len(read_file(ROOT + "/" + session_name(store.current)))
        minutes = samples * PERIOD_US / 60e6
        spm = len(app.steps) / minutes
        key = "raw" if raw else "steps_" + profile
        out[key] = {
            "minutes": minutes,
            "steps_per_min": spm,
            "file_bytes": size,
            "bytes_per_min": size / minutes,
            "hours_per_MB": 1e6 / (size / minutes * 60),
            "prog_bytes_per_hour": dev.prog_bytes * 60 / minutes,
            "erases_per_hour": dev.erases * 60 / minutes,
            "flushes": nflush,
            "flush_mean_us": total // max(1, nflush),
            "flush_max_us": worst,
            "late_samples": late,
        }
        umount()
    print(json.dumps(out))


def mode_app(job_dir, out_dir, raw):
    """The real firmware loop with the store in its between-sample step."""
    from sim.run import load_job

    job, board, app = load_job(job_dir)
    store = LogStore(out_dir, job["period_us"], fw="app-test", buf_bytes=8192 if raw else 1024)
    if raw:
        store.start(app, "command", raw=1)
    rows = []
    probes = []
    while board.next_sample():
        app.tick()
        j = app.ring_head
        k = app.ring_tail
        while k != j:
            i = k & 31
            rows.append((app.ring_ic[i], app.ring_stance[i], app.ring_drop[i], app.ring_cued[i]))
            probes.append(app.ring_probe[i])
            k += 1
        store.service(app)
    store.stop(app, "end")
    with open(out_dir + "/steps.csv", "w") as f:
        for r in rows:
            f.write("%d,%d,%d,%d\n" % r)
    out = {"steps": len(rows), "cues": app.cue.cues, "sessions": list_sessions(out_dir)}
    out["probe"] = probes
    out["counters"] = app.feedback_counters()
    print(json.dumps(out))


def main(argv):
    mode = argv[1]
    if mode == "write":
        mode_write(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    elif mode == "sweep":
        samples = int(argv[5]) if len(argv) > 5 else 3000
        sliced = int(argv[6]) if len(argv) > 6 else 0
        mode_sweep(int(argv[2]), int(argv[3]), argv[4], samples, sliced=sliced)
    elif mode == "slicecut":
        mode_slicecut(int(argv[2]))
    elif mode == "wfail":
        mode_wfail(argv[2], int(argv[3]))
    elif mode == "full":
        mode_full(int(argv[2]))
    elif mode == "bench":
        mode_bench()
    elif mode == "app":
        mode_app(argv[2], argv[3], int(argv[4]))
    else:
        print("unknown mode " + mode)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
