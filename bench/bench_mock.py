"""Throughput of the mock's business port against FastAPI, side by side, and log fidelity.

The issue's goal: one mock worker with its defaults on serves at least twice the requests/s of
the fastest FastAPI route there is, with a p99 no higher than FastAPI's. In one run this script

1. starts `mockloop serve examples/specs/petstore.yaml` with its defaults (request validation,
   auth simulation and the request log on, one worker) and two references from
   `baseline_fastapi.py`, each one uvicorn worker answering the mock's own body for
   `/{collection}/{id}`: `fastest` (an `async` route returning a pre-built `Response`, uvloop +
   httptools) and `stock` (a route returning a dict, uvicorn's defaults);
2. pins every server to one core (`--server-cpu`) and wrk to another (`--wrk-cpu`), warms each
   up, then runs `wrk -t1 -c50 -d10s --latency` with `Authorization: Bearer <token>` (the mock
   checks it; the references ignore it) against `GET /owners/{uuid}` (an object body generated
   from the schema: `/pets/{id}` answers the description's named example instead; pass
   `--path /pets/7` to measure that), alternating mock / fastest / stock for `--rounds` rounds
   so machine noise hits all, and takes the median of each;
3. reads the mock's CPU time per thread during its rounds (`/proc`): the event loop's and the
   request-log writer's share of the core, and CPU microseconds per request, a figure the
   machine's other load disturbs less than requests/s;
4. stops the mock with SIGTERM (it flushes its log), counts the rows the mock logged for
   that path in its SQLite file and compares them with the responses wrk counted: every
   completed response must have its row (rows may exceed wrk's count by the responses still
   in flight when wrk stopped its clock).

It prints a table, both ratios (mock / fastest, mock / stock) and the p99s, and writes
`bench/results/bench_mock.json`. Exit status: 0 when every response was logged and nothing
failed, 1 otherwise (or when `--min-ratio`, compared with mock / fastest, is not reached), 2 when
wrk is missing.

Run: python bench/bench_mock.py [--duration 10] [--rounds 2] [--connections 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BENCH,
    ROOT,
    ServedMock,
    free_port,
    machine,
    median,
    print_table,
    wait_for_http,
    write_results,
)
from wrk_runner import (
    WRK_INSTALL_HINT,
    WrkResult,
    find_wrk,
    parse_wrk_output,
    require_whole_seconds,
)

GOAL_RATIO = 2.0
DEFAULT_SPEC = ROOT / "examples" / "specs" / "petstore.yaml"
# getOwner documents no example, so its body is generated (and then cached per path).
DEFAULT_PATH = "/owners/6f1c2d1e-0000-4000-8000-000000000001"
REFERENCES = ("fastest", "stock")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """Run the block (and the processes it starts, which inherit it) on core `cpu` only."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def start_reference(
    style: str, body_file: Path, folder: Path, cpu: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    output = (folder / f"{style}-output.txt").open("wb")
    command = [
        sys.executable,
        str(BENCH / "baseline_fastapi.py"),
        "--port",
        str(port),
        "--body-file",
        str(body_file),
        "--style",
        style,
    ]
    with pinned(cpu):
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", process=process, deadline_s=60)
    return process, url


