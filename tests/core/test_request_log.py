"""The request log: records, redaction, and the background writer against a real SQLite file."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from mockloop.errors import ConfigError, StoreError
from mockloop.mock.request_log.writer import REDACTED, LogRecord, Redactor, RequestLogWriter
from mockloop.store import SQLiteStore
from tests.waiting import wait_for


@pytest.fixture
def store(database, tmp_path: Path):
    """The writer's store, on SQLite and on PostgreSQL."""
    s = SQLiteStore(database.location("mock_log", tmp_path / "log.db"))
    yield s
    s.close()


def _record(i: int = 0, **fields: Any) -> LogRecord:
    values: dict[str, Any] = {
        "ts": 1000.0 + i,
        "method": "GET",
        "path": f"/pets/{i}",
        "query": b"",
        "operation_id": "getPet",
        "status": 200,
        "latency_ms": 0.5,
        "request_headers": [(b"host", b"127.0.0.1"), (b"accept", b"application/json")],
        "response_headers": [(b"content-type", b"application/json")],
        "request_body": b"",
        "response_body": b'{"id": 1}',
        "client": "127.0.0.1:5000",
    }
    values.update(fields)
    return LogRecord(**values)


# -- LogRecord ------------------------------------------------------------------------------------


def test_log_record_is_slotted_and_keeps_raw_values() -> None:
    record = LogRecord(1.5, "GET", "/x", b"a=1", None, 404, 2.0, [(b"k", b"v")])
    assert not hasattr(record, "__dict__")
    assert (record.ts, record.method, record.path, record.query) == (1.5, "GET", "/x", b"a=1")
    assert (record.status, record.request_headers, record.response_body) == (
        404,
        [(b"k", b"v")],
        b"",
    )
    assert record.mode == "mock"


# -- Redactor -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "set-cookie",
        "X-API-Key",
        "x-auth-token",
        "password",
        "user_password",
        "passwd",
        "clientSecret",
        "client_secret",
        "access_token",
        "refreshToken",
        "api_key",
        "apikey",
        "private-key",
        "SSN",
        "credit_card",
        "cardNumber",
    ],
)
def test_secret_names(name: str) -> None:
    assert Redactor().is_secret(name)


@pytest.mark.parametrize("name", ["accept", "name", "session", "x-session-id", "author", "id"])
def test_ordinary_names(name: str) -> None:
    assert not Redactor().is_secret(name)


def test_extra_fields_are_secret_case_insensitively() -> None:
    redactor = Redactor(["Pin-Code", "email"])
    assert redactor.is_secret("pin_code")
    assert redactor.is_secret("PINCODE")
    assert redactor.is_secret("user_email")
    assert not Redactor().is_secret("email")


def test_header_redaction_and_repeated_headers() -> None:
    headers = Redactor().headers(
        [
            (b"authorization", b"Bearer abc"),
            (b"cookie", b"sid=1"),
            (b"x-api-key", b"k"),
            (b"accept", b"text/html"),
            (b"accept", b"application/json"),
        ]
    )
    assert headers == {
        "authorization": REDACTED,
        "cookie": REDACTED,
        "x-api-key": REDACTED,
        "accept": "text/html, application/json",
    }


def test_query_redaction_param_by_param() -> None:
    redactor = Redactor()
    assert redactor.query(b"api_key=abc&limit=10&token=xyz&flag") == (
        f"api_key={REDACTED}&limit=10&token={REDACTED}&flag"
    )
    assert redactor.query("limit=10&sort=name") == "limit=10&sort=name"
    # A percent-encoded name is still recognised.
    assert redactor.query("api%5Fkey=abc") == f"api%5Fkey={REDACTED}"
    assert redactor.query(b"") == ""


def test_json_body_redaction_is_recursive() -> None:
    body = {
        "user": "ann",
        "password": "hunter2",
        "nested": {"client_secret": "s3", "list": [{"accessToken": "t"}, 1]},
        "tokens_left": 3,
    }
    text, truncated = Redactor().body(orjson.dumps(body), "application/json", 4096)
    assert truncated is False
    assert orjson.loads(text) == {
        "user": "ann",
        "password": REDACTED,
        "nested": {"client_secret": REDACTED, "list": [{"accessToken": REDACTED}, 1]},
        "tokens_left": 3,  # a count under a "token" name is not a secret
    }


