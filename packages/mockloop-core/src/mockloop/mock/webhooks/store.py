"""Persistence of a mock's webhooks and their delivery history.

A small SQLite database (`webhooks.db`) beside the mock's request log or, with
`MOCKLOOP_DATABASE_URL` set, the mock's own schema in that PostgreSQL database (the runtime
passes the `Location`). Webhooks are few and deliveries are written by one thread per process,
so one connection guarded by a lock is enough: the threads' calls run one at a time (a SQLite
connection opened with `check_same_thread=False`; a psycopg connection must not run two
threads' statements at once either). Deliveries are appended holding the store's write lock,
so replicas of one mock sharing the PostgreSQL schema append and trim in turn. A PostgreSQL
connection found broken, or one inherited across a fork, is replaced on the next call.
History is bounded to the newest `history_limit` deliveries.

What is read back for people (a webhook without its secret, delivery records) has the
credentials of its URL and error text redacted (`mockloop.redaction`); the dispatcher reads
the real URL with `include_secret=True`.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import orjson

from mockloop.redaction import redact_text
from mockloop.store.base import StoreBase
from mockloop.store.database import Connection, Location, Migration

__all__ = ["WEBHOOK_MIGRATIONS", "WebhookStore"]

# `IF NOT EXISTS`: stores written before schema versions were recorded already have the tables.
WEBHOOK_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="webhooks and their delivery history",
        statements=(
            """
            CREATE TABLE IF NOT EXISTS webhooks (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                secret TEXT,
                active INTEGER NOT NULL,
                created_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                event TEXT NOT NULL,
                url TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                response_status INTEGER,
                error TEXT,
                ts REAL NOT NULL,
                duration_ms REAL NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, seq)",
        ),
    ),
)
_HOOK_COLUMNS = ("id", "url", "events", "secret", "active", "created_at")
_DELIVERY_COLUMNS = (
    "id",
    "webhook_id",
    "event",
    "url",
    "status",
    "attempts",
    "response_status",
    "error",
    "ts",
    "duration_ms",
)


class WebhookStore(StoreBase):
    """Webhooks and deliveries at `path`: a SQLite file (created if missing) or a `Location`.

    Opened in the constructor, so a bad location fails there and says so; one connection held
    for the store's life (`StoreBase` "held"); after `close()` every call raises StoreError.
    Every method may raise `StoreError` (its message starts with the location) when the
    database cannot be opened, read or written, or the store was closed.
    """

    NAME = "webhooks"
    TITLE = "webhook store"
    MIGRATIONS = WEBHOOK_MIGRATIONS
    CONNECTIONS = "held"
    OPEN_NOW = True

    def __init__(
        self,
        path: str | os.PathLike[str] | Location,
        *,
        history_limit: int = 10_000,
        busy_timeout: float = 10.0,
    ) -> None:
        self.history_limit = history_limit
        super().__init__(path, busy_timeout=busy_timeout)

    def _use(
        self, what: str, *, write: bool = False
    ) -> contextlib.AbstractContextManager[Connection]:
        """The connection, alone, in a transaction (holding the write lock when `write`); a
        backend failure becomes a StoreError."""
        return self._transaction(what, write=write)

    def _rows(self, what: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._use(what) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]

    @staticmethod
    def _hook(row: tuple[Any, ...], include_secret: bool) -> dict[str, Any]:
        hook = {
            "id": row[0],
            "url": row[1] if include_secret else redact_text(row[1]),
            "events": orjson.loads(row[2]),
            "active": bool(row[4]),
            "created_at": row[5],
            "has_secret": row[3] is not None,
        }
        if include_secret:
            hook["secret"] = row[3]
        return hook

    def add_webhook(
        self, *, webhook_id: str, url: str, events: list[str], secret: str | None, active: bool
    ) -> dict[str, Any]:
        """Store one webhook and return it (without its secret)."""
        with self._use("add a webhook", write=True) as conn:
            conn.execute(
                f"INSERT INTO webhooks ({', '.join(_HOOK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                (webhook_id, url, orjson.dumps(events).decode(), secret, int(active), time.time()),
            )
        found = self.get_webhook(webhook_id)
        assert found is not None
        return found

    def get_webhook(
        self, webhook_id: str, *, include_secret: bool = False
    ) -> dict[str, Any] | None:
        """One webhook, or None."""
        rows = self._rows(
            "read a webhook",
            f"SELECT {', '.join(_HOOK_COLUMNS)} FROM webhooks WHERE id = ?",
            (webhook_id,),
        )
        return self._hook(rows[0], include_secret) if rows else None

    def list_webhooks(self, *, include_secret: bool = False) -> list[dict[str, Any]]:
        """Every webhook, oldest first."""
        rows = self._rows(
            "list webhooks",
            f"SELECT {', '.join(_HOOK_COLUMNS)} FROM webhooks ORDER BY created_at, id",
        )
        return [self._hook(row, include_secret) for row in rows]

    def delete_webhook(self, webhook_id: str) -> bool:
        """Remove a webhook (its history stays); False when unknown."""
        with self._use("delete a webhook", write=True) as conn:
            return conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,)).rowcount > 0

    def add_delivery(self, record: dict[str, Any]) -> None:
        """Append a delivery outcome, keeping the newest `history_limit`."""
        self.add_deliveries([record])

    def add_deliveries(self, records: list[dict[str, Any]]) -> None:
        """Append delivery outcomes in one transaction, keeping the newest `history_limit`."""
        if not records:
            return
        with self._use("record webhook deliveries", write=True) as conn:
            conn.executemany(
                f"INSERT INTO deliveries ({', '.join(_DELIVERY_COLUMNS)}) VALUES "
                f"({', '.join('?' for _ in _DELIVERY_COLUMNS)})",
                [tuple(record[column] for column in _DELIVERY_COLUMNS) for record in records],
            )
            conn.execute(
                "DELETE FROM deliveries WHERE seq <= (SELECT MAX(seq) FROM deliveries) - ?",
                (self.history_limit,),
            )

    def deliveries(
        self, *, webhook_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        where, params = ("WHERE webhook_id = ?", (webhook_id,)) if webhook_id else ("", ())
        rows = self._rows(
            "read webhook deliveries",
            f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM deliveries {where} "
            "ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        records: list[dict[str, Any]] = [
            dict(zip(_DELIVERY_COLUMNS, row, strict=True)) for row in rows
        ]
        for record in records:  # rows written before redaction reached the history
            record["url"] = redact_text(record["url"])
            if record["error"]:
                record["error"] = redact_text(record["error"])
        return records
