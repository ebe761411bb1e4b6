# What ships to the board: the frozen hipcue firmware image (`make firmware-uf2`) and the
# .mpy files of `make deploy` are both made from this list. MicroPython's build runs it with
# tools/manifestfile.py (include/package/module are its functions; paths are relative to
# this folder); sim/rp2040/fwbuild.py reads it the same way for the .mpy build.
# Host-only modules (the simulated board and runners, the CPython shims) are not listed.
# ruff: noqa: F821

include("$(PORT_DIR)/boards/manifest.py")  # the board's defaults (asyncio, onewire, ...)

package(
    "device",
    files=(
        "__init__.py",
        "main.py",
        "app.py",
        "board.py",
        "link.py",
        "logstore.py",
        "service.py",
        "drivers/__init__.py",
        "drivers/battery.py",
        "drivers/button.py",
        "drivers/haptic.py",
        "drivers/i2cdev.py",
        "drivers/icm42688.py",
        "drivers/lsm6dsox.py",
        "drivers/mpu6050.py",
        "drivers/ticks.py",
    ),
    base_path="..",
)
package(
    "shared",
    files=(
        "__init__.py",
        "calib.py",
        "config.py",
        "cue.py",
        "estimator.py",
        "feedback.py",
        "fixedpoint.py",
        "logformat.py",
        "mount.py",
        "mp.py",
        "protocol.py",
        "slstest.py",
        "steps.py",
    ),
    base_path="..",
)
# /main.py at boot: runs device/main.py's boot() (a main.py on the filesystem is not run
# while a frozen one exists; safe boot, button held at power-up, leaves the REPL free).
module("main.py", base_path=".")