def stop_process(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def run_wrk(
    url: str,
    *,
    duration_s: float,
    threads: int,
    connections: int,
    headers: dict[str, str],
    timeout_s: float = 5.0,
) -> WrkResult:
    """`wrk -tT -cC -dD --latency -H ... URL`, on the cores this process runs on."""
    wrk = find_wrk()
    if wrk is None:
        raise RuntimeError(WRK_INSTALL_HINT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result = WrkResult(url=url, threads=threads, connections=connections, duration_s=duration_s)
    return parse_wrk_output(done.stdout, result)


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) each thread of `pid` has used; {} off Linux.

    The main thread (the event loop) is `event-loop`, the others `thread-<tid>`: in a mock
    under load that is the request-log writer (the admin server shares the event loop).
    """
    seconds: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        name = "event-loop" if task.name == str(pid) else f"thread-{task.name}"
        seconds[name] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return seconds


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def log_stats(admin_url: str, deadline_s: float = 60.0) -> dict[str, Any]:
    """The mock's request-log counters once its queue is empty (admin `/health`)."""
    deadline = time.monotonic() + deadline_s
    stats: dict[str, Any] = {}
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            stats = client.get(f"{admin_url}/health").json().get("request_log") or {}
            if not stats.get("queued"):
                break
            time.sleep(0.1)
    return stats


def count_rows(db: Path, path: str) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        total = conn.execute(
            "SELECT COUNT(*) FROM request_log WHERE method = 'GET' AND path = ?", (path,)
        ).fetchone()[0]
        statuses = dict(
            conn.execute(
                "SELECT status, COUNT(*) FROM request_log WHERE method = 'GET' AND path = ? "
                "GROUP BY status",
                (path,),
            ).fetchall()
        )
        other = conn.execute(
            "SELECT COUNT(*) FROM request_log WHERE NOT (method = 'GET' AND path = ?)", (path,)
        ).fetchone()[0]
    conn.close()
    return {"rows": total, "by_status": {str(k): v for k, v in statuses.items()}, "other": other}


def summarise(runs: list[WrkResult]) -> dict[str, Any]:
    return {
        "requests_per_s": median([r.requests_per_s for r in runs]),
        "p50_ms": median([r.p50_ms for r in runs if r.p50_ms is not None]),
        "p99_ms": median([r.p99_ms for r in runs if r.p99_ms is not None]),
        "requests": sum(r.requests for r in runs),
        "errors": sum(r.errors for r in runs),
        "rounds_rps": [r.requests_per_s for r in runs],
    }


def cpu_summary(used: dict[str, float], requests: int) -> dict[str, Any]:
    """The mock's CPU during its measured rounds: per thread, the writer's share (every thread
    but the event loop's), µs/request."""
    total = sum(used.values())
    writer = total - used.get("event-loop", 0.0)
    return {
        "cpu_s": round(total, 2),
        "by_thread_s": {k: round(v, 2) for k, v in sorted(used.items()) if v > 0},
        "log_writer_share": writer / total if total else None,
        "cpu_us_per_request": total / requests * 1e6 if requests else None,
    }


def default_cpus() -> tuple[int | None, int | None]:
    """One core for the server under test, another for wrk (None, None: no pinning)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[1]) if len(cores) >= 2 else (None, None)


def main(argv: list[str] | None = None) -> int:
    server_cpu, wrk_cpu = default_cpus()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--path", default=DEFAULT_PATH, help="GET path with an object body")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per server")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per server")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--references",
        default=",".join(REFERENCES),
        help="comma-separated FastAPI references to run: fastest, stock (default: both)",
    )
    parser.add_argument("--token", default="bench-token", help="bearer token every request carries")
    parser.add_argument(
        "--no-auth", action="store_true", help="serve the mock with --no-auth (defaults: on)"
    )
    parser.add_argument("--server-cpu", type=int, default=server_cpu, help="core of the servers")
    parser.add_argument("--wrk-cpu", type=int, default=wrk_cpu, help="core of wrk")
    parser.add_argument("--no-pin", action="store_true", help="pin neither servers nor wrk")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help=f"exit 1 when mock/fastest is below this (the goal is {GOAL_RATIO})",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    require_whole_seconds(parser, duration=args.duration, warmup=args.warmup)
    references = [name.strip() for name in args.references.split(",") if name.strip()]
    unknown = sorted(set(references) - set(REFERENCES))
    if unknown or not references:
        parser.error(f"--references takes {', '.join(REFERENCES)}, not {args.references!r}")
    if args.no_pin:
        args.server_cpu = args.wrk_cpu = None

    if find_wrk() is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    if not args.spec.exists():
        print(f"no description at {args.spec}", file=sys.stderr)
        return 2

    wrk_options: dict[str, Any] = {
        "threads": args.threads,
        "connections": args.connections,
        "headers": {"Authorization": f"Bearer {args.token}"},
    }
    problems: list[str] = []
    runs: dict[str, list[WrkResult]] = {"mockloop": [], **{name: [] for name in references}}
    cpu_by_thread: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mockloop-bench-") as tmp, pinned(args.wrk_cpu):
        folder = Path(tmp)
        with pinned(args.server_cpu):
            mock = ServedMock(
                args.spec, folder / "mock-data", ["--no-auth"] if args.no_auth else []
            ).start()
        assert mock.process is not None
        mock_pid = mock.process.pid
        servers: dict[str, subprocess.Popen[bytes]] = {}
        mock_requests = 0  # every response the mock completed for the path, by wrk's count
        stats: dict[str, Any] = {}
        try:
            target = mock.business_url + args.path
            probe = httpx.get(target, headers=wrk_options["headers"], timeout=10)
            mock_requests += 1
            if probe.status_code != 200 or "json" not in probe.headers.get("content-type", ""):
                raise RuntimeError(f"GET {target} answered {probe.status_code}: {probe.text[:300]}")
            body_file = folder / "body.json"
            body_file.write_bytes(probe.content)
            targets = {"mockloop": target}
            print(f"mockloop: {target}  ({len(probe.content)} body bytes)")
            for name in references:
                servers[name], url = start_reference(name, body_file, folder, args.server_cpu)
                targets[name] = url + args.path
                check = httpx.get(targets[name], timeout=10)
                if check.status_code != 200 or check.content != probe.content:
                    raise RuntimeError(f"the {name} reference answered {check.status_code}")
                print(f"{name:8}: {targets[name]}  ({len(check.content)} body bytes)")
            where = (
                f"servers on core {args.server_cpu}, wrk on core {args.wrk_cpu}"
                if args.server_cpu is not None
                else "not pinned"
            )
            print(f"warming up ({args.warmup:g} s each; {where}) ...", flush=True)
            for name, url in targets.items():
                warm = run_wrk(url, duration_s=args.warmup, **wrk_options)
                if name == "mockloop":
                    mock_requests += warm.requests

            for index in range(args.rounds):
                for name, url in targets.items():
                    print(
                        f"round {index + 1}/{args.rounds}: {name} ({args.duration:g} s) ...",
                        flush=True,
                    )
                    before = thread_cpu(mock_pid) if name == "mockloop" else {}
                    result = run_wrk(url, duration_s=args.duration, **wrk_options)
                    runs[name].append(result)
                    if name == "mockloop":
                        mock_requests += result.requests
                        for key, value in cpu_used(before, thread_cpu(mock_pid)).items():
                            cpu_by_thread[key] = cpu_by_thread.get(key, 0.0) + value
                    print(
                        f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms} ms, "
                        f"p99 {result.p99_ms} ms, errors {result.errors}",
                        flush=True,
                    )
            stats = log_stats(mock.admin_url)
        finally:
            exit_code = mock.stop()
            for process in servers.values():
                stop_process(process)
        rows = count_rows(mock.data_dir / "mock.db", args.path.split("?", 1)[0])

    summaries = {name: summarise(server_runs) for name, server_runs in runs.items()}
    mock_summary = summaries["mockloop"]
    ratios = {
        name: mock_summary["requests_per_s"] / summaries[name]["requests_per_s"]
        for name in references
    }
    cpu = cpu_summary(cpu_by_thread, sum(r.requests for r in runs["mockloop"]))
    evicted = int(stats.get("evicted", 0))
    dropped = int(stats.get("dropped", 0))
    accounted = rows["rows"] + evicted  # retention (log_max_records) evicts the oldest rows
    missing = max(0, mock_requests - accounted)
    log_check = {
        "wrk_completed_responses": mock_requests,
        "rows_for_path": rows["rows"],
        "rows_by_status": rows["by_status"],
        "rows_other_paths": rows["other"],
        "evicted_by_retention": evicted,
        "dropped": dropped,
        "writer_stats_before_stop": stats,
        "missing": missing,
        "extra_rows": max(0, accounted - mock_requests),
        "mock_exit_code": exit_code,
    }

    if missing:
        problems.append(f"{missing} completed responses have no request-log row")
    if dropped:
        problems.append(f"the request log dropped {dropped} records")
    if exit_code != 0:
        problems.append(f"mockloop serve exited with {exit_code} after SIGTERM")
    errors = {name: s["errors"] for name, s in summaries.items() if s["errors"]}
    if errors:
        problems.append(f"wrk saw errors: {errors}")

    print()
    print_table(
        ["server", "req/s (median)", "p50 ms", "p99 ms", "requests", "errors", "rounds req/s"],
        [
            [
                name,
                s["requests_per_s"],
                s["p50_ms"],
                s["p99_ms"],
                s["requests"],
                s["errors"],
                " / ".join(f"{v:,.0f}" for v in s["rounds_rps"]),
            ]
            for name, s in summaries.items()
        ],
    )
    print()
    for name, ratio in ratios.items():
        goal = ""
        if name == "fastest":
            verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
            goal = f"  (goal >= {GOAL_RATIO:g}x: {verdict})"
        print(f"ratio mock/{name}: {ratio:.2f}x{goal}")
    for name in references:
        mine, theirs = mock_summary["p99_ms"], summaries[name]["p99_ms"]
        verdict = "met" if mine <= theirs else "NOT met"
        goal = f"  (goal: no higher: {verdict})" if name == "fastest" else ""
        print(f"p99 mock {mine:.2f} ms vs {name} {theirs:.2f} ms{goal}")
    if cpu["cpu_us_per_request"] is not None:
        share = cpu["log_writer_share"] or 0.0
        print(
            f"mock CPU: {cpu['cpu_us_per_request']:.1f} us/request, the request-log writer "
            f"{share:.0%} of it ({cpu['by_thread_s']})"
        )
    print(
        f"request log: {rows['rows']:,} rows for GET {args.path} (+{evicted:,} evicted by "
        f"retention) vs {mock_requests:,} responses wrk completed (incl. warm-up and probe): "
        f"missing {missing:,}, extra {log_check['extra_rows']:,} (in flight when wrk stopped), "
        f"dropped {dropped:,}"
    )

    fastest_ratio = ratios.get("fastest")
    results = {
        "benchmark": "bench_mock",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "settings": {
            "spec": str(args.spec),
            "path": args.path,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "threads": args.threads,
            "connections": args.connections,
            "server_cpu": args.server_cpu,
            "wrk_cpu": args.wrk_cpu,
            "mock_command": mock.command,
            "references": references,
        },
        **summaries,
        "ratios": ratios,
        "goal_ratio": GOAL_RATIO,
        "goal_met": fastest_ratio is not None and fastest_ratio >= GOAL_RATIO,
        "p99_goal_met": "fastest" in summaries
        and mock_summary["p99_ms"] <= summaries["fastest"]["p99_ms"],
        "mock_cpu": cpu,
        "request_log": log_check,
        "runs": {name: [r.as_dict() for r in server_runs] for name, server_runs in runs.items()},
        "problems": problems,
    }
    path = write_results("bench_mock", results)
    if args.json:
        args.json.write_text(path.read_text())
    print(f"results: {path}")
    if args.min_ratio is not None:
        if fastest_ratio is None:
            problems.append("--min-ratio compares with the fastest reference: add it")
        elif fastest_ratio < args.min_ratio:
            problems.append(f"ratio {fastest_ratio:.2f} is below --min-ratio {args.min_ratio:g}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
