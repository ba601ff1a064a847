"""`mockloop load URL`: a load test from the command line, with a live progress line on stderr
and a summary table on stdout. Exit status 1 when a threshold fails (for CI), 2 on bad input."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from mockloop.errors import ConfigError

__all__ = ["add_load_command"]

_BAR = 24


def _threshold(text: str) -> tuple[str, float]:
    from mockloop.load.thresholds import parse_threshold

    try:
        return parse_threshold(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _ProgressLine:
    """Redraws one line on a terminal; on anything else, prints a line every few seconds."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last_print = 0.0
        self.drawn = False

    def __call__(self, done: float, total: float | None, message: str | None) -> None:
        share = min(1.0, done / total) if total else 0.0
        filled = round(share * _BAR)
        text = f"[{'#' * filled}{'.' * (_BAR - filled)}] {done:.0f}/{total or 0:.0f} s  {message}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.drawn = True
        elif time.monotonic() - self.last_print >= 5 or share >= 1.0:
            self.stream.write(text + "\n")
            self.last_print = time.monotonic()
        self.stream.flush()

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_summary(result: Any, out: Any = None) -> None:
    """The result as a table for people."""
    out = out or sys.stdout
    gen = result.generator
    print(f"Load test {result.run_id} against {result.server_url}: {result.status}", file=out)
    model = (
        f"open model, {result.target_rps:g} req/s target, up to {result.concurrent_users} "
        "connections"
        if result.model == "open"
        else f"closed model, {result.concurrent_users} users"
    )
    if gen is not None:
        model += (
            f"; {gen.processes} process(es) on {gen.event_loop}, generator CPU "
            f"{gen.cpu_percent:.0f}% of a core"
        )
    print(f"  {model}", file=out)
    print(
        f"  {result.total_requests} requests in {result.elapsed_s:.1f} s: "
        f"{result.successful_requests} ok, {result.failed_requests} failed "
        f"(error rate {result.error_rate:.2%}), {result.achieved_rps:.1f} req/s",
        file=out,
    )
    columns = ("min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
    fields = ("min_ms", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
    rows = [("all", result.latency, result.total_requests, result.error_rate)]
    if len(result.operations) > 1:
        for op in result.operations:
            failed = sum(n for kind, n in op.errors_by_kind.items() if kind != "bad_status")
            rows.append((op.name, op.latency, op.requests + failed, op.error_rate))
    width = max(12, *(len(name) for name, *_ in rows))
    header = f"  {'latency (ms)':<{width}} {'requests':>9} {'errors':>7}"
    header += "".join(f" {c:>9}" for c in columns)
    print(header, file=out)
    for name, lat, count, rate in rows:
        line = f"  {name:<{width}} {count:>9} {rate:>7.2%}"
        line += "".join(f" {_ms(getattr(lat, f)):>9}" for f in fields)
        print(line, file=out)
    if result.status_counts:
        codes = ", ".join(f"{k}: {v}" for k, v in result.status_counts.items())
        print(f"  status: {codes}", file=out)
    if result.errors_by_kind:
        kinds = ", ".join(f"{k}: {v}" for k, v in result.errors_by_kind.items())
        print(f"  errors: {kinds}", file=out)
    for verdict in result.thresholds:
        actual = "-" if verdict.actual is None else f"{verdict.actual:g}"
        mark = "pass" if verdict.passed else "FAIL"
        print(
            f"  threshold {verdict.metric} {verdict.comparison} {verdict.limit:g}: {actual} {mark}",
            file=out,
        )
    for warning in result.warnings:
        print(f"  warning: {warning}", file=out)
    if result.error:
        print(f"  error: {result.error}", file=out)


def _load(args: argparse.Namespace) -> int:
    from mockloop.client import AsyncMockLoopClient
    from mockloop.progress import progress_to

    spec = args.spec
    endpoints = list(args.endpoint) if args.endpoint else None
    progress = _ProgressLine()
    if args.remote_workers and args.master_bind:
        port = args.master_bind.rpartition(":")[2]
        print(
            f"waiting for {args.remote_workers} Locust worker(s); on each worker machine run: "
            f"locust -f - --worker --master-host THIS_HOST --master-port {port}",
            file=sys.stderr,
        )

    async def go() -> Any:
        async with AsyncMockLoopClient() as client:
            with progress_to(None if args.quiet else progress):
                return await client.run_load_test(
                    server_url=args.url,
                    scenario_name=args.scenario,
                    duration=args.duration,
                    concurrent_users=args.users,
                    target_rps=args.rate,
                    ramp_up=args.ramp_up,
                    endpoints=endpoints,
                    spec=spec,
                    think_time=args.think_time,
                    timeout=args.timeout,
                    processes=args.processes,
                    engine=args.engine,
                    remote_workers=args.remote_workers,
                    master_bind=args.master_bind,
                    thresholds=dict(args.threshold) if args.threshold else None,
                )

    try:
        result = asyncio.run(go())
    finally:
        progress.finish()
    if args.json:
        print(result.model_dump_json(indent=2, exclude={"histogram"}))
    else:
        print_summary(result)
    return 1 if result.passed is False else 0


def add_load_command(commands: Any) -> None:
    """Add `mockloop load` to the CLI's subcommands."""
    load = commands.add_parser(
        "load",
        help="run a load test against an HTTP API",
        description="Send real load to URL and report throughput, latency percentiles and "
        "errors. Exit status 1 when a --threshold fails. Load goes only to loopback hosts "
        "unless MOCKLOOP_ALLOWED_HOSTS lists the host.",
    )
    load.add_argument("url", help="the API to load, e.g. http://127.0.0.1:8000")
    load.add_argument("--users", type=int, default=10, metavar="N", help="users (default 10)")
    load.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="R",
        help="requests per second (open model; --users caps the connections)",
    )
    load.add_argument(
        "--duration", type=float, default=60, metavar="S", help="seconds (default 60)"
    )
    load.add_argument("--ramp-up", type=float, default=0, metavar="S", help="ramp-up seconds")
    load.add_argument(
        "--think-time", type=float, default=0, metavar="S", help="pause between a user's requests"
    )
    load.add_argument(
        "--timeout", type=float, default=10, metavar="S", help="request timeout (default 10)"
    )
    load.add_argument("--spec", metavar="FILE", help="load the GET operations of a description")
    load.add_argument(
        "--endpoint",
        action="append",
        metavar="'METHOD /path'",
        help="an endpoint of the mix (repeatable); default: the URL itself",
    )
    load.add_argument("--scenario", metavar="NAME", help="activate a mock's scenario for the run")
    load.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="worker processes on this machine (default 1; locust: 2)",
    )
    load.add_argument(
        "--engine",
        choices=["native", "locust"],
        default="native",
        help="locust: run the plan with Locust's master and workers (mockloop[locust])",
    )
    load.add_argument(
        "--remote-workers",
        type=int,
        default=0,
        metavar="N",
        help="locust: workers on other machines to wait for (needs --master-bind)",
    )
    load.add_argument(
        "--master-bind",
        default=None,
        metavar="HOST:PORT",
        help="locust: where the master listens for workers, e.g. 0.0.0.0:5557",
    )
    load.add_argument(
        "--threshold",
        action="append",
        type=_threshold,
        metavar="METRIC=LIMIT",
        help="e.g. p95_ms=200, error_rate=0.01, min_rps=100 (repeatable)",
    )
    load.add_argument("--json", action="store_true", help="print the result as JSON")
    load.add_argument("--quiet", action="store_true", help="no progress line")
    load.set_defaults(handler=_load)
