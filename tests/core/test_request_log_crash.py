"""Crash honesty of the request log: after `kill -9` the next start says exactly what was lost.

Every record the writer accepts takes the next number of its writer's sequence; the count
handed out lives in a memory-mapped file in the data folder, and the store records in each
batch's transaction how far the writer got. The next start on the folder compares the two.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop.mock.request_log.counters import WriterCounters
from mockloop.mock.request_log.writer import LogRecord, RequestLogWriter
from mockloop.store import SQLStore
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
PETSTORE = REPO / "examples" / "specs" / "petstore.yaml"


@pytest.fixture
def store(database, tmp_path: Path):
    """The writer's store, on SQLite and on PostgreSQL."""
    s = SQLStore(database.location("mock_crash", tmp_path / "log.db"))
    yield s
    s.close()


def _record(i: int) -> LogRecord:
    return LogRecord(ts=1000.0 + i, method="GET", path=f"/pets/{i}", status=200)


def _crash(writer: RequestLogWriter) -> None:
    """What the kernel does to a killed process: the counters file stays, its lock goes."""
    writer._accepting = False
    writer._stopping = True
    writer._wake.set()
    if writer._thread is not None:
        writer._thread.join(10)
    writer._counters.detach()


def _seqs(store: SQLStore, writer_id: str) -> list[int]:
    rows = store.search_logs(limit=10_000, newest_first=False)
    return [r["seq"] for r in rows if r["writer_id"] == writer_id]


# -- the writer, in process ---------------------------------------------------------------------


def test_records_are_numbered_in_order_and_stored_with_their_number(
    store: SQLStore, tmp_path: Path
) -> None:
    with RequestLogWriter(store, counter_dir=tmp_path / "counters", batch_size=7) as writer:
        for i in range(50):
            writer.submit(_record(i))
        assert writer.flush()
        writer_id = writer.writer_id
        stats = writer.stats()
    assert re.fullmatch(r"[0-9a-f]{16}", writer_id)
    assert stats["last_seq"] == 50 and stats["crash_accounting"] is True
    rows = store.search_logs(limit=100, newest_first=False)
    assert [r["seq"] for r in rows] == list(range(1, 51))
    assert [r["path"] for r in rows] == [f"/pets/{i}" for i in range(50)]
    assert {r["writer_id"] for r in rows} == {writer_id}
    progress = store.log_writer(writer_id)
    assert progress is not None and (progress.last_seq, progress.dropped) == (50, 0)


def test_a_clean_stop_reports_nothing_and_the_next_writer_continues_the_sequence(
    store: SQLStore, tmp_path: Path
) -> None:
    folder = tmp_path / "counters"
    with RequestLogWriter(store, counter_dir=folder) as first:
        for i in range(5):
            first.submit(_record(i))
    with RequestLogWriter(store, counter_dir=folder) as second:
        assert second.writer_id == first.writer_id
        stats = second.stats()
        assert (stats["lost_in_crash"], stats["lost_ranges"], stats["not_logged"]) == (0, [], 0)
        second.submit(_record(5))
    assert _seqs(store, first.writer_id) == [1, 2, 3, 4, 5, 6]
    assert store.log_gaps() == []


