"""One redaction for every sink: the `Redactor` rules, and the sinks that use them (webhook
payloads, load runs and their stores, reports, the request log), plus reports and exports that
refuse to replace a file unasked."""

from __future__ import annotations

import asyncio
import base64
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.load.store import LoadRunStore
from mockloop.mock import MockConfig, MockServer
from mockloop.redaction import (
    REDACTED,
    EncodedData,
    Redactor,
    default_redactor,
    redact_text,
    redact_value,
)
from mockloop.testing.runs import TestRunStore
from tests.conftest import PETSTORE
from tests.core.test_webhook_delivery import Receiver
from tests.waiting import wait_for

# -- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("https://cdn.test/f?sig=abc123&w=1", "abc123", "w=1"),
        ("https://cdn.test/f?signature=abc123&w=1", "abc123", "w=1"),
        ("https://s3.test/o?X-Amz-Signature=f00d&X-Amz-Date=2024", "f00d", "X-Amz-Date=2024"),
        ("https://gcs.test/o?X-Goog-Signature=beef99&alt=media", "beef99", "alt=media"),
        ("https://app.test/cb?code=OAUTHCODE42&state=s1", "OAUTHCODE42", "state=s1"),
        ("https://x.test/cb?access_token=tok987&x=1", "tok987", "x=1"),
        ("see https://user:pa55w0rd@db.test/x now", "pa55w0rd", "https://user:"),
        ("postgresql://app:hunter2@127.0.0.1:5432/db", "hunter2", "@127.0.0.1:5432/db"),
        ("header was Bearer SECRET123 then", "SECRET123", "header was Bearer"),
        ("Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "Basic"),
        ('Digest username="Mufasa", realm="x", response="6629fae4"', "6629fae4", "Digest"),
        ("Token abc123def456", "abc123def456", "Token"),
    ],
)
def test_text_rules_redact_the_secret_and_keep_the_rest(text: str, secret: str, kept: str) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert kept in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "ghp_" + "a1B2c3D4e5" * 4,
        "github_pat_" + "A1b2C3d4E5" * 3,
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghij",
        "AIza" + "Sy" + "A1b2C3d4E5" * 3 + "xyz",
        "glpat-" + "abcdEFGH1234" * 2,
    ],
)
def test_token_shapes_are_redacted_whatever_their_name(token: str) -> None:
    assert redact_text(f"found {token} in the log") == f"found {REDACTED} in the log"
    assert redact_value({"note": token}) == {"note": REDACTED}


