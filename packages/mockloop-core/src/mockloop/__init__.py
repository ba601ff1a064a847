"""MockLoop: AI-native API testing."""

from importlib.metadata import version as _version

from mockloop.errors import (
    ConfigError,
    MockLoopError,
    MockLoopRuntimeError,
    MockLoopUserError,
    ScenarioError,
    ServerError,
    SpecError,
    StoreError,
)

__all__ = [
    "ConfigError",
    "MockLoopError",
    "MockLoopRuntimeError",
    "MockLoopUserError",
    "ScenarioError",
    "ServerError",
    "SpecError",
    "StoreError",
    "__version__",
]

__version__ = _version("mockloop")
