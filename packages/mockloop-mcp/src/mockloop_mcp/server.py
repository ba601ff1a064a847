"""The MCP server: every operation of the MockLoop catalog, exposed by one loop.

`build_server()` returns a FastMCP server whose tools are the catalog's operations of kind
"tool" and "prompt" (input schema = the catalog's parameter schema, output schema = the result
model's schema), whose prompts are its operations of kind "prompt" (their messages embed the
operation's result for the host's model; arguments arrive as strings and are converted per
parameter type) and whose resources are its operations of kind "resource", plus the scenario
packs: `scenario-pack://CATEGORY/NAME` (a resource per pack and a template for packs added
later) and the discovery resource `scenario-pack://index`. There is no per-tool code: an
operation added to the client appears here.

The API tools of MockLoop plugins are served next to them, from the core provider
(`mockloop.tools.plugins.PluginTools`): plugins already running are found on the first
listing, and after an operation tagged "adds_api_tools" (`create_mcp_plugin`) the new
plugin's tools are loaded and the client is sent `notifications/tools/list_changed`. Both
kinds of tool are served by this class's `list_tools` and `call_tool`, the FastMCP methods
its protocol handlers call: FastMCP's own tool registry (`add_tool`) builds a tool's schema
from a Python signature, while catalog and plugin tools come with their schemas already.

A tool call validates its arguments, runs the operation on the async client (blocking work
runs in threads, so the event loop never stalls), forwards progress as MCP progress
notifications, and answers with structured content plus a short text summary. Any error,
MockLoop's or not, comes back as an `isError` result that says what was wrong; the server
keeps serving. Every reply text (tool summaries, errors, prompt text, resources) goes through
the shared redaction (`mockloop.redaction.redact_text`): a secret an operation echoes back
never reaches the agent's transcript.

A tool's structured content is NOT redacted here: it is the typed result the Python client
returns for the same call, exactly (`result.model_dump(mode="json")`). It must validate
against the tool's output schema (a number or an object replaced by "[REDACTED]" would not),
and agents act on its values: the variables an agent stored in a test context and reads back,
run and delivery ids, the encoded HDR histograms analysis merges, page tokens and counts under
names such as `next_page_token` or `total_tokens`. Secrets are removed where the operations
produce their data instead: the request log, webhook history, recordings, load and test run
results and their stores, reports and the audit trail redact at their source, so what a tool
returns from them holds no secret already.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import types
import typing
from collections.abc import Sequence
from importlib.metadata import version as _version
from typing import Annotated, Any, Literal

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.prompts import Prompt
from mcp.server.fastmcp.resources import FunctionResource
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.types import ContentBlock, TextContent, ToolAnnotations
from mcp.types import Tool as MCPTool
from pydantic import BaseModel, Field

from mockloop import AsyncMockLoopClient, ConfigError, MockLoopError
from mockloop.audit import record_rejected, using_face
from mockloop.catalog import Catalog, OperationSpec, get_catalog
from mockloop.progress import progress_to
from mockloop.redaction import redact_text, redact_value
from mockloop.results import Result, summary_of
from mockloop.settings import using_home
from mockloop.tools.errors import error_text
from mockloop.tools.plugins import ADDS_API_TOOLS, PluginTool, PluginTools
from mockloop.tools.selection import TOOL_KINDS

__all__ = ["MockLoopMCP", "build_server", "coerce_argument", "session_id"]

logger = logging.getLogger("mockloop_mcp")

PACK_INDEX_URI = "scenario-pack://index"
PACK_TEMPLATE_URI = "scenario-pack://{category}/{name}"
_TRUE = {"true", "yes", "1", "on", "y"}
_FALSE = {"false", "no", "0", "off", "n"}

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


def _plugin_tool(tool: PluginTool) -> MCPTool:
    """A plugin API tool as MCP lists it (hints from its HTTP method; it reaches the world)."""
    return MCPTool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        inputSchema=tool.input_schema,
        annotations=ToolAnnotations(
            title=tool.title,
            readOnlyHint=tool.read_only,
            destructiveHint=tool.destructive,
            idempotentHint=tool.idempotent,
            openWorldHint=True,
        ),
    )


def session_id(context: Context[Any, Any, Any]) -> str | None:
    """The MCP client's id when it sent one, else one id per connected session."""
    try:
        client_id = context.client_id
        session = context.request_context.session
    except (LookupError, ValueError):
        return None
    return client_id or f"mcp-session-{id(session):x}"


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
        super().__init__(name="mockloop", instructions=INSTRUCTIONS, **settings)
        self._mcp_server.version = _version("mockloop-mcp")
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
        if "get_scenario_pack" in self.operations and "list_scenario_packs" in self.operations:
            self._add_pack_resources()
        self.plugin_tools = PluginTools(self.client, face="mcp")
        # The tool list changes when a plugin starts, so the server declares tools.listChanged.
        # FastMCP 1.x has no setting for it: the low-level server declares what the options
        # its transports ask it for say, so those options are made to say it.
        self._mcp_server.create_initialization_options = self.initialization_options

    def initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        """The low-level server's initialization options, declaring tools.listChanged."""
        options = notification_options or NotificationOptions(tools_changed=True)
        return type(self._mcp_server).create_initialization_options(
            self._mcp_server, options, experimental_capabilities
        )

    # -- tools ------------------------------------------------------------------------------

    def tool_operations(self) -> list[OperationSpec]:
        """The operations served as tools, in catalog order: tools and prompts (agents call
        the prompts as tools too)."""
        return [op for op in self.operations.values() if op.kind in TOOL_KINDS]

    async def list_tools(self) -> list[MCPTool]:
        """The catalog's tools, then the API tools of the plugins running."""
        catalog_tools = [
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
        await self.plugin_tools.discover()
        return catalog_tools + [_plugin_tool(tool) for tool in self.plugin_tools.tools()]

    async def call_tool(
        self, name: str, arguments: dict[str, Any]
    ) -> Sequence[ContentBlock] | dict[str, Any] | tuple[list[ContentBlock], dict[str, Any]]:
        """Run a catalog operation or a plugin API tool; any failure is an `isError` reply."""
        op = self.operations.get(name)
        if op is None or op.kind not in TOOL_KINDS:
            if not self.plugin_tools.serves(name):
                await self.plugin_tools.discover()
            if self.plugin_tools.serves(name):
                return await self._call_plugin_tool(name, arguments)
            known = ", ".join(op.name for op in self.tool_operations())
            raise ToolError(redact_text(f"unknown tool {name!r}; the tools are: {known}"))
        context = self.get_context()
        try:
            kwargs = op.validate_arguments(arguments)
        except MockLoopError as exc:
            await self._audit_refusal(name, arguments, exc, session_id(context))
            raise ToolError(error_text(name, exc)) from None
        try:
            with using_face("mcp", session_id(context)), progress_to(_progress_sender(context)):
                result = await getattr(self.client, name)(**kwargs)
        except Exception as exc:
            if not isinstance(exc, MockLoopError):
                logger.exception("tool %s failed", name)
            raise ToolError(error_text(name, exc)) from None
        await self._after_operation(op, result, context)
        return _reply(result)

    async def _call_plugin_tool(
        self, name: str, arguments: dict[str, Any]
    ) -> tuple[list[ContentBlock], dict[str, Any]]:
        try:
            result = await self.plugin_tools.call(
                name, arguments, session_id=session_id(self.get_context())
            )
        except Exception as exc:
            if not isinstance(exc, MockLoopError):
                logger.exception("API tool %s failed", name)
            raise ToolError(error_text(name, exc)) from None
        return _reply(result)

    async def _after_operation(
        self, op: OperationSpec, result: Any, context: Context[Any, Any, Any]
    ) -> None:
        """After an operation that adds API tools: load them and tell the client."""
        if ADDS_API_TOOLS not in op.tags:
            return
        try:
            await self.plugin_tools.refresh_after(op, result)
        except MockLoopError as exc:
            logger.warning("the tools of the new plugin could not be listed: %s", exc)
            return
        try:
            session = context.request_context.session
        except (LookupError, ValueError):
            return
        await session.send_tool_list_changed()

    async def _audit_refusal(
        self, name: str, arguments: dict[str, Any], error: BaseException, session: str | None
    ) -> None:
        """Audit a call this face refused at argument validation (outcome "invalid"), in the
        trail of the client's home."""
        with using_home(self.client.settings.home):
            await asyncio.to_thread(
                record_rejected, name, arguments, error, face="mcp", session_id=session
            )

    # -- prompts and resources --------------------------------------------------------------

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Render a prompt; a required argument missing or blank is refused first, with a
        message naming it and saying what to send (and the refusal is audited)."""
        op = self.operations.get(name)
        if op is not None and op.kind == "prompt":
            given = arguments or {}
            missing = [
                p
                for p in op.parameters
                if p.name in op.prompt_required and _blank(given.get(p.name))
            ]
            if missing:
                error = ConfigError(
                    f"prompt {name} needs "
                    + "; ".join(f"{p.name} ({p.description.rstrip('.')})" for p in missing)
                    + f". Its required arguments: {', '.join(op.prompt_required)}"
                )
                await self._audit_refusal(name, given, error, session_id(self.get_context()))
                raise ValueError(error_text(name, error))
        return await super().get_prompt(name, arguments)

    def _prompt(self, op: OperationSpec) -> Prompt:
        method = getattr(self.client, op.name)
        by_name = {p.name: p for p in op.parameters}

        async def render(**kwargs: Any) -> Any:
            # Hosts send optional fields left blank as "": that is "not given".
            given = {
                name: coerce_argument(by_name[name].annotation, value)
                for name, value in kwargs.items()
                if name in by_name
                and value is not None
                and (by_name[name].required or not (isinstance(value, str) and not value.strip()))
            }
            sent = {name: value for name, value in kwargs.items() if value is not None}
            try:
                checked = op.validate_arguments(given)
            except MockLoopError as exc:
                await self._audit_refusal(op.name, sent, exc, session_id(self.get_context()))
                raise ValueError(error_text(op.name, exc)) from None
            try:
                with using_face("mcp", session_id(self.get_context())):
                    result = await method(**checked)
            except MockLoopError as exc:
                raise ValueError(error_text(op.name, exc)) from None
            messages = getattr(result, "messages", None)
            if messages:
                return [_redacted_message(message) for message in messages]
            return redact_text(summary_of(result))

        # MCP prompt arguments are strings: the function takes strings (validate_call keeps
        # them) and each is converted to its parameter's type before the operation runs. The
        # arguments a form must ask for are the operation's `prompt_required` (PromptArgument
        # `required`): with only those filled in, the prompt renders.
        required = set(op.prompt_required)
        render.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=inspect.Parameter.empty if p.name in required else None,
                    annotation=_string_argument(p.description, p.name in required),
                )
                for p in op.parameters
            ]
        )
        render.__annotations__ = {
            p.name: _string_argument(p.description, p.name in required) for p in op.parameters
        }
        render.__name__ = op.name
        return Prompt.from_function(render, name=op.name, description=op.description)

    def _resource(self, op: OperationSpec) -> FunctionResource:
        method = getattr(self.client, op.name)

        async def read() -> str:
            with using_face("mcp", session_id(self.get_context())):
                result = await method()
            return json.dumps(redact_value(result.model_dump(mode="json")), indent=2)

        return FunctionResource(
            uri=f"mockloop://{op.group}/{op.name}",  # type: ignore[arg-type]
            name=op.name,
            description=op.description,
            mime_type="application/json",
            fn=read,
        )

    def _add_pack_resources(self) -> None:
        """`scenario-pack://index`, one resource per pack, and the template for the rest."""
        from mockloop.packs.loader import load_packs

        client = self.client
        context = self.get_context

        async def index() -> str:
            with using_face("mcp", session_id(context())):
                listing = await client.list_scenario_packs()
            return json.dumps(listing.model_dump(mode="json"), indent=2)

        self.add_resource(
            FunctionResource(
                uri=PACK_INDEX_URI,  # type: ignore[arg-type]
                name="scenario_packs",
                description="Every scenario pack with its URI, scenarios and data; invalid user "
                "pack files with their problems",
                mime_type="application/json",
                fn=index,
            )
        )

        def reader(uri: str) -> Any:
            async def read() -> str:
                with using_face("mcp", session_id(context())):
                    detail = await client.get_scenario_pack(uri)
                return json.dumps(detail.model_dump(mode="json"), indent=2)

            return read

        for uri, loaded in sorted(load_packs(client.settings.home).packs.items()):
            self.add_resource(
                FunctionResource(
                    uri=uri,  # type: ignore[arg-type]
                    name=f"{loaded.pack.category}/{loaded.pack.name}",
                    title=loaded.pack.title,
                    description=loaded.pack.description,
                    mime_type="application/json",
                    fn=reader(uri),
                )
            )

        async def pack(category: str, name: str) -> str:
            with using_face("mcp", session_id(context())):
                detail = await client.get_scenario_pack(f"scenario-pack://{category}/{name}")
            return json.dumps(detail.model_dump(mode="json"), indent=2)

        self.resource(
            PACK_TEMPLATE_URI,
            name="scenario_pack",
            description="A scenario pack by category and name (see scenario-pack://index)",
            mime_type="application/json",
        )(pack)


def _blank(value: Any) -> bool:
    """An MCP prompt argument not given: absent, null or blank text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _reply(result: Any) -> tuple[list[ContentBlock], dict[str, Any]]:
    """A tool's reply: the result's short summary (redacted) and its structured content."""
    structured = result.model_dump(mode="json")
    summary = summary_of(result) if isinstance(result, Result) else json.dumps(structured)
    return [TextContent(type="text", text=redact_text(summary))], structured


def _redacted_message(message: Any) -> Any:
    """A prompt message (a dict or a message model) with its text content redacted."""
    if isinstance(message, dict):
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": redact_text(content)}
        if isinstance(content, dict) and isinstance(content.get("text"), str):
            return {**message, "content": {**content, "text": redact_text(content["text"])}}
        return message
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return message.model_copy(update={"content": redact_text(content)})
    text = getattr(content, "text", None)
    if isinstance(content, BaseModel) and isinstance(text, str):
        updated = content.model_copy(update={"text": redact_text(text)})
        return message.model_copy(update={"content": updated})
    return message


def _string_argument(description: str, required: bool) -> Any:
    text = Annotated[str, Field(description=description)]
    return text if required else Annotated[str | None, Field(description=description)]


def _flatten(annotation: Any) -> list[Any]:
    """The alternatives of a union (Optional, X | Y), Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [alt for arg in typing.get_args(annotation) for alt in _flatten(arg)]
    return [annotation]


def coerce_argument(annotation: Any, value: Any) -> Any:
    """An MCP prompt argument (a string) as the parameter's type: "true" -> True, "5" -> 5,
    JSON text or "a, b" -> a list, JSON text -> a dict; strings stay strings where allowed."""
    if not isinstance(value, str):
        return value
    alternatives = _flatten(annotation)
    origins = {typing.get_origin(alt) or alt for alt in alternatives}
    text = value.strip()
    if type(None) in origins and text.lower() in ("", "null", "none"):
        return None
    takes_str = str in origins or Literal in origins or Any in origins
    if list in origins and text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    if dict in origins and text.startswith("{") and not takes_str:
        try:
            return json.loads(text)
        except ValueError:
            return value
    if bool in origins and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if int in origins or float in origins:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return int(number) if int in origins and number.is_integer() else number
    if list in origins and not takes_str:
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


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
