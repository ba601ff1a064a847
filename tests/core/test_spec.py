"""The spec engine: every version, many files, bad input, and the real-world descriptions."""

from __future__ import annotations

import datetime
import importlib.util
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockloop.errors import SpecError
from mockloop.spec import ApiSpec, Operation, load_spec
from mockloop.spec.validation import SchemaValidator
from tests.conftest import FIXTURES, PETSTORE, REAL_WORLD, ROOT, needs_real_world

SPECS = FIXTURES / "specs"
BROKEN = SPECS / "broken"
MULTI = SPECS / "multi"


def _refs(node: Any) -> list[str]:
    """Every `$ref` value in a document, walking it without recursion."""
    found: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str):
                    found.append(value)
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _assert_bundled(spec: ApiSpec) -> None:
    """Only local refs, each naming a schema that exists, and a finite (serialisable) tree."""
    schemas = spec.document["components"]["schemas"]
    for ref in _refs(spec.document):
        assert ref.startswith("#/components/schemas/"), ref
        name = ref.removeprefix("#/components/schemas/")
        name = name.replace("%20", " ").replace("~1", "/").replace("~0", "~")
        assert name in schemas, ref
    json.dumps(spec.document)  # raises on a cycle in the object graph


def _json_schema(op: Operation, status: str = "200") -> Any:
    return op.responses[status].content["application/json"].schema


def _plain(schema: Any) -> Any:
    """A schema without its top-level description (3.1 keeps `$ref` siblings, 3.0 drops them)."""
    if isinstance(schema, dict):
        return {k: v for k, v in schema.items() if k != "description"}
    return schema


def _signature(op: Operation) -> tuple[Any, ...]:
    """What a mock serves for an operation, independent of the source's dialect."""
    body = op.request_body
    return (
        op.method,
        op.path,
        [(p.name, p.location, p.required, p.schema, p.style, p.explode) for p in op.parameters],
        [(p.name, [e.value for e in p.examples]) for p in op.parameters],
        (body.required, {m: t.schema for m, t in body.content.items()}) if body else None,
        {
            status: (
                {
                    m: (_plain(t.schema), [e.value for e in t.examples])
                    for m, t in r.content.items()
                },
                {n: h.schema for n, h in r.headers.items()},
            )
            for status, r in op.responses.items()
        },
        op.security,
    )


# -- the example every user copies --------------------------------------------------------------


def test_petstore_example_loads_into_the_model() -> None:
    spec = load_spec(str(PETSTORE))
    assert (spec.title, spec.source_version) == ("MockLoop Pet Store", "3.0.3")
    assert spec.servers == ["http://localhost:8000/v1"] and spec.base_path == "/v1"
    assert [op.operation_id for op in spec.operations] == [
        "listPets",
        "createPet",
        "getPet",
        "updatePet",
        "deletePet",
        "listOwners",
        "getOwner",
        "getStatus",
    ]
    list_pets = spec.operation("listPets")
    limit = next(p for p in list_pets.parameters if p.name == "limit")
    assert limit.schema["minimum"] == 1 and limit.schema["maximum"] == 100
    assert list_pets.responses["200"].headers["X-Rate-Limit-Remaining"].schema["type"] == "integer"
    assert list_pets.security == [{"bearerAuth": []}, {"apiKey": []}]
    create = spec.operation("createPet")
    assert create.request_body is not None and create.request_body.required
    assert {"201", "400", "422"} <= set(create.responses)
    assert "application/problem+json" in create.responses["422"].content
    get_pet = spec.operation("getPet")
    assert [(p.name, p.location, p.required) for p in get_pet.parameters] == [
        ("petId", "path", True)
    ]
    examples = get_pet.responses["200"].content["application/json"].examples
    assert [e.name for e in examples] == ["fluffy", "rex"]
    assert spec.operation("deletePet").responses["204"].content == {}
    assert spec.operation("getStatus").security == []
    assert spec.security_schemes["bearerAuth"].scheme == "bearer"
    assert spec.security_schemes["apiKey"].location == "header"
    assert spec.security_schemes["apiKey"].param_name == "X-API-Key"
    _assert_bundled(spec)
    validator = SchemaValidator(spec.document)
    pet = _json_schema(get_pet)
    for example in examples:
        assert validator.errors(pet, example.value) == []
    assert validator.errors(pet, {**examples[0].value, "status": "lost"}) != []
    assert validator.errors(pet, {**examples[0].value, "owner_email": "nobody"}) != []


