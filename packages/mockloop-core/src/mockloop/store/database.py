"""One connection interface over the two backends: SQLite (embedded) and PostgreSQL (by URL).

Every store of MockLoop (the mock's scenarios, overrides and request log; the server registry;
load and test runs; sessions and schedules; contexts; webhooks; the audit trail) writes its SQL
once, against `Connection`:

* Placeholders are `?`; on PostgreSQL they become `%s` (and a literal `%` becomes `%%`).
* Upserts use `INSERT ... ON CONFLICT (key) DO UPDATE SET c = excluded.c`, which both accept.
* `begin_write()` takes the store's write lock up front: SQLite's `BEGIN IMMEDIATE`, and on
  PostgreSQL a transaction-scoped advisory lock on the store's schema, so that writers of one
  store serialise the same way on both (a read-check-write under the lock never loses an update).
* `begin_read()` gives one snapshot for several SELECTs (`REPEATABLE READ` on PostgreSQL).
* Failures raise `DatabaseError` (a lock not obtained in time: `BusyError`; a constraint:
  `IntegrityError`), whatever the backend.

Where the data lives: without `MOCKLOOP_DATABASE_URL` each store keeps its own SQLite file in
`MOCKLOOP_HOME` (or the mock's data folder). With `MOCKLOOP_DATABASE_URL=postgresql://...` every
store lives in that database, each in its own schema, `{prefix}_{store}` (prefix `mockloop`, or
`MOCKLOOP_DATABASE_PREFIX`), so the SQL names its tables without qualification and each store's
schema migrations are versioned on their own, as they are per SQLite file.

Migrations are written once in SQLite's dialect and translated for PostgreSQL (`REAL` becomes
`DOUBLE PRECISION`, `INTEGER` becomes `BIGINT`, an `INTEGER PRIMARY KEY` becomes an identity
column, `BLOB` becomes `BYTEA`); a step that needs other SQL gives it in `postgresql=`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from mockloop.errors import ConfigError

__all__ = [
    "DATABASE_PREFIX_ENV",
    "DATABASE_URL_ENV",
    "BusyError",
    "Connection",
    "DatabaseError",
    "IntegrityError",
    "Location",
    "Migration",
    "apply_migrations",
    "connect",
    "database_url",
    "locate",
    "parse_database_url",
    "redact_url",
    "schema_name",
    "translate_ddl",
    "upsert_sql",
]

DATABASE_URL_ENV = "MOCKLOOP_DATABASE_URL"
DATABASE_PREFIX_ENV = "MOCKLOOP_DATABASE_PREFIX"
_DEFAULT_PREFIX = "mockloop"
_PG_SCHEMES = frozenset({"postgres", "postgresql"})
_NAME_CHARS = re.compile(r"[^a-z0-9_]+")
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer identifiers


class DatabaseError(Exception):
    """A backend failure (SQLite or PostgreSQL): the statement did not run."""


class BusyError(DatabaseError):
    """The store's write lock was not obtained within the busy timeout."""


class IntegrityError(DatabaseError):
    """A constraint (primary key, unique index, not null) refused the write."""


# -- where a store lives --------------------------------------------------------------------


def database_url() -> str | None:
    """`MOCKLOOP_DATABASE_URL`, or None when unset or empty (the SQLite default)."""
    value = os.environ.get(DATABASE_URL_ENV, "").strip()
    return value or None


def redact_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, ""))


def schema_name(store: str, prefix: str | None = None) -> str:
    """The PostgreSQL schema of a store: `{prefix}_{store}`, lower-case letters, digits and `_`.

    A name past PostgreSQL's 63 characters keeps its start and a hash of the whole, so two long
    names never share a schema.
    """
    chosen = prefix if prefix is not None else os.environ.get(DATABASE_PREFIX_ENV, "")
    chosen = chosen.strip() or _DEFAULT_PREFIX
    name = _NAME_CHARS.sub("_", f"{chosen}_{store}".lower()).strip("_")
    if not name or name[0].isdigit():
        name = f"m_{name}"
    if len(name) > _MAX_IDENTIFIER:
        digest = hashlib.sha256(name.encode()).hexdigest()[:10]
        name = f"{name[: _MAX_IDENTIFIER - 11]}_{digest}"
    return name


