"""What the server registry and discovery report: typed results, serialisable as JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result

__all__ = [
    "DiscoveredServer",
    "Discovery",
    "GeneratedMock",
    "GeneratedProjectInfo",
    "MockServerList",
    "ServerInfo",
    "ServerStatus",
]

ServerStatus = Literal["running", "stale", "stopped"]


class ServerInfo(Result):
    """A mock server MockLoop started as a detached process, as the registry knows it."""

    id: str = Field(description="registry id (use it, the pid, a port or a URL to stop it)")
    pid: int = Field(description="the server process (leader of its own process group)")
    business_url: str = Field(description="the mocked API")
    admin_url: str | None = Field(description="the admin API and UI")
    docs_url: str = Field(description="the API's documentation page")
    spec: str = Field(description="the description served (path or URL)")
    title: str | None = Field(default=None, description="the API's title")
    project_path: str | None = Field(default=None, description="the generated project, if any")
    status: ServerStatus = Field(
        description="running; stale: the process died without being stopped; stopped"
    )
    started_at: float = Field(description="Unix time")
    log_file: str | None = Field(default=None, description="the process's output")
    notices: list[str] = Field(default_factory=list, description="e.g. a busy port was moved")
    host: str = "127.0.0.1"
    business_port: int | None = None
    admin_port: int | None = None
    stopped_at: float | None = None


class DiscoveredServer(Result):
    """A MockLoop server found listening on this machine (registered or not)."""

    business_url: str | None = None
    admin_url: str | None = None
    kind: Literal["dual-port", "single-port"]
    healthy: bool | None = Field(description="None when health was not checked")
    health: dict[str, Any] | None = Field(default=None, description="its /health answer")
    registered: bool = Field(description="started by MockLoop and in the registry")
    server_id: str | None = None
    title: str | None = None
    pid: int | None = None


class GeneratedProjectInfo(Result):
    """A project written by `generate_mock_api` and whether a registered server runs it."""

    name: str
    path: str
    running: bool
    business_port: int | None = None
    admin_port: int | None = None
    server_id: str | None = None
    business_url: str | None = Field(default=None, description="where it runs, when it runs")


class Discovery(Result):
    """What `discover_servers` found."""

    servers: list[DiscoveredServer]
    generated: list[GeneratedProjectInfo]
    scanned_ports: list[int]
    stale: list[ServerInfo] = Field(description="registered servers whose process died")


class GeneratedMock(Result):
    """A generated mock project and, when started, where it serves."""

    project_name: str
    project_path: str = Field(description="the folder holding main.py, the description, config")
    files: list[str] = Field(description="the files written, relative to project_path")
    features: dict[str, bool] = Field(description="auth, webhooks, admin_ui, storage, stateful")
    started: bool
    business_url: str | None = None
    admin_url: str | None = None
    docs_url: str | None = None
    pid: int | None = Field(default=None, description="the detached server process")
    server_id: str | None = Field(default=None, description="its id in the server registry")
    business_port: int | None = None
    admin_port: int | None = None
    notices: list[str] = Field(default_factory=list, description="e.g. a busy port was moved")
    project_action: Literal["created", "reused", "regenerated", "overwritten"] = Field(
        default="created",
        description="what happened to the project folder: created; reused (made by MockLoop "
        "with the same inputs, nothing rewritten); regenerated (made by MockLoop with other "
        "inputs, generated files rewritten); overwritten (overwrite=True)",
    )
    reused_server: bool = Field(
        default=False,
        description="the mock MockLoop had started from this unchanged project still ran and "
        "was reused instead of starting another",
    )


class MockServerList(Result):
    """Mock servers in the registry."""

    servers: list[ServerInfo] = Field(description="newest first")
    running: int
    stale: int
