"""Stateful mode at scale: the cost of one POST as a collection grows to 100,000 items.

The issue: a stateful `POST` cost grew with the collection (100,000 items did not finish in
500 s). For each size N this script starts `mockloop serve petstore.yaml --stateful` afresh
(no seed items, the item cap raised above N), creates N pets over one keep-alive HTTP
connection, one request after another, and reports

* the mean wall time per POST over the whole run;
* the mean wall time per POST of the first and of the last `--window` POSTs (the cost of one
  more item when the collection is nearly empty and when it holds N);
* the server's CPU time (all its threads, from /proc) per POST over the whole run and over
  the last window: on a busy machine wall time mostly measures the wait for a CPU, CPU time
  what the server did;
* the server's resident memory once it holds N items;
* against the smallest N, measured in the same run: the ratio of the wall time per POST, and
  of the server CPU time per POST in the last window. About 1.0 at every N means the total
  time grows linearly with N.

Every response must be a 201 with a new id and the collection must hold exactly N items at the
end (read through the admin `/api/state`), else the script exits 1. `--shared` keeps the data in
the mock's SQLite file (`--replica-sync`: every write is persisted, as with replicas).
`--max-ratio R` also exits 1 when a ratio passes R.

It prints a table and writes `bench/results/bench_state.json` (or `bench_state_shared.json`).

`--memory` measures instead what the byte budget (`--state-max-bytes`, one budget for all the
data) holds the server to: for each body shape it starts `mockloop serve petstore.yaml
--stateful --state-isolation session` with the default caps, POSTs items round-robin over
`--sessions` sessions until the budget refuses one (409 `state_max_bytes`), and reports the
server's resident memory at the cap, then again after resetting half the sessions and filling
the budget a second time (what memory the allocator keeps). Shapes: long strings (JSON is
about what they take), objects of many short keys, and pets with a 2 KB note (each session
copies the seed's pets). It writes `bench/results/bench_state_memory.json` and exits 1 when the
resident memory passes `--max-rss` MiB (500).

Run: python bench/bench_state.py [--sizes 1000,10000,100000] [--window 1000] [--shared]
     python bench/bench_state.py --memory [--sessions 1000] [--max-rss 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, ServedMock, machine, print_table, write_results

PETSTORE = ROOT / "examples" / "specs" / "petstore.yaml"
_JSON = {"content-type": "application/json"}


def resident_mb(pid: int) -> float | None:
    """The process's resident memory in MiB (Linux), else None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used, in seconds (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(size: int, window: int, shared: bool, log: bool) -> dict[str, Any]:
    """Create `size` pets in a fresh stateful mock; the timings and checks of that run."""
    extra = [
        "--stateful",
        "--no-auth",
        "--seed-items",
        "0",
        "--state-max-items",
        str(size + 1),
        "--state-max-bytes",
        str(1 << 30),
    ]
    if shared:
        extra.append("--replica-sync")
    if not log:
        extra.append("--no-log")
    with (
        tempfile.TemporaryDirectory(prefix="mockloop-bench-state-") as folder,
        ServedMock(PETSTORE, Path(folder), extra) as mock,
        httpx.Client(base_url=mock.business_url, timeout=30.0) as api,
        httpx.Client(base_url=mock.admin_url, timeout=60.0) as admin,
    ):
        for _ in range(200):  # warm the connection and the code paths without storing
            api.get("/pets/1")
        bodies = [orjson.dumps({"name": f"pet {n}", "tag": "dog"}) for n in range(size)]
        stamps = [0.0] * (size + 1)
        ids: set[int] = set()
        bad: list[str] = []
        pid = mock.process.pid if mock.process is not None else 0
        tail_from = size - min(window, size)
        cpu_start = cpu_tail = cpu_seconds(pid)
        stamps[0] = time.perf_counter()
        for index, body in enumerate(bodies):
            if index == tail_from:
                cpu_tail = cpu_seconds(pid)
            response = api.post("/pets", content=body, headers=_JSON)
            stamps[index + 1] = time.perf_counter()
            if response.status_code != 201:
                bad.append(f"POST {index + 1}: {response.status_code} {response.text[:200]}")
                break
            ids.add(response.json()["id"])
        cpu_end = cpu_seconds(pid)
        state = admin.get("/api/state").json()
        held = {c["name"]: c["count"] for c in state["collections"]}.get("pets")
        rss = resident_mb(mock.process.pid) if mock.process is not None else None
    done = len(stamps) - 1 if not bad else len(ids)
    span = min(window, done)
    total = stamps[done] - stamps[0]
    if len(ids) != size:
        bad.append(f"{len(ids)} distinct ids for {size} POSTs")
    if held != size:
        bad.append(f"the collection holds {held} items, not {size}")
    return {
        "size": size,
        "total_s": total,
        "mean_us": total / max(done, 1) * 1e6,
        "first_us": (stamps[span] - stamps[0]) / max(span, 1) * 1e6,
        "last_us": (stamps[done] - stamps[done - span]) / max(span, 1) * 1e6,
        "cpu_us": (cpu_end - cpu_start) / max(done, 1) * 1e6,
        "cpu_last_us": (cpu_end - cpu_tail) / max(span, 1) * 1e6,
        "rss_mb": rss,
        "problems": bad,
    }


