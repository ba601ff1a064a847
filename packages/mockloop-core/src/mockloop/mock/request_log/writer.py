"""The request log: a cheap record for the hot path, and the background writer (redacting with
`mockloop.redaction`).

The mock server builds one `LogRecord` per request and hands it to `RequestLogWriter.submit`,
which only appends it to a deque. Everything costly (decoding headers, reading the session and
correlation ids, parsing JSON, redacting secrets, truncating bodies, SQL) happens later in the
writer's own thread, a batch at a time, in one transaction per batch.

Nothing is dropped silently: a full queue, a record that cannot be converted, or a batch the
store keeps refusing is counted in `stats()` and logged.

Nor is anything lost silently when the process dies. Each record accepted into the queue takes
the next number of its writer's sequence, stored with its row (`writer_id`, `seq`); the count
handed out lives in a memory-mapped file in the mock's data folder (`counters`),
which outlives a `kill -9`, and the store records in each batch's transaction how far the writer
got. The next writer to start on the folder compares the two: the difference is exactly the
records the dead process had answered but not stored. It is logged once, recorded in the store
(`log_gaps`) and shown in `stats()` (`lost_in_crash`, `lost_ranges`), and the new writer carries
on with the dead one's sequence.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from mockloop.errors import ConfigError, MockLoopError
from mockloop.mock.request_log.counters import (
    ACCEPTED,
    REJECTED,
    SETTLED,
    Recovery,
    WriterCounters,
)
from mockloop.redaction import REDACTED, SECRET_HEADERS, SECRET_WORDS, Redactor
from mockloop.store import SQLStore, Store
from mockloop.store.sql import LOG_COLUMNS, WriterProgress

__all__ = [
    "KEPT_BODY_BYTES",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_WORDS",
    "BatchObserver",
    "LogRecord",
    "Redactor",
    "RequestLogWriter",
]

# The redaction lives in `mockloop.redaction`; these names stay importable from here.

logger = logging.getLogger("mockloop.request_log")


#: The most of a request or response body a queued record holds (the log stores at most
#: `body_limit` characters of it, 4 KiB by default, after redaction).
KEPT_BODY_BYTES = 256 * 1024


class LogRecord:
    """One served request, as the hot path captured it: raw values, nothing decoded.

    Args:
        ts: when the request arrived, epoch seconds.
        method: HTTP method.
        path: request path (without the query).
        query: the raw query string (ASGI gives bytes).
        operation_id: the matched operation, or None when no operation matched.
        status: the response status code.
        latency_ms: time to produce the response, milliseconds.
        request_headers: the raw ASGI header list, `[(name, value), ...]` as bytes.
        response_headers: the response's header list, same shape.
        request_body: the request body bytes (past `KEPT_BODY_BYTES` only its start is kept;
            `request_size` keeps the whole length).
        response_body: the response body bytes (kept the same way).
        client: the client address ("host:port").
        scenario: the active scenario's name, if any.
        mode: which side answered: "mock", "proxy" (the live API), "fallback" (the mock, after
            the live API failed) or "replay" (a recording); "admin" for the admin port.
        upstream_status: the live API's status, when the request went upstream.
        upstream_latency_ms: the upstream call's time including retries, milliseconds.
        upstream_error: why the upstream call failed (secrets scrubbed), if it did.
        request_size: the whole request body's length, when `request_body` is only its start.
        response_size: the same for the response body.
    """

    __slots__ = (
        "client",
        "latency_ms",
        "method",
        "mode",
        "operation_id",
        "path",
        "query",
        "request_body",
        "request_headers",
        "request_size",
        "response_body",
        "response_headers",
        "response_size",
        "scenario",
        "status",
        "ts",
        "upstream_error",
        "upstream_latency_ms",
        "upstream_status",
    )

    def __init__(
        self,
        ts: float,
        method: str,
        path: str,
        query: bytes | str = b"",
        operation_id: str | None = None,
        status: int = 200,
        latency_ms: float = 0.0,
        request_headers: Sequence[tuple[bytes, bytes]] = (),
        response_headers: Sequence[tuple[bytes, bytes]] = (),
        request_body: bytes = b"",
        response_body: bytes = b"",
        client: str = "",
        scenario: str | None = None,
        mode: str = "mock",
        upstream_status: int | None = None,
        upstream_latency_ms: float | None = None,
        upstream_error: str | None = None,
        request_size: int | None = None,
        response_size: int | None = None,
    ) -> None:
        self.ts = ts
        self.method = method
        self.path = path
        self.query = query
        self.operation_id = operation_id
        self.status = status
        self.latency_ms = latency_ms
        self.request_headers = request_headers
        self.response_headers = response_headers
        # A queue of records holding whole 10 MiB uploads would hold gigabytes while the
        # writer catches up; the log keeps a few KiB of a body, so only its start waits here.
        self.request_size = len(request_body) if request_size is None else request_size
        self.response_size = len(response_body) if response_size is None else response_size
        self.request_body = (
            request_body if len(request_body) <= KEPT_BODY_BYTES else request_body[:KEPT_BODY_BYTES]
        )
        self.response_body = (
            response_body
            if len(response_body) <= KEPT_BODY_BYTES
            else response_body[:KEPT_BODY_BYTES]
        )
        self.client = client
        self.scenario = scenario
        self.mode = mode
        self.upstream_status = upstream_status
        self.upstream_latency_ms = upstream_latency_ms
        self.upstream_error = upstream_error

    def __repr__(self) -> str:
        return f"LogRecord({self.method} {self.path} -> {self.status} at {self.ts})"


#: What `RequestLogWriter.observe` takes: called with each batch and the writer's stats after it.
BatchObserver = Callable[[Sequence["LogRecord"], Mapping[str, Any]], None]


class _FlushMarker:
    """Put in the queue by `flush()`; the writer sets it once everything before it is written."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()


