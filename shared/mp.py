"""MicroPython's compiler names, for code that must also run on CPython.

On the board (and the unix port) the real `micropython` module and `const` are used, and the
viper pointer casts `ptr16`/`ptr32` are builtins the viper compiler provides. Under CPython
(the host tool, and the firmware simulated by `sim/`) these stand-ins take their place:
`const` is the identity, the decorators return the function unchanged, and a pointer cast is
the array itself (indexed signed; viper reads 32-bit cells unsigned on 64-bit ports, which
the firmware's sign-correcting reads make exact on both). The fallback never runs on a board.
"""

try:
    import micropython  # noqa: F401
    from micropython import const  # noqa: F401
except ImportError:

    class micropython:  # type: ignore[no-redef]  # noqa: N801
        @staticmethod
        def native(f):
            return f

        @staticmethod
        def viper(f):
            return f

    def const(x):  # type: ignore[no-redef,misc]
        return x


def ptr8(buf):
    """CPython stand-in for viper's ptr8 (only imported off the board)."""
    return buf


def ptr16(buf):
    """CPython stand-in for viper's ptr16 (only imported off the board)."""
    return buf


def ptr32(buf):
    """CPython stand-in for viper's ptr32 (only imported off the board)."""
    return buf