# -- three dialects, one model -------------------------------------------------------------------


def test_swagger2_openapi30_and_31_normalise_to_equivalent_operations() -> None:
    specs = [
        load_spec(SPECS / name) for name in ("swagger2.yaml", "openapi30.yaml", "openapi31.yaml")
    ]
    shared = ["listPets", "addPet", "getPet", "uploadPhoto"]
    signatures = [[_signature(spec.operation(op_id)) for op_id in shared] for spec in specs]
    assert signatures[0] == signatures[1] == signatures[2]
    pets = [spec.document["components"]["schemas"]["Pet"] for spec in specs]
    assert pets[0] == pets[1] == pets[2]
    assert pets[0]["properties"]["kind"] == {
        "type": ["string", "null"],
        "enum": ["dog", "cat", None],
    }
    assert pets[0]["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}
    for spec in specs:
        _assert_bundled(spec)
        validator = SchemaValidator(spec.document)
        schema = _json_schema(spec.operation("getPet"))
        assert validator.errors(schema, {"id": 3, "name": "Rex", "kind": None}) == []
        assert validator.errors(schema, {"id": 0, "name": "Rex"}) != []
        assert validator.errors(schema, {"id": 3, "name": "Rex", "weight": 0}) != []
        assert validator.errors(schema, {"id": 3, "name": "Rex", "kind": "cow"}) != []
    assert specs[0].servers == ["https://api.example.com/v2", "http://api.example.com/v2"]
    assert specs[1].base_path == "/v2"
    assert specs[2].servers == ["https://pets.example.com/v3"] and specs[2].base_path == "/v3"
    assert [s.source_version for s in specs] == ["2.0", "3.0.3", "3.1.0"]


def test_swagger2_conversion_details() -> None:
    spec = load_spec(SPECS / "swagger2.yaml")
    add = spec.operation("addPet")
    assert add.request_body is not None and add.request_body.required
    assert list(add.request_body.content) == ["application/json"]
    upload = spec.operation("uploadPhoto")
    assert upload.request_body is not None
    form = upload.request_body.content["multipart/form-data"].schema
    assert form is not None
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert form["required"] == ["file"]
    listing = spec.operation("listPets")
    tags = next(p for p in listing.parameters if p.name == "tags")
    assert (tags.style, tags.explode) == ("form", False)
    limit = next(p for p in listing.parameters if p.name == "limit")
    assert [e.value for e in limit.examples] == [10]
    assert listing.responses["200"].content["application/json"].examples[0].value[0]["name"] == (
        "Rex"
    )
    assert listing.responses["200"].headers["X-Total"].schema == {"type": "integer"}
    assert spec.operation("getPet").security == [{"basic": []}]
    assert listing.security == [{"key": []}]
    assert spec.security_schemes["basic"].type == "http"
    assert spec.security_schemes["basic"].scheme == "basic"
    assert spec.security_schemes["key"].location == "query"
    assert spec.operation("getPet").responses["404"].content["application/json"].schema == {
        "$ref": "#/components/schemas/Error"
    }
    assert "x-generator" not in {op.path for op in spec.operations}


def test_swagger2_form_fields_without_files_are_urlencoded_and_oauth2_flows_convert() -> None:
    spec = load_spec(
        {
            "swagger": "2.0",
            "info": {"title": "t", "version": "1"},
            "securityDefinitions": {
                "oauth": {
                    "type": "oauth2",
                    "flow": "accessCode",
                    "authorizationUrl": "https://auth.example.com/a",
                    "tokenUrl": "https://auth.example.com/t",
                    "scopes": {"read": "read things"},
                }
            },
            "paths": {
                "/login": {
                    "post": {
                        "security": [{"oauth": ["read"]}],
                        "parameters": [
                            {"name": "user", "in": "formData", "type": "string", "required": True},
                            {
                                "name": "ids",
                                "in": "query",
                                "type": "array",
                                "items": {"type": "integer"},
                                "collectionFormat": "multi",
                            },
                        ],
                        "produces": ["application/xml", "application/json"],
                        "responses": {"200": {"description": "ok", "schema": {"type": "file"}}},
                    }
                }
            },
        }
    )
    login = spec.operation("post_login")
    assert login.request_body is not None
    assert list(login.request_body.content) == ["application/x-www-form-urlencoded"]
    ids = login.parameters[0]
    assert (ids.style, ids.explode, ids.schema) == (
        "form",
        True,
        {"type": "array", "items": {"type": "integer"}},
    )
    assert list(login.responses["200"].content) == ["application/xml", "application/json"]
    assert login.responses["200"].content["application/json"].schema == {
        "type": "string",
        "format": "binary",
    }
    assert login.security == [{"oauth": ["read"]}]
    assert spec.security_schemes["oauth"].type == "oauth2"
    assert spec.servers == [] and spec.base_path == ""


def test_openapi30_nullable_bounds_and_ref_siblings() -> None:
    spec = load_spec(SPECS / "openapi30.yaml")
    owner = spec.document["components"]["schemas"]["Owner"]["properties"]
    assert owner["best_pet"]["anyOf"][1] == {"type": "null"}
    assert owner["best_pet"]["readOnly"] is True  # annotations stay visible outside the wrapper
    assert owner["mood"] == {"enum": ["happy", "sad", None]}
    assert owner["level"] == {"type": "integer", "exclusiveMaximum": 10}
    assert owner["since"]["example"] == "2024-05-01T10:00:00Z"  # a string, not a datetime
    # 3.0 ignores the siblings of a $ref
    assert _json_schema(spec.operation("getPet")) == {"$ref": "#/components/schemas/Pet"}
    validator = SchemaValidator(spec.document)
    owners = _json_schema(spec.operation("listOwners"))
    assert validator.errors(owners, [{"best_pet": None, "mood": None, "level": 9}]) == []
    assert validator.errors(owners, [{"level": 10}]) == [
        "$[0].level: 10 is greater than or equal to the maximum of 10"
    ]


def test_openapi31_path_items_webhooks_siblings_and_linked_lists() -> None:
    spec = load_spec(SPECS / "openapi31.yaml")
    ids = [op.operation_id for op in spec.operations]
    assert "petAdoptedHook" not in ids  # webhooks are not served
    get_pet = spec.operation("getPet")  # from components/pathItems
    assert get_pet.path == "/pets/{petId}" and get_pet.parameters[0].name == "petId"
    assert _json_schema(get_pet) == {
        "$ref": "#/components/schemas/Pet",
        "description": "sibling kept in 3.1",
    }
    schemas = spec.document["components"]["schemas"]
    assert schemas["ListNode"]["properties"]["value"]["examples"] == [1, 2]
    validator = SchemaValidator(spec.document)
    chain = _json_schema(spec.operation("getChain"))
    assert validator.errors(chain, {"value": 1, "next": {"value": 2, "next": None}}) == []
    assert validator.errors(chain, {"value": 1, "next": {"next": None}}) == [
        "$.next: {'next': None} is not valid under any of the given schemas"
    ]
    _assert_bundled(spec)


# -- many files ---------------------------------------------------------------------------------


def test_multi_file_description_bundles_to_local_refs() -> None:
    spec = load_spec(MULTI / "api.yaml")
    _assert_bundled(spec)
    schemas = spec.document["components"]["schemas"]
    assert {"Error", "Error_2", "Count", "Order", "Line", "category", "Node", "Edge"} <= set(
        schemas
    )
    # The root's own Error keeps its name; common.yaml's Error is renamed on the clash.
    assert schemas["Error"]["required"] == ["code"]
    assert schemas["Error_2"]["required"] == ["message"]
    assert _json_schema(spec.operation("listProblems")) == {"$ref": "#/components/schemas/Error"}
    assert spec.operation("listOrders").responses["default"].content["application/json"].schema == {
        "$ref": "#/components/schemas/Error_2"
    }
    limit = spec.operation("listOrders").parameters[0]
    assert (limit.name, limit.schema) == ("limit", {"$ref": "#/components/schemas/Count"})
    # Named example by $ref into another file; externalValue is skipped.
    examples = spec.operation("listOrders").responses["200"].content["application/json"].examples
    assert [(e.name, e.summary) for e in examples] == [("one", "One order with one line")]
    # A path item in another folder, whose own refs are relative to that file.
    node = spec.operation("getNode")
    assert node.path == "/graph/{nodeId}"
    assert _json_schema(node) == {"$ref": "#/components/schemas/Node"}
    assert node.responses["404"].content["application/json"].schema == {
        "$ref": "#/components/schemas/Error_2"
    }
    assert spec.base_path == "/api/v1"  # a relative server URL counts


def test_recursive_schemas_across_files_stay_refs_and_validate() -> None:
    spec = load_spec(MULTI / "api.yaml")
    schemas = spec.document["components"]["schemas"]
    assert schemas["category"]["properties"]["children"]["items"] == {
        "$ref": "#/components/schemas/category"
    }
    assert schemas["Line"]["properties"]["order"] == {"$ref": "#/components/schemas/Order"}
    assert schemas["Node"]["properties"]["edges"]["items"] == {"$ref": "#/components/schemas/Edge"}
    assert schemas["Edge"]["properties"]["target"] == {"$ref": "#/components/schemas/Node"}
    validator = SchemaValidator(spec.document)
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    categories = _json_schema(spec.operation("listCategories"))
    assert validator.errors(categories, tree) == []
    assert validator.errors(categories, {"children": []}) == ["$: 'name' is a required property"]
    graph = {
        "id": "n1",
        "edges": [{"weight": 1, "target": {"id": "n2", "edges": [{"weight": "x"}]}}],
    }
    assert validator.errors(_json_schema(spec.operation("getNode")), graph) == [
        "$.edges[0].target.edges[0].weight: 'x' is not of type 'number'"
    ]


def test_swagger2_refs_into_other_files_resolve_against_those_files() -> None:
    spec = load_spec(MULTI / "swagger.yaml")
    _assert_bundled(spec)
    schemas = spec.document["components"]["schemas"]
    assert set(schemas) == {"Item", "Problem", "PageNumber"}  # Item is not imported twice
    assert schemas["Problem"]["properties"]["detail"] == {"type": ["string", "null"]}
    page = spec.operation("listItems").parameters[0]
    assert (page.style, page.explode) == ("pipeDelimited", False)
    assert page.schema["items"] == {"$ref": "#/components/schemas/PageNumber"}
    invalid = spec.operation("listItems").responses["400"].content["application/json"].schema
    assert invalid == {"$ref": "#/components/schemas/Problem"}
    assert spec.base_path == "/legacy"


_DEEP = "#/components/schemas/Pet%20Type/properties/size"


def test_ref_pointers_are_unescaped_and_percent_decoded() -> None:
    spec = load_spec(
        {
            "openapi": "3.0.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/a": {
                    "get": {
                        "responses": {
                            "200": {
                                "description": "ok",
                                "content": {
                                    "application/json": {
                                        "schema": {
                                            "type": "object",
                                            "properties": {
                                                "slash": {"$ref": "#/components/schemas/a~1b~0c"},
                                                "space": {
                                                    "$ref": "#/components/schemas/Pet%20Type"
                                                },
                                                "deep": {"$ref": _DEEP},
                                            },
                                        }
                                    }
                                },
                            }
                        }
                    }
                }
            },
            "components": {
                "schemas": {
                    "a/b~c": {"type": "string"},
                    "Pet Type": {"properties": {"size": {"type": "integer", "minimum": 1}}},
                }
            },
        }
    )
    _assert_bundled(spec)
    properties = _json_schema(spec.operation("get_a"))["properties"]
    assert properties["slash"] == {"$ref": "#/components/schemas/a~1b~0c"}
    assert properties["space"] == {"$ref": "#/components/schemas/Pet%20Type"}
    assert spec.document["components"]["schemas"]["size"] == {"type": "integer", "minimum": 1}
    validator = SchemaValidator(spec.document)
    schema = _json_schema(spec.operation("get_a"))
    assert validator.errors(schema, {"slash": "x", "space": {"size": 2}, "deep": 3}) == []
    assert validator.errors(schema, {"slash": 1, "space": {"size": 0}}) == [
        "$.slash: 1 is not of type 'string'",
        "$.space.size: 0 is less than the minimum of 1",
    ]