def test_json_with_escaped_names_is_still_redacted() -> None:
    raw = b'{"pass\\u0077ord": "hunter2"}'
    text, _ = Redactor().body(raw, "application/json", 4096)
    assert "hunter2" not in text
    assert orjson.loads(text) == {"password": REDACTED}


def test_clean_bodies_are_kept_as_sent() -> None:
    raw = b'{"name":  "Rex",\n "tag": "dog"}'
    assert Redactor().body(raw, "application/json", 4096) == (raw.decode(), False)
    assert Redactor().body(b"plain words", "text/plain", 4096) == ("plain words", False)


def test_form_and_text_bodies_are_redacted() -> None:
    redactor = Redactor()
    form, _ = redactor.body(b"user=ann&password=hunter2", "application/x-www-form-urlencoded", 4096)
    assert form == f"user=ann&password={REDACTED}"
    text = redactor.text(
        'Authorization: Bearer abc.def\nuser=ann&token=t0k <secret>s</secret> {"apiKey": "k1"'
    )
    for secret in ("abc.def", "t0k", ">s<", "k1"):
        assert secret not in text
    assert "user=ann" in text


def test_broken_json_falls_back_to_text_redaction() -> None:
    raw = b'{"user": "ann", "password": "hunter2", "oops'
    text, truncated = Redactor().body(raw, "application/json", 4096)
    assert "hunter2" not in text
    assert '"user": "ann"' in text
    assert truncated is False


def test_truncation_is_flagged() -> None:
    redactor = Redactor()
    text, truncated = redactor.body(b"x" * 100, "text/plain", 10)
    assert (text, truncated) == ("x" * 10, True)
    text, truncated = redactor.body(orjson.dumps({"a": "y" * 50}), "application/json", 20)
    assert len(text) == 20 and truncated is True
    # A secret cut in half by the limit is still redacted.
    text, truncated = redactor.body(b"password=hunter2hunter2", "text/plain", 14)
    assert "hunter" not in text and truncated is True


# -- the writer -----------------------------------------------------------------------------------


def test_writer_rejects_bad_settings(store: SQLiteStore) -> None:
    cases: list[dict[str, Any]] = [
        {"batch_size": 0},
        {"max_queue": 0},
        {"flush_interval": 0},
        {"busy_interval": 0},
        {"body_limit": -1},
    ]
    for kwargs in cases:
        with pytest.raises(ConfigError):
            RequestLogWriter(store, **kwargs)


def test_writer_writes_every_record_from_four_threads(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store, batch_size=500).start()
    barrier = threading.Barrier(4)

    def produce(n: int) -> None:
        barrier.wait()
        for i in range(5000):
            writer.submit(_record(i, client=f"thread-{n}"))

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.flush(timeout=60)
    assert store.count_logs() == 20_000
    stats = writer.stats()
    assert stats["submitted"] == 20_000
    assert stats["written"] == 20_000
    assert stats["dropped"] == 0
    assert stats["queued"] == 0
    assert stats["errors"] == 0
    assert len(store.search_logs(path_regex="^/pets/4999$", limit=10)) == 4
    writer.close()


def test_rows_carry_session_and_correlation_ids(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store).start()
    writer.submit(
        _record(
            1,
            request_headers=[(b"x-session-id", b"sess-1"), (b"x-correlation-id", b"corr-1")],
        )
    )
    writer.submit(_record(2, request_headers=[(b"x-request-id", b"req-2")]))
    writer.submit(_record(3, response_headers=[(b"x-request-id", b"resp-3")]))
    writer.submit(_record(4))
    writer.submit(_record(5))
    assert writer.flush()
    rows = {row["ts"]: row for row in store.search_logs()}
    assert rows[1001.0]["session_id"] == "sess-1"
    assert rows[1001.0]["correlation_id"] == "corr-1"
    assert rows[1002.0]["correlation_id"] == "req-2"
    assert rows[1002.0]["session_id"] is None
    assert rows[1003.0]["correlation_id"] == "resp-3"
    generated = {rows[1004.0]["correlation_id"], rows[1005.0]["correlation_id"]}
    assert len(generated) == 2
    assert all(re.fullmatch(r"[0-9a-f]{32}", cid) for cid in generated)
    row = rows[1001.0]
    assert (row["method"], row["path"], row["status"], row["client"]) == (
        "GET",
        "/pets/1",
        200,
        "127.0.0.1:5000",
    )
    assert (row["request_size"], row["response_size"]) == (0, 9)
    writer.close()


