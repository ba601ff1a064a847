"""Connections and transactions of the SQLite context store.

One connection per thread (opened on first use, never reused after `fork()`), in WAL mode,
so a reader never waits for a writer. `read` runs its work in one read transaction (every
SELECT sees the same committed state); `write` runs it in `BEGIN IMMEDIATE` (the write lock is
taken before anything is read, so a read-modify-write is atomic across processes) and redoes
it when the work reports that the version moved or the database stayed busy, until the busy
timeout has passed.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from mockloop.errors import StoreError
from mockloop.store.migrations import enable_wal

__all__ = ["SQLiteTransactions", "VersionMoved"]

T = TypeVar("T")


class _Connection:
    """A thread's connection; closed with the store, or when its thread ends.

    The lock is only contended by `close()` from another thread: closing a connection that
    is inside a call can crash the interpreter, so close waits for the call to end.
    """

    __slots__ = ("__weakref__", "closed", "conn", "lock", "pid")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        # A connection inherited through fork() belongs to the parent: never touch it.
        if self.pid != os.getpid():
            return
        with self.lock:
            if not self.closed:
                self.closed = True
                with contextlib.suppress(sqlite3.Error):
                    self.conn.close()

    def __del__(self) -> None:
        self.close()


class VersionMoved(Exception):
    """The row's version changed between the read and the write: redo the change."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SQLiteTransactions:
    """Per-thread connections to one SQLite file and the transactions run on them.

    Args:
        path: the database file (its folder exists).
        busy_timeout: seconds a transaction waits for another writer before `StoreError`.
    """

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._holders: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._holders_lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close every connection, in every thread (idempotent); later calls fail.

        A call running in another thread finishes first.
        """
        self._closed = True
        with self._holders_lock:
            holders = list(self._holders)
            self._holders = weakref.WeakSet()
        for holder in holders:
            holder.close()
        self._local = threading.local()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            enable_wal(conn, self.busy_timeout)
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def connect(self, what: str) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened on first use), held for one call."""
        try:
            holder = self._holder()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: could not {what}: {exc}") from exc
        with holder.lock:
            if holder.closed:
                raise StoreError(f"{self.path}: the context store is closed")
            try:
                yield holder.conn
            except sqlite3.Error as exc:
                # Leave no transaction open on a connection that outlives this call.
                if holder.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        holder.conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: could not {what}: {exc}") from exc

    def _holder(self) -> _Connection:
        holder: _Connection | None = getattr(self._local, "holder", None)
        if holder is not None and holder.pid == os.getpid() and not holder.closed:
            return holder
        if self._closed:
            raise StoreError(f"{self.path}: the context store is closed")
        holder = _Connection(self._open())
        self._local.holder = holder
        with self._holders_lock:
            self._holders.add(holder)
        return holder

    def read(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one read transaction: every SELECT sees the same committed state."""
        with self.connect(what) as conn:
            conn.execute("BEGIN")
            try:
                return work(conn)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

    def write(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in a `BEGIN IMMEDIATE` transaction, redone when the version moved or
        the database stayed busy, until the busy timeout has passed."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                with self.connect(what) as conn:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        result = work(conn)
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                        raise
                    conn.execute("COMMIT")
                    return result
            except VersionMoved:
                pass
            except StoreError as exc:
                cause = exc.__cause__
                if not isinstance(cause, sqlite3.OperationalError) or not _busy(cause):
                    raise
                if time.monotonic() >= deadline:
                    raise StoreError(
                        f"{self.path}: could not {what}: the database stayed locked by another "
                        f"writer for {self.busy_timeout:g} s"
                    ) from cause
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.2)
