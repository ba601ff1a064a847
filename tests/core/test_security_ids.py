"""Id harvesting: object reads probed with ids that exist (documented examples, list answers,
objects the scan created, small integers), the source named per operation, and sensitive data
judged on every successful read; the hardened twin yields nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockloop.security import ScanOptions, ScanRequest, SecurityTestResult, run_security_scan
from mockloop.security.ids import documented_ids, ids_in
from mockloop.security.target import SecurityTarget
from mockloop.spec import load_spec
from tests.core.security_targets import serve

_TOKENS = {"Bearer token-ann": "ann", "Bearer token-ben": "ben"}
_NOTE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
}
_SECURED = [{"bearer": []}]


def _spec() -> dict[str, Any]:
    """Notes (integer ids, existing only at 1..3 or created) and reports (string ids that
    exist only as the documented example)."""
    ok = {"content": {"application/json": {"schema": _NOTE}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "notes", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": _SECURED,
        "paths": {
            "/notes": {
                "post": {
                    "operationId": "createNote",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"title": {"type": "string"}},
                                }
                            }
                        }
                    },
                    "responses": {"201": ok},
                }
            },
            "/notes/{noteId}": {
                "get": {
                    "operationId": "getNote",
                    "parameters": [
                        {
                            "name": "noteId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1000},
                        }
                    ],
                    "responses": {"200": ok},
                }
            },
            "/reports/{code}": {
                "get": {
                    "operationId": "getReport",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z]{3}-[0-9]{4}$"},
                            "example": "rep-0042",
                        }
                    ],
                    "responses": {"200": ok},
                }
            },
        },
    }


def notes_app(*, hardened: bool) -> Starlette:
    """The notes API: flawed (reports read without a token, notes without an owner check,
    secrets serialised) or hardened (token required, owner checked, documented fields only)."""
    notes: dict[int, dict[str, Any]] = {
        i: {"owner": "seed", "title": f"note {i}", "password_hash": f"$2b$12$seedhash{i:06d}x"}
        for i in (1, 2, 3)
    }

    def caller(request: Request) -> str | None:
        return _TOKENS.get(request.headers.get("authorization", ""))

    def shown(note_id: int, note: dict[str, Any]) -> dict[str, Any]:
        if hardened:
            return {"id": note_id, "title": note["title"]}
        return {"id": note_id, **note, "api_token": "ghp_abcdefghijklmnopqrstuv012345"}

    async def create(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        note_id = 100 + len(notes)
        data = await request.json()
        notes[note_id] = {"owner": who, "title": str(data.get("title", "")), "password_hash": ""}
        return JSONResponse(shown(note_id, notes[note_id]), status_code=201)

    async def read(request: Request) -> Response:
        who = caller(request)
        if who is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        try:
            note_id = int(request.path_params["noteId"])
        except ValueError:
            return JSONResponse({"detail": "bad id"}, status_code=400)
        note = notes.get(note_id)
        if note is None or (hardened and note["owner"] not in ("seed", who)):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse(shown(note_id, note))

    async def report(request: Request) -> Response:
        if hardened and caller(request) is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        if request.path_params["code"] != "rep-0042":
            return JSONResponse({"detail": "not found"}, status_code=404)
        body = {"id": 42, "title": "quarterly"}
        return JSONResponse(body if hardened else {**body, "ssn": "123-45-6789"})

    async def not_found(request: Request) -> Response:
        return JSONResponse({"detail": "no such path"}, status_code=404)

    return Starlette(
        routes=[
            Route("/notes", create, methods=["POST"]),
            Route("/notes/{noteId}", read, methods=["GET"]),
            Route("/reports/{code}", report, methods=["GET"]),
            Route("/{rest:path}", not_found),
        ]
    )


_AUTH = {
    "users": [
        {"name": "ann", "headers": {"Authorization": "Bearer token-ann"}},
        {"name": "ben", "headers": {"Authorization": "Bearer token-ben"}},
    ]
}
_FOCUS = ["authentication", "property_authorization", "object_authorization"]


def _scan(url: str, *, allow_writes: bool = True) -> SecurityTestResult:
    request = ScanRequest(
        server_url=url,
        api_spec=_spec(),
        security_focus=_FOCUS,
        compliance_requirements=None,
        allow_hosts=None,
        max_requests=300,
        rate_limit_rps=500,
        auth=_AUTH,
        options=ScanOptions(burst=5, timing_delay=0.3, allow_writes=allow_writes),
        timeout=5,
    )
    return asyncio.run(run_security_scan(request))


def test_object_reads_use_ids_that_exist_and_say_where_they_came_from() -> None:
    with serve(notes_app(hardened=False)) as url:
        result = _scan(url)
        read_only = _scan(url, allow_writes=False)
    by_probe = {f.probe: f for f in result.findings}
    anonymous = by_probe["API2.no_credentials"]
    assert anonymous.evidence.extra["operations"] == ["GET /reports/{code}"]
    assert anonymous.evidence.extra["id_sources"] == {"GET /reports/{code}": "example"}
    # Without writes nothing is created: the seeded objects at 1..3 are found instead.
    quiet = next(f for f in read_only.findings if f.probe == "API3.sensitive_fields")
    assert quiet.evidence.extra["id_sources"]["GET /notes/{noteId}"] == "small_integer"
    assert "API1.object_ids" not in {f.probe for f in read_only.findings}
    leak = by_probe["API3.sensitive_fields"]
    by_op = leak.evidence.extra["by_operation"]
    assert "password_hash (name)" in by_op["GET /notes/{noteId}"]
    assert "api_token (value: an access token)" in by_op["GET /notes/{noteId}"]
    assert by_op["GET /reports/{code}"] == ["ssn (name)"]
    bola = by_probe["API1.object_ids"]
    assert bola.operation == "GET /notes/{noteId}"
    assert bola.evidence.extra["id_sources"] == {"GET /notes/{noteId}": "created"}
    assert '"owner":"ben"' in bola.evidence.response.body.replace(" ", "")
    notes = {p.probe: p.notes for p in result.probes}
    assert "GET /notes/{noteId}: object id from created" in notes["API2.no_credentials"]
    assert "GET /notes/{noteId}: no credentials -> 401" in notes["API2.no_credentials"]


def test_the_hardened_twin_yields_no_finding_and_is_tested() -> None:
    with serve(notes_app(hardened=True)) as url:
        result = _scan(url)
    assert result.findings == [], [f.title for f in result.findings]
    statuses = {p.probe: p.status for p in result.probes}
    for probe in ("API1.object_ids", "API2.no_credentials", "API3.sensitive_fields"):
        assert statuses[probe] == "tested", (probe, statuses[probe])


def test_documented_and_listed_ids_are_found() -> None:
    spec = load_spec(_spec())
    target = SecurityTarget("http://127.0.0.1:9", spec, [], None, None)  # type: ignore[arg-type]
    report = next(op for op in target.operations if op.operation_id == "getReport")
    assert documented_ids(target, report, report.parameters[0]) == ["rep-0042"]
    keys = {"id", "noteid", "note_id"}
    listed = {"data": [{"noteId": 7, "title": "a"}, {"id": "n-8"}, {"title": "no id"}]}
    assert ids_in(listed, keys) == ["7", "n-8"]
    assert ids_in([{"id": True}, {"id": None}], keys) == []
