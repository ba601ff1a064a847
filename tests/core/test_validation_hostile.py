"""Hostile requests against description patterns and request validation: RE2 keeps every
pattern check linear, large bodies are checked off the event loop, deep bodies are a 4xx.

Real servers on 127.0.0.1; no timed assertions: where "the event loop stays free" is the
claim, the slow part is held open by a gate the test releases only after `/health` answered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.validation import OFF_LOOP_BYTES
from mockloop.spec.patterns import compile_pattern, pattern_warnings
from mockloop.spec.validation import SchemaValidator

EVIL = "^(a+)+$"
THING = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": EVIL},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "patternProperties": {"^x-(a+)+$": {"type": "integer"}},
    "additionalProperties": False,
}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "hostile", "version": "1"},
    "paths": {
        "/things": {
            "get": {
                "operationId": "findThings",
                "parameters": [
                    {"name": "q", "in": "query", "schema": {"type": "string", "pattern": EVIL}}
                ],
                "responses": {"200": {"description": "ok"}},
            },
            "post": {
                "operationId": "createThings",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/Thing"},
                                    {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Thing"},
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {"201": {"description": "created"}},
            },
        },
        "/trees": {
            "post": {
                "operationId": "plantTree",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Tree"}}
                    },
                },
                "responses": {"201": {"description": "planted"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Thing": THING,
            "Tree": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
        }
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    config = MockConfig(
        spec=SPEC, port=0, data_dir=tmp_path_factory.mktemp("hostile-data"), auth=False
    )
    with MockServer(config) as running:
        yield running


@pytest.fixture()
def api(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.business_url, timeout=30) as client:
        yield client


def _in_background(call: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `call()` in a thread; its result (or error) lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:  # reported by the test's assertions
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


# -- patterns ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [31, 4000])  # a request line stays within 8 KiB
def test_catastrophic_pattern_in_a_query_answers_and_health_too(
    server: MockServer, api: httpx.Client, length: int
) -> None:
    hostile = "a" * length + "!"
    thread, outcome = _in_background(
        lambda: httpx.get(f"{server.business_url}/things", params={"q": hostile}, timeout=60)
    )
    health = api.get("/health")
    thread.join(60)
    assert health.status_code == 200
    assert not thread.is_alive()
    answered = outcome["result"]
    assert answered.status_code == 400
    assert "does not match" in answered.json()["detail"]
    assert api.get("/things", params={"q": "a" * length}).status_code == 200


@pytest.mark.parametrize("length", [31, 100_000])
def test_catastrophic_pattern_in_a_body_answers_and_health_too(
    server: MockServer, api: httpx.Client, length: int
) -> None:
    body = {"name": "a" * length + "!", "x-" + "a" * length + "!": 1}
    thread, outcome = _in_background(
        lambda: httpx.post(f"{server.business_url}/things", json=body, timeout=60)
    )
    health = api.get("/health")
    thread.join(60)
    assert health.status_code == 200
    assert not thread.is_alive()
    assert outcome["result"].status_code == 422
    good = {"name": "a" * length, "x-" + "a" * length: 1}
    assert api.post("/things", json=good).status_code == 201
    # the patternProperties key matches, so its value is checked
    assert api.post("/things", json={"name": "a", "x-aa": "text"}).status_code == 422


def test_ordinary_patterns_keep_their_meaning(api: httpx.Client) -> None:
    assert api.post("/things", json={"name": "aaa", "code": "ABC-1234"}).status_code == 201
    assert api.post("/things", json={"name": "aaa", "code": "ABC-12345"}).status_code == 422
    assert api.post("/things", json={"name": "aaa", "other": 1}).status_code == 422


CASES = [
    ("^[A-Z]{3}-\\d{4}$", "ABC-1234", True),
    ("^[A-Z]{3}-\\d{4}$", "ABC-1234\n", False),  # ECMA `$`: the very end only
    ("^(?!admin)[a-z]{5,8}$", "admins", False),
    ("^(?!admin)[a-z]{5,8}$", "bobby", True),
    ("^(?=.*[A-Z])(?=.*\\d).{8,}$", "Password1", True),
    ("^(?=.*[A-Z])(?=.*\\d).{8,}$", "password1", False),
    ("^\\u0041\\u{42}$", "AB", True),
    ("^\\s$", "\u00a0", True),  # ECMA's \s is Unicode
    ("^\\S$", "\u00a0", False),
    ("^(?<year>\\d{4})$", "2024", True),  # ECMA named group
    ("^\\p{Lu}+$", "ÉA", True),
    ("[^]", "x", True),
    ("^\\d+$", "٣", False),  # ECMA's \d is ASCII
    ("^a.c$", "a\nc", False),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), CASES)
def test_patterns_follow_ecma_semantics_exactly(pattern: str, text: str, expected: bool) -> None:
    compiled = compile_pattern(pattern)
    assert compiled.exact, compiled.note
    assert compiled.search(text) is expected
    validator = SchemaValidator({})
    assert validator.is_valid({"type": "string", "pattern": pattern}, text) is expected


def test_what_re2_cannot_express_is_relaxed_or_unchecked_and_listed() -> None:
    relaxed = compile_pattern("(a)\\1(?<=a)b")
    assert relaxed.checked and not relaxed.exact
    assert relaxed.search("aab") and not relaxed.search("zzz")
    long_count = compile_pattern("^.{1,2048}$")
    assert long_count.checked and not long_count.exact
    assert long_count.search("x" * 5000)  # a superset: never rejects what the pattern accepts
    unchecked = compile_pattern("[z-a]")
    assert not unchecked.checked and unchecked.search("anything")
    document = {
        "components": {
            "schemas": {
                "A": {"type": "string", "pattern": "(a)\\1"},
                "B": {"patternProperties": {"[z-a]": {}}},
                "C": {"type": "string", "pattern": "^ok$"},
            }
        }
    }
    warnings = pattern_warnings(document)
    assert len(warnings) == 2
    assert any(w.startswith("#/components/schemas/A/pattern:") for w in warnings)
    assert any("not checked" in w and "/B/patternProperties" in w for w in warnings)


# -- large and deep bodies --------------------------------------------------------------------


def test_large_body_is_validated_off_the_event_loop(
    server: MockServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator = server.runtime.request_validator
    assert validator is not None
    started, release = threading.Event(), threading.Event()
    original = validator.check

    def gated(*args: Any, **kwargs: Any) -> Any:
        if len(args[-1]) >= OFF_LOOP_BYTES:
            started.set()
            release.wait(30)  # holds the event loop if this runs on it
        return original(*args, **kwargs)

    monkeypatch.setattr(validator, "check", gated)
    items = [{"name": "aaaa", "tags": ["x", "y"], "code": "ABC-1234"}] * 5000
    assert len(orjson.dumps(items)) >= OFF_LOOP_BYTES
    thread, outcome = _in_background(
        lambda: httpx.post(f"{server.business_url}/things", json=items, timeout=60)
    )
    try:
        assert started.wait(30)
        health = httpx.get(f"{server.business_url}/health", timeout=10)
        assert health.status_code == 200
        assert thread.is_alive()  # answered while the large body was still being checked
    finally:
        release.set()
        thread.join(60)
    assert outcome["result"].status_code == 201


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_deep_request_json_is_a_4xx_never_a_500(api: httpx.Client) -> None:
    assert api.post("/trees", json=_nested(10)).status_code == 201
    assert api.post("/trees", json=_nested(60)).status_code == 201
    deep = api.post(
        "/trees", content=b"[" * 1000 + b"]" * 1000, headers={"content-type": "application/json"}
    )
    assert deep.status_code == 422
    assert "too deep to check" in deep.json()["detail"]
    deeper = b"[" * 3000 + b"]" * 3000  # beyond what the JSON parser accepts
    refused = api.post("/trees", content=deeper, headers={"content-type": "application/json"})
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_schema_that_refers_to_itself_endlessly_still_checks_nothing() -> None:
    document = {"components": {"schemas": {"Loop": {"$ref": "#/components/schemas/Loop"}}}}
    validator = SchemaValidator(document)
    loop = {"$ref": "#/components/schemas/Loop"}
    assert validator.errors(loop, 1) == []
    assert "RecursionError" in validator.broken[id(loop)]