# -- sources ------------------------------------------------------------------------------------


def test_dict_and_text_sources() -> None:
    text = PETSTORE.read_text()
    from_text = load_spec(text)
    assert from_text.source == "<string>"
    document = yaml.safe_load(text)  # safe_load makes `200` an int key: the loader copes
    snapshot = repr(document)
    from_dict = load_spec(document)
    assert repr(document) == snapshot  # not mutated
    assert from_dict.source == "<dict>"
    assert [_signature(o) for o in from_dict.operations] == [
        _signature(o) for o in from_text.operations
    ]
    assert load_spec(json.dumps(document)).operation("getPet").responses["200"].description


def test_dict_values_are_copied_not_shared() -> None:
    example = {"when": datetime.date(2024, 1, 2), "tags": ["a"]}
    document = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        200: {
                            "description": "ok",
                            "content": {"application/json": {"example": example}},
                        }
                    }
                }
            }
        },
    }
    spec = load_spec(document)
    loaded = spec.operation("get_a").responses["200"].content["application/json"].examples[0]
    assert loaded.value == {"when": "2024-01-02", "tags": ["a"]}
    example["tags"].append("b")
    assert loaded.value["tags"] == ["a"]


def test_yaml_or_json_is_told_by_content_not_extension(tmp_path: Path) -> None:
    as_json = tmp_path / "spec.yaml"
    as_json.write_text(json.dumps(yaml.safe_load(PETSTORE.read_text()), default=str))
    as_yaml = tmp_path / "spec.json"
    as_yaml.write_text(PETSTORE.read_text())
    assert len(load_spec(as_json).operations) == len(load_spec(as_yaml).operations) == 8


