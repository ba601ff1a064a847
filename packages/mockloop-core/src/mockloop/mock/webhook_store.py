"""Persistence of a mock's webhooks and their delivery history.

A small SQLite database (`webhooks.db`) beside the mock's request log: webhooks are few and
deliveries are written by one thread, so one lock-guarded connection is enough. History is
bounded to the newest `history_limit` deliveries.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from mockloop.errors import StoreError
from mockloop.store.migrations import enable_wal

__all__ = ["WebhookStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT,
    active INTEGER NOT NULL,
    created_at REAL NOT NULL
);
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
);
CREATE INDEX IF NOT EXISTS deliveries_webhook ON deliveries (webhook_id, seq);
"""
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


class WebhookStore:
    """Webhooks and deliveries in `path` (created if missing)."""

    def __init__(self, path: Path, *, history_limit: int = 10_000) -> None:
        self.path = Path(path)
        self.history_limit = history_limit
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            enable_wal(self._conn)
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the webhook store {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            self._conn.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"webhook store {self.path}: {exc}") from None

    @staticmethod
    def _hook(row: tuple[Any, ...], include_secret: bool) -> dict[str, Any]:
        hook = {
            "id": row[0],
            "url": row[1],
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
        now = time.time()
        self._run(
            "INSERT INTO webhooks VALUES (?, ?, ?, ?, ?, ?)",
            (webhook_id, url, orjson.dumps(events).decode(), secret, int(active), now),
        )
        found = self.get_webhook(webhook_id)
        assert found is not None
        return found

    def get_webhook(
        self, webhook_id: str, *, include_secret: bool = False
    ) -> dict[str, Any] | None:
        """One webhook, or None."""
        rows = self._run("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return self._hook(rows[0], include_secret) if rows else None

    def list_webhooks(self, *, include_secret: bool = False) -> list[dict[str, Any]]:
        """Every webhook, oldest first."""
        rows = self._run("SELECT * FROM webhooks ORDER BY created_at, id")
        return [self._hook(row, include_secret) for row in rows]

    def delete_webhook(self, webhook_id: str) -> bool:
        """Remove a webhook (its history stays); False when unknown."""
        with self._lock:
            try:
                cursor = self._conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
            except sqlite3.Error as exc:
                raise StoreError(f"webhook store {self.path}: {exc}") from None
            return cursor.rowcount > 0

    def add_delivery(self, record: dict[str, Any]) -> None:
        """Append a delivery outcome, keeping the newest `history_limit`."""
        self.add_deliveries([record])

    def add_deliveries(self, records: list[dict[str, Any]]) -> None:
        """Append delivery outcomes in one transaction, keeping the newest `history_limit`."""
        with self._lock:
            try:
                with self._conn:  # one transaction (BEGIN ... COMMIT, ROLLBACK on error)
                    self._conn.execute("BEGIN IMMEDIATE")
                    self._conn.executemany(
                        f"INSERT INTO deliveries ({', '.join(_DELIVERY_COLUMNS)}) VALUES "
                        f"({', '.join('?' for _ in _DELIVERY_COLUMNS)})",
                        [
                            tuple(record[column] for column in _DELIVERY_COLUMNS)
                            for record in records
                        ],
                    )
                    self._conn.execute(
                        "DELETE FROM deliveries WHERE seq <= (SELECT MAX(seq) FROM deliveries) - ?",
                        (self.history_limit,),
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"webhook store {self.path}: {exc}") from None

    def deliveries(
        self, *, webhook_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        where, params = ("WHERE webhook_id = ?", (webhook_id,)) if webhook_id else ("", ())
        rows = self._run(
            f"SELECT {', '.join(_DELIVERY_COLUMNS)} FROM deliveries {where} "
            "ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [dict(zip(_DELIVERY_COLUMNS, row, strict=True)) for row in rows]
