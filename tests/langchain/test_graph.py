"""LangGraph: a scripted model drives MockLoop tools through the agent graph; the prebuilt
testing workflow runs on its own and as a subgraph; the tool node turns errors into messages."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from mockloop import MockLoopClient
from mockloop.catalog import get_catalog
from mockloop_langchain import build_agent_graph, build_testing_workflow, get_tool_node
from mockloop_langchain.testing import FunctionChatModel, call_tool, tool_results
from mockloop_langchain.workflow import TestingWorkflowState as WorkflowState
from tests.conftest import PETSTORE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def client(tmp_path: Path):
    with MockLoopClient(home=str(tmp_path)) as client:
        yield client
        for server in client.list_mock_servers().servers:  # a failed test leaves nothing behind
            if server.status == "running":
                client.stop_mock_server(server.id)


def _tester_script(ports: tuple[int, int]):
    """A model that sets up a mock, makes one mistake, load tests the mock, analyses, stops."""

    def script(messages: list[BaseMessage], tools: list[str]) -> AIMessage | str:
        assert "generate_mock_api" in tools and "run_load_test" in tools
        mocks = tool_results(messages, "generate_mock_api")
        if not mocks:
            return call_tool(
                "generate_mock_api",
                {
                    "spec_url_or_path": str(PETSTORE),
                    "business_port": ports[0],
                    "admin_port": ports[1],
                    "auth_enabled": False,
                },
            )
        url = mocks[-1]["business_url"]
        last = messages[-1]
        if isinstance(last, ToolMessage) and last.name == "generate_mock_api":
            return call_tool("run_load_test", {"server_url": url, "duration": "soon"})
        loads = tool_results(messages, "run_load_test")
        if not loads:
            assert isinstance(last, ToolMessage) and last.status == "error"
            assert "duration" in str(last.content)  # the model reads what to fix
            return call_tool(
                "run_load_test",
                {"server_url": url, "duration": 1, "concurrent_users": 2, "spec": str(PETSTORE)},
            )
        if not tool_results(messages, "analyze_test_results"):
            return call_tool("analyze_test_results", {"test_results": [loads[-1]["run_id"]]})
        if not tool_results(messages, "stop_mock_server"):
            return call_tool("stop_mock_server", {"server": mocks[-1]["server_id"]})
        return "Load tested the mock; the analysis is in the results."

    return script


async def test_a_scripted_model_mocks_then_load_tests_the_mock_it_started(
    client: MockLoopClient,
) -> None:
    model = FunctionChatModel(function=_tester_script((_free_port(), _free_port())))
    graph = build_agent_graph(model, client).compile()
    state = await graph.ainvoke({"messages": [HumanMessage("Load test the petstore API")]})

    calls = [c["name"] for m in state["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    assert calls == [
        "generate_mock_api",
        "run_load_test",
        "run_load_test",
        "analyze_test_results",
        "stop_mock_server",
    ]
    errors = [m for m in state["messages"] if isinstance(m, ToolMessage) and m.status == "error"]
    assert len(errors) == 1 and errors[0].name == "run_load_test"

    results = state["results"]
    mock, load = results["generate_mock_api"], results["run_load_test"]
    assert load["server_url"].rstrip("/") == mock["business_url"].rstrip("/")
    assert load["status"] == "completed" and load["total_requests"] > 0
    analysis = results["analyze_test_results"]
    assert analysis["runs"] and analysis["load"]
    assert str(load["total_requests"]) in analysis["summary"]
    assert results["stop_mock_server"]["status"] == "stopped"
    assert client.list_mock_servers().running == 0
    assert state["messages"][-1].content.startswith("Load tested")


def test_the_testing_workflow_runs_as_a_subgraph(client: MockLoopClient) -> None:
    def prepare(state: WorkflowState) -> dict[str, Any]:
        return {
            "mock_options": {"business_port": _free_port(), "admin_port": _free_port()},
            "load_options": {"duration": 1, "concurrent_users": 2},
            "security_options": {"max_requests": 80, "timing_delay": 0.2},
            "max_scenarios": 1,
        }

    def conclude(state: WorkflowState) -> dict[str, Any]:
        verdict = state.get("analysis", {}).get("verdict")
        return {"notes": [*state.get("notes", []), f"parent: verdict {verdict}"]}

    parent = StateGraph(WorkflowState)
    parent.add_node("prepare", prepare)
    parent.add_node("testing", build_testing_workflow(client).compile())
    parent.add_node("conclude", conclude)
    parent.add_edge(START, "prepare")
    parent.add_edge("prepare", "testing")
    parent.add_edge("testing", "conclude")
    parent.add_edge("conclude", END)
    state = parent.compile().invoke({"spec": str(PETSTORE)})

    assert state.get("errors", []) == []
    mock = state["mock"]
    assert mock["started"] and state["server_url"] == mock["business_url"]
    if "analyze_openapi_for_testing" in get_catalog():
        assert state["spec_analysis"]["scenarios"]
        (scenario,) = state["scenarios"]
        assert scenario["type"] == "load"  # load-shaped scenarios are chosen first
        assert state["deployed"] == [scenario["name"]]
        assert len(state["load_results"]) == 1
    else:
        assert any("analyse: skipped" in note for note in state["notes"])
        assert len(state["load_results"]) == 1
    assert all(run["total_requests"] > 0 for run in state["load_results"])
    assert state["security_results"]["requests_sent"] > 0
    analysis = state["analysis"]
    assert len(analysis["runs"]) == len(state["load_results"]) + 1
    assert analysis["verdict"] in {"pass", "warn", "fail"}
    notes = state["notes"]
    assert [n.split(":")[0] for n in notes][:2] == ["setup", "analyse"]
    assert notes[-2].startswith("teardown: mock") and notes[-2].endswith("stopped")
    assert notes[-1] == f"parent: verdict {analysis['verdict']}"
    assert client.list_mock_servers().running == 0


def test_the_workflow_reports_a_bad_description_without_raising(
    client: MockLoopClient, tmp_path: Path
) -> None:
    graph = build_testing_workflow(client).compile()
    state = graph.invoke({"spec": str(tmp_path / "missing.yaml")})
    assert len(state["errors"]) == 1
    assert (
        state["errors"][0].startswith("setup: SpecError") and "missing.yaml" in state["errors"][0]
    )
    assert "analysis" not in state and "load_results" not in state
    assert graph.invoke({})["errors"] == [
        "setup: give spec (an OpenAPI description) or server_url (a running API)"
    ]
    typo = graph.invoke({"spec": str(PETSTORE), "mock_options": {"bussiness_port": 9}})
    (error,) = typo["errors"]
    assert error.startswith("setup: ConfigError: invalid arguments for generate_mock_api")
    assert "bussiness_port" in error and "mock" not in typo
    assert client.list_mock_servers(include_stopped=True).servers == []


def test_the_tool_node_answers_errors_with_error_messages(client: MockLoopClient) -> None:
    node = get_tool_node(client, include=["list_mock_servers", "stop_mock_server"])
    # ToolNode runs the calls in parallel; on a fresh home they race to create the server
    # registry (SQLite "database is locked", a core issue reported separately): create it first.
    client.list_mock_servers()
    request = AIMessage(
        content="",
        tool_calls=[
            {"name": "list_mock_servers", "args": {}, "id": "a"},
            {"name": "stop_mock_server", "args": {"server": "nope"}, "id": "b"},
            {"name": "stop_mock_server", "args": {}, "id": "c"},
        ],
    )
    graph = StateGraph(MessagesState)
    graph.add_node("tools", node)
    graph.add_edge(START, "tools")
    out = graph.compile().invoke({"messages": [request]})
    by_id = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert by_id["a"].status == "success" and '"running": 0' in by_id["a"].content
    assert by_id["b"].status == "error" and "nope" in by_id["b"].content
    assert by_id["c"].status == "error" and "server" in by_id["c"].content