@dataclass(frozen=True)
class Location:
    """Where one store's tables are: a SQLite file, or a schema in a PostgreSQL database."""

    backend: Literal["sqlite", "postgresql"]
    path: Path | None = None
    url: str | None = None
    schema: str | None = None

    @classmethod
    def sqlite(cls, path: str | os.PathLike[str]) -> Location:
        return cls("sqlite", path=Path(path))

    @classmethod
    def postgresql(cls, url: str, schema: str) -> Location:
        return cls("postgresql", url=url, schema=schema)

    def describe(self) -> str:
        """The file path, or the database URL (password hidden) and schema, for messages."""
        if self.backend == "sqlite":
            return str(self.path)
        return f"{redact_url(self.url or '')} (schema {self.schema})"

    def __str__(self) -> str:
        return self.describe()


def parse_database_url(
    text: str, *, label: str = "store URL", files: bool = True
) -> tuple[Literal["sqlite", "postgresql"], str]:
    """What a store path or URL names: ("postgresql", the URL) or ("sqlite", the file path).

    The one parser of store URLs: a plain path, `sqlite:///relative.db` or `sqlite:////abs.db`
    (the SQLAlchemy convention; a bare `sqlite://` gives the path ""), and
    `postgres://` or `postgresql://user:password@host:port/database`. `label` names the
    setting in the error message; `files=False` (a shared-database setting, where a file means
    "SQLite files, each store its own") suggests only PostgreSQL or nothing.

    Raises:
        ConfigError: the URL's scheme is none of those.
    """
    if "://" not in text:
        return "sqlite", text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme in _PG_SCHEMES:
        return "postgresql", text
    if scheme == "sqlite":
        return "sqlite", rest[1:] if rest.startswith("/") else rest
    if not files:  # a shared database setting: PostgreSQL, or nothing for SQLite files
        raise ConfigError(
            f"{label} {redact_url(text)!r}: unknown scheme {scheme!r}; use "
            "postgresql://user:password@host:port/database, or nothing for SQLite files"
        )
    raise ConfigError(
        f"{label} {redact_url(text)!r}: unknown scheme {scheme!r}; use a file path, "
        "sqlite:///path/to/file.db or postgresql://user:password@host:port/database"
    )


def locate(store: str, sqlite_path: str | os.PathLike[str], url: str | None = None) -> Location:
    """Where `store` lives: PostgreSQL when `url` (or `MOCKLOOP_DATABASE_URL`) names one, else
    the SQLite file `sqlite_path`.

    Raises:
        ConfigError: the URL's scheme is neither postgresql:// nor sqlite:// (or a path).
    """
    chosen = url if url is not None else database_url()
    if chosen is None:
        return Location.sqlite(sqlite_path)
    backend, _ = parse_database_url(chosen, label=DATABASE_URL_ENV, files=False)
    if backend == "postgresql":
        return Location.postgresql(chosen, schema_name(store))
    # A SQLite URL or path names one file per store: keep each store's own file.
    return Location.sqlite(sqlite_path)


# -- migrations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One schema step: its version number, what it does, and its SQL statements.

    `statements` are SQLite's; `postgresql`, when given, replaces their translation.
    """

    version: int
    description: str
    statements: tuple[str, ...]
    postgresql: tuple[str, ...] | None = None

    def for_dialect(self, dialect: str) -> tuple[str, ...]:
        if dialect == "sqlite":
            return self.statements
        if self.postgresql is not None:
            return self.postgresql
        return tuple(translate_ddl(s) for s in self.statements)


_DDL_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b", re.IGNORECASE),
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
)


def translate_ddl(statement: str) -> str:
    """A SQLite DDL statement in PostgreSQL's types (see the module docstring)."""
    for pattern, replacement in _DDL_RULES:
        statement = pattern.sub(replacement, statement)
    return statement


