"""The mock's store, on SQLite (the embedded default) or PostgreSQL: the `Store` protocol.

One store holds a mock's scenarios, response overrides and request log: a SQLite file in the
mock's data folder, or a schema of the PostgreSQL database `MOCKLOOP_DATABASE_URL` names, which
several mock replicas then share (see `mockloop.store.database`). The SQL is the same on both.

Concurrency model:

* Threads: one connection per thread (`threading.local`). In SQLite's WAL mode readers never
  block the writer nor each other, so the admin API can search the log while the request-log
  writer inserts; a single lock-guarded connection would serialise those reads behind every
  batch. PostgreSQL's MVCC gives the same.
* Processes: every write runs under the store's write lock (`Connection.begin_write`: SQLite's
  `BEGIN IMMEDIATE` with a busy timeout, an advisory lock on PostgreSQL), so a writer takes the
  lock up front and waits for it.
* Fork: a connection is never reused across `fork()`; a child opens its own.
* Close: each connection has a lock held for the length of one call, so `close()` from one
  thread waits for a call in progress in another instead of freeing the connection under it
  (which crashes the interpreter).
* The GIL: the request log goes in as multi-row INSERTs, not `executemany` (see
  `_insert_chunks`), so a busy event loop cannot starve the writer thread.
* Replicas: every change to scenarios or overrides bumps `config_state.version` in the same
  transaction (and, on PostgreSQL, sends a notification on the schema's channel), which is
  how other processes on the same store learn that they must reload (`mock.replicas`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from mockloop.errors import ConfigError, ScenarioError
from mockloop.store.base import StoreBase
from mockloop.store.database import Connection, Location, Migration
from mockloop.store.migrations import MIGRATIONS as MOCK_MIGRATIONS

__all__ = ["LOG_COLUMNS", "SQLStore", "SQLiteStore", "WriterProgress", "parse_status_filter"]

logger = logging.getLogger("mockloop.store")

LOG_COLUMNS: tuple[str, ...] = (
    "id",
    "ts",
    "method",
    "path",
    "query",
    "operation_id",
    "status",
    "latency_ms",
    "request_size",
    "response_size",
    "request_headers",
    "response_headers",
    "request_body",
    "response_body",
    "truncated",
    "client",
    "session_id",
    "correlation_id",
    "scenario",
    "mode",
    "upstream_status",
    "upstream_latency_ms",
    "upstream_error",
    "writer_id",
    "seq",
)
_REF_COLUMNS = ("request_body_ref", "response_body_ref")
_INSERT_COLUMNS = (*LOG_COLUMNS[1:], *_REF_COLUMNS)
_ROW_PLACEHOLDERS = f"({', '.join('?' for _ in _INSERT_COLUMNS)})"
_MAX_ROWS_PER_INSERT = 1000
_SELECT_LOG = f"SELECT {', '.join((*LOG_COLUMNS, *_REF_COLUMNS))} FROM request_log"
# Bodies at least this long are stored once in log_bodies and referenced by their hash.
_SHARED_BODY_MIN = 256
_BODY_INDEXES = (LOG_COLUMNS.index("request_body") - 1, LOG_COLUMNS.index("response_body") - 1)
# Columns that may be NULL and default to NULL: one that is NULL in every row of a chunk is left
# out of its INSERT rather than bound (sqlite3 adapts a bound None through a failed protocol
# lookup, an exception each: about a third of the insert's CPU with the usual six NULLs a row).
_NULL_DEFAULT_SLOTS = tuple(
    index
    for index, column in enumerate(_INSERT_COLUMNS)
    if column
    not in {
        "ts",
        "method",
        "path",
        "query",
        "request_size",
        "response_size",
        "request_headers",
        "response_headers",
        "request_body",
        "response_body",
        "truncated",
    }
)
_REF_MEMO_LIMIT = 1024
_GC_EVERY = 100_000  # evicted rows between sweeps of unreferenced bodies (a full turnover)
_JSON_COLUMNS = frozenset({"request_headers", "response_headers"})
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


@lru_cache(maxsize=128)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: str | None) -> bool:
    """SQL `value REGEXP pattern`: Python `re.search` semantics."""
    if value is None:
        return False
    return _compile(pattern).search(value) is not None


def _checked_regex(pattern: str) -> str:
    try:
        _compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid path regular expression {pattern!r}: {exc}") from None
    return pattern


def parse_status_filter(status: int | str) -> tuple[int, int]:
    """A status filter as an inclusive range: 404 -> (404, 404), "4xx" -> (400, 499).

    Raises:
        ConfigError: neither an HTTP status code nor a class like "4xx".
    """
    if isinstance(status, bool):
        raise ConfigError(
            f"invalid status filter {status!r}: use a code like 404 or a class like 4xx"
        )
    if isinstance(status, int):
        code = status
    else:
        text = str(status).strip()
        match = _STATUS_CLASS.match(text)
        if match:
            base = int(match.group(1)) * 100
            return base, base + 99
        if not text.isdigit():
            raise ConfigError(
                f"invalid status filter {status!r}: use a code like 404 or a class like 4xx"
            )
        code = int(text)
    if not 100 <= code <= 599:
        raise ConfigError(f"invalid status filter {status!r}: HTTP status codes are 100-599")
    return code, code


@dataclass(frozen=True)
class WriterProgress:
    """How far one request-log writer has got: its row in `log_writers`.

    Args:
        writer_id: the writer's identity (see `mockloop.mock.request_log.counters`).
        last_seq: every record of the writer numbered up to this is stored or counted dropped.
        dropped: records up to `last_seq` the writer gave up on (conversion or store failures).
        rejected: records dropped on submit (queue full, writer closed); they have no number.
        lost: records a crash took (handed a number, never stored), found at later starts.
    """

    writer_id: str
    last_seq: int
    dropped: int = 0
    rejected: int = 0
    lost: int = 0


_UPSERT_PROGRESS = (
    "INSERT INTO log_writers (writer_id, last_seq, dropped, rejected, lost, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (writer_id) DO UPDATE"
    " SET last_seq = excluded.last_seq, dropped = excluded.dropped,"
    " rejected = excluded.rejected, lost = excluded.lost, updated_at = excluded.updated_at"
)


@lru_cache(maxsize=64)
def _multi_row_insert(rows: int, columns: tuple[str, ...] = _INSERT_COLUMNS) -> str:
    """`INSERT INTO request_log (columns) VALUES (?, ...), ...` for `rows` rows."""
    placeholders = _ROW_PLACEHOLDERS
    if columns is not _INSERT_COLUMNS:
        placeholders = f"({', '.join('?' for _ in columns)})"
    return f"INSERT INTO request_log ({', '.join(columns)}) VALUES " + ", ".join(
        [placeholders] * rows
    )


def _chunk_insert(chunk: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
    """The INSERT of `chunk` (rows in `_INSERT_COLUMNS` order) and its flat parameters.

    A nullable column that is NULL in every row of the chunk is left out: it takes its default,
    NULL, without a parameter. A mock's rows mostly share their NULLs (no session, scenario,
    upstream or request body), so the statement sizes stay few.
    """
    columns = list(zip(*chunk, strict=True))
    size = len(chunk)
    omitted = {slot for slot in _NULL_DEFAULT_SLOTS if columns[slot].count(None) == size}
    if not omitted:
        return _multi_row_insert(size), list(itertools.chain.from_iterable(chunk))
    kept = [slot for slot in range(len(_INSERT_COLUMNS)) if slot not in omitted]
    names = tuple(_INSERT_COLUMNS[slot] for slot in kept)
    values = itertools.chain.from_iterable(zip(*(columns[slot] for slot in kept), strict=True))
    return _multi_row_insert(size, names), list(values)


def _sqlite_setup(conn: Connection) -> None:
    """The SQLite settings of a mock store's connection (nothing to do on PostgreSQL)."""
    if conn.dialect != "sqlite":
        return
    # NORMAL is durable across application crashes in WAL mode; only a power loss can lose the
    # last transactions, which is acceptable for a mock's logs and config.
    conn.execute("PRAGMA synchronous = NORMAL")
    # Checkpoint the WAL every ~40 MB instead of ~4 MB: the request log writes continuously,
    # and each checkpoint rewrites pages into the main file.
    conn.execute("PRAGMA wal_autocheckpoint = 10000")
    conn.raw.create_function("regexp", 2, _regexp, deterministic=True)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class SQLStore(StoreBase):
    """Scenarios, response overrides and the request log of one mock, in one store.

    One connection per thread (`StoreBase` "per_thread", see the module docstring), opened and
    migrated in the constructor.

    Args:
        path: the SQLite database file (missing parent folders are created), or a `Location`
            (a SQLite file or a PostgreSQL schema).
        busy_timeout: seconds a statement waits for a lock held by another connection or
            process before failing with `StoreError`.
        migrations: the schema steps to apply on open (tests pass their own list).

    Raises:
        ConfigError: `path` is empty or `:memory:` (each thread would see its own database).
        StoreError: the file cannot be opened, is not a database, or cannot be migrated.
    """

    NAME = "mock"
    TITLE = "database"
    MIGRATIONS = MOCK_MIGRATIONS
    CONNECTIONS = "per_thread"
    OPEN_NOW = True

    def __init__(
        self,
        path: str | os.PathLike[str] | Location,
        *,
        busy_timeout: float = 10.0,
        migrations: tuple[Migration, ...] = MOCK_MIGRATIONS,
    ) -> None:
        self._rows_per_insert = 0  # set from the connection's variable limit on first insert
        self._ref_memo: dict[str, str] = {}  # body text -> its log_bodies ref
        self._evicted_since_gc = 0
        super().__init__(path, busy_timeout=busy_timeout, migrations=migrations)

    setup_connection = staticmethod(_sqlite_setup)

    # -- connections and errors -------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        """A write transaction that takes the store's write lock up front."""
        with self._transaction(what, write=True) as conn:
            yield conn

    @contextlib.contextmanager
    def _config_write(self, what: str) -> Iterator[Connection]:
        """A write to scenarios or overrides: bumps the config version for the replicas."""
        with self._write(what) as conn:
            yield conn
            conn.execute("UPDATE config_state SET version = version + 1 WHERE id = 1")
            if conn.dialect == "postgresql":
                conn.execute("SELECT pg_notify(?, 'config')", (self.channel,))

    def _read(self, what: str, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[Any]:
        with self._connect(what) as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close every connection this store opened, in every thread (idempotent).

        An operation running in another thread finishes first; later calls raise
        `StoreError`. Stop the threads that use the store (a `RequestLogWriter`) first.
        """
        super().close()

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLStore({str(self.location)!r})"

    @property
    def channel(self) -> str:
        """The PostgreSQL notification channel of this store (its schema name)."""
        return self.location.schema or ""

    # -- replicas ---------------------------------------------------------------------------

    def config_version(self) -> int:
        """A number that grows with every change to scenarios or overrides, by any process."""
        rows = self._read("read the config version", "SELECT version FROM config_state")
        return int(rows[0][0]) if rows else 0

    def bump_config_version(self, what: str) -> None:
        """Tell the replicas that something they hold changed elsewhere (webhook
        registrations): they reload what they hold from the stores."""
        with self._config_write(what):
            pass

    def heartbeat(self, replica_id: str, url: str | None, seen_version: int) -> None:
        """Record that a replica is alive and has loaded config `seen_version`."""
        with self._write("record a replica heartbeat") as conn:
            conn.execute(
                "INSERT INTO replicas (replica_id, url, seen_version, heartbeat_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (replica_id) DO UPDATE SET url = excluded.url,"
                " seen_version = excluded.seen_version, heartbeat_at = excluded.heartbeat_at",
                (replica_id, url, seen_version, time.time()),
            )

    def replicas(self, *, max_age: float | None = None) -> list[dict[str, Any]]:
        """Replicas that reported within `max_age` seconds (all with None), oldest id first."""
        sql = "SELECT replica_id, url, seen_version, heartbeat_at FROM replicas"
        params: list[Any] = []
        if max_age is not None:
            sql += " WHERE heartbeat_at >= ?"
            params.append(time.time() - max_age)
        rows = self._read("list replicas", sql + " ORDER BY replica_id", params)
        keys = ("replica_id", "url", "seen_version", "heartbeat_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def remove_replica(self, replica_id: str) -> None:
        """Forget a replica (it stopped)."""
        with self._write("remove a replica") as conn:
            conn.execute("DELETE FROM replicas WHERE replica_id = ?", (replica_id,))

    def schema_version(self) -> int:
        """The newest migration applied to this database."""
        rows = self._read("read the schema version", "SELECT MAX(version) FROM schema_version")
        return int(rows[0][0] or 0)

    # -- scenarios --------------------------------------------------------------------------

    @staticmethod
    def _scenario(row: tuple[Any, ...]) -> dict[str, Any]:
        name, config, created_at, updated_at, active = row
        return {
            "name": name,
            "config": orjson.loads(config),
            "created_at": created_at,
            "updated_at": updated_at,
            "active": bool(active),
        }

    _SCENARIO_COLUMNS = "name, config, created_at, updated_at, active"

    def list_scenarios(self) -> list[dict[str, Any]]:
        """Every scenario: name, config, created_at, updated_at, active; ordered by name."""
        rows = self._read(
            "list scenarios", f"SELECT {self._SCENARIO_COLUMNS} FROM scenarios ORDER BY name"
        )
        return [self._scenario(row) for row in rows]

    def get_scenario(self, name: str) -> dict[str, Any] | None:
        """One scenario, or None when no scenario has that name."""
        rows = self._read(
            f"read scenario {name!r}",
            f"SELECT {self._SCENARIO_COLUMNS} FROM scenarios WHERE name = ?",
            (name,),
        )
        return self._scenario(rows[0]) if rows else None

    def put_scenario(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a scenario's config (keeps created_at and active); return it."""
        if not name:
            raise ScenarioError("a scenario needs a non-empty name")
        text = _dumps(config)
        now = time.time()
        with self._config_write(f"save scenario {name!r}") as conn:
            conn.execute(
                "INSERT INTO scenarios (name, config, created_at, updated_at, active)"
                " VALUES (?, ?, ?, ?, 0)"
                " ON CONFLICT (name) DO UPDATE"
                " SET config = excluded.config, updated_at = excluded.updated_at",
                (name, text, now, now),
            )
            row = conn.execute(
                f"SELECT {self._SCENARIO_COLUMNS} FROM scenarios WHERE name = ?", (name,)
            ).fetchone()
        return self._scenario(row)

    def delete_scenario(self, name: str) -> bool:
        """Delete a scenario (an active one leaves no scenario active); True when it existed."""
        with self._config_write(f"delete scenario {name!r}") as conn:
            return conn.execute("DELETE FROM scenarios WHERE name = ?", (name,)).rowcount > 0

    def set_active_scenario(self, name: str | None) -> None:
        """Make `name` the only active scenario, or deactivate all with None.

        Raises:
            ScenarioError: no scenario has that name (nothing changes).
        """
        with self._config_write(f"activate scenario {name!r}") as conn:
            conn.execute("UPDATE scenarios SET active = 0 WHERE active = 1")
            if name is None:
                return
            if conn.execute("UPDATE scenarios SET active = 1 WHERE name = ?", (name,)).rowcount:
                return
            known = [r[0] for r in conn.execute("SELECT name FROM scenarios ORDER BY name")]
            raise ScenarioError(
                f"unknown scenario {name!r}; known scenarios: {', '.join(known) or 'none'}"
            )

    def active_scenario(self) -> str | None:
        """The active scenario's name, or None."""
        rows = self._read("read the active scenario", "SELECT name FROM scenarios WHERE active = 1")
        return rows[0][0] if rows else None

    # -- response overrides -----------------------------------------------------------------

    def list_overrides(self) -> dict[str, dict[str, Any]]:
        """Every override config by key, ordered by key."""
        rows = self._read(
            "list response overrides", "SELECT key, config FROM response_overrides ORDER BY key"
        )
        return {key: orjson.loads(config) for key, config in rows}

    def put_override(self, key: str, config: dict[str, Any]) -> None:
        """Create or replace the override for `key` (an operation id or "METHOD /path")."""
        if not key:
            raise ConfigError("a response override needs a non-empty key")
        text = _dumps(config)
        with self._config_write(f"save response override {key!r}") as conn:
            conn.execute(
                "INSERT INTO response_overrides (key, config, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE"
                " SET config = excluded.config, updated_at = excluded.updated_at",
                (key, text, time.time()),
            )

    def delete_override(self, key: str) -> bool:
        """Delete one override; True when it existed."""
        with self._config_write(f"delete response override {key!r}") as conn:
            return conn.execute("DELETE FROM response_overrides WHERE key = ?", (key,)).rowcount > 0

    def clear_overrides(self) -> int:
        """Delete every override; return how many there were."""
        with self._config_write("clear response overrides") as conn:
            return conn.execute("DELETE FROM response_overrides").rowcount

    # -- request log ------------------------------------------------------------------------

    def insert_log_rows(
        self,
        rows: Sequence[Mapping[str, Any] | tuple[Any, ...]],
        *,
        progress: WriterProgress | None = None,
    ) -> None:
        """Insert already-redacted log rows in one transaction.

        Each row maps column names (`LOG_COLUMNS` without id) to values; missing columns take
        their defaults, header dicts are stored as JSON text. A row may also be a plain tuple
        of every column of `LOG_COLUMNS` but id, in order, holding the values as stored (text
        headers, `truncated` as 0 or 1): the request-log writer's form, which skips the
        conversion. `progress`, when given, is recorded in the same transaction: a crash
        leaves both or neither.
        """
        if not rows:
            if progress is not None:
                self.save_log_writer(progress)
            return
        params = []
        bodies: dict[str, str] = {}
        for row in rows:
            values = [*(row if isinstance(row, tuple) else self._log_params(row)), None, None]
            for slot, index in enumerate(_BODY_INDEXES):
                text = values[index]
                if len(text) >= _SHARED_BODY_MIN:
                    ref = self._body_ref(text)
                    bodies[ref] = text
                    values[index] = ""
                    values[len(LOG_COLUMNS) - 1 + slot] = ref
            params.append(tuple(values))
        with self._write(f"insert {len(rows)} request log rows") as conn:
            if bodies:
                conn.executemany(
                    "INSERT INTO log_bodies (ref, text) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    list(bodies.items()),
                )
            start = 0
            for size in self._insert_chunks(conn, len(params)):
                sql, values = _chunk_insert(params[start : start + size])
                start += size
                conn.execute(sql, values)
            if progress is not None:
                self._save_progress(conn, progress)

    @staticmethod
    def _save_progress(conn: Connection, progress: WriterProgress) -> None:
        conn.execute(
            _UPSERT_PROGRESS,
            (
                progress.writer_id,
                progress.last_seq,
                progress.dropped,
                progress.rejected,
                progress.lost,
                time.time(),
            ),
        )

    def save_log_writer(
        self, progress: WriterProgress, *, gap: tuple[int, int] | None = None
    ) -> None:
        """Record a writer's progress; with `gap` (first, last), also the numbers it lost.

        Raises:
            StoreError: the database could not be written.
        """
        with self._write(f"record request log writer {progress.writer_id}") as conn:
            self._save_progress(conn, progress)
            if gap is not None:
                conn.execute(
                    "INSERT INTO log_gaps (writer_id, first_seq, last_seq, found_at)"
                    " VALUES (?, ?, ?, ?)",
                    (progress.writer_id, gap[0], gap[1], time.time()),
                )

    def log_writer(self, writer_id: str) -> WriterProgress | None:
        """One writer's recorded progress, or None when it never stored anything."""
        rows = self._read(
            f"read request log writer {writer_id}",
            "SELECT writer_id, last_seq, dropped, rejected, lost FROM log_writers"
            " WHERE writer_id = ?",
            (writer_id,),
        )
        if not rows:
            return None
        writer, last_seq, dropped, rejected, lost = rows[0]
        return WriterProgress(writer, int(last_seq), int(dropped), int(rejected), int(lost))

    def log_gaps(self, writer_id: str | None = None) -> list[dict[str, Any]]:
        """The sequence ranges crashed writers lost, oldest first (one writer's, or all).

        Each is `{"writer_id", "first_seq", "last_seq", "lost", "found_at"}`.
        """
        sql = "SELECT writer_id, first_seq, last_seq, found_at FROM log_gaps"
        params: tuple[Any, ...] = ()
        if writer_id is not None:
            sql += " WHERE writer_id = ?"
            params = (writer_id,)
        rows = self._read("read request log gaps", f"{sql} ORDER BY id", params)
        return [
            {
                "writer_id": w,
                "first_seq": int(first),
                "last_seq": int(last),
                "lost": int(last) - int(first) + 1,
                "found_at": found,
            }
            for w, first, last, found in rows
        ]

    def _insert_chunks(self, conn: Connection, count: int) -> list[int]:
        """Rows per INSERT statement: few statements, from a small set of sizes.

        One multi-row INSERT per batch instead of executemany: executemany steps once per row,
        releasing and re-taking the GIL around every step, and while a busy event loop holds
        the GIL each re-take can wait a whole switch interval (5 ms), which throttles the
        writer to about a hundred rows a second. Full chunks share one statement size and the
        rest is split in powers of two, so the statement cache holds a dozen sizes at most.
        """
        if self._rows_per_insert == 0:
            limit = (
                conn.raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                if conn.dialect == "sqlite"
                else 65_535  # PostgreSQL's limit on a statement's parameters
            )
            self._rows_per_insert = max(1, min(_MAX_ROWS_PER_INSERT, limit // len(_INSERT_COLUMNS)))
        per = self._rows_per_insert
        sizes = [per] * (count // per)
        rest = count % per
        power = 1 << rest.bit_length()
        while rest:
            power >>= 1
            if rest >= power:
                sizes.append(power)
                rest -= power
        return sizes

    def _body_ref(self, text: str) -> str:
        # The writer hands over the same str object for a repeated body, and a str caches its
        # hash, so the memo makes a repeated body cost one dict lookup instead of a digest.
        ref = self._ref_memo.get(text)
        if ref is None:
            ref = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
            if len(self._ref_memo) >= _REF_MEMO_LIMIT:
                self._ref_memo.clear()
            self._ref_memo[text] = ref
        return ref

    def _fill_bodies(self, records: list[dict[str, Any]]) -> None:
        wanted = {r[c] for r in records for c in _REF_COLUMNS if r.get(c)}
        texts: dict[str, str] = {}
        refs = sorted(wanted)
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            sql = f"SELECT ref, text FROM log_bodies WHERE ref IN ({', '.join('?' * len(chunk))})"
            texts.update(self._read("read request log bodies", sql, chunk))
        for record in records:
            for column, ref_column in zip(
                ("request_body", "response_body"), _REF_COLUMNS, strict=True
            ):
                ref = record.pop(ref_column, None)
                if ref:
                    record[column] = texts.get(ref, "")

    def _collect_bodies_now(self) -> None:
        """Delete stored bodies no log row refers to (eviction does this every 100,000 rows)."""
        with self._write("collect unreferenced request log bodies") as conn:
            self._collect_bodies(conn)

    def _collect_bodies(self, conn: Connection) -> None:
        conn.execute(
            "DELETE FROM log_bodies WHERE ref NOT IN (SELECT request_body_ref FROM request_log "
            "WHERE request_body_ref IS NOT NULL) AND ref NOT IN (SELECT response_body_ref "
            "FROM request_log WHERE response_body_ref IS NOT NULL)"
        )

    @staticmethod
    def _log_params(row: Mapping[str, Any]) -> tuple[Any, ...]:
        get = row.get
        request_headers = get("request_headers") or {}
        response_headers = get("response_headers") or {}
        return (
            time.time() if get("ts") is None else get("ts"),
            get("method") or "",
            get("path") or "",
            get("query") or "",
            get("operation_id"),
            get("status"),
            get("latency_ms"),
            get("request_size") or 0,
            get("response_size") or 0,
            request_headers if isinstance(request_headers, str) else _dumps(request_headers),
            response_headers if isinstance(response_headers, str) else _dumps(response_headers),
            get("request_body") or "",
            get("response_body") or "",
            1 if get("truncated") else 0,
            get("client"),
            get("session_id"),
            get("correlation_id"),
            get("scenario"),
            get("mode"),
            get("upstream_status"),
            get("upstream_latency_ms"),
            get("upstream_error"),
            get("writer_id"),
            get("seq"),
        )

    @staticmethod
    def _where(
        method: str | None,
        path_regex: str | None,
        status: int | str | None,
        operation_id: str | None,
        time_from: float | None,
        time_to: float | None,
        session_id: str | None,
        correlation_id: str | None,
        exclude_mode: str | None = None,
        dialect: str = "sqlite",
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if exclude_mode is not None:
            clauses.append("(mode IS NULL OR mode != ?)")
            params.append(exclude_mode)
        if method is not None:
            clauses.append("method = ?")
            params.append(method.upper())
        if path_regex is not None:
            # PostgreSQL's `~` reads the pattern as a POSIX regular expression, which agrees
            # with Python's for the usual path patterns.
            clauses.append("path REGEXP ?" if dialect == "sqlite" else "path ~ ?")
            params.append(_checked_regex(path_regex))
        if status is not None:
            low, high = parse_status_filter(status)
            if low == high:
                clauses.append("status = ?")
                params.append(low)
            else:
                clauses.append("status BETWEEN ? AND ?")
                params.extend((low, high))
        if operation_id is not None:
            clauses.append("operation_id = ?")
            params.append(operation_id)
        if time_from is not None:
            clauses.append("ts >= ?")
            params.append(float(time_from))
        if time_to is not None:
            clauses.append("ts <= ?")
            params.append(float(time_to))
        if session_id is not None:
            clauses.append("session_id = ?")
            params.append(session_id)
        if correlation_id is not None:
            clauses.append("correlation_id = ?")
            params.append(correlation_id)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def _log_row(row: tuple[Any, ...]) -> dict[str, Any]:
        record = dict(zip((*LOG_COLUMNS, *_REF_COLUMNS), row, strict=True))
        for column in _JSON_COLUMNS:
            text = record[column]
            record[column] = orjson.loads(text) if text else {}
        record["truncated"] = bool(record["truncated"])
        return record

    def search_logs(
        self,
        *,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | str | None = None,
        operation_id: str | None = None,
        time_from: float | None = None,
        time_to: float | None = None,
        session_id: str | None = None,
        correlation_id: str | None = None,
        exclude_mode: str | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        """Log rows matching every given filter, one page of them.

        Args:
            method: HTTP method, any case.
            path_regex: Python regular expression searched anywhere in the path.
            status: an exact code (404) or a class ("4xx").
            operation_id: exact operation id.
            time_from: earliest ts, epoch seconds, inclusive.
            time_to: latest ts, epoch seconds, inclusive.
            session_id: exact session id (from the X-Session-ID header).
            correlation_id: exact correlation id.
            exclude_mode: leave out rows of this mode (e.g. "admin" for the admin port's own).
            limit: page size, at least 1.
            offset: rows to skip, at least 0.
            newest_first: order by ts descending (default) or ascending.

        Raises:
            ConfigError: an invalid regex, status filter, limit or offset.
            StoreError: the database could not be read.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"invalid log search limit {limit!r}: use an integer >= 1")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ConfigError(f"invalid log search offset {offset!r}: use an integer >= 0")
        where, params = self._where(
            method,
            path_regex,
            status,
            operation_id,
            time_from,
            time_to,
            session_id,
            correlation_id,
            exclude_mode,
            self.backend,
        )
        order = "DESC" if newest_first else "ASC"
        sql = f"{_SELECT_LOG}{where} ORDER BY ts {order}, id {order} LIMIT ? OFFSET ?"
        rows = self._read("search the request log", sql, [*params, limit, offset])
        records = [self._log_row(row) for row in rows]
        self._fill_bodies(records)
        return records

    def count_logs(
        self,
        *,
        method: str | None = None,
        path_regex: str | None = None,
        status: int | str | None = None,
        operation_id: str | None = None,
        time_from: float | None = None,
        time_to: float | None = None,
        session_id: str | None = None,
        correlation_id: str | None = None,
        exclude_mode: str | None = None,
    ) -> int:
        """How many log rows match every given filter (same filters as `search_logs`)."""
        where, params = self._where(
            method,
            path_regex,
            status,
            operation_id,
            time_from,
            time_to,
            session_id,
            correlation_id,
            exclude_mode,
            self.backend,
        )
        sql = f"SELECT COUNT(*) FROM request_log{where}"
        rows = self._read("count request log rows", sql, params)
        return int(rows[0][0])

    def traffic_rows(
        self, since: float, limit: int = 200_000
    ) -> list[tuple[float, int | None, float | None, str | None]]:
        """`(ts, status, latency_ms, operation_id)` of the business requests logged at or after
        `since` (the admin port's own rows left out), oldest first; the newest `limit` only."""
        sql = (
            "SELECT ts, status, latency_ms, operation_id FROM ("
            "SELECT id, ts, status, latency_ms, operation_id FROM request_log "
            "WHERE ts >= ? AND (mode IS NULL OR mode <> 'admin') ORDER BY id DESC LIMIT ?"
            ") AS recent ORDER BY id"
        )
        rows = self._read("read recent traffic", sql, (since, limit))
        return [(float(r[0]), r[1], r[2], r[3]) for r in rows]

    def evict_logs(self, keep: int) -> int:
        """Delete the oldest rows (by insertion order) beyond the newest `keep`; return how many.

        Raises:
            ConfigError: `keep` is negative.
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ConfigError(f"invalid retention {keep!r}: keep must be an integer >= 0")
        with self._write("evict old request log rows") as conn:
            # Row ids are the rowid, handed out as max(id) + 1 under the write lock, and rows
            # only ever leave as a prefix (eviction) or all at once (clear), so the ids are
            # contiguous and the newest `keep` rows are exactly those above max(id) - keep.
            # Two index probes and a range delete, instead of a COUNT(*) scan on every batch.
            # Were a gap ever made (a hand-edited file), fewer rows are kept, never more.
            high = conn.execute("SELECT MAX(id) FROM request_log").fetchone()[0]
            if high is None or high <= keep:
                return 0
            evicted = conn.execute("DELETE FROM request_log WHERE id <= ?", (high - keep,)).rowcount
            self._evicted_since_gc += evicted
            if self._evicted_since_gc >= _GC_EVERY:
                self._collect_bodies(conn)
                self._evicted_since_gc = 0
            return evicted

    def clear_logs(self) -> int:
        """Delete every log row; return how many there were."""
        with self._write("clear the request log") as conn:
            cleared = conn.execute("DELETE FROM request_log").rowcount
            conn.execute("DELETE FROM log_bodies")
            return cleared

    # -- whole state ------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Scenarios, overrides, the active scenario and the log row count, from one snapshot."""
        with self._connect("export the store") as conn:
            # One read transaction so the parts agree with each other.
            conn.begin_read()
            try:
                scenarios = [
                    self._scenario(row)
                    for row in conn.execute(
                        f"SELECT {self._SCENARIO_COLUMNS} FROM scenarios ORDER BY name"
                    )
                ]
                overrides = {
                    key: orjson.loads(config)
                    for key, config in conn.execute(
                        "SELECT key, config FROM response_overrides ORDER BY key"
                    )
                }
                log_count = conn.execute("SELECT COUNT(*) FROM request_log").fetchone()[0]
            finally:
                conn.rollback()
        active = next((s["name"] for s in scenarios if s["active"]), None)
        return {
            "schema_version": max(m.version for m in MOCK_MIGRATIONS),
            "scenarios": scenarios,
            "overrides": overrides,
            "active_scenario": active,
            "log_count": log_count,
        }

    def import_state(self, data: dict[str, Any], *, replace: bool = False) -> None:
        """Load scenarios, overrides and the active scenario from an `export()` document.

        Scenarios may be a list of `{"name", "config"}` objects or a mapping of name to config.
        With `replace`, existing scenarios and overrides are deleted first; otherwise entries are
        created or replaced one by one. Everything happens in one transaction. The request log
        is never imported.

        Raises:
            ConfigError: the document does not have that shape.
            ScenarioError: the active scenario is not among the scenarios afterwards.
        """
        scenarios, overrides, active = self._parse_import(data)
        now = time.time()
        with self._config_write("import state") as conn:
            if replace:
                conn.execute("DELETE FROM scenarios")
                conn.execute("DELETE FROM response_overrides")
            for name, config in scenarios:
                conn.execute(
                    "INSERT INTO scenarios (name, config, created_at, updated_at, active)"
                    " VALUES (?, ?, ?, ?, 0)"
                    " ON CONFLICT (name) DO UPDATE"
                    " SET config = excluded.config, updated_at = excluded.updated_at",
                    (name, _dumps(config), now, now),
                )
            for key, config in overrides:
                conn.execute(
                    "INSERT INTO response_overrides (key, config, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE"
                    " SET config = excluded.config, updated_at = excluded.updated_at",
                    (key, _dumps(config), now),
                )
            if "active_scenario" in data:
                conn.execute("UPDATE scenarios SET active = 0 WHERE active = 1")
                if (
                    active is not None
                    and not conn.execute(
                        "UPDATE scenarios SET active = 1 WHERE name = ?", (active,)
                    ).rowcount
                ):
                    raise ScenarioError(
                        f"imported active scenario {active!r} is not among the scenarios"
                    )

    @staticmethod
    def _parse_import(
        data: Any,
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]], str | None]:
        if not isinstance(data, dict):
            raise ConfigError("an import document must be a JSON object")
        raw_scenarios = data.get("scenarios") or []
        scenarios: list[tuple[str, Any]] = []
        if isinstance(raw_scenarios, dict):
            scenarios = [(str(name), config) for name, config in raw_scenarios.items()]
        elif isinstance(raw_scenarios, list):
            for index, item in enumerate(raw_scenarios):
                if not isinstance(item, dict) or not item.get("name") or "config" not in item:
                    raise ConfigError(f"import: scenarios[{index}] needs a 'name' and a 'config'")
                scenarios.append((str(item["name"]), item["config"]))
        else:
            raise ConfigError("import: 'scenarios' must be a list or an object")
        raw_overrides = data.get("overrides") or {}
        if not isinstance(raw_overrides, dict):
            raise ConfigError("import: 'overrides' must be an object of key to config")
        overrides = [(str(key), config) for key, config in raw_overrides.items()]
        for name, config in scenarios + overrides:
            if not isinstance(config, dict):
                raise ConfigError(f"import: the config of {name!r} must be an object")
        active = data.get("active_scenario")
        if active is not None and not isinstance(active, str):
            raise ConfigError("import: 'active_scenario' must be a scenario name or null")
        return scenarios, overrides, active


SQLiteStore = SQLStore  # the name this class had while SQLite was the only backend
