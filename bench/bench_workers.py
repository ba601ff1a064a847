"""`mockloop serve --workers N`: requests/s for 1..N workers against one worker's rate.

The issue's goal: N workers serve at least 0.8 x N times one worker's requests/s, measured with
the load generator on cores of its own. For each worker count this script starts
`mockloop serve SPEC --workers N` (defaults on: validation, auth simulation, request log) pinned
with `taskset` to the server cores, warms it up, and runs `wrk -tT -cC -d..s --latency` pinned
to the wrk cores against one GET path; rounds alternate over the worker counts so machine noise
hits them alike. The table shows the median requests/s and p99 per count, the speed-up against
one worker measured in the same run, the efficiency (speed-up / N), and the server's CPU time
per request (supervisor and workers, from /proc) with its ratio to one worker's: where the
machine has too few cores to give N workers their own, that ratio still shows whether the
workers cost more per request together (a shared store, locks) than one alone.

By default wrk gets a quarter of the cores (at least one) and the server the rest, and N goes
from 1 to the number of server cores. `--share-cores` also measures counts beyond that, with
the workers on every core including wrk's (reported as such: not the issue's measure).

On a 2-core machine there is one server core, so only N=1 is measured on cores of its own;
run it on a larger machine for the scaling figure.

Run: python bench/bench_workers.py [--duration 10] [--rounds 2] [--max-workers N]
     [--wrk-cores 0] [--server-cores 1-7] [--share-cores] [--path /pets/7]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, free_port, machine, median, mockloop_command, print_table, write_results
from wrk_runner import WRK_INSTALL_HINT, WrkResult, find_wrk, parse_wrk_output

PETSTORE = ROOT / "examples" / "specs" / "petstore.yaml"
HEADERS = {"X-API-Key": "bench"}


def parse_cores(text: str) -> list[int]:
    """`0,2-3` -> [0, 2, 3]."""
    cores: list[int] = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            cores.extend(range(int(low), int(high) + 1))
        elif part.strip():
            cores.append(int(part))
    return sorted(set(cores))


def default_split(cores: list[int]) -> tuple[list[int], list[int]]:
    """wrk gets a quarter of the cores (at least one), the server the rest."""
    wrk = max(1, len(cores) // 4)
    return cores[:wrk], cores[wrk:] or cores[:1]


def _cores_arg(cores: list[int]) -> str:
    return ",".join(str(c) for c in cores)


class Workers:
    """`mockloop serve --workers N` pinned to some cores."""

    def __init__(self, spec: Path, count: int, cores: list[int], data_dir: Path) -> None:
        self.port, self.admin_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.output = (data_dir / "serve-output.txt").open("wb")
        command = [
            *mockloop_command(),
            "serve",
            str(spec),
            "--port",
            str(self.port),
            "--admin-port",
            str(self.admin_port),
            "--data-dir",
            str(data_dir),
            "--workers",
            str(count),
        ]
        self.process = subprocess.Popen(
            ["taskset", "-c", _cores_arg(cores), *command],
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        self.count = count

    def wait(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mockloop serve --workers {self.count} exited early")
            try:
                health = httpx.get(f"{self.admin}/health", timeout=2).json()
                workers = health.get("workers") or [{"ready": True}]
                if all(w["ready"] for w in workers) and len(workers) == max(self.count, 1):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"mockloop serve --workers {self.count} not ready in {timeout} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.output.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes, all threads (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def server_pids(served: Workers) -> list[int]:
    """The supervisor and its workers."""
    health = httpx.get(f"{served.admin}/health", timeout=5).json()
    return [served.process.pid, *(w["pid"] for w in health.get("workers") or [])]


def run_wrk_pinned(
    url: str, cores: list[int], *, connections: int, duration: int, header: str
) -> WrkResult:
    wrk = find_wrk()
    assert wrk is not None
    command = [
        "taskset",
        "-c",
        _cores_arg(cores),
        wrk,
        f"-t{len(cores)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout=5s",
        "--latency",
        "-H",
        header,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    result = WrkResult(url=url, threads=len(cores), connections=connections, duration_s=duration)
    return parse_wrk_output(done.stdout, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=PETSTORE)
    parser.add_argument("--path", default="/pets/7")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50, help="per worker")
    parser.add_argument("--wrk-cores", type=parse_cores, default=None)
    parser.add_argument("--server-cores", type=parse_cores, default=None)
    parser.add_argument("--max-workers", type=int, default=None)
    parser.add_argument(
        "--share-cores",
        action="store_true",
        help="also measure counts beyond the server cores, on every core (wrk's included)",
    )
    args = parser.parse_args(argv)
    if find_wrk() is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    if shutil.which("taskset") is None:
        print("bench_workers.py needs taskset (util-linux) to pin cores", file=sys.stderr)
        return 2
    every = sorted(os.sched_getaffinity(0))
    wrk_default, server_default = default_split(every)
    wrk_cores = args.wrk_cores or wrk_default
    server_cores = args.server_cores or [c for c in server_default if c not in wrk_cores]
    if not server_cores:
        print("no server cores left beside wrk's: give --server-cores", file=sys.stderr)
        return 2
    top = args.max_workers or (len(every) if args.share_cores else len(server_cores))
    counts = list(range(1, top + 1))
    header = "X-API-Key: bench"
    results: dict[int, list[WrkResult]] = {n: [] for n in counts}
    cpu_us: dict[int, list[float]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="mockloop-bench-workers-") as folder:
        for round_ in range(args.rounds):
            for n in counts:
                own = n <= len(server_cores)
                cores = server_cores if own else every
                served = Workers(args.spec, n, cores, Path(folder) / f"r{round_}-n{n}")
                try:
                    served.wait()
                    url = served.url + args.path
                    probe = httpx.get(url, headers=HEADERS, timeout=10)
                    if probe.status_code >= 300:
                        raise RuntimeError(f"GET {args.path} answered {probe.status_code}")
                    connections = args.connections * n
                    run_wrk_pinned(
                        url,
                        wrk_cores,
                        connections=connections,
                        duration=args.warmup,
                        header=header,
                    )
                    pids = server_pids(served)
                    before = cpu_seconds(pids)
                    result = run_wrk_pinned(
                        url,
                        wrk_cores,
                        connections=connections,
                        duration=args.duration,
                        header=header,
                    )
                    spent = cpu_seconds(pids) - before
                    results[n].append(result)
                    cpu_us[n].append(1e6 * spent / max(1, result.requests))
                    print(
                        f"round {round_ + 1} workers {n}: {result.requests_per_s:,.0f} req/s, "
                        f"{cpu_us[n][-1]:.1f} CPU us per request",
                        flush=True,
                    )
                finally:
                    served.stop()
    base = median([r.requests_per_s for r in results[1]])
    base_cpu = median(cpu_us[1])
    rows: list[list[Any]] = []
    summary: list[dict[str, Any]] = []
    for n in counts:
        rate = median([r.requests_per_s for r in results[n]])
        p99 = median([r.p99_ms or 0.0 for r in results[n]])
        errors = sum(r.errors for r in results[n])
        speedup = rate / base if base else 0.0
        own = n <= len(server_cores)
        cpu = median(cpu_us[n])
        rows.append(
            [
                n,
                f"{rate:,.0f}",
                f"{p99:.2f}",
                f"{speedup:.2f}x",
                f"{speedup / n:.2f}",
                f"{cpu:.1f}",
                f"{base_cpu / cpu:.2f}" if cpu else "-",
                errors,
                "own" if own else "shared with wrk",
            ]
        )
        summary.append(
            {
                "workers": n,
                "requests_per_s": rate,
                "p99_ms": p99,
                "speedup": speedup,
                "efficiency": speedup / n,
                "cpu_us_per_request": cpu,
                "cpu_efficiency": base_cpu / cpu if cpu else None,
                "errors": errors,
                "cores": "own" if own else "shared",
            }
        )
    print(f"\nwrk on cores {_cores_arg(wrk_cores)}, workers on {_cores_arg(server_cores)}")
    print_table(
        [
            "workers",
            "req/s",
            "p99 ms",
            "vs 1 worker",
            "efficiency",
            "CPU us/req",
            "CPU efficiency",
            "errors",
            "cores",
        ],
        rows,
    )
    path = write_results(
        "bench_workers",
        {
            "machine": machine(),
            "spec": str(args.spec),
            "path": args.path,
            "wrk_cores": wrk_cores,
            "server_cores": server_cores,
            "results": summary,
        },
    )
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
