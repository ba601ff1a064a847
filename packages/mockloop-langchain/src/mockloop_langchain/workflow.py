"""A prebuilt LangGraph testing workflow: mock, analyse, deploy scenarios, load, probe, analyse.

`build_testing_workflow(client)` returns a `StateGraph` over `TestingWorkflowState`; compile it
to run it on its own (`.compile().invoke({"spec": "petstore.yaml"})`) or add the compiled graph
as a node of a larger graph (a subgraph sharing the state's keys). Its nodes call the MockLoop
client and keep every result, as JSON, in the state:

    setup     generate_mock_api from `spec` and start it (or use `server_url` as it is)
    analyse   analyze_openapi_for_testing: the description's test scenarios
    deploy    deploy_scenario for the first `max_scenarios` scenarios, load-type ones first
    load      run_load_test once per deployed scenario (else once over the description)
    security  run_security_test against the API
    report    analyze_test_results over every run: verdict, figures, recommendations
    teardown  stop_mock_server for the mock setup started (unless `keep_mock`)

A step that fails records what went wrong in `errors` and the workflow carries on with what it
has; without a server to test it goes straight to teardown. Nothing is ever raised.

Unlike the tool sets, this graph names its operations: it is a recipe (which operation feeds
which, with what arguments), not a list of tools. Each step looks its operation up in the
catalog and validates its arguments there, so a renamed operation or option is an error the
step records in `errors` (only `analyse`, which the rest can do without, notes a skip).
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from mockloop import MockLoopError
from mockloop.catalog import Catalog, get_catalog
from mockloop.results import summary_of
from mockloop_langchain.caller import ClientLike, OperationCaller, error_text

__all__ = ["TestingWorkflowState", "build_testing_workflow"]

logger = logging.getLogger("mockloop_langchain")

DEFAULT_LOAD_OPTIONS: dict[str, Any] = {"duration": 5.0, "concurrent_users": 5}
DEFAULT_SECURITY_OPTIONS: dict[str, Any] = {"max_requests": 200, "rate_limit_rps": 200.0}
DEFAULT_MAX_SCENARIOS = 3


class TestingWorkflowState(TypedDict, total=False):
    """What the testing workflow reads (inputs) and writes (results, as JSON)."""

    spec: str
    """Input: the OpenAPI description (path or URL) to mock and test."""
    server_url: str
    """Input or setup's output: the API under test (give it to test a running mock)."""
    mock_options: dict[str, Any]
    """Input: extra generate_mock_api arguments (business_port, admin_port, stateful, ...)."""
    load_options: dict[str, Any]
    """Input: extra run_load_test arguments (default duration 5 s, 5 users)."""
    security_options: dict[str, Any]
    """Input: extra run_security_test arguments (default 200 requests at up to 200/s)."""
    max_scenarios: int
    """Input: how many of the analysed scenarios to deploy and load (default 3; load-type
    scenarios first)."""
    keep_mock: bool
    """Input: leave the mock setup started running at the end (default False)."""
    mock: dict[str, Any]
    """generate_mock_api's result."""
    spec_analysis: dict[str, Any]
    """analyze_openapi_for_testing's result."""
    scenarios: list[dict[str, Any]]
    """The scenario configurations chosen for deployment."""
    deployed: list[str]
    """Names of the scenarios deployed on the mock."""
    load_results: list[dict[str, Any]]
    """run_load_test's results, one per deployed scenario (or one)."""
    security_results: dict[str, Any]
    """run_security_test's result."""
    analysis: dict[str, Any]
    """analyze_test_results' result over every run: the workflow's conclusion."""
    notes: list[str]
    """What each step did, in order, in words."""
    errors: list[str]
    """What went wrong, step by step (the workflow carries on)."""


