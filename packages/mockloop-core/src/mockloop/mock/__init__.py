"""The running mock: business app, admin app, router, responder, scenarios, request log.

Names are imported on first use, so `mockloop.mock.scenarios.rules` or the request log can be used
without loading the server stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.mock.config import MockConfig, ValidationMode
    from mockloop.mock.runtime import MockRuntime
    from mockloop.mock.scenarios.rules import Scenario, ScenarioRule
    from mockloop.mock.server import MockServer, create_app, serve
    from mockloop.mock.workers import serve_workers

__all__ = [
    "MockConfig",
    "MockRuntime",
    "MockServer",
    "Scenario",
    "ScenarioRule",
    "ValidationMode",
    "create_app",
    "serve",
    "serve_workers",
]

_HOMES = {
    "MockConfig": "config",
    "ValidationMode": "config",
    "MockRuntime": "runtime",
    "Scenario": "scenarios",
    "ScenarioRule": "scenarios",
    "MockServer": "server",
    "create_app": "server",
    "serve": "server",
    "serve_workers": "workers",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'mockloop.mock' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mockloop.mock.{module}"), name)
