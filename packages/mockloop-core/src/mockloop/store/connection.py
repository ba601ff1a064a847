"""Opening one of MockLoop's small stores: the same steps for every store, on either backend.

The registry, load runs, test runs and sessions each keep their tables in a store of their own:
a SQLite file in `MOCKLOOP_HOME`, or a schema of the PostgreSQL database that
`MOCKLOOP_DATABASE_URL` names (see `mockloop.store.database`). Several processes may read and
write them. `store_connection` hands out a connection in autocommit mode (the callers open their
own transactions) at the store's newest schema; every backend failure becomes a `StoreError`
that names the store's location and what was being done.

SQLite connections are opened per use (cheap, and nothing is held between calls). PostgreSQL
connections cost a round trip or more to open, so each thread keeps one per location and reuses
it; a connection found broken is dropped and the next use opens a new one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mockloop.errors import StoreError
from mockloop.store.database import (
    Connection,
    DatabaseError,
    Location,
    Migration,
    connect,
    locate,
)

__all__ = [
    "HeldConnection",
    "close_cached_connections",
    "sqlite_connection",
    "store_connection",
    "store_location",
]

_local = threading.local()


class _Cache(dict[Location, Connection]):
    """One thread's connections (a dict subclass, so the registry below can hold it weakly: a
    thread that ends takes its cache, and its connections, with it)."""

    def __hash__(self) -> int:  # by identity: two empty caches are still two threads'
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


_all_caches: weakref.WeakSet[_Cache] = weakref.WeakSet()  # every live thread's cache
_all_caches_pid = os.getpid()  # whose caches those are (a forked child must not close them)
_all_caches_lock = threading.Lock()


def _cached(location: Location) -> dict[Location, Connection]:
    cache: _Cache | None = getattr(_local, "connections", None)
    if cache is None or getattr(_local, "pid", None) != os.getpid():
        # A forked child never uses its parent's connections (nor closes them).
        cache = _local.connections = _Cache()
        _local.pid = os.getpid()
        global _all_caches_pid
        with _all_caches_lock:
            if _all_caches_pid != os.getpid():
                _all_caches.clear()  # the parent's: forget them, never close them
                _all_caches_pid = os.getpid()
            _all_caches.add(cache)
    return cache


def close_cached_connections() -> int:
    """Close every thread's cached PostgreSQL connections; how many were closed.

    For shutdown and tests: call it when no other thread is using a store.
    """
    closed = 0
    with _all_caches_lock:
        caches = list(_all_caches) if _all_caches_pid == os.getpid() else []
    for cache in caches:
        for conn in list(cache.values()):
            conn.close()
            closed += 1
        cache.clear()
    return closed


@contextlib.contextmanager
def store_connection(
    location: Location,
    migrations: Sequence[Migration],
    *,
    busy_timeout: float,
    store: str,
    what: str,
) -> Iterator[Connection]:
    """A connection to `location` at its newest schema.

    Raises:
        StoreError: "{location}: could not open the {store}" when the database cannot be opened,
            or "{location}: could not {what}" when the backend fails inside the block.
    """
    if location.backend == "postgresql":
        cache = _cached(location)
        conn = cache.get(location)
        if conn is None or conn.raw.closed or conn.raw.broken:
            try:
                conn = cache[location] = connect(location, migrations, busy_timeout=busy_timeout)
            except DatabaseError as exc:
                raise StoreError(f"{location}: could not open the {store}: {exc}") from exc
        try:
            yield conn
        except DatabaseError as exc:
            conn.rollback()
            if conn.raw.closed or conn.raw.broken:
                cache.pop(location, None)
            raise StoreError(f"{location}: could not {what}: {exc}") from exc
        return
    try:
        conn = connect(location, migrations, busy_timeout=busy_timeout)
    except DatabaseError as exc:
        raise StoreError(f"{location}: could not open the {store}: {exc}") from exc
    try:
        yield conn
    except DatabaseError as exc:
        raise StoreError(f"{location}: could not {what}: {exc}") from exc
    finally:
        conn.close()


@contextlib.contextmanager
def sqlite_connection(
    path: Path,
    migrations: Sequence[Migration],
    *,
    busy_timeout: float,
    store: str,
    what: str,
) -> Iterator[Connection]:
    """`store_connection` for a store named by its SQLite file (kept for callers that only ever
    use a file)."""
    with store_connection(
        Location.sqlite(path), migrations, busy_timeout=busy_timeout, store=store, what=what
    ) as conn:
        yield conn


def store_location(
    store: str, given: str | os.PathLike[str] | Location | None, default: Callable[[], Path]
) -> Location:
    """Where a store opened with `given` lives.

    A `Location` is used as it is and a path is that SQLite file; None means the default:
    the PostgreSQL schema named after `store` when `MOCKLOOP_DATABASE_URL` is set, else the
    SQLite file `default()`.
    """
    if isinstance(given, Location):
        return given
    if given is not None:
        return Location.sqlite(given)
    return locate(store, default())


_INHERITED: list[Connection] = []  # connections a forked child must leave alone


class HeldConnection:
    """One long-lived connection to a store, shared by the threads of a process one at a time.

    For stores that keep a connection open for their whole life (the audit trail, a mock's
    webhooks): `use(what, write=...)` hands it out under a lock, in a transaction (the write
    lock when `write`, else one snapshot), and turns a backend failure into a `StoreError` that
    names the location. A PostgreSQL connection found broken is replaced; a connection inherited
    across `fork()` is left to the parent (kept referenced, never closed or even finalized in the
    child) and the child opens its own.

    Raises:
        StoreError: from the constructor when the store cannot be opened (opened at once, so a
            bad location fails where it is given), from `use` when the backend fails or after
            `close(final=True)`.
    """

    def __init__(
        self,
        location: Location,
        migrations: Sequence[Migration],
        *,
        busy_timeout: float,
        store: str,
    ) -> None:
        self.location = location
        self.migrations = migrations
        self.busy_timeout = busy_timeout
        self.store = store
        self.lock = threading.Lock()
        self._conn: Connection | None = None
        self._pid = 0
        self._closed = False
        with self.lock:
            self._get()

    def _get(self) -> Connection:
        """The open connection (the caller holds `lock`), opened again when needed."""
        if self._closed:
            raise StoreError(f"{self.location}: the {self.store} is closed")
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            if conn.dialect == "sqlite" or not (conn.raw.closed or conn.raw.broken):
                return conn
            conn.close()
        elif conn is not None:
            _INHERITED.append(conn)  # the parent's, across a fork: its to use and close
        self._conn = None
        try:
            conn = connect(
                self.location,
                self.migrations,
                busy_timeout=self.busy_timeout,
                check_same_thread=False,
            )
        except DatabaseError as exc:
            raise StoreError(f"{self.location}: could not open the {self.store}: {exc}") from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextlib.contextmanager
    def use(self, what: str, *, write: bool) -> Iterator[Connection]:
        """The connection, alone, in a transaction (see the class docstring)."""
        with self.lock:
            conn = self._get()
            try:
                with conn.transaction(write=write):
                    yield conn
            except DatabaseError as exc:
                conn.rollback()  # a failed COMMIT can leave SQLite's transaction open
                raise StoreError(f"{self.location}: could not {what}: {exc}") from exc

    def close(self, *, final: bool = False) -> None:
        """Close the connection (idempotent). A later `use` opens a new one, unless `final`."""
        with self.lock:
            self._closed = self._closed or final
            if self._conn is not None:
                if self._pid == os.getpid():
                    self._conn.close()
                else:
                    _INHERITED.append(self._conn)
            self._conn = None
