"""The audit trail: a record per call from any face, redaction, the hash chain, retention,
on SQLite and on PostgreSQL (the `database` fixture), with several writers at once."""

from __future__ import annotations

import csv
import io
import multiprocessing
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from mockloop import MockLoopClient, ServerError
from mockloop.audit import AuditStore, redact_arguments, using_face
from mockloop.audit import recorder as audit_recorder
from mockloop.errors import StoreError
from mockloop.mock import MockConfig, MockServer
from mockloop.store.database import Location, connect
from tests.conftest import PETSTORE

SECRETS = ("tok-SECRET-1", "pw-SECRET-2", "bearer-SECRET-3", "key-SECRET-4", "admin-SECRET-5")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _fresh_trails() -> Iterator[None]:
    """Each test opens its own trails and closes them (a PostgreSQL one holds a connection)."""
    audit_recorder.close_audit_stores()
    yield
    audit_recorder.close_audit_stores()


@pytest.fixture
def client(database: Any, tmp_path: Path) -> Iterator[MockLoopClient]:
    with MockLoopClient(home=str(tmp_path), admin_token=SECRETS[4]) as sync_client:
        yield sync_client


def _trail(database: Any, home: Path) -> Location:
    """Where the client's trail is on this test's backend."""
    return database.location("audit", home / "audit.db")


def _tamper(database: Any, home: Path, sql: str) -> None:
    """Change the trail behind the store's back, as someone with database access could."""
    conn = connect(_trail(database, home))
    try:
        conn.execute(sql)
    finally:
        conn.close()


def _stored_bytes(location: Location) -> bytes:
    """Everything the store holds: the SQLite files, or every PostgreSQL row."""
    if location.backend == "sqlite":
        assert location.path is not None
        return b"".join(p.read_bytes() for p in location.path.parent.glob(location.path.name + "*"))
    conn = connect(location)
    try:
        rows = conn.execute("SELECT * FROM audit").fetchall()
        rows += conn.execute("SELECT * FROM audit_meta").fetchall()
    finally:
        conn.close()
    return repr([tuple(r) for r in rows]).encode()


def _stored_request_log(location: Location) -> str:
    """The mock's request log as stored (its store's file, or its PostgreSQL schema)."""
    if location.backend == "sqlite":
        with sqlite3.connect(location.path or "") as mock_db:
            text = repr(mock_db.execute("SELECT * FROM request_log").fetchall())
            return text + repr(mock_db.execute("SELECT * FROM log_bodies").fetchall())
    conn = connect(location)
    try:
        text = repr([tuple(r) for r in conn.execute("SELECT * FROM request_log").fetchall()])
        return text + repr([tuple(r) for r in conn.execute("SELECT * FROM log_bodies").fetchall()])
    finally:
        conn.close()


def test_every_call_is_recorded_with_face_outcome_and_duration(
    client: MockLoopClient, tmp_path: Path
) -> None:
    client.list_mock_servers()
    with pytest.raises(ServerError):
        client.query_mock_logs(f"http://127.0.0.1:{_free_port()}")
    with using_face("mcp", session_id="agent-7"):
        client.list_mock_servers(include_stopped=True)
    page = client.query_audit_log()
    ops = [(r["operation"], r["face"], r["outcome"]) for r in page.records]
    assert ops == [
        ("list_mock_servers", "mcp", "ok"),
        ("query_mock_logs", "python", "error"),
        ("list_mock_servers", "python", "ok"),
    ]
    newest, failed = page.records[0], page.records[1]
    assert newest["session_id"] == "agent-7"
    assert newest["arguments"] == {"include_stopped": True}
    assert failed["error_class"] == "ServerError" and "nothing answers" in failed["error"]
    assert all(r["duration_ms"] >= 0 for r in page.records)
    only_mcp = client.query_audit_log(face="mcp")
    assert only_mcp.total == 1
    assert client.query_audit_log(outcome="error", limit=1).records[0]["operation"] == (
        "query_mock_logs"
    )


