"""`mockloop.fake`: deterministic, valid against the schema, realistic, and never stuck.

Values are checked with an independent validator built here (Draft 2020-12 + a referencing
registry over the document + format checks), not with the faker's own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockloop.fake import SchemaFaker
from mockloop.fake.pools import pool
from tests.conftest import REAL_WORLD, needs_real_world

_URI = "urn:test:document"
_MISSING = re.compile(r"^'(.+)' is a required property$")
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", re.I)

# -- an independent validator ----------------------------------------------------------------

CHECKER = FormatChecker(formats=("date", "email", "uuid", "ipv4", "ipv6"))


@CHECKER.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@CHECKER.checks("uri")
def _uri(value: object) -> bool:
    return not isinstance(value, str) or (
        bool(urlsplit(value).scheme) and not re.search(r"\s", value)
    )


def _lenient_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    """A regex Python cannot compile constrains nothing we can check."""
    try:
        re.compile(pattern)
    except re.error:
        return
    yield from Draft202012Validator.VALIDATORS["pattern"](validator, pattern, instance, schema)


_Strict = validators.extend(Draft202012Validator, {"pattern": _lenient_pattern})


_REGISTRIES: dict[int, tuple[Any, Registry]] = {}


def _registry(document: dict[str, Any]) -> Registry:
    hit = _REGISTRIES.get(id(document))
    if hit is None or hit[0] is not document:
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        hit = _REGISTRIES[id(document)] = (document, Registry().with_resource(_URI, resource))
    return hit[1]


def errors(document: dict[str, Any], schema: Any, value: Any, *, response: bool = True) -> list:
    """Messages for `value` against `schema`; a required property that OpenAPI says is not
    sent in this direction (writeOnly in responses, readOnly in requests) is forgiven."""
    registry = _registry(document)
    validator = _Strict(
        schema,
        registry=registry,
        format_checker=CHECKER,
        _resolver=registry.resolver(base_uri=_URI),  # pyright: ignore[reportCallIssue]
    )
    flag = "writeOnly" if response else "readOnly"
    hidden = _document_marked(document, flag) | _marked(schema, flag=flag)
    found = []
    for error in validator.iter_errors(value):
        missing = _MISSING.match(error.message) if error.validator == "required" else None
        if missing and missing.group(1) in hidden:
            continue
        found.append(f"{error.json_path}: {error.message[:200]}")
    return found


_MARKED: dict[tuple[int, str], tuple[Any, set[str]]] = {}


def _document_marked(document: dict[str, Any], flag: str) -> set[str]:
    hit = _MARKED.get((id(document), flag))
    if hit is None or hit[0] is not document:
        hit = _MARKED[(id(document), flag)] = (document, _marked(document, flag=flag))
    return hit[1]


def _marked(*nodes: Any, flag: str) -> set[str]:
    names: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            properties = node.get("properties")
            for name, sub in (properties if isinstance(properties, dict) else {}).items():
                if isinstance(sub, dict) and sub.get(flag) is True:
                    names.add(name)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return names


def to_31(node: Any) -> Any:
    """OpenAPI 3.0 schemas -> 2020-12: `nullable` and boolean exclusive bounds."""
    if isinstance(node, list):
        return [to_31(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_31(v) for k, v in node.items() if k != "nullable"}
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(exclusive), bool) and out.pop(exclusive) and bound in out:
            out[exclusive] = out.pop(bound)
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if isinstance(out.get("enum"), list) and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


# -- a document and a table of schemas -------------------------------------------------------

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
                "properties": {"b": {"$ref": "#/components/schemas/B"}, "n": {"type": "integer"}},
            },
            "B": {
                "type": "object",
                "properties": {"a": {"$ref": "#/components/schemas/A"}},
            },
            "Tree": {
                "type": ["object", "null"],
                "required": ["left", "right"],
                "properties": {
                    "left": {"$ref": "#/components/schemas/Tree"},
                    "right": {"$ref": "#/components/schemas/Tree"},
                },
            },
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
            "Pet": {
                "type": "object",
                "required": ["petType"],
                "properties": {"petType": {"type": "string"}, "name": {"type": "string"}},
                "discriminator": {"propertyName": "petType"},
            },
            "Lizard": {
                "allOf": [
                    {"$ref": "#/components/schemas/Pet"},
                    {"properties": {"scales": {"type": "integer", "minimum": 1}}},
                ]
            },
            "Base": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string", "format": "uuid"}},
            },
            "Named": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"required": ["name"], "properties": {"name": {"type": "string"}}},
                ]
            },
            "Deep": {
                "allOf": [
                    {"$ref": "#/components/schemas/Named"},
                    {"properties": {"age": {"type": "integer", "maximum": 30}}},
                    {"properties": {"age": {"minimum": 20}}, "required": ["age"]},
                ]
            },
        }
    }
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


CASES: list[Any] = [
    {"type": "string"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "time"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "uri"},
    {"type": "string", "format": "url"},
    {"type": "string", "format": "hostname"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "ipv6"},
    {"type": "string", "format": "byte"},
    {"type": "string", "format": "binary"},
    {"type": "string", "format": "password"},
    {"type": "string", "format": "int64"},
    {"type": "string", "minLength": 40, "maxLength": 45},
    {"type": "string", "maxLength": 2},
    {"type": "string", "maxLength": 0},
    {"type": "string", "format": "email", "maxLength": 30},
    {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
    {"type": "string", "pattern": "^AC[0-9a-f]{32}$"},
    {"type": "string", "pattern": "^[A-Za-z-0-9]+$", "minLength": 22, "maxLength": 22},
    {"type": "string", "pattern": "^[+][\\s0-9()-]+$", "maxLength": 20},
    {"type": "string", "pattern": "[a-z]"},
    {"allOf": [{"pattern": "^a"}, {"pattern": "z$"}], "type": "string"},
    {"type": "string", "enum": ["a", "b", None]},
    {"type": ["string", "null"], "enum": ["x", None]},
    {"enum": [None, 3, "three"]},
    {"type": ["string", "null"]},
    {"type": ["integer", "string"]},
    {"const": {"fixed": [1, 2]}},
    {"type": "integer"},
    {"type": "integer", "format": "int32"},
    {"type": "integer", "format": "int64", "minimum": 9007199254740993},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 2},
    {"type": "integer", "maximum": -5},
    {"type": "integer", "multipleOf": 7, "minimum": 100, "maximum": 120},
    {"type": "number", "minimum": 0.5, "maximum": 0.6},
    {"type": "number", "exclusiveMinimum": 0.1, "exclusiveMaximum": 0.11},
    {"type": "number", "multipleOf": 0.01, "minimum": 1, "maximum": 2},
    {"type": "number", "multipleOf": 0.1},
    {"type": "number", "format": "double"},
    {"type": "number", "format": "float", "maximum": -1000.5},
    {"type": "boolean"},
    {"type": "null"},
    {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 6},
    {"type": "array", "items": {"enum": [1, 2, 3]}, "uniqueItems": True, "minItems": 3},
    {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
    {"type": "array", "contains": {"type": "integer", "minimum": 5}, "items": {"type": "integer"}},
    {"type": "array", "maxItems": 0},
    {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 2},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
        "required": ["a"],
    },
    {"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "string"}}},
    {
        "type": "object",
        "patternProperties": {"^x-[a-z]+$": {"type": "string"}},
        "additionalProperties": False,
        "minProperties": 1,
    },
    {"type": "object", "propertyNames": {"pattern": "^[a-z]{4}$"}, "minProperties": 2},
    {"type": "object", "properties": {"a": {}, "b": {}, "c": {}}, "maxProperties": 2},
    {"type": "object", "dependentRequired": {"a": ["b"]}, "required": ["a"]},
    {
        "allOf": [
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
            {"required": ["b"], "properties": {"b": {"type": "integer", "minimum": 5}}},
        ]
    },
    {
        "allOf": [
            {"properties": {"a": {}, "b": {}}, "additionalProperties": False},
            {"properties": {"b": {}, "c": {}}},
        ]
    },
    ref("Named"),
    ref("Deep"),
    {"allOf": [ref("Base")], "properties": {"extra": {"type": "boolean"}}, "required": ["extra"]},
    {"oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}]},
    {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 5}]},
    {"oneOf": [{"type": "object"}, {"type": "object", "required": ["a"]}]},
    {"oneOf": [ref("Cat"), ref("Dog")], "discriminator": {"propertyName": "kind"}},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]},
    {"anyOf": [ref("Base"), {"type": "null"}]},
    {
        "type": "object",
        "required": ["p"],
        "properties": {"p": {"type": "integer"}},
        "oneOf": [{"properties": {"p": {"minimum": 10}}}, {"properties": {"p": {"maximum": 3}}}],
    },
    {"not": {"type": "string"}},
    {"type": "integer", "not": {"enum": [1, 2, 3, 4, 5]}, "minimum": 1, "maximum": 6},
    ref("Node"),
    ref("A"),
    ref("Tree"),
    {"type": "string", "example": "not-an-email", "format": "email"},
    {"type": "integer", "examples": ["seven", 7]},
    {},
    True,
]


def _id(case: Any) -> str:
    return json.dumps(case)[:70]


@pytest.mark.parametrize("schema", CASES, ids=[_id(c) for c in CASES])
def test_generated_values_validate(schema: Any) -> None:
    faker = SchemaFaker(DOC)
    for key in ("a", "b", "c", "d"):
        value = faker.generate(schema, key=key)
        assert errors(DOC, schema, value) == [], (schema, value)


@pytest.mark.parametrize("schema", CASES, ids=[_id(c) for c in CASES])
def test_request_values_validate(schema: Any) -> None:
    value = SchemaFaker(DOC, seed=9).generate(schema, key="req", for_response=False)
    assert errors(DOC, schema, value, response=False) == [], (schema, value)


WEIRD: list[Any] = [
    {"type": "integer", "minimum": 10, "maximum": 5},
    {"type": "string", "minLength": 5, "maxLength": 2},
    {"type": "string", "pattern": "(?<=a)b(?!c)"},
    {"type": "string", "pattern": "\\p{L}+"},
    {"type": "string", "pattern": "^(a+)+b$", "maxLength": 1},
    {"$ref": "#/components/schemas/Missing"},
    {"$ref": "https://example.com/elsewhere.json"},
    {"allOf": [{"type": "string"}, {"type": "integer"}]},
    {"enum": []},
    {"type": "array", "items": {"enum": [1]}, "uniqueItems": True, "minItems": 3},
    {"oneOf": [{"type": "string"}, {"type": "string"}]},
    {"type": "object", "required": ["a"], "additionalProperties": False},
    {"type": "numberish", "minimum": "3"},
    {"type": "number", "multipleOf": 0},
    {"properties": "nope", "items": 3, "required": "a"},
    {"type": "integer", "nullable": True, "exclusiveMinimum": True, "minimum": 0},
    False,
    None,
    "string",
]


@pytest.mark.parametrize("schema", WEIRD, ids=[_id(c) for c in WEIRD])
def test_weird_schemas_never_raise(schema: Any) -> None:
    faker = SchemaFaker(DOC)
    for key in ("a", "b"):
        faker.generate(schema, key=key)


@pytest.mark.parametrize("name", ["description", "email", None])
def test_catastrophic_regex_does_not_hang(name: str | None) -> None:
    faker = SchemaFaker(DOC)
    started = time.perf_counter()
    for pattern in ("^(\\w+\\s?)+$", "^([a-zA-Z0-9]+\\s?)*$", "^(a|aa)+$"):
        schema = {"type": "string", "pattern": pattern, "example": "A sentence, long enough!!"}
        value = faker.generate(schema, field_name=name)
        assert re.search(pattern, value)
    assert time.perf_counter() - started < 1


def test_impossible_regex_falls_back_quickly() -> None:
    faker = SchemaFaker(DOC)
    started = time.perf_counter()
    value = faker.generate({"type": "string", "pattern": "^(a+)+b$", "maxLength": 1})
    faker.generate({"type": "string", "pattern": "^(?=x)y$"})
    faker.generate({"type": "string", "pattern": "^(a)\\1{3}[[:alpha:]]$"})
    assert isinstance(value, str)
    assert time.perf_counter() - started < 1


def test_lookaround_pattern_still_matches() -> None:
    value = SchemaFaker(DOC).generate({"type": "string", "pattern": "^(?!admin)[a-z]{5,8}$"})
    assert re.search("^(?!admin)[a-z]{5,8}$", value)


# -- determinism -----------------------------------------------------------------------------

PROCESS_SCHEMAS = [
    ref("Node"),
    ref("Deep"),
    {"type": "string", "pattern": "^[^a-z]{6}\\W\\S.$"},
    {"type": "object", "additionalProperties": {"type": "integer"}},
]
SCRIPT = """
import json, sys
from mockloop.fake import SchemaFaker
doc, schemas = json.loads(sys.argv[1]), json.loads(sys.argv[2])
faker = SchemaFaker(doc, seed=4)
print(json.dumps([faker.generate(schema, key="k") for schema in schemas]))
"""


def test_deterministic_per_seed_and_key() -> None:
    schema = ref("Deep")
    first = SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=7")
    assert SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=7") == first
    assert SchemaFaker(DOC, seed=1).generate(schema, key="getNode|id=8") != first
    assert SchemaFaker(DOC, seed=2).generate(schema, key="getNode|id=7") != first
    faker = SchemaFaker(DOC, seed=1)
    faker.generate(ref("Node"), key="warm the caches")
    assert faker.generate(schema, key="getNode|id=7") == first


def test_deterministic_across_processes() -> None:
    faker = SchemaFaker(DOC, seed=4)
    here = [faker.generate(schema, key="k") for schema in PROCESS_SCHEMAS]
    outputs = set()
    for hashseed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, json.dumps(DOC), json.dumps(PROCESS_SCHEMAS)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hashseed, "PATH": ""},
        )
        outputs.add(done.stdout.strip())
    assert outputs == {json.dumps(here)}


def test_different_keys_give_different_data() -> None:
    faker = SchemaFaker(DOC)
    values = {json.dumps(faker.generate(ref("Named"), key=str(i))) for i in range(20)}
    assert len(values) >= 18


# -- readOnly / writeOnly --------------------------------------------------------------------

USER = {
    "type": "object",
    "required": ["id", "password", "name"],
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "password": {"type": "string", "writeOnly": True},
        "secret": {"allOf": [ref("Base")], "writeOnly": True},
        "name": {"type": "string"},
    },
}


def test_write_only_left_out_of_responses() -> None:
    value = SchemaFaker(DOC).generate(USER, for_response=True)
    assert "password" not in value and "secret" not in value
    assert {"id", "name"} <= value.keys()


def test_read_only_left_out_of_requests() -> None:
    value = SchemaFaker(DOC).generate(USER, for_response=False)
    assert "id" not in value
    assert {"password", "secret", "name"} <= value.keys()


# -- recursion -------------------------------------------------------------------------------


def _depth(node: Any) -> int:
    if isinstance(node, dict):
        return 1 + max([0, *(_depth(v) for v in node.values())])
    if isinstance(node, list):
        return 1 + max([0, *(_depth(v) for v in node)])
    return 0


@pytest.mark.parametrize("name", ["Node", "A", "B", "Tree"])
@pytest.mark.parametrize("max_depth", [0, 1, 3, 5, 12])
def test_recursion_terminates_and_validates(name: str, max_depth: int) -> None:
    faker = SchemaFaker(DOC, max_depth=max_depth)
    for key in ("x", "y"):
        value = faker.generate(ref(name), key=key)
        assert errors(DOC, ref(name), value) == []
        assert _depth(value) <= 2 * (max_depth + 10)


def test_self_recursion_is_cut_early() -> None:
    value = SchemaFaker(DOC).generate(ref("Node"), key="x")
    for child in value.get("children", []):
        assert "children" not in child  # the second Node on the way down is shallow


def test_mutual_recursion_keeps_required() -> None:
    value = SchemaFaker(DOC, max_depth=2).generate(ref("A"))
    assert isinstance(value["b"], dict)


# -- combinators ----------------------------------------------------------------------------

_RESOURCE: dict[str, Any] = {"type": {"type": "string"}, "id": {"type": "string"}}


def test_one_of_exactly_one_with_overlapping_branches() -> None:
    schema = {
        "oneOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
        ]
    }
    faker = SchemaFaker(DOC)
    for key in "abcdefghij":
        value = faker.generate(schema, key=key)
        matches = [not errors(DOC, b, value) for b in schema["oneOf"]]
        assert matches.count(True) == 1, value


@pytest.mark.parametrize(
    "branches",
    [
        # JSON:API resources: all require type and id, differ only in optional properties.
        [
            {"type": "object", "required": ["type", "id"], "properties": _RESOURCE | {"a": {}}},
            {
                "type": "object",
                "required": ["type", "id"],
                "properties": _RESOURCE | {"attributes": {"type": "object"}},
            },
            {
                "type": "object",
                "required": ["type", "id"],
                "properties": _RESOURCE | {"relationships": {"type": "object"}},
            },
        ],
        # one closed branch, one open: a key the closed one does not know separates them
        [
            {"type": "object", "properties": _RESOURCE, "additionalProperties": False},
            {"type": "object", "properties": _RESOURCE},
        ],
        # a const difference
        [
            {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "a"}}},
            {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
        ],
    ],
)
def test_one_of_overlapping_branches_are_edited_apart(branches: list[Any]) -> None:
    schema = {"type": "array", "minItems": 3, "items": {"oneOf": branches}}
    for seed in range(8):
        faker = SchemaFaker(DOC, seed=seed)
        value = faker.generate(schema, key="items")
        assert value == SchemaFaker(DOC, seed=seed).generate(schema, key="items")
        for item in value:
            matches = [not errors(DOC, b, item) for b in branches]
            assert matches.count(True) == 1, item


def test_one_of_edits_stay_within_the_room() -> None:
    branches = [
        {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        {"type": "object", "properties": {"id": {}, "extra": {"type": "object"}}},
    ]
    value, _ = SchemaFaker(DOC, max_bytes=64).generate_within({"oneOf": branches}, key="k")
    assert len(json.dumps(value)) <= 64


def test_discriminator_names_the_branch() -> None:
    schema = {"oneOf": [ref("Cat"), ref("Dog")], "discriminator": {"propertyName": "kind"}}
    mapped = {
        "oneOf": [ref("Cat"), ref("Dog")],
        "discriminator": {
            "propertyName": "kind",
            "mapping": {"cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"},
        },
    }
    faker = SchemaFaker(DOC)
    for key in "abcdefgh":
        value = faker.generate(schema, key=key)
        assert value["kind"] == ("Cat" if "meows" in value else "Dog")
        value = faker.generate(mapped, key=key)
        assert value["kind"] == ("cat" if "meows" in value else "dog")
    kinds = {faker.generate(schema, key=k)["kind"] for k in "abcdefgh"}
    assert kinds == {"Cat", "Dog"}


def test_base_schema_discriminator_names_the_subtype() -> None:
    faker = SchemaFaker(DOC)
    assert faker.generate(ref("Lizard"), key="a")["petType"] == "Lizard"
    schema = {"oneOf": [ref("Lizard"), ref("Cat")], "discriminator": {"propertyName": "kind"}}
    for key in "abcd":
        value = faker.generate(schema, key=key)
        assert value.get("petType", "Lizard") == "Lizard" and errors(DOC, schema, value) == []


def test_address_state_is_a_region() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "state": {"type": "string"}},
    }
    value = SchemaFaker(DOC).generate(schema, key="a")
    assert value["state"] in pool("en_US", "state")  # a US state, not a status


def test_nullable_enum_prefers_a_member() -> None:
    faker = SchemaFaker(DOC)
    for schema in (
        {"type": ["string", "null"], "enum": ["x", "y", None]},
        {"type": "string", "nullable": True, "enum": [None, "x"]},
    ):
        values = {faker.generate(schema, key=str(i)) for i in range(10)}
        assert values <= {"x", "y"} and values


def test_nullable_prefers_a_value() -> None:
    faker = SchemaFaker(DOC)
    assert faker.generate({"type": ["null", "integer"]}) is not None
    assert faker.generate({"anyOf": [{"type": "null"}, ref("Base")]}) is not None
    assert faker.generate({"type": "string", "nullable": True}) is not None


def test_valid_examples_used_invalid_skipped() -> None:
    faker = SchemaFaker(DOC)
    assert faker.generate({"type": "string", "example": "Rex"}) == "Rex"
    assert faker.generate({"type": "integer", "example": "seven"}) != "seven"
    assert faker.generate({"type": "integer", "examples": ["x", 42]}) == 42
    assert faker.generate({"type": "array", "items": {"type": "integer"}, "example": []}) != []
    payload = {"type": "object", "properties": USER["properties"], "example": {"password": "p"}}
    assert "password" not in faker.generate(payload)  # an example for requests only
    assert faker.generate(payload, for_response=False)["password"] == "p"


# -- realistic values -----------------------------------------------------------------------


def test_realistic_values_by_field_name() -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "contactEmail": {"type": "string"},
            "created_at": {"type": "string"},
            "updatedAt": {"type": "string"},
            "birthday": {"type": "string"},
            "start_date": {"type": "string"},
            "price": {"type": "number", "minimum": 5, "maximum": 9},
            "total": {"type": "number"},
            "city": {"type": "string"},
            "firstName": {"type": "string"},
            "last_name": {"type": "string"},
            "website": {"type": "string"},
            "avatar_url": {"type": "string"},
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "id": {"type": "integer"},
            "uuid_id": {"type": "string", "format": "uuid"},
            "currency": {"type": "string"},
            "country_code": {"type": "string"},
            "phone": {"type": "string"},
            "age": {"type": "integer"},
            "quantity": {"type": "integer"},
            "ip": {"type": "string"},
            "zip": {"type": "string"},
        },
    }
    for key in "abc":
        value = SchemaFaker(DOC).generate(schema, key=key)
        assert re.fullmatch(r"[a-z0-9._]+@example\.com", value["email"])
        assert "@" in value["contactEmail"]
        for field in ("created_at", "updatedAt"):
            assert datetime.fromisoformat(value[field].replace("Z", "+00:00")).tzinfo
        date.fromisoformat(value["birthday"])
        date.fromisoformat(value["start_date"])
        assert 5 <= value["price"] <= 9 and round(value["price"], 2) == value["price"]
        assert round(value["total"], 2) == value["total"]
        assert value["city"] in pool("en_US", "city")
        assert value["firstName"] in pool("en_US", "first_name")
        assert value["last_name"] in pool("en_US", "last_name")
        assert value["website"].startswith("https://")
        assert value["avatar_url"].startswith("https://")
        assert -90 <= value["latitude"] <= 90 and -180 <= value["longitude"] <= 180
        assert value["id"] >= 1
        assert re.fullmatch("[A-Z]{3}", value["currency"])
        assert re.fullmatch("[A-Z]{2}", value["country_code"])
        assert value["phone"] in pool("en_US", "phone")
        assert 0 < value["age"] < 120 and value["quantity"] >= 0
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value["ip"])
        assert errors(DOC, schema, value) == []


def test_constraints_beat_field_names() -> None:
    faker = SchemaFaker(DOC)
    assert faker.generate({"type": "string", "maxLength": 3}, field_name="email") is not None
    assert len(faker.generate({"type": "string", "maxLength": 3}, field_name="email")) <= 3
    assert faker.generate({"type": "integer", "minimum": 500}, field_name="age") >= 500
    value = faker.generate({"type": "string", "enum": ["EUR"]}, field_name="currency")
    assert value == "EUR"
    assert faker.generate({"type": "string", "format": "uuid"}, field_name="id").count("-") == 4
    assert isinstance(faker.generate({"type": "integer"}, field_name="id"), int)


def test_large_schema_is_fast() -> None:
    props = {f"field{i}": {"type": "string", "maxLength": 20} for i in range(300)}
    props |= {f"count{i}": {"type": "integer", "minimum": 0} for i in range(200)}
    schema = {"type": "object", "properties": props}
    faker = SchemaFaker(DOC)
    faker.generate(schema, key="warm")
    started = time.perf_counter()
    for i in range(10):
        faker.generate(schema, key=str(i))
    assert (time.perf_counter() - started) / 10 < 0.05


# -- real-world descriptions ----------------------------------------------------------------

REAL = sorted(REAL_WORLD.glob("*.json")) if REAL_WORLD.is_dir() else []
# Component schemas that contradict themselves, so no value can be valid: file stem -> names.
CONTRADICTORY: dict[str, dict[str, str]] = {}


@needs_real_world
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_every_real_world_component_schema_validates(path: Path) -> None:
    document = json.loads(path.read_text())
    converted = to_31(document)
    names = list((document.get("components") or {}).get("schemas") or {})
    if not names:
        pytest.skip("no component schemas")
    skipped = CONTRADICTORY.get(path.stem, {})
    invalid = []
    for seed in (0, 1):
        faker = SchemaFaker(document, seed=seed)
        for name in names:
            if name in skipped:
                continue
            value = faker.generate(ref(name), key=name)
            found = errors(converted, ref(name), value)
            if found:
                invalid.append((name, seed, found[:2]))
    assert invalid == []


def test_pattern_ranges_never_produce_lone_surrogates() -> None:
    faker = SchemaFaker({})
    schema = {"type": "string", "pattern": "[\\u0020-\\uFFFF]+", "maxLength": 64}
    for key in range(200):
        value = faker.generate(schema, key=str(key))
        value.encode("utf-8")  # raises on a lone surrogate
        assert re.search(schema["pattern"], value)
