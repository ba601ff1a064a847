"""A LangChain agent tests an API with MockLoop's tools.

Part 1: the agent gets every MockLoop operation as a LangChain tool
(`mockloop_langchain.get_tools`) and works through a full testing workflow: it starts a mock
of the bundled petstore description, opens a test session context, analyses the description,
generates an error scenario, deploys it, runs the scenario's test plan, analyses the run and
stops the mock. One of its calls is wrong on purpose: the error comes back as a tool message it
reads and fixes.

Part 2: tools of your own that wrap several `MockLoopClient` calls each (a mock generation
plus analysis; a full testing workflow: session context, generated scenarios, deploy, execute
their plans, analyse), given to an agent beside MockLoop's own `stop_mock_server`.

    python examples/langchain_agent.py

Runs offline with a scripted model (no API key needed). With OPENAI_API_KEY set and
`langchain-openai` installed, a real model (MOCKLOOP_EXAMPLE_MODEL, default gpt-4o-mini) drives
the same tools instead; MOCKLOOP_EXAMPLE_MODEL=scripted keeps the script. State goes to
MOCKLOOP_HOME (a temporary folder unless you set one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, ToolException, tool

from mockloop import MockLoopClient, MockLoopError
from mockloop_langchain import get_tools
from mockloop_langchain.testing import FunctionChatModel, call_tool, tool_results

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"
WORKFLOW_TASK = (
    f"Start a mock of {SPEC} and analyse it, run the full testing workflow with load and error "
    "scenarios against it, then stop the mock."
)
TASK = (
    f"Start a mock of the API described in {SPEC} (auth simulation off), open a test session "
    "context, analyse the description, generate one error scenario, deploy it, run its test "
    "plan, analyse the results and stop the mock. Report the figures."
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Step = tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]


def scripted_model() -> FunctionChatModel:
    """A model that works through the testing workflow, reading each tool's result."""
    ports = (free_port(), free_port())

    def latest(messages: list[BaseMessage]) -> dict[str, Any]:
        names = {m.name for m in messages if isinstance(m, ToolMessage) and m.name}
        return {
            name: tool_results(messages, name)[-1] for name in names if tool_results(messages, name)
        }

    steps: list[Step] = [
        (
            "generate_mock_api",
            lambda r: {
                "spec_url_or_path": str(SPEC),
                "output_dir_name": "langchain_agent_petstore",
                "business_port": ports[0],
                "admin_port": ports[1],
                "auth_enabled": False,
                "overwrite": True,
            },
        ),
        (
            "create_test_session_context",
            lambda r: {
                "session_name": "langchain_agent_run",
                "configuration": {"test_type": "integration", "agent": "langchain"},
            },
        ),
        # The mistake: "exhaustive" is no analysis depth; the error message says which are.
        (
            "analyze_openapi_for_testing",
            lambda r: {
                "api_spec": r["generate_mock_api"]["business_url"],
                "analysis_depth": "exhaustive",
            },
        ),
        (
            "analyze_openapi_for_testing",
            lambda r: {
                "api_spec": r["generate_mock_api"]["business_url"],
                "analysis_depth": "standard",
            },
        ),
        (
            "generate_scenario_config",
            lambda r: {
                "api_spec": r["generate_mock_api"]["business_url"],
                "scenario_type": "error",
            },
        ),
        (
            "deploy_scenario",
            lambda r: {
                "server_url": r["generate_mock_api"]["business_url"],
                "scenario_config": r["generate_scenario_config"]["scenarios"][0],
                "activate": True,
            },
        ),
        (
            "execute_test_plan",
            lambda r: {
                "server_url": r["generate_mock_api"]["business_url"],
                "test_plan": r["generate_scenario_config"]["scenarios"][0]["test_plan"],
                "context_id": r["create_test_session_context"]["context_id"],
            },
        ),
        (
            "analyze_test_results",
            lambda r: {
                "test_results": [r["execute_test_plan"]["run_id"]],
                "context_id": r["create_test_session_context"]["context_id"],
                "include_recommendations": True,
            },
        ),
        ("stop_mock_server", lambda r: {"server": r["generate_mock_api"]["server_id"]}),
    ]

    def script(messages: list[BaseMessage], tools: list[str]) -> AIMessage | str:
        done = sum(1 for m in messages if isinstance(m, AIMessage) and m.tool_calls)
        if done < len(steps):
            name, arguments = steps[done]
            return call_tool(name, arguments(latest(messages)))
        analysis = latest(messages)["analyze_test_results"]
        return f"Done. {analysis['summary']}"

    return FunctionChatModel(function=script)


