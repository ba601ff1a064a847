"""The audit store: an append-only, hash-chained SQLite table (`MOCKLOOP_HOME/audit.db`).

Each record's `hash` is SHA-256 over the previous record's hash and the canonical JSON of its
own fields, so changing, inserting or deleting a row breaks the chain at that row. Retention
deletes the oldest rows and keeps the last deleted hash as the chain's anchor, so what remains
still verifies. Appends take SQLite's write lock (`BEGIN IMMEDIATE`), so several processes can
share one trail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from mockloop.errors import ConfigError, StoreError
from mockloop.store.migrations import enable_wal

__all__ = ["FIELDS", "AuditStore", "AuditVerification"]

GENESIS = "0" * 64
FIELDS = (
    "id",
    "ts",
    "operation",
    "face",
    "session_id",
    "arguments",
    "outcome",
    "error_class",
    "error",
    "duration_ms",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    operation TEXT NOT NULL,
    face TEXT NOT NULL,
    session_id TEXT,
    arguments TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error_class TEXT,
    error TEXT,
    duration_ms REAL NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _digest(prev_hash: str, row: dict[str, Any]) -> str:
    canonical = orjson.dumps([row[field] for field in FIELDS], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()


class AuditVerification(BaseModel):
    """What verifying the chain found."""

    ok: bool
    checked: int
    first_id: int | None = None
    last_id: int | None = None
    broken_id: int | None = None
    reason: str | None = None


class AuditStore:
    """The audit trail in `path`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=10
            )
            enable_wal(self._conn)
            self._conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the audit store {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            self._conn.close()

    def _anchor(self) -> str:
        row = self._conn.execute("SELECT value FROM audit_meta WHERE key = 'anchor'").fetchone()
        return row[0] if row else GENESIS

    # -- writing ----------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Append one record (fields of `FIELDS` but `id`); returns its id."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    last = self._conn.execute(
                        "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                    prev_hash = last[1] if last else self._anchor()
                    row = {**record, "id": (last[0] + 1) if last else self._next_after_anchor()}
                    row["arguments"] = (
                        row["arguments"]
                        if isinstance(row["arguments"], str)
                        else orjson.dumps(row["arguments"], option=orjson.OPT_SORT_KEYS).decode()
                    )
                    values = [row[field] for field in FIELDS]
                    self._conn.execute(
                        f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) "
                        f"VALUES ({', '.join('?' for _ in FIELDS)}, ?, ?)",
                        (*values, prev_hash, _digest(prev_hash, row)),
                    )
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"cannot append to the audit store {self.path}: {exc}") from None
            return int(row["id"])

    def _next_after_anchor(self) -> int:
        row = self._conn.execute("SELECT value FROM audit_meta WHERE key = 'last_id'").fetchone()
        return int(row[0]) + 1 if row else 1

    def apply_retention(
        self, *, max_age_days: float | None = None, max_records: int | None = None
    ) -> int:
        """Delete records older than `max_age_days` and beyond the newest `max_records`."""
        if max_age_days is None and max_records is None:
            raise ConfigError("give max_age_days, max_records or both")
        if max_age_days is not None and max_age_days < 0:
            raise ConfigError(f"max_age_days={max_age_days} must be 0 or more")
        if max_records is not None and max_records < 0:
            raise ConfigError(f"max_records={max_records} must be 0 or more")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                cut = 0
                if max_age_days is not None:
                    oldest_kept = time.time() - max_age_days * 86400
                    row = self._conn.execute(
                        "SELECT MAX(id) FROM audit WHERE ts < ?", (oldest_kept,)
                    ).fetchone()
                    cut = max(cut, row[0] or 0)
                if max_records is not None:
                    row = self._conn.execute(
                        "SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", (max_records,)
                    ).fetchone()
                    cut = max(cut, row[0] if row else 0)
                deleted = 0
                if cut:
                    last = self._conn.execute(
                        "SELECT id, hash FROM audit WHERE id <= ? ORDER BY id DESC LIMIT 1", (cut,)
                    ).fetchone()
                    deleted = self._conn.execute("DELETE FROM audit WHERE id <= ?", (cut,)).rowcount
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO audit_meta VALUES (?, ?)",
                        [("anchor", last[1]), ("last_id", str(last[0]))],
                    )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise StoreError(f"audit retention failed on {self.path}: {exc}") from None
            return deleted

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for field in ("operation", "face", "outcome", "session_id"):
            if filters.get(field) is not None:
                clauses.append(f"{field} = ?")
                params.append(filters[field])
        if filters.get("time_from") is not None:
            clauses.append("ts >= ?")
            params.append(float(filters["time_from"]))
        if filters.get("time_to") is not None:
            clauses.append("ts <= ?")
            params.append(float(filters["time_to"]))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def query(
        self, *, limit: int = 100, offset: int = 0, newest_first: bool = True, **filters: Any
    ) -> tuple[int, list[dict[str, Any]]]:
        """(matching count, one page of records) for filters operation, face, outcome,
        session_id, time_from, time_to."""
        where, params = self._where(filters)
        order = "DESC" if newest_first else "ASC"
        with self._lock:
            try:
                total = self._conn.execute(f"SELECT COUNT(*) FROM audit{where}", params).fetchone()
                rows = self._conn.execute(
                    f"SELECT {', '.join(FIELDS)}, hash FROM audit{where} ORDER BY id {order} "
                    "LIMIT ? OFFSET ?",
                    (*params, limit, offset),
                ).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the audit store {self.path}: {exc}") from None
        records = []
        for row in rows:
            record = dict(zip((*FIELDS, "hash"), row, strict=True))
            record["arguments"] = orjson.loads(record["arguments"])
            records.append(record)
        return int(total[0]), records

    def export(self, fmt: str, **filters: Any) -> tuple[str, int]:
        """(text, record count) of every matching record, oldest first, as JSONL or CSV."""
        if fmt not in ("jsonl", "csv"):
            raise ConfigError(f"export format {fmt!r}: use 'jsonl' or 'csv'")
        _, records = self.query(limit=-1, newest_first=False, **filters)
        if fmt == "jsonl":
            text = "".join(orjson.dumps(r).decode() + "\n" for r in records)
            return text, len(records)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[*FIELDS, "hash"], lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "arguments": orjson.dumps(record["arguments"]).decode()})
        return out.getvalue(), len(records)

    def verify(self) -> AuditVerification:
        """Recompute the chain; name the first record whose hash or link does not hold."""
        with self._lock:
            try:
                expected_prev = self._anchor()
                rows = self._conn.execute(
                    f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id"
                ).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the audit store {self.path}: {exc}") from None
        checked = 0
        first = rows[0][0] if rows else None
        for values in rows:
            row: dict[str, Any] = dict(zip((*FIELDS, "prev_hash", "hash"), values, strict=True))
            checked += 1
            if row["prev_hash"] != expected_prev:
                return AuditVerification(
                    ok=False,
                    checked=checked,
                    first_id=first,
                    last_id=row["id"],
                    broken_id=row["id"],
                    reason=f"record {row['id']} does not link to the record before it: a "
                    "record was removed or inserted before it, or its link was edited",
                )
            if _digest(row["prev_hash"], row) != row["hash"]:
                return AuditVerification(
                    ok=False,
                    checked=checked,
                    first_id=first,
                    last_id=row["id"],
                    broken_id=row["id"],
                    reason=f"record {row['id']} was changed after it was written "
                    "(its content no longer matches its hash)",
                )
            expected_prev = row["hash"]
        return AuditVerification(
            ok=True, checked=checked, first_id=first, last_id=rows[-1][0] if rows else None
        )
