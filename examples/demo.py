"""The main job on embedded defaults: serve a description, exercise it, read the request log.

Run with `make demo` (or `python examples/demo.py` inside the project's environment). It starts
`mockloop serve` on free ports, sends requests as a client would (with and without
credentials, a scenario switch in between), prints what the request log and its analysis show,
and stops the server with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SPEC = HERE / "specs" / "petstore.yaml"
TOKEN = {"Authorization": "Bearer demo-token"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[str], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"mockloop serve exited early with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {deadline_s} s")


def show(label: str, response: httpx.Response) -> None:
    body = response.text if len(response.text) < 160 else response.text[:157] + "..."
    print(f"  {label:<44} -> {response.status_code} {body}")


def main() -> int:
    port, admin_port = free_port(), free_port()
    data_dir = tempfile.mkdtemp(prefix="mockloop-demo-")
    command = [
        sys.executable,
        "-m",
        "mockloop.cli",
        "serve",
        str(SPEC),
        "--port",
        str(port),
        "--admin-port",
        str(admin_port),
        "--data-dir",
        data_dir,
    ]
    print(
        f"$ mockloop serve examples/specs/petstore.yaml --port {port} --admin-port {admin_port}\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    api, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    try:
        wait_until_up(f"{admin}/health", server)
        with httpx.Client(base_url=api, timeout=10) as client:
            print("Business port: the described API")
            show("GET /pets (no credentials)", client.get("/pets"))
            show("GET /pets?limit=2", client.get("/pets", params={"limit": 2}, headers=TOKEN))
            show(
                "GET /v1/pets/7 (base path of the server URL)",
                client.get("/v1/pets/7", headers=TOKEN),
            )
            show("GET /pets/7 again (stable for the same id)", client.get("/pets/7", headers=TOKEN))
            show(
                "GET /pets/7 with Prefer: example=rex",
                client.get("/pets/7", headers={**TOKEN, "Prefer": "example=rex"}),
            )
            show(
                "POST /pets (a valid pet)",
                client.post("/pets", json={"name": "Kitty", "status": "available"}, headers=TOKEN),
            )
            show(
                "POST /pets (name missing)", client.post("/pets", json={"tag": "x"}, headers=TOKEN)
            )
            show("DELETE /pets/7", client.delete("/pets/7", headers=TOKEN))
            show("GET /nowhere", client.get("/nowhere"))

            print("\nAdmin port: switch a scenario at run time")
            scenario = {
                "name": "pets_down",
                "description": "getPet fails with 503, listPets is slow",
                "rules": [
                    {"operation": "getPet", "status": 503, "headers": {"Retry-After": "2"}},
                    {"operation": "listPets", "delay_ms": 150},
                ],
            }
            httpx.put(
                f"{admin}/api/mock-data/scenarios/pets_down", json=scenario
            ).raise_for_status()
            httpx.post(f"{admin}/api/mock-data/scenarios/pets_down/activate").raise_for_status()
            show("GET /pets/7 under 'pets_down'", client.get("/pets/7", headers=TOKEN))
            started = time.perf_counter()
            client.get("/pets", headers=TOKEN)
            print(
                f"  {'GET /pets under pets_down':<44} -> took "
                f"{(time.perf_counter() - started) * 1000:.0f} ms"
            )
            httpx.post(f"{admin}/api/mock-data/scenarios/deactivate").raise_for_status()
            show("GET /pets/7 after deactivating", client.get("/pets/7", headers=TOKEN))

        print("\nRequest log (oldest first):")
        logs = httpx.get(f"{admin}/api/logs/search", params={"limit": 20}).json()
        for record in reversed(logs["records"]):
            auth = record["request_headers"].get("authorization", "-")
            print(
                f"  {record['method']:<6} {record['path']:<14} {record['status']}  "
                f"{record['latency_ms']:7.2f} ms  op={record['operation_id'] or '-':<10} "
                f"scenario={record['scenario'] or '-':<10} authorization={auth}"
            )
        print(f"  ({logs['total']} records in all)")
        analysis = httpx.get(f"{admin}/api/logs/analyze").json()
        print("\nAnalysis of the log:")
        latency = analysis["latency"]
        classes = ", ".join(f"{k} {v:.0%}" for k, v in analysis["status_classes"].items() if v)
        print(
            f"  {analysis['count']} requests, {analysis['rate_per_s']:.1f} req/s, "
            f"error rate {analysis['error_rate']:.0%} ({classes})"
        )
        print(
            f"  latency ms: p50 {latency['p50']:.2f}  p95 {latency['p95']:.2f}  "
            f"p99 {latency['p99']:.2f}  max {latency['max']:.2f}"
        )
        for item in analysis.get("slowest_operations", [])[:3]:
            print(
                f"  slowest: {item['operation']:<10} p95 {item['p95']:.2f} ms "
                f"over {item['count']} calls"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    print("\nServer output:")
    print("  " + output.strip().replace("\n", "\n  "))
    print(f"\nmockloop serve exited with code {server.returncode} after SIGTERM.")
    return 0 if server.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