def _current_version(conn: Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0) if row else 0


def apply_migrations(conn: Connection, migrations: Sequence[Migration]) -> list[int]:
    """Bring the store to its newest schema; return the versions applied now.

    Concurrent openers serialise on the store's write lock and re-read the version under it,
    so each step runs exactly once. A store written by a newer MockLoop is refused.

    Raises:
        DatabaseError: the schema could not be read or changed, or it is newer than known.
    """
    latest = max((m.version for m in migrations), default=0)
    if conn.dialect == "sqlite":
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY,"
            " description TEXT NOT NULL,"
            " applied_at REAL NOT NULL)"
        )
    elif conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        # PostgreSQL's IF NOT EXISTS is not safe against a concurrent creator: create it under
        # the store's write lock.
        with conn.transaction(write=True):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version BIGINT PRIMARY KEY,"
                " description TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL)"
            )
    if _current_version(conn) == latest:
        return []
    applied: list[int] = []
    with conn.transaction(write=True):
        version = _current_version(conn)
        if version > latest:
            raise DatabaseError(
                f"the database is at schema version {version}, newer than this MockLoop "
                f"knows ({latest}); upgrade MockLoop or use another database"
            )
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version <= version:
                continue
            for statement in migration.for_dialect(conn.dialect):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()),
            )
            applied.append(migration.version)
    return applied


