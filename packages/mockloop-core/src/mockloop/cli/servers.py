"""The `mockloop` commands for generated projects and detached servers: generate, start,
stop, list and discover. Output is plain text for people; errors exit 2 with one line."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from mockloop.errors import ConfigError

__all__ = ["add_server_commands"]


def _ports(text: str) -> list[int]:
    try:
        ports = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give ports like 8000,8001") from None
    if not ports or any(not 1 <= p <= 65535 for p in ports):
        raise argparse.ArgumentTypeError(f"{text!r}: ports are numbers from 1 to 65535")
    return ports


def _print_server(server: Any, verb: str) -> None:
    print(f"{verb} {server.title or server.spec} [{server.id}] (pid {server.pid})")
    for notice in server.notices:
        print(f"  note:  {notice}")
    print(f"  API:   {server.business_url}   (docs: {server.docs_url})")
    if server.admin_url:
        print(f"  Admin: {server.admin_url}")
    if server.log_file:
        print(f"  Log:   {server.log_file}")
    print(f"Stop it with: mockloop stop {server.id}")


def _fetch_limits(args: argparse.Namespace) -> dict[str, Any]:
    """Where a description given on the command line may reach: as `mockloop serve`, its
    `$ref`s may read the current folder when it lies inside it."""
    return {
        "allow_fetch": list(args.allow_fetch),
        "refs_root": args.refs_root,
        "widen_refs_root_to_cwd": args.refs_root is None,
    }


def _start(args: argparse.Namespace, project: Path | None, spec: str | None) -> int:
    from mockloop.servers import start_server

    extra = []
    if spec is not None:
        extra += ["--stateful"] if getattr(args, "stateful", False) else []
        extra += ["--no-auth"] if getattr(args, "no_auth", False) else []
    server = start_server(
        spec=spec,
        project_path=project,
        business_port=args.port if args.port is not None else 8000,
        admin_port=args.admin_port,
        port_explicit=args.port is not None,
        admin_port_explicit=args.admin_port is not None,
        host=getattr(args, "host", "127.0.0.1"),
        extra_args=extra,
        timeout=args.timeout,
        **_fetch_limits(args),
    )
    _print_server(server, "Started")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from mockloop.generate import generate_project

    project = generate_project(
        args.spec,
        output_dir_name=args.name,
        auth_enabled=not args.no_auth,
        webhooks_enabled=not args.no_webhooks,
        admin_ui_enabled=not args.no_admin_ui,
        storage_enabled=not args.no_storage,
        stateful=args.stateful,
        business_port=args.port if args.port is not None else 8000,
        admin_port=args.admin_port,
        overwrite=args.overwrite,
        **_fetch_limits(args),
    )
    print(f"Generated {project.name} in {project.path}")
    print(f"  files: {', '.join(project.files)}")
    on = [name for name, enabled in project.features.items() if enabled]
    print(f"  on:    {', '.join(on) or 'nothing'}")
    for warning in project.warnings:
        print(f"  note:  {warning}")
    if not args.start:
        print(f"Run it: cd {project.path} && python main.py   (or: mockloop start --project .)")
        return 0
    return _start(args, project.path, None)


def _start_command(args: argparse.Namespace) -> int:
    if (args.spec is None) == (args.project is None):
        raise ConfigError("give a description (SPEC) or --project PATH, not both or neither")
    return _start(args, Path(args.project) if args.project else None, args.spec)


def _stop(args: argparse.Namespace) -> int:
    from mockloop.servers import stop_all_servers, stop_server

    if args.all == (args.target is not None):
        raise ConfigError("give a server (id, pid, port or URL) or --all")
    stopped = (
        stop_all_servers(timeout=args.timeout)
        if args.all
        else [stop_server(args.target, timeout=args.timeout)]
    )
    for server in stopped:
        print(f"Stopped {server.id} {server.business_url} (pid {server.pid})")
    if not stopped:
        print("No registered server was running.")
    return 0


def _age(started: float) -> str:
    seconds = max(0, int(time.time() - started))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _list(args: argparse.Namespace) -> int:
    from mockloop.servers import list_servers

    servers = list_servers(include_stopped=args.all)
    if not servers:
        print("No servers." if args.all else "No servers running (mockloop list --all: history).")
        return 0
    print(f"{'ID':<9} {'STATUS':<8} {'PID':>7} {'AGE':>5}  {'API':<24} {'ADMIN':<24} TITLE")
    for s in servers:
        print(
            f"{s.id:<9} {s.status:<8} {s.pid:>7} {_age(s.started_at):>5}  {s.business_url:<24} "
            f"{s.admin_url or '-':<24} {s.title or s.spec}"
        )
    stale = sum(1 for s in servers if s.status == "stale")
    if stale:
        print(f"{stale} stale: the process died; `mockloop stop ID` clears the entry.")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from mockloop.servers import discover_servers

    found = discover_servers(
        args.ports, check_health=not args.no_health, include_generated=not args.no_generated
    )
    if found.servers:
        print("Servers:")
        for s in found.servers:
            health = {True: "healthy", False: "unhealthy", None: "not checked"}[s.healthy]
            owner = f"registered {s.server_id}" if s.registered else "not registered"
            urls = s.business_url or "-"
            if s.admin_url:
                urls += f"  admin {s.admin_url}"
            print(f"  {urls}  {s.kind}, {health}, {owner}  {s.title or ''}".rstrip())
    else:
        ports = ", ".join(str(p) for p in found.scanned_ports) or "none"
        print(f"No MockLoop server found (ports scanned: {ports}).")
    for s in found.stale:
        print(f"Stale registry entry {s.id}: pid {s.pid} is gone ({s.business_url})")
    if found.generated:
        print("Generated projects:")
        for p in found.generated:
            state = f"running at {p.business_url}" if p.running else "not running"
            print(f"  {p.name}  {p.path}  ({state})")
    return 0


def _port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=None, help="business port (default 8000; if busy, the next)"
    )
    parser.add_argument(
        "--admin-port", type=int, default=None, help="admin port (default: --port + 1)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for start-up (default 30)"
    )
    parser.add_argument(
        "--allow-fetch",
        action="append",
        default=[],
        metavar="HOST|CIDR",
        help="let description URLs and remote $refs reach this private host or network "
        "(repeatable; loopback is always allowed, link-local and cloud metadata never)",
    )
    parser.add_argument(
        "--refs-root",
        metavar="DIR",
        default=None,
        help="local $refs must stay inside DIR (default: the description's folder, or the "
        "current directory when the description lies inside it)",
    )


def add_server_commands(commands: Any) -> None:
    """Add generate, start, stop, list and discover to the `mockloop` sub-command parsers."""
    generate = commands.add_parser(
        "generate",
        help="write a standalone mock project (main.py, config, Dockerfile, compose)",
        description="Write a mock project for a description: a plain --name goes under "
        "MOCKLOOP_HOME/projects; a path starting with /, ./ or ../ is used as given.",
    )
    generate.add_argument("spec", help="path or URL of an OpenAPI/Swagger description")
    generate.add_argument("--name", help="project folder name or path (default: from the title)")
    _port_options(generate)
    generate.add_argument("--no-auth", action="store_true", help="do not simulate security")
    generate.add_argument("--no-webhooks", action="store_true", help="serve no /api/webhooks")
    generate.add_argument("--no-admin-ui", action="store_true", help="serve no admin UI")
    generate.add_argument(
        "--no-storage", action="store_true", help="keep no data on disk (a temporary folder)"
    )
    generate.add_argument("--stateful", action="store_true", help="CRUD collections")
    generate.add_argument("--overwrite", action="store_true", help="rewrite an existing project")
    generate.add_argument("--start", action="store_true", help="start it in the background")
    generate.set_defaults(handler=_generate)

    start = commands.add_parser(
        "start",
        help="start a mock in the background (it runs until `mockloop stop`)",
        description="Start a mock as a detached process and register it; it outlives this "
        "command until `mockloop stop`.",
    )
    start.add_argument("spec", nargs="?", help="path or URL of a description")
    start.add_argument("--project", metavar="PATH", help="a folder written by `mockloop generate`")
    _port_options(start)
    start.add_argument("--host", default="127.0.0.1", help="business host (default 127.0.0.1)")
    start.add_argument("--stateful", action="store_true", help="CRUD collections (with SPEC)")
    start.add_argument("--no-auth", action="store_true", help="do not simulate security (SPEC)")
    start.set_defaults(handler=_start_command)

    stop = commands.add_parser("stop", help="stop a background mock (id, pid, port or URL)")
    stop.add_argument("target", nargs="?", help="the server's id, pid, port or URL")
    stop.add_argument("--all", action="store_true", help="stop every registered server")
    stop.add_argument(
        "--timeout", type=float, default=10.0, help="seconds before SIGKILL (default 10)"
    )
    stop.set_defaults(handler=_stop)

    listing = commands.add_parser("list", help="list the background mocks MockLoop started")
    listing.add_argument("--all", action="store_true", help="include stopped servers")
    listing.set_defaults(handler=_list)

    discover = commands.add_parser(
        "discover", help="find MockLoop servers on this machine and generated projects"
    )
    discover.add_argument(
        "--ports", type=_ports, default=None, help="ports to scan, e.g. 8000,8001 (default: common)"
    )
    discover.add_argument(
        "--no-health", action="store_true", help="only check registered processes and ports"
    )
    discover.add_argument("--no-generated", action="store_true", help="omit generated projects")
    discover.set_defaults(handler=_discover)
