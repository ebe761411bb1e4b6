"""hipcue host tool: replay traces through the firmware, simulate, talk to the device."""

from pathlib import Path

__version__ = "0.1.0"

# The repository root (device/ and shared/ live there). The firmware engine runs the
# device/ code from here, under MicroPython or CPython.
REPO_ROOT = Path(__file__).resolve().parents[2]


class HipcueError(Exception):
    """An error the CLI prints as one line (`hipcue: error: ...`) with exit code 1."""
