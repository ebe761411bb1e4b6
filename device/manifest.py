# What ships to the board, and nothing else: frozen into the firmware image by
# `make firmware-uf2` (MicroPython's manifest format), and the list `make firmware` /
# `make deploy` precompile to .mpy files (read by sim/manifest.py). Simulation, the unix
# entry point and the evaluation live in sim/ and never reach the board.
# ruff: noqa: F821  (include/package/module are the manifest's own functions)

include("$(PORT_DIR)/boards/manifest.py")  # the board's defaults (asyncio, etc.)

# /main.py on the board: runs device/main.py at boot. Frozen, it is found before a main.py on
# the filesystem (MicroPython looks in the frozen modules first); in the .mpy build it is a file.
module("main.py")

package(
    "device",
    files=[
        "__init__.py",
        "app.py",
        "board.py",
        "link.py",
        "logstore.py",
        "main.py",
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
    ],
    base_path="..",
)

package(
    "shared",
    files=[
        "__init__.py",
        "calib.py",
        "config.py",
        "cue.py",
        "estimator.py",
        "exercise.py",
        "feedback.py",
        "fixedpoint.py",
        "fromconfig.py",
        "logformat.py",
        "mount.py",
        "mp.py",
        "programme.py",
        "protocol.py",
        "sides.py",
        "slstest.py",
        "steps.py",
    ],
    base_path="..",
)
