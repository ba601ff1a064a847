"""Roles, tags and `schedulable` on the operation marks: every list the faces use is read from
them (crew roles, schedulable operations, operations that add API tools), the shared tool
selection and error text, and the plugin tool description every face wraps."""

from __future__ import annotations

from typing import Any

import pytest

from mockloop import AsyncMockLoopClient, ConfigError, ServerError
from mockloop.catalog import ROLES, build_catalog, get_catalog, operation
from mockloop.results import Result
from mockloop.testing.sessions.schedules import parse_test_suite
from mockloop.tools.errors import error_text, validation_error_text
from mockloop.tools.plugins import PluginTool
from mockloop.tools.selection import (
    role_operations,
    roles_of,
    select_operations,
    select_plugin_tools,
    wants_plugin_tools,
)


class _MarkedClient(AsyncMockLoopClient):
    """The real client plus one new operation marked with a role, a tag and as schedulable."""

    @operation(group="demo", roles=("performance",), tags=("adds_api_tools",), schedulable=True)
    async def soak_the_api(self, server_url: str, session_id: str | None = None) -> Result:
        """Soak an API for an hour.

        Args:
            server_url: the API.
            session_id: the test session its run lands in.
        """
        return Result()


def test_the_crew_roles_are_the_operations_marked_with_them() -> None:
    # The lists the CrewAI face used to write by hand, now read from the marks.
    assert ROLES == ("api_testing", "performance", "security")
    assert {role: set(names) for role, names in roles_of(get_catalog()).items()} == {
        "api_testing": {
            "generate_mock_api",
            "analyze_openapi_for_testing",
            "generate_scenario_config",
            "validate_scenario_config",
            "deploy_scenario",
            "query_mock_logs",
            "execute_test_plan",
        },
        "performance": {
            "run_load_test",
            "get_performance_metrics",
            "analyze_test_results",
            "monitor_test_progress",
        },
        "security": {
            "generate_security_test_scenarios",
            "run_security_test",
            "compare_test_runs",
            "analyze_test_results",
        },
    }


def test_schedulable_and_tagged_operations_come_from_the_marks() -> None:
    catalog = get_catalog()
    schedulable = [op.name for op in catalog.select(kind=None, schedulable=True)]
    assert schedulable == [
        "execute_test_plan",
        "run_test_iteration",
        "run_load_test",
        "run_security_test",
    ]
    assert all("session_id" in {p.name for p in catalog[n].parameters} for n in schedulable)
    tagged = [op.name for op in catalog.select(kind=None, tags=["adds_api_tools"])]
    assert tagged == ["create_mcp_plugin"]


def test_a_new_marked_operation_joins_its_role_and_the_schedulable_list() -> None:
    catalog = build_catalog(_MarkedClient)
    op = catalog["soak_the_api"]
    assert (op.roles, op.tags, op.schedulable) == (("performance",), ("adds_api_tools",), True)
    assert "soak_the_api" in [o.name for o in role_operations(catalog, "performance")]
    assert "soak_the_api" not in [o.name for o in role_operations(catalog, "security")]
    soak = {"operation": "soak_the_api", "arguments": {"server_url": "http://127.0.0.1:9"}}
    suite = {"name": "soak", "tests": [soak]}
    parsed = parse_test_suite(suite, catalog)
    assert [test.operation for test in parsed.tests] == ["soak_the_api"]
    # The real client's catalog has no such operation, so a schedule may not run it there.
    with pytest.raises(
        ConfigError,
        match=r"'soak_the_api' is not a testing operation.*"
        r"execute_test_plan, run_test_iteration, run_load_test, run_security_test",
    ):
        parse_test_suite(suite, get_catalog())


def test_marks_refuse_unknown_roles_and_schedules_without_a_session() -> None:
    with pytest.raises(TypeError, match="unknown role or tag 'marketing'"):
        operation(group="demo", roles=("marketing",))  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="schedulable but takes no session_id"):

        @operation(group="demo", schedulable=True)
        async def run_forever(self: Any) -> Result:
            """Run."""
            return Result()


