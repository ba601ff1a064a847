"""Output signatures, version discovery and error hygiene: a small planted-flaw API in another
style than tests/core/security_targets.py (API-key header, versioned base path, plain text and
HTML answers) is scanned, its hardened twin must give none of these findings, and the pure
parts (signatures, path variants) are pinned."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mockloop.security import ScanOptions, ScanRequest, SecurityTestResult, run_security_scan
from mockloop.security.probes.inventory import variants
from mockloop.security.signatures import (
    COMMAND_OUTPUT,
    ERROR_KINDS,
    SYSTEM_FILES,
    excerpt,
    first_match,
    first_span,
)
from tests.core.security_targets import serve

KEY = "sig-key-0123456789"
AUTH: dict[str, Any] = {"users": [{"name": "ops", "headers": {"X-Api-Key": KEY}}]}
FOCUS = ["injection", "inventory", "misconfiguration"]


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}


def _get(params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "parameters": params,
            "security": [{"key": []}],
            "responses": {"200": {"description": "ok"}},
        }
    }


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "ops console", "version": "2"},
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}
    },
    "paths": {
        "/api/v2/ping": _get([_query("host")]),
        "/api/v2/files": _get([_query("name")]),
        "/api/v2/greeting": _get([_query("visitor")]),
        "/api/v2/orders": _get([_query("state")]),
        "/api/v2/reports/{report}": _get(
            [{"name": "report", "in": "path", "required": True, "schema": {"type": "string"}}]
        ),
    },
}  # fmt: skip

_PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
_DJANGO = (
    "<html><title>ValueError at /api/v2/reports/x</title><body><p>You're seeing this error "
    "because you have <code>DEBUG = True</code> in your Django settings file.</p></body></html>"
)
_PLAIN = re.compile(r"^[\w.-]+$")


def _app(hardened: bool) -> Starlette:
    """The ops console: planted flaws, or (hardened) the same description done right."""

    def allowed(request: Request) -> bool:
        return request.headers.get("x-api-key") == KEY

    def refused() -> Response:
        return JSONResponse({"error": "unauthorized"}, status_code=401)

    async def ping(request: Request) -> Response:
        if not allowed(request):
            return refused()
        host = request.query_params.get("host", "")
        if hardened and not _PLAIN.match(host):
            return JSONResponse({"error": f"invalid host {host!r}"}, status_code=400)
        out = f"PING {host}: 1 packet transmitted, 1 received\n"
        if any(mark in host for mark in (";", "|", "$(", "`", "\n", "&")):  # planted: a shell
            out += "uid=33(www-data) gid=33(www-data) groups=33(www-data)\n"
        return PlainTextResponse(out)

    async def files(request: Request) -> Response:
        if not allowed(request):
            return refused()
        name = request.query_params.get("name", "")
        if hardened and not _PLAIN.match(name):
            return JSONResponse({"error": "no such file"}, status_code=404)
        if name.endswith("etc/passwd"):  # planted: the name is joined to a path unchecked
            return PlainTextResponse(_PASSWD)
        return PlainTextResponse(f"contents of {name}")

    async def greeting(request: Request) -> Response:
        if not allowed(request):
            return refused()
        visitor = request.query_params.get("visitor", "")
        if hardened:  # the expression comes back as text; the page always holds 1337
            return JSONResponse({"greeting": f"Hello {visitor}", "visitors": 1337})
        evaluated = re.sub(  # planted: the value is compiled as a template
            r"\{\{\s*(\d+)\s*\*\s*(\d+)\s*\}\}",
            lambda m: str(int(m.group(1)) * int(m.group(2))),
            visitor,
        )
        return JSONResponse({"greeting": f"Hello {evaluated}"})

    async def orders(request: Request) -> Response:
        if not allowed(request):
            return refused()
        state = request.query_params.get("state", "")
        if "'" in state:
            if hardened:
                return JSONResponse({"error": "unknown state"}, status_code=400)
            return JSONResponse(  # planted: the database error goes to the client
                {"error": "ORA-00933: SQL command not properly ended"}, status_code=500
            )
        return JSONResponse({"orders": [], "state": state})

    async def report(request: Request) -> Response:
        if not allowed(request):
            return refused()
        ident = request.path_params["report"]
        if not ident.isdigit():
            if hardened:
                return JSONResponse({"error": "report ids are numbers"}, status_code=400)
            return HTMLResponse(_DJANGO, status_code=500)  # planted: DEBUG = True
        return JSONResponse({"report": int(ident), "rows": 3})

    async def legacy_files(request: Request) -> Response:  # planted: the retired v1
        return JSONResponse({"files": ["a.txt", "b.txt"], "version": 1})

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    routes = [
        Route("/openapi.json", openapi),
        Route("/api/v2/ping", ping),
        Route("/api/v2/files", files),
        Route("/api/v2/greeting", greeting),
        Route("/api/v2/orders", orders),
        Route("/api/v2/reports/{report}", report),
    ]
    if not hardened:
        routes += [Route("/api/v1/files", legacy_files), Route("/api/internal/orders", orders)]
    return Starlette(routes=routes)


def _scan(url: str) -> SecurityTestResult:
    request = ScanRequest(
        server_url=url,
        api_spec=None,
        security_focus=FOCUS,
        compliance_requirements=None,
        allow_hosts=None,
        max_requests=500,
        rate_limit_rps=500,
        auth=AUTH,
        options=ScanOptions(timing_delay=0.3),
        timeout=5,
    )
    return asyncio.run(run_security_scan(request))


@pytest.fixture(scope="module")
def planted() -> Iterator[SecurityTestResult]:
    with serve(_app(hardened=False)) as url:
        yield _scan(url)


@pytest.fixture(scope="module")
def hardened() -> Iterator[SecurityTestResult]:
    with serve(_app(hardened=True)) as url:
        yield _scan(url)


def _one(result: SecurityTestResult, probe: str, operation: str | None = None) -> Any:
    found = [f for f in result.findings if f.probe == probe]
    if operation is not None:
        found = [f for f in found if operation in f.operations]
    assert found, f"{probe} on {operation}: not found in {[f.title for f in result.findings]}"
    return found[0]


# -- the planted API ------------------------------------------------------------------------


def test_command_output_in_the_answer_is_command_injection(planted: SecurityTestResult) -> None:
    finding = _one(planted, "INJ.command", "GET /api/v2/ping")
    assert finding.confidence == "confirmed"
    assert "uid=33(www-data) gid=33" in finding.evidence.extra["excerpt"]
    assert finding.evidence.extra["payload"] == "mockloop;id"
    assert "uid=33(www-data) gid=33" not in (finding.evidence.baseline.body or "")


def test_a_system_file_in_the_answer_is_path_traversal(planted: SecurityTestResult) -> None:
    finding = _one(planted, "INJ.path_traversal", "GET /api/v2/files")
    assert "root:x:0:0:" in finding.evidence.extra["excerpt"]
    assert "etc/passwd" in finding.evidence.extra["payload"]


def test_an_evaluated_expression_is_template_injection(planted: SecurityTestResult) -> None:
    finding = _one(planted, "INJ.template", "GET /api/v2/greeting")
    assert finding.evidence.extra["payload"] == "{{7*7919}}"
    assert "55433" in finding.evidence.response.body and "1337" in finding.evidence.why


def test_undocumented_versions_and_variants_are_one_inventory_finding(
    planted: SecurityTestResult,
) -> None:
    findings = [f for f in planted.findings if f.probe == "API9.versions"]
    assert len(findings) == 1
    listed = findings[0].evidence.extra["undocumented_variants"]
    assert "/api/v1/files" in listed and "/api/internal/orders" in listed
    assert findings[0].category.startswith("API9")
    # documented paths are never reported as variants of each other
    assert not [v for v in listed if v.startswith("/api/v2/")]
    assert findings[0].severity == "high"  # /api/v1/files answers without the key


def test_debug_pages_and_sql_errors_anywhere_in_the_run_are_api8_findings(
    planted: SecurityTestResult,
) -> None:
    hygiene = {
        f.evidence.extra["kind"]: f for f in planted.findings if f.probe == "API8.error_hygiene"
    }
    assert set(hygiene) == {"framework debug page", "SQL error text"}
    debug = hygiene["framework debug page"]
    assert debug.category.startswith("API8") and debug.cwe == "CWE-209"
    assert "GET /api/v2/reports/{report}" in debug.operations
    assert "DEBUG = True" in debug.evidence.extra["excerpt"]
    sql = hygiene["SQL error text"]
    assert "ORA-00933" in sql.evidence.extra["excerpt"]
    assert sql.operations == ["GET /api/v2/orders"]
    assert len(sql.evidence.extra["excerpts"]) <= 5
    status = next(p for p in planted.probes if p.probe == "API8.error_hygiene")
    assert status.status == "tested" and status.requests == 0


# -- the hardened twin ---------------------------------------------------------------------


def test_the_hardened_twin_gives_none_of_these_findings(hardened: SecurityTestResult) -> None:
    mine = {"INJ.command", "INJ.path_traversal", "INJ.template", "API9.versions",
            "API8.error_hygiene", "API8.verbose_errors", "INJ.sql"}  # fmt: skip
    assert [f.title for f in hardened.findings if f.probe in mine] == []
    statuses = {p.probe: p.status for p in hardened.probes}
    assert all(statuses[p] == "tested" for p in mine)
    template = next(p for p in hardened.probes if p.probe == "INJ.template")
    assert any("baseline holds 1337" in n for n in template.notes)


# -- the pure parts ------------------------------------------------------------------------


def test_version_variants_change_remove_and_add_the_version_segment() -> None:
    assert variants("/v1/users/7") == [
        "/v0/users/7", "/v2/users/7", "/v1-beta/users/7", "/users/7", "/internal/users/7",
        "/beta/users/7", "/legacy/users/7", "/old/users/7", "/dev/users/7",
    ]  # fmt: skip
    plain = variants("/users")
    assert plain[:3] == ["/v1/users", "/v2/users", "/v0/users"]
    assert {"/api/v1/users", "/api/users", "/v1-beta/users", "/internal/users"} <= set(plain)
    assert variants("/api/items")[0] == "/api/v1/items"
    assert "/api/v2/items" not in variants("/api/v2/items") and variants("/") == []


_TRACES, _DEBUG, _SQL = (ERROR_KINDS[k] for k in ("stack trace", "framework debug page",
                                                   "SQL error text"))  # fmt: skip


@pytest.mark.parametrize(
    ("patterns", "text", "expected"),
    [
        (COMMAND_OUTPUT, "x uid=0(root) gid=0(root) groups=0(root)", "uid=0(root) gid=0"),
        (COMMAND_OUTPUT, "nt authority\\system", "nt authority\\system"),
        (COMMAND_OUTPUT, " Volume Serial Number is 1A2B-3C4D", "Volume Serial Number is"),
        (SYSTEM_FILES, "[drivers]\r\n[fonts]\r\n", "[fonts]"),
        (_TRACES, 'Exception in thread "main"', "Exception in thread"),
        (_TRACES, "    at com.acme.Api.get(Api.java:12)", "Api.get("),
        (_TRACES, "Error\n    at Object.<anonymous> (/app/x.js:1:2)", "at Object.<anonymous>"),
        (_TRACES, "err\n   at System.IO.File.Open(String path)", "at System.IO.File.Open("),
        (_DEBUG, "<h1>Whoops! There was an error.</h1>", "Whoops! There was an error"),
        (_SQL, "SQLSTATE[42000]: syntax", "SQLSTATE"),
        (_SQL, "psycopg.errors.UndefinedTable", "psycopg"),
        (COMMAND_OUTPUT, "uid is 0 and gid is 0", None),
        (SYSTEM_FILES, "root:/bin/bash", None),
        (_SQL, '{"orders": [], "state": "open"}', None),
        (_TRACES, '{"error": "report ids are numbers"}', None),
    ],
)
def test_signatures(patterns: Any, text: str, expected: str | None) -> None:
    found = first_match(patterns, text)
    assert found is None if expected is None else found is not None and expected in found


def test_excerpt_is_bounded_and_on_one_line() -> None:
    text = "a" * 1000 + "Traceback (most recent call last):\n  File" + "b" * 1000
    span = first_span(ERROR_KINDS["stack trace"], text)
    assert span is not None
    cut = excerpt(text, span, around=50)
    assert cut.startswith("...") and cut.endswith("...") and "\n" not in cut
    assert "Traceback (most recent call last):" in cut and len(cut) <= 34 + 100 + 6 + 4
