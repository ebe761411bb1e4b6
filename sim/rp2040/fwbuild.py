"""What ships to the board, read from device/manifest.py (the list MicroPython's freezer uses).

    python3 -m sim.rp2040.fwbuild files     # the source files, one a line (make firmware)

Runs device/manifest.py with stand-ins for MicroPython's manifest functions (tools/manifestfile.py)
and collects (source, frozen name) pairs; `include()` of the board's own manifest is skipped
(those modules come with the firmware). Standard library only: the Makefile runs it with the
system python before any venv exists.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "device", "manifest.py")


def manifest_files(manifest: str = MANIFEST) -> list[tuple[str, str]]:
    """(source path relative to the repository, frozen module path) for each shipped file."""
    here = os.path.dirname(manifest)
    out: list[tuple[str, str]] = []

    def include(path: str, **kw: object) -> None:
        if "$(PORT_DIR)" not in path and "$(MPY_DIR)" not in path:
            raise ValueError(f"{manifest}: include({path!r}): only the board's manifest")

    def package(name: str, files=None, base_path: str = ".", opt=None) -> None:
        base = os.path.normpath(os.path.join(here, base_path))
        if files is None:
            raise ValueError(f"{manifest}: package({name!r}) must list its files")
        for f in files:
            target = name + "/" + f
            out.append((os.path.relpath(os.path.join(base, target), ROOT), target))

    def module(path: str, base_path: str = ".", opt=None) -> None:
        base = os.path.normpath(os.path.join(here, base_path))
        out.append((os.path.relpath(os.path.join(base, path), ROOT), path))

    def require(*a: object, **kw: object) -> None:
        raise ValueError(f"{manifest}: require() is not used here")

    with open(manifest) as f:
        code = compile(f.read(), manifest, "exec")
    exec(code, {"include": include, "package": package, "module": module, "require": require})
    return out


def main(argv: list[str]) -> int:
    if argv[1:] == ["files"]:
        for src, _ in manifest_files():
            print(src)
        return 0
    if argv[1:] == ["targets"]:
        for src, target in manifest_files():
            print(src, target)
        return 0
    print("usage: python3 -m sim.rp2040.fwbuild files|targets", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
