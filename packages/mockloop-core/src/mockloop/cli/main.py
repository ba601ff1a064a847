"""The `mockloop` command."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from mockloop.errors import ConfigError, MockLoopError

__all__ = ["main"]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def byte_size(text: str) -> int:
    """`65536`, `64K`, `64MiB`, `1g` -> bytes (binary units); argparse's type for sizes."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: give bytes or a number with K, M or G (e.g. 64M)"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _admin_token(args: argparse.Namespace) -> str | None:
    """The admin token from --admin-token, --admin-token-file or MOCKLOOP_ADMIN_TOKEN."""
    if args.admin_token_file:
        path = Path(args.admin_token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the admin token file {path}: {exc.strerror or exc}"
            ) from None
        if not token:
            raise ConfigError(f"the admin token file {path} is empty")
        return token
    if args.admin_token:
        return str(args.admin_token)
    return os.environ.get("MOCKLOOP_ADMIN_TOKEN") or None


def _serve(args: argparse.Namespace) -> int:
    # A mock server process has no use for pydantic plugins, and looking them up (entry points
    # through importlib.metadata) is a noticeable share of a start-up; set the variable to
    # anything else to keep them.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from mockloop.mock.workers import resolve_workers

    workers = resolve_workers(args.workers)
    from mockloop.mock import MockConfig, serve
    from mockloop.mock.admin.guard import is_loopback_host

    admin_port = (
        None
        if args.no_admin
        else (
            args.admin_port if args.admin_port is not None else (args.port + 1 if args.port else 0)
        )
    )
    admin_token = _admin_token(args)
    if admin_port is not None and not admin_token and not is_loopback_host(args.admin_host):
        raise ConfigError(
            f"--admin-host {args.admin_host or repr('')} reaches beyond this machine, and the "
            "admin API changes the mock: give it a token with --admin-token-file FILE or "
            "MOCKLOOP_ADMIN_TOKEN, or keep --admin-host 127.0.0.1"
        )
    config = MockConfig.build(
        spec=args.spec,
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=admin_port,
        admin_token=admin_token,
        admin_allow_hosts=args.admin_allow_host,
        seed=args.seed,
        locale=args.locale,
        max_spec_bytes=args.max_spec_size,
        allow_fetch=args.allow_fetch,
        refs_root=Path(args.refs_root) if args.refs_root else None,
        max_response_bytes=args.max_response_size,
        max_request_line_bytes=args.max_request_line,
        max_header_bytes=args.max_header_size,
        request_timeout=args.request_timeout,
        state_max_items=args.state_max_items,
        state_max_bytes=args.state_max_bytes,
        state_max_sessions=args.state_max_sessions,
        state_session_idle_seconds=args.state_session_idle,
        validation=args.validate,
        auth=not args.no_auth,
        scenarios_file=Path(args.scenarios) if args.scenarios else None,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        log_requests=not args.no_log,
        stateful=args.stateful,
        state_isolation=args.state_isolation,
        state_seed_items=args.seed_items,
        webhooks=not args.no_webhooks,
        admin_ui=not args.no_admin_ui,
        storage=not args.no_storage,
        compile_cache=not args.no_cache,
        watch=args.watch,
        database_url=args.database_url,
        store_name=args.store_name,
        replica_sync=True if args.replica_sync else None,
        cors=_cors(args.cors),
        security_headers=args.security_headers,
        rate_limit=_rate_limit(args),
        **(
            {"webhook_allow_hosts": ["127.0.0.1", "localhost", "::1", *args.webhook_allow_host]}
            if args.webhook_allow_host
            else {}
        ),
    )

    def ready(runtime: object) -> None:
        from mockloop.mock.runtime import MockRuntime

        assert isinstance(runtime, MockRuntime)
        spec = runtime.spec
        print(
            f"MockLoop is serving {spec.title} {spec.version} ({len(spec.operations)} operations)",
            flush=True,
        )
        print(f"  API:   {runtime.business_url}   (docs: {runtime.business_url}/docs)", flush=True)
        if runtime.admin_url:
            _print_admin(runtime.config.admin_host, runtime.admin_url)
        store = runtime.store
        if store is not None and store.backend == "postgresql":
            print(
                f"  Data:  {store.location} (shared by the name {runtime.store_name!r})", flush=True
            )
        else:
            print(f"  Data:  {runtime.data_dir}", flush=True)
        if runtime.rules.active_scenario:
            print(f"  Active scenario: {runtime.rules.active_scenario}", flush=True)
        if runtime.config.watch:
            watched = len(runtime.description_files) + (1 if runtime.config.scenarios_file else 0)
            print(f"  Watching {watched} file(s) for changes (--watch)", flush=True)
        print("Press Ctrl-C to stop.", flush=True)

    if args.watch:  # every reload is news to whoever edits the description
        logging.getLogger("mockloop.mock.watch").setLevel(logging.INFO)
    if workers > 1:
        from mockloop.mock.workers import serve_workers

        def ready_workers(runtime: object) -> None:
            ready(runtime)
            print(f"  Workers: {workers} business processes on one port", flush=True)

        code = serve_workers(config, workers, on_ready=ready_workers)
    else:
        code = serve(config, on_ready=ready)
    if code == 0:
        print("Stopped; the request log is flushed.", flush=True)
    return code