SECRETS = {
    "auth": b"Bearer SECRET-AUTH-7d1f",
    "cookie": b"sid=SECRET-COOKIE-91ab",
    "apikey_header": b"SECRET-HDRKEY-55c2",
    "api_key": "SECRET-QKEY-0e4a",
    "token": "SECRET-QTOKEN-b8f3",
    "password": "SECRET-PASS-3c9d",
    "client_secret": "SECRET-CLIENT-a7e6",
    "set_cookie": b"session=SECRET-SETCOOKIE-44aa",
}


def test_secrets_never_reach_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.db"
    store = SQLiteStore(path)
    writer = RequestLogWriter(store).start()
    body = orjson.dumps(
        {
            "user": "ann",
            "password": SECRETS["password"],
            "nested": {"client_secret": SECRETS["client_secret"], "keep": "VISIBLE-1"},
        }
    )
    writer.submit(
        _record(
            1,
            method="POST",
            query=f"api_key={SECRETS['api_key']}&token={SECRETS['token']}&page=2".encode(),
            request_headers=[
                (b"authorization", SECRETS["auth"]),
                (b"cookie", SECRETS["cookie"]),
                (b"x-api-key", SECRETS["apikey_header"]),
                (b"content-type", b"application/json"),
            ],
            response_headers=[(b"set-cookie", SECRETS["set_cookie"])],
            request_body=body,
        )
    )
    assert writer.flush()
    row = store.search_logs()[0]
    assert row["request_headers"]["authorization"] == REDACTED
    assert row["request_headers"]["cookie"] == REDACTED
    assert row["request_headers"]["x-api-key"] == REDACTED
    assert row["response_headers"]["set-cookie"] == REDACTED
    assert row["query"] == f"api_key={REDACTED}&token={REDACTED}&page=2"
    assert orjson.loads(row["request_body"]) == {
        "user": "ann",
        "password": REDACTED,
        "nested": {"client_secret": REDACTED, "keep": "VISIBLE-1"},
    }

    def raw_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(path.name))

    # Before close the rows live in the WAL file; after close they are checkpointed into the db.
    while_open = raw_bytes()
    writer.close()
    store.close()
    after_close = raw_bytes()
    for raw in (while_open, after_close):
        assert b"VISIBLE-1" in raw  # the grep does reach the stored rows
        assert b"SECRET-" not in raw  # every secret above starts with it


def test_truncated_flag_is_stored(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store, body_limit=16).start()
    writer.submit(_record(1, response_body=b"z" * 100))
    writer.submit(_record(2, response_body=b"short"))
    writer.submit(_record(3, query=b"q=" + b"a" * 40))
    assert writer.flush()
    rows = {row["ts"]: row for row in store.search_logs()}
    assert rows[1001.0]["truncated"] is True
    assert rows[1001.0]["response_body"] == "z" * 16
    assert rows[1001.0]["response_size"] == 100
    assert rows[1002.0]["truncated"] is False
    assert rows[1002.0]["response_body"] == "short"
    assert rows[1003.0]["truncated"] is True
    assert len(rows[1003.0]["query"]) == 16
    writer.close()


def test_retention_evicts_the_oldest_and_counts(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store, max_records=50, batch_size=10).start()
    for i in range(120):
        writer.submit(_record(i))
    assert writer.flush()
    assert store.count_logs() == 50
    kept = [row["ts"] for row in store.search_logs(limit=100, newest_first=False)]
    assert kept == [1000.0 + i for i in range(70, 120)]
    stats = writer.stats()
    assert stats["evicted"] == 70
    assert stats["written"] == 120
    writer.close()