def test_a_crash_is_reported_exactly_once_with_its_range(
    store: SQLStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "counters"
    writer = RequestLogWriter(store, counter_dir=folder).start()
    for i in range(10):
        writer.submit(_record(i))
    assert writer.flush()
    writer._stopping = True  # the thread stops; these stay in memory, as at a kill -9
    writer._wake.set()
    assert writer._thread is not None
    writer._thread.join(10)
    for i in range(10, 14):
        writer.submit(_record(i))
    _crash(writer)

    with caplog.at_level("WARNING", logger="mockloop.request_log"):
        second = RequestLogWriter(store, counter_dir=folder)
    stats = second.stats()
    assert stats["lost_in_crash"] == 4 and stats["not_logged"] == 4
    assert stats["lost_ranges"] == [
        {"writer_id": writer.writer_id, "first_seq": 11, "last_seq": 14, "lost": 4}
    ]
    assert "4 answered request(s) never reached the log (sequence numbers 11-14)" in caplog.text
    assert second.writer_id == writer.writer_id and stats["last_seq"] == 14
    second.submit(_record(99))
    second.close()
    assert _seqs(store, writer.writer_id) == [*range(1, 11), 15]
    assert [(g["first_seq"], g["last_seq"], g["lost"]) for g in store.log_gaps()] == [(11, 14, 4)]
    progress = store.log_writer(writer.writer_id)
    assert progress is not None and (progress.last_seq, progress.lost) == (15, 4)

    with RequestLogWriter(store, counter_dir=folder) as third:  # reported once, not again
        assert third.stats()["lost_in_crash"] == 0


def test_records_the_store_refused_are_dropped_not_lost(store: SQLStore, tmp_path: Path) -> None:
    class Refusing(SQLStore):
        def insert_log_rows(self, rows: list[dict[str, Any]], **kwargs: Any) -> None:
            from mockloop.errors import StoreError

            raise StoreError("disk full")

    folder = tmp_path / "counters"
    refusing = Refusing(store.location)
    try:
        writer = RequestLogWriter(refusing, counter_dir=folder, retries=0).start()
        for i in range(3):
            writer.submit(_record(i))
        assert writer.flush()
        assert writer.stats()["dropped_on_write"] == 3
        _crash(writer)
    finally:
        refusing.close()
    with RequestLogWriter(store, counter_dir=folder) as second:
        stats = second.stats()
    assert stats["lost_in_crash"] == 0
    progress = store.log_writer(writer.writer_id)
    assert progress is not None and (progress.last_seq, progress.dropped) == (3, 3)


def test_live_writers_on_one_folder_keep_their_own_numbers(store: SQLStore, tmp_path: Path) -> None:
    folder = tmp_path / "counters"
    with (
        RequestLogWriter(store, counter_dir=folder) as one,
        RequestLogWriter(store, counter_dir=folder) as two,
    ):
        assert one.writer_id != two.writer_id
        assert two.stats()["lost_in_crash"] == 0  # a live writer's file is not an orphan
        for i in range(3):
            one.submit(_record(i))
            two.submit(_record(i))
            two.submit(_record(i))
    assert _seqs(store, one.writer_id) == [1, 2, 3]
    assert _seqs(store, two.writer_id) == [1, 2, 3, 4, 5, 6]
    assert len(list(folder.glob("*.counters"))) == 2


def test_counters_behind_the_store_are_reported_as_unmeasured(
    store: SQLStore, tmp_path: Path
) -> None:
    folder = tmp_path / "counters"
    with RequestLogWriter(store, counter_dir=folder) as writer:
        for i in range(4):
            writer.submit(_record(i))
    # What a power loss can leave: a page of the counters file that never reached the disk.
    (path,) = folder.glob("*.counters")
    path.write_bytes(path.read_bytes()[:8] + bytes(24))
    with RequestLogWriter(store, counter_dir=folder) as second:
        stats = second.stats()
        assert stats["loss_unmeasured"] == [writer.writer_id]
        assert stats["lost_in_crash"] == 0 and stats["last_seq"] == 4
        second.submit(_record(4))
    assert _seqs(store, writer.writer_id) == [1, 2, 3, 4, 5]


def test_the_counters_file_outlives_the_mapping_and_releases_its_lock(tmp_path: Path) -> None:
    counters = WriterCounters.create(tmp_path)
    counters.slots[1] = 42
    assert WriterCounters.claim_orphans(tmp_path) == []  # locked by its living owner
    counters.detach()
    counters.slots[1] = 7  # after detach: memory only
    (orphan,) = WriterCounters.claim_orphans(tmp_path)
    assert (orphan.writer_id, orphan.accepted) == (counters.writer_id, 42)
    orphan.remove()
    assert list(tmp_path.iterdir()) == []


# -- a real `mockloop serve`, killed ------------------------------------------------------------


class Served:
    """`mockloop serve` as a child process on free ports, its output in files."""

    def __init__(self, data_dir: Path, logs: Path) -> None:
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout = logs / f"stdout-{time.monotonic_ns()}.txt"
        self.stderr = self.stdout.with_name(self.stdout.name.replace("stdout", "stderr"))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mockloop.cli",
                "serve",
                str(PETSTORE),
                "--port",
                "0",
                "--admin-port",
                "0",
                "--no-auth",
                "--data-dir",
                str(data_dir),
                "--store-name",  # on PostgreSQL (the `database` fixture's URL): schema mock_crash
                "crash",
            ],
            stdout=self.stdout.open("wb"),
            stderr=self.stderr.open("wb"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_for(self._started, "mockloop serve to start", timeout=60, every=0.05)
        except AssertionError as exc:
            self.process.kill()
            raise AssertionError(f"{exc}: {self.errors()}") from None
        urls = dict(re.findall(r"(API|Admin):\s+(http://\S+)", self.output()))
        self.api, self.admin = urls["API"], urls["Admin"]

    def _started(self) -> bool:
        assert self.process.poll() is None, "mockloop serve exited before it started"
        return "Press Ctrl-C" in self.output()

    def output(self) -> str:
        return self.stdout.read_text()

    def errors(self) -> str:
        return self.stderr.read_text()

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        return self.process.wait(30)


def _answer(api: str, count: int) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        for i in range(count):
            response = client.get(f"/pets/{i + 1}")
            assert response.status_code == 200, response.text


def _stored(data_dir: Path, database) -> tuple[int, str | None]:
    """Rows in the dead mock's log, and the writer that stored them."""
    store = SQLStore(database.location("mock_crash", data_dir / "mock.db"))
    try:
        rows = store.search_logs(limit=10_000, newest_first=False)
    finally:
        store.close()
    writers = {r["writer_id"] for r in rows}
    assert len(writers) <= 1
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))  # a prefix, no holes
    return len(rows), next(iter(writers), None)


