"""`mockloop-mcp` and `python -m mockloop_mcp`: serve MockLoop over MCP.

stdio (the default) keeps stdout for the protocol alone: logs go to stderr, or to a file with
`--log-file`. `--transport streamable-http` serves on `--host`/`--port` (127.0.0.1:8765 by
default) at the path `/mcp`. `--allow-fetch HOST|CIDR` (repeatable) lets description URLs
and remote `$ref`s reach a private host or network, like `MOCKLOOP_ALLOW_FETCH`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys

from mockloop_mcp import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockloop-mcp",
        description="MockLoop MCP server: every MockLoop operation as an MCP tool.",
    )
    parser.add_argument("--version", action="version", version=f"mockloop-mcp {__version__}")
    parser.add_argument(
        "--transport",
        choices=("stdio", "streamable-http", "sse"),
        default="stdio",
        help="stdio (default; for Claude Desktop, Cline, ...) or streamable-http",
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--log-file", help="write logs to this file instead of stderr")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (default WARNING)",
    )
    parser.add_argument(
        "--include", help="comma-separated operation names to expose (default: all)"
    )
    parser.add_argument("--exclude", help="comma-separated operation names to hide")
    parser.add_argument(
        "--allow-fetch",
        action="append",
        default=[],
        metavar="HOST|CIDR",
        help="let description URLs and remote $refs reach this private host or network "
        "(repeatable; adds to MOCKLOOP_ALLOW_FETCH; loopback is always allowed, link-local "
        "and cloud metadata never)",
    )
    return parser


def _allow_fetch(entries: list[str]) -> None:
    """Add `--allow-fetch` entries to MOCKLOOP_ALLOW_FETCH, which the client's settings read.

    Raises:
        ConfigError: an entry is neither a host name nor an address or CIDR.
    """
    from mockloop.settings import env_allow_fetch
    from mockloop.spec.fetch import FetchPolicy

    merged = [*env_allow_fetch(), *(e.strip() for e in entries if e.strip())]
    FetchPolicy(merged)
    if merged:
        os.environ["MOCKLOOP_ALLOW_FETCH"] = ",".join(merged)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=args.log_level,
        handlers=[handler],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )
    from mockloop import MockLoopError
    from mockloop_mcp.server import build_server

    split = lambda text: [n.strip() for n in text.split(",") if n.strip()] if text else None  # noqa: E731
    try:
        _allow_fetch(args.allow_fetch)
        server = build_server(
            include=split(args.include),
            exclude=split(args.exclude),
            host=args.host,
            port=args.port,
            log_level=args.log_level,
        )
    except MockLoopError as exc:
        print(f"mockloop-mcp: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        server.run(transport=args.transport)
    return 0


if __name__ == "__main__":
    sys.exit(main())
