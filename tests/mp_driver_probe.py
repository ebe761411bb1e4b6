# MicroPython (unix port) and CPython: the IMU drivers and the board against the simulated
# chips; prints one JSON line with the values read and the heap used by 1,000 reads.
#
#   MICROPYPATH=<dir with machine.py>:<repo> micropython tests/mp_driver_probe.py
#
# Allocation is measured inside a function: gc.collect(), then gc.mem_alloc() and (on
# MicroPython) micropython.mem_total() before and after the loop. The loops are @native:
# a bytecode function with a large frame has it heap-allocated on every call (136 B here),
# which mem_total() would count against the driver.
import gc
import json
import sys
from array import array

from shared.mp import micropython

mem_total = getattr(micropython, "mem_total", None)  # None under CPython

if sys.implementation.name != "micropython":
    from tests import fake_machine

    sys.modules["machine"] = fake_machine
import machine  # noqa: E402  (the fake: machine.py first on MICROPYPATH)

from device import board as hw  # noqa: E402
from device.drivers.icm42688 import ICM42688  # noqa: E402
from device.drivers.lsm6dsox import LSM6DSOX  # noqa: E402
from device.drivers.mpu6050 import MPU6050  # noqa: E402
from tests.fake_i2c import (  # noqa: E402
    FakeClock,
    FakeI2C,
    FakeICM42688,
    FakeLSM6DSOX,
    FakeMPU6050,
    pattern_gen,
)

_M = array("i", [0] * 4)  # alloc before / after, total before / after


def mark(i):
    # Stores into a preallocated array: the measurement itself allocates nothing.
    if mem_total is None:
        return
    gc.collect()
    _M[2 * i] = gc.mem_alloc()
    _M[2 * i + 1] = mem_total()


@micropython.native
def read_loop(sensor, dev, clock, out, n):
    k = 0
    p = dev.period_us()
    while k < n:
        clock.now_us += p
        sensor.read_into(out)
        k += 1
    return k


@micropython.native
def fifo_loop(sensor, dev, clock, out, n):
    k = 0
    got = 0
    p = dev.period_us()
    while k < n:
        clock.now_us += p
        got += sensor.fifo_read_into(out)
        k += 1
    return got


@micropython.native
def board_loop(board, n, _c=None, _d=None, _e=None):
    k = 0
    good = 0
    while k < n:
        if board.next_sample() == 1:
            good += 1
        k += 1
    return good


def measure(fn, a, b, c, d, e):
    mark(0)
    r = fn(a, b, c, d, e)
    mark(1)
    return r, _M[2] - _M[0], _M[3] - _M[1]


def probe_driver(name, cls, fake_cls, fifo):
    clock = FakeClock()
    bus = FakeI2C()
    dev = bus.attach(fake_cls(clock))
    dev.gen = pattern_gen
    sensor = cls(bus, dev.address, 100, fifo=fifo)
    out = array("h", [0] * 6)
    fn = fifo_loop if fifo else read_loop
    fn(sensor, dev, clock, out, 10)  # warm-up
    n, d_alloc, d_total = measure(fn, sensor, dev, clock, out, 1000)
    exp = array("h", [0] * 6)
    pattern_gen(dev.k - 1, exp)
    return {
        "name": name,
        "fifo": fifo,
        "reads": n,
        "alloc": d_alloc,
        "total": d_total,
        "last": list(out),
        "expected_last": list(exp),
    }


def probe_board(fifo=False, batch=1):
    SIM = machine.SIM
    SIM.reset()
    dev = SIM.buses[0].attach(FakeLSM6DSOX(SIM.clock))
    dev.gen = pattern_gen
    SIM.inputs[6] = dev.wait_int
    SIM.adc[29] = 24000
    board = hw.Board(rate_hz=100, pins=hw.PICO, clock=SIM.clock, fifo=fifo, batch=batch)
    board.start_watchdog()
    board_loop(board, 50)
    good, d_alloc, d_total = measure(board_loop, board, 1000, None, None, None)
    return {"good": good, "alloc": d_alloc, "total": d_total, "late": board.late}


def main():
    res = {"engine": sys.implementation.name, "drivers": []}
    for name, cls, fake in (
        ("lsm6dsox", LSM6DSOX, FakeLSM6DSOX),
        ("icm42688", ICM42688, FakeICM42688),
        ("mpu6050", MPU6050, FakeMPU6050),
    ):
        for fifo in (False, True):
            res["drivers"].append(probe_driver(name, cls, fake, fifo))
    res["board"] = probe_board()
    res["board_fifo"] = probe_board(fifo=True)  # sample by sample through the FIFO
    # what boot() builds for the LSM6DSOX: FIFO batches of 3, the sleep between them
    res["board_batched"] = probe_board(fifo=True, batch=3)
    print(json.dumps(res))


main()
