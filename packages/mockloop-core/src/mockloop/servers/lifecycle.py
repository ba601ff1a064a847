"""Start, stop and list detached mock servers through the registry.

A started mock is its own process in its own session, like a container run in the
background: it outlives the script, CLI or MCP server that started it until `stop_server`
(or `mockloop stop`) stops it. A server is registered only once both its ports answer
`/health`; when it fails to come up its process group is killed and the error carries the
end of its log, so nothing is left half started.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from mockloop.errors import ConfigError, ServerError, SpecError
from mockloop.servers.models import ServerInfo
from mockloop.servers.processes import (
    is_alive,
    log_tail,
    port_is_free,
    process_start,
    spawn_detached,
    terminate,
)
from mockloop.settings import PROBE, mockloop_home
from mockloop.store.registry import Registry

__all__ = [
    "list_servers",
    "project_server",
    "start_server",
    "stop_all_servers",
    "stop_server",
]

_PORT_SEARCH = 200  # how far above a busy default port to look for a free one
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _info(row: dict[str, Any]) -> ServerInfo:
    return ServerInfo(**{k: v for k, v in row.items() if k in ServerInfo.model_fields})


def _holder(port: int, rows: list[dict[str, Any]]) -> str:
    for row in rows:
        if port in (row["business_port"], row["admin_port"]) and row["status"] == "running":
            return (
                f" by the MockLoop server {row['id']} (pid {row['pid']}, "
                f"{row['title'] or row['spec']}); stop it with `mockloop stop {row['id']}` or"
            )
    return "; stop what holds it,"


def _free_port(host: str, taken: set[int]) -> int:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(20):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
    raise ServerError(f"no free port on {host}")


def _pick_port(
    host: str,
    wanted: int,
    *,
    explicit: bool,
    what: str,
    taken: set[int],
    notices: list[str],
    registered: list[dict[str, Any]],
) -> int:
    if wanted == 0:
        return _free_port(host, taken)
    if wanted not in taken and port_is_free(host, wanted):
        return wanted
    if explicit:
        reason = "is the business port" if wanted in taken else "is in use"
        option = "business_port= (--port)" if what == "port" else "admin_port= (--admin-port)"
        raise ServerError(
            f"{what} {wanted} on {host} {reason}{_holder(wanted, registered)} choose another "
            f"{what} with {option} (0 picks any free port), or leave it unset to use the next "
            "free one"
        )
    for candidate in range(wanted + 1, min(wanted + _PORT_SEARCH, 65536)):
        if candidate not in taken and port_is_free(host, candidate):
            notices.append(f"{what} {wanted} is busy; serving on {candidate}")
            return candidate
    raise ServerError(f"{what} {wanted} and the {_PORT_SEARCH} ports above it are all busy")


def _check_port(value: int | None, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(f"{name}={value!r} must be a TCP port between 1 and 65535 (0: any free)")


def _description_options(
    source: str, allow_fetch: list[str], refs_root: str | Path | None, widen: bool
) -> list[str]:
    """`mockloop serve` options carrying the fetch allow-list and the `$ref` root.

    The root is always passed explicitly: the server runs in another folder, so its own
    default (which depends on its current directory) would not be the caller's.
    """
    from mockloop.spec.fetch import FetchPolicy
    from mockloop.spec.refs import default_refs_root

    FetchPolicy(allow_fetch)  # ConfigError for a bad entry, before anything starts
    options = [option for entry in allow_fetch for option in ("--allow-fetch", entry)]
    root = default_refs_root(source, refs_root, widen_to_cwd=widen)
    if root is not None:
        options += ["--refs-root", str(root)]
    return options


def _command(
    spec: str | None,
    project: str | Path | None,
    port: int,
    admin_port: int,
    host: str,
    extra: list[str],
    *,
    allow_fetch: list[str] | None = None,
    refs_root: str | Path | None = None,
    widen: bool = False,
) -> tuple[list[str], Path, str, str | None]:
    """(argv, working folder, description, project path) of the server process."""
    if project is not None:
        from mockloop.generate import load_project_config

        folder = Path(project).expanduser().resolve()
        config = load_project_config(folder)  # ConfigError before anything starts
        main = folder / "main.py"
        if not main.is_file():
            raise ConfigError(f"{folder} has no main.py: regenerate the project")
        local = isinstance(config.spec, str) and not config.spec.startswith(("http://", "https://"))
        if local and not Path(str(config.spec)).is_file():
            raise SpecError(
                "file not found: the project's description is gone", source=str(config.spec)
            )
        argv = [sys.executable, str(main), "--host", host, "--port", str(port)]
        argv += ["--admin-port", str(admin_port), *extra]
        return argv, folder, str(config.spec), str(folder)
    assert spec is not None
    source = spec
    if not source.startswith(("http://", "https://")):
        path = Path(source).expanduser()
        if not path.exists():
            raise SpecError(
                f"file not found: {spec} (give a path or an http(s) URL of a description)",
                source=spec,
            )
        if not path.is_file():
            raise SpecError(
                f"{spec} is not a regular file: give the path of a description file",
                source=spec,
            )
        source = str(path.resolve())
    argv = [sys.executable, "-m", "mockloop", "serve", source, "--host", host]
    argv += ["--port", str(port), "--admin-port", str(admin_port), *extra]
    argv += _description_options(source, allow_fetch or [], refs_root, widen)
    return argv, mockloop_home(), source, None


def _health(client: httpx.Client, url: str) -> dict[str, Any] | None:
    try:
        response = client.get(f"{url}/health", headers=PROBE)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _failure_line(tail: str) -> str | None:
    """The child's own account of why it stopped: its last error line, if any."""
    for line in reversed(tail.splitlines()):
        text = line.strip()
        if text.startswith("mockloop: error: "):
            return text.removeprefix("mockloop: error: ")
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", text):
            return text
    return None


