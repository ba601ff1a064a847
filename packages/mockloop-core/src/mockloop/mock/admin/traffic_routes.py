"""`GET /api/traffic`: the last minutes of the mock's traffic, drawn by the admin UI's
Traffic tab (requests per second, p50/p95/p99 latency, status classes, top operations)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query

from mockloop.mock.request_log.traffic import MAX_ROWS, traffic

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = ["traffic_router"]


def traffic_router(runtime: MockRuntime, dependencies: Sequence[Any]) -> APIRouter:
    """The traffic route, behind the admin API's guard."""
    router = APIRouter(dependencies=list(dependencies), tags=["logs"])

    @router.get("/api/traffic")
    async def read_traffic(
        window_s: int = Query(300, ge=10, le=3600, description="seconds of traffic to show"),
        step_s: int = Query(5, ge=1, le=600, description="seconds per bucket"),
    ) -> dict[str, Any]:
        """Requests/s, latency percentiles and status classes per bucket, and the busiest
        operations, from the request log (every worker's and replica's requests)."""
        now = time.time()
        step = min(step_s, window_s)
        store = runtime.require_store()

        def figures() -> dict[str, Any]:
            rows = store.traffic_rows(now - window_s - step, MAX_ROWS)
            return traffic(rows, now=now, window_s=window_s, step_s=step)

        # Off the event loop, which in one process is the business port's too.
        return await asyncio.to_thread(figures)

    return router