def test_secrets_never_reach_the_store_the_request_log_or_results(
    client: MockLoopClient, database: Any, tmp_path: Path
) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE),
        port=0,
        admin_port=0,
        auth=False,
        admin_token=SECRETS[4],
        data_dir=tmp_path / "mock",
    )
    with MockServer(config) as server:
        url = f"{server.business_url}?api_key={SECRETS[3]}"
        result = client.manage_mock_data(
            url,
            "update_response",
            endpoint_path="getPet",
            response_data={"status": 200, "headers": {"X-Token": SECRETS[0]}},
        )
        client.manage_mock_data(
            server.business_url,
            "create_scenario",
            scenario_name="login",
            scenario_config={
                "description": f"Authorization: Bearer {SECRETS[2]}",
                "rules": [{"operation": "getPet", "body": {"password": SECRETS[1]}}],
            },
        )
        logs = client.query_mock_logs(server.business_url, include_admin=True, limit=1000)
        mock_store = server.runtime.store
        assert mock_store is not None
        mock_location = mock_store.location
    db = _stored_bytes(_trail(database, tmp_path))
    assert b"list_mock_servers" in db or b"manage_mock_data" in db  # the right store was read
    # The request log as stored (the override itself is configuration the mock must keep).
    request_log = _stored_request_log(mock_location)
    assert "/api/mock-data/responses/getPet" in request_log
    exported = client.export_audit_log(format="jsonl").content or ""
    for secret in SECRETS:
        assert secret.encode() not in db, secret
        assert secret not in exported, secret
        assert secret not in logs.model_dump_json(), secret
        assert secret not in request_log, secret
    assert "[REDACTED]" in exported
    assert result.override is not None


def test_redaction_by_name_and_shape() -> None:
    redacted = redact_arguments(
        {
            "api_key": "k1",
            "nested": [{"Client-Secret": "s1", "fine": "ok"}],
            "header": "Bearer abc.def",
            "url": "https://user:pw@example.test/x?token=t1&page=2",
            "note": "password=hunter2 and more",
        }
    )
    text = orjson.dumps(redacted).decode()
    for secret in ("k1", "s1", "abc.def", "user:pw", "t1", "hunter2"):
        assert secret not in text, secret
    assert redacted["nested"][0]["fine"] == "ok"
    assert "page=2" in redacted["url"]


def test_editing_a_row_makes_verification_fail_and_name_it(
    client: MockLoopClient, database: Any, tmp_path: Path
) -> None:
    for _ in range(4):
        client.list_mock_servers()
    assert client.verify_audit_log().ok
    _tamper(
        database,
        tmp_path,
        "UPDATE audit SET arguments = '{\"include_stopped\": true}' WHERE id = 2",
    )
    report = client.verify_audit_log()
    assert not report.ok and report.broken_id == 2
    assert "record 2 was changed" in (report.reason or "")


def test_deleting_a_middle_row_is_detected(
    client: MockLoopClient, database: Any, tmp_path: Path
) -> None:
    for _ in range(4):
        client.list_mock_servers()
    _tamper(database, tmp_path, "DELETE FROM audit WHERE id = 2")
    report = client.verify_audit_log()
    assert not report.ok and report.broken_id == 3
    assert "does not link" in (report.reason or "")


def test_retention_by_count_and_age_keeps_the_chain_valid(
    client: MockLoopClient, database: Any, tmp_path: Path
) -> None:
    for _ in range(6):
        client.list_mock_servers()
    kept = client.apply_audit_retention(max_records=3)
    assert kept.deleted == 3 and kept.remaining == 3 and kept.verification_ok
    client.list_mock_servers()
    assert client.verify_audit_log().ok
    _tamper(database, tmp_path, "UPDATE audit SET ts = ts - 10 * 86400")
    # The chain covers ts: re-stamping old rows is itself tampering, so age retention is
    # checked on a fresh trail whose rows really are old.
    aged = client.apply_audit_retention(max_age_days=5)
    assert aged.deleted >= 1
    with pytest.raises(Exception, match="max_age_days, max_records"):
        client.apply_audit_retention()


def test_export_jsonl_and_csv_parse_back(client: MockLoopClient, tmp_path: Path) -> None:
    client.list_mock_servers()
    client.list_mock_servers(include_stopped=True)
    jsonl = client.export_audit_log(format="jsonl")
    lines = [orjson.loads(line) for line in (jsonl.content or "").splitlines()]
    assert [line["operation"] for line in lines] == ["list_mock_servers", "list_mock_servers"]
    written = client.export_audit_log(format="csv", path=str(tmp_path / "out" / "audit.csv"))
    assert written.path and written.records >= 3
    rows = list(csv.DictReader(io.StringIO(Path(written.path).read_text())))
    assert rows[0]["operation"] == "list_mock_servers" and rows[0]["face"] == "python"


