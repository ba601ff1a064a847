"""Stateful mode's data shared by every mock process that uses one database.

Two replicas of a mock pointed at one PostgreSQL database (or one SQLite file) must answer
alike: a pet created through one is fetched through the other. Each process still serves from
its memory (`StateMemory`); this module keeps that memory in step with the database, and every
write costs the same whatever a collection holds:

* `state_items` holds one row per item: its scope (the shared data, the seed template or a
  session's copy, keyed by its `X-Session-ID`), collection, parent path-parameter values and id,
  a store-wide `position` that keeps insertion order, the store-wide version of its last write,
  and its JSON (NULL once deleted: a tombstone, so other replicas learn of the delete).
* `state_scopes` holds one row per scope: the version of its last write, the version at which
  it was last rewritten whole (created or reset) and whether it is live (an evicted session is
  not). `state_meta` holds the store-wide version, the serial that keys generated values, the
  position counter, the version up to which tombstones were purged, and a fingerprint of the
  description and seed the data was made from.
* Before a read, `refresh` runs one SELECT of the store-wide version; only when another process
  moved it are the scopes and items written since then read (two indexed SELECTs) and applied.
* A write runs inside `write`: the store's write lock (`BEGIN IMMEDIATE` on SQLite, an advisory
  lock on PostgreSQL), so replicas serialise; under it the memory catches up, the change is
  applied and recorded in a `Changes`, only the items it names (or the scopes rewritten whole)
  are saved with the next version, and the transaction commits. Integer ids count up from the
  highest id any replica has written, so two replicas never hand out the same id.
* Every `_PURGE_EVERY` versions, tombstones and evicted scopes older than that are deleted;
  a replica that fell further behind reloads everything.
* `start` loads what the database holds when it was made from the same description and seed;
  the first replica (or one started with another description, seed or seed size) seeds it for
  everyone. The data therefore outlives a restart of every replica; `POST /api/state/reset`
  starts over, for every replica at once.

Items are stored as JSON, so they come back as they were served: strings (dates included),
numbers, booleans, lists and objects in their order. A failed write rolls back and the next
access reloads every scope, so the memory never keeps a change the database did not take.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mockloop.mock.state.data import (
    Data,
    Items,
    Partitions,
    StateMemory,
    decode_data,
    encode_data,
    encode_item,
)
from mockloop.store.connection import HeldConnection
from mockloop.store.database import Connection, DatabaseError, Location, Migration

__all__ = [
    "STATE_MIGRATIONS",
    "Changes",
    "Data",
    "Items",
    "Partitions",
    "SharedState",
    "StateMemory",
    "decode_data",
    "encode_data",
    "fingerprint",
]

logger = logging.getLogger("mockloop.mock")

STATE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="stateful mode's data: one JSON document per scope, a store-wide version",
        statements=(
            """
            CREATE TABLE state_meta (
                name TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                serial INTEGER NOT NULL,
                fingerprint TEXT NOT NULL
            )
            """,
            "INSERT INTO state_meta (name, version, serial, fingerprint)"
            " VALUES ('state', 0, 0, '')",
            """
            CREATE TABLE state_scopes (
                kind TEXT NOT NULL,
                session TEXT NOT NULL,
                version INTEGER NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (kind, session)
            )
            """,
        ),
    ),
    Migration(
        version=2,
        description="stateful mode's data: one row per item, so a write costs the same at any "
        "size (the data is seeded afresh)",
        statements=(
            "DROP TABLE state_scopes",
            """
            CREATE TABLE state_scopes (
                kind TEXT NOT NULL,
                session TEXT NOT NULL,
                version INTEGER NOT NULL,
                reset INTEGER NOT NULL,
                live INTEGER NOT NULL,
                PRIMARY KEY (kind, session)
            )
            """,
            "CREATE INDEX state_scopes_version ON state_scopes (version)",
            """
            CREATE TABLE state_items (
                kind TEXT NOT NULL,
                session TEXT NOT NULL,
                collection TEXT NOT NULL,
                parent TEXT NOT NULL,
                item TEXT NOT NULL,
                position INTEGER NOT NULL,
                version INTEGER NOT NULL,
                data TEXT,
                PRIMARY KEY (kind, session, collection, parent, item)
            )
            """,
            "CREATE INDEX state_items_version ON state_items (version)",
            "CREATE INDEX state_items_gone ON state_items (version) WHERE data IS NULL",
            "ALTER TABLE state_meta ADD COLUMN position INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE state_meta ADD COLUMN purged INTEGER NOT NULL DEFAULT 0",
            "UPDATE state_meta SET fingerprint = '' WHERE name = 'state'",
        ),
    ),
)

_META = "SELECT version, serial, fingerprint, position, purged FROM state_meta WHERE name = 'state'"
_ITEM_KEY = "kind = ? AND session = ? AND collection = ? AND parent = ? AND item = ?"
_INSERT_ITEM = (
    "INSERT INTO state_items (kind, session, collection, parent, item, position, version, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_ITEM = (
    _INSERT_ITEM + " ON CONFLICT (kind, session, collection, parent, item) DO UPDATE SET"
    " position = excluded.position, version = excluded.version, data = excluded.data"
)
_UPDATE_ITEM = f"UPDATE state_items SET version = ?, data = ? WHERE {_ITEM_KEY}"
_TOMBSTONE = f"UPDATE state_items SET version = ?, data = NULL WHERE {_ITEM_KEY}"
_UPSERT_SCOPE = (
    "INSERT INTO state_scopes (kind, session, version, reset, live) VALUES (?, ?, ?, ?, 1)"
    " ON CONFLICT (kind, session) DO UPDATE SET version = excluded.version,"
    " reset = excluded.reset, live = 1"
)
_PURGE_EVERY = 4096  # versions a tombstone is kept: a replica further behind reloads everything

Scope = str | None  # None: the shared data; else a session id
_ScopeKey = tuple[str, str]  # (kind, session) as stored


@dataclass
class Changes:
    """What one write changed, for `SharedState` to save: items, and scopes rewritten whole
    (a session created from the seed, a reset)."""

    items: dict[tuple[Scope, str, tuple[str, ...], str], bool] = field(default_factory=dict)
    whole: set[Scope] = field(default_factory=set)

    def item(
        self, scope: Scope, collection: str, parent: tuple[str, ...], key: str, *, new: bool
    ) -> None:
        """Note that an item was stored (`new`: it took a new place) or removed."""
        entry = (scope, collection, parent, key)
        self.items[entry] = self.items.get(entry, False) or new

    def scope(self, scope: Scope) -> None:
        """Note that a whole scope was rewritten."""
        self.whole.add(scope)

    def __bool__(self) -> bool:
        return bool(self.items or self.whole)


def fingerprint(*parts: Any) -> str:
    """A stable digest of what the seed is made from (description, seed, seed size)."""
    text = orjson.dumps(
        list(parts), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
    )
    return hashlib.sha256(text).hexdigest()


def _fewer_syncs(conn: Connection) -> None:
    """SQLite: no sync per commit. WAL keeps the file sound; a power cut may lose the last
    writes, which a mock's data can afford, and a write costs a quarter of what it did."""
    if conn.dialect == "sqlite":
        conn.execute("PRAGMA synchronous = NORMAL")


