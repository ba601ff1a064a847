"""The API tools of MockLoop plugins, added to the MCP server's tool list at run time.

When `create_mcp_plugin` succeeds, each operation of the plugin's API becomes an MCP tool
(named `<plugin>_<operationId>`, arguments from its parameters and request body) and the
server sends `notifications/tools/list_changed`, so the client lists the tools again. A call
of such a tool goes through `call_api_tool`, i.e. through the plugin's business port, so the
plugin's mode (mock, proxy, hybrid, replay) decides who answers. Plugins already running when
the server starts are picked up on the first tool listing.

`install_plugin_tools(server)` wires this into a `MockLoopMCP` (one line in its constructor).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from mcp.server.fastmcp import Context
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.lowlevel.server import NotificationOptions
from mcp.types import ContentBlock, TextContent, ToolAnnotations
from mcp.types import Tool as MCPTool

from mockloop import AsyncMockLoopClient, MockLoopError, MockLoopUserError
from mockloop.audit import using_face

__all__ = ["PLUGIN_OPERATIONS", "PluginTools", "install_plugin_tools", "session_id"]

logger = logging.getLogger("mockloop_mcp")

#: Operations after which the plugin tools are refreshed and the client told.
PLUGIN_OPERATIONS = frozenset({"create_mcp_plugin"})
_READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class _PluginTool:
    plugin_name: str
    tool: MCPTool


class PluginTools:
    """The API tools of the plugins this server knows, by MCP tool name.

    Args:
        client: the client the tools call through (`list_api_tools`, `call_api_tool`).
    """

    def __init__(self, client: AsyncMockLoopClient) -> None:
        self.client = client
        self._tools: dict[str, _PluginTool] = {}
        self._discovered = False
        self._lock = asyncio.Lock()

    async def register(self, plugin_name: str) -> list[str]:
        """(Re)load one plugin's tools; returns their names."""
        listed = await self.client.list_api_tools(plugin_name=plugin_name)
        fresh: dict[str, _PluginTool] = {}
        for entry in listed.tools:
            method = str(entry["method"])
            fresh[entry["name"]] = _PluginTool(
                plugin_name,
                MCPTool(
                    name=entry["name"],
                    title=f"{plugin_name}: {entry['operation_id']}",
                    description=f"{entry['description']} [API tool of plugin {plugin_name!r}; "
                    "answered according to the plugin's mode]",
                    inputSchema=entry["input_schema"],
                    annotations=ToolAnnotations(
                        title=f"{plugin_name}: {entry['operation_id']}",
                        readOnlyHint=method in _READ_ONLY,
                        destructiveHint=method == "DELETE",
                        idempotentHint=method in _READ_ONLY or method in ("PUT", "DELETE"),
                        openWorldHint=True,
                    ),
                ),
            )
        self._tools = {
            name: item for name, item in self._tools.items() if item.plugin_name != plugin_name
        }
        self._tools.update(fresh)
        return list(fresh)

    async def discover(self) -> None:
        """Load the tools of every recorded plugin that answers (once per server)."""
        from mockloop.proxy.plugins import list_plugins
        from mockloop.settings import using_home

        async with self._lock:
            if self._discovered:
                return
            self._discovered = True
            with using_home(self.client.settings.home):
                records = await asyncio.to_thread(list_plugins)
            for record in records:
                name = str(record["plugin_name"])
                try:
                    await self.register(name)
                except MockLoopError as exc:  # not running any more: no tools for it
                    logger.info("plugin %s has no tools now: %s", name, exc)

    async def list_tools(self) -> list[MCPTool]:
        await self.discover()
        return [item.tool for item in self._tools.values()]

    def serves(self, name: str) -> bool:
        return name in self._tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], session_id: str | None = None
    ) -> tuple[list[ContentBlock], dict[str, Any]]:
        """Call an API tool through its plugin; errors come back as `ToolError`."""
        item = self._tools[name]
        try:
            with using_face("mcp", session_id):
                result = await self.client.call_api_tool(
                    tool_name=name, arguments=arguments, plugin_name=item.plugin_name
                )
        except Exception as exc:
            if isinstance(exc, MockLoopUserError):
                text = f"{type(exc).__name__}: {exc} (fix the arguments of {name} and call again)"
            elif isinstance(exc, MockLoopError):
                text = f"{type(exc).__name__}: {exc}"
            else:
                logger.exception("API tool %s failed", name)
                text = f"{name} failed inside MockLoop ({type(exc).__name__}: {exc})"
            raise ToolError(text) from None
        return [TextContent(type="text", text=result.summary())], result.model_dump(mode="json")

    async def after_operation(self, name: str, structured: Any, session: Any) -> list[str]:
        """After a plugin operation: load its tools and tell the client the list changed."""
        if name not in PLUGIN_OPERATIONS or not isinstance(structured, dict):
            return []
        plugin_name = structured.get("plugin_name")
        if not plugin_name:
            return []
        added = await self.register(str(plugin_name))
        if session is not None:
            await session.send_tool_list_changed()
        return added


def _session(server: Any) -> Any:
    try:
        return server.get_context().request_context.session
    except (LookupError, ValueError):
        return None


def install_plugin_tools(server: Any) -> PluginTools:
    """Serve plugin API tools on a `MockLoopMCP` next to its catalog tools.

    Re-registers the low-level list and call handlers with wrappers (catalog tools first,
    then plugin tools) and advertises `tools.listChanged`. Returns the `PluginTools`.
    """
    plugin_tools = PluginTools(server.client)
    catalog_list = server.list_tools
    catalog_call = server.call_tool

    async def list_tools() -> list[MCPTool]:
        return [*await catalog_list(), *await plugin_tools.list_tools()]

    async def call_tool(name: str, arguments: dict[str, Any]) -> Any:
        if not plugin_tools.serves(name) and name not in server.operations:
            await plugin_tools.discover()
        if plugin_tools.serves(name):
            return await plugin_tools.call_tool(name, arguments, session_id(server.get_context()))
        result = await catalog_call(name, arguments)
        if name in PLUGIN_OPERATIONS and isinstance(result, tuple):
            try:
                await plugin_tools.after_operation(name, result[1], _session(server))
            except MockLoopError as exc:
                logger.warning("the tools of the new plugin could not be listed: %s", exc)
        return result

    server.list_tools = list_tools
    server.call_tool = call_tool
    low = server._mcp_server
    low.list_tools()(list_tools)
    low.call_tool(validate_input=False)(call_tool)
    original_options = low.create_initialization_options

    def create_initialization_options(
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
    ) -> Any:
        options = notification_options or NotificationOptions(tools_changed=True)
        return original_options(options, experimental_capabilities)

    low.create_initialization_options = create_initialization_options
    server.plugin_tools = plugin_tools
    return plugin_tools


def session_id(context: Context[Any, Any, Any]) -> str | None:
    """The MCP client's id when it sent one, else one id per connected session."""
    try:
        client_id = context.client_id
        session = context.request_context.session
    except (LookupError, ValueError):
        return None
    return client_id or f"mcp-session-{id(session):x}"
