"""The native load engine against wrk, both loading nginx serving a static file on 127.0.0.1.

The issue's goals: with one process, the engine reaches at least 0.8x wrk's requests per
second with the same connections, and its p50 and p99 agree with wrk's within 20%. In one run
this script

1. starts nginx (the Debian package's binary) with a temporary configuration: 1 worker, access
   log off, one static 1 KiB file, 127.0.0.1 and a free port;
2. warms nginx up with wrk, then alternates `wrk -t1 -cC -dD --latency` and the native engine
   (`run_load_test(..., concurrent_users=C, processes=1)`, closed model, no think time) for
   `--rounds` rounds, so machine noise hits both, and takes the median of each figure;
3. prints both, the requests/s ratio and the p50/p99 differences, and writes
   `bench/results/bench_load.json`.

Exit status: 0 when the goals are met, 1 when not, 2 when nginx or wrk is missing.

Run: python bench/bench_load.py [--duration 10] [--rounds 3] [--connections 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import free_port, machine, median, print_table, wait_for_http, write_results
from wrk_runner import WRK_INSTALL_HINT, find_wrk, run_wrk

NGINX_HINT = (
    "nginx is not installed. Install it with:\n"
    "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y nginx-light (or nginx)\n"
    "  macOS:         brew install nginx"
)
NGINX_CONF = """
worker_processes 1;
{affinity}daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
    }}
}}
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


class Nginx:
    """nginx with a throwaway configuration, as a child process."""

    def __init__(self, binary: str, root: Path, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/index.html"

    def __enter__(self) -> Nginx:
        (self.root / "www").mkdir(parents=True)
        # nginx's worker runs as an unprivileged user when started as root: let it read.
        for folder in (self.root.parent, self.root, self.root / "www"):
            folder.chmod(0o755)
        (self.root / "tmp").mkdir()
        (self.root / "www" / "index.html").write_bytes(b"MockLoop load benchmark.\n" * 41)
        conf = self.root / "nginx.conf"
        affinity = "" if self.cpu is None else f"worker_cpu_affinity {1 << self.cpu:b};\n"
        conf.write_text(NGINX_CONF.format(root=self.root, port=self.port, affinity=affinity))
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf), "-p", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        response = wait_for_http(self.url, deadline_s=20)
        if response.status_code != 200:
            self.__exit__()
            raise RuntimeError(f"nginx answers {response.status_code} for {self.url}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def native(url: str, connections: int, duration: float) -> dict[str, Any]:
    from mockloop import AsyncMockLoopClient

    async with AsyncMockLoopClient() as client:
        result = await client.run_load_test(
            server_url=url,
            duration=duration,
            concurrent_users=connections,
            processes=1,
            timeout=5,
        )
    assert result.generator is not None
    return {
        "requests": result.responses,
        "requests_per_s": result.achieved_rps,
        "p50_ms": result.latency.p50_ms,
        "p99_ms": result.latency.p99_ms,
        "errors": result.failed_requests,
        "generator_cpu_percent": result.generator.cpu_percent,
        "event_loop": result.generator.event_loop,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per tool")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="leave CPU placement to the scheduler (default with 2+ CPUs: nginx's worker on "
        "the first CPU, the load generator, wrk or the engine, on the second)",
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = not args.no_pin and len(cpus) >= 2
    nginx = find_nginx()
    if nginx is None:
        print(NGINX_HINT, file=sys.stderr)
        return 2
    if find_wrk() is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    wrk_runs: list[dict[str, Any]] = []
    native_runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="mockloop-bench-load-") as tmp,
        Nginx(nginx, Path(tmp) / "nginx", cpus[0] if pin else None) as server,
    ):
        if pin:  # wrk and the engine's worker process inherit this: the other CPU than nginx
            os.sched_setaffinity(0, {cpus[1]})
        run_wrk(server.url, connections=args.connections, duration_s=args.warmup)
        for round_number in range(1, args.rounds + 1):
            wrk = run_wrk(server.url, connections=args.connections, duration_s=args.duration)
            wrk_runs.append(
                {
                    "requests": wrk.requests,
                    "requests_per_s": wrk.requests_per_s,
                    "p50_ms": wrk.p50_ms,
                    "p99_ms": wrk.p99_ms,
                    "errors": wrk.errors,
                }
            )
            time.sleep(0.5)
            native_runs.append(asyncio.run(native(server.url, args.connections, args.duration)))
            print(
                f"round {round_number}: wrk {wrk_runs[-1]['requests_per_s']:.0f} req/s, "
                f"native {native_runs[-1]['requests_per_s']:.0f} req/s",
                file=sys.stderr,
            )
            time.sleep(0.5)

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return median([float(r[key]) for r in runs if r[key] is not None])

    figures = {
        tool: {key: med(runs, key) for key in ("requests_per_s", "p50_ms", "p99_ms")}
        for tool, runs in (("wrk", wrk_runs), ("native", native_runs))
    }
    ratio = figures["native"]["requests_per_s"] / figures["wrk"]["requests_per_s"]
    p50_diff = figures["native"]["p50_ms"] / figures["wrk"]["p50_ms"] - 1
    p99_diff = figures["native"]["p99_ms"] / figures["wrk"]["p99_ms"] - 1
    errors = sum(r["errors"] for r in wrk_runs + native_runs)
    print_table(
        ["tool", "requests/s", "p50 ms", "p99 ms"],
        [
            [tool, round(f["requests_per_s"]), round(f["p50_ms"], 3), round(f["p99_ms"], 3)]
            for tool, f in figures.items()
        ],
    )
    print(
        f"\nratio native/wrk: {ratio:.2f} (goal >= 0.8); p50 {p50_diff:+.0%}, p99 "
        f"{p99_diff:+.0%} (goal within 20%); errors {errors}; "
        f"{args.connections} connections, {args.rounds} x {args.duration:g} s, median"
        + (f"; nginx on CPU {cpus[0]}, load generators on CPU {cpus[1]}" if pin else "")
    )
    for tool, runs in (("wrk", wrk_runs), ("native", native_runs)):
        p99s = [float(r["p99_ms"]) for r in runs if r["p99_ms"] is not None]
        if p99s:
            print(f"{tool} p99 across rounds: {min(p99s):g} - {max(p99s):g} ms")
    met = ratio >= 0.8 and abs(p50_diff) <= 0.2 and abs(p99_diff) <= 0.2 and errors == 0
    path = write_results(
        "bench_load",
        {
            "machine": machine(),
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "pinned": {"nginx": cpus[0], "generators": cpus[1]} if pin else None,
            "wrk": wrk_runs,
            "native": native_runs,
            "median": figures,
            "ratio": round(ratio, 3),
            "p50_diff": round(p50_diff, 3),
            "p99_diff": round(p99_diff, 3),
            "goals_met": met,
        },
    )
    print(f"results: {path}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
