"""Opening one of MockLoop's small SQLite files: the same steps for every store.

The registry, load runs, test runs and sessions each keep a file in `MOCKLOOP_HOME` that
several processes may read and write. A connection is opened per use, in autocommit mode (the
callers open their own transactions), with a busy timeout, WAL mode and the file's migrations
applied; every SQLite failure becomes a `StoreError` that names the file and what was being
done.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from mockloop.errors import StoreError
from mockloop.store.migrations import Migration, apply_migrations, enable_wal

__all__ = ["sqlite_connection"]


@contextlib.contextmanager
def sqlite_connection(
    path: Path,
    migrations: tuple[Migration, ...],
    *,
    busy_timeout: float,
    store: str,
    what: str,
) -> Iterator[sqlite3.Connection]:
    """A connection to `path` at its newest schema, closed on exit.

    Raises:
        StoreError: "{path}: could not open the {store}" when the file cannot be opened, or
            "{path}: could not {what}" when SQLite fails inside the block.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: could not open the {store}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        enable_wal(conn, busy_timeout)
        apply_migrations(conn, migrations)
        yield conn
    except (sqlite3.Error, RuntimeError) as exc:
        raise StoreError(f"{path}: could not {what}: {exc}") from exc
    finally:
        conn.close()
