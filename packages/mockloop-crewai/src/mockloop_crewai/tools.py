"""MockLoop's operations as CrewAI tools, built by one loop over the catalog.

`get_tools()` turns every catalog operation of kind "tool" or "prompt" into a `MockLoopTool`
(a CrewAI `BaseTool`) whose name, description and argument schema are the operation's own; it
runs blocking (`_run`) and async (`_arun`) and answers with the result's short summary
followed by its JSON. Resources (fixed documents, not actions) become read-only tools only
when named in `include`. The API tools of running plugins join them as `PluginApiTool`s (from
the core provider `mockloop.tools.plugins`). Role groups (`get_role_tools`, `get_crew_tools`)
give the usual three-agent crew its tools: API testing, performance, security; a role's tools
are the operations marked with it (`@operation(roles=...)`), `ROLE_OPERATIONS` lists them.

Bound operations of a `MockLoopClient` go straight into `Agent(tools=[...])`: each is a
CrewAI tool dict naming `MockLoopTool`, so CrewAI builds the operation's `MockLoopTool` on that
client (`MockLoopTool.model_validate`), the same tool `get_tools()` gives.

A failing call never crashes the crew: the tool returns the error as text ("Error:
ConfigError: ...", what was wrong and how to fix it), as a CrewAI `ToolFailure` where the
installed CrewAI has one, so the crew also records that the call failed.
"""

from __future__ import annotations

import logging
from typing import Any

from crewai.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from mockloop import MockLoopError, MockLoopRuntimeError
from mockloop.bound.operation import BOUND_CLIENT_KEY, BOUND_OPERATION_KEY
from mockloop.catalog import OperationSpec, Role, get_catalog
from mockloop.redaction import redact_text
from mockloop.tools.errors import error_text
from mockloop.tools.plugins import PluginTool, PluginTools
from mockloop.tools.selection import (
    TOOL_KINDS,
    choose_tools,
    role_operations,
    roles_of,
    select_operations,
    select_plugin_tools,
)
from mockloop_crewai.caller import ClientLike, OperationCaller, given_arguments

try:  # CrewAI 1.15+: a failure the crew records, rendered to the agent as text
    from crewai.tools.tool_failure import ToolFailure
except ImportError:  # pragma: no cover - older CrewAI: the error text alone
    ToolFailure = None

__all__ = [
    "ROLE_OPERATIONS",
    "TOOL_KINDS",
    "MockLoopTool",
    "PluginApiTool",
    "Role",
    "get_crew_tools",
    "get_role_tools",
    "get_tools",
    "never_cache",
    "select_operations",
]

logger = logging.getLogger("mockloop_crewai")

ROLE_OPERATIONS: dict[Role, tuple[str, ...]] = roles_of(get_catalog())
"""The operations each crew role works with, read from the catalog's role marks."""


def never_cache(_arguments: Any = None, _result: Any = None) -> bool:
    """CrewAI's cache policy for MockLoop tools: never reuse an answer. A load test, a log
    query or a server list measured earlier is not the answer now, and errors are not kept."""
    return False


def _failure(name: str, exc: Exception) -> Any:
    """What a failed call answers the crew: the error text, as a `ToolFailure` if it can."""
    if not isinstance(exc, MockLoopError):
        logger.exception("tool %s failed", name)
    message = f"Error: {error_text(name, exc)}"
    if ToolFailure is None:
        return message
    return ToolFailure(
        message=message,
        code=type(exc).__name__,
        retryable=isinstance(exc, MockLoopRuntimeError),
    )


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

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> MockLoopTool:
        """Build a tool; a bound operation of a `MockLoopClient` becomes the tool for its
        operation on that client (CrewAI validates `Agent(tools=[client.run_load_test])`
        into a tool this way: the bound operation is a tool dict naming this class)."""
        if isinstance(obj, dict) and BOUND_OPERATION_KEY in obj:
            name = obj[BOUND_OPERATION_KEY]
            return cls.for_operation(
                get_catalog().get(name), OperationCaller(obj[BOUND_CLIENT_KEY])
            )
        return super().model_validate(obj, *args, **kwargs)

    def _arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        # CrewAI hands over every field, defaults included, as plain JSON values: keep what
        # the agent gave and validate it back into the operation's types.
        # the check runs under this face, so a refusal is audited (outcome invalid)
        return self._caller.validate(self._op, given_arguments(self._op, arguments))

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
        return _failure(self.name, exc)


