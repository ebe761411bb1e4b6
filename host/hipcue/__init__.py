"""hipcue host tool: replay traces through the firmware, simulate, talk to the device."""

__version__ = "0.1.0"


class HipcueError(Exception):
    """An error the CLI prints as one line (`hipcue: error: ...`) with exit code 1."""
