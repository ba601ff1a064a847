"""MockLoop as an MCP server: every MockLoop operation as an MCP tool, prompt or resource.

Run `mockloop-mcp` (stdio) or `mockloop-mcp --transport streamable-http --port 8765`; build the
server in Python with `build_server()`. `MockLoopClient` and `AsyncMockLoopClient` are
re-exported for code written against older examples (`from mockloop_mcp import MockLoopClient`;
its bound methods go straight into a CrewAI `Agent(tools=[...])`), and `mockloop_mcp.mcp_tools`
has every operation as a plain async function (`from mockloop_mcp.mcp_tools import
create_mcp_plugin`).
"""

from __future__ import annotations

from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from mockloop import AsyncMockLoopClient, MockLoopClient

if TYPE_CHECKING:
    from mockloop_mcp.server import MockLoopMCP, build_server

__all__ = ["AsyncMockLoopClient", "MockLoopClient", "MockLoopMCP", "__version__", "build_server"]

__version__ = _version("mockloop-mcp")


def __getattr__(name: str) -> Any:
    # The server module imports the mcp SDK; the client re-exports do not need it.
    if name in ("MockLoopMCP", "build_server"):
        from mockloop_mcp import server

        return getattr(server, name)
    raise AttributeError(f"module 'mockloop_mcp' has no attribute {name!r}")