def test_yaml_keeps_timestamps_as_strings_and_keys_as_written() -> None:
    spec = load_spec(
        "openapi: 3.0.0\n"
        "info: {title: t, version: 1.10}\n"
        "paths:\n"
        "  /a:\n"
        "    get:\n"
        "      responses:\n"
        "        200:\n"
        "          description: ok\n"
        "          content:\n"
        "            application/json:\n"
        "              schema: {type: object, properties: {on: {type: string}}}\n"
        "              example: {on: 2024-01-01T10:00:00Z, day: 2024-01-01}\n"
    )
    assert spec.version == "1.1"  # YAML read 1.10 as a float: what the author wrote is lost
    response = spec.operation("get_a").responses["200"]
    assert response.content["application/json"].schema == {
        "type": "object",
        "properties": {"on": {"type": "string"}},
    }
    assert response.content["application/json"].examples[0].value == {
        "on": "2024-01-01T10:00:00Z",
        "day": "2024-01-01",
    }


@pytest.fixture
def served_folder() -> Iterator[str]:
    """The multi-file fixture over HTTP on 127.0.0.1, with /latest.yaml redirecting to api.yaml."""

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/latest.yaml":
                self.send_response(302)
                self.send_header("Location", "/api.yaml")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(MULTI)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_follows_redirects_and_resolves_relative_refs(served_folder: str) -> None:
    spec = load_spec(f"{served_folder}/latest.yaml")
    assert spec.source == f"{served_folder}/latest.yaml"
    _assert_bundled(spec)
    assert {"Order", "Node", "Edge", "category"} <= set(spec.document["components"]["schemas"])
    with pytest.raises(
        SpecError, match=r"cannot fetch http://127\.0\.0\.1:\d+/missing\.yaml: HTTP 404"
    ):
        load_spec(f"{served_folder}/missing.yaml")


