"""The results of the proxy operations: plugins, proxy status, recordings, comparisons and
API tool calls (typed, JSON-ready, each with a summary an agent can read)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from mockloop.proxy.compare import OperationComparison, PlannedRequest
from mockloop.results import Result

__all__ = [
    "ApiCallResult",
    "ApiToolList",
    "ComparisonReport",
    "McpPlugin",
    "ProxyStatus",
    "RecordingResult",
    "public_url",
    "status_result",
]


class McpPlugin(Result):
    """A running plugin: a mock server in mock, proxy or hybrid mode, and its API tools."""

    plugin_name: str
    mode: str
    business_url: str = Field(description="call the API here; the mode decides who answers")
    admin_url: str = Field(description="admin API: /api/proxy changes mode and rules live")
    target_url: str | None = Field(description="the live API proxied to")
    auth: dict[str, Any] | None = Field(description="upstream auth, described without secrets")
    routing_rules: list[dict[str, Any]]
    default_mode: str
    fallback_to_mock: bool
    project_path: str
    server_id: str | None = None
    pid: int | None = None
    tools: list[str] = Field(description="the API's operations as tool names")
    notices: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        rules = len(self.routing_rules)
        text = (
            f"Plugin {self.plugin_name!r} serves in {self.mode} mode at {self.business_url} "
            f"(admin {self.admin_url}); live API {self.target_url or 'none'}; {rules} routing "
            f"rule(s), default {self.default_mode}; {len(self.tools)} API tool(s)."
        )
        return text[:limit]


class ProxyStatus(Result):
    """The proxy state of a running mock: mode, rules, upstream, circuit, counters."""

    server_url: str
    admin_url: str
    enabled: bool = Field(description="False for a pure mock (no proxy settings yet)")
    mode: str
    target_url: str | None = None
    default_mode: str | None = None
    routing_rules: list[dict[str, Any]] = Field(default_factory=list)
    auth: dict[str, Any] | None = None
    fallback_to_mock: bool = False
    circuit: dict[str, Any] | None = None
    answered: dict[str, int] = Field(default_factory=dict, description="requests per mode")
    upstream_failures: int = 0
    recording: dict[str, Any] | None = None
    replay: dict[str, Any] | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="every setting")

    def summary(self, limit: int = 600) -> str:
        answered = ", ".join(f"{k} {v}" for k, v in self.answered.items() if v) or "none yet"
        circuit = (self.circuit or {}).get("state", "n/a")
        recording = "recording" if (self.recording or {}).get("active") else "not recording"
        text = (
            f"{self.server_url}: {self.mode} mode, live API {self.target_url or 'none'}, "
            f"{len(self.routing_rules)} rule(s); answered: {answered}; upstream failures "
            f"{self.upstream_failures}; circuit {circuit}; {recording}."
        )
        return text[:limit]


class RecordingResult(Result):
    """A recording started, or stopped and saved as a scenario."""

    server_url: str
    action: Literal["started", "stopped"]
    scenario: str
    exchanges: int = Field(description="live exchanges captured")
    operations: list[str] = Field(default_factory=list)
    replaying: bool = Field(description="the mock now replays the recording")
    status: ProxyStatus

    def summary(self, limit: int = 600) -> str:
        if self.action == "started":
            text = f"Recording the live API's answers into scenario {self.scenario!r}."
        else:
            text = (
                f"Saved {self.exchanges} exchange(s) of {len(self.operations)} operation(s) "
                f"as scenario {self.scenario!r}"
                + ("; replay mode is on." if self.replaying else "; activate it to replay.")
            )
        return text[:limit]


class ComparisonReport(Result):
    """Mock versus live, per operation: statuses, schema conformance, differences."""

    mock: str = Field(description="where the mock side answered")
    live: str = Field(description="where the live side answered")
    compared: int
    status_agreement: float = Field(description="share of requests with equal statuses, 0-1")
    matches: int
    value_drift: int
    drift: int
    errors: int
    mock_nonconforming: int
    live_nonconforming: int
    ignore_paths: list[str]
    operations: list[OperationComparison]
    requests: list[PlannedRequest]
    skipped: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        drifting = [o.operation_id for o in self.operations if o.verdict == "drift"]
        text = (
            f"Compared {self.compared} request(s): statuses agree on "
            f"{self.status_agreement:.0%}; {self.matches} match, {self.value_drift} differ in "
            f"values only, {self.drift} drift, {self.errors} error(s); schema violations: "
            f"mock {self.mock_nonconforming}, live {self.live_nonconforming}."
        )
        if drifting:
            text += f" Drifting: {', '.join(drifting[:8])}."
        return text[:limit]


class ApiToolList(Result):
    """The API's operations as tools (name, description, JSON schema of arguments)."""

    plugin_name: str | None
    server_url: str | None
    api_title: str
    tools: list[dict[str, Any]]

    def summary(self, limit: int = 600) -> str:
        names = ", ".join(t["name"] for t in self.tools[:12])
        more = f" and {len(self.tools) - 12} more" if len(self.tools) > 12 else ""
        return f"{len(self.tools)} tool(s) for {self.api_title}: {names}{more}."[:limit]


class ApiCallResult(Result):
    """One API operation called through a plugin: who answered, the status and the body."""

    tool: str
    operation_id: str
    method: str
    url: str
    status: int
    ok: bool
    mode: str = Field(description="who answered: mock, proxy, fallback or replay")
    headers: dict[str, str]
    body: Any
    latency_ms: float

    def summary(self, limit: int = 600) -> str:
        body = str(self.body)
        body = body if len(body) <= 300 else body[:300] + "..."
        text = (
            f"{self.method} {self.url} -> {self.status} answered by {self.mode} in "
            f"{self.latency_ms:.1f} ms: {body}"
        )
        return text[:limit]


def public_url(url: str | None) -> str | None:
    if not url:
        return url
    return re.sub(r"//[^/@]+@", "//", url)


def status_result(data: dict[str, Any], server_url: str, admin_url: str) -> ProxyStatus:
    known = {
        "enabled",
        "mode",
        "target_url",
        "default_mode",
        "routing_rules",
        "auth",
        "fallback_to_mock",
        "circuit",
        "answered",
        "upstream_failures",
        "recording",
        "replay",
    }
    return ProxyStatus(
        server_url=server_url,
        admin_url=admin_url,
        enabled=bool(data.get("enabled", True)),
        mode=str(data.get("mode", "mock")),
        target_url=public_url(data.get("target_url")),
        default_mode=data.get("default_mode"),
        routing_rules=list(data.get("routing_rules") or []),
        auth=data.get("auth"),
        fallback_to_mock=bool(data.get("fallback_to_mock", False)),
        circuit=data.get("circuit"),
        answered=dict(data.get("answered") or {}),
        upstream_failures=int(data.get("upstream_failures") or 0),
        recording=data.get("recording"),
        replay=data.get("replay"),
        settings={k: v for k, v in data.items() if k not in known},
    )