def test_a_full_queue_drops_new_records_and_counts_them(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store, max_queue=10)  # not started: nothing drains the queue
    for i in range(25):
        writer.submit(_record(i))
    stats = writer.stats()
    assert (stats["submitted"], stats["queued"], stats["dropped"]) == (25, 10, 15)
    assert stats["dropped_on_submit"] == 15
    writer.start()
    assert writer.flush()
    assert store.count_logs() == 10
    kept = [row["ts"] for row in store.search_logs(newest_first=False)]
    assert kept == [1000.0 + i for i in range(10)]  # the first ten, never the newest
    assert writer.stats()["written"] == 10
    writer.close()


def test_close_flushes_and_is_idempotent(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store, flush_interval=30).start()  # only close can wake it early
    for i in range(300):
        writer.submit(_record(i))
    assert writer.close() is True
    assert store.count_logs() == 300
    assert writer.close() is True
    writer.submit(_record(999))  # after close: counted, not silently lost
    stats = writer.stats()
    assert stats["written"] == 300
    assert stats["dropped"] == 1
    assert store.count_logs() == 300
    with pytest.raises(ConfigError):
        writer.start()


def test_close_writes_records_of_a_writer_never_started(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store)
    writer.submit(_record(1))
    assert writer.flush() is False  # nothing is running to write it
    assert writer.close() is True
    assert store.count_logs() == 1


def test_writer_context_manager(store: SQLiteStore) -> None:
    with RequestLogWriter(store) as writer:
        writer.submit(_record(1))
    assert store.count_logs() == 1


