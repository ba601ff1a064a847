"""Body conditions (`when.body`, `when.body_partial`) checked against the request body schema:
unknown fields, closed objects, types, `$ref`, `allOf`/`oneOf`, arrays, operations with no JSON
body, and the location a problem is reported at."""

from __future__ import annotations

from typing import Any

import pytest

from mockloop import MockLoopClient
from mockloop.mock.scenarios.matching import When, when_problems
from mockloop.spec import ApiSpec, load_spec

ORDER = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "currency": {"type": "string", "enum": ["EUR", "USD", "XXX"]},
        "total": {"type": "number"},
        "customer": {"$ref": "#/components/schemas/Customer"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        "tags": {"type": "object", "additionalProperties": {"type": "integer"}},
        "note": {"type": "string"},
    },
}
DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Shop", "version": "1"},
    "paths": {
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Order"}}
                    }
                },
                "responses": {"201": {"description": "created"}},
            },
            "get": {"operationId": "listOrders", "responses": {"200": {"description": "ok"}}},
        },
        "/payments": {
            "post": {
                "operationId": "pay",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Payment"}}
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/uploads": {
            "post": {
                "operationId": "upload",
                "requestBody": {
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Order": ORDER,
            "Customer": {
                "allOf": [
                    {"type": "object", "properties": {"id": {"type": "integer"}}},
                    {"properties": {"email": {"type": "string"}}},
                ],
                "unevaluatedProperties": False,
            },
            "Item": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"sku": {"type": "string"}, "price": {"type": "number"}},
            },
            "Payment": {
                "oneOf": [
                    {"type": "object", "properties": {"card": {"type": "string"}}},
                    {"type": "object", "properties": {"iban": {"type": "string"}}},
                ]
            },
        }
    },
}


@pytest.fixture(scope="module")
def spec() -> ApiSpec:
    return load_spec(DESCRIPTION)


def _problems(
    spec: ApiSpec, operation_ids: list[str], when: dict[str, Any], *, document: bool = True
) -> dict[str, tuple[str, str]]:
    operations = [op for op in spec.operations if op.operation_id in operation_ids]
    found = when_problems(
        When.model_validate(when), operations, spec.document if document else None
    )
    return {location: (message, severity) for location, message, severity in found}


def test_declared_fields_through_refs_allof_and_arrays_pass(spec: ApiSpec) -> None:
    when = {
        "body": {
            "$.currency": "XXX",
            "$.total": {"min": 10},
            "$.customer.id": 7,  # $ref, then allOf's first part
            "$.customer.email": {"regex": "@example"},  # allOf's second part
            "$.items[0].price": {"max": 99.5},
            "$.items[*].sku": "a-1",
            "$['note']": {"present": True},
            "$.pair[1]": "x",
            "$.tags.anything": 3,  # additionalProperties gives the type
        },
        "body_partial": {"currency": "EUR", "items": [{"sku": "a"}], "customer": {"id": 1}},
    }
    assert _problems(spec, ["createOrder"], when) == {}


def test_a_field_a_closed_object_does_not_declare_is_an_error(spec: ApiSpec) -> None:
    found = _problems(spec, ["createOrder"], {"body": {"$.curency": "XXX"}})
    message, severity = found["body.$.curency"]
    assert severity == "error"
    assert "createOrder declares no body field 'curency'" in message
    assert "(declared: currency, customer, items, note, pair, tags, total)" in message
    assert "additionalProperties or unevaluatedProperties is false" in message
    # Nested, through a $ref and an allOf closed by unevaluatedProperties.
    nested = _problems(spec, ["createOrder"], {"body": {"$.customer.name": "x"}})
    assert nested["body.$.customer.name"][1] == "error"
    assert "'name' in $.customer (declared: email, id)" in nested["body.$.customer.name"][0]
    items = _problems(spec, ["createOrder"], {"body": {"$.items[*].qty": 1}})
    assert "'qty' in $.items[*] (declared: price, sku)" in items["body.$.items[*].qty"][0]
    # `present: false` on a forbidden field always holds: a warning, not a refusal.
    absent = _problems(spec, ["createOrder"], {"body": {"$.curency": {"present": False}}})
    assert absent["body.$.curency"] == (absent["body.$.curency"][0], "warning")
    assert "`present: false` always holds" in absent["body.$.curency"][0]


