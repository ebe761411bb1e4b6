"""argparse value types with limits: a bad number (nan, inf, out of range) is a usage error
(exit 2, one `error:` line naming the option), never a traceback or a hang further on."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(lo: float, hi: float, unit: str = "") -> Callable[[str], float]:
    """A finite float in [lo, hi]."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text} is outside {lo:g}..{hi:g}{unit}")
        return v

    return parse


def whole(lo: int, hi: int, unit: str = "") -> Callable[[str], int]:
    """A whole number in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{text} is outside {lo}..{hi}{unit}")
        return v

    return parse
