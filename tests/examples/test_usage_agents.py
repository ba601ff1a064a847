"""The "Agents" blocks of the usage guide run as written, and the proxy quick start's import.

- CrewAI: `from mockloop_mcp import MockLoopClient`, bound client methods straight into
  `Agent(tools=[...])`, three agents with one Task each, `crew.kickoff()`. The agents get
  scripted LLMs (`llm=`, the one addition); the tools run for real against a local mock,
  their results come back to the agents, and a wrong call comes back as text.
- LangChain: plain functions wrapped in `Tool(name=..., func=..., description=...)` whose
  bodies call the client with the documented flags (`scenario_types`, `ai_optimization`,
  `ai_monitoring`, `include_recommendations`, `ai_insights`), and a bound method handed to a
  LangGraph `ToolNode` as it is.
- `from mockloop_mcp.mcp_tools import create_mcp_plugin`, awaited as the original docs do.

Local description path, free ports, every server stopped afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SPEC = str(ROOT / "examples" / "specs" / "petstore.yaml")

# CrewAI warns about its own deprecated internals; nothing this test can change.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def crewai_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CrewAI writes to HOME from the moment it is imported; no telemetry, no real model."""
    home = tmp_path / "crewai-home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name in ("CREWAI_DISABLE_TELEMETRY", "OTEL_SDK_DISABLED"):
        monkeypatch.setenv(name, "true")
    monkeypatch.setenv("CREWAI_TRACING_ENABLED", "false")
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return home