@pytest.mark.parametrize(
    "text",
    [
        "signal=on&design=flat&session_count=3&assign=me",
        "basic usage of the Token expired message",
        "ssh://git@github.com/org/repo.git",
        "see https://example.test/docs?page=2",
        "AKIA is a prefix; ASIA too",
        "a task-list-with-a-long-name-of-many-words",
        '{"code": 404, "message": "not found"}',
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


def test_exact_names_only_match_whole_names() -> None:
    redactor = Redactor()
    for name in ("sig", "Signature", "X-Amz-Signature", "x-goog-signature", "jwt"):
        assert redactor.is_secret(name), name
    for name in ("signal", "design", "session_count", "assignee", "code", "x-session-id"):
        assert not redactor.is_secret(name), name
    # The OAuth code is a secret as a parameter, not as a JSON key ("code": 404).
    assert redactor.is_param_secret("code") and redactor.is_param_secret("auth")
    assert redactor.query("code=c0de&state=1&signal=2") == f"code={REDACTED}&state=1&signal=2"
    assert redactor.json_value({"code": 404, "sig": "abc"}) == {"code": 404, "sig": REDACTED}


def test_redact_value_walks_models_dicts_and_lists() -> None:
    from pydantic import BaseModel

    class Hook(BaseModel):
        url: str
        api_key: str
        has_secret: bool
        token: str | None = None

    value = redact_value(
        {
            "hooks": [Hook(url="https://u:pw@h.test/x?sig=s1", api_key="k1", has_secret=True)],
            "pair": ("password=p1", 3),
        }
    )
    assert value == {
        "hooks": [
            {
                "url": f"https://u:{REDACTED}@h.test/x?sig={REDACTED}",
                "api_key": REDACTED,
                "has_secret": True,  # booleans and None under secret names stay
                "token": None,
            }
        ],
        "pair": [f"password={REDACTED}", 3],
    }


def test_json_text_stays_json_after_redaction() -> None:
    text = orjson.dumps(
        {"tokens_left": 3, "name": "Rex", "password": "p1", "pin_token": "t1", "cvv": 123}
    ).decode()
    assert orjson.loads(redact_text(text)) == {
        "tokens_left": 3,  # a count under a "token" name stays
        "name": "Rex",
        "password": REDACTED,
        "pin_token": REDACTED,  # a string under it does not
        "cvv": REDACTED,  # a number under any other secret name does not
    }


def test_ssn_is_a_whole_word_of_a_name_not_a_substring() -> None:
    redactor = Redactor()
    for name in ("ssn", "SSN", "user_ssn", "customerSSN", "ssn-last4", "social_security_number"):
        assert redactor.is_secret(name), name
    for name in ("business_name", "className", "address", "process", "session_ssnap", "ssns"):
        assert not redactor.is_secret(name), name
    body = {"business_name": "Acme", "className": "x", "address": "1 Road", "ssn": "078-05-1120"}
    assert redact_value(body) == {**body, "ssn": REDACTED}
    assert redact_text("business: Acme, ssn: 078-05-1120") == f"business: Acme, ssn: {REDACTED}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status code=404 for /pets", "status code=404 for /pets"),
        ("the upstream said code=EXPIRED, auth=none", "the upstream said code=EXPIRED, auth=none"),
        ("tokens: 12", "tokens: 12"),
        ("used max_tokens=100 of the budget", "used max_tokens=100 of the budget"),
        ("<total_tokens>5</total_tokens>", "<total_tokens>5</total_tokens>"),
        ('{"usage": {"total_tokens": 12}}', '{"usage": {"total_tokens": 12}}'),
        # In a URL's query, or a bare query string, the parameter-only names still count.
        (
            "go to https://app.test/cb?code=AB12&state=1",
            f"go to https://app.test/cb?code={REDACTED}&state=1",
        ),
        ("code=AB12&state=1", f"code={REDACTED}&state=1"),
        # A string under a token name is still a secret; a number under a stronger name too.
        ("token: abc123", f"token: {REDACTED}"),
        ("api_key=4411 sent", f"api_key={REDACTED} sent"),
        ("password: 123456", f"password: {REDACTED}"),
    ],
)
def test_prose_keeps_parameter_names_and_counts(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_counts_under_token_names_stay_in_json_values() -> None:
    value = {"total_tokens": 12, "max_tokens": 1.5, "token": "abc", "cvv": 123, "token_ok": True}
    expected = {"total_tokens": 12, "max_tokens": 1.5, "token": REDACTED, "cvv": REDACTED}
    assert redact_value(value) == {**expected, "token_ok": True}
    assert default_redactor().json_value(value) == {**expected, "token_ok": True}


# Strings the rules before this fix corrupted (`...==` -> `...=[REDACTED]`).
_CORRUPTED_BEFORE = [
    "BkzM+8JExmuy8kCkLy3sYl4jTV/trAtUwSSNk3L0Fg==",
    "pm9dw8j40XcovsSNH7aK2Mk9CA==",
    "AGEEIpPG4uCtrN047eiPrhP/mxuN5hdsMOnL6yCvV21Lvw==",
    "abc+secretToken==",
    "abc/passwordXy==",
]


@pytest.mark.parametrize("blob", _CORRUPTED_BEFORE)
def test_base64_padding_is_never_a_redacted_value(blob: str) -> None:
    assert redact_value(blob) == blob
    assert redact_value({"histogram": blob}) == {"histogram": blob}
    assert redact_text(f"histogram: {blob}") == f"histogram: {blob}"


@settings(derandomize=True, max_examples=400, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=120), min_size=60, max_size=60))
def test_random_base64_survives_redaction(blobs: list[bytes]) -> None:
    for raw in blobs:
        for blob in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            assert redact_value(blob) == blob
            assert redact_value({"operations": [{"histogram": blob}]}) == {
                "operations": [{"histogram": blob}]
            }


