"""Test plans: generated and hand-written plans run against real mocks, with evidence."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient, ScenarioError
from mockloop.mock import MockConfig, MockServer
from mockloop.progress import progress_to
from mockloop.testing.plans.model import plan_json_schema
from mockloop.testing.runs import TestRunStore
from tests.conftest import PETSTORE, ROOT

SCHEMA_FILE = ROOT / "docs" / "test-plan.schema.json"


def _mock(**settings: Any) -> MockServer:
    settings.setdefault("storage", False)
    return MockServer(MockConfig.build(spec=str(PETSTORE), port=0, **settings))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _execute(**kwargs: Any) -> Any:
    async with AsyncMockLoopClient() as client:
        return await client.execute_test_plan(**kwargs)


def _steps_by_operation(result: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for step in result.steps:
        grouped.setdefault(step.operation, []).append(step)
    return grouped


# -- generated plans ------------------------------------------------------------------------


def test_generated_plan_passes_against_a_plain_petstore_mock() -> None:
    # MockServer's defaults: validation enforced, auth on, no admin port.
    with _mock() as server:
        result = _run(_execute(server_url=server.business_url))
        # The description's base path (servers: .../v1) in the URL works the same.
        with_base = _run(_execute(server_url=f"{server.business_url}/v1", test_focus="happy_path"))
    assert with_base.status == "passed", with_base.summary()
    assert with_base.steps[0].request is not None
    assert "/v1/pets" in with_base.steps[0].request["url"]
    assert result.status == "passed", result.summary()
    assert result.failed == result.errors == result.skipped == 0
    assert result.passed == result.total and result.pass_rate == 1.0
    operations = {step.operation for step in result.steps}
    assert operations == {
        "listPets",
        "createPet",
        "getPet",
        "updatePet",
        "deletePet",
        "listOwners",
        "getOwner",
        "getStatus",
    }
    kinds = {step.kind for step in result.steps}
    assert kinds == {"happy_path", "negative"}
    create = next(step for step in result.steps if step.name == "createPet")
    fetch = next(step for step in result.steps if step.name == "getPet")
    pet_id = create.captured["createPet.id"]
    assert fetch.request is not None and fetch.request["url"].endswith(f"/pets/{pet_id}")
    schema_checks = [a for a in fetch.assertions if a.check == "schema"]
    assert schema_checks and schema_checks[0].passed
    assert result.description_source and result.description_source.endswith("/openapi.json")
    stored = TestRunStore().get(result.run_id)
    assert stored is not None and stored["kind"] == "test_plan"
    assert stored["summary"]["passed"] == result.passed


def test_a_scenario_breaking_one_operation_fails_exactly_its_steps() -> None:
    with _mock(admin_port=0) as server:
        httpx.post(
            f"{server.admin_url}/api/mock-data/scenarios",
            json={"name": "broken_get_pet", "rules": [{"operation": "getPet", "status": 500}]},
        ).raise_for_status()
        httpx.post(
            f"{server.admin_url}/api/mock-data/scenarios/broken_get_pet/activate"
        ).raise_for_status()
        result = _run(_execute(server_url=server.business_url, test_focus="comprehensive"))
    assert result.status == "failed"
    grouped = _steps_by_operation(result)
    for operation, steps in grouped.items():
        if operation != "getPet":
            assert all(step.status == "passed" for step in steps), (operation, steps)
    failed = [step for step in result.steps if step.status == "failed"]
    assert failed and {step.operation for step in failed} == {"getPet"}
    happy = next(step for step in grouped["getPet"] if step.kind == "happy_path")
    assert happy.status == "failed"
    status_check = happy.assertions[0]
    assert status_check.check == "status"
    assert (status_check.expected, status_check.actual, status_check.passed) == (200, 500, False)
    assert "expected 200, got 500" in happy.reason
    assert happy.request is not None and happy.request["method"] == "GET"
    assert happy.request["headers"]["authorization"] == "[REDACTED]"
    assert happy.response is not None and happy.response["status"] == 500
    # Negative getPet steps still pass: the mock refuses invalid input before any scenario rule.
    assert all(step.status == "passed" for step in grouped["getPet"] if step.kind == "negative")


def test_negative_steps_follow_what_the_mock_enforces() -> None:
    with _mock(admin_port=0, validation="off") as server:
        result = _run(_execute(server_url=server.business_url, test_focus="negative"))
    assert result.status == "passed", result.summary()
    assert result.total > 0
    assert all(step.name.endswith("missing credentials") for step in result.steps)
    assert any("not known to validate" in note for note in result.notes)
    refused = pytest.raises(ConfigError, match="gives no operation a negative plan can test")
    with _mock(admin_port=0, validation="warn", auth=False) as server, refused:
        _run(_execute(server_url=server.business_url, test_focus="negative"))


# -- hand-written plans ---------------------------------------------------------------------


CREATE_THEN_FETCH = {
    "name": "create then fetch",
    "variables": {"pet_name": "Rex"},
    "steps": [
        {
            "name": "create",
            "operation": "createPet",
            "request": {"body": {"name": "${pet_name}", "tag": "dog"}},
            "expect": {
                "status": 201,
                "jsonpath": [{"path": "$.name", "equals": "${pet_name}"}],
                "headers": {"content-type": {"contains": "json"}},
            },
            "capture": {"pet_id": "$.id"},
        },
        {
            "name": "fetch",
            "operation": "getPet",
            "path_params": {"petId": "${pet_id}"},
            "expect": {
                "status": 200,
                "max_latency_ms": 5000,
                "jsonpath": [
                    {"path": "$.id", "equals": "${pet_id}"},
                    {"path": "$.name", "equals": "Rex", "type": "string"},
                ],
            },
        },
        {
            "name": "delete",
            "method": "DELETE",
            "path": "/pets/{petId}",
            "path_params": {"petId": "${pet_id}"},
            "expect": {"status": 204},
            "depends_on": ["fetch"],
        },
        {
            "name": "gone",
            "operation": "GET /pets/{petId}",
            "path_params": {"petId": "${pet_id}"},
            "expect": {"status": 404},
        },
    ],
}


def test_create_then_fetch_with_captures_on_a_stateful_mock() -> None:
    reports: list[tuple[float, float | None, str | None]] = []
    with (
        _mock(stateful=True, auth=False) as server,
        progress_to(lambda done, total, message: reports.append((done, total, message))),
    ):
        result = _run(_execute(server_url=server.business_url, test_plan=CREATE_THEN_FETCH))
    assert result.status == "passed", result.summary()
    assert reports == [
        (1, 4, "create: passed"),
        (2, 4, "fetch: passed"),
        (3, 4, "delete: passed"),
        (4, 4, "gone: passed"),
    ]
    create, fetch, delete, gone = result.steps
    pet_id = create.captured["pet_id"]
    assert isinstance(pet_id, int)
    assert fetch.response is not None and fetch.response["body"]["id"] == pet_id
    assert [a.actual for a in fetch.assertions if a.check == "jsonpath $.id equals"] == [pet_id]
    assert delete.response is not None and delete.response["status"] == 204
    assert gone.response is not None and gone.response["status"] == 404
    assert result.plan_source == "given"


def test_jsonpath_failure_shows_expected_and_actual_and_dependents_skip() -> None:
    plan = {
        "steps": [
            {
                "name": "status",
                "operation": "getStatus",
                "expect": {"jsonpath": [{"path": "$.status", "equals": "broken"}]},
                "capture": {"missing": "$.no_such_field"},
            },
            {"name": "after", "operation": "listPets", "depends_on": ["status"]},
            {"name": "uses", "path": "/pets/${missing}", "headers": {"X-API-Key": "k"}},
        ]
    }
    with _mock(auth=False) as server:
        result = _run(_execute(server_url=server.business_url, test_plan=plan))
    first, after, uses = result.steps
    assert first.status == "failed"
    failing = [a for a in first.assertions if not a.passed]
    by_check = {a.check: a for a in failing}
    assertion = by_check["jsonpath $.status equals"]
    assert assertion.expected == "broken" and assertion.actual in ("ok", "degraded")
    assert by_check["capture missing"].actual == "nothing found"
    assert f"expected 'broken', got {assertion.actual!r}" in first.reason
    assert after.status == "skipped" and "'status', which failed" in after.reason
    assert uses.status == "skipped" and "${missing}" in uses.reason
    assert (result.passed, result.failed, result.skipped) == (0, 1, 2)


def test_unknown_operation_is_refused_before_any_request() -> None:
    plan = {"steps": [{"operation": "listPets"}, {"operation": "getPett"}]}
    with _mock(admin_port=0, auth=False) as server:
        with pytest.raises(ConfigError) as caught:
            _run(_execute(server_url=server.business_url, test_plan=plan))
        logged = httpx.get(f"{server.admin_url}/api/logs/search").json()
    message = str(caught.value)
    assert "steps[1].operation" in message and "'getPett'" in message
    assert "did you mean getPet" in message
    assert logged["total"] == 0


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        (
            {"steps": [{"operation": "getStatus", "expect": {"status": "2YY"}}]},
            "steps[0].expect.status",
        ),
        ({"steps": [{"operation": "getStatus", "expct": {}}]}, "steps[0].expct: unknown field"),
        (
            {"steps": [{"operation": "getStatus", "expect": {"jsonpath": [{"path": "$["}]}}]},
            "steps[0].expect.jsonpath[0].path",
        ),
        ({"steps": [{"path": "/pets/{petId}"}]}, "steps[0].request.path_params"),
        ({"steps": [{"path": "/pets/${nope}"}]}, "steps[0].request.path: ${nope} is not defined"),
        (
            {"steps": [{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}]},
            "steps[1].name",
        ),
        ({"steps": []}, "steps:"),
    ],
)
def test_bad_plans_are_clear_errors_naming_the_field(plan: dict, field: str) -> None:
    with _mock(auth=False) as server, pytest.raises(ConfigError) as caught:
        _run(_execute(server_url=server.business_url, test_plan=plan))
    assert field in str(caught.value)


# -- named plans ----------------------------------------------------------------------------


def test_named_plan_from_mockloop_home(_isolated_home: Path) -> None:
    folder = _isolated_home / "plans"
    folder.mkdir()
    (folder / "smoke_test_plan.yaml").write_text(
        "name: smoke\nsteps:\n  - operation: getStatus\n    expect:\n      status: 200\n"
        "      jsonpath:\n        - {path: $.status, type: string}\n",
        encoding="utf-8",
    )
    with _mock(auth=False) as server:
        client = MockLoopClient()
        result = client.execute_test_plan(
            server_url=server.business_url, test_plan="smoke_test_plan", context_id="ctx-42"
        )
        with pytest.raises(ConfigError) as caught:
            client.execute_test_plan(server_url=server.business_url, test_plan="nope_test_plan")
        saved = client.save_test_plan(name="fetch_pets", test_plan=CREATE_THEN_FETCH)
        listed = client.list_test_plans()
    assert result.status == "passed" and result.plan_source == "named smoke_test_plan"
    assert result["context_id"] == "ctx-42"
    stored = TestRunStore().get(result.run_id)
    assert stored is not None and stored["context_id"] == "ctx-42"
    message = str(caught.value)
    assert "'nope_test_plan'" in message and "smoke_test_plan" in message
    assert "save_test_plan" in message
    assert Path(saved.path).is_file() and saved.steps == 4
    assert {p["name"] for p in listed.plans} == {"smoke_test_plan", "fetch_pets"}


def test_plan_with_explicit_paths_runs_against_any_http_server() -> None:
    with _plain_server() as url:
        plan = {
            "steps": [
                {
                    "path": "/things",
                    "params": {"q": "a b"},
                    "expect": {
                        "headers": {"X-Served-By": "plain", "X-Missing": False},
                        "jsonpath": [{"path": "$.items", "length": 2}],
                    },
                    "capture": {"first": "$.items[0].id"},
                },
                {"method": "POST", "path": "/things/${first}", "body": {"n": 1}},
            ]
        }
        result = _run(_execute(server_url=url, test_plan=plan))
        with pytest.raises(
            ConfigError, match=r"steps\[0\]\.operation: 'getPet' names an operation"
        ):
            _run(_execute(server_url=url, test_plan={"steps": [{"operation": "getPet"}]}))
    assert result.status == "passed", result.summary()
    assert result.steps[1].request is not None
    assert result.steps[1].request["url"] == f"{url}/things/t1"
    assert result.steps[1].response is not None
    assert result.steps[1].response["body"] == {"path": "/things/t1", "received": {"n": 1}}
    assert result.description_source is None


def test_no_answer_is_an_error_step_and_stop_on_failure_skips_the_rest() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    plan = {"stop_on_failure": True, "steps": [{"path": "/a"}, {"path": "/b"}]}
    result = _run(_execute(server_url=f"http://127.0.0.1:{port}", test_plan=plan, timeout=2))
    first, second = result.steps
    assert result.status == "error" and (result.errors, result.skipped) == (1, 1)
    assert first.status == "error" and first.reason.startswith("no response: ConnectError")
    assert first.request is not None and first.request["url"].endswith("/a")
    assert second.status == "skipped" and "stop_on_failure" in second.reason


def test_published_schema_matches_the_models() -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == plan_json_schema(), (
        "docs/test-plan.schema.json is stale: regenerate it with "
        "python -c 'import json; from mockloop.testing.plans.model import plan_json_schema; "
        "print(json.dumps(plan_json_schema(), indent=2))' > docs/test-plan.schema.json"
    )


# -- iterations -----------------------------------------------------------------------------


def test_run_test_iteration_returns_real_figures() -> None:
    with _mock(admin_port=0, auth=False) as server:
        httpx.post(
            f"{server.admin_url}/api/mock-data/scenarios",
            json={"name": "teapot", "rules": [{"operation": "getStatus", "status": 418}]},
        ).raise_for_status()
        client = MockLoopClient()
        session = client.create_test_session(session_name="iteration")
        result = client.run_test_iteration(
            server_url=server.business_url,
            scenario_name="teapot",
            duration_seconds=1,
            concurrent_users=2,
        )
        active = httpx.get(f"{server.admin_url}/api/mock-data/scenarios/active").json()
        ended = client.end_test_session(session_id=session["session_id"])
    metrics = result.metrics
    assert result.status == "completed"
    assert metrics["requests"] > 0 and metrics["rps"] > 0
    assert metrics["status_counts"] == {"418": metrics["responses"]}
    assert metrics["error_rate"] == 1.0 and metrics["p50_ms"] is not None
    assert result.log_total >= metrics["responses"] > 0
    assert result.server_metrics is not None and result.server_metrics["requests"] >= 1
    assert result.log_records and result.excerpt_in_scenario == len(result.log_records)
    assert all(record["status"] == 418 for record in result.log_records)
    assert active.get("active") is None  # the scenario was switched back off
    stored = TestRunStore().get(result.run_id)
    assert stored is not None and stored["kind"] == "iteration"
    # The load run that drove the iteration counts once, as the iteration.
    report = ended.report
    assert report is not None and report.runs == 1 and report.by_kind == {"iteration": 1}
    assert report.iterations is not None and report.iterations.requests == metrics["requests"]
    assert report.load is None


# -- a server that is no MockLoop mock ------------------------------------------------------


class _PlainHandler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", "plain")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/things"):
            self._send(200, {"items": [{"id": "t1"}, {"id": "t2"}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = json.loads(self.rfile.read(length) or b"null")
        self._send(201, {"path": self.path, "received": received})

    def log_message(self, *_: Any) -> None:
        return


@contextmanager
def _plain_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_jsonpath_on_a_body_that_is_a_json_string() -> None:
    from mockloop.testing.plans.checks import check_jsonpath
    from mockloop.testing.plans.model import JsonPathAssertion

    whole = JsonPathAssertion.model_validate({"path": "$", "equals": '{"not": "parsed"}'})
    member = JsonPathAssertion.model_validate({"path": "$.not", "exists": False})
    outcomes = check_jsonpath([whole, member], '{"not": "parsed"}', True)
    assert [o.passed for o in outcomes] == [True, True]


def test_a_plan_that_names_its_scenario_activates_it_for_the_run() -> None:
    plan = {
        "name": "teapot_expectations",
        "scenario": "teapot",
        "steps": [{"request": {"method": "GET", "path": "/status"}, "expect": {"status": 418}}],
    }
    with _mock(admin_port=0, auth=False) as server:
        admin = server.admin_url
        httpx.post(
            f"{admin}/api/mock-data/scenarios",
            json={"name": "teapot", "rules": [{"operation": "getStatus", "status": 418}]},
        ).raise_for_status()
        client = MockLoopClient()
        result = client.execute_test_plan(server_url=server.business_url, test_plan=plan)
        assert result.status == "passed", result.summary()
        assert httpx.get(f"{admin}/api/mock-data/scenarios/active").json()["active"] is None
        with pytest.raises(ScenarioError, match="nope"):
            client.execute_test_plan(
                server_url=server.business_url, test_plan={**plan, "scenario": "nope"}
            )
    with _plain_server() as url, pytest.raises(ConfigError, match=r"test_plan\.scenario='teapot'"):
        client.execute_test_plan(server_url=url, test_plan=plan)