def upsert_sql(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """`INSERT` of one row that replaces the row with the same `key` (both dialects).

    The portable form of SQLite's `INSERT OR REPLACE`: every column but the key is updated.
    """
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({', '.join(key)}) {action}"


# -- connections ------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """`?` placeholders as psycopg's `%s` (a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _pg_params(params: Iterable[Any]) -> list[Any]:
    # SQLite stores a bool as 0/1 in an INTEGER column; PostgreSQL refuses a boolean there.
    return [int(p) if isinstance(p, bool) else p for p in params]


class Connection:
    """A connection to one store, in autocommit mode: callers open their own transactions."""

    dialect: Literal["sqlite", "postgresql"]

    def __init__(self, location: Location, raw: Any, *, lock_key: int = 0) -> None:
        self.location = location
        self.dialect = location.backend
        self.raw = raw
        self._lock_key = lock_key
        if self.dialect == "sqlite":
            self._errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
        else:
            import psycopg

            self._errors = (psycopg.Error,)

    # SQL ------------------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] | Iterable[Any] = ()) -> Any:
        """Run one statement; the cursor (fetchone, fetchall, rowcount, iteration)."""
        try:
            if self.dialect == "sqlite":
                return self.raw.execute(sql, params)
            if not params:  # no placeholders to fill: the text goes as written, % and all
                return self.raw.execute(sql)
            return self.raw.execute(_pg_sql(sql), _pg_params(params))
        except self._errors as exc:
            raise self._translate(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""
        try:
            if self.dialect == "sqlite":
                self.raw.executemany(sql, rows)
            else:
                with self.raw.cursor() as cursor:
                    cursor.executemany(_pg_sql(sql), [_pg_params(r) for r in rows])
        except self._errors as exc:
            raise self._translate(exc) from exc

    def regexp(self, column: str) -> str:
        """A WHERE clause matching `column` against a `?` regular expression."""
        return f"{column} REGEXP ?" if self.dialect == "sqlite" else f"{column} ~ ?"

    # transactions ---------------------------------------------------------------------------

    def begin_write(self) -> None:
        """Open a transaction holding the store's write lock (waits up to the busy timeout)."""
        if self.dialect == "sqlite":
            self.execute("BEGIN IMMEDIATE")
            return
        self.execute("BEGIN")
        try:
            self.execute("SELECT pg_advisory_xact_lock(?)", (self._lock_key,))
        except BaseException:
            self.rollback()
            raise

    def begin_read(self) -> None:
        """Open a transaction in which every SELECT sees one committed state."""
        self.execute(
            "BEGIN" if self.dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ"
        )

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction, if any; never raises."""
        with contextlib.suppress(DatabaseError, *self._errors):
            if self.dialect == "sqlite":
                if self.raw.in_transaction:
                    self.raw.execute("ROLLBACK")
            else:
                self.raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """`begin_write()` (or `begin_read()`), then COMMIT, or ROLLBACK on any exception."""
        if write:
            self.begin_write()
        else:
            self.begin_read()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()

    # errors ---------------------------------------------------------------------------------

    def _translate(self, exc: BaseException) -> DatabaseError:
        text = str(exc).strip() or type(exc).__name__
        if self.dialect == "sqlite":
            if isinstance(exc, sqlite3.IntegrityError):
                return IntegrityError(text)
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
                return BusyError(text)
            return DatabaseError(text)
        from psycopg import errors as pg

        text = text.splitlines()[0]
        if isinstance(exc, pg.IntegrityError):
            return IntegrityError(text)
        if isinstance(exc, pg.LockNotAvailable | pg.QueryCanceled | pg.SerializationFailure):
            return BusyError(text)
        return DatabaseError(text)


def _lock_key(schema: str) -> int:
    """A stable signed 64-bit advisory-lock key for a schema."""
    return int.from_bytes(hashlib.sha256(schema.encode()).digest()[:8], "big", signed=True)


def _open_sqlite(location: Location, busy_timeout: float, check_same_thread: bool) -> Connection:
    assert location.path is not None
    try:
        location.path.parent.mkdir(parents=True, exist_ok=True)
        raw = sqlite3.connect(
            location.path,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"could not open the file: {exc}") from exc
    conn = Connection(location, raw)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        _enable_wal(conn, busy_timeout)
    except DatabaseError:
        conn.close()
        raise
    return conn


def _enable_wal(conn: Connection, timeout: float) -> None:
    """WAL mode, retried: SQLite answers "locked" at once when another opener races it."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except BusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _open_postgresql(location: Location, busy_timeout: float) -> Connection:
    assert location.url is not None and location.schema is not None
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            f"{DATABASE_URL_ENV} names PostgreSQL but psycopg is not installed: "
            "pip install 'mockloop[postgresql]'"
        ) from None
    timeout_ms = max(1, int(busy_timeout * 1000))
    try:
        raw = psycopg.connect(
            location.url,
            autocommit=True,
            connect_timeout=max(1, int(busy_timeout)),
            application_name="mockloop",
            options=f"-c lock_timeout={timeout_ms} -c search_path={location.schema}",
        )
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"could not connect: {first}") from exc
    conn = Connection(location, raw, lock_key=_lock_key(location.schema))
    try:
        exists = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = ?", (location.schema,)
        ).fetchone()
        if exists is None:
            # Under the store's write lock: CREATE SCHEMA IF NOT EXISTS can still fail with a
            # duplicate key when another process creates the same schema at the same moment.
            with conn.transaction(write=True):
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{location.schema}"')
    except DatabaseError:
        conn.close()
        raise
    return conn


def connect(
    location: Location,
    migrations: Sequence[Migration] = (),
    *,
    busy_timeout: float = 10.0,
    check_same_thread: bool = True,
    setup: Callable[[Connection], None] | None = None,
) -> Connection:
    """A new connection to `location`, its migrations applied.

    Raises:
        DatabaseError: the database cannot be opened or migrated (the message says why; the
            caller adds where, with `location.describe()`).
        ConfigError: PostgreSQL is asked for but psycopg is not installed.
    """
    if location.backend == "sqlite":
        conn = _open_sqlite(location, busy_timeout, check_same_thread)
    else:
        conn = _open_postgresql(location, busy_timeout)
    try:
        if setup is not None:
            setup(conn)
        if migrations:
            apply_migrations(conn, migrations)  # one SELECT when the schema is current
    except BaseException:
        conn.close()
        raise
    return conn
