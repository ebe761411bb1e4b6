# ruff: noqa: F821  (ptr32 is a viper builtin)
# The cost of a sign-correcting state-cell read in viper, inline vs through a viper helper
# (under callgrind: bench/cellread.py). MicroPython unix port:
#   micropython bench/mp_cell_read.py MODE N      MODE i (inline) or c (helper call)
import sys
from array import array

import micropython
from micropython import const

_M30 = const(0x3FFFFFFF)
_B29 = const(0x20000000)


@micropython.viper
def _read(c: int) -> int:
    return (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)


@micropython.viper
def inline(a, n: int) -> int:
    p = ptr32(a)
    s = 0
    for i in range(n):
        c = p[i & 7]
        s += (c & _M30) - (c >> 1 & _B29) - (c >> 1 & _B29)
    return s


@micropython.viper
def called(a, n: int) -> int:
    p = ptr32(a)
    s = 0
    for i in range(n):
        s += int(_read(p[i & 7]))
    return s


cells = array("i", [-5, 3, -100, 7, 1 << 29, -(1 << 29), 0, 1])
f = inline if sys.argv[1] == "i" else called
print(f(cells, int(sys.argv[2])))
