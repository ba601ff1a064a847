"""MockLoop: AI-native API testing.

`MockLoopClient` (blocking) and `AsyncMockLoopClient` (async) hold every operation; the
errors below are all a caller needs to catch. The clients load on first use, so importing
`mockloop` for its errors stays cheap.
"""

from __future__ import annotations

import sys
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

if TYPE_CHECKING:
    from mockloop._sync_client import MockLoopClient
    from mockloop.client import AsyncMockLoopClient
    from mockloop.results import Result
    from mockloop.version import __version__

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
    "__version__": "mockloop.version",
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


# Modules that moved when `mock/` and `testing/` were split into rooms (0.4): the old dotted
# names still import, as the same module object, with a DeprecationWarning naming the new home.
_MOVED = {
    "mockloop.mock.admin_docs": "mockloop.mock.admin.docs",
    "mockloop.mock.admin_guard": "mockloop.mock.admin.guard",
    "mockloop.mock.admin_log": "mockloop.mock.admin.self_log",
    "mockloop.mock.admin_proxy": "mockloop.mock.admin.proxy_routes",
    "mockloop.mock.admin_state": "mockloop.mock.admin.state_routes",
    "mockloop.mock.admin_ui": "mockloop.mock.admin.ui",
    "mockloop.mock.scenario_endpoints": "mockloop.mock.scenarios.endpoints",
    "mockloop.mock.webhook_routes": "mockloop.mock.admin.webhook_routes",
    "mockloop.mock.scenario_check": "mockloop.mock.scenarios.check",
    "mockloop.mock.scenario_verify": "mockloop.mock.scenarios.verify",
    "mockloop.mock.scenario_schema": "mockloop.mock.scenarios.schema",
    "mockloop.mock.scenario_results": "mockloop.mock.scenarios.results",
    "mockloop.mock.stateful": "mockloop.mock.state.store",
    "mockloop.mock.state_collections": "mockloop.mock.state.collection",
    "mockloop.mock.state_data": "mockloop.mock.state.data",
    "mockloop.mock.state_limits": "mockloop.mock.state.limits",
    "mockloop.mock.state_sync": "mockloop.mock.state.sync",
    "mockloop.mock.webhook_delivery": "mockloop.mock.webhooks.delivery",
    "mockloop.mock.webhook_store": "mockloop.mock.webhooks.store",
    "mockloop.mock.request_log_counters": "mockloop.mock.request_log.counters",
    "mockloop.mock.log_analysis": "mockloop.mock.request_log.analysis",
    "mockloop.mock.log_insights": "mockloop.mock.request_log.insights",
    "mockloop.testing.plan": "mockloop.testing.plans.model",
    "mockloop.testing.plan_checks": "mockloop.testing.plans.checks",
    "mockloop.testing.plan_generate": "mockloop.testing.plans.generate",
    "mockloop.testing.plan_library": "mockloop.testing.plans.library",
    "mockloop.testing.plan_runner": "mockloop.testing.plans.runner",
    "mockloop.testing.session_report": "mockloop.testing.sessions.report",
    "mockloop.testing.schedules": "mockloop.testing.sessions.schedules",
    "mockloop.testing.schedule_store": "mockloop.testing.sessions.schedule_store",
    "mockloop.testing.scheduler": "mockloop.testing.sessions.scheduler",
    "mockloop.testing.anomalies": "mockloop.testing.analysis.anomalies",
    "mockloop.testing.compare": "mockloop.testing.analysis.compare",
    "mockloop.testing.stats": "mockloop.testing.analysis.stats",
    "mockloop.cli_load": "mockloop.cli.load",
    "mockloop.cli_report": "mockloop.cli.report",
    "mockloop.cli_servers": "mockloop.cli.servers",
    "mockloop.tool_calls": "mockloop.tools.calls",
}


class _MovedFinder:
    """Finds a module under its old name and hands back the module at its new home."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> Any:
        new = _MOVED.get(fullname)
        if new is None:
            return None
        import importlib.util

        loader: Any = _MovedLoader(new)  # a loader by protocol (see _MovedLoader)
        return importlib.util.spec_from_loader(fullname, loader)


class _MovedLoader:
    """Puts the module at its new home under the old name too (the same object, its own
    `__spec__` untouched). A loader by protocol (create_module, exec_module): subclassing
    importlib.abc.Loader would import importlib.resources on every start."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: Any) -> None:
        return None  # the default module; exec_module swaps in the one at the new home

    def exec_module(self, module: Any) -> None:
        import warnings
        from importlib import import_module

        warnings.warn(
            f"{module.__name__} moved to {self.new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        # importlib hands back whatever sits in sys.modules under the old name once this
        # returns: the real module, not the placeholder it made.
        sys.modules[module.__name__] = import_module(self.new)


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedFinder())