def test_missing_file_unreachable_url_and_wrong_types() -> None:
    with pytest.raises(SpecError, match=r"file not found: nowhere/at/all\.yaml"):
        load_spec("nowhere/at/all.yaml")
    with pytest.raises(SpecError, match=r"cannot fetch http://127\.0\.0\.1:9/spec\.yaml: Connect"):
        load_spec("http://127.0.0.1:9/spec.yaml", timeout=2)
    with pytest.raises(SpecError, match="not a mapping"):
        load_spec("[1, 2]\n")
    with pytest.raises(SpecError, match="is a folder"):
        load_spec(MULTI)
    with pytest.raises(SpecError, match="not int"):
        load_spec(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "missing_ref.yaml",
            r"missing_ref\.yaml#/paths/~1a/get/responses/200/content/application~1json/schema/"
            r"\$ref: \$ref '#/components/schemas/Nope' points to nothing",
        ),
        (
            "missing_file.yaml",
            r"missing_file\.yaml#/paths/~1a/get/.*/schema/\$ref: file not found: .*nowhere\.yaml",
        ),
        (
            "nested_missing.yaml",
            r"parts/part\.yaml#/Thing/properties/other/\$ref: \$ref '#/Missing' points to nothing",
        ),
        ("ref_loop.yaml", r"ref_loop\.yaml#/components/parameters/B/\$ref: .* in a loop"),
        ("malformed.yaml", r"malformed\.yaml: malformed YAML at line \d+, column \d+"),
        ("malformed.json", r"malformed\.json: malformed JSON at line 2, column \d+"),
        (
            "future.yaml",
            r"future\.yaml#/openapi: unsupported version openapi: '4\.0\.0'; MockLoop reads "
            r"Swagger 2\.0, OpenAPI 3\.0",
        ),
        ("swagger12.json", r"swagger12\.json#/swaggerVersion: unsupported version .*'1\.2'"),
        ("not_a_spec.yaml", r"not_a_spec\.yaml: not an OpenAPI description: no 'openapi'"),
        ("not_a_spec.json", r"not_a_spec\.json: not an OpenAPI description: no 'openapi'"),
        ("list_root.yaml", r"list_root\.yaml: not an OpenAPI description: .* list"),
        ("image.png", r"image\.png: binary content: not an OpenAPI description"),
        ("empty.yaml", r"empty\.yaml: the document is empty"),
    ],
)
def test_bad_descriptions_name_file_pointer_and_problem(name: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected) as caught:
        load_spec(BROKEN / name)
    assert caught.value.source.startswith(str(BROKEN))
    assert caught.value.problem in str(caught.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("no_paths.yaml", "#/paths: describes no operations (paths is empty); every request"),
        ("no_operations.yaml", "#/paths: describes no operations (no path has a GET, POST"),
    ],
)
def test_a_description_without_operations_loads_with_a_warning(name: str, expected: str) -> None:
    spec = load_spec(BROKEN / name)
    assert spec.operations == []
    assert any(expected in warning for warning in spec.warnings), spec.warnings