class FlakyStore:
    """Wraps a real store; the next `failures` inserts raise StoreError."""

    def __init__(self, inner: SQLiteStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.attempts = 0

    def insert_log_rows(self, rows: list[dict[str, Any]]) -> None:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("disk I/O error (simulated)")
        self.inner.insert_log_rows(rows)

    def evict_logs(self, keep: int) -> int:
        return self.inner.evict_logs(keep)


def test_a_failing_batch_is_retried(store: SQLiteStore) -> None:
    flaky = FlakyStore(store, failures=2)
    writer = RequestLogWriter(flaky, retries=3, retry_delay=0.001).start()  # type: ignore[arg-type]
    writer.submit(_record(1))
    assert writer.flush()
    stats = writer.stats()
    assert (stats["written"], stats["errors"], stats["dropped"]) == (1, 2, 0)
    assert store.count_logs() == 1
    writer.close()


def test_a_batch_that_keeps_failing_is_dropped_counted_and_the_thread_survives(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FlakyStore(store, failures=3)
    writer = RequestLogWriter(flaky, retries=2, retry_delay=0.001).start()  # type: ignore[arg-type]
    writer.submit(_record(1))
    writer.submit(_record(2))
    assert writer.flush()
    stats = writer.stats()
    assert (stats["written"], stats["dropped"], stats["dropped_on_write"]) == (0, 2, 2)
    assert stats["errors"] == 3
    assert "dropped a batch of 2 records" in caplog.text
    writer.submit(_record(3))  # the store works again; so does the writer
    assert writer.flush()
    assert store.count_logs() == 1
    assert writer.stats()["written"] == 1
    writer.close()


def test_a_record_that_cannot_be_converted_is_counted(store: SQLiteStore) -> None:
    writer = RequestLogWriter(store).start()
    writer.submit(_record(1))
    writer.submit(_record(2, request_headers=None))  # not iterable
    writer.submit(_record(3))
    assert writer.flush()
    stats = writer.stats()
    assert (stats["written"], stats["dropped"], stats["errors"]) == (2, 1, 1)
    assert store.count_logs() == 2
    writer.close()


class BlockingStore:
    def __init__(self) -> None:
        self.release = threading.Event()

    def insert_log_rows(self, rows: list[dict[str, Any]]) -> None:
        self.release.wait(10)

    def evict_logs(self, keep: int) -> int:
        return 0


def test_flush_times_out_while_the_store_is_stuck() -> None:
    blocking = BlockingStore()
    writer = RequestLogWriter(blocking).start()  # type: ignore[arg-type]
    writer.submit(_record(1))
    started = time.monotonic()
    assert writer.flush(timeout=0.2) is False
    assert time.monotonic() - started < 5
    blocking.release.set()
    assert writer.flush(timeout=10) is True
    assert writer.stats()["written"] == 1
    writer.close()


def _write_from_another_process(path: str, tag: str, count: int) -> None:
    store = SQLiteStore(path)
    writer = RequestLogWriter(store, batch_size=100).start()
    for i in range(count):
        writer.submit(_record(i, client=tag))
    writer.close()
    store.close()


def test_two_processes_write_to_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    SQLiteStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_write_from_another_process, args=(path, tag, 1500))
        for tag in ("proc-a", "proc-b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with SQLiteStore(path) as store:
        assert store.count_logs() == 3000
        clients = [row["client"] for row in store.search_logs(limit=3000)]
        assert clients.count("proc-a") == 1500
        assert clients.count("proc-b") == 1500


def test_drops_on_submit_are_logged_by_the_writer(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = RequestLogWriter(store, max_queue=2)
    for i in range(5):
        writer.submit(_record(i))
    assert "dropped" not in caplog.text  # nothing is logged on the hot path
    writer.close()
    assert "3 records dropped on submit" in caplog.text
    assert store.count_logs() == 2


def test_stats_can_be_read_while_records_pour_in(store: SQLiteStore) -> None:
    # The producer outruns the writer, so the queue bound is hit as well.
    writer = RequestLogWriter(store, batch_size=50, max_queue=2000).start()
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            writer.submit(_record(i))
            i += 1

    def read_and_flush() -> bool:
        """One round: the figures are consistent while records pour in (and the writer
        catches up on a flush); done once the queue's bound has dropped records."""
        stats = writer.stats()
        assert stats["submitted"] >= stats["written"] + stats["dropped"]
        assert 0 <= stats["queued"] <= 2000 + 2 + 50
        assert writer.flush(timeout=10)
        return stats["dropped"] > 0

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        wait_for(read_and_flush, "the producer to overflow the queue", timeout=60, every=0)
    finally:
        stop.set()
        producer.join()
    assert writer.close()
    stats = writer.stats()
    assert stats["submitted"] == stats["written"] + stats["dropped"]
    assert stats["written"] == store.count_logs()
    assert stats["dropped"] == stats["dropped_on_submit"] > 0
    assert stats["queued"] == 0


def test_closing_the_store_under_a_running_writer_is_safe(tmp_path: Path) -> None:
    # Closing a sqlite3 connection while another thread is inside it can crash the process;
    # the store waits for the call in progress, later calls fail with StoreError.
    store = SQLiteStore(tmp_path / "race.db")
    writer = RequestLogWriter(store, batch_size=20, retries=0).start()
    for i in range(2000):
        writer.submit(_record(i))
    store.close()
    for i in range(200):
        writer.submit(_record(i))
    assert writer.close(timeout=30)
    stats = writer.stats()
    assert stats["written"] + stats["dropped"] == stats["submitted"] == 2200
    assert stats["dropped_on_write"] > 0
    assert stats["errors"] > 0
    with SQLiteStore(tmp_path / "race.db") as reopened:
        assert reopened.count_logs() == stats["written"]


def test_a_token_in_a_path_is_redacted_on_every_row(store: SQLiteStore) -> None:
    """Redacted paths are remembered across rows; the second row is redacted as the first."""
    token = "sk-live-" + "a1B2c3D4e5F6g7H8i9J0k1L2"
    writer = RequestLogWriter(store).start()
    for i in range(3):
        writer.submit(_record(i, path=f"/keys/{token}"))
    writer.submit(_record(3))
    assert writer.close() is True
    paths = [row["path"] for row in store.search_logs(newest_first=False)]
    assert len(paths) == 4
    assert all(token not in path for path in paths)
    assert paths[0] == paths[1] == paths[2] != f"/keys/{token}"
    assert paths[3] == "/pets/3"
