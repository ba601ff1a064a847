"""Where a store lives and how its connections are held: the same code for every store.

`resolve_location` turns what a caller gave (a `Location`, a path, a store URL, or None for the
default) into the store's `Location`; it is the one place that reads `MOCKLOOP_DATABASE_URL`
for a store and parses store URLs (through `database.parse_database_url`).

A store holds its connections in one of three ways, each fork-safe (a forked child never uses,
closes or even finalizes a connection its parent opened; it opens its own) and each turning a
backend failure into a `StoreError` that starts with the location and says what was being done:

* `ShortConnections`: a SQLite connection per use (nothing is held between calls, so a file is
  never pinned by a process that lives for days); on PostgreSQL, where opening costs round
  trips, one cached connection per thread and location, shared by every store object on that
  location. For the small stores called now and then: registry, load runs, test runs, sessions.
* `ThreadConnections`: one connection per thread per store object, closed together by
  `close()` (which waits for a call in progress in another thread). For the stores read and
  written concurrently: the mock's store (the request-log writer inserts while the admin API
  searches) and the context store.
* `HeldConnection`: one connection per store object, handed to one thread at a time under a
  lock. For the stores written by one thread at a time: the audit trail, a mock's webhooks and
  its shared stateful data.

Each opens with `database.connect`, which applies the store's migrations: `ShortConnections` and
`HeldConnection` on every connection they open (one SELECT when the schema is current),
`ThreadConnections` on the first (`open()`), the others then only get the per-connection setup.
A PostgreSQL connection found broken (the server restarted, an idle connection was cut) is
dropped, and the next use opens a new one.
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from mockloop.errors import ConfigError, StoreError
from mockloop.store.database import (
    Connection,
    DatabaseError,
    Location,
    Migration,
    apply_migrations,
    connect,
    locate,
    parse_database_url,
    schema_name,
)

__all__ = [
    "ConnectionSetup",
    "HeldConnection",
    "ShortConnections",
    "ThreadConnections",
    "close_cached_connections",
    "resolve_location",
    "store_connection",
    "store_location",
]

ConnectionSetup = Callable[[Connection], None]


# -- where a store lives ----------------------------------------------------------------------


def resolve_location(
    store: str,
    given: str | os.PathLike[str] | Location | None,
    default: Callable[[], Path] | None,
    *,
    title: str = "store",
) -> Location:
    """Where a store opened with `given` lives.

    A `Location` is used as it is. A path is that SQLite file (made absolute). A store URL
    (`sqlite:///file.db`, `postgresql://...`) is parsed; PostgreSQL puts the store in the schema
    named after `store` (see `schema_name`). None means the default: the `store` schema of
    `MOCKLOOP_DATABASE_URL` when it names PostgreSQL, else the SQLite file `default()`.

    Raises:
        ConfigError: the URL's scheme is unknown, it names no file, the path is empty or
            `:memory:` (every connection would see its own database), or None is given to a
            store that has no default location (`default` is None).
    """
    if isinstance(given, Location):
        return given
    if given is None:
        if default is None:
            raise ConfigError(f"the {title} needs a location: a SQLite file path or a Location")
        return locate(store, default())
    text = os.fspath(given)
    backend, rest = parse_database_url(text, label=f"{title} URL")
    if backend == "postgresql":
        return Location.postgresql(rest, schema_name(store))
    if "://" in text and not rest:
        raise ConfigError(f"{title} URL {text!r} names no database file")
    if not rest or rest == ":memory:" or rest.startswith("file::memory:"):
        raise ConfigError(
            f"the {title} needs a database file, not {rest!r}: each connection opens the "
            "file again, so an in-memory database would not be shared"
        )
    return Location.sqlite(Path(rest).expanduser().resolve())


def store_location(
    store: str, given: str | os.PathLike[str] | Location | None, default: Callable[[], Path]
) -> Location:
    """`resolve_location` under the name the callers outside this package know."""
    return resolve_location(store, given, default)


# -- the connection holders -------------------------------------------------------------------


def _broken(conn: Connection) -> bool:
    """True when a PostgreSQL connection is closed or unusable (a SQLite one never is)."""
    if conn.dialect != "postgresql":
        return False
    return bool(conn.raw.closed or conn.raw.broken)


class _Opener:
    """What every holder needs to open a connection to one store, and its error texts."""

    def __init__(
        self,
        location: Location,
        migrations: Sequence[Migration],
        *,
        busy_timeout: float,
        store: str,
        setup: ConnectionSetup | None,
        check_same_thread: bool,
    ) -> None:
        self.location = location
        self.migrations = migrations
        self.busy_timeout = busy_timeout
        self.store = store
        self.setup = setup
        self.check_same_thread = check_same_thread
        self.applied: list[int] = []  # the versions the latest migrated open applied

    def connect(self, *, migrate: bool = True) -> Connection:
        """A new connection, migrated when `migrate` (the versions applied now are kept in
        `applied`); StoreError when it cannot be opened or migrated."""
        try:
            conn = connect(
                self.location,
                busy_timeout=self.busy_timeout,
                check_same_thread=self.check_same_thread,
                setup=self.setup,
            )
        except DatabaseError as exc:
            raise self.failed(f"open the {self.store}", exc) from exc
        if migrate and self.migrations:
            try:
                self.applied = apply_migrations(conn, self.migrations)
            except BaseException as exc:
                conn.close()
                if isinstance(exc, DatabaseError):
                    raise self.failed(f"open the {self.store}", exc) from exc
                raise
        return conn

    def failed(self, what: str, exc: DatabaseError) -> StoreError:
        return StoreError(f"{self.location}: could not {what}: {exc}")

    def closed(self) -> StoreError:
        return StoreError(f"{self.location}: the {self.store} is closed; open a new one to go on")


class _Held:
    """One open connection and the process that opened it.

    The lock is held for the length of one call: closing a connection while another thread is
    inside one of its calls can crash the interpreter, so `close()` waits for the call to end.
    """

    __slots__ = ("__weakref__", "closed", "conn", "lock", "pid")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.closed = False

    def usable(self) -> bool:
        """Opened by this process, not closed, and (on PostgreSQL) not broken."""
        return self.pid == os.getpid() and not self.closed and not _broken(self.conn)

    def close(self) -> None:
        # A connection inherited through fork() belongs to the parent: never touch it.
        if self.pid != os.getpid():
            return
        with self.lock:
            if not self.closed:
                self.closed = True
                self.conn.close()

    def __del__(self) -> None:
        self.close()


# ShortConnections: every thread's PostgreSQL connections, by location, across store objects.
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


def _cached() -> dict[Location, Connection]:
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
    """Close every thread's cached PostgreSQL connections (`ShortConnections`); how many.

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


