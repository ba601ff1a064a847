"""The faker: deterministic, valid against the schema, realistic, and never stuck."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mockloop.fake import SchemaFaker
from mockloop.spec import load_spec
from mockloop.spec.validation import SchemaValidator
from tests.conftest import REAL_WORLD

DOC: dict[str, Any] = {
    "components": {
        "schemas": {
            "Node": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                    "parent": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
                },
            },
            "A": {
                "type": "object",
                "required": ["b"],
                "properties": {"b": {"$ref": "#/components/schemas/B"}},
            },
            "B": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}},
            "Cat": {
                "type": "object",
                "required": ["kind", "meows"],
                "properties": {"kind": {"type": "string"}, "meows": {"type": "boolean"}},
            },
            "Dog": {
                "type": "object",
                "required": ["kind", "barks"],
                "properties": {"kind": {"type": "string"}, "barks": {"type": "boolean"}},
            },
        }
    }
}

CASES: list[dict[str, Any]] = [
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "ipv6"},
    {"type": "string", "format": "hostname"},
    {"type": "string", "format": "byte"},
    {"type": "string", "minLength": 40, "maxLength": 45},
    {"type": "string", "maxLength": 2},
    {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
    {"type": "string", "pattern": "^AC[0-9a-f]{32}$"},
    {"type": "string", "pattern": "^[+][\\s0-9()-]+$", "maxLength": 20},
    {"type": "string", "enum": ["a", "b", None]},
    {"type": ["string", "null"], "enum": ["x", None]},
    {"const": {"fixed": [1, 2]}},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {"type": "integer", "format": "int32"},
    {"type": "integer", "multipleOf": 7, "minimum": 100, "maximum": 120},
    {"type": "number", "minimum": 0.5, "maximum": 0.6},
    {"type": "number", "multipleOf": 0.01, "minimum": 1, "maximum": 2},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 6},
    {"type": "array", "items": {"enum": [1, 2, 3]}, "uniqueItems": True, "minItems": 3},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
        "required": ["a"],
    },
    {"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "string"}}},
    {"type": "object", "properties": {"a": {}, "b": {}, "c": {}}, "maxProperties": 2},
    {
        "allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
            {"required": ["b"], "properties": {"b": {"type": "integer", "minimum": 5}}},
        ]
    },
    {"oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}]},
    {
        "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
        "discriminator": {"propertyName": "kind"},
    },
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]},
    {"$ref": "#/components/schemas/Node"},
    {"$ref": "#/components/schemas/A"},
    {"type": "string", "example": "not-an-email", "format": "email"},
    {"type": "integer", "minimum": 10, "maximum": 5},  # contradictory: must not raise
    {"type": "string", "pattern": "(?<=a)b(?!c)"},  # lookarounds rstr cannot generate
    {},
    True,
]
VALIDATOR = SchemaValidator(DOC)


@pytest.mark.parametrize("schema", CASES, ids=[json.dumps(c)[:60] for c in CASES])
def test_generated_values_validate(schema: Any) -> None:
    faker = SchemaFaker(DOC)
    for key in ("a", "b", "c"):
        value = faker.generate(schema, key=key)
        if schema == {"type": "integer", "minimum": 10, "maximum": 5}:
            assert isinstance(value, int)
            continue
        if isinstance(schema, dict) and "(?<=a)" in schema.get("pattern", ""):
            assert isinstance(value, str)
            continue
        assert VALIDATOR.errors(schema, value) == [], (schema, value)


def test_deterministic_per_seed_and_key() -> None:
    schema = {"$ref": "#/components/schemas/Node"}
    first = SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=7")
    assert SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=7") == first
    assert SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=8") != first
    assert SchemaFaker(DOC, seed=2).generate(schema, key="getNode|id=7") != first


def test_recursion_is_bounded() -> None:
    faker = SchemaFaker(DOC, max_depth=3)
    value = faker.generate({"$ref": "#/components/schemas/Node"}, key="x")

    def depth(node: Any) -> int:
        if not isinstance(node, dict):
            return 0
        kids = [depth(c) for c in node.get("children") or []]
        return 1 + max([*kids, depth(node.get("parent"))])

    assert depth(value) <= 6
    mutual = faker.generate({"$ref": "#/components/schemas/A"})
    assert "b" in mutual


def test_one_of_discriminator_matches_the_branch() -> None:
    schema = CASES[34]
    for key in "abcdefgh":
        value = SchemaFaker(DOC).generate(schema, key=key)
        assert value["kind"] == ("Cat" if "meows" in value else "Dog")


def test_read_only_and_write_only() -> None:
    schema = {
        "type": "object",
        "required": ["id", "password"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "password": {"type": "string", "writeOnly": True},
            "name": {"type": "string"},
        },
    }
    faker = SchemaFaker(DOC)
    assert "password" not in faker.generate(schema, for_response=True)
    assert "id" in faker.generate(schema, for_response=True)
    request = faker.generate(schema, for_response=False)
    assert "id" not in request and "password" in request


def test_realistic_values_by_field_name() -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "created_at": {"type": "string"},
            "price": {"type": "number", "minimum": 5, "maximum": 9},
            "city": {"type": "string"},
            "firstName": {"type": "string"},
            "website": {"type": "string"},
            "latitude": {"type": "number"},
            "id": {"type": "integer"},
        },
    }
    value = SchemaFaker(DOC).generate(schema, key="k")
    assert "@" in value["email"]
    datetime.fromisoformat(value["created_at"].replace("Z", "+00:00"))
    assert 5 <= value["price"] <= 9 and round(value["price"], 2) == value["price"]
    assert value["city"][0].isupper() and " " not in value["firstName"]
    assert value["website"].startswith("https://")
    assert -90 <= value["latitude"] <= 90
    assert value["id"] >= 1


def test_valid_examples_are_used_and_invalid_ones_skipped() -> None:
    faker = SchemaFaker(DOC)
    assert faker.generate({"type": "string", "example": "Rex"}) == "Rex"
    assert faker.generate({"type": "integer", "example": "seven"}) != "seven"


def test_impossible_regex_returns_fast() -> None:
    started = time.perf_counter()
    value = SchemaFaker(DOC).generate({"type": "string", "pattern": "^(a+)+b$", "maxLength": 3})
    assert isinstance(value, str)
    assert time.perf_counter() - started < 5  # a guard against hanging, not a benchmark


REAL = sorted(REAL_WORLD.glob("*.json")) if REAL_WORLD.is_dir() else []


@pytest.mark.skipif(not REAL, reason="../shared/specs/real-world is not beside the project")
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_every_real_world_schema_generates_valid_data(path: Path) -> None:
    spec = load_spec(path)
    validator = SchemaValidator(spec.document)
    schemas = [
        {"$ref": f"#/components/schemas/{name}"} for name in spec.document["components"]["schemas"]
    ]
    schemas += [
        m.schema
        for op in spec.operations
        for r in op.responses.values()
        for m in r.content.values()
        if m.schema is not None
    ]
    faker = SchemaFaker(spec.document, seed=3)
    invalid = []
    for index, schema in enumerate(schemas):
        value = faker.generate(schema, key=str(index))
        errors = validator.errors(schema, value, direction="response")
        if errors:
            invalid.append((schema, errors[:2]))
    assert invalid == []
