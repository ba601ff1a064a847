"""MockLoop's operations as LangChain tools, built by one loop over the catalog.

`get_tools()` turns every catalog operation of kind "tool" or "prompt" into a
`StructuredTool`: its name, description and argument schema are the operation's own, it runs
blocking (`tool.invoke`) and async (`tool.ainvoke`), and it answers with the result's short
summary followed by its JSON (the message content), the typed result riding along as the
message's artifact. Resources are fixed documents rather than actions: they become read-only tools
only when named in `include`.

Long operations (load and security tests, plans, starting mocks) report progress as LangChain
custom events named `mockloop_progress` on the tool run's callbacks.

A failing call never raises into the agent loop: a MockLoop error or bad arguments come back
as a `ToolMessage` with `status="error"` whose text says what was wrong and how to fix it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import ValidationError

from mockloop import MockLoopError
from mockloop.catalog import Catalog, OperationSpec, get_catalog
from mockloop.progress import ProgressCallback
from mockloop.redaction import redact_text
from mockloop_langchain.caller import (
    ClientLike,
    OperationCaller,
    error_text,
    given_arguments,
)

__all__ = ["PROGRESS_EVENT", "TOOL_KINDS", "get_tools", "select_operations", "tool_for_operation"]

logger = logging.getLogger("mockloop_langchain")

PROGRESS_EVENT = "mockloop_progress"
"""The name of the custom callback event a long operation's progress reports arrive as."""

TOOL_KINDS = ("tool", "prompt")
"""Operation kinds that become tools by default; resources only when named in `include`."""


def select_operations(
    catalog: Catalog,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[OperationSpec]:
    """The operations `get_tools` exposes, in catalog order (unknown names are ConfigErrors)."""
    chosen = catalog.select(include=include, exclude=exclude, kind=None)
    named = set(include or ())
    return [op for op in chosen if op.kind in TOOL_KINDS or op.name in named]


def _validation_error_text(op: OperationSpec) -> Callable[[Any], str]:
    def describe(exc: ValidationError) -> str:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(arguments)'}: {error['msg']}"
            for error in exc.errors()
        )
        return (
            f"ConfigError: invalid arguments for {op.name}: {problems} (fix the arguments of "
            f"{op.name} and call it again)"
        )

    return describe


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
            raise _tool_exception(op, exc) from exc
        return redact_text(caller.render(result)), result

    async def arun(callbacks: Any = None, **arguments: Any) -> tuple[str, Any]:
        try:
            result = await caller.acall(
                op.name,
                given_arguments(op, arguments),
                progress=_progress_events(op, callbacks),
            )
        except Exception as exc:
            raise _tool_exception(op, exc) from exc
        return redact_text(caller.render(result)), result

    return StructuredTool(
        name=op.name,
        description=op.description + (f"\n\n{op.details}" if op.details else ""),
        args_schema=op.args_model,
        func=run,
        coroutine=arun,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_validation_error_text(op),
        tags=["mockloop", op.group, op.kind],
        metadata={
            "mockloop_group": op.group,
            "mockloop_kind": op.kind,
            "read_only": op.read_only,
            "destructive": op.destructive,
            "long_running": op.long_running,
        },
    )


def _tool_exception(op: OperationSpec, exc: Exception) -> ToolException:
    if not isinstance(exc, MockLoopError):
        logger.exception("tool %s failed", op.name)
    return ToolException(redact_text(error_text(op.name, exc)))


def get_tools(
    client: ClientLike = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
) -> list[BaseTool]:
    """MockLoop's operations as LangChain tools (sync and async), in catalog order.

    Args:
        client: the `MockLoopClient` (or `AsyncMockLoopClient`) the tools run on; default a new
            `MockLoopClient`, shared by every tool. Keep one for the life of the agent.
        include: only these operations (resources are exposed only when named here).
        exclude: every operation but these.
    """
    caller = OperationCaller(client)
    return [
        tool_for_operation(op, caller)
        for op in select_operations(get_catalog(), include=include, exclude=exclude)
    ]
