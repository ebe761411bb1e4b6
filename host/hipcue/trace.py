"""Trace CSV v1 (../shared/spec/trace-and-replay.md section 2): read and validate.

Every problem is reported as one line naming the file, the line and the problem.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hipcue import HipcueError

REQUIRED = ("t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")


class TraceError(HipcueError):
    pass


@dataclass
class Trace:
    path: Path
    meta: dict[str, str]
    header: list[str]
    t_s: np.ndarray  # float64 seconds
    t_text: list[str]  # t_s exactly as written, for outputs
    acc_g: np.ndarray  # (n, 3) sensor axes
    gyro_dps: np.ndarray  # (n, 3) sensor axes
    extra: dict[str, list[str]] = field(default_factory=dict)  # other columns, as text
    first_data_line: int = 0  # 1-based line number of the first sample

    @property
    def n(self) -> int:
        return len(self.t_s)

    def line_of(self, i: int) -> int:
        return self.first_data_line + i

    def column(self, name: str) -> np.ndarray:
        """An extra column as float (NaN where empty or not a number)."""
        out = np.full(self.n, np.nan)
        for i, v in enumerate(self.extra[name]):
            try:
                out[i] = float(v)
            except ValueError:
                pass
        return out


def read_trace(path: str | Path) -> Trace:
    p = Path(path)
    name = str(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise TraceError(f"{name}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise TraceError(f"{name}:{line}: not UTF-8 text") from None
    lines = text.splitlines()
    meta: dict[str, str] = {}
    i: int = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        body = lines[i][1:].strip() if lines[i].startswith("#") else ""
        # `# key: value` lines are metadata; several `key: value` pairs may share a line
        # separated by ';' (the mobgap files do this).
        for part in body.split(";"):
            if ":" in part:
                key, val = part.split(":", 1)
                key = key.strip().lower()
                if key and " " not in key and key not in meta:
                    meta[key] = val.strip()
        i += 1
    if i >= len(lines):
        raise TraceError(f"{name}: empty file: no header row and no samples")
    header_line = i + 1
    header = [h.strip() for h in next(csv.reader([lines[i]]))]
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise TraceError(f"{name}:{header_line}: column {h!r} appears twice")
        seen.add(h)
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        raise TraceError(f"{name}:{header_line}: missing column(s) {', '.join(missing)}")
    idx = [header.index(c) for c in REQUIRED]
    extra_names = [h for h in header if h not in REQUIRED]
    extra_idx = [header.index(h) for h in extra_names]
    rows = lines[i + 1 :]
    first = header_line + 1
    values = np.empty((len(rows), 7))
    t_text: list[str] = []
    extra: dict[str, list[str]] = {h: [] for h in extra_names}
    k = 0
    first_data = first
    nfields = len(header)
    prev_t = -math.inf
    for j, fields in enumerate(csv.reader(rows)):
        line = first + j
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if fields[0].startswith("#"):
            continue
        if len(fields) != nfields:
            raise TraceError(f"{name}:{line}: expected {nfields} fields, got {len(fields)}")
        for c, col in enumerate(idx):
            cell = fields[col].strip()
            try:
                num = float(cell)
            except ValueError:
                raise TraceError(
                    f"{name}:{line}: column {REQUIRED[c]}: {cell!r} is not a number"
                ) from None
            if not math.isfinite(num):
                raise TraceError(f"{name}:{line}: column {REQUIRED[c]}: {cell} is not finite")
            values[k, c] = num
        t_now = float(values[k, 0])
        if t_now <= prev_t:
            raise TraceError(
                f"{name}:{line}: t_s {fields[idx[0]].strip()} is not after the previous "
                f"sample's {t_text[-1]}"
            )
        prev_t = t_now
        t_text.append(fields[idx[0]].strip())
        for h, col in zip(extra_names, extra_idx, strict=True):
            extra[h].append(fields[col].strip())
        if k == 0:
            first_data = line
        k += 1
    if k == 0:
        raise TraceError(f"{name}:{header_line}: no samples after the header row")
    values = values[:k]
    return Trace(
        path=p,
        meta=meta,
        header=header,
        t_s=values[:, 0].copy(),
        t_text=t_text,
        acc_g=values[:, 1:4].copy(),
        gyro_dps=values[:, 4:7].copy(),
        extra=extra,
        first_data_line=first_data,
    )