def test_encoded_data_passes_through_any_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Redactor, "text", lambda self, text: REDACTED)
    value = {"histogram": EncodedData("HISTFAAA+token=="), "token": EncodedData("x"), "n": "y"}
    assert redact_value(value) == {"histogram": "HISTFAAA+token==", "token": "x", "n": REDACTED}


def test_record_load_run_keeps_operation_histograms_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The load run row in test_runs.db keeps each operation's histogram byte for byte, even
    under a redaction that would replace every string (analysis merges them)."""
    from mockloop.load.report import LatencyStats, LoadTestResult, OperationStats

    histogram = _CORRUPTED_BEFORE[0]
    operation_stats = OperationStats(
        name="GET /items",
        method="GET",
        path="/items",
        requests=3,
        errors=0,
        error_rate=0.0,
        achieved_rps=1.0,
        latency=LatencyStats(),
        status_counts={"200": 3},
        errors_by_kind={},
        histogram=histogram,
    )
    result = LoadTestResult(
        run_id="run-hist-1",
        status="completed",
        server_url="http://127.0.0.1:9",
        model="closed",
        started_at=1.0,
        duration_s=1.0,
        concurrent_users=1,
        processes=1,
        operations=[operation_stats],
        histogram=histogram,
    )
    monkeypatch.setattr(Redactor, "text", lambda self, text: REDACTED)

    async def record() -> None:
        async with AsyncMockLoopClient() as client:
            await client.services.load.record_run(result, None)

    asyncio.run(record())
    row = TestRunStore().get("run-hist-1")
    assert row is not None
    [stored] = row["result"]["operations"]
    assert stored["histogram"] == histogram
    assert stored["path"] == REDACTED  # the other strings were redacted


def test_paths_lose_token_shapes_and_nothing_else() -> None:
    redactor = Redactor()
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
    assert redactor.path(f"/keys/sk-live-{'a1' * 12}/rotate") == f"/keys/{REDACTED}/rotate"
    assert redactor.path(f"/reset/{jwt}") == f"/reset/{REDACTED}"
    for path in ("/v1/pets/3", "/tokens/12", "/code=1/auth", "/password/reset", "/a+b=="):
        assert redactor.path(path) == path


def test_redaction_is_idempotent_and_deep_values_do_not_recurse_forever() -> None:
    once = redact_text("token: abc token=def https://u:pw@h Bearer SECRET123")
    assert redact_text(once) == once
    deep: Any = "x"
    for _ in range(2000):
        deep = [deep]
    assert redact_value(deep) is not None  # no RecursionError
    assert default_redactor().json_value(deep) is not None


def test_header_values_lose_what_the_text_rules_find() -> None:
    headers = Redactor().headers(
        [
            (b"referer", b"https://app.test/cb?access_token=t0k&page=1"),
            (b"x-forwarded-creds", b"Bearer SECRET123"),
            (b"x-hub-signature-256", b"sha256=abcd"),
            (b"accept", b"application/json"),
        ]
    )
    assert headers == {
        "referer": f"https://app.test/cb?access_token={REDACTED}&page=1",
        "x-forwarded-creds": f"Bearer {REDACTED}",
        "x-hub-signature-256": REDACTED,
        "accept": "application/json",
    }


@pytest.mark.parametrize(
    "data",
    [
        b'{"cb": "https://u:pw@h/x"}',
        b'{"q": "sig=abc"}',
        b"code=xyz",
        b'{"h": "Bearer abc"}',
        b'{"t": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x"}',
        b'{"k": "AKIAIOSFODNN7EXAMPLE"}',
        b'{"k": "sk-abcdefghijklmnopqrstuvwxyz"}',
    ],
)
def test_the_cheap_prescan_still_sees_the_new_cases(data: bytes) -> None:
    assert Redactor().may_hold_secrets(data)


def test_the_cheap_prescan_passes_plain_bodies() -> None:
    assert not Redactor().may_hold_secrets(b'{"id": 1, "name": "Rex", "tag": "dog"}')


# -- the request log ------------------------------------------------------------------------


def test_request_log_stores_json_bodies_with_url_credentials_and_sig_redacted(
    tmp_path: Path,
) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path
    )
    body = {"name": "Rex", "photo": "https://u:pw9@h.test/x", "link": "https://c.test/p?sig=abc77"}
    with MockServer(config).start() as server:
        httpx.post(f"{server.business_url}/v1/pets?code=OAUTH55", json=body)
        server.runtime.log_writer.flush()  # type: ignore[union-attr]
        logs = httpx.get(f"{server.admin_url}/api/logs/search").text
    assert "Rex" in logs and REDACTED in logs
    for secret in ("pw9", "abc77", "OAUTH55"):
        assert secret not in logs, secret


_PATH_KEY = "sk-live-" + "Zq9" * 8
_PATH_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"


def test_request_log_paths_lose_token_shapes(tmp_path: Path) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path
    )
    with MockServer(config).start() as server:
        httpx.get(f"{server.business_url}/v1/pets/{_PATH_KEY}")
        httpx.get(f"{server.business_url}/v1/pets/{_PATH_JWT}")
        httpx.get(f"{server.business_url}/v1/pets/7")
        server.runtime.log_writer.flush()  # type: ignore[union-attr]
        records = httpx.get(f"{server.admin_url}/api/logs/search").json()["records"]
    paths = sorted(record["path"] for record in records)
    assert paths == ["/v1/pets/7", f"/v1/pets/{REDACTED}", f"/v1/pets/{REDACTED}"]


# -- webhooks -------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_webhook_payload_carries_the_redacted_query(tmp_path: Path, receiver: Receiver) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path, stateful=True
    )
    with MockServer(config).start() as server:
        admin = server.admin_url
        hook_url = receiver.url.replace("http://", "http://hookuser:hookpw@")
        created = httpx.post(
            f"{admin}/api/webhooks",
            json={"url": hook_url, "events": ["*", "state.created"]},
        )
        assert created.status_code == 201
        assert "hookpw" not in httpx.get(f"{admin}/api/webhooks").text
        httpx.post(
            f"{server.business_url}/v1/pets?api_key=KEY123&access_token=TOK456&limit=2",
            json={"name": "Rex", "password": "PW789"},
        )
        wait_for(lambda: len(receiver.received) >= 2)
        history = wait_for(lambda: httpx.get(f"{admin}/api/webhooks/history").json()["deliveries"])
    bodies = [orjson.loads(delivery["body"]) for delivery in receiver.received]
    delivered = b"".join(delivery["body"] for delivery in receiver.received)
    for secret in (b"KEY123", b"TOK456", b"PW789"):
        assert secret not in delivered, secret
    [request] = [b["request"] for b in bodies if b["request"]]
    assert request["query"] == f"api_key={REDACTED}&access_token={REDACTED}&limit=2"
    assert "hookpw" not in orjson.dumps(history).decode()


def test_webhook_payload_paths_lose_token_shapes(tmp_path: Path, receiver: Receiver) -> None:
    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path
    )
    with MockServer(config).start() as server:
        created = httpx.post(
            f"{server.admin_url}/api/webhooks", json={"url": receiver.url, "events": ["*"]}
        )
        assert created.status_code == 201
        httpx.get(f"{server.business_url}/v1/pets/{_PATH_KEY}")
        httpx.get(f"{server.business_url}/nowhere/{_PATH_JWT}")
        wait_for(lambda: len(receiver.received) >= 2)
        history = wait_for(
            lambda: httpx.get(f"{server.admin_url}/api/webhooks/history").json()["deliveries"]
        )
    delivered = b"".join(delivery["body"] for delivery in receiver.received)
    assert _PATH_KEY.encode() not in delivered and _PATH_JWT.encode() not in delivered
    assert _PATH_KEY not in str(history) and _PATH_JWT not in str(history)
    paths = sorted(orjson.loads(d["body"])["request"]["path"] for d in receiver.received)
    assert paths == [f"/nowhere/{REDACTED}", f"/v1/pets/{REDACTED}"]


# -- load runs ------------------------------------------------------------------------------


class HeaderServer:
    """A loopback HTTP/1.1 server recording the Authorization headers it receives."""

    def __init__(self) -> None:
        self.authorizations: set[str] = set()
        seen = self.authorizations

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                seen.add(self.headers.get("authorization", ""))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_load_results_stores_and_reports_hold_no_header_secret(tmp_path: Path) -> None:
    server = HeaderServer()

    async def go() -> tuple[Any, Any, list[str]]:
        async with AsyncMockLoopClient() as client:
            result = await client.run_load_test(
                server_url=server.url,
                endpoints=[
                    {
                        "path": "/items?access_token=QTOKEN77&page=1",
                        "headers": {"Authorization": "Bearer SECRET123", "X-Trace": "t1"},
                    }
                ],
                duration=0.5,
                concurrent_users=1,
            )
            monitor = await client.monitor_test_progress(run_id=result.run_id)
            reports = [
                (
                    await client.generate_test_report(run_ids=[result.run_id], output_format=fmt)
                ).content
                for fmt in ("html", "markdown", "junit", "json")
            ]
            return result, monitor, reports

    try:
        result, monitor, reports = asyncio.run(go())
    finally:
        server.close()
    assert server.authorizations == {"Bearer SECRET123"}  # what is sent keeps the secret
    assert result.status == "completed" and result.total_requests > 0
    stored = LoadRunStore().get(result.run_id)
    run_row = TestRunStore().get(result.run_id)
    sinks = {
        "result": result.model_dump_json(),
        "monitor": monitor.model_dump_json(),
        "load store": orjson.dumps(stored).decode(),
        "run store": orjson.dumps(run_row).decode(),
        **{f"report {i}": text for i, text in enumerate(reports)},
    }
    for where, text in sinks.items():
        assert "SECRET123" not in text, where
        assert "QTOKEN77" not in text, where
    [mix] = result.plan["mix"]
    assert mix["headers"] == {"Authorization": REDACTED, "X-Trace": "t1"}
    _report_file_is_not_replaced_unasked(result.run_id, tmp_path)


def _report_file_is_not_replaced_unasked(run_id: str, tmp_path: Path) -> None:
    """A report to an existing file: refused (client and CLI) unless overwrite is asked for."""
    target = tmp_path / "reports" / "load.md"
    with MockLoopClient() as client:
        first = client.generate_test_report(
            run_ids=[run_id], output_format="markdown", output_path=str(target)
        )
        assert first.path == str(target.resolve())
        target.write_text("keep me", encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            client.generate_test_report(
                run_ids=[run_id], output_format="markdown", output_path=str(target)
            )
        assert str(target) in str(refused.value) and "overwrite=True" in str(refused.value)
        assert target.read_text(encoding="utf-8") == "keep me"
        client.generate_test_report(
            run_ids=[run_id], output_format="markdown", output_path=str(target), overwrite=True
        )
    assert "SECRET123" not in target.read_text(encoding="utf-8")
    assert target.read_text(encoding="utf-8") != "keep me"

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mockloop.cli", "report", run_id, "-o", str(target), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )

    target.write_text("keep me", encoding="utf-8")
    refused_cli = cli()
    assert refused_cli.returncode == 2
    [line] = refused_cli.stderr.strip().splitlines()
    assert str(target) in line and "--overwrite" in line
    assert target.read_text(encoding="utf-8") == "keep me"
    assert cli("--force").returncode == 0
    assert "SECRET123" not in target.read_text(encoding="utf-8")


# -- reports and exports never replace a file unasked -----------------------------------------


def test_an_audit_export_refuses_an_existing_file_unless_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"
    with MockLoopClient() as client:
        client.list_mock_servers()  # something in the trail
        first = client.export_audit_log(path=str(target))
        assert first.path == str(target.resolve())
        before = target.read_text(encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            client.export_audit_log(path=str(target))
        assert str(target) in str(refused.value) and "overwrite=True" in str(refused.value)
        assert target.read_text(encoding="utf-8") == before
        again = client.export_audit_log(path=str(target), overwrite=True)
    assert again.path == str(target.resolve())