def _rate_limit(args: argparse.Namespace) -> Any:
    """`--rate-limit` and its scope and burst as MockConfig.rate_limit (None without it)."""
    if args.rate_limit is None:
        if args.rate_limit_burst is not None:
            raise ConfigError("--rate-limit-burst needs --rate-limit RATE (such as 10/s)")
        return None
    from mockloop.mock.config import parse_rate

    try:
        return parse_rate(args.rate_limit, args.rate_limit_scope, args.rate_limit_burst)
    except ValueError as exc:
        raise ConfigError(f"--rate-limit: {exc}") from None


def _cors(values: list[str] | None) -> list[str] | None:
    """`--cors` as MockConfig.cors: absent -> None (the default), `off` -> []."""
    if values is None:
        return None
    if "off" in values:
        if len(values) > 1:
            raise ConfigError("--cors off turns CORS off: give it alone, or list origins")
        return []
    return values


def _print_admin(admin_host: str, admin_url: str) -> None:
    """The admin line of the ready message: the address really bound, and a warning when that
    reaches beyond this machine."""
    from urllib.parse import urlsplit

    from mockloop.mock.admin.guard import is_loopback_host

    port = urlsplit(admin_url).port
    host = admin_host or "0.0.0.0"
    bound = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    if bound == admin_url:
        print(f"  Admin: {admin_url}   (API reference: {admin_url}/docs)", flush=True)
    else:
        print(
            f"  Admin: {bound}   (from here: {admin_url}, API reference: {admin_url}/docs)",
            flush=True,
        )
    if not is_loopback_host(host):
        where = "every interface" if host in ("0.0.0.0", "::") else host
        print(
            f"  Warning: the admin port listens on {where}, beyond this machine: anyone who "
            "reaches it with the admin token can change this mock",
            flush=True,
        )


