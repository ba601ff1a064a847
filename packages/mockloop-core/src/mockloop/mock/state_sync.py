"""Stateful mode's data shared by every mock process that uses one database.

Two replicas of a mock pointed at one PostgreSQL database (or one SQLite file) must answer
alike: a pet created through one is fetched through the other. Each process still serves from
its memory (`StateMemory`); this module keeps that memory in step with the database:

* The database holds one row per scope in `state_scopes`: the shared data (kind `shared`), the
  seed template (kind `template`) and each session's copy (kind `session`, keyed by its
  `X-Session-ID`), each as one JSON text with the store-wide version at which it was last
  written. `state_meta` holds the store-wide version, the serial that keys generated values
  and a fingerprint of the description and seed the data was made from.
* Before a read, `refresh` runs one SELECT of the store-wide version; only when another process
  moved it are the scopes written since then loaded (and sessions gone from the database
  dropped).
* A write runs inside `write`: the store's write lock (`BEGIN IMMEDIATE` on SQLite, an advisory
  lock on PostgreSQL), so replicas serialise; under it the memory catches up, the change is
  applied, the changed scopes are saved with the next version, and the transaction commits.
  Integer ids count up from the newest data, so two replicas never hand out the same id.
* `start` loads what the database holds when it was made from the same description and seed;
  the first replica (or one started with another description, seed or seed size) seeds it for
  everyone. The data therefore outlives a restart of every replica; `POST /api/state/reset`
  starts over, for every replica at once.

Sessions are ordered by their last write (their row's version): the least recently written one
is dropped past `MAX_SESSIONS`, and a request that only reads a session does not create it.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mockloop.errors import StoreError
from mockloop.store.database import (
    Connection,
    DatabaseError,
    Location,
    Migration,
    connect,
    upsert_sql,
)

__all__ = [
    "STATE_MIGRATIONS",
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

Items = dict[str, dict[str, Any]]  # id (as text) -> item, in insertion order
Partitions = dict[tuple[str, ...], Items]  # parent path-parameter values -> items
Data = dict[str, Partitions]  # collection name -> its partitions

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
)

_UPSERT = upsert_sql("state_scopes", ("kind", "session", "version", "data"), ("kind", "session"))
_META = "SELECT version, serial, fingerprint FROM state_meta WHERE name = 'state'"


@dataclass
class StateMemory:
    """What one process serves from: the seed template, the shared data, each session's copy
    (least recently used first) and the serial that keys generated values."""

    template: Data
    shared: Data
    sessions: OrderedDict[str, Data] = field(default_factory=OrderedDict)
    serial: int = 0


def encode_data(data: Data) -> str:
    """`data` as JSON text: `{collection: [[parent values, {id: item}], ...]}`."""
    document = {
        name: [[list(parent), items] for parent, items in partitions.items()]
        for name, partitions in data.items()
    }
    try:
        return orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # What orjson refuses (an integer past 64 bits, a lone surrogate from a description's
        # example) is written by the standard library, which reads it back the same.
        return json.dumps(document, default=_plain)


def _plain(value: Any) -> Any:
    """A value JSON has no type for, as orjson serves it (dates in ISO 8601), else its text."""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def decode_data(text: str, names: Iterable[str]) -> Data:
    """The data `encode_data` wrote, with exactly the collections `names` (missing ones empty,
    unknown ones dropped)."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = json.loads(text)
    data: Data = {name: {} for name in names}
    for name, parts in document.items():
        if name in data:
            data[name] = {tuple(parent): items for parent, items in parts}
    return data


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
        self._conn: Connection | None = None
        self._version = -1  # the store-wide version the memory reflects; -1: reload everything
        self._sessions: set[str] = set()  # the sessions the database held at that version

    # -- life cycle -------------------------------------------------------------------------

    def start(self, memory: StateMemory, made_from: str) -> bool:
        """Load the database's data into `memory`, or, when it holds none made from the same
        description and seed (`made_from`, a fingerprint), write `memory`'s fresh seed for
        every replica. True when this call seeded the database."""
        self._version = -1
        self._sessions = set()
        with self._transaction("load the stateful data") as conn:
            version, _, stored = conn.execute(_META).fetchone()
            if stored == made_from:
                self._pull(conn, memory)
                return False
            if stored:
                logger.warning(
                    "%s: the stateful data was made from another description or seed; "
                    "seeding it afresh for every replica",
                    self.location,
                )
            conn.execute("DELETE FROM state_scopes")
            version = int(version) + 1
            memory.sessions.clear()
            rows = [
                ("template", "", version, encode_data(memory.template)),
                ("shared", "", version, encode_data(memory.shared)),
            ]
            conn.executemany(_UPSERT, rows)
            conn.execute(
                "UPDATE state_meta SET version = ?, serial = ?, fingerprint = ?"
                " WHERE name = 'state'",
                (version, memory.serial, made_from),
            )
        self._version = version
        return True

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- reads and writes -------------------------------------------------------------------

    def refresh(self, memory: StateMemory) -> None:
        """Bring `memory` up to date: one SELECT when no other process wrote since the last
        call, else a load of the scopes they wrote."""
        conn = self._connection()
        try:
            self._pull(conn, memory)
        except DatabaseError as exc:
            self._failed(conn)
            raise StoreError(f"{self.location}: could not read the stateful data: {exc}") from exc

    @contextlib.contextmanager
    def write(self, memory: StateMemory, scope: str | None) -> Iterator[set[str | None]]:
        """A change under the store's write lock.

        `memory` is brought up to date first; the block changes it and leaves in the yielded
        set the scopes it changed (None: the shared data, else a session id; it starts as
        `{scope}`, so the block removes `scope` when it changed nothing). On leaving, those
        scopes, the sessions dropped from memory and the serial are saved with the next
        version, and the transaction commits. An exception rolls it back and the next access
        reloads everything.
        """
        with self._transaction("write the stateful data") as conn:
            self._pull(conn, memory)
            changed: set[str | None] = {scope}
            yield changed
            self._save(conn, memory, changed)

    # -- pieces -----------------------------------------------------------------------------

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or (conn.dialect == "postgresql" and (conn.raw.closed or conn.raw.broken)):
            if conn is not None:
                conn.close()  # the server restarted or the network dropped it: open anew
            try:
                conn = self._conn = connect(
                    self.location,
                    STATE_MIGRATIONS,
                    busy_timeout=self.busy_timeout,
                    check_same_thread=False,  # the caller serialises every use
                    setup=_fewer_syncs,
                )
            except DatabaseError as exc:
                raise StoreError(
                    f"{self.location}: could not open the stateful data: {exc}"
                ) from exc
        return conn

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        conn = self._connection()
        try:
            conn.begin_write()
        except DatabaseError as exc:
            self._failed(conn)
            raise StoreError(f"{self.location}: could not {what}: {exc}") from exc
        try:
            yield conn
            conn.commit()
        except DatabaseError as exc:
            self._failed(conn)
            raise StoreError(f"{self.location}: could not {what}: {exc}") from exc
        except BaseException:
            self._failed(conn)
            raise

    def _failed(self, conn: Connection) -> None:
        """After a failure: roll back, reload everything next time, drop a broken connection."""
        conn.rollback()
        self._version = -1
        if conn.dialect == "postgresql" and (conn.raw.closed or conn.raw.broken):
            self.close()

    def _pull(self, conn: Connection, memory: StateMemory) -> None:
        version, serial, _ = conn.execute(_META).fetchone()
        if version == self._version:
            return
        known = self._version
        # Data only for the scopes written since `known`; every row's name, to drop the gone.
        rows = conn.execute(
            "SELECT kind, session, CASE WHEN version > ? THEN data END FROM state_scopes"
            " ORDER BY version, kind, session",
            (known,),
        ).fetchall()
        names = tuple(memory.shared)
        sessions: OrderedDict[str, Data] = OrderedDict()
        missing: list[str] = []
        for kind, session, text in rows:
            if kind == "session":
                found = memory.sessions.get(session) if text is None else decode_data(text, names)
                if found is None:
                    missing.append(session)  # not written since, yet not in memory: load it
                sessions[session] = found if found is not None else {}
            elif text is not None and kind == "shared":
                memory.shared = decode_data(text, names)
            elif text is not None and kind == "template":
                memory.template = decode_data(text, names)
        for session in missing:
            row = conn.execute(
                "SELECT data FROM state_scopes WHERE kind = 'session' AND session = ?", (session,)
            ).fetchone()
            if row is None:  # deleted meanwhile by another process
                del sessions[session]
            else:
                sessions[session] = decode_data(row[0], names)
        memory.sessions = sessions
        memory.serial = int(serial)
        # Rows read after the version may be newer than it: they are loaded again next time.
        self._version = int(version)
        self._sessions = set(sessions)

    def _save(self, conn: Connection, memory: StateMemory, changed: set[str | None]) -> None:
        gone = [(s,) for s in self._sessions if s not in memory.sessions]
        rows: list[tuple[str, str, int, str]] = []
        version = self._version + 1
        for scope in changed:
            if scope is None:
                rows.append(("shared", "", version, encode_data(memory.shared)))
            elif scope in memory.sessions:
                rows.append(("session", scope, version, encode_data(memory.sessions[scope])))
        if not rows and not gone:
            return
        if rows:
            conn.executemany(_UPSERT, rows)
        if gone:
            conn.executemany(
                "DELETE FROM state_scopes WHERE kind = 'session' AND session = ?", gone
            )
        conn.execute(
            "UPDATE state_meta SET version = ?, serial = ? WHERE name = 'state'",
            (version, memory.serial),
        )
        self._version = version
        self._sessions = set(memory.sessions)
