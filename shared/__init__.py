# hipcue shared code: runs unchanged on MicroPython and CPython.
