"""MockLoop's operations as CrewAI tools, built by one loop over the catalog.

`get_tools()` turns every catalog operation of kind "tool" or "prompt" into a `MockLoopTool`
(a CrewAI `BaseTool`) whose name, description and argument schema are the operation's own; it
runs blocking (`_run`) and async (`_arun`) and answers with the result's short summary
followed by its JSON. Resources (fixed documents, not actions) become read-only tools only
when named in `include`. Role groups (`ROLE_OPERATIONS`, `get_role_tools`, `get_crew_tools`)
give the usual three-agent crew its tools: API testing, performance, security.

A failing call never crashes the crew: the tool returns the error as text ("Error:
ConfigError: ...", what was wrong and how to fix it), as a CrewAI `ToolFailure` where the
installed CrewAI has one, so the crew also records that the call failed.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from crewai.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from mockloop import MockLoopError, MockLoopRuntimeError
from mockloop.catalog import Catalog, OperationSpec, get_catalog
from mockloop.redaction import redact_text
from mockloop_crewai.caller import (
    ClientLike,
    OperationCaller,
    error_text,
    given_arguments,
)

try:  # CrewAI 1.15+: a failure the crew records, rendered to the agent as text
    from crewai.tools.tool_failure import ToolFailure
except ImportError:  # pragma: no cover - older CrewAI: the error text alone
    ToolFailure = None

__all__ = [
    "ROLE_OPERATIONS",
    "TOOL_KINDS",
    "MockLoopTool",
    "Role",
    "get_crew_tools",
    "get_role_tools",
    "get_tools",
    "never_cache",
    "select_operations",
]

logger = logging.getLogger("mockloop_crewai")

TOOL_KINDS = ("tool", "prompt")
"""Operation kinds that become tools by default; resources only when named in `include`."""

Role = Literal["api_testing", "performance", "security"]

ROLE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "api_testing": (
        "generate_mock_api",
        "analyze_openapi_for_testing",
        "generate_scenario_config",
        "validate_scenario_config",
        "deploy_scenario",
        "query_mock_logs",
        "execute_test_plan",
    ),
    "performance": (
        "run_load_test",
        "get_performance_metrics",
        "analyze_test_results",
        "monitor_test_progress",
    ),
    "security": (
        "generate_security_test_scenarios",
        "run_security_test",
        "compare_test_runs",
        "analyze_test_results",
    ),
}
"""The operations each crew role works with (those missing from the catalog are left out)."""


def never_cache(_arguments: Any = None, _result: Any = None) -> bool:
    """CrewAI's cache policy for MockLoop tools: never reuse an answer. A load test, a log
    query or a server list measured earlier is not the answer now, and errors are not kept."""
    return False


class MockLoopTool(BaseTool):
    """One MockLoop operation as a CrewAI tool."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    operation_group: str = ""
    read_only: bool = False
    _op: OperationSpec = PrivateAttr()
    _caller: OperationCaller = PrivateAttr()

    @classmethod
    def for_operation(cls, op: OperationSpec, caller: OperationCaller) -> MockLoopTool:
        """The tool for `op`, running on `caller`'s client."""
        tool = cls(
            name=op.name,
            description=op.description + (f"\n\n{op.details}" if op.details else ""),
            args_schema=op.args_model,
            operation_group=op.group,
            read_only=op.read_only,
            cache_function=never_cache,
        )
        tool._op = op
        tool._caller = caller
        return tool

    def _arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        # CrewAI hands over every field, defaults included, as plain JSON values: keep what
        # the agent gave and validate it back into the operation's types.
        return self._op.validate_arguments(given_arguments(self._op, arguments))

    def _run(self, **arguments: Any) -> Any:
        try:
            result = self._caller.call(self.name, self._arguments(arguments))
        except Exception as exc:
            return self._failure(exc)
        return redact_text(self._caller.render(result))

    async def _arun(self, **arguments: Any) -> Any:
        try:
            result = await self._caller.acall(self.name, self._arguments(arguments))
        except Exception as exc:
            return self._failure(exc)
        return redact_text(self._caller.render(result))

    def _failure(self, exc: Exception) -> Any:
        if not isinstance(exc, MockLoopError):
            logger.exception("tool %s failed", self.name)
        message = f"Error: {redact_text(error_text(self.name, exc))}"
        if ToolFailure is None:
            return message
        return ToolFailure(
            message=message,
            code=type(exc).__name__,
            retryable=isinstance(exc, MockLoopRuntimeError),
        )


def select_operations(
    catalog: Catalog,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[OperationSpec]:
    """The operations `get_tools` exposes, in catalog order (unknown names are ConfigErrors)."""
    chosen = catalog.select(include=include, exclude=exclude, kind=None)
    named = set(include or ())
    return [op for op in chosen if op.kind in TOOL_KINDS or op.name in named]


def _tools(caller: OperationCaller, operations: list[OperationSpec]) -> list[BaseTool]:
    return [MockLoopTool.for_operation(op, caller) for op in operations]


def get_tools(
    client: ClientLike = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[BaseTool]:
    """MockLoop's operations as CrewAI tools, in catalog order.

    Args:
        client: the `MockLoopClient` (or `AsyncMockLoopClient`) the tools run on; default a new
            `MockLoopClient`, shared by every tool. Keep one for the life of the crew.
        include: only these operations (resources are exposed only when named here).
        exclude: every operation but these.
    """
    operations = select_operations(get_catalog(), include=include, exclude=exclude)
    return _tools(OperationCaller(client), operations)


def _role_operations(catalog: Catalog, role: str) -> list[OperationSpec]:
    try:
        names = ROLE_OPERATIONS[role]
    except KeyError:
        from mockloop import ConfigError

        known = ", ".join(ROLE_OPERATIONS)
        raise ConfigError(f"unknown role {role!r}; the roles are: {known}") from None
    return [catalog.get(name) for name in names if name in catalog]


def get_role_tools(role: Role, client: ClientLike = None) -> list[BaseTool]:
    """The tools of one crew role: "api_testing", "performance" or "security".

    Args:
        role: the role whose operations (`ROLE_OPERATIONS[role]`) to give.
        client: the client the tools run on (default a new `MockLoopClient`).
    """
    return _tools(OperationCaller(client), _role_operations(get_catalog(), role))


def get_crew_tools(client: ClientLike = None) -> dict[str, list[BaseTool]]:
    """The tools of every role, {role: tools}, all on one client.

    Args:
        client: the client every tool runs on (default one new `MockLoopClient`).
    """
    caller = OperationCaller(client)
    catalog = get_catalog()
    return {role: _tools(caller, _role_operations(catalog, role)) for role in ROLE_OPERATIONS}
