"""Schema validation against a loaded document, and typed parameters from raw strings."""

from __future__ import annotations

from typing import Any

import pytest

from mockloop.spec import Parameter, load_spec
from mockloop.spec.params import coerce_parameter, query_values, split_cookie_header
from mockloop.spec.validation import SchemaValidator
from tests.conftest import PETSTORE

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["id", "name", "secret"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "name": {"type": "string", "minLength": 1},
                    "secret": {"type": "string", "writeOnly": True},
                    "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                },
            },
            "Tag": {"type": "string", "enum": ["a", "b"]},
            "Loop": {"$ref": "#/components/schemas/Loop"},
        }
    },
}
PET = {"$ref": "#/components/schemas/Pet"}


@pytest.fixture
def validator() -> SchemaValidator:
    return SchemaValidator(DOCUMENT)


def test_messages_name_the_json_path_and_the_problem(validator: SchemaValidator) -> None:
    assert validator.errors(PET, {"id": 1, "name": "x", "secret": "s", "tags": ["a"]}) == []
    assert validator.errors(PET, {"id": "1", "name": 5, "secret": "s", "tags": ["a", "z"]}) == [
        "$.id: '1' is not of type 'integer'",
        "$.name: 5 is not of type 'string'",
        "$.tags[1]: 'z' is not one of ['a', 'b']",
    ]
    assert validator.errors({"type": "array"}, {}) == ["$: {} is not of type 'array'"]
    assert validator.is_valid(PET, {"id": 1, "name": "x", "secret": "s"})
    assert not validator.is_valid(PET, {"id": 1, "name": "", "secret": "s"})


def test_limit_and_long_messages_are_bounded(validator: SchemaValidator) -> None:
    schema = {"type": "array", "items": {"type": "integer"}}
    assert len(validator.errors(schema, ["x"] * 100)) == 50
    assert len(validator.errors(schema, ["x"] * 100, limit=3)) == 3
    (message,) = validator.errors({"type": "string"}, {"k": "v" * 1000})
    assert len(message) <= 310 and message.endswith("…")


def test_read_only_and_write_only_are_forgiven_by_direction(validator: SchemaValidator) -> None:
    assert validator.errors(PET, {"name": "x", "secret": "s"}, direction="request") == []
    assert validator.errors(PET, {"id": 1, "name": "x"}, direction="response") == []
    assert validator.errors(PET, {"name": "x"}, direction="request") == [
        "$: 'secret' is a required property"
    ]
    assert validator.errors(PET, {"name": "x", "secret": "s"}) == ["$: 'id' is a required property"]


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-05-01T10:00:00.123+02:00", "2024-05-01 10:00"),
        ("date-time", "2024-05-01t10:00:00z", "2024-13-01T10:00:00Z"),
        ("date", "2024-02-29", "2023-02-29"),
        ("email", "ana@example.com", "ana.example.com"),
        ("uuid", "0b6a4f5e-4c55-4a2b-9a55-9c1f0f7c2e11", "0b6a4f5e4c554a2b9a559c1f0f7c2e11x"),
        ("ipv4", "192.168.0.1", "192.168.0.300"),
        ("ipv6", "::1", "::g"),
        ("uri", "https://example.com/a?b=c", "not a uri"),
    ],
)
def test_checked_formats(validator: SchemaValidator, fmt: str, good: str, bad: str) -> None:
    schema = {"type": "string", "format": fmt}
    assert validator.errors(schema, good) == []
    assert validator.errors(schema, bad) == [f"$: {bad!r} is not a {fmt!r}"]


@pytest.mark.parametrize("fmt", ["int32", "int64", "password", "regex", "hostname", "google-x"])
def test_other_formats_are_annotations(validator: SchemaValidator, fmt: str) -> None:
    assert validator.errors({"format": fmt}, "(?<not-python") == []


def test_unusable_keywords_report_nothing_and_never_raise(validator: SchemaValidator) -> None:
    bad_pattern = {"type": "string", "pattern": "[z-a]", "maxLength": 3}
    # Only the broken keyword is skipped: the others still validate.
    assert validator.errors(bad_pattern, "toolong") == ["$: 'toolong' is too long"]
    assert validator.errors(bad_pattern, 5) == ["$: 5 is not of type 'string'"]
    assert "pattern" in validator.broken[id(bad_pattern)]
    nowhere = {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/Nope"}}}
    assert validator.errors(nowhere, {"a": 1}) == []
    assert validator.errors(nowhere, []) == ["$: [] is not of type 'object'"]
    assert "$ref" in validator.broken[id(nowhere)]
    loop = {"$ref": "#/components/schemas/Loop"}
    assert validator.errors(loop, 1) == []
    assert validator.errors({"minimum": "5"}, 3) == []
    assert validator.errors("not a schema", 3) == []
    assert validator.is_valid({"type": "nonsense"}, 3)


def test_each_schema_is_compiled_once(validator: SchemaValidator) -> None:
    schema = {"type": "integer"}
    assert validator._validator(schema) is validator._validator(schema)
    twin = {"type": "integer"}
    assert validator._validator(twin) is not validator._validator(schema)


def test_validates_loaded_specs_end_to_end() -> None:
    spec = load_spec(PETSTORE)
    validator = SchemaValidator(spec.document)
    body = spec.operation("createPet").request_body
    assert body is not None
    schema = body.content["application/json"].schema
    assert validator.errors(schema, {"name": "Rex", "photo_urls": ["https://x.test/a.png"]}) == []
    assert validator.errors(schema, {"name": "Rex", "photo_urls": ["nope"]}) == [
        "$.photo_urls[0]: 'nope' is not a 'uri'"
    ]


# -- parameters ---------------------------------------------------------------------------------


def _param(schema: dict[str, Any], location: str = "query", **kw: Any) -> Parameter:
    return Parameter(name="p", location=location, schema=schema, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schema", "raw", "expected"),
    [
        ({"type": "integer"}, ["42"], 42),
        ({"type": "integer"}, ["-7"], -7),
        ({"type": "integer"}, ["4.5"], "4.5"),
        ({"type": "integer"}, ["seven"], "seven"),
        ({"type": "number"}, ["2.5"], 2.5),
        ({"type": "number"}, ["3"], 3),
        ({"type": "number"}, ["1e3"], 1000.0),
        ({"type": "number"}, ["nan"], "nan"),
        ({"type": "boolean"}, ["true"], True),
        ({"type": "boolean"}, ["False"], False),
        ({"type": "boolean"}, ["yes"], "yes"),
        ({"type": "string"}, ["007"], "007"),
        ({"type": ["integer", "null"]}, ["null"], None),
        ({"type": ["integer", "null"]}, ["5"], 5),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, ["5"], 5),
        ({}, ["anything"], "anything"),
        ({"type": "integer"}, [], None),
    ],
)
def test_scalars(schema: dict[str, Any], raw: list[str], expected: Any) -> None:
    assert coerce_parameter(_param(schema), raw) == expected


