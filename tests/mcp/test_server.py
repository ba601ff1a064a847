"""The MCP server over in-memory sessions, and as a real process over stdio and HTTP."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import TextContent
from pydantic import AnyUrl

from mockloop import AsyncMockLoopClient
from mockloop.catalog import build_catalog, get_catalog, operation
from mockloop.results import Result
from mockloop_mcp import build_server
from tests.conftest import PETSTORE, ROOT
from tests.waiting import wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def session_for(**kwargs: Any) -> AsyncIterator[ClientSession]:
    server = build_server(**kwargs)
    async with create_connected_server_and_client_session(server._mcp_server) as session:
        yield session


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_list_tools_equals_the_catalog() -> None:
    async with session_for() as session:
        listed = (await session.list_tools()).tools
    # Prompts are tools too: agent frameworks call them as tools.
    catalog = [op for op in get_catalog() if op.kind in ("tool", "prompt")]
    assert [tool.name for tool in listed] == [op.name for op in catalog]
    for tool, op in zip(listed, catalog, strict=True):
        assert tool.inputSchema == op.parameters_schema
        assert tool.description and tool.description.startswith(op.description)
        assert tool.outputSchema is not None and tool.outputSchema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.readOnlyHint == op.read_only


async def test_a_tool_call_drives_a_real_mock_end_to_end(tmp_path: Path) -> None:
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    client = AsyncMockLoopClient(home=str(tmp_path))
    async with session_for(client=client) as session:
        generated = await session.call_tool(
            "generate_mock_api",
            {
                "spec_url_or_path": str(PETSTORE),
                "business_port": _free_port(),
                "admin_port": _free_port(),
                "auth_enabled": False,
            },
            progress_callback=on_progress,
        )
        assert not generated.isError, _text(generated)
        data = generated.structuredContent
        assert data is not None and data["started"] is True
        assert "business_url" in _text(generated)
        try:
            async with httpx.AsyncClient() as http:
                answer = await http.get(f"{data['business_url']}/v1/pets/3")
            assert answer.status_code == 200
            logs = await session.call_tool("query_mock_logs", {"server_url": data["business_url"]})
            assert not logs.isError, _text(logs)
            assert logs.structuredContent is not None
            assert logs.structuredContent["total"] == 1
            assert logs.structuredContent["records"][0]["path"] == "/v1/pets/3"
            assert logs.structuredContent["analysis"]["count"] == 1
        finally:
            stopped = await session.call_tool("stop_mock_server", {"server": data["server_id"]})
        assert not stopped.isError, _text(stopped)
        assert stopped.structuredContent is not None
        assert stopped.structuredContent["status"] == "stopped"
    assert reports, "generate_mock_api reported no progress"
    assert reports[-1][0] == reports[-1][1] == 2


async def test_bad_calls_are_errors_and_the_next_call_works(tmp_path: Path) -> None:
    async with session_for(client=AsyncMockLoopClient(home=str(tmp_path))) as session:
        wrong_type = await session.call_tool(
            "query_mock_logs", {"server_url": "http://127.0.0.1:1", "limit": "many"}
        )
        assert wrong_type.isError and "limit" in _text(wrong_type)

        missing = await session.call_tool("manage_mock_data", {"operation": "reset"})
        assert missing.isError and "server_url" in _text(missing)

        port = _free_port()
        unknown_server = await session.call_tool(
            "query_mock_logs", {"server_url": f"http://127.0.0.1:{port}"}
        )
        assert unknown_server.isError
        assert f"nothing answers on http://127.0.0.1:{port}" in _text(unknown_server)

        bad_spec = await session.call_tool(
            "generate_mock_api", {"spec_url_or_path": str(tmp_path / "missing.yaml")}
        )
        assert bad_spec.isError and "SpecError" in _text(bad_spec)

        unknown_tool = await session.call_tool("no_such_tool", {})
        assert unknown_tool.isError and "list_mock_servers" in _text(unknown_tool)

        works = await session.call_tool("list_mock_servers", {})
        assert not works.isError
        assert works.structuredContent == {"servers": [], "running": 0, "stale": 0}

        audit = await session.call_tool("query_audit_log", {"face": "mcp"})
        records = (audit.structuredContent or {})["records"]
        assert [r["operation"] for r in records][:2] == ["list_mock_servers", "generate_mock_api"]
        assert records[0]["session_id"] and records[1]["outcome"] == "error"


class _PromptAndResourceResult(Result):
    text: str
    messages: list[dict[str, Any]] | None = None


class _FakeClient(AsyncMockLoopClient):
    @operation(group="demo", read_only=True, kind="prompt")
    async def explain_api(self, topic: str) -> _PromptAndResourceResult:
        """Explain an API topic.

        Args:
            topic: what to explain.
        """
        return _PromptAndResourceResult(text=topic, messages=None)

    @operation(group="demo", read_only=True, kind="resource")
    async def error_pack(self) -> _PromptAndResourceResult:
        """A pack of error scenarios."""
        return _PromptAndResourceResult(text="errors")


async def test_prompts_and_resources_come_from_the_catalog() -> None:
    catalog = build_catalog(_FakeClient)
    async with session_for(client=_FakeClient(), catalog=catalog) as session:
        prompts = (await session.list_prompts()).prompts
        resources = (await session.list_resources()).resources
        tools = (await session.list_tools()).tools
        # The client's own prompts follow the demo one.
        assert [p.name for p in prompts] == ["explain_api", *PROMPT_ARGUMENTS]
        assert [a.name for a in prompts[0].arguments or []] == ["topic"]
        [pack] = [r for r in resources if r.name == "error_pack"]
        assert str(pack.uri) == "mockloop://demo/error_pack"
        assert "explain_api" in {t.name for t in tools}  # a prompt is a tool as well
        rendered = await session.get_prompt("explain_api", {"topic": "pagination"})
        assert "pagination" in str(rendered.messages[0].content)
        read = await session.read_resource(pack.uri)
        assert '"text": "errors"' in read.contents[0].text  # type: ignore[union-attr]


def _server_command() -> list[str]:
    script = shutil.which("mockloop-mcp", path=str(Path(sys.executable).parent))
    assert script is not None, "mockloop-mcp is not installed in this environment"
    return [script]


@pytest.mark.parametrize("how", ["console script", "venv python -m"])
async def test_a_real_client_over_stdio_as_configured_in_the_readme(
    tmp_path: Path, how: str
) -> None:
    # README: {"mcpServers": {"mockloop": {"command": "mockloop-mcp", "args": []}}} and
    # {"command": "/path/to/venv/bin/python", "args": ["-m", "mockloop_mcp"]}
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}
    command, args = (
        (_server_command()[0], [])
        if how == "console script"
        else (sys.executable, ["-m", "mockloop_mcp"])
    )
    params = StdioServerParameters(command=command, args=args, env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        info = await session.initialize()
        assert info.serverInfo.name == "mockloop"
        names = [tool.name for tool in (await session.list_tools()).tools]
        assert names == [op.name for op in get_catalog() if op.kind in ("tool", "prompt")]
        listed = await session.call_tool("list_mock_servers", {})
        assert not listed.isError and listed.structuredContent is not None
        discovered = await session.call_tool(
            "discover_mock_servers", {"ports": [_free_port()], "include_generated": False}
        )
        assert not discovered.isError, _text(discovered)


async def test_python_dash_m_over_streamable_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockloop_mcp",
            "--transport",
            "streamable-http",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, "the MCP HTTP server to listen", timeout=30, every=0.1)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            assert {"generate_mock_api", "query_mock_logs"} <= {t.name for t in tools}
            bad = await session.call_tool("manage_mock_data", {"server_url": "x"})
            assert bad.isError and "operation" in _text(bad)
            good = await session.call_tool("list_mock_servers", {})
            assert not good.isError
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_version_and_module_entry_point() -> None:
    from mockloop_mcp import __version__

    for command in (_server_command(), [sys.executable, "-m", "mockloop_mcp"]):
        out = subprocess.run([*command, "--version"], capture_output=True, text=True, cwd=ROOT)
        assert out.returncode == 0 and out.stdout.strip() == f"mockloop-mcp {__version__}"


def test_old_import_path_still_works() -> None:
    from mockloop import MockLoopClient as Core
    from mockloop_mcp import MockLoopClient

    assert MockLoopClient is Core


async def test_a_long_tool_reports_progress_and_stops_when_cancelled(tmp_path: Path) -> None:
    import anyio
    from mcp.types import CancelledNotification, CancelledNotificationParams, ClientNotification

    from mockloop.mock import MockConfig, MockServer

    config = MockConfig.build(
        spec=str(PETSTORE), port=0, admin_port=0, auth=False, data_dir=tmp_path / "mock"
    )
    with MockServer(config) as mock:
        store, writer = mock.runtime.store, mock.runtime.log_writer
        assert store is not None and writer is not None

        def logged() -> int:
            writer.flush(5)
            return store.count_logs()

        client = AsyncMockLoopClient(home=str(tmp_path))
        async with session_for(client=client) as session:
            progressed = anyio.Event()
            outcome: list[BaseException] = []

            async def on_progress(progress: float, total: float | None, message: str | None):
                progressed.set()

            async def call() -> None:
                try:
                    await session.call_tool(
                        "run_load_test",
                        {
                            "server_url": mock.business_url,
                            "duration": 30,
                            "concurrent_users": 2,
                            "endpoints": ["GET /v1/pets"],
                        },
                        progress_callback=on_progress,
                    )
                except Exception as exc:  # the cancelled request answers with an error
                    outcome.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(call)
                with anyio.fail_after(20):
                    await progressed.wait()
                # The initialize request is id 0 and this call id 1 on a fresh session.
                cancel = CancelledNotification(
                    params=CancelledNotificationParams(requestId=1, reason="test")
                )
                await session.send_notification(ClientNotification(cancel))
                with anyio.fail_after(20):
                    while not outcome:
                        await anyio.sleep(0.05)
            assert "cancelled" in str(outcome[0]).lower()
            before = logged()
            await anyio.sleep(1.0)
            assert logged() == before, "load kept flowing after the call was cancelled"
            audit = await client.query_audit_log(operation="run_load_test")
            assert audit.records[0]["outcome"] == "cancelled"


# -- the five prompts and the scenario packs --------------------------------------------------


PROMPT_ARGUMENTS: dict[str, dict[str, str]] = {
    # As a real MCP client sends them: every value a string.
    "analyze_openapi_for_testing": {
        "api_spec": str(PETSTORE),
        "analysis_depth": "comprehensive",
        "include_security_tests": "true",
        "testing_focus": "security, performance",
        "ai_optimization": "false",
    },
    "generate_scenario_config": {
        "api_spec": str(PETSTORE),
        "scenario_types": '["load", "error", "security"]',
        "test_parameters": '{"concurrent_users": 5}',
    },
    "optimize_scenario_for_load": {
        "base_scenario": '{"name": "slow", "rules": [{"operation": "listPets", "delay_ms": 50}]}',
        "target_load": "40",
        "performance_requirements": '{"p95_ms": 300}',
        "api_spec": str(PETSTORE),
    },
    "generate_error_scenarios": {
        "api_endpoints": "GET /pets, POST /pets",
        "error_types": '["5xx", "timeout"]',
        "severity_level": "high",
    },
    "generate_security_test_scenarios": {
        "api_spec": str(PETSTORE),
        "security_focus": "API2,injection",
        "compliance_requirements": "",  # a blank optional field: not given
        "ai_optimization": "",
    },
}


async def test_every_prompt_renders_with_string_arguments() -> None:
    async with session_for() as session:
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        assert set(PROMPT_ARGUMENTS) <= set(prompts)
        for name, arguments in PROMPT_ARGUMENTS.items():
            declared = {a.name for a in prompts[name].arguments or []}
            assert set(arguments) <= declared and all(
                a.description for a in prompts[name].arguments or []
            )
            rendered = await session.get_prompt(name, arguments)
            text = rendered.messages[0].content.text  # type: ignore[union-attr]
            assert rendered.messages[0].role == "user"
            embedded = json.loads(text.split("```json\n", 1)[1].rsplit("\n```", 1)[0])
            assert embedded["prompt"] == name and embedded["summary"]
        bad = PROMPT_ARGUMENTS["analyze_openapi_for_testing"] | {"analysis_depth": "deep"}
        with pytest.raises(Exception, match="analysis_depth"):
            await session.get_prompt("analyze_openapi_for_testing", bad)


async def test_prompts_are_callable_as_tools() -> None:
    async with session_for() as session:
        called = await session.call_tool(
            "generate_scenario_config",
            {"api_spec": str(PETSTORE), "scenario_types": ["load", "error", "security"]},
        )
    assert not called.isError
    structured = called.structuredContent or {}
    assert [s["scenario_type"] for s in structured["scenarios"]].count("security") == 2
    assert all(s["test_plan"]["steps"] for s in structured["scenarios"])
    assert "scenario(s) of type(s) load, error, security" in _text(called)


async def test_scenario_packs_are_resources_with_an_index() -> None:
    async with session_for() as session:
        resources = {str(r.uri): r for r in (await session.list_resources()).resources}
        templates = (await session.list_resource_templates()).resourceTemplates
        index = json.loads(
            (await session.read_resource(AnyUrl("scenario-pack://index"))).contents[0].text  # type: ignore[union-attr]
        )
        listed = [pack["uri"] for pack in index["packs"]]
        assert len(listed) == 15 and set(listed) <= set(resources)
        one = await session.read_resource(AnyUrl("scenario-pack://security/csrf-attacks"))
        pack = json.loads(one.contents[0].text)  # type: ignore[union-attr]
        assert pack["uri"] == "scenario-pack://security/csrf-attacks"
        assert pack["pack"]["scenarios"][0]["name"] == "missing-csrf-token"
    assert [t.uriTemplate for t in templates] == ["scenario-pack://{category}/{name}"]


def test_prompt_arguments_are_converted_per_type() -> None:
    from mockloop_mcp.server import coerce_argument

    assert coerce_argument(bool, "true") is True and coerce_argument(bool, "No") is False
    assert coerce_argument(list[str] | None, "a, b") == ["a", "b"]
    assert coerce_argument(list[str] | None, '["a"]') == ["a"]
    assert coerce_argument(list[str] | None, "") is None
    assert coerce_argument(int | float | dict[str, Any], "40") == 40
    assert coerce_argument(int | float | dict[str, Any], '{"users": 3}') == {"users": 3}
    assert coerce_argument(str | dict[str, Any], '{"openapi": "3.0.3"}') == '{"openapi": "3.0.3"}'
    assert coerce_argument(dict[str, Any] | None, '{"p95_ms": 1}') == {"p95_ms": 1}
