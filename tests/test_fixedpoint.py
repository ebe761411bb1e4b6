import math
import random
import subprocess

from shared import fixedpoint as fp
from tests.conftest import ROOT, micropython_bin


def test_tables_match_math():
    for i in range(257):
        assert fp._ATAN_Q4MDEG[i] == round(math.degrees(math.atan(i / 256)) * 16000)
        assert fp._SEC_Q14[i] == round(math.sqrt(1 + (i / 256) ** 2) * 16384)


def test_atan2_and_hypot_accuracy():
    rnd = random.Random(3)
    worst = 0.0
    for _ in range(20000):
        y = rnd.randint(-16500, 16500)
        x = rnd.randint(-16500, 16500)
        if x == 0 and y == 0:
            continue
        d = abs(fp.atan2_mdeg(y, x) - math.degrees(math.atan2(y, x)) * 1000)
        worst = max(worst, min(d, 360000 - d))
        h = math.hypot(y, x)
        assert abs(fp.hypot_q(y, x) - h) <= 1 + 1e-4 * h
    assert worst < 5  # millidegrees
    # quadrants and axes
    assert fp.atan2_mdeg(0, 100) == 0
    assert fp.atan2_mdeg(100, 0) == 90000
    assert fp.atan2_mdeg(0, -100) == 180000
    assert fp.atan2_mdeg(-100, 0) == -90000
    assert fp.atan2_mdeg(-100, -100) == -135000
    assert fp.atan2_mdeg(0, 0) == 0


def test_isqrt():
    for n in list(range(0, 2000)) + [10**12, 2**40 + 5, 3 * 2**30]:
        r = fp.isqrt(n)
        assert r * r <= n < (r + 1) * (r + 1)


def test_same_angles_on_micropython():
    """The board's interpreter gives bit-identical results (integer tables, no floats)."""
    code = (
        "from shared.fixedpoint import atan2_mdeg, hypot_q\n"
        "s = 0\n"
        "for y in range(-16000, 16001, 997):\n"
        "    for x in range(-16000, 16001, 1009):\n"
        "        s = (s * 31 + atan2_mdeg(y, x) + 7 * hypot_q(y, x)) % 1000000007\n"
        "print(s)\n"
    )
    out = subprocess.run(
        [micropython_bin(), "-c", code],
        cwd=ROOT,
        env={"MICROPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    s = 0
    for y in range(-16000, 16001, 997):
        for x in range(-16000, 16001, 1009):
            s = (s * 31 + fp.atan2_mdeg(y, x) + 7 * fp.hypot_q(y, x)) % 1000000007
    assert out == str(s)
