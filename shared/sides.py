"""One convention for sides, everywhere (firmware, logs, host, tests).

A side code is a side of the body: 0 left, 1 right (`LEFT`, `RIGHT`; "L"/"R" in text). What a
code refers to is in its name, never implied: `stance` (the leg on the ground: steps, logs,
steps.csv's `stance`) or `drop_side` (the side of the pelvis that sagged: cues, thresholds).
In hip drop the pelvis sags on the swing side, so a step's drop side is the side opposite its
stance: `drop_side = swing(stance)`. Viper code writes it inline as `1 - stance`.
"""

from shared.mp import const

LEFT = const(0)
RIGHT = const(1)


def swing(stance):
    """The swing side of a stance, which is also the side whose pelvis drops."""
    return 1 - stance


def letter(side):
    """'L' or 'R' for a side code."""
    return "R" if side else "L"


def code(letter_):
    """0 or 1 for 'L' or 'R' (anything else raises ValueError)."""
    if letter_ == "L":
        return LEFT
    if letter_ == "R":
        return RIGHT
    raise ValueError("side must be 'L' or 'R', not %r" % (letter_,))
