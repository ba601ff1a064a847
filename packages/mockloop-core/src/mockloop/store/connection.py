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
        if conn is None or conn.raw.closed:
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
