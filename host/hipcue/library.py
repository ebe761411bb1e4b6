"""The local session library: one SQLite file (stdlib sqlite3) holding every pulled session.

Default place: $XDG_DATA_HOME/hipcue/library.sqlite, else ~/.local/share/hipcue/library.sqlite
(`--library PATH` chooses another). A session is identified by the SHA-256 of its file, so
adding the same file again changes nothing. The file itself is kept (column `data`), so
exports and raw-capture replays come from the exact bytes that were pulled.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from hipcue import HipcueError
from hipcue.logs import Session, export_csv, export_json, read_session, sha256_hex

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    format INTEGER,
    session_no INTEGER,
    started_unix INTEGER,
    firmware TEXT,
    config TEXT,
    calibration TEXT,
    raw INTEGER,
    complete INTEGER,
    end_reason TEXT,
    duration_s REAL,
    n_steps INTEGER,
    n_cues INTEGER,
    error TEXT,
    added TEXT,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, t_s REAL, stance TEXT, drop_deg REAL, cued INTEGER,
    PRIMARY KEY (session_id, idx)
);
CREATE TABLE IF NOT EXISTS cues (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, t_s REAL,
    PRIMARY KEY (session_id, idx)
);
CREATE TABLE IF NOT EXISTS faults (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, t_s REAL, bits INTEGER,
    PRIMARY KEY (session_id, idx)
);
CREATE TABLE IF NOT EXISTS summaries (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, t_s REAL, steps INTEGER, cues INTEGER, late INTEGER,
    missed INTEGER, dropped INTEGER,
    PRIMARY KEY (session_id, idx)
);
"""


class LibraryError(HipcueError):
    pass


def default_library_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hipcue" / "library.sqlite"


class Library:
    def __init__(self, path: str | Path | None = None, create: bool = True) -> None:
        """create=False (reading: sessions, export, reports): a missing file is an error, not
        a new empty library (a typo in --library must not make one)."""
        self.path = Path(path) if path is not None else default_library_path()
        if not create and not self.path.is_file():
            raise LibraryError(
                f"{self.path}: no such session library (`hipcue logs pull` makes one)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path))
            self.db.execute("PRAGMA foreign_keys = ON")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(
                    f"{self.path}: library schema {version} is newer than this hipcue "
                    f"({SCHEMA_VERSION})"
                )
            with self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as e:
            raise LibraryError(f"{self.path}: not a usable session library: {e}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def has_sha256(self, sha: str) -> bool:
        row = self.db.execute("SELECT 1 FROM sessions WHERE sha256 = ?", (sha,)).fetchone()
        return row is not None

    def add_session(self, data: bytes, device: str, name: str) -> tuple[int, bool]:
        """Add a pulled session file; returns (id, added). Idempotent by the file's hash."""
        sha = sha256_hex(data)
        row = self.db.execute("SELECT id FROM sessions WHERE sha256 = ?", (sha,)).fetchone()
        if row is not None:
            return int(row[0]), False
        s = read_session(data, name)
        h = s.header
        with self.db:
            cur = self.db.execute(
                "INSERT INTO sessions (device, name, sha256, size, format, session_no, "
                "started_unix, firmware, config, calibration, raw, complete, end_reason, "
                "duration_s, n_steps, n_cues, error, added, data) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    device,
                    name,
                    sha,
                    len(data),
                    h.get("format"),
                    h.get("session"),
                    h.get("start_unix"),
                    h.get("fw"),
                    json.dumps(h.get("config", {}), sort_keys=True),
                    json.dumps(h.get("calibration", {}), sort_keys=True),
                    int(bool(h.get("raw"))),
                    int(s.complete),
                    s.end.get("reason") if s.end else None,
                    s.duration_s,
                    len(s.steps),
                    len(s.cues_s),
                    s.error,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    data,
                ),
            )
            sid = int(cur.lastrowid or 0)
            self.db.executemany(
                "INSERT INTO steps VALUES (?,?,?,?,?,?)",
                [(sid, i, x.t_s, x.stance, x.drop_deg, x.cued) for i, x in enumerate(s.steps)],
            )
            self.db.executemany(
                "INSERT INTO cues VALUES (?,?,?)", [(sid, i, t) for i, t in enumerate(s.cues_s)]
            )
            self.db.executemany(
                "INSERT INTO faults VALUES (?,?,?,?)",
                [(sid, i, t, b) for i, (t, b) in enumerate(s.faults)],
            )
            self.db.executemany(
                "INSERT INTO summaries VALUES (?,?,?,?,?,?,?,?)",
                [
                    (sid, i, x.t_s, x.steps, x.cues, x.late, x.missed, x.dropped)
                    for i, x in enumerate(s.summaries)
                ],
            )
        return sid, True

    def sessions(self) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT id, device, name, sha256, size, session_no, started_unix, firmware, raw, "
            "complete, end_reason, duration_s, n_steps, n_cues, error FROM sessions ORDER BY id"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def resolve(self, ref: str | int) -> int:
        """A session by id, by name (S0003.hcl or S0003; the newest if several devices have
        one) or by a prefix of its SHA-256 (at least 6 hex digits)."""
        text = str(ref).strip()
        if text.isdigit():
            row = self.db.execute("SELECT id FROM sessions WHERE id = ?", (int(text),)).fetchone()
            if row:
                return int(row[0])
        name = text if text.endswith(".hcl") else text + ".hcl"
        row = self.db.execute(
            "SELECT id FROM sessions WHERE name = ? ORDER BY id DESC", (name,)
        ).fetchone()
        if row:
            return int(row[0])
        if len(text) >= 6:
            rows = self.db.execute(
                "SELECT id FROM sessions WHERE sha256 LIKE ?", (text.lower() + "%",)
            ).fetchall()
            if len(rows) == 1:
                return int(rows[0][0])
        raise LibraryError(f"no session {text!r} in {self.path}")

    def session_bytes(self, sid: int) -> tuple[str, bytes]:
        row = self.db.execute("SELECT name, data FROM sessions WHERE id = ?", (sid,)).fetchone()
        if row is None:
            raise LibraryError(f"no session {sid} in {self.path}")
        return str(row[0]), bytes(row[1])

    def data_by_sha256(self, sha: str) -> bytes | None:
        """The stored file with this SHA-256, or None."""
        row = self.db.execute("SELECT data FROM sessions WHERE sha256 = ?", (sha,)).fetchone()
        return None if row is None else bytes(row[0])

    def session(self, ref: str | int) -> Session:
        name, data = self.session_bytes(self.resolve(ref))
        return read_session(data, name)

    def export(self, ref: str | int, fmt: str) -> str:
        """`hipcue logs export SESSION --csv|--json`."""
        s = self.session(ref)
        if fmt == "csv":
            return export_csv(s)
        if fmt == "json":
            return export_json(s)
        raise LibraryError(f"unknown export format {fmt!r} (csv or json)")

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("sessions", "steps", "cues", "faults", "summaries"):
            out[table] = int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out