def _log_health(admin: str) -> dict[str, Any]:
    return httpx.get(f"{admin}/health", timeout=10).json()["request_log"]


@pytest.mark.parametrize("count", [1, 300])
def test_kill_9_then_restart_reports_exactly_what_was_lost(
    database, tmp_path: Path, count: int
) -> None:
    data_dir = tmp_path / "data"
    served = Served(data_dir, tmp_path / "logs")
    try:
        _answer(served.api, count)
    finally:
        assert served.stop(signal.SIGKILL) == -signal.SIGKILL
    stored, _ = _stored(data_dir, database)

    again = Served(data_dir, tmp_path / "logs")
    try:
        report = _log_health(again.admin)
        assert stored + report["lost_in_crash"] == count
        assert report["not_logged"] == report["lost_in_crash"]
        if report["lost_in_crash"]:
            (gap,) = report["lost_ranges"]
            assert (gap["first_seq"], gap["last_seq"]) == (stored + 1, count)
            assert f"{report['lost_in_crash']} answered request(s) never reached" in again.errors()
        else:
            assert "never reached the log" not in again.errors()
    finally:
        assert again.stop(signal.SIGTERM) == 0


def test_kill_9_while_the_store_is_locked_loses_every_record_and_says_so(
    tmp_path: Path, database
) -> None:
    if database.url is not None:
        pytest.skip("holds SQLite's write lock; the PostgreSQL case is the test above")
    data_dir = tmp_path / "data"
    served = Served(data_dir, tmp_path / "logs")
    # The writer cannot commit while another connection holds the write lock: every answered
    # request is still in the dead process's memory when it is killed.
    blocker = sqlite3.connect(data_dir / "mock.db", isolation_level=None, timeout=10)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        _answer(served.api, 40)
        assert served.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert _stored(data_dir, database)[0] == 0

    again = Served(data_dir, tmp_path / "logs")
    try:
        report = _log_health(again.admin)
        assert report["lost_in_crash"] == 40
        assert [(r["first_seq"], r["last_seq"]) for r in report["lost_ranges"]] == [(1, 40)]
        assert "40 answered request(s) never reached the log (sequence numbers 1-40)" in (
            again.errors()
        )
        _answer(again.api, 1)
    finally:
        assert again.stop(signal.SIGTERM) == 0
    rows = _stored_rows(data_dir)
    # The writer carries on with the dead one's numbers: the gap stays visible in the log.
    assert rows[-1]["seq"] > 40 and rows[-1]["path"] == "/pets/1"


def _stored_rows(data_dir: Path) -> list[dict[str, Any]]:
    store = SQLStore(data_dir / "mock.db")
    try:
        return store.search_logs(limit=10_000, newest_first=False)
    finally:
        store.close()


def test_sigterm_then_restart_reports_no_loss(database, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    served = Served(data_dir, tmp_path / "logs")
    try:
        _answer(served.api, 120)
    finally:
        assert served.stop(signal.SIGTERM) == 0
    stored, writer_id = _stored(data_dir, database)
    assert stored == 120

    again = Served(data_dir, tmp_path / "logs")
    try:
        report = _log_health(again.admin)
        assert report["lost_in_crash"] == 0 and report["lost_ranges"] == []
        assert report["writer_id"] == writer_id and report["last_seq"] >= 120
        assert "never reached the log" not in again.errors()
    finally:
        assert again.stop(signal.SIGTERM) == 0
