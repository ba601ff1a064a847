"""A LangGraph testing workflow over MockLoop: set up a mock, analyse, deploy scenarios, load
test, probe, analyse, and have a model turn the analysis into advice.

The graph is a `StateGraph` with a setup node (ports and test sizes), an execution node (the
prebuilt `mockloop_langchain.build_testing_workflow` graph, compiled and run as a subgraph:
generate_mock_api, analyze_openapi_for_testing, deploy_scenario, run_load_test,
run_security_test, analyze_test_results, stop_mock_server) and an advisor node in which a chat
model reads the analysis. Every result stays in the graph's typed state.

    python examples/langgraph_workflow.py

Runs offline with a scripted model (no API key needed). With OPENAI_API_KEY set and
`langchain-openai` installed, a real model (MOCKLOOP_EXAMPLE_MODEL, default gpt-4o-mini) writes
the advice; MOCKLOOP_EXAMPLE_MODEL=scripted keeps the script. State goes to MOCKLOOP_HOME (a
temporary folder unless you set one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from mockloop import MockLoopClient
from mockloop_langchain import TestingWorkflowState, build_testing_workflow
from mockloop_langchain.testing import FunctionChatModel

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"


class PipelineState(TestingWorkflowState, total=False):
    """The workflow's state plus the advisor's conclusion."""

    advice: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scripted_advisor(messages: list[BaseMessage], tools: list[str]) -> str:
    """Advice from the analysis it is shown: the verdict, then each recommendation."""
    analysis = json.loads(str(messages[-1].content))
    lines = [f"Verdict: {analysis['verdict'].upper()}."]
    for advice in analysis.get("recommendations", [])[:3]:
        lines.append(f"- [{advice['priority']}] {advice['title']} ({advice['evidence']})")
    return "\n".join(lines)


def choose_model() -> BaseChatModel:
    wanted = os.environ.get("MOCKLOOP_EXAMPLE_MODEL", "gpt-4o-mini")
    if (
        wanted != "scripted"
        and os.environ.get("OPENAI_API_KEY")
        and importlib.util.find_spec("langchain_openai")
    ):
        from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]

        print(f"Model: {wanted} (OpenAI)")
        return ChatOpenAI(model=wanted, temperature=0)
    print("Model: scripted (set OPENAI_API_KEY and install langchain-openai for a real one)")
    return FunctionChatModel(function=scripted_advisor)


def build_pipeline(mockloop: MockLoopClient, model: BaseChatModel) -> StateGraph:
    def setup(state: PipelineState) -> dict[str, Any]:
        return {
            "mock_options": {
                "business_port": free_port(),
                "admin_port": free_port(),
                "output_dir_name": "langgraph_petstore",
                "overwrite": True,
            },
            "max_scenarios": 2,
            "load_options": {"duration": 1, "concurrent_users": 4},
            "security_options": {"max_requests": 120, "timing_delay": 0.2},
        }

    def advisor(state: PipelineState) -> dict[str, Any]:
        analysis = state.get("analysis")
        if not analysis:
            return {"advice": "No analysis to advise on: " + "; ".join(state.get("errors", []))}
        shown = {
            key: analysis.get(key) for key in ("verdict", "summary", "reasons", "recommendations")
        }
        reply = model.invoke(
            [
                SystemMessage("You advise on API test results. Be brief and cite figures."),
                HumanMessage(json.dumps(shown, default=str)),
            ]
        )
        return {"advice": str(reply.content)}

    graph = StateGraph(PipelineState)
    graph.add_node("setup", setup)
    graph.add_node("execution", build_testing_workflow(mockloop).compile())
    graph.add_node("advisor", advisor)
    graph.add_edge(START, "setup")
    graph.add_edge("setup", "execution")
    graph.add_edge("execution", "advisor")
    graph.add_edge("advisor", END)
    return graph


def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-langgraph-")
    with MockLoopClient(home=home) as mockloop:
        pipeline = build_pipeline(mockloop, choose_model()).compile()
        try:
            state = pipeline.invoke({"spec": str(SPEC)})
        finally:
            for server in mockloop.list_mock_servers().servers:
                if server.status == "running":  # only if the workflow failed half-way
                    mockloop.stop_mock_server(server.id)

        print("Workflow:")
        for note in state.get("notes", []):
            print(f"  {note[:150]}{'...' if len(note) > 150 else ''}")
        for error in state.get("errors", []):
            print(f"  error: {error}")
        mock = state.get("mock", {})
        print(f"Mock pid {mock.get('pid')} at {state.get('server_url')}")
        print(f"Scenarios deployed: {', '.join(state.get('deployed', [])) or 'none'}")
        for run in state.get("load_results", []):
            latency = run["latency"]
            print(
                f"Load run {run['run_id']}: {run['total_requests']} requests, "
                f"{run['achieved_rps']:.0f} req/s, p95 {latency['p95_ms']:.2f} ms, "
                f"error rate {run['error_rate']:.2%}"
            )
        security = state.get("security_results", {})
        print(f"Security: {len(security.get('findings', []))} finding(s)")
        print(f"Analysis verdict: {state.get('analysis', {}).get('verdict')}")
        print(f"Advice:\n{state.get('advice')}")
        print(f"Processes left running: {mockloop.list_mock_servers().running}")


if __name__ == "__main__":
    main()
