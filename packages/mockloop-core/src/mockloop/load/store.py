"""Load runs kept for later analysis: `MOCKLOOP_HOME/load_runs.db`, or the `load_runs` schema
of the PostgreSQL database `MOCKLOOP_DATABASE_URL` names.

One row per run: its settings, status, latest progress and, once done, the whole result
(including the encoded HDR histogram, so later aggregation across runs stays exact). A
store apart from the mock's: runs belong to the client that drove them, not to any one mock,
and several processes (a CLI, an MCP server) may read them while one writes.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

from mockloop.store.base import StoreBase
from mockloop.store.database import Migration, upsert_sql

__all__ = ["LOAD_MIGRATIONS", "LoadRunStore"]

LOAD_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="load test runs",
        statements=(
            """
            CREATE TABLE load_runs (
                id TEXT PRIMARY KEY,
                status TEXT NOT NULL,
                server_url TEXT NOT NULL,
                engine TEXT NOT NULL,
                started_at REAL NOT NULL,
                finished_at REAL,
                updated_at REAL NOT NULL,
                pid INTEGER NOT NULL,
                progress TEXT,
                result TEXT NOT NULL
            )
            """,
            "CREATE INDEX load_runs_started ON load_runs (started_at)",
        ),
    ),
)
_COLUMNS = ("id", "status", "server_url", "engine", "started_at", "finished_at", "updated_at")
_COLUMNS += ("pid", "progress", "result")


class LoadRunStore(StoreBase):
    """Read and write load runs (default: `MOCKLOOP_HOME/load_runs.db`, or the `load_runs`
    schema when `MOCKLOOP_DATABASE_URL` names a PostgreSQL database; a path is that file).
    Short-lived connections (`StoreBase` "per_use").

    Every method may raise `StoreError` when the database cannot be opened, read or written.
    """

    NAME = "load_runs"
    TITLE = "load run store"
    FILE = "load_runs.db"
    MIGRATIONS = LOAD_MIGRATIONS

    def save(self, result: dict[str, Any], progress: dict[str, Any] | None = None) -> None:
        """Insert or replace a run from its result's JSON form."""
        now = time.time()
        with self._connect("save a load run") as conn:
            conn.execute(
                upsert_sql("load_runs", _COLUMNS, ("id",)),
                (
                    result["run_id"],
                    result["status"],
                    result["server_url"],
                    result.get("engine", "native"),
                    result["started_at"],
                    result.get("finished_at"),
                    now,
                    os.getpid(),
                    orjson.dumps(progress).decode() if progress is not None else None,
                    orjson.dumps(result).decode(),
                ),
            )

    def update_progress(self, run_id: str, progress: dict[str, Any]) -> None:
        """Record a running run's latest progress."""
        with self._connect("record load progress") as conn:
            conn.execute(
                "UPDATE load_runs SET progress = ?, updated_at = ? WHERE id = ?",
                (orjson.dumps(progress).decode(), time.time(), run_id),
            )

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run (its columns, with `result` and `progress` decoded), or None."""
        with self._connect("read a load run") as conn:
            row = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM load_runs WHERE id = ?", (run_id,)
            ).fetchone()
        return self._decode(row) if row else None

    def list(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first (only those with `status` when given)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM load_runs"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY started_at DESC LIMIT ?"
        params.append(limit)
        with self._connect("list load runs") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [self._decode(row) for row in rows]

    @staticmethod
    def _decode(row: tuple[Any, ...]) -> dict[str, Any]:
        data: dict[str, Any] = dict(zip(_COLUMNS, row, strict=True))
        data["result"] = orjson.loads(data["result"])
        data["progress"] = orjson.loads(data["progress"]) if data["progress"] else None
        return data