def _scope_key(scope: Scope) -> _ScopeKey:
    return ("shared", "") if scope is None else ("session", scope)


def _parent_text(parent: tuple[str, ...]) -> str:
    return orjson.dumps(list(parent)).decode() if parent else "[]"


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class SharedState:
    """Keeps a `StateMemory` in step with the stateful data in a database (see the module
    docstring). The caller serialises every call (StateStore holds its lock around them), so
    one connection serves every thread.

    Every method may raise `StoreError` naming the location when the database cannot be
    opened, read or written.
    """

    def __init__(self, location: Location, *, busy_timeout: float = 10.0) -> None:
        self.location = location
        self.busy_timeout = busy_timeout
        # The connection every store holds this way (mockloop.store.connection): opened on
        # first use, fork-safe, replaced when broken; the caller serialises the calls.
        self._held = HeldConnection(
            location,
            STATE_MIGRATIONS,
            busy_timeout=busy_timeout,
            store="stateful data",
            setup=_fewer_syncs,
            open_now=False,
        )
        self._version = -1  # the store-wide version the memory reflects; -1: reload everything
        self._position = 0  # the position counter at that version
        self._sessions: set[str] = set()  # the sessions the database held at that version

    # -- life cycle -------------------------------------------------------------------------

    def start(self, memory: StateMemory, made_from: str) -> bool:
        """Load the database's data into `memory`, or, when it holds none made from the same
        description and seed (`made_from`, a fingerprint), write `memory`'s fresh seed for
        every replica. True when this call seeded the database."""
        self._version = -1
        self._sessions = set()
        with self._transaction("load the stateful data") as conn:
            version, _, stored, position, _ = conn.execute(_META).fetchone()
            if stored == made_from:
                self._pull(conn, memory)
                return False
            if stored:
                logger.warning(
                    "%s: the stateful data was made from another description or seed; "
                    "seeding it afresh for every replica",
                    self.location,
                )
            conn.execute("DELETE FROM state_items")
            conn.execute("DELETE FROM state_scopes")
            version = int(version) + 1
            position = int(position)
            memory.sessions.clear()
            memory.used.clear()
            memory.recount()
            position = self._write_whole(conn, ("template", ""), memory.template, version, position)
            position = self._write_whole(conn, ("shared", ""), memory.shared, version, position)
            conn.execute(
                "UPDATE state_meta SET version = ?, serial = ?, fingerprint = ?, position = ?,"
                " purged = ? WHERE name = 'state'",
                (version, memory.serial, made_from, position, version),
            )
        self._version = version
        self._position = position
        return True

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        self._held.close()

    # -- reads and writes -------------------------------------------------------------------

    def refresh(self, memory: StateMemory) -> None:
        """Bring `memory` up to date: one SELECT when no other process wrote since the last
        call, else a read of what they wrote."""
        conn = self._held.current()
        try:
            self._pull(conn, memory)
        except DatabaseError as exc:
            self._version = -1  # reload everything next time
            raise self._held.failed(conn, "read the stateful data", exc) from exc

    @contextlib.contextmanager
    def write(self, memory: StateMemory) -> Iterator[Changes]:
        """A change under the store's write lock.

        `memory` is brought up to date first; the block changes it and records in the yielded
        `Changes` what it changed. On leaving, those items and scopes, the sessions dropped
        from memory and the serial are saved with the next version, and the transaction
        commits. An exception rolls it back and the next access reloads everything.
        """
        with self._transaction("write the stateful data") as conn:
            self._pull(conn, memory)
            changes = Changes()
            yield changes
            self._save(conn, memory, changes)

    # -- pieces -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        """The store's write transaction; after a failure (rolled back) the next access
        reloads everything."""
        try:
            with self._held.transaction(what, write=True) as conn:
                yield conn
        except BaseException:
            self._version = -1
            raise

    def _pull(self, conn: Connection, memory: StateMemory) -> None:
        version, serial, _, position, purged = conn.execute(_META).fetchone()
        if version == self._version:
            return
        if self._version < int(purged):  # first load, a failure, or tombstones missed
            self._reload(conn, memory)
        else:
            self._catch_up(conn, memory, self._version)
        memory.serial = int(serial)
        # Rows read after the version may be newer than it: they are applied again next time.
        self._version = int(version)
        self._position = int(position)
        self._sessions = set(memory.sessions)

    def _reload(self, conn: Connection, memory: StateMemory) -> None:
        """Every scope, read afresh; the sessions keep the last-use times this process knew
        and are ordered by them (least recently used first, as eviction expects), the ones
        it did not know as used now."""
        names = tuple(memory.shared)
        loaded: dict[_ScopeKey, Data] = {}
        order = conn.execute(
            "SELECT kind, session FROM state_scopes WHERE live = 1 ORDER BY version, kind, session"
        ).fetchall()
        for kind, session in order:
            loaded[(kind, session)] = {name: Partitions() for name in names}
        rows = conn.execute(
            "SELECT kind, session, collection, parent, item, data FROM state_items"
            " WHERE data IS NOT NULL ORDER BY position"
        )
        for kind, session, name, parent, key, text in rows:
            partitions = loaded.get((kind, session), {}).get(name)
            if partitions is not None:
                partitions.put(tuple(_loads(parent)), key, _loads(text))
        memory.template = loaded.get(("template", ""), memory.template)
        memory.shared = loaded.get(("shared", ""), memory.shared)
        now = memory.clock()
        used = memory.used
        memory.used = {
            session: used.get(session, now) for kind, session in loaded if kind == "session"
        }
        # The database's order is that of its versions, which a use that wrote nothing (a
        # refused write, a 404) does not move: order by the last use this process saw.
        memory.sessions = OrderedDict(
            (session, loaded[("session", session)])
            for session in sorted(memory.used, key=memory.used.__getitem__)
        )
        memory.recount()

    def _catch_up(self, conn: Connection, memory: StateMemory, known: int) -> None:
        """Apply what other processes wrote since version `known`."""
        names = tuple(memory.shared)
        whole: set[_ScopeKey] = set()
        scopes = conn.execute(
            "SELECT kind, session, reset, live FROM state_scopes WHERE version > ?"
            " ORDER BY version, kind, session",
            (known,),
        ).fetchall()
        for kind, session, reset, live in scopes:
            if kind == "session" and not live:
                memory.forget(session)
                continue
            if reset > known or (kind == "session" and session not in memory.sessions):
                data = self._load_scope(conn, (kind, session), names)
                whole.add((kind, session))
                if kind == "template":
                    memory.template = data
                    memory.recount()  # the scopes sharing the old template now own it
                else:
                    memory.put_scope(None if kind == "shared" else session, data)
            if kind == "session":
                memory.touch(session)  # a write anywhere counts as use
        rows = conn.execute(
            "SELECT kind, session, collection, parent, item, position, data FROM state_items"
            " WHERE version > ? ORDER BY position",
            (known,),
        )
        for kind, session, name, parent, key, position, text in rows:
            if (kind, session) in whole:
                continue
            if kind == "shared":
                data = memory.shared
            elif kind == "session":
                data = memory.sessions.get(session)
            else:
                data = memory.template
            if data is None or name not in data:
                continue
            partitions = memory.writable(data, name)
            parent_values = tuple(_loads(parent))
            if text is None or position > self._position:
                # Deleted, or made (again) since: a new item goes to the end of the order.
                partitions.remove(parent_values, key)
            if text is not None:
                partitions.put(parent_values, key, _loads(text))

    def _load_scope(self, conn: Connection, scope: _ScopeKey, names: tuple[str, ...]) -> Data:
        data: Data = {name: Partitions() for name in names}
        rows = conn.execute(
            "SELECT collection, parent, item, data FROM state_items"
            " WHERE kind = ? AND session = ? AND data IS NOT NULL ORDER BY position",
            scope,
        )
        for name, parent, key, text in rows:
            partitions = data.get(name)
            if partitions is not None:
                partitions.put(tuple(_loads(parent)), key, _loads(text))
        return data

    def _write_whole(
        self, conn: Connection, scope: _ScopeKey, data: Data, version: int, position: int
    ) -> int:
        """Replace a scope's rows with `data`'s items; returns the position counter after."""
        kind, session = scope
        conn.execute("DELETE FROM state_items WHERE kind = ? AND session = ?", scope)
        rows: list[tuple[Any, ...]] = []
        for name, partitions in data.items():
            for parent, items in partitions.items():
                parent_text = _parent_text(parent)
                for key, item in items.items():
                    position += 1
                    text = encode_item(item).decode()
                    rows.append((kind, session, name, parent_text, key, position, version, text))
        if rows:
            conn.executemany(_INSERT_ITEM, rows)
        conn.execute(_UPSERT_SCOPE, (kind, session, version, version))
        return position

    def _save(self, conn: Connection, memory: StateMemory, changes: Changes) -> None:
        gone = [s for s in self._sessions if s not in memory.sessions]
        if not changes and not gone:
            return
        version = self._version + 1
        position = self._position
        for scope in changes.whole:
            data = memory.shared if scope is None else memory.sessions.get(scope)
            if data is not None:
                position = self._write_whole(conn, _scope_key(scope), data, version, position)
        touched: set[_ScopeKey] = set()
        for (scope, name, parent, key), new in changes.items.items():
            data = memory.shared if scope is None else memory.sessions.get(scope)
            if scope in changes.whole or data is None:
                continue  # written whole above, or evicted meanwhile
            kind, session = _scope_key(scope)
            touched.add((kind, session))
            partitions = data.get(name)
            items = None if partitions is None else partitions.get(parent)
            item = None if items is None else items.get(key)
            where = (kind, session, name, _parent_text(parent), key)
            if item is None:
                conn.execute(_TOMBSTONE, (version, *where))
                continue
            text = encode_item(item).decode()
            if new:
                position += 1
                conn.execute(_UPSERT_ITEM, (*where, position, version, text))
            else:
                conn.execute(_UPDATE_ITEM, (version, text, *where))
        for kind, session in touched:
            conn.execute(
                "UPDATE state_scopes SET version = ? WHERE kind = ? AND session = ?",
                (version, kind, session),
            )
        for session in gone:
            conn.execute(
                "DELETE FROM state_items WHERE kind = 'session' AND session = ?", (session,)
            )
            conn.execute(
                "UPDATE state_scopes SET version = ?, live = 0"
                " WHERE kind = 'session' AND session = ?",
                (version, session),
            )
        purge = ""
        values: tuple[Any, ...] = (version, memory.serial, position)
        if version % _PURGE_EVERY == 0:
            horizon = version - _PURGE_EVERY
            conn.execute("DELETE FROM state_items WHERE data IS NULL AND version <= ?", (horizon,))
            conn.execute("DELETE FROM state_scopes WHERE live = 0 AND version <= ?", (horizon,))
            purge = ", purged = ?"
            values = (*values, horizon)
        conn.execute(
            f"UPDATE state_meta SET version = ?, serial = ?, position = ?{purge}"
            " WHERE name = 'state'",
            values,
        )
        self._version = version
        self._position = position
        self._sessions = set(memory.sessions)
