"""device/ and shared/ are type-checked against MicroPython's rp2 stubs, so a CPython-only
API fails. This proves the check can fail: a planted mistake must be reported."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

MYPY = Path(sys.executable).parent / "mypy"


@pytest.mark.skipif(not (ROOT / "typings").exists(), reason="make typecheck-device installs stubs")
def test_planted_cpython_api_is_caught(tmp_path):
    for d in ("shared", "device"):
        shutil.copytree(ROOT / d, tmp_path / d)
    (tmp_path / "typings").symlink_to(ROOT / "typings")
    (tmp_path / "device" / "zz_planted.py").write_text(
        "import time\nfrom machine import Pin\n\n\n"
        "def f():\n    t = time.monotonic()\n    p = Pin(1, Pin.OUTPUT)\n    return t, p\n"
    )
    r = subprocess.run(
        [str(MYPY), "--config-file", str(ROOT / "mypy-device.ini"), "--cache-dir", "/dev/null"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stdout
    assert 'Module has no attribute "monotonic"' in r.stdout
    assert 'has no attribute "OUTPUT"' in r.stdout
    (tmp_path / "device" / "zz_planted.py").unlink()
    r = subprocess.run(
        [str(MYPY), "--config-file", str(ROOT / "mypy-device.ini"), "--cache-dir", "/dev/null"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout
