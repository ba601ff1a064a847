"""The audit store: an append-only, hash-chained table (`MOCKLOOP_HOME/audit.db`, or the `audit`
schema of the PostgreSQL database that `MOCKLOOP_DATABASE_URL` names).

Each record's `hash` is SHA-256 over the previous record's hash and the canonical JSON of its
own fields, so changing, inserting or deleting a row breaks the chain at that row. Retention
deletes the oldest rows and keeps the last deleted hash as the chain's anchor, so what remains
still verifies. Appends and retention hold the store's write lock (`Connection.begin_write`:
SQLite's `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so several processes can share one
trail and each append links to the one committed just before it.

One store keeps one connection, used by every thread of the process under a lock (a SQLite
connection opened with `check_same_thread=False`; a psycopg connection must not run two
threads' statements at once either). A connection found broken (PostgreSQL restarted) or
inherited across a fork is replaced by a new one on the next call.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import time
from typing import Any

import orjson
from pydantic import BaseModel

from mockloop.errors import ConfigError
from mockloop.store.base import StoreBase
from mockloop.store.database import Connection, Migration, upsert_sql

__all__ = ["AUDIT_MIGRATIONS", "FIELDS", "AuditStore", "AuditVerification"]

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
# `IF NOT EXISTS`: trails written before schema versions were recorded already have the tables.
AUDIT_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="the hash-chained audit trail and its retention anchor",
        statements=(
            """
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
            )
            """,
            "CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts)",
            "CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),
)
_STORE = "audit trail"


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


class AuditStore(StoreBase):
    """The audit trail at `path`: a SQLite file, a `Location`, or None for the default
    (`MOCKLOOP_DATABASE_URL`'s `audit` schema when set, else `MOCKLOOP_HOME/audit.db`).

    Opened in the constructor, so a bad location fails there and says so; one connection held
    for the store's life (`StoreBase` "held"); `close()` closes it and a later call opens a new
    one. Every method may raise `StoreError` (its message starts with the location) when the
    database cannot be opened, read or written.
    """

    NAME = "audit"
    TITLE = _STORE
    FILE = "audit.db"
    MIGRATIONS = AUDIT_MIGRATIONS
    CONNECTIONS = "held"
    OPEN_NOW = True
    REOPEN_AFTER_CLOSE = True

    def _use(self, what: str, *, write: bool) -> contextlib.AbstractContextManager[Connection]:
        """The connection, alone, in a transaction: holding the store's write lock when
        `write`, else one snapshot. A backend failure becomes a StoreError."""
        return self._transaction(what, write=write)

    @staticmethod
    def _meta(conn: Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM audit_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    # -- writing ----------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Append one record (fields of `FIELDS` but `id`); returns its id."""
        row = dict(record)
        if not isinstance(row["arguments"], str):
            row["arguments"] = orjson.dumps(row["arguments"], option=orjson.OPT_SORT_KEYS).decode()
        # REAL columns read back as floats: hash what will be read back, or verify would fail.
        row["ts"] = float(row["ts"])
        row["duration_ms"] = float(row["duration_ms"])
        with self._use("append to the audit trail", write=True) as conn:
            last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            if last:
                prev_hash, row["id"] = str(last[1]), int(last[0]) + 1
            else:
                # Empty (new, or emptied by retention): continue after the anchor.
                prev_hash = self._meta(conn, "anchor") or GENESIS
                row["id"] = int(self._meta(conn, "last_id") or 0) + 1
            conn.execute(
                f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) "
                f"VALUES ({', '.join('?' for _ in FIELDS)}, ?, ?)",
                (*(row[field] for field in FIELDS), prev_hash, _digest(prev_hash, row)),
            )
        return int(row["id"])

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
        with self._use("apply retention to the audit trail", write=True) as conn:
            cut = 0
            if max_age_days is not None:
                oldest_kept = time.time() - max_age_days * 86400
                row = conn.execute(
                    "SELECT MAX(id) FROM audit WHERE ts < ?", (oldest_kept,)
                ).fetchone()
                cut = max(cut, int(row[0] or 0))
            if max_records is not None:
                row = conn.execute(
                    "SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", (max_records,)
                ).fetchone()
                cut = max(cut, int(row[0]) if row else 0)
            if not cut:
                return 0
            last = conn.execute(
                "SELECT id, hash FROM audit WHERE id <= ? ORDER BY id DESC LIMIT 1", (cut,)
            ).fetchone()
            deleted = int(conn.execute("DELETE FROM audit WHERE id <= ?", (cut,)).rowcount)
            conn.executemany(
                upsert_sql("audit_meta", ("key", "value"), ("key",)),
                [("anchor", str(last[1])), ("last_id", str(last[0]))],
            )
        return deleted

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for field in ("operation", "face", "outcome", "session_id"):
            if filters.get(field) is not None:
                clauses.append(f"{field} = ?")
                params.append(str(filters[field]))
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
        session_id, time_from, time_to; a negative `limit` returns every record."""
        where, params = self._where(filters)
        order = "DESC" if newest_first else "ASC"
        page: list[Any] = [*params, offset]
        with self._use("read the audit trail", write=False) as conn:
            if limit < 0:
                bound = "-1" if conn.dialect == "sqlite" else "ALL"
            else:
                bound = "?"
                page.insert(len(params), limit)
            total = conn.execute(f"SELECT COUNT(*) FROM audit{where}", params).fetchone()
            rows = conn.execute(
                f"SELECT {', '.join(FIELDS)}, hash FROM audit{where} ORDER BY id {order} "
                f"LIMIT {bound} OFFSET ?",
                page,
            ).fetchall()
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
        with self._use("verify the audit trail", write=False) as conn:
            expected_prev = self._meta(conn, "anchor") or GENESIS
            rows = conn.execute(
                f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id"
            ).fetchall()
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
