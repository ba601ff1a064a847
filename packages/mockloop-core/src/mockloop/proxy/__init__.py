"""Mock, proxy and hybrid modes: routing rules, upstream auth, retries, circuit breaker and
fallback, record and replay, mock-vs-live comparison, and the API's operations as tools.

This package's `__init__` stays light (settings and routing only) because the mock's config
imports it; the engine, forwarder, recorder, comparison and tools live in their modules.
"""

from mockloop.proxy.routing import RouteDecision, RoutingTable
from mockloop.proxy.settings import (
    AuthConfig,
    CircuitSettings,
    ProxySettings,
    RoutingRule,
    parse_auth,
    parse_proxy_settings,
    parse_rules,
)

__all__ = [
    "AuthConfig",
    "CircuitSettings",
    "ProxySettings",
    "RouteDecision",
    "RoutingRule",
    "RoutingTable",
    "parse_auth",
    "parse_proxy_settings",
    "parse_rules",
]
