"""`/api/proxy` on the admin port: the mode, the routing rules, upstream settings, recording.

Every change takes effect on the business port's next request, without a restart: the proxy
engine validates the new settings and swaps them in whole. A pure mock (started without proxy
settings) becomes a proxy the first time `PUT /api/proxy` gives it a target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, HTTPException

from mockloop.errors import ConfigError

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = ["proxy_router"]


def proxy_router(runtime: MockRuntime, dependencies: Sequence[Any]) -> APIRouter:
    """The `/api/proxy` routes for a runtime, behind the admin's `dependencies` (its token)."""
    router = APIRouter(dependencies=list(dependencies), tags=["proxy"])

    def status() -> dict[str, Any]:
        engine = runtime.proxy
        if engine is None:
            return {
                "enabled": False,
                "mode": "mock",
                "detail": "a pure mock: PUT /api/proxy with a target_url and a mode to proxy",
            }
        return {"enabled": True, **engine.status()}

    @router.get("/api/proxy")
    async def read_proxy() -> dict[str, Any]:
        """The proxy mode, rules, upstream auth (no secrets), circuit, counters, recording."""
        return status()

    def one_process_only(what: str) -> None:
        """Under `serve --workers N` the business workers are other processes: settings held
        in this one's memory would never reach them."""
        if runtime.workers is not None:
            raise HTTPException(
                409,
                f"{what} works on one process's proxy settings, and under --workers the "
                "business workers are other processes: serve with --workers 1 to proxy, record "
                "or replay",
            )

    @router.put("/api/proxy")
    async def update_proxy(
        changes: dict[str, Any] = Body(
            ...,
            description="any of mode, target_url, default_mode, routing_rules, auth, "
            "timeout_s, retries, circuit_breaker, fallback_to_mock, replay_scenario",
        ),
    ) -> dict[str, Any]:
        """Change the proxy settings; effective on the next business request."""
        one_process_only("PUT /api/proxy")
        runtime.configure_proxy(changes)
        return status()

    @router.post("/api/proxy/record/start")
    async def start_recording(
        body: dict[str, Any] = Body(..., description='{"scenario_name": "recorded"}'),
    ) -> dict[str, Any]:
        """Capture every answer of the live API from now on into a scenario."""
        one_process_only("recording")
        engine = runtime.proxy
        if engine is None or not engine.settings.target_url:
            raise ConfigError(
                "recording captures the live API's answers: set target_url and mode proxy or "
                "hybrid with PUT /api/proxy first"
            )
        name = body.get("scenario_name") if isinstance(body, dict) else None
        engine.start_recording(str(name or ""))
        return status()

    @router.post("/api/proxy/record/stop")
    async def stop_recording(
        body: dict[str, Any] | None = Body(None, description='{"replay": true} to replay it'),
    ) -> dict[str, Any]:
        """Save the recording as a scenario; with replay=true switch to replay mode on it."""
        engine = runtime.proxy
        if engine is None:
            raise ConfigError("no recording is running: start one with start_recording")
        replay = bool((body or {}).get("replay", False))
        return engine.stop_recording(replay=replay)

    return router