class _VersionAction(argparse.Action):
    """`--version`: the installed version, looked up only when asked for."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from mockloop.version import __version__

        print(f"mockloop {__version__}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockloop", description="MockLoop: AI-native API testing from OpenAPI descriptions."
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="print the version")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a mock API from an OpenAPI description",
        description="Serve the described API on --port and the admin API/UI on --admin-port "
        "until Ctrl-C or SIGTERM; then flush the request log and exit 0.",
    )
    serve.add_argument("spec", help="path or URL of an OpenAPI/Swagger description (YAML/JSON)")
    serve.add_argument(
        "--port", type=int, default=8000, help="business port (default 8000; 0 = any free)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="business host (default 127.0.0.1)")
    serve.add_argument(
        "--admin-port",
        type=int,
        default=None,
        help="admin port (default: --port + 1; 0 = any free)",
    )
    serve.add_argument(
        "--admin-host",
        default="127.0.0.1",
        help="admin host (default 127.0.0.1; an address beyond loopback needs an admin token)",
    )
    serve.add_argument(
        "--admin-token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' on the admin API (visible to other users "
        "in the process list: prefer --admin-token-file or MOCKLOOP_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--admin-token-file",
        metavar="FILE",
        default=None,
        help="read the admin token from FILE (surrounding whitespace ignored)",
    )
    serve.add_argument(
        "--admin-allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="let the admin port answer requests whose Host is NAME (repeatable; it always "
        "answers 127.0.0.1, localhost, [::1] and its --admin-host address)",
    )
    serve.add_argument("--no-admin", action="store_true", help="serve no admin port")
    serve.add_argument(
        "--cors",
        nargs="+",
        metavar="off|ORIGIN",
        default=None,
        help="which web origins may call the API from a browser: 'off', '*', or origins such "
        "as http://localhost:3000 (default: any origin for a pure mock, none with proxy "
        "settings)",
    )
    serve.add_argument(
        "--rate-limit",
        metavar="RATE",
        default=None,
        help="throttle every operation: REQUESTS/UNIT such as 10/s, 100/m or 30/10s; past it "
        "the mock answers 429 with Retry-After and RateLimit-* headers",
    )
    serve.add_argument(
        "--rate-limit-scope",
        choices=["client", "session", "global"],
        default="client",
        help="one bucket per client address (default), per X-Session-ID, or one for everyone",
    )
    serve.add_argument(
        "--rate-limit-burst",
        type=float,
        default=None,
        metavar="N",
        help="requests allowed at once after a quiet spell (default: the rate's count)",
    )
    serve.add_argument(
        "--security-headers",
        choices=["off", "standard", "strict"],
        default="off",
        help="add security headers to every answer: standard (nosniff, X-Frame-Options, "
        "Referrer-Policy, CSP) or strict (also HSTS, no-store, COOP); default off",
    )
    serve.add_argument(
        "--workers",
        default="1",
        metavar="N",
        help="business worker processes on the one port (default 1; 'auto' = the cores at "
        "hand): one admin API, one request log, one set of scenarios and shared state",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of generated data (default 0)")
    serve.add_argument(
        "--locale",
        default="en_US",
        help="Faker locale of generated names, places and texts, e.g. de_DE (default en_US)",
    )
    serve.add_argument(
        "--validate",
        choices=["off", "warn", "enforce"],
        default="enforce",
        help="request validation (default enforce)",
    )
    serve.add_argument(
        "--no-auth", action="store_true", help="do not simulate the description's authentication"
    )
    serve.add_argument("--scenarios", metavar="FILE", help="load scenarios from a YAML/JSON file")
    serve.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where to keep the mock's database (default: under MOCKLOOP_HOME)",
    )
    serve.add_argument(
        "--database-url",
        metavar="URL",
        help="keep scenarios, state and the log in this PostgreSQL database, shared with other "
        "replicas (postgresql://user:password@host:port/db; default: MOCKLOOP_DATABASE_URL, "
        "else SQLite files in the data folder)",
    )
    serve.add_argument(
        "--store-name",
        metavar="NAME",
        help="this mock's name in the shared database: replicas with the same name share it "
        "(default: the description's title)",
    )
    serve.add_argument(
        "--replica-sync",
        action="store_true",
        help="follow scenario and override changes made by other processes on the same SQLite "
        "data folder (always on with PostgreSQL)",
    )
    serve.add_argument("--no-log", action="store_true", help="do not record requests")
    serve.add_argument(
        "--stateful",
        action="store_true",
        help="remember created, changed and deleted items of the described collections",
    )
    serve.add_argument(
        "--state-isolation",
        choices=["shared", "session"],
        default="shared",
        help="'session': separate data per X-Session-ID header value (default shared)",
    )
    serve.add_argument(
        "--seed-items",
        type=int,
        default=3,
        metavar="N",
        help="generated items per collection at start in stateful mode (default 3)",
    )
    serve.add_argument(
        "--no-webhooks", action="store_true", help="no /api/webhooks and no webhook deliveries"
    )
    serve.add_argument(
        "--webhook-allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="also allow webhook targets on HOST (repeatable; loopback is always allowed)",
    )
    serve.add_argument("--no-admin-ui", action="store_true", help="no admin UI at the admin /")
    limits = serve.add_argument_group("limits (what a stranger's description or request may cost)")
    limits.add_argument(
        "--max-spec-size",
        type=byte_size,
        default=64 * 1024**2,
        metavar="SIZE",
        help="largest description document read, each file or URL (default 64M)",
    )
    limits.add_argument(
        "--allow-fetch",
        action="append",
        default=[],
        metavar="HOST|CIDR",
        help="let description URLs and remote $refs reach this private host or network "
        "(repeatable; loopback is always allowed, link-local and cloud metadata never)",
    )
    limits.add_argument(
        "--refs-root",
        metavar="DIR",
        default=None,
        help="local $refs must stay inside DIR (default: the description's folder, or the "
        "current directory when the description lies inside it)",
    )
    limits.add_argument(
        "--max-response-size",
        type=byte_size,
        default=1024**2,
        metavar="SIZE",
        help="largest generated response body; larger ones are cut to fit (default 1M)",
    )
    limits.add_argument(
        "--max-request-line",
        type=byte_size,
        default=8 * 1024,
        metavar="SIZE",
        help="longest request line, answered 414 beyond (default 8K)",
    )
    limits.add_argument(
        "--max-header-size",
        type=byte_size,
        default=64 * 1024,
        metavar="SIZE",
        help="largest request header block, answered 431 beyond (default 64K)",
    )
    limits.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="time a client has to send a request's headers and body (default 30)",
    )
    limits.add_argument(
        "--state-max-items",
        type=int,
        default=100_000,
        metavar="N",
        help="items one stateful collection (shared, or one session's) may hold (default 100000)",
    )
    limits.add_argument(
        "--state-max-bytes",
        type=byte_size,
        default=64 * 1024**2,
        metavar="SIZE",
        help="bytes all stateful data may take, every collection and session together: "
        "each item's JSON plus its overhead in memory (default 64M)",
    )
    limits.add_argument(
        "--state-max-sessions",
        type=int,
        default=1000,
        metavar="N",
        help="X-Session-ID sessions kept at once with --state-isolation session (default 1000)",
    )
    limits.add_argument(
        "--state-session-idle",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="evict a session unused this long with --state-isolation session (default 1800)",
    )
    serve.add_argument(
        "--no-cache",
        action="store_true",
        help="load the description from scratch and keep no compiled copy of it (the cache "
        "lives in MOCKLOOP_CACHE_DIR, else $XDG_CACHE_HOME/mockloop/compiled, else "
        "~/.cache/mockloop/compiled; safe to delete)",
    )
    serve.add_argument(
        "--watch",
        action="store_true",
        help="reload the description (every file it reads) and the --scenarios file when they "
        "change, without a restart; a bad edit keeps the last good version serving and is "
        "reported in the log and /health",
    )
    serve.add_argument(
        "--no-storage",
        action="store_true",
        help="keep the log, scenarios and state in a temporary folder removed at stop",
    )
    serve.set_defaults(handler=_serve)

    from mockloop.cli.servers import add_server_commands

    add_server_commands(commands)
    from mockloop.cli.load import add_load_command

    add_load_command(commands)
    from mockloop.cli.report import add_report_command

    add_report_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    # Start-up builds hundreds of thousands of objects that live as long as the mock (modules,
    # models, the description): collecting them on the way is wasted work (about 50 ms of a
    # 0.3 s start). The mock freezes them and turns the collector on once it answers
    # (mock.server._freeze_heap, mock.workers.serve_workers); it is on again here at the end
    # whatever happened (main may run inside another program).
    collecting = args.command == "serve" and gc.isenabled()
    if collecting:
        gc.disable()
    try:
        return int(args.handler(args))
    except MockLoopError as exc:
        print(f"mockloop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if collecting:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
