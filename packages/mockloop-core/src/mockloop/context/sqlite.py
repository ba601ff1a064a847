"""The context store on SQL: SQLite (`MOCKLOOP_HOME/contexts.db`, the embedded default) or
PostgreSQL (the `contexts` schema of the database `MOCKLOOP_DATABASE_URL` names).

Concurrency model (the same on both backends; see `mockloop.context.sqlite_transactions`):

* One connection per thread (opened on first use, never reused after `fork()`). On SQLite in
  WAL mode, a reader never waits for a writer. Reads of several rows run in one read
  transaction, so they see one committed state (`REPEATABLE READ` on PostgreSQL).
* Every change runs under the store's write lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's
  advisory lock on the schema): the writer takes it before it reads the row it changes, so the
  read-modify-write is atomic across processes, and the `UPDATE` still checks the version it
  read. A lock held by another process is waited for (busy timeout); a busy error past that
  is retried with backoff until the deadline.
* A process killed mid-update (SIGKILL) leaves the last committed row and its history entry:
  both are written in one transaction, which neither backend shows unfinished. SQLite's lock
  goes with the process; PostgreSQL ends the killed client's session (its transaction and
  lock with it) when it sees the socket closed. SQLite's `synchronous=NORMAL` in WAL mode is
  durable across process crashes; only a power loss could drop the last commits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mockloop.context.changes import diff_data, plan_restore, plan_update
from mockloop.context.records import (
    CONTEXT_TYPES,
    GLOBAL_CONTEXT_ID,
    LIST_STATUSES,
    Actor,
    ContextRecord,
    HistoryRecord,
    SnapshotRecord,
    new_context_id,
    new_snapshot_id,
)
from mockloop.context.sqlite_schema import CONTEXT_MIGRATIONS
from mockloop.context.sqlite_transactions import StoreTransactions, VersionMoved, sqlite_setup
from mockloop.context.store import ContextStore, default_context_store_path
from mockloop.context.values import decode_value, dumps, encode_value, loads
from mockloop.errors import ConfigError
from mockloop.store.base import StoreBase
from mockloop.store.database import Connection, Location, Migration

__all__ = ["CONTEXT_MIGRATIONS", "SQLContextStore", "SQLiteContextStore", "open_context_store"]


_CONTEXT_COLUMNS = (
    "id, type, name, parent_id, status, attributes, data, version, created_at, updated_at, "
    "expires_at, created_by"
)
_HISTORY_COLUMNS = (
    "context_id, version, at, action, changed_keys, changes, operation, face, session_id, detail"
)
_SNAPSHOT_COLUMNS = "id, context_id, name, version, data, created_at, face"


class SQLContextStore(StoreBase):
    """Contexts, their history and snapshots in a SQLite file (WAL mode) or a PostgreSQL schema.

    One connection per thread (`StoreBase` "per_thread"), opened and migrated in the
    constructor; `mockloop.context.sqlite_transactions` runs the transactions on them.

    Args:
        location: a SQLite file (missing parent folders are created), a store URL, a
            `Location`, or None: the `contexts` schema of `MOCKLOOP_DATABASE_URL` when it is
            set, else `MOCKLOOP_HOME/contexts.db`.
        busy_timeout: seconds a change waits for another writer before failing with
            `StoreError`.
        migrations: the schema steps to apply on open.

    Raises:
        ConfigError: the path is empty or `:memory:` (each thread opens its own connection),
            or PostgreSQL is asked for without psycopg installed.
        StoreError: the database cannot be opened, is not a database, or cannot be migrated.
    """

    NAME = "contexts"
    TITLE = "context store"
    FILE = "contexts.db"
    MIGRATIONS = CONTEXT_MIGRATIONS
    CONNECTIONS = "per_thread"
    OPEN_NOW = True

    def __init__(
        self,
        location: str | os.PathLike[str] | Location | None = None,
        *,
        busy_timeout: float = 10.0,
        migrations: tuple[Migration, ...] = CONTEXT_MIGRATIONS,
    ) -> None:
        super().__init__(location, busy_timeout=busy_timeout, migrations=migrations)
        self._transactions = StoreTransactions(self._connect, self.location, busy_timeout)

    setup_connection = staticmethod(sqlite_setup)

    @classmethod
    def _default_path(cls) -> Path:
        return default_context_store_path()

    def close(self) -> None:
        """Close every connection this store opened, in every thread (idempotent).

        A call running in another thread finishes first; later calls raise `StoreError`.
        """
        super().close()

    def __enter__(self) -> SQLContextStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- rows -------------------------------------------------------------------------------

    @staticmethod
    def _record(row: Sequence[Any], children: Sequence[str] = ()) -> ContextRecord:
        (cid, ctype, name, parent, status, attributes, data, version, created, updated) = row[:10]
        expires_at, created_by = row[10], row[11]
        return ContextRecord(
            id=cid,
            type=ctype,
            name=name,
            stored_status=status,
            parent_id=parent,
            attributes=decode_value(loads(attributes)),
            data=decode_value(loads(data)),
            version=int(version),
            created_at=created,
            updated_at=updated,
            expires_at=expires_at,
            created_by=created_by,
            children=tuple(children),
        )

    @staticmethod
    def _history(row: Sequence[Any]) -> HistoryRecord:
        cid, version, at, action, keys, changes, operation, face, session_id, detail = row
        return HistoryRecord(
            context_id=cid,
            version=int(version),
            at=at,
            action=action,
            changed_keys=tuple(loads(keys)),
            changes=decode_value(loads(changes)),
            operation=operation,
            face=face,
            session_id=session_id,
            detail=decode_value(loads(detail)),
        )

    @staticmethod
    def _snapshot(row: Sequence[Any]) -> SnapshotRecord:
        sid, cid, name, version, data, created_at, face = row
        return SnapshotRecord(
            id=sid,
            context_id=cid,
            name=name,
            version=int(version),
            data=decode_value(loads(data)),
            created_at=created_at,
            face=face,
        )

    @staticmethod
    def _row(conn: Connection, context_id: str) -> tuple[Any, ...] | None:
        return conn.execute(
            f"SELECT {_CONTEXT_COLUMNS} FROM contexts WHERE id = ?", (context_id,)
        ).fetchone()

    @staticmethod
    def _children(conn: Connection, context_id: str) -> list[str]:
        rows = conn.execute(
            "SELECT id FROM contexts WHERE parent_id = ? ORDER BY created_at, id", (context_id,)
        ).fetchall()
        return [row[0] for row in rows]

    def _existing(self, conn: Connection, context_id: str) -> tuple[Any, ...]:
        row = self._row(conn, context_id)
        if row is None:
            raise ConfigError(
                f"no context {context_id!r}: use the context_id a create_*_context call "
                "returned (list_contexts_by_type lists them)"
            )
        return row

    @staticmethod
    def _append_history(
        conn: Connection,
        context_id: str,
        version: int,
        now: float,
        action: str,
        keys: Sequence[str],
        changes: dict[str, Any],
        actor: Actor | None,
        detail: dict[str, Any] | None = None,
    ) -> HistoryRecord:
        actor = actor or Actor()
        conn.execute(
            f"INSERT INTO context_history ({_HISTORY_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                context_id,
                version,
                now,
                action,
                dumps(list(keys)),
                dumps(changes),
                actor.operation or None,
                actor.face,
                actor.session_id,
                dumps(detail or {}),
            ),
        )
        return HistoryRecord(
            context_id=context_id,
            version=version,
            at=now,
            action=action,
            changed_keys=tuple(keys),
            changes=decode_value(changes),
            operation=actor.operation or None,
            face=actor.face,
            session_id=actor.session_id,
            detail=dict(detail or {}),
        )

    # -- contexts ---------------------------------------------------------------------------

    def create(
        self,
        context_type: str,
        name: str,
        *,
        attributes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        parent_id: str | None = None,
        expires_at: float | None = None,
        actor: Actor | None = None,
    ) -> ContextRecord:
        """Create a context at version 1 with a "create" history entry.

        Raises:
            ConfigError: unknown type or parent, or data that cannot be stored.
        """
        if context_type not in CONTEXT_TYPES:
            raise ConfigError(
                f"context type {context_type!r} is unknown; use one of {', '.join(CONTEXT_TYPES)}"
            )
        encoded_attributes = encode_value(attributes or {}, "attributes")
        encoded_data = encode_value(data or {}, "data")
        new_id = new_context_id(context_type)

        def work(conn: Connection) -> ContextRecord:
            if parent_id is not None and self._row(conn, parent_id) is None:
                raise ConfigError(
                    f"parent_context {parent_id!r} is no known context: give the context_id a "
                    "create_*_context call returned, or None"
                )
            now = time.time()
            row = (
                new_id,
                context_type,
                name,
                parent_id,
                "active",
                dumps(encoded_attributes),
                dumps(encoded_data),
                1,
                now,
                now,
                expires_at,
                (actor or Actor()).face,
            )
            conn.execute(
                f"INSERT INTO contexts ({_CONTEXT_COLUMNS}) VALUES ({', '.join('?' * len(row))})",
                row,
            )
            keys, changes = diff_data({}, encoded_data)
            self._append_history(conn, new_id, 1, now, "create", keys, changes, actor)
            return self._record(row)

        return self._transactions.write(f"create {context_type} context {name!r}", work)

    def get(self, context_id: str) -> ContextRecord | None:
        """One context with its children's ids (one consistent read), or None."""

        def work(conn: Connection) -> ContextRecord | None:
            row = self._row(conn, context_id)
            return None if row is None else self._record(row, self._children(conn, context_id))

        return self._transactions.read(f"read context {context_id!r}", work)

    def list(
        self, context_type: str, *, status: str | None = None, limit: int = 1000
    ) -> list[ContextRecord]:
        """Contexts of one type, newest first, optionally only those of one status.

        Raises:
            ConfigError: unknown type or status.
        """
        if context_type not in CONTEXT_TYPES:
            raise ConfigError(
                f"context_type={context_type!r} is unknown; use one of {', '.join(CONTEXT_TYPES)}"
            )
        sql = f"SELECT {_CONTEXT_COLUMNS} FROM contexts WHERE type = ?"
        params: list[Any] = [context_type]
        now = time.time()
        if status is None:
            pass
        elif status == "expired":
            sql += " AND status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?"
            params.append(now)
        elif status == "active":
            sql += " AND status = 'active' AND (expires_at IS NULL OR expires_at > ?)"
            params.append(now)
        elif status in LIST_STATUSES:
            sql += " AND status = ?"
            params.append(status)
        else:
            raise ConfigError(
                f"status={status!r} is unknown; use one of {', '.join(LIST_STATUSES)}"
            )
        sql += " ORDER BY created_at DESC, id LIMIT ?"
        params.append(limit)

        def work(conn: Connection) -> list[ContextRecord]:
            rows = conn.execute(sql, params).fetchall()
            children: dict[str, list[str]] = {row[0]: [] for row in rows}
            ids = list(children)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for child, parent in conn.execute(
                    f"SELECT id, parent_id FROM contexts WHERE parent_id IN ({marks})"
                    " ORDER BY created_at, id",
                    chunk,
                ):
                    children[parent].append(child)
            return [self._record(row, children[row[0]]) for row in rows]

        return self._transactions.read(f"list {context_type} contexts", work)

    def update(
        self,
        context_id: str,
        data: dict[str, Any],
        *,
        merge: bool = True,
        status: str | None = None,
        expected_version: int | None = None,
        actor: Actor | None = None,
    ) -> tuple[ContextRecord, HistoryRecord | None]:
        """Apply one change in a write transaction with the version check (see `plan_update`).

        Raises:
            ConfigError: unknown context, refused change or data that cannot be stored.
            VersionConflictError: `expected_version` is stale.
        """
        encoded = encode_value(data, "data")
        if not isinstance(encoded, dict):
            raise ConfigError(f"data must be an object (a dict), got {type(data).__name__}")

        def work(conn: Connection) -> tuple[ContextRecord, HistoryRecord | None]:
            row = self._existing(conn, context_id)
            version = int(row[7])
            now = time.time()
            plan = plan_update(
                context_id,
                current=loads(row[6]),
                stored_status=row[4],
                expires_at=row[10],
                version=version,
                data=encoded,
                merge=merge,
                status=status,
                expected_version=expected_version,
                now=now,
            )
            if not plan.changed:
                return self._record(row, self._children(conn, context_id)), None
            text = dumps(plan.data)
            moved = conn.execute(
                "UPDATE contexts SET data = ?, status = ?, version = ?, updated_at = ?"
                " WHERE id = ? AND version = ?",
                (text, plan.status, version + 1, now, context_id, version),
            )
            if moved.rowcount != 1:
                raise VersionMoved
            detail = {"status": plan.status} if plan.status != row[4] else {}
            entry = self._append_history(
                conn,
                context_id,
                version + 1,
                now,
                plan.action,
                plan.changed_keys,
                plan.changes,
                actor,
                detail,
            )
            new_row = (*row[:4], plan.status, row[5], text, version + 1, row[8], now, *row[10:])
            return self._record(new_row, self._children(conn, context_id)), entry

        return self._transactions.write(f"update context {context_id!r}", work)

    def global_context(self) -> ContextRecord:
        """The global context, created empty on first use (by whichever process is first)."""
        record = self.get(GLOBAL_CONTEXT_ID)
        if record is not None:
            return record

        def work(conn: Connection) -> None:
            now = time.time()
            inserted = conn.execute(
                f"INSERT INTO contexts ({_CONTEXT_COLUMNS})"
                " VALUES (?, 'global', 'global', NULL, 'active', '{}', '{}', 1, ?, ?, NULL, NULL)"
                " ON CONFLICT (id) DO NOTHING",
                (GLOBAL_CONTEXT_ID, now, now),
            )
            if inserted.rowcount == 1:
                self._append_history(conn, GLOBAL_CONTEXT_ID, 1, now, "create", (), {}, None)

        self._transactions.write("create the global context", work)
        record = self.get(GLOBAL_CONTEXT_ID)
        assert record is not None
        return record

    # -- snapshots --------------------------------------------------------------------------

    def create_snapshot(
        self, context_id: str, name: str | None = None, *, actor: Actor | None = None
    ) -> SnapshotRecord:
        """Copy the context's data and version into a new snapshot (expired and archived
        contexts too: a snapshot only reads).

        Raises:
            ConfigError: unknown context.
        """

        def work(conn: Connection) -> SnapshotRecord:
            row = self._existing(conn, context_id)
            version = int(row[7])
            snapshot = (
                new_snapshot_id(),
                context_id,
                name or f"version_{version}",
                version,
                row[6],
                time.time(),
                (actor or Actor()).face,
            )
            conn.execute(
                f"INSERT INTO context_snapshots ({_SNAPSHOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                snapshot,
            )
            return self._snapshot(snapshot)

        return self._transactions.write(f"snapshot context {context_id!r}", work)

    def get_snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        """One snapshot, or None."""

        def work(conn: Connection) -> SnapshotRecord | None:
            row = conn.execute(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM context_snapshots WHERE id = ?", (snapshot_id,)
            ).fetchone()
            return None if row is None else self._snapshot(row)

        return self._transactions.read(f"read snapshot {snapshot_id!r}", work)

    def list_snapshots(
        self, context_id: str | None = None, *, name: str | None = None
    ) -> list[SnapshotRecord]:
        """Snapshots of a context (or of all contexts), oldest first, optionally by name."""
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM context_snapshots"
        where: list[str] = []
        params: list[Any] = []
        if context_id is not None:
            where.append("context_id = ?")
            params.append(context_id)
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, id"

        def work(conn: Connection) -> list[SnapshotRecord]:
            return [self._snapshot(row) for row in conn.execute(sql, params)]

        return self._transactions.read("list snapshots", work)

    def _unknown_snapshot(self, snapshot_id: str, context_id: str | None) -> ConfigError:
        message = f"no snapshot {snapshot_id!r}"
        if context_id is not None:
            known = self.list_snapshots(context_id)
            listed = ", ".join(f"{s.id} ({s.name}, version {s.version})" for s in known)
            message += f"; snapshots of context {context_id!r}: {listed or 'none'}"
        else:
            named = self.list_snapshots(name=snapshot_id)
            if named:
                ids = ", ".join(f"{s.id} (context {s.context_id})" for s in named)
                message += f"; that is a snapshot name, restore by id: {ids}"
        return ConfigError(
            message + ". Give the snapshot_id that create_context_snapshot returned "
            "(get_context_data lists a context's snapshots)"
        )

    def restore_snapshot(
        self, snapshot_id: str, context_id: str | None = None, *, actor: Actor | None = None
    ) -> tuple[ContextRecord, SnapshotRecord, HistoryRecord]:
        """Replace a context's data with a snapshot's: its own context, or `context_id` (a
        context of the same type).

        Raises:
            ConfigError: unknown snapshot or context, a target of another type, or a target
                that expired or is archived.
        """

        def work(conn: Connection) -> tuple[ContextRecord, SnapshotRecord, HistoryRecord]:
            found = conn.execute(
                f"SELECT {_SNAPSHOT_COLUMNS} FROM context_snapshots WHERE id = ?", (snapshot_id,)
            ).fetchone()
            if found is None:
                raise LookupError
            snapshot = self._snapshot(found)
            target_id = context_id or snapshot.context_id
            row = self._existing(conn, target_id)
            if target_id != snapshot.context_id:
                source = self._existing(conn, snapshot.context_id)
                if source[1] != row[1]:
                    raise ConfigError(
                        f"snapshot {snapshot_id!r} is of a {source[1]} context and "
                        f"{target_id!r} is a {row[1]} context: restore into a context of the "
                        "same type (or omit context_id to restore into the snapshot's own)"
                    )
            version = int(row[7])
            now = time.time()
            plan = plan_restore(
                target_id,
                current=loads(row[6]),
                stored_status=row[4],
                expires_at=row[10],
                snapshot_data=loads(found[4]),
                now=now,
            )
            text = dumps(plan.data)
            moved = conn.execute(
                "UPDATE contexts SET data = ?, version = ?, updated_at = ?"
                " WHERE id = ? AND version = ?",
                (text, version + 1, now, target_id, version),
            )
            if moved.rowcount != 1:
                raise VersionMoved
            detail = {
                "snapshot_id": snapshot.id,
                "snapshot_name": snapshot.name,
                "snapshot_version": snapshot.version,
                "source_context_id": snapshot.context_id,
            }
            entry = self._append_history(
                conn,
                target_id,
                version + 1,
                now,
                "restore",
                plan.changed_keys,
                plan.changes,
                actor,
                detail,
            )
            new_row = (*row[:6], text, version + 1, row[8], now, *row[10:])
            return self._record(new_row, self._children(conn, target_id)), snapshot, entry

        try:
            return self._transactions.write(f"restore snapshot {snapshot_id!r}", work)
        except LookupError:
            raise self._unknown_snapshot(snapshot_id, context_id) from None

    # -- history ----------------------------------------------------------------------------

    def history(self, context_id: str, *, limit: int = 100) -> list[HistoryRecord]:
        """The newest `limit` changes of a context, oldest first."""

        def work(conn: Connection) -> list[HistoryRecord]:
            rows = conn.execute(
                f"SELECT {_HISTORY_COLUMNS} FROM context_history WHERE context_id = ?"
                " ORDER BY version DESC LIMIT ?",
                (context_id, limit),
            ).fetchall()
            return [self._history(row) for row in reversed(rows)]

        return self._transactions.read(f"read the history of context {context_id!r}", work)


SQLiteContextStore = SQLContextStore  # the name before PostgreSQL support


def open_context_store(location: str | os.PathLike[str] | None = None) -> ContextStore:
    """Open the context store at a path or URL; None opens the default store.

    Accepted: a file path, `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or
    `postgresql://user:password@host:port/database` (the `contexts` schema of that database).
    None follows `MOCKLOOP_DATABASE_URL`, else `MOCKLOOP_HOME/contexts.db`.

    Raises:
        ConfigError: the location names a backend this installation cannot open.
        StoreError: the database cannot be opened or migrated.
    """
    return SQLContextStore(location)  # StoreBase.resolve parses the URL
