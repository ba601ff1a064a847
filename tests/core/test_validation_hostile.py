"""Hostile requests against description patterns and request validation: RE2 keeps every
pattern check linear, `uniqueItems` is linear, every check is bounded in validation steps,
large or costly bodies are checked off the event loop, deep bodies are a 4xx.

Real servers on 127.0.0.1; no timed assertions: where "the event loop stays free" is the
claim, the slow part is held open by a gate the test releases only after `/health` answered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema._utils
import orjson
import pytest
from jsonschema import Draft202012Validator

from mockloop.mock import MockConfig, MockServer
from mockloop.mock.validation import OFF_LOOP_BYTES, ON_LOOP_STEPS
from mockloop.spec import validation as spec_validation
from mockloop.spec.patterns import compile_pattern, pattern_warnings
from mockloop.spec.validation import MAX_STEPS, SchemaValidator, WorkBudget, charge

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
            # Each level of the value is checked twice over (allOf, then for
            # unevaluatedProperties): work doubles with every level.
            "Doubling": {
                "type": "object",
                "allOf": [
                    {"properties": {"c": {"anyOf": [{"$ref": "#/components/schemas/Doubling"}]}}}
                ],
                "unevaluatedProperties": False,
            },
            "Loop": {"$ref": "#/components/schemas/Loop"},
            # RE2's DFA gives up on this one: a match costs text length x 1,005 instructions.
            "Costly": {"type": "string", "pattern": "^(?:[ab]*a[ab]{999}){1,}x$"},
        }
    },
}
for _name in ("Doubling", "Loop", "Costly"):
    SPEC["paths"][f"/{_name.lower()}"] = {
        "post": {
            "operationId": f"post{_name}",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{_name}"}}
                },
            },
            "responses": {"201": {"description": "ok"}},
        }
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


# -- bounded work: uniqueItems, a step budget, recursion, RE2 cost -----------------------------

UNIQUE = {"type": "array", "uniqueItems": True}


@pytest.mark.parametrize(
    "items",
    [
        [1, True],
        [0, False],
        [1, 1.0],
        [[1], [1.0]],
        [[1], [True]],
        [{"a": 1, "b": 2}, {"b": 2, "a": 1}],
        [{"a": True}, {"a": 1}],
        [{"a": [1, {"b": 2.0}]}, {"a": [1, {"b": 2}]}],
        ["1", 1],
        [None, False, 0, "", [], {}],
        [1.5, 1.5],
        [{"a": None}, {}],
        [2**70, 2**70],  # beyond canonical JSON: jsonschema's own comparison
    ],
)
def test_unique_items_keeps_jsonschemas_meaning_and_message(items: list[Any]) -> None:
    expected = [error.message for error in Draft202012Validator(UNIQUE).iter_errors(items)]
    found = SchemaValidator({}).errors(UNIQUE, items)
    assert found == [f"$: {message}" for message in expected]


def test_unique_items_compares_no_pair_of_items(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = 0
    original = jsonschema._utils.equal

    def counting(one: Any, two: Any) -> bool:
        nonlocal compared
        compared += 1
        return original(one, two)

    monkeypatch.setattr(jsonschema._utils, "equal", counting)
    items = [{"a": i} for i in range(600)]
    validator = SchemaValidator({})
    assert validator.errors(UNIQUE, items) == []
    assert validator.errors(UNIQUE, [*items, {"a": 5.0}])[0].startswith("$: [{'a': 0}, ")
    assert compared == 0  # jsonschema's uniqueItems compares 600 objects pairwise: 179,700


def _chain(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"c": value}
    return value


def _outcome_of(call: Any) -> Any:
    """`call()` in a thread, given a generous safety net to finish at all."""
    thread, outcome = _in_background(call)
    thread.join(120)
    assert not thread.is_alive(), "the check did not finish"
    assert "error" not in outcome, outcome.get("error")
    return outcome["result"]


def test_a_check_whose_work_doubles_per_level_is_stopped_by_its_step_budget() -> None:
    validator = SchemaValidator(SPEC)
    doubling = {"$ref": "#/components/schemas/Doubling"}
    assert validator.errors(doubling, _chain(3), direction="request") == []
    assert validator.errors(doubling, {"c": {"x": 1}}, direction="request")
    found = _outcome_of(lambda: validator.errors(doubling, _chain(60), direction="request"))
    assert len(found) == 1
    assert "too complex to check" in found[0] and "validation steps" in found[0]
    assert id(doubling) not in validator.broken


def test_an_example_or_response_too_complex_to_check_is_not_checked_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    validator = SchemaValidator(SPEC)
    doubling = {"$ref": "#/components/schemas/Doubling"}
    with caplog.at_level(logging.WARNING, logger="mockloop.validation"):
        assert _outcome_of(lambda: validator.errors(doubling, _chain(60))) == []
        response = _outcome_of(lambda: validator.errors(doubling, _chain(60), direction="response"))
        assert response == []
        assert _outcome_of(lambda: validator.is_valid(doubling, _chain(60))) is True
    notes = [r for r in caplog.records if "not checked" in r.getMessage()]
    assert len(notes) == 1


def test_budgets_count_per_thread_and_nest() -> None:
    with WorkBudget(0) as outer:
        # Another thread's checks are not counted against this one.
        assert _outcome_of(lambda: (charge(1000), "charged")[1]) == "charged"
        with WorkBudget(MAX_STEPS) as inner:
            charge(1)  # the outer budget allows none: the inner one cannot allow more
        assert inner.exceeded
    assert outer.exceeded is False  # the inner block stopped the check it ran
    with WorkBudget(10) as budget:
        charge(10)
    assert not budget.exceeded


def test_a_costly_request_is_moved_off_the_event_loop_then_refused(
    server: MockServer, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    validator = server.runtime.request_validator
    assert validator is not None
    started, release = threading.Event(), threading.Event()
    original = validator.check

    def gated(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)  # holds the event loop if this runs on it
        return original(*args, **kwargs)

    monkeypatch.setattr(validator, "check", gated)
    body = orjson.dumps(_chain(60))
    assert len(body) < OFF_LOOP_BYTES  # small: it starts on the event loop
    thread, outcome = _in_background(
        lambda: httpx.post(
            f"{server.business_url}/doubling",
            content=body,
            headers={"content-type": "application/json"},
            timeout=120,
        )
    )
    try:
        assert started.wait(30)
        assert httpx.get(f"{server.business_url}/health", timeout=10).status_code == 200
        assert thread.is_alive()  # answered while the costly body waited for its worker
    finally:
        release.set()
        thread.join(120)
    refused = outcome["result"]
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "too complex to check" in refused.json()["detail"]
    assert api.post("/doubling", json=_chain(3)).status_code == 201


def test_a_request_that_exhausts_the_stack_is_invalid_and_the_schema_not_marked_broken(
    api: httpx.Client,
) -> None:
    validator = SchemaValidator(SPEC)
    loop = {"$ref": "#/components/schemas/Loop"}
    found = validator.errors(loop, {"a": 1}, direction="request")
    assert found and "too deep to check" in found[0]
    assert validator.broken == {}
    refused = api.post("/loop", json={"a": 1})
    assert refused.status_code == 422
    assert "too deep to check" in refused.json()["detail"]


def test_re2_matches_are_charged_at_their_worst_case_cost(
    server: MockServer, api: httpx.Client
) -> None:
    costly = compile_pattern("^(?:[ab]*a[ab]{999}){1,}x$")
    assert costly.exact and costly.cost >= 1000
    assert compile_pattern("^[A-Z]{3}-\\d{4}$").cost < 100
    validator = SchemaValidator(SPEC)
    schema = {"$ref": "#/components/schemas/Costly"}
    text = ("ab" * 30_000)[:60_000]
    # Too costly for the event loop's share, checked in full within the whole budget.
    assert validator.errors_within(schema, text, steps=ON_LOOP_STEPS) is None
    assert "does not match" in validator.errors(schema, text, direction="request")[0]
    assert validator.errors_within(schema, "a" * 1000 + "x", steps=ON_LOOP_STEPS) == []
    answered = api.post("/costly", json=text)
    assert answered.status_code == 422
    assert "does not match" in answered.json()["detail"]


def test_short_bodies_are_not_walked_for_their_depth(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks = 0
    original = spec_validation._measure

    def counting(instance: Any, levels: int) -> tuple[int, bool]:
        nonlocal walks
        walks += 1
        return original(instance, levels)

    monkeypatch.setattr(spec_validation, "_measure", counting)
    assert api.post("/things", json={"name": "aaa", "tags": ["x"]}).status_code == 201
    assert walks == 0
    validator = SchemaValidator({})
    assert validator.errors({"type": "array"}, [[1]], size=5) == []
    assert walks == 0
    assert validator.errors({"type": "array"}, [[1]]) == []  # size unknown: walked
    assert walks == 1
    assert api.post("/trees", json=_nested(70)).status_code == 422  # long enough: walked
    assert walks == 2