class _Steps:
    """The workflow's nodes, sharing one caller."""

    def __init__(self, caller: OperationCaller, catalog: Catalog) -> None:
        self.caller = caller
        self.catalog = catalog

    def _call(self, name: str, arguments: dict[str, Any], **optional: Any) -> Any:
        """Run `name` with `arguments` (validated: a typo in an option is an error) plus the
        `optional` ones this version of the operation accepts."""
        op = self.catalog.get(name)
        accepted = {p.name for p in op.parameters}
        wanted = {**{k: v for k, v in optional.items() if k in accepted}, **arguments}
        return self.caller.call(name, op.validate_arguments(wanted))

    @staticmethod
    def _failed(state: TestingWorkflowState, step: str, op: str, exc: Exception) -> list[str]:
        if not isinstance(exc, MockLoopError):
            logger.exception("workflow step %s failed", step)
        return [*state.get("errors", []), f"{step}: {error_text(op, exc)}"]

    @staticmethod
    def _noted(state: TestingWorkflowState, *notes: str) -> list[str]:
        return [*state.get("notes", []), *notes]

    def setup(self, state: TestingWorkflowState) -> dict[str, Any]:
        given = state.get("server_url")
        if given:
            return {"notes": self._noted(state, f"setup: testing {given}")}
        spec = state.get("spec")
        if not spec:
            problem = "setup: give spec (an OpenAPI description) or server_url (a running API)"
            return {"errors": [*state.get("errors", []), problem]}
        options = state.get("mock_options", {})
        try:
            mock = self._call("generate_mock_api", {"spec_url_or_path": spec, **options})
        except Exception as exc:
            return {"errors": self._failed(state, "setup", "generate_mock_api", exc)}
        return {
            "mock": mock.model_dump(mode="json"),
            "server_url": mock.business_url,
            "notes": self._noted(
                state, f"setup: mock of {spec} at {mock.business_url} (admin {mock.admin_url})"
            ),
        }

    def analyse(self, state: TestingWorkflowState) -> dict[str, Any]:
        name = "analyze_openapi_for_testing"
        if name not in self.catalog:
            return {"notes": self._noted(state, f"analyse: skipped ({name} is not available)")}
        try:
            result = self._call(
                name,
                {"api_spec": state.get("spec") or state.get("server_url", "")},
                analysis_depth="comprehensive",
                include_security_tests=True,
            )
        except Exception as exc:
            return {"errors": self._failed(state, "analyse", name, exc)}
        data = result.model_dump(mode="json")
        found = [s for s in data.get("scenarios") or [] if isinstance(s, dict)]
        # Load-shaped scenarios (latency, stress, spike) first: the next steps load test them.
        found.sort(key=lambda scenario: scenario.get("type") != "load")
        chosen = found[: state.get("max_scenarios", DEFAULT_MAX_SCENARIOS)]
        return {
            "spec_analysis": data,
            "scenarios": chosen,
            "notes": self._noted(
                state, f"analyse: {summary_of(result, 300)} ({len(chosen)} scenario(s) chosen)"
            ),
        }

    def deploy(self, state: TestingWorkflowState) -> dict[str, Any]:
        deployed: list[str] = []
        errors = list(state.get("errors", []))
        for scenario in state.get("scenarios", []):
            try:
                result = self._call(
                    "deploy_scenario",
                    {"server_url": state.get("server_url", ""), "scenario_config": scenario},
                )
            except Exception as exc:
                errors = self._failed({**state, "errors": errors}, "deploy", "deploy_scenario", exc)
                continue
            deployed.append(result.scenario_name)
        note = f"deploy: {len(deployed)} scenario(s) deployed" + (
            f" ({', '.join(deployed)})" if deployed else ""
        )
        return {"deployed": deployed, "errors": errors, "notes": self._noted(state, note)}

    def load(self, state: TestingWorkflowState) -> dict[str, Any]:
        url = state.get("server_url", "")
        options = {**DEFAULT_LOAD_OPTIONS, **state.get("load_options", {})}
        spec = state.get("spec") or f"{url.rstrip('/')}/openapi.json"
        runs: list[dict[str, Any]] = []
        errors = list(state.get("errors", []))
        notes: list[str] = []
        for scenario in state.get("deployed") or [None]:
            mix = {"scenario_name": scenario} if scenario else {"spec": spec}
            try:
                result = self._call("run_load_test", {"server_url": url, **mix, **options})
            except Exception as exc:
                errors = self._failed({**state, "errors": errors}, "load", "run_load_test", exc)
                continue
            runs.append(result.model_dump(mode="json"))
            notes.append(f"load: {summary_of(result, 300)}")
        return {"load_results": runs, "errors": errors, "notes": self._noted(state, *notes)}

    def security(self, state: TestingWorkflowState) -> dict[str, Any]:
        options = {**DEFAULT_SECURITY_OPTIONS, **state.get("security_options", {})}
        try:
            result = self._call(
                "run_security_test",
                {
                    "server_url": state.get("server_url", ""),
                    "api_spec": state.get("spec"),
                    **options,
                },
            )
        except Exception as exc:
            return {"errors": self._failed(state, "security", "run_security_test", exc)}
        return {
            "security_results": result.model_dump(mode="json"),
            "notes": self._noted(state, f"security: {summary_of(result, 300)}"),
        }

    def report(self, state: TestingWorkflowState) -> dict[str, Any]:
        runs = [*state.get("load_results", [])]
        security = state.get("security_results")
        if security:
            runs.append(security)
        if not runs:
            return {"notes": self._noted(state, "report: no test run to analyse")}
        try:
            result = self._call(
                "analyze_test_results", {"test_results": runs, "include_recommendations": True}
            )
        except Exception as exc:
            return {"errors": self._failed(state, "report", "analyze_test_results", exc)}
        return {
            "analysis": result.model_dump(mode="json"),
            "notes": self._noted(state, f"report: {summary_of(result, 300)}"),
        }

    def teardown(self, state: TestingWorkflowState) -> dict[str, Any]:
        mock = state.get("mock") or {}
        server = mock.get("server_id") or (str(mock["pid"]) if mock.get("pid") else None)
        if not server or state.get("keep_mock"):
            return {}
        try:
            stopped = self._call("stop_mock_server", {"server": server})
        except Exception as exc:
            return {"errors": self._failed(state, "teardown", "stop_mock_server", exc)}
        return {"notes": self._noted(state, f"teardown: mock {stopped.id} {stopped.status}")}


def _after_setup(state: TestingWorkflowState) -> str:
    return "analyse" if state.get("server_url") else "teardown"


def build_testing_workflow(client: ClientLike = None) -> StateGraph:
    """The testing workflow as a `StateGraph` over `TestingWorkflowState` (compile to run).

    Args:
        client: the `MockLoopClient` (or `AsyncMockLoopClient`) the nodes call; default a new
            `MockLoopClient`. Keep one for the life of the graph.
    """
    steps = _Steps(OperationCaller(client), get_catalog())
    graph = StateGraph(TestingWorkflowState)
    for name in ("setup", "analyse", "deploy", "load", "security", "report", "teardown"):
        graph.add_node(name, getattr(steps, name))
    graph.add_edge(START, "setup")
    graph.add_conditional_edges("setup", _after_setup, ["analyse", "teardown"])
    graph.add_edge("analyse", "deploy")
    graph.add_edge("deploy", "load")
    graph.add_edge("load", "security")
    graph.add_edge("security", "report")
    graph.add_edge("report", "teardown")
    graph.add_edge("teardown", END)
    return graph
