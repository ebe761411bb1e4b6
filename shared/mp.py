# MicroPython names for CPython: `const` and the `micropython.native` decorator.
# On the board the real `micropython` module is used; the compiler handles
# `@micropython.native` itself, so under CPython it only needs to be a no-op.
try:
    import micropython  # type: ignore[import-not-found]
    from micropython import const  # type: ignore[import-not-found]
except ImportError:

    class _Shim:
        @staticmethod
        def native(f):
            return f

        @staticmethod
        def viper(f):
            return f

    micropython = _Shim()  # type: ignore[assignment]

    def const(x):  # type: ignore[no-redef]
        return x
