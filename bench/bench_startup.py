"""Start-up cost on large descriptions: cold and warm `mockloop serve` next to Mockoon.

The goal (issue 22): the GitHub REST description serves its first 200 within 1.0 s cold and
0.3 s on a second start of the same unchanged files (the compiled cache), ahead of Mockoon on
every description. For each description measured (the petstore, a GitHub-size synthetic one
from `synthetic_spec.py`, the largest file in the real-world corpus, and every `--spec PATH`)
this script reports

* `load_spec` time and the rest of the runtime's construction, in this process;
* MockLoop cold: launch -> first 2xx on a documented GET, with an empty compiled cache;
* MockLoop warm: the same on a second start (the cache holds the description);
* Mockoon (`mockoon-cli start --data SPEC`) in the same run, when found (`--mockoon PATH`,
  `MOCKOON_CLI`, or `mockoon-cli` on PATH; skipped with a note otherwise), and the ratios
  Mockoon time / MockLoop time (above 1: MockLoop answers first);
* each server's resident memory (RSS) once it has answered.

Every time is a median of `--repeat` launches, polling every 5 ms. It prints a table and
writes `bench/results/bench_startup.json`.

Run: python bench/bench_startup.py [--repeat 3] [--spec /tmp/gh.json] [--mockoon PATH]
     [--real-world DIR] [--resources 100]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
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


def first_answer(
    process: subprocess.Popen[bytes], url: str, launched_at: float, what: str
) -> dict[str, Any]:
    """Poll `url` every 5 ms until it answers; seconds since launch, status, RSS."""
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
            try:
                response = client.get(url)
                break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: {url} did not answer within 300 s")
            time.sleep(0.005)
    return {
        "first_answer_s": time.perf_counter() - launched_at,
        "status": response.status_code,
        "rss_mb": rss_mb(process.pid),
    }


def measure_serve(spec_path: Path, request: str, folder: Path, cache_dir: Path) -> dict[str, Any]:
    """Launch `mockloop serve` with `cache_dir` as its compiled cache; time the first GET."""
    port, admin_port = free_port(), free_port()
    os.environ["MOCKLOOP_CACHE_DIR"] = str(cache_dir)  # inherited by the child
    mock = ServedMock(spec_path, folder, ["--no-auth"], port=port, admin_port=admin_port)
    mock.launch()
    try:
        assert mock.process is not None
        result = first_answer(
            mock.process, mock.business_url + request, mock.launched_at, "mockloop serve"
        )
    finally:
        exit_code = mock.stop()
    result["exit_code"] = exit_code
    return result


def measure_mockoon(cli: str, spec_path: Path, request: str) -> dict[str, Any]:
    """Launch `mockoon-cli start --data SPEC`; time its first answer to `request`."""
    port = free_port()
    launched_at = time.perf_counter()
    process = subprocess.Popen(
        [cli, "start", "--data", str(spec_path), "--port", str(port), "--hostname", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return first_answer(process, f"http://127.0.0.1:{port}{request}", launched_at, "mockoon")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def find_mockoon(given: str | None) -> str | None:
    """mockoon-cli from --mockoon, MOCKOON_CLI or PATH; None when there is none."""
    for candidate in (given, os.environ.get("MOCKOON_CLI"), shutil.which("mockoon-cli")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def import_time() -> float:
    """Wall time of a fresh interpreter importing the server (the fixed part of start-up)."""
    started = time.perf_counter()
    # `mockloop.mock` itself imports lazily: name the modules `mockloop serve` really loads.
    stack = "import mockloop.cli, mockloop.mock.server, mockloop.mock.runtime"
    subprocess.run([sys.executable, "-c", stack], check=True)
    return time.perf_counter() - started


def measure(
    name: str, path: Path, repeat: int, folder: Path, mockoon: str | None
) -> dict[str, Any]:
    """One description: in-process loading, MockLoop cold and warm, Mockoon."""
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
        config = MockConfig(
            spec=str(path), port=0, data_dir=folder / f"init-{index}", compile_cache=False
        )
        started = time.perf_counter()
        MockRuntime(config, spec=spec)
        init_times.append(time.perf_counter() - started)
    chosen = first_get_request(spec)
    if chosen is None:
        raise RuntimeError("no GET operation whose parameters this bench can fill")
    request = chosen[1]
    cold, warm, peer = [], [], []
    for index in range(repeat):
        cache = folder / f"cache-{index}"  # empty: a cold start, which fills it
        cold.append(measure_serve(path, request, folder / f"cold-{index}", cache))
        warm.append(measure_serve(path, request, folder / f"warm-{index}", cache))
        if mockoon is not None:
            peer.append(measure_mockoon(mockoon, path, request))

    def summary(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not runs:
            return None
        return {
            "first_answer_s": median([r["first_answer_s"] for r in runs]),
            "status": runs[0]["status"],
            "rss_mb": median([r["rss_mb"] for r in runs if r.get("rss_mb") is not None]),
            "runs": runs,
        }

    row: dict[str, Any] = {
        "name": name,
        "path": str(path),
        "bytes": path.stat().st_size,
        "operations": len(spec.operations),
        "load_spec_s": median(load_times),
        "runtime_init_s": median(init_times),
        "request": {"operation": chosen[0].operation_id, "path": request},
        "mockloop_cold": summary(cold),
        "mockloop_warm": summary(warm),
        "mockoon": summary(peer),
    }
    if row["mockoon"] is not None:
        theirs = row["mockoon"]["first_answer_s"]
        row["mockoon_over_cold"] = theirs / row["mockloop_cold"]["first_answer_s"]
        row["mockoon_over_warm"] = theirs / row["mockloop_warm"]["first_answer_s"]
    line = (
        f"  cold {row['mockloop_cold']['first_answer_s']:.3f} s, "
        f"warm {row['mockloop_warm']['first_answer_s']:.3f} s "
        f"({row['mockloop_cold']['status']} {request})"
    )
    if row["mockoon"] is not None:
        line += f", mockoon {row['mockoon']['first_answer_s']:.3f} s ({row['mockoon']['status']})"
    print(line, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--resources",
        type=int,
        default=100,
        help="synthetic size: 10 operations and 6 schemas per resource",
    )
    parser.add_argument("--real-world", type=Path, default=REAL_WORLD)
    parser.add_argument(
        "--spec",
        type=Path,
        action="append",
        default=[],
        help="also measure this description (repeatable), e.g. GitHub's api.github.com.json",
    )
    parser.add_argument(
        "--mockoon", default=None, help="mockoon-cli to compare with (else MOCKOON_CLI or PATH)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    mockoon = find_mockoon(args.mockoon)
    if mockoon is None:
        print("(mockoon-cli not found: give --mockoon PATH or MOCKOON_CLI; Mockoon skipped)")

    rows = []
    problems = []
    with tempfile.TemporaryDirectory(prefix="mockloop-startup-") as tmp:
        folder = Path(tmp)
        # Mockoon reads JSON and YAML; the synthetic description is written as JSON.
        synthetic = write_synthetic_spec(folder / "specs", resources=args.resources)
        facts = describe(synthetic)
        print(
            f"synthetic description: {facts['bytes'] / 1e6:.1f} MB, {facts['operations']} "
            f"operations, {facts['paths']} paths, {facts['schemas']} schemas, "
            f"{facts['refs']} $refs"
        )
        cases = [("petstore (reference)", PETSTORE), ("synthetic (GitHub size)", synthetic)]
        real = sorted(args.real_world.glob("*.json"), key=lambda p: p.stat().st_size)
        if real:
            cases.append((f"largest real-world: {real[-1].name}", real[-1]))
        else:
            print(f"(no real-world descriptions in {args.real_world}: skipped)")
        cases.extend((f"given: {path.name}", path.resolve()) for path in args.spec)
        cli_import = median([import_time() for _ in range(args.repeat)])
        for index, (name, path) in enumerate(cases):
            try:
                rows.append(measure(name, path, args.repeat, folder / f"case-{index}", mockoon))
            except Exception as exc:  # report and go on with the other descriptions
                problems.append(f"{name}: {type(exc).__name__}: {exc}")

    def seconds(part: dict[str, Any] | None) -> float | str:
        return part["first_answer_s"] if part else "-"

    def memory(part: dict[str, Any] | None) -> float | str:
        return part["rss_mb"] if part else "-"

    print()
    print(f"fresh interpreter importing the server: {cli_import:.3f} s (part of every start-up)")
    print_table(
        [
            "description",
            "MB",
            "ops",
            "load_spec s",
            "cold s",
            "warm s",
            "mockoon s",
            "mockoon/cold",
            "mockoon/warm",
            "RSS cold MB",
            "RSS warm MB",
            "RSS mockoon MB",
        ],
        [
            [
                r["name"],
                r["bytes"] / 1e6,
                r["operations"],
                r["load_spec_s"],
                seconds(r["mockloop_cold"]),
                seconds(r["mockloop_warm"]),
                seconds(r["mockoon"]),
                r.get("mockoon_over_cold", "-"),
                r.get("mockoon_over_warm", "-"),
                memory(r["mockloop_cold"]),
                memory(r["mockloop_warm"]),
                memory(r["mockoon"]),
            ]
            for r in rows
        ],
    )
    results = {
        "benchmark": "bench_startup",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "repeat": args.repeat,
        "mockoon": mockoon,
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
