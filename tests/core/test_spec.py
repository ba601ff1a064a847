"""The spec engine: every version, many files, bad input, and the real-world descriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockloop.errors import SpecError
from mockloop.spec import load_spec
from mockloop.spec.params import coerce_parameter
from mockloop.spec.validation import SchemaValidator
from tests.conftest import FIXTURES, PETSTORE, REAL_WORLD

SPECS = FIXTURES / "specs"
BROKEN = SPECS / "broken"


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref":
                    found.add(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _schema_at(spec, operation_id: str, status: str = "200"):
    return spec.operation(operation_id).responses[status].content["application/json"].schema


def test_petstore_model() -> None:
    spec = load_spec(str(PETSTORE))
    assert spec.title == "MockLoop Pet Store"
    assert spec.source_version == "3.0.3"
    assert spec.base_path == "/v1"
    assert [op.operation_id for op in spec.operations][:3] == ["listPets", "createPet", "getPet"]
    get_pet = spec.operation("getPet")
    assert [p.name for p in get_pet.parameters] == ["petId"]  # path-level parameter merged
    assert get_pet.parameters[0].required
    assert [e.name for e in get_pet.responses["200"].content["application/json"].examples] == [
        "fluffy",
        "rex",
    ]
    assert spec.operation("getStatus").security == []
    assert spec.operation("listPets").security == [{"bearerAuth": []}, {"apiKey": []}]
    assert spec.security_schemes["apiKey"].location == "header"
    assert spec.security_schemes["apiKey"].param_name == "X-API-Key"
    assert "X-Rate-Limit-Remaining" in spec.operation("listPets").responses["200"].headers


def test_versions_normalise_to_equivalent_models() -> None:
    v2 = load_spec(SPECS / "swagger2.yaml")
    v30 = load_spec(SPECS / "openapi30.yaml")
    v31 = load_spec(SPECS / "openapi31.yaml")
    for spec in (v2, v30, v31):
        assert {"listPets", "getPet"} <= {op.operation_id for op in spec.operations}
        validator = SchemaValidator(spec.document)
        schema = _schema_at(spec, "getPet")
        assert validator.errors(schema, {"id": 3, "name": "Rex", "kind": None}) == []
        assert validator.errors(schema, {"id": 0, "name": "Rex"}) != []
        assert validator.errors(schema, {"id": 3, "name": "Rex", "weight": 0}) != []
        assert validator.errors(schema, {"id": 3, "name": "Rex", "kind": "cow"}) != []
    assert v2.servers == ["https://api.example.com/v2"] and v2.base_path == "/v2"
    assert v31.servers == ["https://pets.example.com/v3"] and v31.base_path == "/v3"
    assert v30.base_path == "/v2"


def test_swagger2_conversion_details() -> None:
    spec = load_spec(SPECS / "swagger2.yaml")
    add = spec.operation("addPet")
    assert add.request_body is not None and add.request_body.required
    assert list(add.request_body.content) == ["application/json"]
    upload = spec.operation("uploadPhoto")
    form = upload.request_body.content["multipart/form-data"].schema
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert form["required"] == ["file"]
    listing = spec.operation("listPets")
    tags = next(p for p in listing.parameters if p.name == "tags")
    assert (tags.style, tags.explode) == ("form", False)
    limit = next(p for p in listing.parameters if p.name == "limit")
    assert limit.examples[0].value == 10
    assert (
        listing.responses["200"].content["application/json"].examples[0].value[0]["name"] == "Rex"
    )
    assert listing.responses["200"].headers["X-Total"].schema == {"type": "integer"}
    assert spec.operation("getPet").security == [{"basic": []}]
    assert spec.security_schemes["basic"].type == "http"
    assert spec.security_schemes["basic"].scheme == "basic"
    assert spec.security_schemes["key"].location == "query"
    assert "404" in spec.operation("getPet").responses
    assert all(ref.startswith("#/components/schemas/") for ref in _refs(spec.document))


def test_nullable_and_3_0_ref_siblings() -> None:
    spec = load_spec(SPECS / "openapi30.yaml")
    pet = spec.document["components"]["schemas"]["Pet"]
    assert pet["properties"]["kind"] == {"type": ["string", "null"], "enum": ["dog", "cat", None]}
    assert pet["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}
    owner = pet["properties"]["owner"]
    assert owner["anyOf"][1] == {"type": "null"}
    assert _schema_at(spec, "getPet") == {"$ref": "#/components/schemas/Pet"}
    v31 = load_spec(SPECS / "openapi31.yaml")
    assert _schema_at(v31, "getPet")["description"] == "sibling kept in 3.1"
    assert "2XX" in v31.operation("getPet").responses


def test_multi_file_bundles_to_local_refs_and_recursion_stays_finite() -> None:
    spec = load_spec(SPECS / "multi" / "api.yaml")
    refs = _refs(spec.document)
    assert refs and all(ref.startswith("#/components/schemas/") for ref in refs)
    schemas = spec.document["components"]["schemas"]
    assert {"Order", "Line", "category", "Error", "Count"} <= set(schemas)
    assert schemas["Line"]["properties"]["order"] == {"$ref": "#/components/schemas/Order"}
    assert schemas["category"]["properties"]["children"]["items"] == {
        "$ref": "#/components/schemas/category"
    }
    json.dumps(spec.document)  # finite: no cycles in the object graph
    limit = spec.operation("listOrders").parameters[0]
    assert limit.name == "limit"
    assert limit.schema == {"$ref": "#/components/schemas/Count"}
    assert "default" in spec.operation("listOrders").responses
    validator = SchemaValidator(spec.document)
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    assert validator.errors(_schema_at(spec, "listCategories"), tree) == []
    assert validator.errors(_schema_at(spec, "listCategories"), {"children": []}) != []


def test_dict_and_text_sources() -> None:
    text = (PETSTORE).read_text()
    from_text = load_spec(text)
    assert from_text.source == "<string>"
    document = yaml.safe_load(text)
    snapshot = json.dumps(document, sort_keys=True, default=str)
    from_dict = load_spec(document)
    assert json.dumps(document, sort_keys=True, default=str) == snapshot  # not mutated
    assert [o.operation_id for o in from_dict.operations] == [
        o.operation_id for o in from_text.operations
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "missing_ref.yaml",
            r"missing_ref\.yaml#/paths/~1a/get/responses/200/content/"
            r"application~1json/schema/\$ref: \$ref '#/components/schemas/Nope' points to nothing",
        ),
        (
            "missing_file.yaml",
            r"missing_file\.yaml#/paths/.*/schema/\$ref: file not found: .*"
            r"nowhere\.yaml",
        ),
        ("malformed.yaml", r"malformed\.yaml: malformed YAML at line \d+, column \d+"),
        ("malformed.json", r"malformed\.json: malformed JSON at line 2, column \d+"),
        ("future.yaml", r"future\.yaml#/openapi: unsupported version openapi: '4\.0\.0'"),
        ("no_paths.yaml", r"no_paths\.yaml#/paths: describes no operations"),
        ("not_a_spec.yaml", r"not_a_spec\.yaml: not an OpenAPI description: no 'openapi'"),
        ("image.png", r"image\.png: binary content: not an OpenAPI description"),
        ("empty.yaml", r"empty\.yaml: the document is empty"),
    ],
)
def test_bad_descriptions_name_file_pointer_and_problem(name: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected) as caught:
        load_spec(BROKEN / name)
    assert caught.value.source.endswith(name) or name in str(caught.value)


def test_missing_file_and_unreachable_url() -> None:
    with pytest.raises(SpecError, match=r"file not found: nowhere/at/all\.yaml"):
        load_spec("nowhere/at/all.yaml")
    with pytest.raises(SpecError, match=r"cannot fetch http://127\.0\.0\.1:9/spec\.yaml"):
        load_spec("http://127.0.0.1:9/spec.yaml", timeout=2)
    with pytest.raises(SpecError, match="not a mapping"):
        load_spec("[1, 2]\n")


def test_url_source_with_relative_refs(tmp_path: Path) -> None:
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = partial(SimpleHTTPRequestHandler, directory=str(SPECS / "multi"))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api.yaml"
        spec = load_spec(url)
        assert spec.source == url
        assert "Order" in spec.document["components"]["schemas"]
        with pytest.raises(SpecError, match="HTTP 404"):
            load_spec(url.replace("api.yaml", "missing.yaml"))
    finally:
        server.shutdown()


def test_derived_and_duplicate_operation_ids() -> None:
    spec = load_spec(
        {
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/a/{id}": {"get": {"responses": {"200": {"description": "ok"}}}},
                "/b": {
                    "get": {"operationId": "same", "responses": {"200": {"description": "ok"}}},
                    "post": {"operationId": "same", "responses": {"200": {"description": "ok"}}},
                },
            },
        }
    )
    assert [op.operation_id for op in spec.operations] == ["get_a_id", "same", "same_2"]
    assert any("duplicate 'same'" in w for w in spec.warnings)


def test_coerce_parameter_styles() -> None:
    spec = load_spec(SPECS / "swagger2.yaml")
    tags = next(p for p in spec.operation("listPets").parameters if p.name == "tags")
    limit = next(p for p in spec.operation("listPets").parameters if p.name == "limit")
    assert coerce_parameter(tags, ["a,b"]) == ["a", "b"]
    assert coerce_parameter(limit, ["7"]) == 7
    assert coerce_parameter(limit, ["seven"]) == "seven"
    pet_id = spec.operation("getPet").parameters[0]
    assert coerce_parameter(pet_id, ["12"]) == 12


def test_request_and_response_direction() -> None:
    spec = load_spec(str(PETSTORE))
    validator = SchemaValidator(spec.document)
    pet = {"$ref": "#/components/schemas/Pet"}
    assert validator.errors(pet, {"name": "x"}, direction="request") == []
    assert validator.errors(pet, {"name": "x"}) != []


REAL = sorted(REAL_WORLD.glob("*.json")) if REAL_WORLD.is_dir() else []


@pytest.mark.skipif(not REAL, reason="../shared/specs/real-world is not beside the project")
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_world_descriptions_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.operations
    assert all(ref.startswith("#/components/schemas/") for ref in _refs(spec.document))
    validator = SchemaValidator(spec.document)
    for op in spec.operations:
        for response in op.responses.values():
            for media in response.content.values():
                if media.schema is not None:
                    validator.errors(media.schema, {})
    assert validator.broken == {}
