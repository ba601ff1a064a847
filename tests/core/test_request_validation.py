from mockloop.mock.validation import RequestValidator
from mockloop.spec import load_spec
from mockloop.spec.validation import SchemaValidator

SPEC = load_spec(
    {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/s": {
                "get": {
                    "parameters": [
                        {
                            "name": "filter",
                            "in": "query",
                            "style": "deepObject",
                            "schema": {
                                "type": "object",
                                "properties": {"age": {"type": "integer"}},
                                "additionalProperties": False,
                            },
                        },
                        {
                            "name": "ids",
                            "in": "query",
                            "explode": False,
                            "schema": {"type": "array", "items": {"type": "integer"}},
                        },
                        {
                            "name": "X-Trace",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
)
OP = SPEC.operations[0]
HEADERS = {"x-trace": "t1"}


def _check(query: str, headers: dict[str, str] = HEADERS):
    return RequestValidator(SchemaValidator(SPEC.document)).check(OP, {}, query, headers, b"")


def test_deep_object_and_delimited_arrays_are_checked() -> None:
    assert _check("filter[age]=3&ids=1,2,3") is None
    bad_age = _check("filter[age]=old")
    assert bad_age.status == 400 and b"$.age" in bad_age.body
    assert b"color" in _check("filter[color]=red").body
    assert b"ids" in _check("ids=1,x").body


def test_missing_required_header_is_named() -> None:
    refused = _check("", headers={})
    assert refused.status == 400
    assert b"header parameter 'X-Trace' is required" in refused.body


def test_warn_mode_lets_the_request_through() -> None:
    validator = RequestValidator(SchemaValidator(SPEC.document), mode="warn")
    assert validator.check(OP, {}, "filter[age]=old", {}, b"") is None


def test_query_array_of_objects_is_checked_for_presence_only() -> None:
    from mockloop.mock.validation import RequestValidator
    from mockloop.spec import load_spec
    from mockloop.spec.validation import SchemaValidator

    spec = load_spec(
        {
            "openapi": "3.0.3",
            "info": {"title": "dims", "version": "1"},
            "paths": {
                "/metrics": {
                    "get": {
                        "operationId": "getMetrics",
                        "parameters": [
                            {
                                "name": "Dimensions",
                                "in": "query",
                                "required": True,
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Dimension"},
                                },
                            }
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
            "components": {
                "schemas": {
                    "Dimension": {
                        "type": "object",
                        "properties": {"Name": {"type": "string"}, "Value": {"type": "string"}},
                    }
                }
            },
        }
    )
    validator = RequestValidator(SchemaValidator(spec.document), "enforce")
    [op] = spec.operations
    sent = validator.check(op, {}, "Dimensions=Name%3Dregion", {}, b"")
    assert sent is None
    missing = validator.check(op, {}, "", {}, b"")
    assert missing is not None and missing.status == 400
    assert b"Dimensions" in missing.body


def test_the_most_specific_documented_media_type_checks_the_body() -> None:
    from mockloop.mock.validation import _match_media

    documented = ["*/*", "application/json", "application/*"]
    assert _match_media("application/json; charset=utf-8", documented) == "application/json"
    assert _match_media("application/xml", documented) == "application/*"
    assert _match_media("text/plain", documented) == "*/*"
    assert _match_media("text/plain", ["application/json"]) is None