class _Connections(abc.ABC):
    """What the connection holders share: the opener of their location (connect, migrate,
    name failures) and `transaction` over their `connection`."""

    _CHECK_SAME_THREAD = False  # a connection may be handed from thread to thread

    def __init__(
        self,
        location: Location,
        migrations: Sequence[Migration],
        *,
        busy_timeout: float,
        store: str,
        setup: ConnectionSetup | None = None,
    ) -> None:
        self._opener = _Opener(
            location,
            migrations,
            busy_timeout=busy_timeout,
            store=store,
            setup=setup,
            check_same_thread=self._CHECK_SAME_THREAD,
        )

    @abc.abstractmethod
    def connection(self, what: str) -> contextlib.AbstractContextManager[Connection]:
        """A connection at the store's newest schema (each holder says how it is held)."""

    @contextlib.contextmanager
    def transaction(self, what: str, *, write: bool) -> Iterator[Connection]:
        """`connection(what)` inside a transaction: the write lock when `write`, else one
        snapshot; COMMIT at the end, ROLLBACK on any exception."""
        with self.connection(what) as conn, conn.transaction(write=write):
            yield conn


class ShortConnections(_Connections):
    """A SQLite connection per use; a cached one per thread and location on PostgreSQL (see the
    module docstring). Nothing is opened before the first use; `close()` has nothing to do."""

    _CHECK_SAME_THREAD = True  # a connection never leaves the call that opened it

    def open(self) -> list[int]:
        """Open once now, so a bad location fails here; the migration versions applied."""
        self._opener.applied = []
        with self.connection(f"open the {self._opener.store}"):
            return list(self._opener.applied)

    @contextlib.contextmanager
    def connection(self, what: str) -> Iterator[Connection]:
        """A connection at the store's newest schema, in autocommit mode.

        Raises:
            StoreError: "{location}: could not open the {store}" when the database cannot be
                opened, or "{location}: could not {what}" when the backend fails in the block.
        """
        opener = self._opener
        if opener.location.backend == "postgresql":
            cache = _cached()
            conn = cache.get(opener.location)
            if conn is None or _broken(conn):
                conn = cache[opener.location] = opener.connect()
            try:
                yield conn
            except DatabaseError as exc:
                conn.rollback()
                if _broken(conn):
                    cache.pop(opener.location, None)
                raise opener.failed(what, exc) from exc
            return
        conn = opener.connect()
        try:
            yield conn
        except DatabaseError as exc:
            raise opener.failed(what, exc) from exc
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing is held per store object (the PostgreSQL cache is per thread and location:
        `close_cached_connections`)."""


class ThreadConnections(_Connections):
    """One connection per thread for one store object (see the module docstring).

    Raises:
        StoreError: from `open` or `connection` when the database cannot be opened or the
            backend fails, and after `close()`.
    """

    def __init__(
        self,
        location: Location,
        migrations: Sequence[Migration],
        *,
        busy_timeout: float,
        store: str,
        setup: ConnectionSetup | None = None,
    ) -> None:
        super().__init__(location, migrations, busy_timeout=busy_timeout, store=store, setup=setup)
        self._local = threading.local()
        self._held: weakref.WeakSet[_Held] = weakref.WeakSet()
        self._held_lock = threading.Lock()
        self._closed = False

    def open(self) -> list[int]:
        """Open this thread's connection and migrate the schema; the versions applied.

        Later connections (other threads, or after a broken one) get only the setup.
        """
        self._opener.applied = []
        self._holder(migrate=True)
        return list(self._opener.applied)

    def _holder(self, *, migrate: bool = False) -> _Held:
        if self._closed:
            raise self._opener.closed()
        holder: _Held | None = getattr(self._local, "holder", None)
        if holder is not None:
            if holder.usable():
                return holder
            if holder.pid == os.getpid():
                self._drop(holder)  # broken: the failed call said so; this one opens anew
        holder = _Held(self._opener.connect(migrate=migrate))
        self._local.holder = holder
        with self._held_lock:
            self._held.add(holder)
        return holder

    def _drop(self, holder: _Held) -> None:
        if getattr(self._local, "holder", None) is holder:
            self._local.holder = None
        with self._held_lock:
            self._held.discard(holder)
        holder.closed = True
        holder.conn.close()

    @contextlib.contextmanager
    def connection(self, what: str) -> Iterator[Connection]:
        """This thread's connection (opened on first use), held for one call, in autocommit
        mode; a backend failure in the block becomes "{location}: could not {what}"."""
        holder = self._holder()
        with holder.lock:
            if holder.closed:
                raise self._opener.closed()
            try:
                yield holder.conn
            except DatabaseError as exc:
                # Leave no transaction open on a connection that outlives this call.
                holder.conn.rollback()
                raise self._opener.failed(what, exc) from exc

    def close(self) -> None:
        """Close every thread's connection (idempotent); later calls raise StoreError.

        A call running in another thread finishes first.
        """
        self._closed = True
        with self._held_lock:
            holders = list(self._held)
            self._held = weakref.WeakSet()
        for holder in holders:
            holder.close()
        self._local = threading.local()


_INHERITED: list[Connection] = []  # connections a forked child must leave alone


class HeldConnection(_Connections):
    """One long-lived connection to a store, shared by the threads of a process one at a time.

    `connection(what)` and `transaction(what, write=...)` hand it out under a lock (re-entrant:
    the holder may ask again while it holds it) and turn a backend failure into a `StoreError`
    that names the location. A PostgreSQL connection found broken is replaced; a connection
    inherited across `fork()` is left to the parent (kept referenced, never closed or even
    finalized in the child) and the child opens its own.

    Args:
        open_now: open (and migrate) in the constructor, so a bad location fails where it is
            given; else on first use.
        reopen: whether a use after `close()` opens a new connection (else it raises).

    Raises:
        StoreError: when the store cannot be opened, when the backend fails in a use, or on a
            use after `close()` without `reopen`.
    """

    def __init__(
        self,
        location: Location,
        migrations: Sequence[Migration],
        *,
        busy_timeout: float,
        store: str,
        setup: ConnectionSetup | None = None,
        open_now: bool = True,
        reopen: bool = True,
    ) -> None:
        super().__init__(location, migrations, busy_timeout=busy_timeout, store=store, setup=setup)
        self.location = location
        self.lock = threading.RLock()
        self._reopen = reopen
        self._conn: Connection | None = None
        self._pid = 0
        self._closed = False
        if open_now:
            with self.lock:
                self._get()

    def open(self) -> list[int]:
        """Open now, if not open yet; the migration versions applied."""
        with self.lock:
            self._opener.applied = []
            self._get()
            return list(self._opener.applied)

    def _get(self) -> Connection:
        """The open connection (the caller holds `lock`), opened again when needed."""
        if self._closed:
            raise self._opener.closed()
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            if not _broken(conn):
                return conn
            conn.close()
        elif conn is not None:
            _INHERITED.append(conn)  # the parent's, across a fork: its to use and close
        self._conn = None
        conn = self._opener.connect()
        self._conn, self._pid = conn, os.getpid()
        return conn

    def current(self) -> Connection:
        """The connection without taking the lock, opened again when needed: for a caller
        that serialises every use itself and reads on a hot path (the shared stateful data).
        Pass a backend failure to `failed`."""
        conn = self._conn
        if conn is not None and self._pid == os.getpid() and not _broken(conn):
            return conn
        with self.lock:
            return self._get()

    def failed(self, conn: Connection, what: str, exc: DatabaseError) -> StoreError:
        """After a backend failure on `current()`: roll back; the error to raise."""
        conn.rollback()
        return self._opener.failed(what, exc)

    @contextlib.contextmanager
    def connection(self, what: str) -> Iterator[Connection]:
        """The connection, alone, in autocommit mode."""
        with self.lock:
            conn = self._get()
            try:
                yield conn
            except DatabaseError as exc:
                conn.rollback()
                raise self._opener.failed(what, exc) from exc

    @contextlib.contextmanager
    def transaction(self, what: str, *, write: bool) -> Iterator[Connection]:
        """The connection, alone, in a transaction (the write lock when `write`, else one
        snapshot); COMMIT at the end, ROLLBACK on any exception."""
        with self.lock:
            conn = self._get()
            try:
                with conn.transaction(write=write):
                    yield conn
            except DatabaseError as exc:
                conn.rollback()  # a failed COMMIT can leave SQLite's transaction open
                raise self._opener.failed(what, exc) from exc

    def close(self) -> None:
        """Close the connection (idempotent). A later use opens a new one when the holder was
        made with `reopen`, else it raises StoreError."""
        with self.lock:
            self._closed = self._closed or not self._reopen
            if self._conn is not None:
                if self._pid == os.getpid():
                    self._conn.close()
                else:
                    _INHERITED.append(self._conn)
            self._conn = None


@contextlib.contextmanager
def store_connection(
    location: Location,
    migrations: Sequence[Migration],
    *,
    busy_timeout: float,
    store: str,
    what: str,
) -> Iterator[Connection]:
    """One `ShortConnections` use: a connection to `location` at its newest schema.

    Raises:
        StoreError: "{location}: could not open the {store}" when the database cannot be opened,
            or "{location}: could not {what}" when the backend fails inside the block.
    """
    holder = ShortConnections(location, migrations, busy_timeout=busy_timeout, store=store)
    with holder.connection(what) as conn:
        yield conn
