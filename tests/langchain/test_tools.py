"""`mockloop_langchain.get_tools`: the catalog as LangChain tools, sync and async, errors as
error messages the model can read."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.json_schema import dereference_refs

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopClient
from mockloop.catalog import build_catalog, get_catalog, operation
from mockloop.operations.mock_servers import GeneratedMock
from mockloop.results import Result
from mockloop_langchain import PROGRESS_EVENT, get_tools, select_operations
from mockloop_langchain.caller import given_arguments
from tests.conftest import PETSTORE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(name: str, args: dict[str, Any], call_id: str = "call-1") -> dict[str, Any]:
    return {"type": "tool_call", "name": name, "args": args, "id": call_id}


def _without_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        # A schema's "title" is a string; a property called "title" is a schema (a dict).
        return {
            k: _without_titles(v)
            for k, v in schema.items()
            if not (k == "title" and isinstance(v, str))
        }
    if isinstance(schema, list):
        return [_without_titles(v) for v in schema]
    return schema


@pytest.fixture
def client(tmp_path: Path):
    with MockLoopClient(home=str(tmp_path)) as client:
        yield client


def test_names_and_schemas_equal_the_catalog(client: MockLoopClient) -> None:
    tools = get_tools(client)
    expected = [op for op in get_catalog() if op.kind in ("tool", "prompt")]
    assert [tool.name for tool in tools] == [op.name for op in expected]
    for tool, op in zip(tools, expected, strict=True):
        assert tool.description.startswith(op.description)
        assert tool.args_schema is not None
        assert tool.args_schema.model_json_schema() == op.parameters_schema  # type: ignore[union-attr]
        assert tool.args == op.parameters_schema["properties"]
        sent = convert_to_openai_tool(tool)["function"]  # what a model is shown
        assert sent["name"] == op.name
        # LangChain inlines the models of `$defs` where they are referenced (and drops some
        # of their titles).
        assert _without_titles(sent["parameters"]["properties"]) == _without_titles(
            dereference_refs(op.parameters_schema)["properties"]
        )
        assert "'$ref'" not in str(sent["parameters"])
        assert sent["parameters"].get("required", []) == op.parameters_schema.get("required", [])
        assert tool.metadata is not None and tool.metadata["read_only"] == op.read_only


def test_include_exclude_and_unknown_names(client: MockLoopClient) -> None:
    chosen = get_tools(client, include=["list_mock_servers", "query_mock_logs"])
    assert [t.name for t in chosen] == ["list_mock_servers", "query_mock_logs"]
    rest = get_tools(client, exclude=["generate_mock_api"])
    assert "generate_mock_api" not in {t.name for t in rest}
    assert len(rest) == len(get_tools(client)) - 1
    with pytest.raises(ConfigError, match="no_such_tool"):
        get_tools(client, include=["no_such_tool"])


class _KindsClient:
    @operation(group="demo", read_only=True)
    async def ping(self, text: str) -> Result:
        """Echo a text.

        Args:
            text: what to echo.
        """
        return Result()

    @operation(group="demo", read_only=True, kind="prompt")
    async def plan_tests(self, api_spec: str) -> Result:
        """Plan tests for a description.

        Args:
            api_spec: the description.
        """
        return Result()

    @operation(group="demo", read_only=True, kind="resource")
    async def error_pack(self) -> Result:
        """A scenario pack."""
        return Result()


def test_prompts_are_tools_and_resources_only_when_named() -> None:
    catalog = build_catalog(_KindsClient)
    assert [op.name for op in select_operations(catalog)] == ["ping", "plan_tests"]
    named = select_operations(catalog, include=["ping", "error_pack"])
    assert [op.name for op in named] == ["ping", "error_pack"]


def test_a_default_left_alone_stays_the_methods_own() -> None:
    op = get_catalog()["generate_mock_api"]
    default_port = next(p.default for p in op.parameters if p.name == "business_port")
    arguments = {"spec_url_or_path": "x.yaml", "business_port": default_port, "start": False}
    # The sentinel "default port, moved if busy" is dropped (the method supplies it again);
    # a value the model chose stays, even when it equals a default.
    assert given_arguments(op, arguments) == {"spec_url_or_path": "x.yaml", "start": False}
    assert given_arguments(op, {"business_port": 8000}) == {"business_port": 8000}


def test_sync_call_starts_a_real_mock_and_the_stop_tool_stops_it(
    client: MockLoopClient,
) -> None:
    tools = {t.name: t for t in get_tools(client)}
    message = tools["generate_mock_api"].invoke(
        _call(
            "generate_mock_api",
            {
                "spec_url_or_path": str(PETSTORE),
                "business_port": _free_port(),
                "admin_port": _free_port(),
                "auth_enabled": False,
            },
        )
    )
    assert isinstance(message, ToolMessage) and message.status == "success"
    mock = message.artifact
    assert isinstance(mock, GeneratedMock) and mock.started and mock.business_url
    try:
        assert mock.business_url in str(message.content)  # the model reads the URL
        assert '"server_id"' in str(message.content)
        listed = tools["list_mock_servers"].invoke(_call("list_mock_servers", {}))
        assert listed.artifact.running == 1
    finally:
        stopped = tools["stop_mock_server"].invoke(
            _call("stop_mock_server", {"server": mock.server_id})
        )
    assert stopped.status == "success" and stopped.artifact.status == "stopped"
    assert client.list_mock_servers().running == 0


class _ProgressRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict, Any]] = []
        self.tool_runs: list[Any] = []

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: Any, **kw: Any) -> None:
        self.tool_runs.append(run_id)

    def on_custom_event(self, name: str, data: Any, *, run_id: Any, **kw: Any) -> None:
        self.events.append((name, data, run_id))


def _check_progress(recorder: _ProgressRecorder, operation: str) -> None:
    assert recorder.events, f"{operation} reported no progress to the callbacks"
    for name, data, run_id in recorder.events:
        assert name == PROGRESS_EVENT and data["operation"] == operation
        assert run_id == recorder.tool_runs[-1]  # the tool run it belongs to
    last = recorder.events[-1][1]
    assert last["done"] == last["total"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_progress_reaches_the_langchain_callbacks(tmp_path: Path, mode: str) -> None:
    recorder = _ProgressRecorder()
    arguments = {
        "spec_url_or_path": str(PETSTORE),
        "business_port": _free_port(),
        "admin_port": _free_port(),
        "auth_enabled": False,
    }
    async with AsyncMockLoopClient(home=str(tmp_path)) as client:
        tool = {t.name: t for t in get_tools(client)}["generate_mock_api"]
        config = {"callbacks": [recorder]}
        if mode == "sync":
            message = await asyncio.to_thread(
                tool.invoke, _call("generate_mock_api", arguments), config
            )
        else:
            message = await tool.ainvoke(_call("generate_mock_api", arguments), config)
        assert message.status == "success", message.content
        await client.stop_mock_server(message.artifact.server_id)
    _check_progress(recorder, "generate_mock_api")


async def test_async_call_and_the_audit_names_the_langchain_face(tmp_path: Path) -> None:
    async with AsyncMockLoopClient(home=str(tmp_path)) as client:
        tools = {t.name: t for t in get_tools(client)}
        message = await tools["list_mock_servers"].ainvoke(_call("list_mock_servers", {}))
        assert message.status == "success" and message.artifact.running == 0
        # The same tools also run blocking, on a loop of their own.
        blocking = tools["list_test_plans"].invoke(_call("list_test_plans", {}))
        assert blocking.status == "success"
        audit = await client.query_audit_log(face="langchain")
    assert {r["operation"] for r in audit.records} >= {"list_mock_servers", "list_test_plans"}


def test_errors_become_error_messages_and_the_next_call_works(client: MockLoopClient) -> None:
    tools = {t.name: t for t in get_tools(client)}
    wrong_type = tools["query_mock_logs"].invoke(
        _call("query_mock_logs", {"server_url": "http://127.0.0.1:1", "limit": "many"})
    )
    assert wrong_type.status == "error"
    assert "limit" in wrong_type.content and "query_mock_logs" in wrong_type.content

    missing = tools["manage_mock_data"].invoke(_call("manage_mock_data", {"operation": "reset"}))
    assert missing.status == "error" and "server_url" in missing.content

    unknown = tools["stop_mock_server"].invoke(_call("stop_mock_server", {"server": "nope"}))
    assert unknown.status == "error"
    assert unknown.content.startswith("ConfigError:") and "nope" in unknown.content

    unreachable = tools["query_mock_logs"].invoke(
        _call("query_mock_logs", {"server_url": f"http://127.0.0.1:{_free_port()}"})
    )
    assert unreachable.status == "error" and "ServerError" in unreachable.content

    after = tools["list_mock_servers"].invoke(_call("list_mock_servers", {}))
    assert after.status == "success"


def test_a_plain_invoke_returns_the_text_and_a_bad_client_is_refused(
    client: MockLoopClient,
) -> None:
    (tool,) = get_tools(client, include=["list_mock_servers"])
    text = tool.invoke({})
    assert text.startswith("MockServerList(") and '"running": 0' in text
    with pytest.raises(TypeError, match="MockLoopClient"):
        get_tools(client="http://127.0.0.1:8000")  # type: ignore[arg-type]


def test_the_package_imports_with_only_the_core_beside_it() -> None:
    code = (
        "import sys, mockloop_langchain\n"
        "mockloop_langchain.get_tools(include=['list_mock_servers'])\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'crewai', 'mcp', 'mockloop_crewai', 'mockloop_mcp'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_public_surface_is_pinned() -> None:
    import mockloop_langchain

    assert mockloop_langchain.__all__ == [
        "PROGRESS_EVENT",
        "MockLoopAgentState",
        "TestingWorkflowState",
        "__version__",
        "build_agent_graph",
        "build_testing_workflow",
        "get_tool_node",
        "get_tools",
        "select_operations",
        "tool_for_operation",
    ]