_SHAPES: dict[str, Any] = {
    "long strings": lambda n: {"name": f"s{n}", "blob": "x" * 200_000},
    "many keys": lambda n: {"name": f"k{n}", "keys": {f"{i:x}": 0 for i in range(5000)}},
    "pets with a note": lambda n: {"name": f"p{n}", "tag": "dog", "note": "n" * 2000},
}


def fill(api: httpx.Client, shape: Any, sessions: int, start: int) -> tuple[int, dict[str, Any]]:
    """POST `shape` items round-robin over `sessions` sessions until one is refused; how many
    were stored and the refusal (which must be the byte budget's 409)."""
    made = 0
    while True:
        number = start + made
        headers = {**_JSON, "x-session-id": f"hammer-{number % sessions}"}
        response = api.post("/pets", content=orjson.dumps(shape(number)), headers=headers)
        if response.status_code != 201:
            return made, {"status": response.status_code, **response.json()}
        made += 1


def measure_memory(name: str, sessions: int) -> dict[str, Any]:
    """Fill the default byte budget with one body shape; resident memory at the cap, and after
    resetting half the sessions and filling it again."""
    shape = _SHAPES[name]
    extra = ["--stateful", "--state-isolation", "session", "--no-auth", "--no-log"]
    with (
        tempfile.TemporaryDirectory(prefix="mockloop-bench-state-") as folder,
        ServedMock(PETSTORE, Path(folder), extra) as mock,
        httpx.Client(base_url=mock.business_url, timeout=60.0) as api,
        httpx.Client(base_url=mock.admin_url, timeout=60.0) as admin,
    ):
        pid = mock.process.pid if mock.process is not None else 0
        idle = resident_mb(pid)
        started = time.perf_counter()
        made, refused = fill(api, shape, sessions, 0)
        state = admin.get("/health").json()["state"]
        full = resident_mb(pid)
        for index in range(0, min(made, sessions), 2):
            admin.post("/api/state/reset", json={"session_id": f"hammer-{index}"})
        again, refused_again = fill(api, shape, sessions, made)
        after = admin.get("/health").json()["state"]
        refill = resident_mb(pid)
        seconds = time.perf_counter() - started
    problems = [
        f"{name}: refused with {r.get('status')} {r.get('limit')}, not the byte budget"
        for r in (refused, refused_again)
        if r.get("status") != 409 or r.get("limit") != "state_max_bytes"
    ]
    return {
        "shape": name,
        "items": made,
        "items_refill": again,
        "sessions": state["sessions"],
        "held_bytes": state["held_bytes"],
        "held_bytes_refill": after["held_bytes"],
        "max_bytes": state["max_bytes"],
        "rss_idle_mb": idle,
        "rss_full_mb": full,
        "rss_refill_mb": refill,
        "seconds": seconds,
        "problems": problems,
    }


