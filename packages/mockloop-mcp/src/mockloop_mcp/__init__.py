"""MockLoop as an MCP server. The server itself lands with issue 4; this package pins the layout."""

from importlib.metadata import version as _version

__all__ = ["__version__"]

__version__ = _version("mockloop-mcp")
