"""Security coverage by budget, not by fixed caps: every probe family reaches every operation
it applies to while the budget lasts, the result lists what each covered and what it left,
and one flaw on several operations is one finding that lists them all."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockloop.security import ScanOptions, ScanRequest, SecurityTestResult, run_security_scan
from tests.core.security_targets import serve

TOKEN = "coverage-good-token"
AUTH: dict[str, Any] = {"users": [{"name": "alice", "token": TOKEN}]}
READS = [f"/reports/r{n}" for n in range(1, 8)]  # seven secured reads: more than the old 4
WRITES = [f"/notes/n{n}" for n in range(1, 6)]  # five secured writes: more than the old 4
OPEN_READS = ("/reports/r6", "/reports/r7")  # planted: answer without credentials
SQL_WRITES = ("/notes/n4", "/notes/n5")  # planted: a quote breaks their SQL


def _spec() -> dict[str, Any]:
    secured = [{"bearer": []}]
    paths: dict[str, Any] = {}
    for path in READS:
        paths[path] = {
            "get": {
                "operationId": "read_" + path.rsplit("/", 1)[1],
                "security": secured,
                "responses": {"200": {"description": "a report"}},
            }
        }
    for path in WRITES:
        paths[path] = {
            "post": {
                "operationId": "write_" + path.rsplit("/", 1)[1],
                "security": secured,
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"text": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"201": {"description": "stored"}},
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Coverage target", "version": "1.0"},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _authorised(request: Request) -> bool:
    return request.headers.get("authorization") == f"Bearer {TOKEN}"


async def _read(request: Request) -> Response:
    if request.url.path not in OPEN_READS and not _authorised(request):
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    return JSONResponse({"report": request.url.path, "rows": 3})


async def _write(request: Request) -> Response:
    if not _authorised(request):
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    text = str(body.get("text", "")) if isinstance(body, dict) else ""
    if request.url.path in SQL_WRITES and "'" in text:
        return JSONResponse(
            {"error": f"sqlite3.OperationalError: unrecognized token: \"'{text}')\""},
            status_code=500,
        )
    return JSONResponse({"stored": True, "length": len(text)}, status_code=201)


def _app() -> Starlette:
    spec = _spec()

    async def openapi(_: Request) -> Response:
        return JSONResponse(spec)

    async def root(_: Request) -> Response:
        return JSONResponse({"service": "coverage"})

    routes = [Route("/", root), Route("/openapi.json", openapi)]
    routes += [Route(path, _read, methods=["GET"]) for path in READS]
    routes += [Route(path, _write, methods=["POST"]) for path in WRITES]
    return Starlette(routes=routes)


def _scan(url: str, focus: list[str], max_requests: int) -> SecurityTestResult:
    request = ScanRequest(
        server_url=url,
        api_spec=None,
        security_focus=focus,
        compliance_requirements=None,
        allow_hosts=None,
        max_requests=max_requests,
        rate_limit_rps=500,
        auth=AUTH,
        options=ScanOptions(burst=5, timing_delay=0.3),
        timeout=5,
    )
    return asyncio.run(run_security_scan(request))


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with serve(_app()) as url:
        yield url


@pytest.fixture(scope="module")
def full(target: str) -> SecurityTestResult:
    return _scan(target, ["authentication", "injection"], 600)


def _probe(result: SecurityTestResult, probe_id: str) -> Any:
    return next(p for p in result.probes if p.probe == probe_id)


def test_the_seventh_secured_read_is_probed_and_one_finding_lists_every_open_read(
    full: SecurityTestResult,
) -> None:
    status = _probe(full, "API2.no_credentials")
    assert status.operations_covered == [f"GET {p}" for p in READS]
    assert status.operations_left == []
    found = [f for f in full.findings if f.probe == "API2.no_credentials"]
    assert len(found) == 1
    assert found[0].operation == "GET /reports/r6"
    assert found[0].operations == ["GET /reports/r6", "GET /reports/r7"]


def test_the_fifth_write_is_injected_and_one_sql_finding_lists_both_flawed_writes(
    full: SecurityTestResult,
) -> None:
    status = _probe(full, "INJ.sql")
    assert [f"POST {p}" for p in WRITES] == status.operations_covered
    sql = [f for f in full.findings if f.probe == "INJ.sql"]
    assert len(sql) == 1, [(f.title, f.operations) for f in sql]
    finding = sql[0]
    assert finding.operation == "POST /notes/n4"
    assert finding.operations == ["POST /notes/n4", "POST /notes/n5"]
    assert [a.operation for a in finding.affected] == ["POST /notes/n5"]
    assert finding.affected[0].evidence.request.url.endswith("/notes/n5")
    assert "OperationalError" in finding.affected[0].evidence.response.body
    assert full.status == "completed"
    assert all(c.operations_left == [] for c in full.coverage)


def test_the_result_lists_per_family_what_each_probe_covered(full: SecurityTestResult) -> None:
    families = {c.family: c for c in full.coverage}
    assert set(families) == {"authentication", "injection"}
    assert families["authentication"].operations_covered == [f"GET {p}" for p in READS]
    assert families["injection"].operations_covered == [f"POST {p}" for p in WRITES]


def test_a_short_budget_leaves_operations_and_says_which(target: str) -> None:
    result = _scan(target, ["authentication"], 24)
    status = _probe(result, "API2.no_credentials")
    everything = [f"GET {p}" for p in READS]
    assert status.operations_covered, "the first operation is always probed"
    assert status.operations_left, "a 24-request budget cannot pay for every operation"
    assert sorted(status.operations_covered + status.operations_left) == sorted(everything)
    assert any("left for lack of budget" in n for n in status.notes)
    family = next(c for c in result.coverage if c.family == "authentication")
    assert set(status.operations_left) <= set(family.operations_left)
    assert "left unprobed by some family for lack of budget" in result.summary()
    assert result.requests_sent <= 24
