"""The MCP server: every operation of the MockLoop catalog, exposed by one loop.

`build_server()` returns a FastMCP server whose tools are the catalog's operations of kind
"tool" (input schema = the catalog's parameter schema, output schema = the result model's
schema), whose prompts are its operations of kind "prompt" and whose resources are its
operations of kind "resource". There is no per-tool code: an operation added to the client
appears here.

A tool call validates its arguments, runs the operation on the async client (blocking work
runs in threads, so the event loop never stalls), forwards progress as MCP progress
notifications, and answers with structured content plus a short text summary. Any error,
MockLoop's or not, comes back as an `isError` result that says what was wrong; the server
keeps serving.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.prompts import Prompt
from mcp.server.fastmcp.resources import FunctionResource
from mcp.types import ContentBlock, TextContent, ToolAnnotations
from mcp.types import Tool as MCPTool
from pydantic import BaseModel

from mockloop import AsyncMockLoopClient, MockLoopError, MockLoopUserError
from mockloop.audit import using_face
from mockloop.catalog import Catalog, OperationSpec, get_catalog
from mockloop.progress import progress_to

__all__ = ["MockLoopMCP", "build_server"]

logger = logging.getLogger("mockloop_mcp")

INSTRUCTIONS = (
    "MockLoop turns OpenAPI descriptions into running mock APIs and tests APIs. Start with "
    "generate_mock_api (it returns the mock's business_url and admin_url), call the API, then "
    "query_mock_logs for what was received and manage_mock_data to change responses and "
    "scenarios at run time. Errors say what was wrong and how to fix it."
)


def _annotations(op: OperationSpec) -> ToolAnnotations:
    return ToolAnnotations(
        title=op.name.replace("_", " ").capitalize(),
        readOnlyHint=op.read_only,
        destructiveHint=op.destructive if not op.read_only else False,
        idempotentHint=op.read_only,
        openWorldHint=not op.read_only,
    )


def _output_schema(op: OperationSpec) -> dict[str, Any] | None:
    model = op.result_model
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        return None
    schema = model.model_json_schema(mode="serialization")
    return schema if schema.get("type") == "object" else None


def _error_text(op_name: str, exc: BaseException) -> str:
    if isinstance(exc, MockLoopUserError):
        return f"{type(exc).__name__}: {exc} (fix the arguments of {op_name} and call it again)"
    if isinstance(exc, MockLoopError):
        return f"{type(exc).__name__}: {exc}"
    return (
        f"{op_name} failed inside MockLoop ({type(exc).__name__}: {exc}); the server keeps "
        "running: check the arguments, or report this error"
    )


class MockLoopMCP(FastMCP):
    """FastMCP whose tools come from the MockLoop catalog (listing and calling)."""

    def __init__(
        self,
        *,
        client: AsyncMockLoopClient | None = None,
        catalog: Catalog | None = None,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        **settings: Any,
    ) -> None:
        from mockloop_mcp import __version__

        super().__init__(name="mockloop", instructions=INSTRUCTIONS, **settings)
        self._mcp_server.version = __version__
        self.client = client if client is not None else AsyncMockLoopClient()
        self.catalog = catalog if catalog is not None else get_catalog()
        self.operations = {
            op.name: op for op in self.catalog.select(include=include, exclude=exclude, kind=None)
        }
        for op in self.operations.values():
            if op.kind == "prompt":
                self.add_prompt(self._prompt(op))
            elif op.kind == "resource":
                self.add_resource(self._resource(op))

    # -- tools ------------------------------------------------------------------------------

    def tool_operations(self) -> list[OperationSpec]:
        """The operations served as tools, in catalog order."""
        return [op for op in self.operations.values() if op.kind == "tool"]

    async def list_tools(self) -> list[MCPTool]:
        return [
            MCPTool(
                name=op.name,
                title=op.name.replace("_", " ").capitalize(),
                description=op.description + (f"\n\n{op.details}" if op.details else ""),
                inputSchema=op.parameters_schema,
                outputSchema=_output_schema(op),
                annotations=_annotations(op),
            )
            for op in self.tool_operations()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any]
    ) -> Sequence[ContentBlock] | dict[str, Any] | tuple[list[ContentBlock], dict[str, Any]]:
        op = self.operations.get(name)
        if op is None or op.kind != "tool":
            known = ", ".join(op.name for op in self.tool_operations())
            raise ToolError(f"unknown tool {name!r}; the tools are: {known}")
        try:
            kwargs = op.validate_arguments(arguments)
        except MockLoopError as exc:
            raise ToolError(_error_text(name, exc)) from None
        context = self.get_context()
        try:
            with using_face("mcp", _session_id(context)), progress_to(_progress_sender(context)):
                result = await getattr(self.client, name)(**kwargs)
        except Exception as exc:
            if not isinstance(exc, MockLoopError):
                logger.exception("tool %s failed", name)
            raise ToolError(_error_text(name, exc)) from None
        structured = result.model_dump(mode="json")
        summary = result.summary() if hasattr(result, "summary") else json.dumps(structured)
        return [TextContent(type="text", text=summary)], structured

    # -- prompts and resources --------------------------------------------------------------

    def _prompt(self, op: OperationSpec) -> Prompt:
        method = getattr(self.client, op.name)

        async def render(**kwargs: Any) -> Any:
            result = await method(**op.validate_arguments(kwargs))
            messages = getattr(result, "messages", None)
            return messages if messages is not None else result.summary()

        render.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=inspect.Parameter.empty if p.required else p.default,
                    annotation=p.annotation,
                )
                for p in op.parameters
            ]
        )
        render.__annotations__ = {p.name: p.annotation for p in op.parameters}
        render.__name__ = op.name
        return Prompt.from_function(render, name=op.name, description=op.description)

    def _resource(self, op: OperationSpec) -> FunctionResource:
        method = getattr(self.client, op.name)

        async def read() -> str:
            result = await method()
            return json.dumps(result.model_dump(mode="json"), indent=2)

        return FunctionResource(
            uri=f"mockloop://{op.group}/{op.name}",  # type: ignore[arg-type]
            name=op.name,
            description=op.description,
            mime_type="application/json",
            fn=read,
        )


def _session_id(context: Context[Any, Any, Any]) -> str | None:
    """The MCP client's id when it sent one, else one id per connected session."""
    try:
        client_id = context.client_id
        session = context.request_context.session
    except (LookupError, ValueError):
        return None
    return client_id or f"mcp-session-{id(session):x}"


def _progress_sender(context: Context[Any, Any, Any]) -> Any:
    """Forward operation progress as MCP progress notifications (when the caller asked)."""
    try:
        meta = context.request_context.meta
    except (LookupError, ValueError):
        return None
    if meta is None or getattr(meta, "progressToken", None) is None:
        return None

    async def send(done: float, total: float | None, message: str | None) -> None:
        await context.report_progress(done, total, message)

    return send


def build_server(
    *,
    client: AsyncMockLoopClient | None = None,
    catalog: Catalog | None = None,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    **settings: Any,
) -> MockLoopMCP:
    """The MockLoop MCP server (FastMCP settings such as host and port pass through)."""
    return MockLoopMCP(client=client, catalog=catalog, include=include, exclude=exclude, **settings)