@pytest.fixture
def stop_servers() -> Iterator[list[Any]]:
    """Clients registered here have every mock they started stopped after the test."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        for server in client.list_mock_servers().servers:
            if server.status == "running":
                client.stop_mock_server(server.id)
        client.close()


def test_the_crewai_block_runs_with_bound_client_methods_as_tools(
    crewai_sandbox: Path, stop_servers: list[Any]
) -> None:
    from mockloop_crewai.testing import (
        FunctionLLM,
        Message,
        observations,
        observed_results,
        react_action,
        react_answer,
    )

    ports = (_free_port(), _free_port())

    def tester_script(messages: list[Message]) -> str:
        results = observed_results(messages)
        if not results:
            return react_action(
                "generate_mock_api",
                {
                    "spec_url_or_path": SPEC,
                    "output_dir_name": "crew_petstore",
                    "business_port": ports[0],
                    "admin_port": ports[1],
                },
            )
        url = results[0]["business_url"]
        if len(results) == 1:
            return react_action(
                "generate_scenario_config",
                {"api_spec": url, "scenario_types": ["load"], "ai_optimization": True},
            )
        names = ", ".join(s["name"] for s in results[1]["scenarios"])
        return react_answer(f"Mock API at {url}. Scenarios: {names}.")

    def performance_script(messages: list[Message]) -> str:
        url = re.search(r"Mock API at (http://127\.0\.0\.1:\d+)", json.dumps(messages))
        assert url, "the tester's report reaches the analyst"
        results = observed_results(messages)
        if not results:
            return react_action(
                "run_load_test",
                {"server_url": url.group(1), "duration": 1, "concurrent_users": 2, "spec": SPEC},
            )
        if len(results) == 1:
            return react_action(
                "analyze_test_results",
                {"test_results": [results[0]["run_id"]], "ai_insights": True},
            )
        load, analysis = results
        titles = "; ".join(i["title"] for i in analysis["insights"]["insights"])
        return react_answer(f"{load['total_requests']} requests. Insights: {titles}")

    def security_script(messages: list[Message]) -> str:
        seen = observations(messages)
        if not seen:
            return react_action(
                "compare_test_runs",
                {"baseline_results": "security-0000", "comparison_results": "security-0001"},
            )
        return react_answer(f"The comparison answered: {seen[0][:120]}")

    # --- the block, as written (plus llm=) ---
    from crewai import Agent, Crew, CrewOutput, Task

    from mockloop_mcp import MockLoopClient

    mockloop = MockLoopClient()
    stop_servers.append(mockloop)
    tester = Agent(
        role="API Testing Specialist",
        goal="...",
        backstory="...",
        tools=[
            mockloop.generate_mock_api,
            mockloop.analyze_openapi_for_testing,
            mockloop.generate_scenario_config,
        ],
        llm=FunctionLLM(tester_script),
    )
    performance = Agent(
        role="Performance Analyst",
        goal="...",
        backstory="...",
        tools=[
            mockloop.run_load_test,
            mockloop.get_performance_metrics,
            mockloop.analyze_test_results,
        ],
        llm=FunctionLLM(performance_script),
    )
    security = Agent(
        role="Security Testing Expert",
        goal="...",
        backstory="...",
        tools=[
            mockloop.generate_security_test_scenarios,
            mockloop.run_security_test,
            mockloop.compare_test_runs,
        ],
        llm=FunctionLLM(security_script),
    )
    tasks = [
        Task(description="Start a mock and plan scenarios.", expected_output="...", agent=tester),
        Task(description="Load test the mock.", expected_output="...", agent=performance),
        Task(description="Compare security runs.", expected_output="...", agent=security),
    ]
    crew = Crew(agents=[tester, performance, security], tasks=tasks)
    output = crew.kickoff()
    # --- end of the block ---

    assert [tool.name for tool in performance.tools or []] == [
        "run_load_test",
        "get_performance_metrics",
        "analyze_test_results",
    ]
    assert isinstance(output, CrewOutput)
    first, second, third = (task.raw for task in output.tasks_output)
    assert re.search(r"Mock API at http://127\.0\.0\.1:\d+\. Scenarios: load-", first), first
    match = re.match(r"(\d+) requests\. Insights: verdict: ", second)
    assert match and int(match.group(1)) > 0, second
    assert "Error: ConfigError: no stored run 'security-0000'" in third, third
    assert mockloop.list_mock_servers().running == 1


def test_the_langchain_block_honours_its_flags(stop_servers: list[Any]) -> None:
    from langchain_core.tools import Tool

    from mockloop import MockLoopClient

    mockloop = MockLoopClient()
    stop_servers.append(mockloop)
    business, admin = _free_port(), _free_port()

    # --- the block's function bodies, as written ---
    def setup_mock(spec_path: str) -> str:
        result = mockloop.generate_mock_api(
            spec_url_or_path=spec_path, business_port=business, admin_port=admin
        )
        analysis = mockloop.analyze_openapi_for_testing(
            api_spec=spec_path, analysis_depth="comprehensive", include_security_tests=True
        )
        return f"{result.business_url} {analysis['summary']}"

    collected: dict[str, Any] = {}

    def run_ai_tests(server_url: str) -> str:
        results = []
        mockloop.create_test_session_context(
            session_name="ai_testing_session", configuration={"ai_enhanced": True}
        )
        scenarios = mockloop.generate_scenario_config(
            api_spec=server_url,  # the URL of a running mock
            scenario_types=["load", "error", "security"],
            ai_optimization=True,
        )
        for scenario in scenarios:
            mockloop.deploy_scenario(server_url=server_url, scenario_config=scenario)
            results.append(
                mockloop.execute_test_plan(
                    server_url=server_url, test_plan=scenario["test_plan"], ai_monitoring=True
                )
            )
        analysis = mockloop.analyze_test_results(
            test_results=results, include_recommendations=True, ai_insights=True
        )
        collected.update(scenarios=scenarios, results=results, analysis=analysis)
        return analysis["summary"]

    tools = [
        Tool(name="setup_mock", func=setup_mock, description="Start a mock of a description"),
        Tool(name="run_ai_tests", func=run_ai_tests, description="Run AI-tuned tests on a mock"),
    ]
    # --- end of the block ---

    started = tools[0].invoke(SPEC)
    url = started.split()[0]
    assert url == f"http://127.0.0.1:{business}"
    summary = tools[1].invoke(url)
    assert summary == collected["analysis"].summary

    scenarios = collected["scenarios"]
    assert {s["type"] for s in scenarios} >= {"load", "error", "security"}
    assert all(s["name"] and s["test_plan"]["steps"] for s in scenarios)
    # Tuned for the run: each plan waits as long as its slowest expected answer needs.
    for scenario in scenarios:
        assert scenario["test_plan"]["timeout_s"] == 5, scenario["name"]
        assert scenario["x-optimization"][0].startswith("test_plan.timeout_s 10 -> 5")
    for result in collected["results"]:
        assert result.monitoring is not None
        assert result.monitoring.steps_watched == result.total - result.skipped
    insights = collected["analysis"].insights
    assert insights is not None and insights.mode == "deterministic"
    assert insights.insights[0].title.startswith("verdict: ")
    assert any(i.topic == "functional" for i in insights.insights)

    # A bound method goes to LangGraph's ToolNode as it is: typed schema, real call.
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from langgraph.prebuilt import ToolNode

    from mockloop_langchain.testing import call_tool

    node = ToolNode([mockloop.list_mock_servers, mockloop.run_load_test])
    assert set(node.tools_by_name) == {"list_mock_servers", "run_load_test"}
    schema = convert_to_openai_tool(mockloop.run_load_test)["function"]["parameters"]
    assert schema["required"] == ["server_url"]
    assert schema["properties"]["concurrent_users"]["type"] == "integer"
    call = call_tool("list_mock_servers", {}).tool_calls[0]
    answer = node.tools_by_name["list_mock_servers"].invoke({**call, "type": "tool_call"})
    assert "running=1" in str(answer.content)


def test_the_proxy_quick_start_imports_from_mcp_tools(
    stop_servers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockloop_mcp import mcp_tools

    monkeypatch.setattr(mcp_tools, "_client", None)  # made afresh in this test's MOCKLOOP_HOME
    from mockloop_mcp.mcp_tools import create_mcp_plugin, default_client

    async def quick_start() -> Any:
        return await create_mcp_plugin(
            spec_url_or_path=SPEC, mode="mock", plugin_name="example_api"
        )

    plugin = asyncio.run(quick_start())
    assert plugin.plugin_name == "example_api"
    assert plugin.mode == "mock" and plugin.tools
    # The default client keeps its state in MOCKLOOP_HOME, as the module says.
    assert Path(plugin.project_path).is_relative_to(Path(os.environ["MOCKLOOP_HOME"]))
    assert default_client() is mcp_tools.default_client()
    from mockloop import MockLoopClient

    cleanup = MockLoopClient()
    stop_servers.append(cleanup)
    assert plugin.server_id in {server.id for server in cleanup.list_mock_servers().servers}