def workflow_tools(mockloop: MockLoopClient) -> list[BaseTool]:
    """Two tools of your own, each wrapping several MockLoop calls on one client."""

    @tool
    def mock_and_analyse(spec_path: str, business_port: int, admin_port: int) -> str:
        """Start a mock API from an OpenAPI description and analyse the description for testing.

        Args:
            spec_path: the OpenAPI description (file path or URL).
            business_port: a free port for the mocked API.
            admin_port: a free port for the mock's admin API.
        """
        try:
            mock = mockloop.generate_mock_api(
                spec_url_or_path=spec_path,
                output_dir_name="langchain_workflow_petstore",
                business_port=business_port,
                admin_port=admin_port,
                overwrite=True,
            )
            analysis = mockloop.analyze_openapi_for_testing(
                api_spec=spec_path, analysis_depth="comprehensive", include_security_tests=True
            )
        except MockLoopError as error:
            raise ToolException(f"{type(error).__name__}: {error}") from error
        return json.dumps(
            {
                "business_url": mock.business_url,
                "server_id": mock.server_id,
                "analysis": analysis["summary"],
                "scenarios": [scenario["name"] for scenario in analysis["scenarios"]],
            }
        )

    @tool
    def run_testing_workflow(server_url: str, scenario_types: list[str]) -> str:
        """Test a mock: session context, generated scenarios, deploy each and run its plan, analyse.

        Args:
            server_url: the mock's URL.
            scenario_types: the kinds of scenario to generate, e.g. ["load", "error"].
        """
        try:
            session = mockloop.create_test_session_context(
                session_name="langchain_testing_workflow",
                configuration={"test_type": "integration", "environment": "mock"},
            )
            generated = mockloop.generate_scenario_config(
                api_spec=server_url, scenario_types=scenario_types, ai_optimization=True
            )
            lines = []
            for scenario in generated:
                mockloop.deploy_scenario(
                    server_url=server_url, scenario_config=scenario, activate=True
                )
                plan = mockloop.execute_test_plan(
                    server_url=server_url,
                    test_plan=scenario["test_plan"],
                    context_id=session["context_id"],
                )
                lines.append(f"{scenario['name']}: {plan.summary().split(' (')[0]}")
            final = mockloop.analyze_test_results(
                context_id=session["context_id"], include_recommendations=True
            )
        except MockLoopError as error:
            raise ToolException(f"{type(error).__name__}: {error}") from error
        return "\n".join([*lines, final["summary"]])

    for made in (mock_and_analyse, run_testing_workflow):
        made.handle_tool_error = True
    return [mock_and_analyse, run_testing_workflow]


def scripted_workflow_model() -> FunctionChatModel:
    """A model that calls the two workflow tools, then stops the mock."""
    ports = (free_port(), free_port())

    def script(messages: list[BaseMessage], tools: list[str]) -> AIMessage | str:
        done = sum(1 for m in messages if isinstance(m, AIMessage) and m.tool_calls)
        if done == 0:
            return call_tool(
                "mock_and_analyse",
                {"spec_path": str(SPEC), "business_port": ports[0], "admin_port": ports[1]},
            )
        mock = tool_results(messages, "mock_and_analyse")[-1]
        if done == 1:
            return call_tool(
                "run_testing_workflow",
                {"server_url": mock["business_url"], "scenario_types": ["load", "error"]},
            )
        if done == 2:
            return call_tool("stop_mock_server", {"server": mock["server_id"]})
        workflow = next(
            m for m in messages if isinstance(m, ToolMessage) and m.name == "run_testing_workflow"
        )
        return f"Done. {str(workflow.content).splitlines()[-1]}"

    return FunctionChatModel(function=script)


def choose_model(script: Callable[[], FunctionChatModel]) -> BaseChatModel:
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
    return script()


def run_agent(
    model: BaseChatModel, tools: list[BaseTool], task: str, max_turns: int = 16
) -> list[BaseMessage]:
    """The agent loop: the model asks for tools, the tools answer, until it answers itself."""
    by_name = {tool.name: tool for tool in tools}
    bound = model.bind_tools(tools)
    messages: list[BaseMessage] = [
        SystemMessage("You test HTTP APIs with MockLoop's tools. Read each tool's result."),
        HumanMessage(task),
    ]
    for _ in range(max_turns):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not isinstance(reply, AIMessage) or not reply.tool_calls:
            break
        for call in reply.tool_calls:
            tool = by_name.get(call["name"])
            if tool is None:
                answer = ToolMessage(
                    f"unknown tool {call['name']}", tool_call_id=call["id"], status="error"
                )
            else:
                answer = tool.invoke({**call, "type": "tool_call"})
            messages.append(answer)
    return messages


def report(messages: list[BaseMessage]) -> None:
    """Each tool call with its outcome, then the agent's answer."""
    calls = {
        call["id"]: call for m in messages if isinstance(m, AIMessage) for call in m.tool_calls
    }
    for message in messages:
        if not isinstance(message, ToolMessage):
            continue
        call = calls.get(message.tool_call_id, {})
        arguments = json.dumps(call.get("args", {}), default=str)
        lines = str(message.content).splitlines() or [""]
        print(f"- {message.name}({arguments[:70]}{'...' if len(arguments) > 70 else ''})")
        print(f"    {message.status}: {lines[0][:160]}")
        for line in lines[1:] if message.name == "run_testing_workflow" else []:
            print(f"      {line[:150]}")
    final = messages[-1]
    print(f"Agent: {final.content if isinstance(final, AIMessage) else '(no answer)'}")


def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-langchain-")
    with MockLoopClient(home=home) as mockloop:
        tools = get_tools(mockloop)
        try:
            print("== Part 1: an agent with MockLoop's tools")
            print(f"{len(tools)} tools, e.g. {', '.join(t.name for t in tools[:4])}, ...")
            report(run_agent(choose_model(scripted_model), tools, TASK))

            print("== Part 2: an agent with two workflow tools of your own")
            own = [*workflow_tools(mockloop), *get_tools(mockloop, include=["stop_mock_server"])]
            report(run_agent(choose_model(scripted_workflow_model), own, WORKFLOW_TASK))
        finally:
            left = [s for s in mockloop.list_mock_servers().servers if s.status == "running"]
            for server in left:  # whatever the model forgot to stop
                mockloop.stop_mock_server(server.id)
        print(f"Processes left running: {mockloop.list_mock_servers().running}")


if __name__ == "__main__":
    main()
