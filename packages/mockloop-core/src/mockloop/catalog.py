"""The operation catalog: every operation of `AsyncMockLoopClient`, described once.

Adapters (MCP, LangChain, CrewAI) loop over this catalog; nothing is copied by hand. The mark,
the descriptions and the builder live in `mockloop.operation`, below the client; this module
sits above it and names the client's catalog.

Every leaf of every parameter schema says what to send (a type, a model, an enum), except the
free-form values listed in `FREE_FORM` with the reason each is any JSON; `untyped_leaves`
finds the others (a test keeps the list exact).
"""

from __future__ import annotations

from typing import Any

from mockloop.client import AsyncMockLoopClient
from mockloop.operation import (
    ROLES,
    TAGS,
    Catalog,
    OperationKind,
    OperationSpec,
    OperationTag,
    ParameterSpec,
    Role,
    build_catalog,
    catalog_of,
    operation,
    parse_docstring,
)

__all__ = [
    "FREE_FORM",
    "ROLES",
    "TAGS",
    "Catalog",
    "OperationKind",
    "OperationSpec",
    "OperationTag",
    "ParameterSpec",
    "Role",
    "build_catalog",
    "get_catalog",
    "operation",
    "parse_docstring",
    "untyped_leaves",
]

_BODY = "a response body: any JSON value, served as given"
_DESCRIPTION_PART = "part of an OpenAPI document, in the OpenAPI specification's own shape"
_CALLER_DATA = "the caller's own data, stored and returned as given"

FREE_FORM: dict[str, str] = {
    # Parameters: `operation.parameter`.
    "manage_mock_data.response_data": "the body to serve (any JSON) when it is not a rule",
    "execute_test_plan.variables": "variable name -> any JSON value substituted for ${name}",
    "create_test_session.session_config": _CALLER_DATA,
    "create_test_session_context.configuration": _CALLER_DATA,
    "update_context_data.data": _CALLER_DATA,
    "update_global_context_data.data": _CALLER_DATA,
    "call_api_tool.arguments": "the API operation's own parameters, as list_api_tools gives "
    "each tool's schema (they differ per API)",
    # Inside models (`$defs`): `Model.field`, `[]` an item, `*` any key's value.
    "ResponseSpec.body": _BODY,
    "ScenarioRule.body": _BODY,
    "ScenarioRule.error_body": _BODY,
    "ResponseOverride.body": _BODY,
    "ResponseOverride.error_body": _BODY,
    "When.body_partial": "a part of the request's JSON body to find in it: any JSON value",
    "ScenarioDocument.metadata": "the scenario's own notes (type, tags, test_plan, x-*)",
    "ScenarioDocument.test_plan": (
        "the test plan a generated scenario carries (execute_test_plan's test_plan shape), kept"
        " under metadata"
    ),
    "ScenarioDocument.load_profile": (
        "the load a generated scenario suggests (run_load_test's arguments), kept under metadata"
    ),
    "ValidationRule.expected_value": "the value the check expects: any JSON value",
    "OriginalScenario.metadata": "the scenario's own notes, kept and ignored by the mock",
    "ResponseConfig.response_data": _BODY,
    "OpenApiDocument.paths.*": _DESCRIPTION_PART,
    "OpenApiDocument.components": _DESCRIPTION_PART,
    "OpenApiDocument.definitions": _DESCRIPTION_PART,
    "TestPlan.variables": "variable name -> any JSON value substituted for ${name}",
    "StepRequest.body": "the request body: any JSON value",
    "JsonPathAssertion.equals": "compared with any JSON value",
    "JsonPathAssertion.not_equals": "compared with any JSON value",
    "JsonPathAssertion.contains": "a substring, a list item or an object key: any JSON value",
    "Capture.default": "any JSON value to use when nothing is captured",
    "LoadEndpoint.body": "the request body: any JSON value",
    "SuiteTest.arguments": "the named operation's own arguments (its tool schema says them)",
    "ComparisonRequest.arguments": "the API operation's own parameters (list_api_tools)",
}
"""The parameter leaves that are free-form JSON on purpose, with why (see `untyped_leaves`)."""


def get_catalog() -> Catalog:
    """The catalog of `AsyncMockLoopClient` (built once)."""
    return catalog_of(AsyncMockLoopClient)


def untyped_leaves(schema: dict[str, Any], operation: str) -> list[str]:
    """The leaves of an operation's parameter schema that say nothing of what to send.

    Untyped: `{}`, or an object with neither `properties` nor an `additionalProperties`
    schema (`additionalProperties: false` alone is typed: the empty object). Typed: a
    `$ref`, an `enum`/`const`, a type, or an `anyOf`/`oneOf` whose branches are typed. A
    leaf is named `operation.parameter[.field...]` outside the models and
    `Model.field[...]` inside one (`[]` for a list's items, `*` for any key's value), as
    `FREE_FORM` names them. Each model is walked once.
    """
    found: list[str] = []
    seen: set[str] = set()
    definitions = schema.get("$defs", {})

    def walk(node: dict[str, Any], path: str) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(definitions[name], name)
            return
        branches = [*node.get("anyOf", ()), *node.get("oneOf", ()), *node.get("allOf", ())]
        if branches:
            for branch in branches:
                walk(branch, path)
            return
        if "enum" in node or "const" in node:
            return
        kind = node.get("type")
        if kind is None:
            found.append(path)
        elif kind == "object" or (isinstance(kind, list) and "object" in kind):
            properties = node.get("properties") or {}
            extra = node.get("additionalProperties")
            if not properties and not isinstance(extra, dict) and extra is not False:
                found.append(path)
            for key, value in properties.items():
                walk(value, f"{path}.{key}")
            if isinstance(extra, dict):
                walk(extra, f"{path}.*")
        elif kind == "array" or (isinstance(kind, list) and "array" in kind):
            items = node.get("items")
            if isinstance(items, dict):
                walk(items, f"{path}[]")
            else:
                found.append(path)

    for name, node in schema.get("properties", {}).items():
        walk(node, f"{operation}.{name}")
    return list(dict.fromkeys(found))