def _wait_healthy(
    process: Any, business_url: str, admin_url: str, business_port: int, timeout: float
) -> dict[str, Any]:
    """The admin /health answer once both ports answer; ServerError text otherwise."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                raise ServerError(f"the server process exited with code {process.returncode}")
            admin = _health(client, admin_url)
            if admin and admin.get("service") == "mockloop-admin":
                reported = urlsplit(str(admin.get("business_url") or "")).port
                # Someone else's server could answer on a port that we found free a moment
                # ago; the admin must name our business port and our process must live.
                if (
                    reported == business_port
                    and _health(client, business_url) is not None
                    and process.poll() is None
                ):
                    return admin
            if time.monotonic() >= deadline:
                raise ServerError(f"the server did not answer /health within {timeout:g} s")
            time.sleep(0.05)


def start_server(
    *,
    spec: str | None = None,
    project_path: str | Path | None = None,
    business_port: int = 8000,
    admin_port: int | None = None,
    port_explicit: bool = True,
    admin_port_explicit: bool = True,
    host: str = "127.0.0.1",
    extra_args: list[str] | None = None,
    timeout: float = 30.0,
    allow_fetch: list[str] | None = None,
    refs_root: str | Path | None = None,
    widen_refs_root_to_cwd: bool = False,
) -> ServerInfo:
    """Start a mock as a detached process, wait until both ports answer, and register it.

    Args:
        spec: a description (path or URL) served with `mockloop serve`.
        project_path: a generated project folder, run with its `main.py` (instead of `spec`).
        business_port: the API's port; 0 picks any free port.
        admin_port: the admin port; None: the port above the business port (moved if busy).
        port_explicit: the caller chose `business_port`: when busy, fail instead of moving.
        admin_port_explicit: the same for `admin_port`.
        host: the business host (the admin port always binds 127.0.0.1).
        extra_args: more options for `mockloop serve` or the project's `main.py`.
        timeout: seconds allowed for the server to come up.
        allow_fetch: private hosts or CIDRs the description's URLs may reach (`spec` only;
            a project keeps its mockloop.yaml).
        refs_root: the folder local `$ref`s of `spec` must stay inside; default: its own
            folder (see `widen_refs_root_to_cwd`).
        widen_refs_root_to_cwd: without `refs_root`, let local `$ref`s reach the caller's
            current directory when the description lies inside it (as `mockloop serve` does).

    Raises:
        ConfigError: neither or both of spec and project_path, a bad port, a bad project, a
            bad `allow_fetch` entry, a `refs_root` that is no folder.
        SpecError: the description file does not exist or is not a regular file.
        ServerError: an explicit port is busy, or the server did not come up (its process
            group is killed and the message ends with its log).
    """
    if (spec is None) == (project_path is None):
        raise ConfigError("give exactly one of spec (a description) or project_path")
    _check_port(business_port, "business_port")
    _check_port(admin_port, "admin_port")
    registry = Registry()
    registered = list_servers()
    rows = [{**s.model_dump(), "status": s.status} for s in registered]
    notices: list[str] = []
    port = _pick_port(
        host,
        business_port,
        explicit=port_explicit,
        what="port",
        taken=set(),
        notices=notices,
        registered=rows,
    )
    admin_explicit = admin_port is not None and admin_port_explicit
    wanted_admin = admin_port if admin_port is not None else (port + 1 if port < 65535 else 0)
    admin = _pick_port(
        "127.0.0.1",
        wanted_admin,
        explicit=admin_explicit,
        what="admin port",
        taken={port},
        notices=notices,
        registered=rows,
    )
    argv, cwd, source, project = _command(
        spec,
        project_path,
        port,
        admin,
        host,
        extra_args or [],
        allow_fetch=allow_fetch,
        refs_root=refs_root,
        widen=widen_refs_root_to_cwd,
    )
    server_id = secrets.token_hex(4)
    log_file = mockloop_home() / "servers" / f"{server_id}.log"
    env = {**os.environ, "MOCKLOOP_HOME": str(mockloop_home()), "PYTHONUNBUFFERED": "1"}
    business_url, admin_url = _url(host, port), _url("127.0.0.1", admin)
    process = spawn_detached(argv, cwd=cwd, env=env, log_file=log_file)
    started = process_start(process.pid)
    try:
        health = _wait_healthy(process, business_url, admin_url, port, timeout)
    except BaseException as exc:
        terminate(process.pid, started, timeout=2.0)
        if not isinstance(exc, ServerError):
            raise
        tail = log_tail(log_file)
        reason = _failure_line(tail) or str(exc)
        raise ServerError(
            f"the mock did not start: {reason}; nothing is left running. "
            f"Last lines of {log_file}:\n{tail or '(no output)'}"
        ) from None
    api = health.get("api") if isinstance(health.get("api"), dict) else {}
    row = {
        "id": server_id,
        "pid": process.pid,
        "process_start": started,
        "host": host,
        "business_port": port,
        "admin_port": admin,
        "business_url": business_url,
        "admin_url": admin_url,
        "docs_url": f"{business_url}/docs",
        "spec": source,
        "title": (api or {}).get("title"),
        "project_path": project,
        "status": "running",
        "started_at": time.time(),
        "stopped_at": None,
        "log_file": str(log_file),
        "command": argv,
        "notices": notices,
    }
    try:
        registry.add_server(row)
    except BaseException:
        terminate(process.pid, started, timeout=timeout)
        raise
    return _info(row)


def _refresh(registry: Registry, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        if row["status"] == "running" and not is_alive(row["pid"], row["process_start"]):
            registry.set_status(row["id"], "stale", only_if="running")
            row["status"] = "stale"
    return rows


def list_servers(*, include_stopped: bool = False) -> list[ServerInfo]:
    """Registered servers, newest first; a running entry whose process died (or whose pid now
    belongs to another process) is marked stale first."""
    registry = Registry()
    statuses = None if include_stopped else ("running", "stale")
    return [_info(row) for row in _refresh(registry, registry.servers(statuses=statuses))]


def project_server(project_path: str | Path) -> ServerInfo | None:
    """The running server MockLoop started from the project folder `project_path`, if any."""
    folder = str(Path(project_path).expanduser().resolve())
    for server in list_servers():
        if server.status == "running" and server.project_path == folder:
            return server
    return None


def _matches(row: dict[str, Any], target: str | int) -> bool:
    if isinstance(target, int):
        return target in (row["business_port"], row["admin_port"], row["pid"])
    text = target.strip()
    if text == row["id"]:
        return True
    if "://" in text or text.startswith(("127.", "localhost", "[")):
        parts = urlsplit(text if "://" in text else f"http://{text}")
        host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError:
            return False
        if port is None:
            return False
        same_host = host in _LOOPBACK or host == row["host"]
        return same_host and port in (row["business_port"], row["admin_port"])
    return False


def _find(target: str | int, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if isinstance(target, str) and target.strip().isdigit():
        # Registry ids are hex and may be all digits: an exact id wins over a port or pid.
        exact = [r for r in rows if r["id"] == target.strip()]
        if exact:
            return exact[0]
        target = int(target.strip())
    if isinstance(target, int):
        # A number names a port first (what users see in URLs), then a pid.
        by_port = [r for r in rows if target in (r["business_port"], r["admin_port"])]
        by_pid = [r for r in rows if r["pid"] == target]
        found = by_port or by_pid
    else:
        found = [r for r in rows if _matches(r, target)]
        if not found and len(target.strip()) >= 4:
            found = [r for r in rows if r["id"].startswith(target.strip())]
    order = {"running": 0, "stale": 1, "stopped": 2}
    found.sort(key=lambda r: (order[r["status"]], -r["started_at"]))
    return found[0] if found else None


def stop_server(target: str | int, *, timeout: float = 10.0) -> ServerInfo:
    """Stop a registered server and mark it stopped (its row stays as history).

    Args:
        target: the registry id (or a unique prefix), the pid, a business or admin port, or
            a business or admin URL.
        timeout: seconds to wait after SIGTERM (the mock flushes its request log) before
            SIGKILL.

    Raises:
        ConfigError: no registered server matches `target` (the message lists those running).
        ServerError: the process could not be stopped.
    """
    registry = Registry()
    rows = _refresh(registry, registry.servers())
    row = _find(target, rows)
    if row is None:
        running = [r for r in rows if r["status"] == "running"]
        listed = "; ".join(f"{r['id']} {r['business_url']} (pid {r['pid']})" for r in running)
        raise ConfigError(
            f"no server started by MockLoop matches {target!r}; give an id, pid, port or URL. "
            + (f"Running: {listed}" if listed else "No registered server is running.")
        )
    if row["status"] == "running" and not terminate(
        row["pid"], row["process_start"], timeout=timeout
    ):
        raise ServerError(f"server {row['id']} (pid {row['pid']}) did not stop")
    if row["status"] != "stopped":
        registry.set_status(row["id"], "stopped")
    stopped = registry.servers()
    return _info(next(r for r in stopped if r["id"] == row["id"]))


def stop_all_servers(*, timeout: float = 10.0) -> list[ServerInfo]:
    """Stop every running registered server and close stale entries; the servers stopped."""
    return [
        stop_server(server.id, timeout=timeout)
        for server in list_servers()
        if server.status in ("running", "stale")
    ]