def test_unsupported_swagger_version_in_a_dict() -> None:
    with pytest.raises(SpecError, match=r"<dict>#/swagger: unsupported version swagger: '1\.2'"):
        load_spec({"swagger": "1.2", "paths": {}})


# -- operations ---------------------------------------------------------------------------------


def _document(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


_OK = {"responses": {"200": {"description": "ok"}}}


def test_operation_ids_are_derived_sanitised_and_unique() -> None:
    spec = load_spec(
        _document(
            {
                "/pets/{petId}": {"get": _OK},
                "/a-b/{id}.json": {"get": _OK},
                "/b": {
                    "get": {"operationId": "same", **_OK},
                    "post": {"operationId": "same", **_OK},
                    "put": {"operationId": "same", **_OK},
                },
                "/#Action=DescribeAlarms": {"post": _OK},
            }
        )
    )
    assert [op.operation_id for op in spec.operations] == [
        "get_pets_petId",
        "get_a_b_id_json",
        "same",
        "same_2",
        "same_3",
        "post_Action_DescribeAlarms",
    ]
    assert spec.operations[-1].path == "/#Action=DescribeAlarms"  # kept exactly as written
    assert sum("duplicate 'same'" in w for w in spec.warnings) == 2


def test_parameters_merge_by_name_and_location_and_security_is_effective() -> None:
    spec = load_spec(
        _document(
            {
                "/things/{id}": {
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"name": "v", "in": "query", "schema": {"type": "string"}},
                        {"name": "v", "in": "header", "schema": {"type": "string"}},
                    ],
                    "get": {
                        "parameters": [
                            {"name": "v", "in": "query", "schema": {"type": "integer"}},
                            {"name": "c", "in": "cookie", "schema": {"type": "string"}},
                        ],
                        **_OK,
                    },
                    "put": {"security": [], **_OK},
                    "post": {"security": [{}, {"key": []}], **_OK},
                }
            },
            security=[{"key": []}],
            components={
                "securitySchemes": {"key": {"type": "apiKey", "in": "cookie", "name": "k"}}
            },
        )
    )
    get = spec.operation("get_things_id")
    assert [(p.name, p.location, p.schema.get("type")) for p in get.parameters] == [
        ("id", "path", "string"),
        ("v", "query", "integer"),
        ("v", "header", "string"),
        ("c", "cookie", "string"),
    ]
    assert [(p.style, p.explode) for p in get.parameters] == [
        ("simple", False),
        ("form", True),
        ("simple", False),
        ("form", True),
    ]
    assert get.security == [{"key": []}]
    assert spec.operation("put_things_id").security == []
    assert spec.operation("post_things_id").security == [{}, {"key": []}]
    assert spec.security_schemes["key"].location == "cookie"