def test_selection_by_role_tag_group_and_read_only() -> None:
    catalog = get_catalog()
    reading = select_operations(catalog, roles=["performance"], read_only=True)
    assert [op.name for op in reading] == [
        "get_performance_metrics",
        "monitor_test_progress",
        "analyze_test_results",
    ]
    assert [op.name for op in select_operations(catalog, groups=["security"])] == [
        "run_security_test"
    ]
    assert [op.name for op in select_operations(catalog, tags=["adds_api_tools"])] == [
        "create_mcp_plugin"
    ]
    with pytest.raises(ConfigError, match="unknown role 'qa'; the roles are: api_testing"):
        select_operations(catalog, roles=["qa"])
    with pytest.raises(ConfigError, match="unknown tag 'fast'"):
        select_operations(catalog, tags=["fast"])
    with pytest.raises(ConfigError, match="the roles are"):
        role_operations(catalog, "marketing")


def test_plugin_tools_join_unless_the_set_is_narrowed() -> None:
    assert wants_plugin_tools(None)
    assert not wants_plugin_tools(None, include=["run_load_test"])
    assert not wants_plugin_tools(None, roles=["security"])
    assert wants_plugin_tools(True, include=["run_load_test"])
    assert not wants_plugin_tools(False)
    get_pet = _pet_tool("GET")
    delete_pet = _pet_tool("DELETE")
    assert select_plugin_tools([get_pet, delete_pet], read_only=True) == [get_pet]
    assert select_plugin_tools([get_pet, delete_pet], read_only=False) == [delete_pet]


def test_the_error_text_is_one_for_every_face_and_redacted() -> None:
    user = error_text("stop_mock_server", ConfigError("no server matches 'nope'"))
    assert user == (
        "ConfigError: no server matches 'nope' (fix the arguments of stop_mock_server and "
        "call it again)"
    )
    runtime = error_text("query_mock_logs", ServerError("http://127.0.0.1:9 refused"))
    assert runtime == "ServerError: http://127.0.0.1:9 refused"
    bug = error_text("run_load_test", KeyError("latency"))
    assert bug.startswith("run_load_test failed inside MockLoop (KeyError: 'latency')")
    assert bug.endswith("check the arguments, or report this error")
    secret = "sk-live-0123456789abcdefghijklmnop"
    leaked = error_text(
        "call_api_tool", ServerError(f"upstream said Authorization: Bearer {secret}")
    )
    assert secret not in leaked and "ServerError: upstream said" in leaked


def test_a_frameworks_validation_error_reads_as_a_config_error() -> None:
    from pydantic import ValidationError

    op = get_catalog()["query_mock_logs"]
    with pytest.raises(ValidationError) as caught:
        op.args_model.model_validate({"server_url": "http://x", "limit": "many"})
    text = validation_error_text(op.name, caught.value)
    assert text.startswith("ConfigError: invalid arguments for query_mock_logs: limit:")
    assert text.endswith("(fix the arguments of query_mock_logs and call it again)")


def _pet_tool(method: str) -> PluginTool:
    return PluginTool(
        name=f"shop_{method.lower()}Pet",
        plugin_name="shop",
        operation_id=f"{method.lower()}Pet",
        method=method,
        summary="A pet",
        input_schema={
            "type": "object",
            "properties": {
                "petId": {"type": "integer", "description": "(path) the pet"},
                "X-Request-ID": {"type": "string", "description": "(header) trace id"},
                "_internal": {"type": "boolean"},
                "body": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "required": ["petId"],
            "additionalProperties": False,
        },
    )


def test_a_plugin_tool_describes_itself_for_every_face() -> None:
    tool = _pet_tool("GET")
    assert tool.read_only and tool.idempotent and not tool.destructive
    assert _pet_tool("DELETE").destructive and not _pet_tool("POST").idempotent
    assert tool.title == "shop: getPet"
    assert "API tool of plugin 'shop'" in tool.description

    schema = tool.args_model.model_json_schema(by_alias=True)
    assert schema["required"] == ["petId"]
    assert schema["properties"]["petId"]["type"] == "integer"
    assert schema["properties"]["petId"]["description"] == "(path) the pet"
    assert schema["properties"]["X-Request-ID"]["type"] == "string"
    assert schema["properties"]["_internal"]["type"] == "boolean"
    assert schema["properties"]["body"]["properties"] == {"name": {"type": "string"}}

    # What a framework validated (every field, None for those not given) goes back to the
    # published names, without the empty optional ones.
    validated = tool.args_model.model_validate(
        {"petId": 3, "X-Request-ID": "t-1", "_internal": True}
    ).model_dump()
    assert tool.arguments(validated) == {"petId": 3, "X-Request-ID": "t-1", "_internal": True}
    assert tool.arguments({"petId": 3, "body": None}) == {"petId": 3}
    with pytest.raises(ValueError, match="petId"):
        tool.args_model.model_validate({})
