"""MockLoop: AI-native API testing.

`MockLoopClient` (blocking) and `AsyncMockLoopClient` (async) hold every operation; the
errors below are all a caller needs to catch. The clients load on first use, so importing
`mockloop` for its errors stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mockloop.errors import (
    ConfigError,
    MockLoopError,
    MockLoopRuntimeError,
    MockLoopUserError,
    ScenarioError,
    ServerError,
    SpecError,
    StoreError,
    VersionConflictError,
)
from mockloop.version import __version__

if TYPE_CHECKING:
    from mockloop._sync_client import MockLoopClient
    from mockloop.client import AsyncMockLoopClient
    from mockloop.results import Result

__all__ = [
    "AsyncMockLoopClient",
    "ConfigError",
    "MockLoopClient",
    "MockLoopError",
    "MockLoopRuntimeError",
    "MockLoopUserError",
    "Result",
    "ScenarioError",
    "ServerError",
    "SpecError",
    "StoreError",
    "VersionConflictError",
    "__version__",
]


_LAZY = {
    "AsyncMockLoopClient": "mockloop.client",
    "MockLoopClient": "mockloop._sync_client",
    "Result": "mockloop.results",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mockloop' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
