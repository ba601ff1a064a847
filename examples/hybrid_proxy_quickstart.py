"""A hybrid plugin in front of a live API: routing rules, a live mode switch, record and
replay, and a mock-vs-live comparison.

The "live API" is a small app this script starts on 127.0.0.1, so everything runs offline:

    python examples/hybrid_proxy_quickstart.py

State goes to MOCKLOOP_HOME (a temporary folder unless you set one); the plugin server and the
live API are stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mockloop import AsyncMockLoopClient

SPEC = Path(__file__).resolve().parent / "specs" / "petstore.yaml"
TOKEN = "demo-live-token"


class LiveApi:
    """A stand-in for the real pet store: answers /v1/pets/{id} and /v1/status, counts calls
    and remembers whether the plugin's bearer token arrived."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.authorised = 0

        async def pet(request: Request) -> JSONResponse:
            self._seen(request)
            pet_id = int(request.path_params["pet_id"])
            return JSONResponse(
                {"id": pet_id, "name": f"Live pet {pet_id}", "created_at": "2024-05-01T10:00:00Z"}
            )

        async def status(request: Request) -> JSONResponse:
            self._seen(request)
            return JSONResponse({"status": "ok", "version": "2.4.1"})

        app = Starlette(routes=[Route("/v1/pets/{pet_id:int}", pet), Route("/v1/status", status)])
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    def _seen(self, request: Request) -> None:
        self.calls.append(request.url.path)
        if request.headers.get("authorization") == f"Bearer {TOKEN}":
            self.authorised += 1

    def start(self) -> LiveApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


async def main() -> None:
    home = os.environ.get("MOCKLOOP_HOME") or tempfile.mkdtemp(prefix="mockloop-hybrid-")
    live = LiveApi().start()
    client = AsyncMockLoopClient(home=home)
    print(f"Live API on {live.url}")
    try:
        plugin = await client.create_mcp_plugin(
            spec_url_or_path=str(SPEC),
            mode="hybrid",
            plugin_name="example_api",
            target_url=live.url,
            auth_config={"auth_type": "bearer_token", "credentials": {"token": TOKEN}},
            routing_rules=[
                {"pattern": "/v1/pets/*", "mode": "proxy", "priority": 10},
                {"pattern": "/v1/pets*", "mode": "mock", "priority": 5},
            ],
            proxy_config={"fallback_to_mock": True},
        )
        print(plugin.summary())

        print("Hybrid routing:")
        for tool, arguments in (
            ("getPet", {"petId": 3}),
            ("listPets", {"limit": 2}),
            ("getStatus", {}),
        ):
            call = await client.call_api_tool(tool, arguments, plugin_name="example_api")
            print(
                f"  {call.method} {call.url.split(plugin.business_url)[1]} -> {call.status} "
                f"answered by {call.mode}"
            )
        print(f"Live API calls so far: {len(live.calls)} (with the token: {live.authorised})")

        await client.configure_proxy(plugin_name="example_api", mode="proxy")
        call = await client.call_api_tool("getStatus", {}, plugin_name="example_api")
        print(f"After switching to proxy mode: GET /v1/status answered by {call.mode}: {call.body}")

        await client.start_recording("live_pets", plugin_name="example_api")
        recorded = await client.call_api_tool("getPet", {"petId": 8}, plugin_name="example_api")
        saved = await client.stop_recording(plugin_name="example_api", replay=True)
        print(saved.summary())

        report = await client.compare_mock_and_live(
            plugin_name="example_api",
            requests=[
                {"operation_id": "getStatus"},
                {"operation_id": "getPet", "arguments": {"petId": 1}},
            ],
            ignore_paths=["created_at"],
        )
        print(report.summary())
        for item in report.operations:
            print(
                f"  {item.operation_id}: {item.verdict}; structural "
                f"{[d['path'] for d in item.structural_differences]}"
            )

        live.stop()
        print("Live API stopped.")
        replayed = await client.call_api_tool("getPet", {"petId": 8}, plugin_name="example_api")
        same = replayed.body == recorded.body
        print(f"Replay: GET /v1/pets/8 answered by {replayed.mode}, same answer as live: {same}")
        status = await client.get_proxy_status(plugin_name="example_api")
        print(status.summary())
    finally:
        live.stop()
        for server in (await client.list_mock_servers()).servers:
            if server.status == "running":
                await client.stop_mock_server(server.id)
        running = [s for s in (await client.list_mock_servers()).servers if s.status == "running"]
        print(f"Processes left running: {len(running)}")


if __name__ == "__main__":
    asyncio.run(main())
