# MicroPython names for CPython: `const` and the `micropython.native` decorator.
# On the board the real `micropython` module is used; the compiler handles
# `@micropython.native` itself, so under CPython it only needs to be a no-op.
try:
    import micropython  # noqa: F401
    from micropython import const  # noqa: F401
except ImportError:
    from shared.cpython_shim import const, micropython  # type: ignore[assignment,no-redef]  # noqa: F401