ARRAY = {"type": "array", "items": {"type": "integer"}}


@pytest.mark.parametrize(
    ("location", "style", "explode", "raw", "expected"),
    [
        ("query", None, None, ["1", "2"], [1, 2]),  # form, exploded: ?p=1&p=2
        ("query", "form", True, ["1,2"], ["1,2"]),  # exploded form does not split
        ("query", "form", False, ["1,2"], [1, 2]),
        ("query", "spaceDelimited", False, ["1 2"], [1, 2]),
        ("query", "pipeDelimited", False, ["1|2|x"], [1, 2, "x"]),
        ("header", None, None, ["1,2"], [1, 2]),
        ("header", "simple", True, ["1,2"], [1, 2]),
        ("path", "label", False, [".1,2"], [1, 2]),
        ("path", "label", True, [".1.2"], [1, 2]),
        ("path", "matrix", False, [";p=1,2"], [1, 2]),
        ("path", "matrix", True, [";p=1;p=2"], [1, 2]),
        ("query", "form", False, [""], []),
        ("query", None, None, [], []),
    ],
)
def test_arrays_by_style(
    location: str, style: str | None, explode: bool | None, raw: list[str], expected: Any
) -> None:
    param = _param(ARRAY, location, style=style, explode=explode)
    assert coerce_parameter(param, raw) == expected


OBJECT = {
    "type": "object",
    "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
}


def test_objects_by_style() -> None:
    pairs = [("p[size]", "3"), ("p[color]", "red"), ("other", "x")]
    deep = _param(OBJECT, style="deepObject", explode=True)
    assert query_values(deep, pairs) == ["size=3", "color=red"]
    assert coerce_parameter(deep, query_values(deep, pairs)) == {"size": 3, "color": "red"}
    exploded = _param(OBJECT)
    raw = query_values(exploded, [("size", "3"), ("color", "red"), ("page", "2")])
    assert coerce_parameter(exploded, raw) == {"size": 3, "color": "red"}
    assert coerce_parameter(_param(OBJECT, style="form", explode=False), ["size,3,color,red"]) == {
        "size": 3,
        "color": "red",
    }
    assert coerce_parameter(_param(OBJECT, "header"), ["size=3,color=red"]) == {
        "size": 3,
        "color": "red",
    }
    assert coerce_parameter(_param(OBJECT), ['{"size": 3}']) == {"size": 3}
    assert coerce_parameter(_param(OBJECT, "header"), ["size,3,color"]) == "size,3,color"
    assert query_values(_param(ARRAY), [("p", "1"), ("q", "2"), ("p", "3")]) == ["1", "3"]


def test_refs_in_parameter_schemas_follow_the_document() -> None:
    document = {"components": {"schemas": {"Count": {"type": "integer"}, "Ids": ARRAY}}}
    count = _param({"$ref": "#/components/schemas/Count"})
    assert coerce_parameter(count, ["5"], document) == 5
    assert coerce_parameter(count, ["5"]) == "5"  # without the document the type is unknown
    ids = _param({"$ref": "#/components/schemas/Ids"}, style="form", explode=False)
    assert coerce_parameter(ids, ["1,2"], document) == [1, 2]


def test_coerced_values_validate_like_the_raw_request_meant() -> None:
    spec = load_spec(PETSTORE)
    validator = SchemaValidator(spec.document)
    limit = next(p for p in spec.operation("listPets").parameters if p.name == "limit")
    assert validator.errors(limit.schema, coerce_parameter(limit, ["20"], spec.document)) == []
    assert validator.errors(limit.schema, coerce_parameter(limit, ["abc"], spec.document)) == [
        "$: 'abc' is not of type 'integer'"
    ]
    assert validator.errors(limit.schema, coerce_parameter(limit, ["500"], spec.document)) == [
        "$: 500 is greater than the maximum of 100"
    ]


def test_split_cookie_header() -> None:
    assert split_cookie_header('session=abc; theme="dark"; session=later; flag; =x; a=b=c') == {
        "session": "abc",
        "theme": "dark",
        "a": "b=c",
    }
    assert split_cookie_header("") == {}