@pytest.mark.parametrize(
    ("servers", "urls", "base_path"),
    [
        ([{"url": "https://api.example.com/v1/"}], ["https://api.example.com/v1/"], "/v1"),
        ([{"url": "https://api.example.com"}], ["https://api.example.com"], ""),
        ([{"url": "/"}], ["/"], ""),
        ([{"url": "/api/v3"}], ["/api/v3"], "/api/v3"),
        (
            [
                {
                    "url": "https://{region}.example.com/{base}",
                    "variables": {"region": {"default": "eu"}, "base": {"default": "v2/x"}},
                },
                {"url": "http://localhost/other"},
            ],
            ["https://eu.example.com/v2/x", "http://localhost/other"],
            "/v2/x",
        ),
        ([], [], ""),
    ],
)
def test_servers_and_base_path(servers: list[Any], urls: list[str], base_path: str) -> None:
    spec = load_spec(_document({"/a": {"get": _OK}}, servers=servers))
    assert (spec.servers, spec.base_path) == (urls, base_path)


def test_messy_descriptions_load_with_warnings_naming_pointers() -> None:
    messy = _document(
        {
            "x-vendor": "an extension, not a path item",
            "/a": {
                "get": {
                    "operationId": "messy",
                    "parameters": [{"name": "q", "in": "query"}],
                    "responses": {
                        "2XX": {"description": "ok"},
                        "default": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "n": {"type": "integer", "format": "int32"},
                                            "c": {"type": "string", "format": "colour"},
                                            "a": {"$ref": "#AnAnchor"},
                                        },
                                    },
                                    "example": {"n": "not a number"},
                                }
                            }
                        },
                    },
                }
            },
            "/b": {"get": {"operationId": "messy", **_OK}},
        }
    )
    spec = load_spec(messy, check_examples=True)
    op = spec.operation("messy")
    assert set(op.responses) == {"2XX", "default"}
    assert op.parameters[0].schema == {}
    assert _json_schema(op, "default")["properties"]["a"] == {}
    assert list(spec.document["paths"]) == ["/a", "/b"]
    expected = [
        "#/paths/~1a/get/parameters/0: parameter 'q' has no schema",
        "/paths/~1a/get/responses/default/content/application~1json/schema/properties/a/$ref: "
        "$ref '#AnAnchor' names an anchor",
        "duplicate 'messy' renamed 'messy_2'",
        "properties/c/format: unknown format 'colour' is kept but not checked",
        "/examples/default: the example does not match its schema "
        "($.n: 'not a number' is not of type 'integer')",
    ]
    for fragment in expected:
        assert any(fragment in w for w in spec.warnings), (fragment, spec.warnings)
    assert not any("int32" in w or "x-vendor" in w for w in spec.warnings)
    assert not any("example" in w for w in load_spec(messy).warnings)  # off by default


