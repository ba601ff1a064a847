"""The operation catalog: every operation of `AsyncMockLoopClient`, described once.

Adapters (MCP, LangChain, CrewAI) loop over this catalog; nothing is copied by hand. The mark,
the descriptions and the builder live in `mockloop.operation`, below the client; this module
sits above it and names the client's catalog.
"""

from __future__ import annotations

from mockloop.client import AsyncMockLoopClient
from mockloop.operation import (
    ROLES,
    TAGS,
    Catalog,
    OperationKind,
    OperationSpec,
    OperationTag,
    ParameterSpec,
    Role,
    build_catalog,
    catalog_of,
    operation,
    parse_docstring,
)

__all__ = [
    "ROLES",
    "TAGS",
    "Catalog",
    "OperationKind",
    "OperationSpec",
    "OperationTag",
    "ParameterSpec",
    "Role",
    "build_catalog",
    "get_catalog",
    "operation",
    "parse_docstring",
]


def get_catalog() -> Catalog:
    """The catalog of `AsyncMockLoopClient` (built once)."""
    return catalog_of(AsyncMockLoopClient)