def test_a_field_an_open_object_does_not_declare_is_a_warning(spec: ApiSpec) -> None:
    # oneOf: a name is known when any branch declares it; no branch is closed.
    assert _problems(spec, ["pay"], {"body": {"$.iban": {"regex": "^DE"}}}) == {}
    assert _problems(spec, ["pay"], {"body": {"$.card": "4242"}}) == {}
    found = _problems(spec, ["pay"], {"body": {"$.bic": "X"}})
    message, severity = found["body.$.bic"]
    assert severity == "warning"
    assert "pay declares no body field 'bic' (declared: card, iban)" in message
    assert "a request may still carry it" in message


def test_a_test_the_field_type_cannot_pass_is_an_error(spec: ApiSpec) -> None:
    found = _problems(
        spec,
        ["createOrder"],
        {
            "body": {
                "$.total": "cheap",
                "$.currency": "GBP",
                "$.items[0].price": {"one_of": ["a", "b"]},
                "$.pair[0]": 1.5,
                "$.customer.id": True,
                "$.note": {"min": 1},  # text may spell a number: fine
            }
        },
    )
    assert found["body.$.total"] == (
        "body field $.total is of type number: 'cheap' is not a number",
        "error",
    )
    assert "one of ['EUR', 'USD', 'XXX']: 'GBP' never is" in found["body.$.currency"][0]
    assert "is of type number: 'a' is not a number" in found["body.$.items[0].price"][0]
    assert "of type integer: 1.5 is not an integer" in found["body.$.pair[0]"][0]
    assert "body field $.customer.id is of type integer" in found["body.$.customer.id"][0]
    assert "body.$.note" not in found
    # Indexing what is not an array, or a field of what is not an object.
    shapes = _problems(spec, ["createOrder"], {"body": {"$.note[0]": "a", "$.total.cents": 1}})
    assert "of type string, not an array" in shapes["body.$.note[0]"][0]
    assert "of type number, not an object: it has no fields" in shapes["body.$.total.cents"][0]
    assert {severity for _, severity in shapes.values()} == {"error"}


def test_body_partial_is_walked_key_by_key_and_element_by_element(spec: ApiSpec) -> None:
    found = _problems(
        spec,
        ["createOrder"],
        {
            "body_partial": {
                "currency": "GBP",
                "total": "10",
                "items": [{"sku": "a"}, {"sku": 5, "qty": 2}],
                "customer": {"id": 1, "name": "x"},
                "note": {"text": "a"},
                "tags": {"a": 1},
            }
        },
    )
    assert found["body_partial.currency"][1] == "error"
    assert "never is" in found["body_partial.currency"][0]
    assert "'10' is a JSON string, so it never equals one" in found["body_partial.total"][0]
    assert "of type string: 5 is a JSON integer" in found["body_partial.items[1].sku"][0]
    assert found["body_partial.items[1].qty"][1] == "error"
    assert "'name' in $.customer" in found["body_partial.customer.name"][0]
    assert "of type string, not an object" in found["body_partial.note"][0]
    assert "body_partial.tags.a" not in found and "body_partial.items[0].sku" not in found
    assert len(found) == 6
    open_ = _problems(spec, ["pay"], {"body_partial": {"card": "1", "bic": "x"}})
    assert list(open_) == ["body_partial.bic"] and open_["body_partial.bic"][1] == "warning"


