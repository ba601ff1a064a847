"""Throughput of the mock's business port against a bare FastAPI app, and request-log fidelity.

The issue's goal: the mock serves at least twice the requests/s of a bare FastAPI app. In one
run this script

1. starts `mockloop serve examples/specs/petstore.yaml --no-auth` (request log on, one
   process: the defaults) and the baseline of `baseline_fastapi.py` (one uvicorn worker, same
   uvicorn defaults, answering the mock's own body for `/{collection}/{id}`);
2. warms both up, then runs `wrk -t1 -c50 -d10s --latency` against `GET /owners/{uuid}` (an
   object body generated from the schema: `/pets/{id}` answers the description's named
   example instead; pass `--path /pets/7` to measure that) on each,
   alternating mock/baseline for `--rounds` rounds so machine noise hits both, and takes
   the median of each;
3. stops the mock with SIGTERM (it flushes its log), counts the rows the mock logged for
   that path in its SQLite file and compares them with the responses wrk counted: every
   completed response must have its row (rows may exceed wrk's count by the responses still
   in flight when wrk stopped its clock).

It prints a table and writes `bench/results/bench_mock.json`. Exit status: 0 when every
response was logged and nothing failed, 1 otherwise (or when `--min-ratio` is not reached),
2 when wrk is missing.

Run: python bench/bench_mock.py [--duration 10] [--rounds 2] [--connections 50]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
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
from wrk_runner import WRK_INSTALL_HINT, WrkResult, find_wrk, require_whole_seconds, run_wrk

GOAL_RATIO = 2.0
DEFAULT_SPEC = ROOT / "examples" / "specs" / "petstore.yaml"
# getOwner documents no example, so its body is generated (and then cached per path).
DEFAULT_PATH = "/owners/6f1c2d1e-0000-4000-8000-000000000001"


def start_baseline(body_file: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    output = (folder / "baseline-output.txt").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "baseline_fastapi.py"),
            "--port",
            str(port),
            "--body-file",
            str(body_file),
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
    )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--path", default=DEFAULT_PATH, help="GET path with an object body")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per server")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per server")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=None,
        help=f"exit 1 when mock/baseline is below this (the goal is {GOAL_RATIO})",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    require_whole_seconds(parser, duration=args.duration, warmup=args.warmup)

    if find_wrk() is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    if not args.spec.exists():
        print(f"no description at {args.spec}", file=sys.stderr)
        return 2

    wrk_options = {"threads": args.threads, "connections": args.connections}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mockloop-bench-") as tmp:
        folder = Path(tmp)
        mock = ServedMock(args.spec, folder / "mock-data", ["--no-auth"]).start()
        baseline: subprocess.Popen[bytes] | None = None
        mock_requests = 0  # every response the mock completed for the path, by wrk's count
        try:
            target = mock.business_url + args.path
            probe = httpx.get(target, timeout=10)
            mock_requests += 1
            if probe.status_code != 200 or "json" not in probe.headers.get("content-type", ""):
                raise RuntimeError(f"GET {target} answered {probe.status_code}: {probe.text[:300]}")
            body_file = folder / "body.json"
            body_file.write_bytes(probe.content)
            baseline, baseline_url = start_baseline(body_file, folder)
            baseline_target = baseline_url + args.path
            check = httpx.get(baseline_target, timeout=10)
            if check.status_code != 200:
                raise RuntimeError(f"the baseline answered {check.status_code}")
            print(f"mock:     {target}  ({len(probe.content)} body bytes)")
            print(f"baseline: {baseline_target}  ({len(check.content)} body bytes)")

            print(f"warming up ({args.warmup:g} s each) ...", flush=True)
            warm = run_wrk(target, duration_s=args.warmup, **wrk_options)
            mock_requests += warm.requests
            run_wrk(baseline_target, duration_s=args.warmup, **wrk_options)

            mock_runs: list[WrkResult] = []
            baseline_runs: list[WrkResult] = []
            for index in range(args.rounds):
                for name, url, runs in (
                    ("mock", target, mock_runs),
                    ("fastapi", baseline_target, baseline_runs),
                ):
                    print(
                        f"round {index + 1}/{args.rounds}: {name} ({args.duration:g} s) ...",
                        flush=True,
                    )
                    result = run_wrk(url, duration_s=args.duration, **wrk_options)
                    runs.append(result)
                    if name == "mock":
                        mock_requests += result.requests
                    print(
                        f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms} ms, "
                        f"p99 {result.p99_ms} ms, errors {result.errors}",
                        flush=True,
                    )
            stats = log_stats(mock.admin_url)
        finally:
            exit_code = mock.stop()
            if baseline is not None:
                stop_process(baseline)
        rows = count_rows(mock.data_dir / "mock.db", args.path.split("?", 1)[0])

    mock_summary = summarise(mock_runs)
    base_summary = summarise(baseline_runs)
    ratio = mock_summary["requests_per_s"] / base_summary["requests_per_s"]
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
    if mock_summary["errors"] or base_summary["errors"]:
        problems.append(
            f"wrk saw errors: mock {mock_summary['errors']}, fastapi {base_summary['errors']}"
        )

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
            for name, s in (("mockloop", mock_summary), ("fastapi", base_summary))
        ],
    )
    print()
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"ratio mock/fastapi: {ratio:.2f}x  (goal >= {GOAL_RATIO:g}x: {verdict})")
    print(
        f"request log: {rows['rows']:,} rows for GET {args.path} (+{evicted:,} evicted by "
        f"retention) vs {mock_requests:,} responses wrk completed (incl. warm-up and probe): "
        f"missing {missing:,}, extra {log_check['extra_rows']:,} (in flight when wrk stopped), "
        f"dropped {dropped:,}"
    )

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
            **wrk_options,
            "mock_command": mock.command,
        },
        "mock": mock_summary,
        "fastapi": base_summary,
        "ratio": ratio,
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
        "request_log": log_check,
        "runs": {
            "mock": [r.as_dict() for r in mock_runs],
            "fastapi": [r.as_dict() for r in baseline_runs],
        },
        "problems": problems,
    }
    path = write_results("bench_mock", results)
    if args.json:
        args.json.write_text(path.read_text())
    print(f"results: {path}")
    if args.min_ratio is not None and ratio < args.min_ratio:
        problems.append(f"ratio {ratio:.2f} is below --min-ratio {args.min_ratio:g}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
