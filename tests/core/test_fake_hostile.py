"""Hostile schemas: generation from patterns and schemas stays bounded in time and size, and a
served body never exceeds `max_response_bytes` (the cut logged once per operation)."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from mockloop.fake import SchemaFaker
from mockloop.fake.budget import json_size
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.responder import Responder
from mockloop.spec import load_spec
from mockloop.spec.model import Example
from mockloop.spec.validation import SchemaValidator

BOUND = 16 * 1024


def _shared(levels: int) -> Any:
    """A YAML-alias-style value: each level holds the one below twice (2**levels leaves)."""
    value: Any = ["leaf"]
    for _ in range(levels):
        value = [value, value]
    return value


@pytest.mark.parametrize(
    "pattern",
    [
        "^a{1000000}$",
        "(x{1000}){1000}",
        "((a{1000}){1000}){1000}",
        "(?:){1000000}",
        "^[\\x00-\\U0010ffff]{1000}$",
        "(a{500})" + "\\1" * 200,
    ],
)
def test_generating_from_a_pattern_is_bounded(pattern: str) -> None:
    value = SchemaFaker({}).generate({"type": "string", "pattern": pattern})
    assert isinstance(value, str)
    assert len(value) <= 64 * 1024


def test_json_size_stops_at_the_limit_on_shared_structure() -> None:
    bomb = _shared(200)
    assert json_size(bomb, 1000) > 1000
    small = {"a": [1, "xy", None], "b": {"c": "d"}}
    assert len(orjson.dumps(small)) <= json_size(small, 1000) <= 2 * len(orjson.dumps(small))


NESTED = {
    "type": "array",
    "minItems": 1000,
    "items": {
        "type": "array",
        "minItems": 1000,
        "items": {
            "type": "array",
            "minItems": 1000,
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer"}},
            },
        },
    },
}
HUGE: list[Any] = [
    NESTED,
    {"type": "array", "minItems": 10**9, "items": {"type": "integer"}},
    {"type": "string", "minLength": 10**9},
    {"type": "object", "required": ["a", "b"], "properties": {"a": {"minLength": 10**8}, "b": {}}},
    {"type": "array", "example": _shared(200)},
    {"const": _shared(200)},
    {"enum": [_shared(200)]},
    {
        "type": "array",
        "minItems": 100_000,
        "items": {"type": "string", "pattern": "^[a-z]{900}$"},
    },
]


@pytest.mark.parametrize("schema", HUGE, ids=[str(i) for i in range(len(HUGE))])
def test_generated_values_stay_within_the_budget(schema: Any) -> None:
    value, _ = SchemaFaker({}, max_bytes=BOUND).generate_within(schema, key="k")
    body = orjson.dumps(value)
    assert len(body) <= BOUND
    assert orjson.loads(body) == value


def test_a_cut_is_reported_and_small_schemas_are_not_cut() -> None:
    faker = SchemaFaker({}, max_bytes=BOUND)
    _, cut = faker.generate_within({"type": "string", "minLength": 10**6})
    assert cut
    value, cut = faker.generate_within({"type": "array", "items": {"type": "integer"}})
    assert not cut and isinstance(value, list)


# -- served ---------------------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "huge", "version": "1"},
    "paths": {
        "/nested": {
            "get": {
                "operationId": "getNested",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {"application/json": {"schema": NESTED}},
                    }
                },
            }
        },
        "/long/{id}": {
            "get": {
                "operationId": "getLong",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["text", "items"],
                                    "properties": {
                                        "text": {"type": "string", "minLength": 5_000_000},
                                        "items": {
                                            "type": "array",
                                            "minItems": 100_000,
                                            "items": {"type": "string", "format": "uuid"},
                                        },
                                    },
                                }
                            },
                            "application/xml": {"schema": {"type": "string", "minLength": 10**7}},
                        },
                    }
                },
            }
        },
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    config = MockConfig(
        spec=SPEC,
        port=0,
        data_dir=tmp_path_factory.mktemp("huge-data"),
        auth=False,
        max_response_bytes=BOUND,
    )
    with MockServer(config) as running:
        yield running


def test_served_bodies_stay_within_max_response_bytes(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mockloop.mock.responder")
    with httpx.Client(base_url=server.business_url, timeout=30) as client:
        nested = client.get("/nested")
        assert nested.status_code == 200
        assert len(nested.content) <= BOUND
        assert isinstance(nested.json(), list) and nested.json()
        for ident in ("1", "2", "3"):
            long = client.get(f"/long/{ident}")
            assert long.status_code == 200
            assert len(long.content) <= BOUND
            assert set(long.json()) == {"text", "items"}
        xml = client.get("/long/1", headers={"accept": "application/xml"})
        assert xml.status_code == 200
        assert len(xml.content) <= BOUND
        assert client.get("/health").status_code == 200
    cuts = [r.getMessage() for r in caplog.records if "getLong" in r.getMessage()]
    assert len(cuts) == 1  # once per operation, however many requests
    assert str(BOUND) in cuts[0] and "--max-response-size" in cuts[0]


def _responder_with_example(value: Any) -> tuple[Responder, Any]:
    spec = load_spec(
        {
            "openapi": "3.1.0",
            "info": {"title": "ex", "version": "1"},
            "paths": {
                "/x": {
                    "get": {
                        "operationId": "getX",
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {
                                        "schema": {"type": "array", "items": {"type": "array"}},
                                        "examples": {"small": {"value": [[1]]}},
                                    }
                                },
                            }
                        },
                    }
                }
            },
        }
    )
    op = spec.operations[0]
    media = op.responses["200"].content["application/json"]
    # What a YAML alias bomb leaves after loading: one small object shared 2**200 times.
    media.examples = [Example("bomb", value), *media.examples]
    faker = SchemaFaker(spec.document, max_bytes=BOUND)
    return Responder(spec, faker, SchemaValidator(spec.document)), op


def test_an_example_larger_than_the_bound_is_replaced_or_refused_by_name() -> None:
    responder, op = _responder_with_example(_shared(200))
    served = responder.respond(op, {})
    assert served.status == 200
    assert len(served.body) <= BOUND
    assert orjson.loads(served.body) == [[1]]  # the next valid example, not the bomb
    named = responder.respond(op, {}, prefer="example=bomb")
    assert named.status == 422
    assert b"larger than the mock's limit" in named.body


class _CountingDict(dict[str, Any]):
    """A dict that counts how many of its keys were visited."""

    visited = 0

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            _CountingDict.visited += 1
            yield key


def test_json_size_visits_about_limit_keys_and_measures_huge_integers() -> None:
    _CountingDict.visited = 0
    wide = _CountingDict({f"k{i}": 1 for i in range(1000)})
    assert json_size(wide, 20) > 20
    assert _CountingDict.visited <= 10  # each key adds at least 3 bytes: the walk stops
    huge = 10**5000  # `repr` refuses integers past 4,300 digits
    assert 4900 <= json_size(huge, 10**6) <= 5100
    assert json_size([huge], 100) > 100
    assert json_size(12345, 100) == 5


DOUBLING_DOC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "doubling", "version": "1"},
    "paths": {
        "/x": {
            "get": {
                "operationId": "getX",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/N"},
                                "examples": {"deep": {"value": None}},
                            }
                        },
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            # Each level of a value is checked twice over: the work doubles per level.
            "N": {
                "type": "object",
                "allOf": [{"properties": {"c": {"anyOf": [{"$ref": "#/components/schemas/N"}]}}}],
                "unevaluatedProperties": False,
            }
        }
    },
}


def _chain(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = {"c": value}
    return value


def _finished(call: Any) -> Any:
    """`call()` in a thread, given a generous safety net to finish at all."""
    outcome: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: outcome.update(result=call()), daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the check did not finish"
    return outcome["result"]


def test_an_example_too_complex_to_check_is_served_unchecked_not_checked_forever(
    caplog: pytest.LogCaptureFixture,
) -> None:
    document = copy.deepcopy(DOUBLING_DOC)
    media = document["paths"]["/x"]["get"]["responses"]["200"]["content"]["application/json"]
    media["examples"]["deep"]["value"] = _chain(60)
    spec = load_spec(document)
    op = spec.operations[0]
    responder = Responder(spec, SchemaFaker(spec.document), SchemaValidator(spec.document))
    served = _finished(lambda: responder.respond(op, {}))
    assert served.status == 200
    assert orjson.loads(served.body) == _chain(60)

    faker = SchemaFaker(document)
    schema = {"$ref": "#/components/schemas/N", "examples": [_chain(60)]}
    with caplog.at_level(logging.WARNING, logger="mockloop.fake"):
        assert _finished(lambda: faker.generate(schema)) == _chain(60)
        assert _finished(lambda: faker.is_valid(schema, _chain(61))) is True
    assert faker.is_valid(schema, {"c": {"x": 1}}) is False  # small values are still checked
    notes = [r for r in caplog.records if r.name == "mockloop.fake"]
    assert len(notes) == 1
    assert "not checked" in notes[0].getMessage()
