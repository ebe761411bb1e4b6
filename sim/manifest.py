"""The files device/manifest.py ships, as (source path, path on the board) pairs.

    python -m sim.manifest [MANIFEST]      prints "SOURCE TARGET" lines (for the Makefile)

It evaluates the manifest with MicroPython's manifest functions reduced to what they list:
`include` of the port's own manifest is skipped (the stock firmware has those modules
frozen already), `package` and `module` give files relative to the manifest's folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[1] / "device" / "manifest.py"


def shipped(manifest: Path = MANIFEST) -> list[tuple[Path, str]]:
    here = manifest.resolve().parent
    out: list[tuple[Path, str]] = []

    def include(path: str, **_kw) -> None:
        if not path.startswith("$("):
            raise ValueError(f"{manifest}: include({path!r}) of a project file is not supported")

    def package(name: str, files=None, base_path: str = ".", opt=None) -> None:
        base = (here / base_path).resolve()
        for f in files if files is not None else []:
            out.append((base / name / f, f"{name}/{f}"))
        if files is None:
            for p in sorted((base / name).rglob("*.py")):
                out.append((p, str(p.relative_to(base))))

    def module(path: str, base_path: str = ".", opt=None) -> None:
        out.append(((here / base_path / path).resolve(), path))

    code = compile(manifest.read_text(), str(manifest), "exec")
    exec(code, {"include": include, "package": package, "module": module})  # noqa: S102
    missing = [str(src) for src, _ in out if not src.exists()]
    if missing:
        raise FileNotFoundError(f"{manifest} lists missing files: {', '.join(missing)}")
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else MANIFEST
    for src, target in shipped(path):
        print(src, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