def main_memory(sessions: int, max_rss: float) -> int:
    """`--memory`: resident memory at the byte budget, per body shape."""
    runs = []
    for name in _SHAPES:
        run = measure_memory(name, sessions)
        print(f"{name}: {run['items']} items, RSS {run['rss_full_mb']:.0f} MiB", file=sys.stderr)
        runs.append(run)
    print("\nstateful POST /pets until --state-max-bytes refuses, --state-isolation session")
    print_table(
        [
            "shape",
            "items",
            "sessions",
            "held MiB",
            "RSS idle MiB",
            "RSS at cap MiB",
            "RSS refilled MiB",
            "s",
        ],
        [
            [
                r["shape"],
                r["items"],
                r["sessions"],
                r["held_bytes"] / 2**20,
                r["rss_idle_mb"],
                r["rss_full_mb"],
                r["rss_refill_mb"],
                r["seconds"],
            ]
            for r in runs
        ],
    )
    path = write_results("bench_state_memory", {"machine": machine(), "runs": runs})
    print(f"\nresults: {path}")
    problems = [p for r in runs for p in r["problems"]]
    for run in runs:
        peak = max(run["rss_full_mb"] or 0, run["rss_refill_mb"] or 0)
        if peak > max_rss:
            problems.append(f"{run['shape']}: RSS {peak:.0f} MiB > --max-rss {max_rss:g}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated N")
    parser.add_argument("--window", type=int, default=1000, help="POSTs per first/last window")
    parser.add_argument("--shared", action="store_true", help="persist every write (SQLite)")
    parser.add_argument("--no-log", action="store_true", help="serve without the request log")
    parser.add_argument("--max-ratio", type=float, default=None, help="exit 1 past this ratio")
    parser.add_argument("--memory", action="store_true", help="RSS at the byte budget instead")
    parser.add_argument("--sessions", type=int, default=1000, help="--memory: sessions used")
    parser.add_argument("--max-rss", type=float, default=500.0, help="--memory: exit 1 past MiB")
    args = parser.parse_args(argv)
    if args.memory:
        if args.sessions < 1:
            parser.error("--sessions needs a positive number")
        return main_memory(args.sessions, args.max_rss)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 1 or args.window < 1:
        parser.error("--sizes needs positive numbers and --window a positive one")

    runs = []
    for size in sizes:
        run = measure(size, args.window, args.shared, not args.no_log)
        print(
            f"N={size:,}: {run['total_s']:.1f} s, {run['mean_us']:.0f} us/POST "
            f"(last {args.window}: {run['last_us']:.0f} us); server CPU "
            f"{run['cpu_us']:.0f} us/POST (last {args.window}: {run['cpu_last_us']:.0f} us)",
            file=sys.stderr,
        )
        runs.append(run)
    reference = runs[0]
    rows = []
    problems: list[str] = []
    for run in runs:
        run["mean_ratio"] = run["mean_us"] / (reference["mean_us"] or float("nan"))
        run["cpu_ratio"] = run["cpu_last_us"] / (reference["cpu_last_us"] or float("nan"))
        problems.extend(f"N={run['size']}: {p}" for p in run["problems"])
        if args.max_ratio is not None:
            for key in ("mean_ratio", "cpu_ratio"):
                if run[key] > args.max_ratio:
                    problems.append(
                        f"N={run['size']}: {key} {run[key]:.2f} > --max-ratio {args.max_ratio}"
                    )
        rows.append(
            [
                run["size"],
                run["total_s"],
                run["mean_us"],
                run["first_us"],
                run["last_us"],
                run["cpu_us"],
                run["cpu_last_us"],
                f"{run['mean_ratio']:.2f}x",
                f"{run['cpu_ratio']:.2f}x",
                run["rss_mb"],
            ]
        )
    mode = "state in SQLite, every write persisted" if args.shared else "state in memory"
    print(f"\nstateful POST /pets, one keep-alive connection, {mode}")
    print_table(
        [
            "N",
            "total s",
            "us/POST",
            f"first {args.window}",
            f"last {args.window}",
            "CPU us/POST",
            f"CPU last {args.window}",
            f"us/POST vs N={sizes[0]:,}",
            f"CPU last vs N={sizes[0]:,}",
            "RSS MiB",
        ],
        rows,
    )
    name = "bench_state_shared" if args.shared else "bench_state"
    path = write_results(
        name,
        {"machine": machine(), "shared": args.shared, "window": args.window, "runs": runs},
    )
    print(f"\nresults: {path}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
