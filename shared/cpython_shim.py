# Stand-ins used only when running the firmware under CPython (see shared/mp.py).


class _Micropython:
    @staticmethod
    def native(f):
        return f

    @staticmethod
    def viper(f):
        return f


micropython = _Micropython()


def const(x):
    return x