class PluginApiTool(BaseTool):
    """One API operation of a running plugin as a CrewAI tool (the plugin's mode answers)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    plugin_name: str = ""
    read_only: bool = False
    _tool: PluginTool = PrivateAttr()
    _plugins: PluginTools = PrivateAttr()
    _caller: OperationCaller = PrivateAttr()

    @classmethod
    def for_tool(
        cls, tool: PluginTool, plugins: PluginTools, caller: OperationCaller
    ) -> PluginApiTool:
        """The CrewAI tool for plugin tool `tool`, called through `plugins` on `caller`."""
        made = cls(
            name=tool.name,
            description=tool.description,
            args_schema=tool.args_model,
            plugin_name=tool.plugin_name,
            read_only=tool.read_only,
            cache_function=never_cache,
        )
        made._tool = tool
        made._plugins = plugins
        made._caller = caller
        return made

    def _run(self, **arguments: Any) -> Any:
        try:
            result = self._caller.run(
                self._plugins.call(self.name, self._tool.arguments(arguments))
            )
        except Exception as exc:
            return _failure(self.name, exc)
        return redact_text(self._caller.render(result))

    async def _arun(self, **arguments: Any) -> Any:
        try:
            result = await self._plugins.call(self.name, self._tool.arguments(arguments))
        except Exception as exc:
            return _failure(self.name, exc)
        return redact_text(self._caller.render(result))


def _tools(caller: OperationCaller, operations: list[OperationSpec]) -> list[BaseTool]:
    return [MockLoopTool.for_operation(op, caller) for op in operations]


def _plugin_tools(caller: OperationCaller, read_only: bool | None) -> list[BaseTool]:
    plugins = PluginTools(caller.async_client, face=caller.face)
    caller.run(plugins.discover())
    return [
        PluginApiTool.for_tool(tool, plugins, caller)
        for tool in select_plugin_tools(plugins.tools(), read_only)
    ]


def get_tools(
    client: ClientLike = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    *,
    groups: list[str] | None = None,
    roles: list[str] | None = None,
    tags: list[str] | None = None,
    read_only: bool | None = None,
    plugin_tools: bool | None = None,
) -> list[BaseTool]:
    """MockLoop's operations as CrewAI tools, in catalog order, then the plugins' API tools.

    Args:
        client: the `MockLoopClient` (or `AsyncMockLoopClient`) the tools run on; default a new
            `MockLoopClient`, shared by every tool. Keep one for the life of the crew.
        include: only these operations (resources are exposed only when named here).
        exclude: every operation but these.
        groups: only operations of these capabilities ("mock", "load", ...).
        roles: only operations of these crew roles ("api_testing", "performance",
            "security").
        tags: only operations carrying one of these tags.
        read_only: only tools that change nothing (True), or only those that do (False).
        plugin_tools: add the API tools of the plugins running now (default: yes, unless
            the set is narrowed by include, groups, roles or tags).
    """
    operations, wanted = choose_tools(
        get_catalog(),
        include=include,
        exclude=exclude,
        groups=groups,
        roles=roles,
        tags=tags,
        read_only=read_only,
        plugin_tools=plugin_tools,
    )
    caller = OperationCaller(client)
    tools = _tools(caller, operations)
    return tools + _plugin_tools(caller, read_only) if wanted else tools


def get_role_tools(role: Role, client: ClientLike = None) -> list[BaseTool]:
    """The tools of one crew role: "api_testing", "performance" or "security".

    Args:
        role: the role whose operations (those marked with it; `ROLE_OPERATIONS[role]`) to give.
        client: the client the tools run on (default a new `MockLoopClient`).
    """
    return _tools(OperationCaller(client), role_operations(get_catalog(), role))


def get_crew_tools(client: ClientLike = None) -> dict[str, list[BaseTool]]:
    """The tools of every role, {role: tools}, all on one client.

    Args:
        client: the client every tool runs on (default one new `MockLoopClient`).
    """
    caller = OperationCaller(client)
    catalog = get_catalog()
    return {role: _tools(caller, role_operations(catalog, role)) for role in ROLE_OPERATIONS}
