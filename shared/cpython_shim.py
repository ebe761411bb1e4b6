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


# Viper pointer casts. On MicroPython `ptr16(buf)` / `ptr32(buf)` give raw access to a
# buffer's 16/32-bit cells and read them back UNSIGNED (zero-extended); here the array itself
# is indexed, giving signed values. Firmware code sign-corrects every read of a cell that may
# be negative with an expression that is exact for both (see shared/estimator.py).
def ptr16(buf):
    return buf


def ptr32(buf):
    return buf
