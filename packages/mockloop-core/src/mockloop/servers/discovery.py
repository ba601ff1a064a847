"""Find MockLoop servers on this machine's loopback, registered or not, and generated projects.

A MockLoop port identifies itself by its `/health` answer: the business port says
`"service": "mockloop"` and names its `admin_url`; the admin port says
`"service": "mockloop-admin"` and names its `business_url`. The two halves of one mock are
paired into one dual-port entry; a mock served without an admin port is single-port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import yaml

from mockloop.servers.lifecycle import list_servers
from mockloop.servers.models import (
    DiscoveredServer,
    Discovery,
    GeneratedProjectInfo,
    ServerInfo,
)
from mockloop.servers.processes import is_alive, port_listens
from mockloop.settings import PROBE

__all__ = ["DEFAULT_SCAN_PORTS", "discover_servers"]

DEFAULT_SCAN_PORTS: tuple[int, ...] = (
    *range(8000, 8011),
    3000,
    3001,
    4000,
    5000,
    5001,
    8080,
    8081,
    8888,
    9000,
)
_HOST = "127.0.0.1"

T = TypeVar("T")


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, also when this thread runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mockloop-discover") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()  # type: ignore[arg-type]


async def _probe(client: httpx.AsyncClient, port: int) -> tuple[int, dict[str, Any] | None]:
    try:
        response = await client.get(f"http://{_HOST}:{port}/health", headers=PROBE)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return port, None
    if isinstance(body, dict) and body.get("service") in ("mockloop", "mockloop-admin"):
        return port, body
    return port, None


async def _probe_all(ports: Iterable[int], timeout: float) -> dict[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        answers = await asyncio.gather(*(_probe(client, port) for port in sorted(set(ports))))
    return {port: body for port, body in answers if body is not None}


def _port(url: Any) -> int | None:
    if not isinstance(url, str) or not url:
        return None
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def _title(health: dict[str, Any] | None) -> str | None:
    api = (health or {}).get("api")
    return str(api["title"]) if isinstance(api, dict) and api.get("title") else None


def _scan(ports: list[int], timeout: float) -> dict[int, dict[str, Any]]:
    answers = _run(lambda: _probe_all(ports, timeout))
    # The other half of a mock may sit on a port not scanned: ask it too.
    partners = {
        p
        for body in answers.values()
        for p in (_port(body.get("admin_url")), _port(body.get("business_url")))
        if p is not None and p not in answers and p not in ports
    }
    if partners:
        answers.update(_run(lambda: _probe_all(partners, timeout)))
    return answers


def _registered_by_port(running: list[ServerInfo]) -> dict[int, ServerInfo]:
    by_port: dict[int, ServerInfo] = {}
    for server in running:
        for port in (server.business_port, server.admin_port):
            if port is not None:
                by_port[port] = server
    return by_port


def _pair(answers: dict[int, dict[str, Any]], running: list[ServerInfo]) -> list[DiscoveredServer]:
    registered = _registered_by_port(running)
    found: list[DiscoveredServer] = []
    used: set[int] = set()

    def entry(business: int | None, admin: int | None) -> DiscoveredServer:
        b_health = answers.get(business) if business is not None else None
        a_health = answers.get(admin) if admin is not None else None
        server = registered.get(business or -1) or registered.get(admin or -1)
        # Both ports live in one process and the admin port opens after the business port,
        # so an answering admin vouches for both (the business /health may be the
        # description's own). A business port whose admin does not answer is degraded.
        deciding = a_health if admin is not None else b_health
        return DiscoveredServer(
            business_url=f"http://{_HOST}:{business}" if business is not None else None,
            admin_url=f"http://{_HOST}:{admin}" if admin is not None else None,
            kind="dual-port" if admin is not None else "single-port",
            healthy=deciding is not None and deciding.get("status") == "ok",
            health=a_health or b_health,
            registered=server is not None,
            server_id=server.id if server else None,
            title=_title(a_health or b_health),
            pid=server.pid if server else None,
        )

    for port, body in sorted(answers.items()):
        if body.get("service") != "mockloop-admin" or port in used:
            continue
        business = _port(body.get("business_url"))
        found.append(entry(business, port))
        used.update({port, business or -1})
    for port, body in sorted(answers.items()):
        if body.get("service") != "mockloop" or port in used:
            continue
        admin = _port(body.get("admin_url"))
        found.append(entry(port, admin))
        used.update({port, admin or -1})
    # Registered servers that live but did not answer are reported unhealthy, not hidden.
    for server in running:
        if server.business_port not in used and server.business_port is not None:
            found.append(
                DiscoveredServer(
                    business_url=server.business_url,
                    admin_url=server.admin_url,
                    kind="dual-port" if server.admin_url else "single-port",
                    healthy=False,
                    registered=True,
                    server_id=server.id,
                    title=server.title,
                    pid=server.pid,
                )
            )
    return found


def _without_health(running: list[ServerInfo]) -> list[DiscoveredServer]:
    found = []
    for server in running:
        listening = server.business_port is not None and port_listens(_HOST, server.business_port)
        found.append(
            DiscoveredServer(
                business_url=server.business_url,
                admin_url=server.admin_url,
                kind="dual-port" if server.admin_url else "single-port",
                healthy=None,
                health={"process_alive": is_alive(server.pid), "port_listens": listening},
                registered=True,
                server_id=server.id,
                title=server.title,
                pid=server.pid,
            )
        )
    return found


def _project_ports(config_file: Path) -> tuple[int | None, int | None]:
    try:
        values = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None, None
    if not isinstance(values, dict):
        return None, None
    port, admin = values.get("port"), values.get("admin_port")
    return (port if isinstance(port, int) else None, admin if isinstance(admin, int) else None)


def _generated(running: list[ServerInfo]) -> list[GeneratedProjectInfo]:
    from mockloop.generate import CONFIG_FILE, projects_dir
    from mockloop.store.registry import Registry

    folders: dict[str, str] = {}
    for row in Registry().projects():
        folders.setdefault(row["path"], row["name"])
    root = projects_dir()
    for config_file in sorted(root.glob(f"*/{CONFIG_FILE}")):
        folders.setdefault(str(config_file.parent.resolve()), config_file.parent.name)
    by_project = {s.project_path: s for s in running if s.project_path}
    projects = []
    for path, name in folders.items():
        config_file = Path(path) / CONFIG_FILE
        if not config_file.is_file():
            continue  # deleted since it was generated
        port, admin = _project_ports(config_file)
        server = by_project.get(path)
        projects.append(
            GeneratedProjectInfo(
                name=name,
                path=path,
                running=server is not None,
                business_port=port,
                admin_port=admin,
                server_id=server.id if server else None,
                business_url=server.business_url if server else None,
            )
        )
    return projects


def discover_servers(
    ports: list[int] | None = None,
    *,
    check_health: bool = True,
    include_generated: bool = True,
    timeout: float = 0.5,
) -> Discovery:
    """Find MockLoop servers on 127.0.0.1 and the generated projects.

    Args:
        ports: ports to scan; default: the registered servers' ports plus
            `DEFAULT_SCAN_PORTS`.
        check_health: ask each port's /health; False only checks the registered servers'
            processes and whether their business ports accept connections.
        include_generated: also list generated projects and whether a registered server runs
            each.
        timeout: seconds each /health request may take.
    """
    servers = list_servers()
    running = [s for s in servers if s.status == "running"]
    stale = [s for s in servers if s.status == "stale"]
    if check_health:
        scan = (
            list(ports)
            if ports is not None
            else sorted(set(DEFAULT_SCAN_PORTS) | set(_registered_by_port(running)))
        )
        found = _pair(
            _scan(scan, timeout),
            running
            if ports is None
            else [s for s in running if s.business_port in scan or s.admin_port in scan],
        )
    else:
        chosen = (
            running
            if ports is None
            else [s for s in running if s.business_port in ports or s.admin_port in ports]
        )
        scan = sorted(_registered_by_port(chosen))
        found = _without_health(chosen)
    return Discovery(
        servers=found,
        generated=_generated(running) if include_generated else [],
        scanned_ports=sorted(set(scan)),
        stale=stale,
    )