def test_operations_without_a_json_body_and_paths_not_walked(spec: ApiSpec) -> None:
    none = _problems(spec, ["listOrders"], {"body": {"$.currency": "XXX"}})
    assert none == {
        "body": (
            "listOrders documents no JSON request body: the body tests hold only when a "
            "request carries one anyway; select an operation that takes a JSON body or test "
            "path, query or headers instead",
            "warning",
        )
    }
    form = _problems(spec, ["upload"], {"body_partial": {"a": 1}})
    assert list(form) == ["body_partial"] and "upload documents no JSON" in form["body_partial"][0]
    # A rule over both operations of /orders: warned for the one, checked against the other.
    both = _problems(spec, ["createOrder", "listOrders"], {"body": {"$.curency": "XXX"}})
    assert both["body"][1] == "warning" and "listOrders documents" in both["body"][0]
    assert both["body.$.curency"][1] == "error"
    assert both["body.$.curency"][0].startswith("createOrder declares no body field")
    # A JSON body without a documented schema may hold anything: nothing is claimed.
    bare = load_spec(
        {
            "openapi": "3.1.0",
            "info": {"title": "Bare", "version": "1"},
            "paths": {
                "/x": {
                    "post": {
                        "operationId": "postX",
                        "requestBody": {"content": {"application/json": {}}},
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }
    )
    assert _problems(bare, ["postX"], {"body": {"$.a.b": 1}, "body_partial": {"c": [1]}}) == {}
    # Filters and recursive descent may reach anything: not walked.
    assert _problems(spec, ["createOrder"], {"body": {"$.items[?@.price > 10].qty": 1}}) == {}
    assert _problems(spec, ["createOrder"], {"body": {"$..qty": 1}}) == {}
    # Without the document a $ref is any value: nothing is claimed about it.
    assert _problems(spec, ["createOrder"], {"body": {"$.curency": 1}}, document=False) == {}


def test_validate_scenario_config_reports_body_problems_at_their_location() -> None:
    inline = {
        **DESCRIPTION,
        "paths": {
            "/orders": {
                "post": {
                    "operationId": "createOrder",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    **ORDER,
                                    "properties": {
                                        "currency": {"type": "string"},
                                        "total": {"type": "number"},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {"201": {"description": "created"}},
                }
            }
        },
        "components": {},
    }
    scenario = {
        "name": "orders",
        "rules": [
            {"operation": "createOrder", "when": {"body": {"$.curency": "XXX"}}, "status": 422},
            {"operation": "createOrder", "when": {"body": {"$.total": "x"}}, "status": 400},
        ],
    }
    with MockLoopClient(timeout=10) as client:
        result = client.validate_scenario_config(scenario, api_spec=inline)
    assert not result.valid
    problems = {p.location: p.message for p in result.problems}
    assert (
        "createOrder declares no body field 'curency'" in problems["rules[0].when.body.$.curency"]
    )
    assert "'x' is not a number" in problems["rules[1].when.body.$.total"]


def test_a_body_schema_behind_a_ref_is_checked_everywhere_a_scenario_is_taken(
    tmp_path: Any,
) -> None:
    """petstore's createPet body is `$ref: NewPet`: the check reads it through the document in
    validate_scenario_config and refuses a scenario the mock could never match on save."""
    from mockloop.errors import ScenarioError
    from mockloop.mock import MockConfig
    from mockloop.mock.runtime import MockRuntime
    from tests.conftest import PETSTORE

    scenario = {
        "name": "cheap-dogs",
        "rules": [
            {"operation": "createPet", "when": {"body": {"$.tag": "horse"}}, "status": 422},
        ],
    }
    result = MockLoopClient().validate_scenario_config(scenario, api_spec=str(PETSTORE))
    located = {problem.location for problem in result.problems}
    assert "rules[0].when.body.$.tag" in located, result.problems

    runtime = MockRuntime(MockConfig(spec=str(PETSTORE), data_dir=tmp_path))
    runtime.start()
    try:
        with pytest.raises(ScenarioError, match=r"rules\[0\]\.when\.body\.\$\.tag.*horse"):
            runtime.save_scenario(scenario)
        scenario["rules"][0]["when"] = {"body": {"$.tag": "dog"}}
        assert runtime.save_scenario(scenario)["name"] == "cheap-dogs"
    finally:
        runtime.stop()


def _one_body(content: dict[str, Any], components: dict[str, Any] | None = None) -> ApiSpec:
    """A description with one operation, `px`, taking `content` as its request body."""
    return load_spec(
        {
            "openapi": "3.1.0",
            "info": {"title": "One", "version": "1"},
            "paths": {
                "/x": {
                    "post": {
                        "operationId": "px",
                        "requestBody": {"content": content},
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
            "components": {"schemas": components or {}},
        }
    )


def _json(schema: dict[str, Any], components: dict[str, Any] | None = None) -> ApiSpec:
    return _one_body({"application/json": {"schema": schema}}, components)


def test_a_wildcard_reaches_an_objects_member_values_too() -> None:
    spec = _json(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "prices": {"type": "object", "additionalProperties": {"type": "number"}},
                "empty": {"type": "object", "additionalProperties": False},
                "note": {"type": "string"},
            },
        }
    )
    # RFC 9535: `$.prices.*` on {"prices": {"a": 150}} is [150]; `$.*` is every member value.
    assert _problems(spec, ["px"], {"body": {"$.prices.*": {"min": 100}}}) == {}
    assert _problems(spec, ["px"], {"body": {"$.prices[*]": {"min": 100}}}) == {}
    assert _problems(spec, ["px"], {"body": {"$.*": {"regex": "DROP"}}}) == {}
    # The members' schema still types them; a closed object with no members has no values.
    found = _problems(
        spec,
        ["px"],
        {
            "body": {
                "$.prices.*": "cheap",
                "$.empty.*": 1,
                "$.note.*": "a",
            }
        },
    )
    assert found["body.$.prices.*"] == (
        "body field $.prices[*] is of type number: 'cheap' is not a number",
        "error",
    )
    assert found["body.$.empty.*"] == (
        "body field $.empty is an object that allows no members (additionalProperties or "
        "unevaluatedProperties is false): '*' reaches nothing; the rule could never answer",
        "error",
    )
    assert found["body.$.note.*"] == (
        "body field $.note is of type string, not an object or an array; the rule could never "
        "answer",
        "error",
    )
    absent = _problems(spec, ["px"], {"body": {"$.empty.*": {"present": False}}})
    assert absent["body.$.empty.*"][1] == "warning"


def test_fields_declared_through_conditionals_count_under_unevaluated_properties() -> None:
    spec = _json(
        {
            "type": "object",
            "properties": {"kind": {"enum": ["card", "bank"]}, "a": {"type": "string"}},
            "if": {"properties": {"kind": {"const": "card"}}},
            "then": {"properties": {"cardNumber": {"type": "string"}}},
            "else": {"properties": {"iban": {"type": "string"}}},
            "dependentSchemas": {"a": {"properties": {"b": {"type": "integer"}}}},
            "unevaluatedProperties": False,
        }
    )
    when = {"body": {"$.cardNumber": {"regex": "^4"}, "$.iban": "DE1", "$.b": 2}}
    assert _problems(spec, ["px"], when) == {}
    found = _problems(spec, ["px"], {"body": {"$.b": "x", "$.other": 1}})
    assert "of type integer: 'x' is not a number" in found["body.$.b"][0]
    assert found["body.$.other"][1] == "error"
    assert "(declared: a, b, cardNumber, iban, kind)" in found["body.$.other"][0]
    # A `$dynamicRef` may bring any field: nothing is claimed about undeclared ones.
    dynamic = _json(
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "$dynamicRef": "#node",
            "unevaluatedProperties": False,
        }
    )
    assert _problems(dynamic, ["px"], {"body": {"$.other": 1}}) == {}


def test_a_field_any_json_media_type_declares_is_known() -> None:
    closed = {"type": "object", "additionalProperties": False}
    spec = _one_body(
        {
            "application/json": {"schema": {**closed, "properties": {"a": {"type": "string"}}}},
            "application/merge-patch+json": {
                "schema": {**closed, "properties": {"b": {"type": "integer"}}}
            },
        }
    )
    assert _problems(spec, ["px"], {"body": {"$.a": "x", "$.b": 1}}) == {}
    found = _problems(spec, ["px"], {"body": {"$.b": "x", "$.c": 1}})
    assert "of type integer: 'x' is not a number" in found["body.$.b"][0]
    assert found["body.$.c"][1] == "error"
    assert "px declares no body field 'c' (declared: a, b)" in found["body.$.c"][0]


def test_hostile_schemas_are_expanded_within_a_bound() -> None:
    """Products of branches, `$ref` cycles and deep ladders of `allOf`s finish: the expansion
    is capped at 64 alternatives (the last standing for the rest), memoised and budgeted, and
    what it cut off never becomes an error."""
    from mockloop.mock.scenarios.body_conditions import _MAX_WORK, BodyCheck
    from mockloop.mock.scenarios.matching import _type_problem

    def ref(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    branches = [
        {"type": "object", "additionalProperties": False, "properties": {f"p{i}": {}}}
        for i in range(64)
    ]
    ladder = {f"L{k}": {"allOf": [ref(f"L{k + 1}")] * 3, "anyOf": branches[:4]} for k in range(40)}
    components = {
        "X": {"anyOf": branches},
        "Product": {"allOf": [ref("X")] * 4},  # 64^4 alternatives unbounded
        "Self": {"type": "object", "properties": {"a": {}}, "allOf": [ref("Self")] * 3},
        **ladder,
        "L40": {"type": "object"},
    }
    for root in ("Product", "Self", "L0"):
        spec = _json(ref(root), components)
        check = BodyCheck(spec.operations, spec.document, _type_problem)
        roots = check.roots()
        assert 1 <= len(roots) <= 64
        assert check.work <= _MAX_WORK + 64 * 64 * len(components)
        check.path("$.zzz", "x", False)
        check.path("$.a", "x", False)
        assert [f for f in check.found if f[2] == "error"] == [], (root, check.found)
    # The product is cut at 64: the last alternative stands for the ones cut off.
    spec = _json(ref("Product"), components)
    check = BodyCheck(spec.operations, spec.document, _type_problem)
    assert len(check.roots()) == 64
    assert check.roots() is check.roots()  # computed once per check
