"""`mockloop_crewai.get_tools`: the catalog as CrewAI tools; errors come back as text.

CrewAI is imported inside the tests, after conftest.py has given them a temporary HOME."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mockloop import ConfigError, MockLoopClient
from mockloop.catalog import get_catalog
from tests.conftest import PETSTORE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _text(result: Any) -> str:
    message = getattr(result, "as_agent_message", None)
    return str(message()) if callable(message) else str(result)


@pytest.fixture
def client(tmp_path: Path):
    with MockLoopClient(home=str(tmp_path / "mockloop")) as client:
        yield client


def test_names_and_schemas_equal_the_catalog(client: MockLoopClient) -> None:
    from crewai.tools import BaseTool

    from mockloop_crewai import get_tools

    tools = get_tools(client)
    expected = [op for op in get_catalog() if op.kind in ("tool", "prompt")]
    assert [tool.name for tool in tools] == [op.name for op in expected]
    for tool, op in zip(tools, expected, strict=True):
        assert isinstance(tool, BaseTool)
        assert tool.description.startswith(op.description)
        assert tool.args_schema.model_json_schema() == op.parameters_schema
        structured = tool.to_structured_tool()  # what a crew's agent actually runs
        assert structured.name == op.name
        assert structured.args == op.parameters_schema["properties"]


def test_filters_and_role_groups(client: MockLoopClient) -> None:
    from mockloop_crewai import ROLE_OPERATIONS, get_crew_tools, get_role_tools, get_tools

    assert [t.name for t in get_tools(client, include=["run_load_test"])] == ["run_load_test"]
    assert "run_load_test" not in {t.name for t in get_tools(client, exclude=["run_load_test"])}
    with pytest.raises(ConfigError, match="no_such_tool"):
        get_tools(client, exclude=["no_such_tool"])

    catalog = get_catalog()
    crew = get_crew_tools(client)
    assert list(crew) == ["api_testing", "performance", "security"]
    for role, tools in crew.items():
        assert [t.name for t in tools] == [n for n in ROLE_OPERATIONS[role] if n in catalog]
    assert {"generate_mock_api", "deploy_scenario"} <= {t.name for t in crew["api_testing"]}
    assert {"run_load_test", "get_performance_metrics", "analyze_test_results"} <= {
        t.name for t in crew["performance"]
    }
    assert {"run_security_test", "compare_test_runs"} <= {t.name for t in crew["security"]}
    assert [t.name for t in get_role_tools("performance", client)] == [
        t.name for t in crew["performance"]
    ]
    with pytest.raises(ConfigError, match="the roles are: api_testing, performance, security"):
        get_role_tools("marketing", client)  # type: ignore[arg-type]


def test_a_run_drives_a_real_mock_and_errors_are_text(client: MockLoopClient) -> None:
    from mockloop_crewai import get_tools

    tools = {t.name: t for t in get_tools(client)}
    text = tools["generate_mock_api"].run(
        spec_url_or_path=str(PETSTORE),
        business_port=_free_port(),
        admin_port=_free_port(),
        auth_enabled=False,
    )
    assert isinstance(text, str) and "Result JSON: " in text
    (mock,) = client.list_mock_servers().servers
    assert mock.business_url in text and mock.status == "running"
    try:
        logs = tools["query_mock_logs"].run(server_url=mock.business_url, limit=5)
        assert '"total": 0' in logs
    finally:
        stopped = tools["stop_mock_server"].run(server=mock.id)
    assert '"status": "stopped"' in stopped

    failure = tools["stop_mock_server"].run(server="nope")
    assert _text(failure).startswith("Error: ConfigError:") and "nope" in _text(failure)
    assert "fix the arguments of stop_mock_server" in _text(failure)
    unreachable = tools["query_mock_logs"].run(server_url=f"http://127.0.0.1:{_free_port()}")
    assert _text(unreachable).startswith("Error: ServerError:")
    assert getattr(unreachable, "retryable", True) is True  # the target may come back
    with pytest.raises(ValueError, match="limit"):  # CrewAI's own validation names the field
        tools["query_mock_logs"].run(server_url="http://127.0.0.1:1", limit="many")


def test_async_runs_and_the_audit_names_the_crewai_face(client: MockLoopClient) -> None:
    from mockloop_crewai import get_tools

    (tool,) = get_tools(client, include=["list_mock_servers"])
    assert tool.cache_function({}, "an earlier answer") is False  # every call measures anew
    text = asyncio.run(tool.arun())
    assert text.startswith("MockServerList(") and '"running": 0' in text
    tool.run()
    audit = client.query_audit_log(face="crewai")
    assert [r["operation"] for r in audit.records] == ["list_mock_servers", "list_mock_servers"]


def test_the_package_imports_with_only_the_core_beside_it() -> None:
    code = (
        "import sys, mockloop_crewai\n"
        "mockloop_crewai.get_tools(include=['list_mock_servers'])\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'langchain', 'langchain_core', 'langgraph', 'mockloop_langchain', 'mockloop_mcp'})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_public_surface_is_pinned() -> None:
    import mockloop_crewai

    assert mockloop_crewai.__all__ == [
        "ROLE_OPERATIONS",
        "MockLoopTool",
        "__version__",
        "get_crew_tools",
        "get_role_tools",
        "get_tools",
        "select_operations",
    ]
