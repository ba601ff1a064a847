"""A three-agent crew driven by scripted LLMs calls MockLoop tools against a real mock; a
failing tool call reaches its agent as text and the crew finishes."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest

from mockloop import MockLoopClient
from tests.conftest import PETSTORE

# CrewAI warns about its own deprecated internals; nothing this test can change.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _context_url(messages: list[dict[str, Any]]) -> str:
    """The mock URL an earlier task reported (CrewAI hands it over as task context)."""
    text = "\n".join(str(m.get("content")) for m in messages if m.get("role") == "user")
    match = re.search(r"mock API at (http://127\.0\.0\.1:\d+)", text)
    assert match, "the previous task's output did not reach this agent"
    return match.group(1)


def test_a_scripted_crew_tests_a_mock_and_survives_a_tool_error(tmp_path: Path) -> None:
    from crewai import Agent, Crew, CrewOutput, Process, Task

    from mockloop_crewai import get_crew_tools
    from mockloop_crewai.testing import (
        FunctionLLM,
        observations,
        observed_results,
        react_action,
        react_answer,
    )

    ports = (_free_port(), _free_port())
    seen_errors: list[str] = []

    def api_tester(messages: list[dict[str, Any]]) -> str:
        results = observed_results(messages)
        if not results:
            return react_action(
                "generate_mock_api",
                {
                    "spec_url_or_path": str(PETSTORE),
                    "business_port": ports[0],
                    "admin_port": ports[1],
                    "auth_enabled": False,
                },
            )
        mock = results[0]
        return react_answer(f"mock API at {mock['business_url']} (server {mock['server_id']})")

    def performance_analyst(messages: list[dict[str, Any]]) -> str:
        url = _context_url(messages)
        results = observed_results(messages)
        if not results:
            return react_action(
                "run_load_test",
                {"server_url": url, "duration": 1, "concurrent_users": 2, "spec": str(PETSTORE)},
            )
        if len(results) == 1:
            return react_action("analyze_test_results", {"test_results": [results[0]["run_id"]]})
        load, analysis = results
        return react_answer(
            f"load run {load['run_id']} sent {load['total_requests']} requests to "
            f"{load['server_url']}; verdict {analysis['verdict']}"
        )

    def security_expert(messages: list[dict[str, Any]]) -> str:
        url = _context_url(messages)
        seen = observations(messages)
        if not seen:
            return react_action(
                "run_security_test",
                {"server_url": url, "max_requests": 60, "rate_limit_rps": 500, "timing_delay": 0.2},
            )
        if len(seen) == 1:
            # A mistake on purpose: the error must come back as text, not end the crew.
            return react_action(
                "compare_test_runs",
                {"baseline_results": "no-such-run", "comparison_results": "no-such-run-either"},
            )
        seen_errors.append(seen[-1])
        security = observed_results(messages)[0]
        return react_answer(
            f"{len(security['findings'])} finding(s) in {security['requests_sent']} requests; "
            f"the comparison failed: {seen[-1][:80]}"
        )

    def agent(role: str, script: Any, tools: list[Any]) -> Agent:
        return Agent(
            role=role,
            goal=f"Do the {role}'s part of testing the petstore API",
            backstory="A MockLoop user.",
            llm=FunctionLLM(script),
            tools=tools,
            allow_delegation=False,
            max_iter=6,
        )

    with MockLoopClient(home=str(tmp_path / "mockloop")) as client:
        tools = get_crew_tools(client)
        tester = agent("API testing specialist", api_tester, tools["api_testing"])
        analyst = agent("Performance analyst", performance_analyst, tools["performance"])
        expert = agent("Security expert", security_expert, tools["security"])
        tasks = [
            Task(
                description="Start a mock of the petstore API.",
                expected_output="its URL",
                agent=tester,
            ),
            Task(
                description="Load test the mock and analyse the run.",
                expected_output="figures and a verdict",
                agent=analyst,
            ),
            Task(
                description="Probe the mock for security flaws.",
                expected_output="findings",
                agent=expert,
            ),
        ]
        crew = Crew(agents=[tester, analyst, expert], tasks=tasks, process=Process.sequential)
        try:
            output = crew.kickoff()
            assert isinstance(output, CrewOutput)
        finally:
            for server in client.list_mock_servers().servers:
                if server.status == "running":
                    client.stop_mock_server(server.id)
        running = client.list_mock_servers().running

    mock_out, load_out, security_out = (task.raw for task in output.tasks_output)
    url = re.search(r"http://127\.0\.0\.1:\d+", mock_out).group(0)  # type: ignore[union-attr]
    assert url.endswith(f":{ports[0]}")
    assert re.search(rf"sent [1-9]\d* requests to {re.escape(url)}", load_out), load_out
    assert "verdict" in load_out
    assert re.match(r"\d+ finding\(s\) in [1-9]\d* requests", security_out), security_out
    assert len(seen_errors) == 1 and seen_errors[0].startswith("Error: ")
    assert "no-such-run" in seen_errors[0]
    assert "the comparison failed: Error: " in output.raw
    failures = output.tasks_output[2].tool_failures  # the crew knows the call failed too
    assert [f.tool_name for f in failures] == ["compare_test_runs"]
    assert running == 0
