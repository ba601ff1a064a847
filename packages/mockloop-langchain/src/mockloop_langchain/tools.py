"""MockLoop's operations as LangChain tools, built by one loop over the catalog.

`get_tools()` turns every catalog operation of kind "tool" or "prompt" into a
`StructuredTool`: its name, description and argument schema are the operation's own, it runs
blocking (`tool.invoke`) and async (`tool.ainvoke`), and it answers with the result's short
summary followed by its JSON (the message content), the typed result riding along as the
message's artifact. Resources are fixed documents rather than actions: they become read-only tools
only when named in `include`. The API tools of running plugins join them (from the core
provider `mockloop.tools.plugins`), with the plugin's JSON schema as their argument schema.

Long operations (load and security tests, plans, starting mocks) report progress as LangChain
custom events named `mockloop_progress` on the tool run's callbacks.

A failing call never raises into the agent loop: a MockLoop error or bad arguments come back
as a `ToolMessage` with `status="error"` whose text says what was wrong and how to fix it.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from mockloop import MockLoopError
from mockloop.catalog import OperationSpec, get_catalog
from mockloop.progress import ProgressCallback
from mockloop.redaction import redact_text
from mockloop.tools.errors import error_text
from mockloop.tools.plugins import PluginTool, PluginTools
from mockloop.tools.selection import (
    TOOL_KINDS,
    choose_tools,
    select_operations,
    select_plugin_tools,
)
from mockloop_langchain.caller import ClientLike, OperationCaller, given_arguments

__all__ = [
    "PROGRESS_EVENT",
    "TOOL_KINDS",
    "get_tools",
    "select_operations",
    "tool_for_operation",
    "tool_for_plugin_tool",
]

logger = logging.getLogger("mockloop_langchain")

PROGRESS_EVENT = "mockloop_progress"
"""The name of the custom callback event a long operation's progress reports arrive as."""


def _progress_events(op: OperationSpec, callbacks: Any) -> ProgressCallback | None:
    """Forward the operation's progress to LangChain callbacks as custom events.

    Each report becomes `on_custom_event(PROGRESS_EVENT, {"operation", "done", "total",
    "message"}, run_id=<the tool run's id>)` on the handlers of the tool call, so a callback
    handler (or `astream_events`, as `on_custom_event`) sees a long load or security test move.
    """
    if callbacks is None or not getattr(callbacks, "handlers", None):
        return None
    run_id = getattr(callbacks, "parent_run_id", None)

    def send(done: float, total: float | None, message: str | None) -> Any:
        data = {"operation": op.name, "done": done, "total": total, "message": message}
        return callbacks.on_custom_event(PROGRESS_EVENT, data, run_id=run_id)

    return send


def tool_for_operation(op: OperationSpec, caller: OperationCaller) -> StructuredTool:
    """One operation as a LangChain `StructuredTool` running on `caller`'s client."""

    # LangChain passes `callbacks` (the tool run's child callback manager) to a function that
    # declares it; it is not part of the tool's arguments.
    def run(callbacks: Any = None, **arguments: Any) -> tuple[str, Any]:
        try:
            result = caller.call(
                op.name,
                given_arguments(op, arguments),
                progress=_progress_events(op, callbacks),
            )
        except Exception as exc:
            raise _tool_exception(op.name, exc) from exc
        return redact_text(caller.render(result)), result

    async def arun(callbacks: Any = None, **arguments: Any) -> tuple[str, Any]:
        try:
            result = await caller.acall(
                op.name,
                given_arguments(op, arguments),
                progress=_progress_events(op, callbacks),
            )
        except Exception as exc:
            raise _tool_exception(op.name, exc) from exc
        return redact_text(caller.render(result)), result

    return StructuredTool(
        name=op.name,
        description=op.description + (f"\n\n{op.details}" if op.details else ""),
        args_schema=op.args_model,
        func=run,
        coroutine=arun,
        response_format="content_and_artifact",
        handle_tool_error=True,
        # LangChain checks args_schema itself: its refusals are audited (outcome invalid)
        handle_validation_error=lambda exc: caller.rejected(op, exc),
        tags=["mockloop", op.group, op.kind],
        metadata={
            "mockloop_group": op.group,
            "mockloop_kind": op.kind,
            "read_only": op.read_only,
            "destructive": op.destructive,
            "long_running": op.long_running,
            "mockloop_roles": list(op.roles),
            "mockloop_tags": list(op.tags),
        },
    )


def tool_for_plugin_tool(
    tool: PluginTool, plugins: PluginTools, caller: OperationCaller
) -> StructuredTool:
    """One plugin API tool as a LangChain `StructuredTool`, called through `plugins`.

    Its argument schema is the plugin's JSON schema as published (LangChain passes the
    arguments through unchanged); they are checked against it when the tool is called.
    """

    def run(**arguments: Any) -> tuple[str, Any]:
        try:
            result = caller.run(plugins.call(tool.name, tool.arguments(arguments)))
        except Exception as exc:
            raise _tool_exception(tool.name, exc) from exc
        return redact_text(caller.render(result)), result

    async def arun(**arguments: Any) -> tuple[str, Any]:
        try:
            result = await plugins.call(tool.name, tool.arguments(arguments))
        except Exception as exc:
            raise _tool_exception(tool.name, exc) from exc
        return redact_text(caller.render(result)), result

    return StructuredTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.input_schema,
        func=run,
        coroutine=arun,
        response_format="content_and_artifact",
        handle_tool_error=True,
        tags=["mockloop", "plugin", tool.plugin_name],
        metadata={
            "mockloop_plugin": tool.plugin_name,
            "read_only": tool.read_only,
            "destructive": tool.destructive,
        },
    )


def _tool_exception(name: str, exc: Exception) -> ToolException:
    if not isinstance(exc, MockLoopError):
        logger.exception("tool %s failed", name)
    return ToolException(error_text(name, exc))


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
    """MockLoop's operations as LangChain tools (sync and async), in catalog order, then the
    plugins' API tools.

    Args:
        client: the `MockLoopClient` (or `AsyncMockLoopClient`) the tools run on; default a new
            `MockLoopClient`, shared by every tool. Keep one for the life of the agent.
        include: only these operations (resources are exposed only when named here).
        exclude: every operation but these.
        groups: only operations of these capabilities ("mock", "load", ...).
        roles: only operations of these agent roles ("api_testing", "performance",
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
    tools: list[BaseTool] = [tool_for_operation(op, caller) for op in operations]
    if not wanted:
        return tools
    plugins = PluginTools(caller.async_client, face=caller.face)
    caller.run(plugins.discover())
    return tools + [
        tool_for_plugin_tool(tool, plugins, caller)
        for tool in select_plugin_tools(plugins.tools(), read_only)
    ]
