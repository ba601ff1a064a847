"""Start-up cost on large descriptions: loading, and `mockloop serve` until it answers.

The issue: on a GitHub-REST-size description (~10 MB, ~1,000 operations) start-up takes
seconds. For each description measured (a synthetic one of that size from
`synthetic_spec.py`, the largest file in the real-world corpus, and the petstore for
reference) this script reports

* `load_spec` time, in this process (median of `--repeat` runs);
* the rest of the runtime's construction (router, faker, validators) given a loaded spec;
* wall time from launching `mockloop serve` until the business `/health` answers 200, and
  until a first GET on a documented operation answers, plus that request's own latency;
* the server's resident memory once it has answered.

It prints a table and writes `bench/results/bench_startup.json`.

Run: python bench/bench_startup.py [--repeat 3] [--real-world DIR] [--resources 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    ROOT,
    ServedMock,
    free_port,
    machine,
    median,
    print_table,
    write_results,
)
from synthetic_spec import describe, write_synthetic_spec

from mockloop.mock import MockConfig, MockRuntime
from mockloop.mock.router import split_template
from mockloop.spec import ApiSpec, Operation, load_spec

REAL_WORLD = ROOT.parent / "shared" / "specs" / "real-world"
PETSTORE = ROOT / "examples" / "specs" / "petstore.yaml"


def simple_value(schema: dict[str, Any], spec: ApiSpec) -> str | None:
    """A plain value for a parameter, or None when the schema is not a simple one."""
    seen = 0
    while "$ref" in schema and seen < 10:
        node: Any = spec.document
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
        seen += 1
    if schema.get("enum"):
        return str(schema["enum"][0])
    if "default" in schema:
        return str(schema["default"])
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        return str(max(1, int(schema.get("minimum", 1))))
    if kind in (None, "string"):
        if schema.get("format") == "uuid":
            return "3fa85f64-5717-4562-b3fc-2c963f66afa6"
        if schema.get("pattern") or schema.get("minLength", 0) > 7:
            return None
        return "example"
    if kind == "boolean":
        return "true"
    return None


def first_get_request(spec: ApiSpec) -> tuple[Operation, str] | None:
    """A GET operation and a URL path+query that satisfies it; path parameters preferred."""
    candidates: list[tuple[int, Operation, str]] = []
    for op in spec.operations:
        if op.method.upper() != "GET":
            continue
        path, discriminator = split_template(op.path)
        query = list(discriminator)
        ok = True
        for param in op.parameters:
            if param.location == "path":
                value = simple_value(param.schema, spec)
                if value is None:
                    ok = False
                    break
                path = path.replace("{" + param.name + "}", quote(value, safe=""))
            elif param.required and param.location == "query":
                value = simple_value(param.schema, spec)
                if value is None:
                    ok = False
                    break
                if (param.name, value) not in query:
                    query.append((param.name, value))
            elif param.required:
                ok = False
                break
        if ok and "{" not in path:
            has_params = any(p.location == "path" for p in op.parameters)
            url = path + ("?" + urlencode(query) if query else "")
            candidates.append((0 if has_params else 1, op, url))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1], candidates[0][2]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure_serve(spec_path: Path, request: str | None, folder: Path) -> dict[str, Any]:
    """Launch `mockloop serve` and time /health and the first GET, polling every 5 ms."""
    port, admin_port = free_port(), free_port()
    mock = ServedMock(spec_path, folder, ["--no-auth"], port=port, admin_port=admin_port)
    base = mock.business_url
    result: dict[str, Any] = {}
    mock.launch()
    try:
        assert mock.process is not None
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 300
            while True:
                if mock.process.poll() is not None:
                    raise RuntimeError(f"mockloop serve exited early:\n{mock.output()[-2000:]}")
                try:
                    health = client.get(f"{base}/health")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{base}/health did not answer 200 within 300 s")
                time.sleep(0.005)
            result["health_s"] = time.perf_counter() - mock.launched_at
            if request is not None:
                sent = time.perf_counter()
                first = client.get(base + request)
                done = time.perf_counter()
                result["first_get_s"] = done - mock.launched_at
                result["first_get_ms"] = (done - sent) * 1000
                result["first_get_status"] = first.status_code
                result["first_get_bytes"] = len(first.content)
                sent = time.perf_counter()
                client.get(base + request)
                result["second_get_ms"] = (time.perf_counter() - sent) * 1000
        result["rss_mb"] = rss_mb(mock.process.pid)
    finally:
        result["exit_code"] = mock.stop()
    return result


def import_time() -> float:
    """Wall time of a fresh interpreter importing the server (the fixed part of start-up)."""
    started = time.perf_counter()
    # `mockloop.mock` itself imports lazily: name the modules `mockloop serve` really loads.
    stack = "import mockloop.cli, mockloop.mock.server, mockloop.mock.runtime"
    subprocess.run([sys.executable, "-c", stack], check=True)
    return time.perf_counter() - started


def measure(name: str, path: Path, repeat: int, folder: Path) -> dict[str, Any]:
    print(f"{name}: {path}", flush=True)
    load_times = []
    spec = None
    for _ in range(repeat):
        started = time.perf_counter()
        spec = load_spec(str(path))
        load_times.append(time.perf_counter() - started)
    assert spec is not None
    init_times = []
    for index in range(repeat):
        config = MockConfig(spec=str(path), port=0, data_dir=folder / f"init-{index}")
        started = time.perf_counter()
        MockRuntime(config, spec=spec)
        init_times.append(time.perf_counter() - started)
    chosen = first_get_request(spec)
    request = chosen[1] if chosen else None
    runs = [measure_serve(path, request, folder / f"serve-{index}") for index in range(repeat)]
    row: dict[str, Any] = {
        "name": name,
        "path": str(path),
        "bytes": path.stat().st_size,
        "operations": len(spec.operations),
        "load_spec_s": median(load_times),
        "load_spec_runs_s": load_times,
        "runtime_init_s": median(init_times),
        "serve_to_health_s": median([r["health_s"] for r in runs]),
        "first_get": {"operation": chosen[0].operation_id, "request": request} if chosen else None,
        "serve_to_first_get_s": median([r["first_get_s"] for r in runs if "first_get_s" in r]),
        "first_get_ms": median([r["first_get_ms"] for r in runs if "first_get_ms" in r]),
        "second_get_ms": median([r["second_get_ms"] for r in runs if "second_get_ms" in r]),
        "first_get_status": runs[0].get("first_get_status"),
        "rss_mb": median([r["rss_mb"] for r in runs if r.get("rss_mb") is not None]),
        "serve_runs": runs,
    }
    print(
        f"  load_spec {row['load_spec_s']:.3f} s, serve->/health {row['serve_to_health_s']:.3f} s,"
        f" serve->first GET {row['serve_to_first_get_s']:.3f} s "
        f"({row['first_get_status']} {request})",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--resources",
        type=int,
        default=100,
        help="synthetic size: 10 operations and 6 schemas per resource",
    )
    parser.add_argument("--real-world", type=Path, default=REAL_WORLD)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    rows = []
    problems = []
    with tempfile.TemporaryDirectory(prefix="mockloop-startup-") as tmp:
        folder = Path(tmp)
        synthetic = write_synthetic_spec(folder / "specs", resources=args.resources)
        facts = describe(synthetic)
        print(
            f"synthetic description: {facts['bytes'] / 1e6:.1f} MB, {facts['operations']} "
            f"operations, {facts['paths']} paths, {facts['schemas']} schemas, "
            f"{facts['refs']} $refs"
        )
        cases = [("synthetic (GitHub size)", synthetic)]
        real = sorted(args.real_world.glob("*.json"), key=lambda p: p.stat().st_size)
        if real:
            cases.append((f"largest real-world: {real[-1].name}", real[-1]))
        else:
            print(f"(no real-world descriptions in {args.real_world}: skipped)")
        cases.append(("petstore (reference)", PETSTORE))
        cli_import = median([import_time() for _ in range(args.repeat)])
        for index, (name, path) in enumerate(cases):
            try:
                rows.append(measure(name, path, args.repeat, folder / f"case-{index}"))
            except Exception as exc:  # report and go on with the other descriptions
                problems.append(f"{name}: {type(exc).__name__}: {exc}")

    print()
    print(f"fresh interpreter importing the server: {cli_import:.3f} s (part of every start-up)")
    print_table(
        [
            "description",
            "MB",
            "ops",
            "load_spec s",
            "runtime init s",
            "serve->/health s",
            "serve->1st GET s",
            "1st GET ms",
            "2nd GET ms",
            "status",
            "RSS MB",
        ],
        [
            [
                r["name"],
                r["bytes"] / 1e6,
                r["operations"],
                r["load_spec_s"],
                r["runtime_init_s"],
                r["serve_to_health_s"],
                r["serve_to_first_get_s"],
                r["first_get_ms"],
                r["second_get_ms"],
                r["first_get_status"],
                r["rss_mb"],
            ]
            for r in rows
        ],
    )
    results = {
        "benchmark": "bench_startup",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "repeat": args.repeat,
        "synthetic": facts,
        "import_server_s": cli_import,
        "descriptions": rows,
        "problems": problems,
    }
    path = write_results("bench_startup", results)
    if args.json:
        args.json.write_text(path.read_text())
    print(f"results: {path}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