def test_an_unwritable_trail_never_breaks_the_operation(
    client: MockLoopClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise OSError("disk full")

    monkeypatch.setattr(audit_recorder, "audit_store", broken)
    before = audit_recorder.audit_failures()["count"] or 0
    listed = client.list_mock_servers()  # succeeds although its record cannot be written
    assert listed.running == 0
    failures = audit_recorder.audit_failures()
    assert (failures["count"] or 0) == before + 1
    assert "disk full" in str(failures["last_error"])


def test_long_arguments_are_shortened_in_the_trail() -> None:
    from mockloop.audit.redaction import redact_arguments

    shortened = redact_arguments({"histogram": "A" * 10_000, "ids": list(range(150))})
    assert shortened["histogram"] == "A" * 256 + "[... 10000 chars]"
    assert shortened["ids"][:100] == list(range(100))
    assert shortened["ids"][100] == "[... 50 more items]"
    assert redact_arguments("token=abc " + "x" * 3000).startswith("token=[REDACTED] ")


# -- the store itself, on both backends ------------------------------------------------------


def _record(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "ts": 1_764_600_000.123456 + n,
        "operation": "list_mock_servers",
        "face": "python",
        "session_id": None,
        "arguments": {"n": n},
        "outcome": "ok",
        "error_class": None,
        "error": None,
        "duration_ms": 1.5,
        **changes,
    }


def _append_many(store: AuditStore, worker: int, count: int) -> None:
    for n in range(count):
        store.append(_record(n, session_id=f"worker-{worker}"))


def test_processes_appending_at_once_keep_one_chain(database: Any, tmp_path: Path) -> None:
    store = AuditStore(database.location("audit", tmp_path / "audit.db"))
    try:
        store.append(_record(0))  # the parent's connection is open when the children fork
        fork = multiprocessing.get_context("fork")
        workers = [fork.Process(target=_append_many, args=(store, w, 30)) for w in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [w.exitcode for w in workers] == [0, 0, 0, 0]
        store.append(_record(1))  # and it still works in the parent
        report = store.verify()
        assert report.ok and report.checked == 122, report
        total, records = store.query(limit=-1, newest_first=False)
        assert total == 122 and [r["id"] for r in records] == list(range(1, 123))
        assert store.query(session_id="worker-2", limit=1)[0] == 30
    finally:
        store.close()


def test_threads_sharing_one_store_and_a_second_store_keep_one_chain(
    database: Any, tmp_path: Path
) -> None:
    location = database.location("audit", tmp_path / "audit.db")
    shared, other = AuditStore(location), AuditStore(location)
    try:
        threads = [
            threading.Thread(target=_append_many, args=(shared if w % 2 else other, w, 25))
            for w in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        report = shared.verify()
        assert report.ok and report.checked == 150 and report.last_id == 150, report
    finally:
        shared.close()
        other.close()


def test_retention_to_empty_then_appending_continues_from_the_anchor(
    database: Any, tmp_path: Path
) -> None:
    store = AuditStore(database.location("audit", tmp_path / "audit.db"))
    try:
        for n in range(3):
            store.append(_record(n, ts=n + 1, duration_ms=2))  # ints read back as floats
        assert store.verify().ok
        assert store.apply_retention(max_records=0) == 3
        assert store.query()[0] == 0 and store.verify().ok
        assert store.append(_record(9)) == 4
        report = store.verify()
        assert report.ok and (report.first_id, report.last_id) == (4, 4)
        assert store.apply_retention(max_age_days=0) == 1
        assert store.apply_retention(max_records=5) == 0
        store.close()
        store.append(_record(10))  # a closed store opens a new connection when used again
        assert store.verify().ok and store.query()[1][0]["id"] == 5
    finally:
        store.close()


def test_a_trail_from_before_schema_versions_opens_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    old = AuditStore(path)
    old.append(_record(1))
    old.close()
    with sqlite3.connect(path) as db:  # as MockLoop left it before versions were recorded
        db.execute("DROP TABLE schema_version")
    db.close()
    store = AuditStore(path)
    try:
        store.append(_record(2))
        assert store.verify().ok and store.verify().checked == 2
    finally:
        store.close()


def test_store_errors_start_with_the_location(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"^\S*dir\.db: could not open the audit trail"):
        AuditStore(tmp_path / "dir.db")
    nowhere = Location.postgresql("postgresql://u:pw@127.0.0.1:1/db", "mockloop_audit")
    with pytest.raises(StoreError) as failed:
        AuditStore(nowhere, busy_timeout=1)
    assert str(failed.value).startswith("postgresql://u:***@127.0.0.1:1/db (schema mockloop_audit)")
    assert "pw" not in str(failed.value)


def test_the_recorder_follows_the_database_url(database: Any, tmp_path: Path) -> None:
    store = audit_recorder.audit_store()
    assert audit_recorder.audit_store() is store
    assert store.location.backend == database.backend
    audit_recorder.record_call("ping", {"token": "t-1"}, error=None, duration_ms=0.5)
    total, [record] = store.query(operation="ping")
    assert total == 1 and record["arguments"] == {"token": "[REDACTED]"}
