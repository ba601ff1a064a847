"""A three-agent CrewAI crew tests an API with MockLoop's tools.

An API testing specialist (generate_mock_api, analyze_openapi_for_testing,
generate_scenario_config, ...), a performance analyst (run_load_test, get_performance_metrics,
analyze_test_results, ...) and a security expert (generate_security_test_scenarios,
run_security_test, compare_test_runs, ...) work through three tasks in one crew: start a mock
of the bundled petstore description and plan its tests, load test it and analyse the run,
probe it for security flaws. Each agent's tools come from `mockloop_crewai.get_crew_tools`,
all on one client. One call is wrong on purpose: the error reaches the agent as text and the
crew carries on.

    python examples/crewai_crew.py

Runs offline with scripted LLMs (no API key needed). With OPENAI_API_KEY set, a real model
(MOCKLOOP_EXAMPLE_MODEL, default gpt-4o-mini) drives the agents instead;
MOCKLOOP_EXAMPLE_MODEL=scripted keeps the scripts. State goes to MOCKLOOP_HOME (a temporary
folder unless you set one).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Offline by default: no telemetry or tracing (set them yourself to opt in).
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")

from crewai import LLM, Agent, Crew, CrewOutput, Process, Task
from crewai.llms.base_llm import BaseLLM

from mockloop import MockLoopClient
from mockloop_crewai import get_crew_tools
from mockloop_crewai.testing import (
    FunctionLLM,
    Message,
    observations,
    observed_results,
    react_action,
    react_answer,
)

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"
Script = Callable[[list[Message]], str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def context_url(messages: list[Message]) -> str:
    """The mock URL the specialist reported (CrewAI passes it on as the task's context)."""
    text = "\n".join(str(m.get("content")) for m in messages if m.get("role") == "user")
    match = re.search(r"Mock API at (http://127\.0\.0\.1:\d+)", text)
    if match is None:
        raise RuntimeError("the specialist's report did not reach this agent")
    return match.group(1)


def api_testing_script() -> Script:
    ports = (free_port(), free_port())

    def script(messages: list[Message]) -> str:
        results = observed_results(messages)
        if not results:
            return react_action(
                "generate_mock_api",
                {
                    "spec_url_or_path": str(SPEC),
                    "output_dir_name": "crewai_petstore",
                    "business_port": ports[0],
                    "admin_port": ports[1],
                    "overwrite": True,
                },
            )
        url = results[0]["business_url"]
        if len(results) == 1:
            return react_action(
                "analyze_openapi_for_testing", {"api_spec": url, "analysis_depth": "standard"}
            )
        if len(results) == 2:
            return react_action(
                "generate_scenario_config", {"api_spec": url, "scenario_types": ["load"]}
            )
        mock, analysis, generated = results
        names = ", ".join(s["name"] for s in generated["scenarios"])
        return react_answer(
            f"Mock API at {url} (server {mock['server_id']}). "
            f"{analysis['summary'].split('. ')[0]}. Load scenarios to try: {names}."
        )

    return script


def performance_script(messages: list[Message]) -> str:
    url = context_url(messages)
    results = observed_results(messages)
    if not results:
        return react_action(
            "run_load_test",
            {"server_url": url, "duration": 1, "concurrent_users": 4, "spec": str(SPEC)},
        )
    run_id = results[0]["run_id"]
    if len(results) == 1:
        return react_action("get_performance_metrics", {"run_ids": [run_id]})
    if len(results) == 2:
        return react_action(
            "analyze_test_results",
            {"test_results": [run_id], "slo": {"p95_ms": 250, "error_rate": 0.01}},
        )
    load, _metrics, analysis = results
    return react_answer(
        f"Load run {run_id}: {load['total_requests']} requests at "
        f"{load['achieved_rps']:.0f} req/s, p95 {load['latency']['p95_ms']:.2f} ms. "
        f"Verdict {analysis['verdict'].upper()}: {analysis['summary'][:200]}"
    )


def security_script(messages: list[Message]) -> str:
    url = context_url(messages)
    seen = observations(messages)
    results = observed_results(messages)
    if not seen:
        return react_action(
            "generate_security_test_scenarios", {"api_spec": url, "security_focus": ["API2"]}
        )
    if len(seen) == 1:
        # The mistake: a run id that does not exist. The answer is an error the agent reads.
        return react_action(
            "compare_test_runs",
            {"baseline_results": "security-0000", "comparison_results": "security-0001"},
        )
    if len(seen) == 2:
        return react_action(
            "run_security_test",
            {"server_url": url, "max_requests": 150, "rate_limit_rps": 500, "timing_delay": 0.2},
        )
    security = results[-1]
    worst = ", ".join(f"[{f['severity']}] {f['title']}" for f in security["findings"][:3])
    return react_answer(
        f"{len(security['findings'])} finding(s) in {security['requests_sent']} requests: "
        f"{worst}. (The comparison first failed: {seen[1][:90]})"
    )


def choose_llms() -> tuple[BaseLLM | str, BaseLLM | str, BaseLLM | str]:
    wanted = os.environ.get("MOCKLOOP_EXAMPLE_MODEL", "gpt-4o-mini")
    if wanted != "scripted" and os.environ.get("OPENAI_API_KEY"):
        print(f"Model: {wanted} (OpenAI)")
        real = LLM(model=wanted, temperature=0)
        return real, real, real
    print("Model: scripted (set OPENAI_API_KEY for a real one)")
    return (
        FunctionLLM(api_testing_script()),
        FunctionLLM(performance_script),
        FunctionLLM(security_script),
    )


def build_crew(mockloop: MockLoopClient) -> Crew:
    tools = get_crew_tools(mockloop)
    llms = choose_llms()

    def agent(role: str, goal: str, tools: list[Any], llm: BaseLLM | str) -> Agent:
        return Agent(
            role=role,
            goal=goal,
            backstory="You test HTTP APIs with MockLoop's tools and report real figures.",
            tools=tools,
            llm=llm,
            allow_delegation=False,
            max_iter=8,
        )

    specialist = agent(
        "API testing specialist",
        "Serve a mock of the API and plan its tests",
        tools["api_testing"],
        llms[0],
    )
    analyst = agent(
        "Performance analyst", "Measure the API under load", tools["performance"], llms[1]
    )
    expert = agent("Security expert", "Find the API's security flaws", tools["security"], llms[2])
    tasks = [
        Task(
            description=f"Start a mock of {SPEC} and analyse it for testing.",
            expected_output="'Mock API at <url> (server <id>)', the analysis, load scenarios",
            agent=specialist,
        ),
        Task(
            description="Load test the mock API and analyse the run against p95 250 ms.",
            expected_output="requests, throughput, p95 and the verdict",
            agent=analyst,
        ),
        Task(
            description="Probe the mock API for broken authentication and other flaws.",
            expected_output="the findings, worst first",
            agent=expert,
        ),
    ]
    return Crew(
        agents=[specialist, analyst, expert],
        tasks=tasks,
        process=Process.sequential,
    )


def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-crewai-")
    with MockLoopClient(home=home) as mockloop:
        crew = build_crew(mockloop)
        try:
            output = crew.kickoff()
            assert isinstance(output, CrewOutput)
        finally:
            for server in mockloop.list_mock_servers().servers:
                if server.status == "running":
                    stopped = mockloop.stop_mock_server(server.id)
                    print(f"Stopped mock {stopped.id} (pid {stopped.pid})")
        for task in output.tasks_output:
            print(f"{task.agent}:\n  {task.raw}")
            for failure in getattr(task, "tool_failures", []):
                print(f"  tool failure seen by the agent: {failure.summary()[:140]}")
        print(f"Processes left running: {mockloop.list_mock_servers().running}")


if __name__ == "__main__":
    main()
