"""The local registry: which mock servers MockLoop started and which projects it generated.

One small SQLite database at `MOCKLOOP_HOME/registry.db` (or the `registry` schema of the
PostgreSQL database `MOCKLOOP_DATABASE_URL` names), shared by every process that starts, stops
or lists mocks (the client, the CLI, an MCP server), so it uses WAL and a busy timeout like the
mock store, and short-lived SQLite connections: a registry call is rare and a held connection
would pin the file for processes that live for days.

Rows are never deleted when a server stops: they are marked `stopped` and kept as history.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import orjson

from mockloop.store.base import StoreBase
from mockloop.store.database import Connection, Migration, upsert_sql

__all__ = ["REGISTRY_MIGRATIONS", "Registry"]

REGISTRY_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="started mock servers and generated projects",
        statements=(
            """
            CREATE TABLE servers (
                id TEXT PRIMARY KEY,
                pid INTEGER NOT NULL,
                process_start TEXT,
                host TEXT NOT NULL,
                business_port INTEGER NOT NULL,
                admin_port INTEGER,
                business_url TEXT NOT NULL,
                admin_url TEXT,
                docs_url TEXT NOT NULL,
                spec TEXT NOT NULL,
                title TEXT,
                project_path TEXT,
                status TEXT NOT NULL,
                started_at REAL NOT NULL,
                stopped_at REAL,
                log_file TEXT,
                command TEXT NOT NULL,
                notices TEXT NOT NULL
            )
            """,
            "CREATE INDEX servers_status ON servers (status)",
            """
            CREATE TABLE projects (
                path TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                spec_file TEXT NOT NULL,
                config_file TEXT NOT NULL,
                business_port INTEGER NOT NULL,
                admin_port INTEGER,
                features TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
        ),
    ),
)

_SERVER_COLUMNS = (
    "id",
    "pid",
    "process_start",
    "host",
    "business_port",
    "admin_port",
    "business_url",
    "admin_url",
    "docs_url",
    "spec",
    "title",
    "project_path",
    "status",
    "started_at",
    "stopped_at",
    "log_file",
    "command",
    "notices",
)
_JSON_COLUMNS = frozenset({"command", "notices", "features"})
_PROJECT_COLUMNS = (
    "path",
    "name",
    "spec_file",
    "config_file",
    "business_port",
    "admin_port",
    "features",
    "created_at",
    "updated_at",
)


def _row(columns: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(columns, values, strict=True))
    for name in _JSON_COLUMNS.intersection(row):
        row[name] = orjson.loads(row[name])
    return row


class Registry(StoreBase):
    """Read and write the registry database (default: `MOCKLOOP_HOME/registry.db`, or the
    `registry` schema when `MOCKLOOP_DATABASE_URL` names a PostgreSQL database; a path is that
    file). Short-lived connections (`StoreBase` "per_use").

    Every method may raise `StoreError` when the database cannot be opened, migrated, read or
    written.
    """

    NAME = "registry"
    TITLE = "server registry"
    FILE = "registry.db"
    MIGRATIONS = REGISTRY_MIGRATIONS

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with self._transaction(what, write=True) as conn:
            yield conn

    # -- servers ----------------------------------------------------------------------------

    def add_server(self, row: dict[str, Any]) -> None:
        """Insert (or replace) one server row; every column of the servers table is required."""
        values = [
            orjson.dumps(row[c]).decode() if c in _JSON_COLUMNS else row[c] for c in _SERVER_COLUMNS
        ]
        with self._write("register a server") as conn:
            conn.execute(upsert_sql("servers", _SERVER_COLUMNS, ("id",)), values)

    def servers(self, *, statuses: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Server rows, newest first; only those with one of `statuses` when given."""
        sql = f"SELECT {', '.join(_SERVER_COLUMNS)} FROM servers"
        params: list[Any] = []
        if statuses:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            params.extend(statuses)
        sql += " ORDER BY started_at DESC, id"
        with self._connect("list servers") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_row(_SERVER_COLUMNS, tuple(r)) for r in rows]

    def set_status(self, server_id: str, status: str, *, only_if: str | None = None) -> bool:
        """Set a server's status (stamping `stopped_at` when stopped); True when a row changed.

        With `only_if`, the row changes only while its status is still that value, so two
        processes refreshing the registry at once cannot turn a stopped server stale again.
        """
        sql = "UPDATE servers SET status = ?, stopped_at = ? WHERE id = ?"
        params: list[Any] = [status, time.time() if status == "stopped" else None, server_id]
        if only_if is not None:
            sql += " AND status = ?"
            params.append(only_if)
        with self._write("update a server") as conn:
            return conn.execute(sql, params).rowcount > 0

    # -- projects ---------------------------------------------------------------------------

    def add_project(self, row: dict[str, Any]) -> None:
        """Record a generated project (keyed by its absolute path; regenerating updates it)."""
        now = time.time()
        values = {**row, "created_at": now, "updated_at": now}
        encoded = [
            orjson.dumps(values[c]).decode() if c in _JSON_COLUMNS else values[c]
            for c in _PROJECT_COLUMNS
        ]
        placeholders = ", ".join("?" for _ in _PROJECT_COLUMNS)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in _PROJECT_COLUMNS if c not in ("path", "created_at")
        )
        with self._write("record a project") as conn:
            conn.execute(
                f"INSERT INTO projects ({', '.join(_PROJECT_COLUMNS)}) VALUES ({placeholders}) "
                f"ON CONFLICT (path) DO UPDATE SET {updates}",
                encoded,
            )

    def projects(self) -> list[dict[str, Any]]:
        """Recorded projects, most recently generated first."""
        with self._connect("list projects") as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_PROJECT_COLUMNS)} FROM projects ORDER BY updated_at DESC"
            ).fetchall()
        return [_row(_PROJECT_COLUMNS, tuple(r)) for r in rows]

    def remove_project(self, path: str) -> bool:
        """Forget a project (its folder is gone); True when it was recorded."""
        with self._write("forget a project") as conn:
            return conn.execute("DELETE FROM projects WHERE path = ?", (path,)).rowcount > 0