#: The columns of `RequestLogWriter._row_values`, in order (`LOG_COLUMNS` without id).
_ROW_COLUMNS = LOG_COLUMNS[1:]
_MEMO_LIMIT = 512  # distinct bodies / header sets remembered
_MEMO_MAX_BYTES = 16 * 1024  # larger ones are redacted every time, never kept


class RequestLogWriter:
    """Writes `LogRecord`s to a store from a background thread, in batches.

    `submit` is the only method the hot path calls: it appends to a deque and returns (no lock,
    no I/O, never raises). The writer thread wakes every `flush_interval` seconds while idle and
    every `busy_interval` seconds while records keep arriving (or at once when someone
    flushes), converts and redacts a batch, inserts it in one transaction, then trims the log
    to `max_records`.

    Under load it thus writes a little often, not a lot at once: on the mock's one core, a
    quarter second of records (thousands) converted in one go took the core from the event
    loop for tens of milliseconds, and the loop's p99 latency doubled (12 ms against 6 ms
    with small batches every 5 ms, in `bench/bench_mock.py`).

    Args:
        store: where rows go.
        redactor: the secret policy; a default `Redactor()` when None.
        body_limit: characters of each body kept; longer bodies are cut and flagged `truncated`.
        batch_size: records per transaction (a small batch holds the interpreter briefly).
        flush_interval: seconds the idle writer waits before writing a partial batch.
        busy_interval: seconds the writer waits after a wake that found records to write.
        max_records: rows kept in the log (oldest evicted first, in steps of 5% of it, so the
            log may briefly hold up to 5% more); 0 keeps everything.
        max_queue: records waiting in memory; past it new records are dropped and counted.
        retries: further attempts for a batch the store refused, before it is dropped.
        retry_delay: seconds before the first retry, doubled for each later one.
        counter_dir: a folder of the mock's data where the writer keeps its counters in a
            memory-mapped file, so that the next writer started on the folder reports exactly
            what a crash of this process lost (see the module docstring); it needs a `SQLStore`.
            None keeps the counters in memory: a crash's loss is then not measured.

    Raises:
        ConfigError: a size or interval is out of range.
    """

    def __init__(
        self,
        store: Store,
        *,
        redactor: Redactor | None = None,
        body_limit: int = 4096,
        batch_size: int = 128,
        flush_interval: float = 0.25,
        busy_interval: float = 0.005,
        max_records: int = 100_000,
        max_queue: int = 200_000,
        retries: int = 3,
        retry_delay: float = 0.05,
        counter_dir: Path | None = None,
    ) -> None:
        for name, value, low in (
            ("body_limit", body_limit, 0),
            ("batch_size", batch_size, 1),
            ("max_records", max_records, 0),
            ("max_queue", max_queue, 1),
            ("retries", retries, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"RequestLogWriter: {name} must be an integer >= {low}, not {value!r}"
                )
        for name, interval in (
            ("flush_interval", flush_interval),
            ("busy_interval", busy_interval),
        ):
            if not interval > 0:
                raise ConfigError(f"RequestLogWriter: {name} must be > 0, not {interval!r}")
        self.store = store
        self.redactor = redactor or Redactor()
        self.body_limit = body_limit
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.busy_interval = min(busy_interval, flush_interval)
        self.max_records = max_records
        self.max_queue = max_queue
        self.retries = retries
        self.retry_delay = retry_delay
        # A mock sends the same cached body bytes and clients the same headers again and again:
        # redacting each distinct one once keeps the writer's cost per row low. Only the writer
        # thread touches these, and each is bounded.
        self._body_memo: dict[tuple[bytes, str], tuple[str, bool]] = {}
        self._header_memo: dict[tuple[Any, ...], tuple[dict[str, str], str]] = {}
        self._path_memo: dict[str, str] = {}

        self._queue: deque[Any] = deque()
        self._accepting = True
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards the counters below; never taken by submit
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        self._taken = 0
        self._in_flight = 0
        self._rejected = 0  # dropped by submit: queue full, or writer closed
        # Its own lock: a submitter that overflows must not wait while the writer thread holds
        # `_lock` to take a batch.
        self._reject_lock = threading.Lock()
        self._failed = 0  # dropped by the writer: conversion failed or store kept refusing
        self._written = 0
        self._evicted = 0
        self._since_eviction = 0
        self._errors = 0
        self._last_drop_warning = 0.0
        self._rejected_reported = 0
        self._pending_markers = 0  # flush markers in the queue, so stats can leave them out
        self._id_prefix = os.urandom(8).hex()
        self._id_counter = itertools.count()
        self._observer: BatchObserver | None = None

        # Crash accounting. Sequence numbers are positions in the queue: submit counts what it
        # accepts, the writer thread numbers records in the order it takes them (the same
        # order, the queue being FIFO), so no number travels on a record.
        self._progress_store: SQLStore | None = None
        if counter_dir is not None and isinstance(store, SQLStore):
            self._progress_store = store
            recovery = Recovery.run(Path(counter_dir), store)
        else:
            if counter_dir is not None:
                logger.warning(
                    "request log: crash accounting needs a SQLStore, not %s; a crash's loss "
                    "will not be measured",
                    type(store).__name__,
                )
            recovery = Recovery(WriterCounters.in_memory(), WriterProgress("", 0))
        self._recovery = recovery  # what crashed writers before this one lost
        self._counters = recovery.counters
        progress = recovery.progress
        self.writer_id = self._counters.writer_id
        self._slots = self._counters.slots
        # next() on a count is atomic under the GIL: submitters on several threads still
        # count every record once.
        self._accepted = itertools.count(progress.last_seq + 1)
        self._numbered = progress.last_seq  # the highest number the writer thread has taken
        self._failed_base = progress.dropped
        self._rejected_base = progress.rejected
        self._lost_base = progress.lost

    # -- hot path ---------------------------------------------------------------------------

    def submit(self, record: LogRecord) -> None:
        """Queue one record for writing; O(1), never blocks, never raises.

        When the queue holds `max_queue` records (or the writer is closed) the record is
        dropped and counted in `stats()["dropped"]`. An accepted record takes the next number
        of the writer's sequence (counted in the counters file). The mock submits from one
        thread, its event loop; submitters racing on several threads are all counted, but for
        the instant of the race the file may show one number less per racing thread.
        """
        try:
            queue = self._queue
            # len() and append() are each atomic; racing submitters can overshoot the bound by
            # at most one record each, which keeps this path free of locks.
            if self._accepting and len(queue) < self.max_queue:
                # Counted before the append, so the counters file is never behind the store:
                # an 8-byte store into the mapped page (slot 1 is ACCEPTED).
                self._slots[1] = next(self._accepted)
                queue.append(record)
            else:
                self._reject()
        except Exception:  # pragma: no cover - a deque append does not fail short of MemoryError
            self._reject()

    def _reject(self) -> None:
        # Only counted here; the writer thread logs it (no logging I/O on the hot path).
        with self._reject_lock:
            self._rejected += 1
            # A counters view released by close() in another thread: the count above stands.
            with contextlib.suppress(ValueError):
                self._slots[REJECTED] = self._rejected_base + self._rejected

    def _report_rejections(self, *, force: bool = False) -> None:
        with self._reject_lock:
            rejected = self._rejected
        now = time.monotonic()
        if rejected > self._rejected_reported and (force or now - self._last_drop_warning >= 5.0):
            logger.warning(
                "request log: %d records dropped on submit (queue full at max_queue=%d, or "
                "writer closed); %d in total",
                rejected - self._rejected_reported,
                self.max_queue,
                rejected,
            )
            self._rejected_reported = rejected
            self._last_drop_warning = now

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> RequestLogWriter:
        """Start the background thread (idempotent); return self."""
        with self._lock:
            if self._closed:
                raise ConfigError("RequestLogWriter: cannot start a closed writer")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mockloop-request-log", daemon=True
                )
                self._thread.start()
        return self

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every record submitted before this call is written (or counted dropped).

        Returns False when `timeout` seconds pass first, or when the writer thread is not
        running and records are still queued.
        """
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not self._queue
        marker = _FlushMarker()
        with self._lock:
            self._pending_markers += 1
            self._queue.append(marker)  # markers bypass max_queue: they are not records
        self._wake.set()
        return marker.event.wait(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush, then stop the writer thread (idempotent); True when everything was handled.

        A writer that was never started writes its queued records in the calling thread.

        Records submitted after close are dropped and counted. Returns False when the thread
        did not finish within `timeout` (it keeps writing in the background, as a daemon).
        """
        with self._lock:
            if self._closed:
                return len(self._queue) == self._pending_markers
            self._closed = True
        self._accepting = False
        thread = self._thread
        if thread is None:
            # Never started: write what was queued here, in the caller's thread.
            self._stopping = True
            self._run()
            self._report_rejections(force=True)
            self._settle_on_close()
            return True
        flushed = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            return False
        leftover = 0
        with self._lock:
            while self._queue:  # records that raced with close(); popping is safe, iterating not
                if isinstance(self._queue.popleft(), _FlushMarker):
                    self._pending_markers -= 1
                else:
                    leftover += 1
            self._failed += leftover
            self._numbered += leftover
        if leftover:
            logger.warning("request log: %d records were never written (writer closed)", leftover)
        self._report_rejections(force=True)
        self._settle_on_close()
        return flushed and not leftover

    def _settle_on_close(self) -> None:
        """Every number handed out is now stored or counted dropped: say so, and let go."""
        with self._lock, self._reject_lock:
            # Each accepted record was taken by the writer thread or counted as left over.
            accepted = self._numbered
            progress = self._progress(accepted)
        if self._progress_store is not None:
            try:
                self._progress_store.save_log_writer(progress)
            except MockLoopError as exc:
                # The counters file still says it all: the next start settles it.
                logger.warning("request log: could not record the writer's last state: %s", exc)
        self._slots[ACCEPTED] = self._slots[SETTLED] = accepted
        # The file stays, unlocked: the next writer on the folder carries on with its numbers.
        self._counters.detach()
        self._slots = self._counters.slots

    def _progress(self, last_seq: int) -> WriterProgress:
        """This writer's state for the store (callers hold `_lock`, or are the writer thread)."""
        return WriterProgress(
            self.writer_id,
            last_seq,
            dropped=self._failed_base + self._failed,
            rejected=self._rejected_base + self._rejected,
            lost=self._lost_base,
        )

    def __enter__(self) -> RequestLogWriter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """Counters of this run, and what crashed earlier runs lost.

        submitted, written, dropped (split into dropped_on_submit and dropped_on_write),
        evicted, queued, errors: this run's records; `submitted` = `written` + `dropped` +
        `queued` once the writer is idle. writer_id, last_seq: this writer's identity and the
        highest sequence number it has handed out. lost_in_crash, lost_ranges: records that
        earlier writers on the same data folder answered but never stored because their
        process died, found when this writer started (each range: writer_id, first_seq,
        last_seq, lost); loss_unmeasured: writers whose loss could not be measured (their
        counters were behind the store: a power loss, or a data folder restored from a copy).
        not_logged: dropped + lost_in_crash, every answered request the log lacks, apart from
        rows retention evicted (`evicted`). crash_accounting: whether the counters are in a
        file that survives a crash.
        """
        with self._lock, self._reject_lock:
            queued = len(self._queue) - self._pending_markers
            rejected = self._rejected
            dropped = rejected + self._failed
            recovery = self._recovery
            return {
                "submitted": self._taken + queued + rejected,
                "written": self._written,
                "dropped": dropped,
                "dropped_on_submit": rejected,
                "dropped_on_write": self._failed,
                "evicted": self._evicted,
                "queued": queued + self._in_flight,
                "errors": self._errors,
                "writer_id": self.writer_id,
                "last_seq": int(self._slots[ACCEPTED]),
                "lost_in_crash": recovery.lost,
                "lost_ranges": [dict(r) for r in recovery.lost_ranges],
                "loss_unmeasured": list(recovery.unmeasured),
                "not_logged": dropped + recovery.lost,
                "crash_accounting": self._counters.durable,
            }

    # -- writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        wait = self.flush_interval
        while True:
            if len(queue) < self.batch_size and not self._stopping:
                self._wake.wait(wait)
                self._wake.clear()
            # Records came since the last wake: more are likely, so wake again soon.
            wait = self.busy_interval if queue else self.flush_interval
            while queue:
                try:
                    self._write_one_batch()
                except Exception:  # the thread must survive anything a batch throws
                    logger.exception("request log: unexpected error in the writer thread")
                    with self._lock:
                        self._errors += 1
            self._report_rejections()
            if self._stopping and not queue:
                return

    def _take_batch(self) -> tuple[list[LogRecord], _FlushMarker | None, int]:
        queue = self._queue
        batch: list[LogRecord] = []
        marker: _FlushMarker | None = None
        with self._lock:
            while queue and len(batch) < self.batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    self._pending_markers -= 1
                    marker = item
                    break
                batch.append(item)
            self._taken += len(batch)
            self._in_flight = len(batch)
            first = self._numbered + 1
            self._numbered += len(batch)
        return batch, marker, first

    def _write_one_batch(self) -> None:
        batch, marker, first = self._take_batch()
        try:
            if batch:
                self._store_batch(batch, first)
        finally:
            with self._lock:
                self._in_flight = 0
            observer = self._observer
            if batch and observer is not None:
                self._notify(observer, batch)
            if marker is not None:
                marker.event.set()

    def observe(self, observer: BatchObserver | None) -> None:
        """Hand every batch taken from now on to `observer`, on the writer's thread (None stops).

        The observer gets the batch's records (stored or counted dropped) and `stats()` after
        it, before a `flush()` waiting on the batch returns; the mock's metrics count requests
        this way, off the event loop. An observer that raises is logged and counted in
        `errors`; the batch stands.
        """
        self._observer = observer

    def _notify(self, observer: BatchObserver, batch: list[LogRecord]) -> None:
        try:
            observer(batch, self.stats())
        except Exception:
            logger.exception("request log: the batch observer %r failed", observer)
            with self._lock:
                self._errors += 1

    def _store_batch(self, batch: list[LogRecord], first: int) -> None:
        """Convert and insert one batch numbered from `first`; every record ends up settled:
        written, or counted dropped."""
        last = first + len(batch) - 1
        rows: list[tuple[Any, ...]] = []
        bad = 0
        for seq, record in enumerate(batch, first):
            try:
                rows.append(self._row_values(record, seq))
            except Exception:
                bad += 1
                logger.exception("request log: could not convert %r; it is dropped", record)
        if bad:
            with self._lock:
                self._failed += bad
                self._errors += bad
        if not rows:
            self._slots[SETTLED] = last  # the store learns it with the next batch
            return
        delay = self.retry_delay
        for attempt in itertools.count():
            try:
                self._insert(rows, last)
            except Exception as exc:
                with self._lock:
                    self._errors += 1
                # A store error may pass; anything else is a bug that a retry will not fix.
                if attempt >= self.retries or not isinstance(exc, MockLoopError):
                    with self._lock:
                        self._failed += len(rows)
                    self._slots[SETTLED] = last
                    logger.error(
                        "request log: dropped a batch of %d records after %d attempts: %s",
                        len(rows),
                        attempt + 1,
                        exc,
                        exc_info=not isinstance(exc, MockLoopError),
                    )
                    return
                logger.warning(
                    "request log: batch of %d records failed (attempt %d), retrying: %s",
                    len(rows),
                    attempt + 1,
                    exc,
                )
                time.sleep(delay)
                delay *= 2
            else:
                break
        with self._lock:
            self._written += len(rows)
        self._slots[SETTLED] = last
        self._since_eviction += len(rows)
        # Retention runs in steps of 5% of the bound (at most 5,000 rows), not after every
        # batch: deleting thousands of rows at once costs little more than deleting ten.
        step = min(5000, max(1, self.max_records // 20))
        if self.max_records and (self._since_eviction >= step or self._stopping):
            self._since_eviction = 0
            try:
                evicted = self.store.evict_logs(self.max_records)
            except MockLoopError as exc:
                with self._lock:
                    self._errors += 1
                logger.warning("request log: retention failed (will retry next batch): %s", exc)
            else:
                if evicted:
                    with self._lock:
                        self._evicted += evicted

    def _insert(self, rows: list[tuple[Any, ...]], last: int) -> None:
        """Insert rows; with crash accounting, advance the writer's progress in the same
        transaction."""
        if self._progress_store is None:
            self.store.insert_log_rows(rows)
            return
        with self._lock:
            progress = self._progress(last)
        self._progress_store.insert_log_rows(rows, progress=progress)

    def _headers(self, pairs: Any) -> tuple[dict[str, str], str]:
        """The header list redacted, and as JSON text; remembered when it is small.

        The memo is consulted first: a large header set is never in it, so its size is only
        counted when it is not found (a repeated set costs one tuple and one lookup).
        """
        key = tuple(pairs)
        found = self._header_memo.get(key)
        if found is None:
            headers = self.redactor.headers(pairs)
            found = (headers, orjson.dumps(headers).decode())
            if sum(len(name) + len(value) for name, value in key) <= _MEMO_MAX_BYTES:
                if len(self._header_memo) >= _MEMO_LIMIT:
                    self._header_memo.clear()
                self._header_memo[key] = found
        return found

    def _body(self, body: bytes, content_type: str) -> tuple[str, bool]:
        if not body or len(body) > _MEMO_MAX_BYTES:
            return self.redactor.body(body, content_type, self.body_limit)
        key = (body, content_type)
        found = self._body_memo.get(key)
        if found is None:
            found = self.redactor.body(body, content_type, self.body_limit)
            if len(self._body_memo) >= _MEMO_LIMIT:
                self._body_memo.clear()
            self._body_memo[key] = found
        return found

    def _path(self, path: str) -> str:
        """`path` redacted, remembered: load hits the same paths again and again."""
        found = self._path_memo.get(path)
        if found is None:
            found = self.redactor.path(path)
            if len(path) <= _MEMO_MAX_BYTES:
                if len(self._path_memo) >= _MEMO_LIMIT:
                    self._path_memo.clear()
                self._path_memo[path] = found
        return found

    def _new_correlation_id(self) -> str:
        """A correlation id for a request that came without one: unique, 32 hex characters.

        A random prefix drawn once per writer and a counter, not `os.urandom` per row: that is
        a system call, which releases the GIL, and taking it back from a busy event loop made
        it the writer's most expensive line.
        """
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def to_row(self, record: LogRecord) -> dict[str, Any]:
        """Convert one record to a redacted, truncated store row (runs in the writer thread)."""
        row = dict(zip(_ROW_COLUMNS, self._row_values(record, None), strict=True))
        del row["writer_id"], row["seq"]
        row["truncated"] = bool(row["truncated"])
        return row

    def _row_values(self, record: LogRecord, seq: int | None) -> tuple[Any, ...]:
        """`to_row` as the store's tuple (`LOG_COLUMNS` but id, in order), numbered `seq`.

        The writer inserts these: no dict per row for the store to take apart again.
        """
        limit = self.body_limit
        request_headers, request_json = self._headers(record.request_headers)
        response_headers, response_json = self._headers(record.response_headers)
        # The client's id wins; else the one the server put on the response (so the log matches
        # what the client saw); else a fresh random one, so every row can be referred to.
        correlation = (
            request_headers.get("x-correlation-id")
            or request_headers.get("x-request-id")
            or response_headers.get("x-correlation-id")
            or response_headers.get("x-request-id")
            or self._new_correlation_id()
        )
        request_body = record.request_body or b""
        response_body = record.response_body or b""
        request_text, request_cut = self._body(
            request_body, request_headers.get("content-type", "")
        )
        response_text, response_cut = self._body(
            response_body, response_headers.get("content-type", "")
        )
        request_cut = request_cut or record.request_size > len(request_body)
        response_cut = response_cut or record.response_size > len(response_body)
        query = self.redactor.query(record.query or b"")
        query_cut = len(query) > limit
        upstream_error = record.upstream_error
        return (
            record.ts,
            str(record.method).upper(),
            # Token shapes and URL passwords only (`/keys/sk-live-...`), behind the pre-scan.
            self._path(record.path),
            query[:limit] if query_cut else query,
            record.operation_id,
            record.status,
            record.latency_ms,
            record.request_size,
            record.response_size,
            # Already JSON text: the store keeps a string as given, so a repeated header set is
            # encoded once, not once per row.
            request_json,
            response_json,
            request_text,
            response_text,
            1 if request_cut or response_cut or query_cut else 0,
            record.client or None,
            request_headers.get("x-session-id") or None,
            correlation,
            record.scenario,
            record.mode,
            record.upstream_status,
            record.upstream_latency_ms,
            self.redactor.text(upstream_error) if upstream_error else None,
            self.writer_id,
            seq,
        )