def test_document_is_an_openapi_31_rendering_of_the_model() -> None:
    spec = load_spec(PETSTORE)
    document = spec.document
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == spec.title and "description" in document["info"]
    get_pet = document["paths"]["/pets/{petId}"]["get"]
    assert get_pet["operationId"] == "getPet"
    assert get_pet["parameters"][0]["in"] == "path"
    assert set(get_pet["responses"]["200"]["content"]["application/json"]["examples"]) == {
        "fluffy",
        "rex",
    }
    assert document["paths"]["/status"]["get"]["security"] == []
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKey"}
    assert json.loads(json.dumps(document)) == document


# -- the real world and the large ---------------------------------------------------------------

REAL = sorted(REAL_WORLD.glob("*.json")) if REAL_WORLD.is_dir() else []


def _operation_schemas(op: Operation) -> Iterator[Any]:
    for param in op.parameters:
        yield param.schema
    if op.request_body:
        yield from (m.schema for m in op.request_body.content.values() if m.schema is not None)
    for response in op.responses.values():
        yield from (m.schema for m in response.content.values() if m.schema is not None)
        yield from (h.schema for h in response.headers.values())


@needs_real_world
@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_world_descriptions_load(path: Path) -> None:
    spec = load_spec(path)
    assert spec.operations
    _assert_bundled(spec)
    validator = SchemaValidator(spec.document)
    for op in spec.operations:
        for schema in _operation_schemas(op):
            assert isinstance(validator.errors(schema, {}), list)
            assert isinstance(validator.errors(schema, "text"), list)
    assert validator.broken == {}


@pytest.fixture(scope="module")
def synthetic_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bench/synthetic_spec.py's ~10 MB, ~1,000-operation description (GitHub REST sized)."""
    module_spec = importlib.util.spec_from_file_location(
        "synthetic_spec", ROOT / "bench" / "synthetic_spec.py"
    )
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.write_synthetic_spec(tmp_path_factory.mktemp("synthetic"))


def test_synthetic_ten_megabyte_description_loads(synthetic_spec: Path) -> None:
    assert synthetic_spec.stat().st_size > 8_000_000
    spec = load_spec(synthetic_spec)
    assert len(spec.operations) >= 1000
    assert len({op.operation_id for op in spec.operations}) == len(spec.operations)
    _assert_bundled(spec)
    validator = SchemaValidator(spec.document)
    for op in spec.operations[::50]:
        for schema in _operation_schemas(op):
            validator.errors(schema, {})
    assert validator.broken == {}
