"""The admin port: a FastAPI app over the same runtime as the business port.

Every change made here (scenarios, overrides) takes effect on the business port's next request
and is persisted in the mock's store, so it survives a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from http import HTTPStatus
from typing import Any

from fastapi import Body, Depends, FastAPI, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from mockloop.errors import ConfigError, MockLoopUserError, ScenarioError, StoreError
from mockloop.mock.admin.docs import docs_router
from mockloop.mock.admin.guard import AdminGuard, is_loopback_host
from mockloop.mock.admin.proxy_routes import proxy_router
from mockloop.mock.admin.self_log import AdminRequestLogger
from mockloop.mock.admin.state_routes import state_router
from mockloop.mock.admin.traffic_routes import traffic_router
from mockloop.mock.admin.ui import ui_router
from mockloop.mock.admin.webhook_routes import webhooks_router
from mockloop.mock.metrics import MockMetrics
from mockloop.mock.request_log.analysis import analyze_records
from mockloop.mock.runtime import MockRuntime

__all__ = ["create_admin_app"]

logger = logging.getLogger("mockloop.mock")

_MAX_ANALYZE = 100_000


def _parse_time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is neither epoch seconds nor an ISO 8601 time "
            "(e.g. 2026-01-31T12:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        return moment.timestamp()
    return moment.timestamp()


def _parse_status(value: str | None) -> int | str | None:
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    lowered = value.lower()
    if len(lowered) == 3 and lowered[0] in "12345" and lowered[1:] == "xx":
        return lowered
    raise ConfigError(f"status={value!r}: give a code like 404 or a class like 4xx")


def create_admin_app(runtime: MockRuntime) -> FastAPI:
    """Build the admin app for a runtime.

    Every request passes `AdminGuard` first (Host, cross-origin writes, the admin token); the
    routes themselves only declare the bearer scheme for the reference.
    """
    settings = runtime.config
    if not is_loopback_host(settings.admin_host) and not settings.admin_token:
        logger.warning(
            "the admin port listens on %s, beyond this machine's loopback, without an admin "
            "token: whoever reaches it and names an allowed Host can change this mock",
            settings.admin_host or "every interface",
        )
    app = FastAPI(
        title=f"MockLoop admin: {runtime.spec.title}",
        description="Admin API of a MockLoop mock server: request log, scenarios, overrides.",
        version=_version(),
        # FastAPI's Swagger UI and ReDoc load from a CDN: /docs is Swagger UI from local files.
        docs_url=None,
        redoc_url=None,
    )
    # The guard checks the token; this only tells the reference that /api routes need one.
    guarded = [Depends(HTTPBearer(auto_error=False))] if settings.admin_token else []

    app.include_router(docs_router(app.openapi, token_required=bool(settings.admin_token)))

    @app.exception_handler(MockLoopUserError)
    async def _user_error(_: Request, exc: MockLoopUserError) -> JSONResponse:
        status = 404 if isinstance(exc, ScenarioError) and "unknown scenario" in str(exc) else 400
        if isinstance(exc, ScenarioError) and "no response override" in str(exc):
            status = 404
        if isinstance(exc, ScenarioError) and "exists already" in str(exc):
            status = 409
        return JSONResponse(
            {
                "type": "about:blank",
                "title": type(exc).__name__,
                "status": status,
                "detail": str(exc),
            },
            status_code=status,
            media_type="application/problem+json",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404, 405 and body-parsing refusals raised by the framework itself.
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            {
                "type": "about:blank",
                "title": _reason(exc.status_code),
                "status": exc.status_code,
                "detail": detail,
            },
            status_code=exc.status_code,
            headers=dict(exc.headers or {}),
            media_type="application/problem+json",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
            for error in exc.errors()[:20]
        ]
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "; ".join(problems) or "the request does not match this route",
                "errors": jsonable_encoder(exc.errors()[:20]),
            },
            status_code=422,
            media_type="application/problem+json",
        )

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
        # The database is down or locked: the request was fine, retrying later may work.
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "StoreError",
                "status": 503,
                "detail": str(exc),
            },
            status_code=503,
            media_type="application/problem+json",
        )

    app.include_router(ui_router(runtime))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and a summary of the mock."""
        writer = runtime.log_writer
        return {
            "status": "ok",
            "service": "mockloop-admin",
            "mockloop_version": _version(),
            "api": {"title": runtime.spec.title, "version": runtime.spec.version},
            "operations": len(runtime.spec.operations),
            "business_url": runtime.business_url,
            "admin_url": runtime.admin_url,
            "uptime_s": round(time.time() - runtime.started_at, 3),
            "active_scenario": runtime.rules.active_scenario,
            "validation": runtime.config.validation,
            "auth": runtime.config.auth,
            "request_log": writer.stats() if writer is not None else None,
            "proxy_mode": runtime.proxy.settings.mode if runtime.proxy is not None else None,
            "storage": await asyncio.to_thread(runtime.storage_info),
            # Stateful mode's bounds, live sessions, evictions and refusals (no lock taken).
            "state": runtime.state.summary() if runtime.state is not None else None,
            # `serve --workers N`: each business worker (index, pid, alive, ready, restarts).
            "workers": runtime.workers() if runtime.workers is not None else None,
            "watch": runtime.watch.status() if runtime.watch is not None else None,
        }

    metrics = MockMetrics(runtime)

    @app.get("/metrics", dependencies=guarded, response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics (text format): requests, latency, request log, scenario, workers.

        Needs the admin token when the mock has one (Prometheus sends it as a bearer token).
        """
        writer = runtime.log_writer
        if writer is not None and runtime.workers is None:
            # Requests answered before the scrape are counted in it (the writer counts them).
            await asyncio.to_thread(writer.flush, 5.0)
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/operations", dependencies=guarded)
    async def operations() -> list[dict[str, Any]]:
        """The operations the business port serves."""
        return [
            {
                "operation_id": op.operation_id,
                "method": op.method.upper(),
                "path": op.path,
                "summary": op.summary,
                "responses": sorted(op.responses),
                "tags": op.tags,
            }
            for op in runtime.spec.operations
        ]

    async def _filters(
        method: str | None,
        path: str | None,
        status: str | None,
        time_from: str | None,
        time_to: str | None,
        session_id: str | None,
        operation_id: str | None,
        include_admin: bool = False,
    ) -> dict[str, Any]:
        writer = runtime.log_writer
        if writer is not None:
            await asyncio.to_thread(writer.flush, 5.0)
        return {
            "method": method.upper() if method else None,
            "path_regex": path or None,
            "status": _parse_status(status),
            "time_from": _parse_time(time_from, "time_from"),
            "time_to": _parse_time(time_to, "time_to"),
            "session_id": session_id or None,
            "operation_id": operation_id or None,
            "exclude_mode": None if include_admin else "admin",
        }

    @app.get("/api/logs/search", dependencies=guarded)
    async def search_logs(
        method: str | None = None,
        path: str | None = Query(None, description="a regular expression searched in the path"),
        status: str | None = Query(None, description="a code (404) or a class (4xx)"),
        time_from: str | None = Query(None, description="epoch seconds or ISO 8601"),
        time_to: str | None = Query(None, description="epoch seconds or ISO 8601"),
        session_id: str | None = None,
        operation_id: str | None = None,
        include_admin: bool = Query(False, description="also the admin port's own requests"),
        limit: int = Query(100, ge=1, le=10_000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """Search the request log, newest first."""
        filters = await _filters(
            method, path, status, time_from, time_to, session_id, operation_id, include_admin
        )
        store = runtime.require_store()
        records = await asyncio.to_thread(store.search_logs, limit=limit, offset=offset, **filters)
        total = await asyncio.to_thread(store.count_logs, **filters)
        return {"total": total, "limit": limit, "offset": offset, "records": records}

    @app.get("/api/logs/analyze", dependencies=guarded)
    async def analyze_logs(
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
        session_id: str | None = None,
        operation_id: str | None = None,
        include_admin: bool = False,
    ) -> dict[str, Any]:
        """Statistics, traffic pattern, sessions and recommendations over the matching log
        records (the newest 100,000 at most)."""
        filters = await _filters(
            method, path, status, time_from, time_to, session_id, operation_id, include_admin
        )
        store = runtime.require_store()
        records = await asyncio.to_thread(
            store.search_logs, limit=_MAX_ANALYZE, offset=0, **filters
        )
        documented = [op.operation_id for op in runtime.spec.operations]
        return await asyncio.to_thread(analyze_records, records, documented_operations=documented)

    # -- scenarios --------------------------------------------------------------------------

    @app.get("/api/mock-data/scenarios", dependencies=guarded)
    async def list_scenarios() -> dict[str, Any]:
        """Every stored scenario and which one is active."""
        return {"active": runtime.rules.active_scenario, "scenarios": runtime.list_scenarios()}

    @app.post("/api/mock-data/scenarios", status_code=201, dependencies=guarded)
    async def create_scenario(
        scenario: dict[str, Any] = Body(..., description="a scenario (see docs/scenarios.md)"),
        activate: bool = False,
    ) -> dict[str, Any]:
        """Create a scenario; 409 if the name exists, 400 naming each invalid field."""
        # Off the event loop: on a shared store a change waits for the other replicas.
        saved = await asyncio.to_thread(runtime.save_scenario, scenario, create=True)
        if activate:
            await asyncio.to_thread(runtime.activate_scenario, saved["name"])
        return saved

    @app.get("/api/mock-data/scenarios/active", dependencies=guarded)
    async def active_scenario() -> dict[str, Any]:
        """The active scenario, or null."""
        name = runtime.rules.active_scenario
        return {"active": name, "scenario": runtime.get_scenario(name) if name else None}

    @app.post("/api/mock-data/scenarios/deactivate", dependencies=guarded)
    async def deactivate() -> dict[str, Any]:
        """Deactivate the active scenario: the mock answers from the description again."""
        return {"deactivated": await asyncio.to_thread(runtime.deactivate_scenario), "active": None}

    @app.get("/api/mock-data/scenarios/{name}", dependencies=guarded)
    async def get_scenario(name: str) -> dict[str, Any]:
        """One scenario."""
        return runtime.get_scenario(name)

    @app.put("/api/mock-data/scenarios/{name}", dependencies=guarded)
    async def update_scenario(name: str, scenario: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Create or replace a scenario; effective at once if it is the active one."""
        return await asyncio.to_thread(runtime.save_scenario, scenario, name=name)

    @app.delete("/api/mock-data/scenarios/{name}", dependencies=guarded)
    async def delete_scenario(name: str) -> dict[str, Any]:
        """Delete a scenario (deactivating it first if active)."""
        await asyncio.to_thread(runtime.delete_scenario, name)
        return {"deleted": name}

    @app.post("/api/mock-data/scenarios/{name}/activate", dependencies=guarded)
    async def activate(name: str) -> dict[str, Any]:
        """Make a scenario the active one; the next business request follows it."""
        scenario = await asyncio.to_thread(runtime.activate_scenario, name)
        return {"active": scenario.name}

    # -- per-endpoint response overrides ----------------------------------------------------

    @app.get("/api/mock-data/responses", dependencies=guarded)
    async def list_overrides() -> dict[str, Any]:
        """Response overrides by operation (they take precedence over the active scenario)."""
        return {"overrides": runtime.require_store().list_overrides()}

    @app.put("/api/mock-data/responses/{key:path}", dependencies=guarded)
    async def put_override(key: str, rule: dict[str, Any] = Body(...)) -> dict[str, Any]:
        """Set the response of one operation: key is an operationId or 'METHOD /path'."""
        return {"key": key, "override": await asyncio.to_thread(runtime.set_override, key, rule)}

    @app.post("/api/mock-data/responses", dependencies=guarded)
    async def post_override(
        override: dict[str, Any] = Body(
            ..., description='{"operation": "getPet" or "endpoint": "GET /pets/{petId}", ...rule}'
        ),
    ) -> dict[str, Any]:
        """Set a response override; the body names the operation and gives the rule."""
        data = dict(override)
        key = data.pop("endpoint", None) or data.pop("operation", None)
        if not key:
            raise ScenarioError("a response override needs 'operation' or 'endpoint'")
        override_rule = await asyncio.to_thread(runtime.set_override, str(key), data)
        return {"key": key, "override": override_rule}

    @app.delete("/api/mock-data/responses/{key:path}", dependencies=guarded)
    async def delete_override(key: str) -> dict[str, Any]:
        """Remove one override."""
        await asyncio.to_thread(runtime.delete_override, key)
        return {"deleted": key}

    @app.delete("/api/mock-data/responses", dependencies=guarded)
    async def clear_overrides() -> dict[str, Any]:
        """Remove every override."""
        await asyncio.to_thread(runtime.clear_overrides)
        return {"cleared": True}

    # -- export -----------------------------------------------------------------------------

    @app.get("/api/export", dependencies=guarded)
    async def export(
        include_logs: bool = False, log_limit: int = Query(1000, ge=1, le=100_000)
    ) -> dict[str, Any]:
        """The mock's configuration, scenarios, overrides and (optionally) recent log records."""
        store = runtime.require_store()
        data: dict[str, Any] = {
            "mockloop_version": _version(),
            "exported_at": time.time(),
            "api": {
                "title": runtime.spec.title,
                "version": runtime.spec.version,
                "source": runtime.spec.source,
                "operations": len(runtime.spec.operations),
            },
            "config": runtime.config.model_dump(
                mode="json", exclude={"admin_token", "spec", "proxy"}
            ),
            **store.export(),
        }
        if runtime.proxy is not None:
            data["config"]["proxy"] = runtime.proxy.settings.public()
        if include_logs:
            if runtime.log_writer is not None:
                await asyncio.to_thread(runtime.log_writer.flush, 5.0)
            data["logs"] = await asyncio.to_thread(store.search_logs, limit=log_limit)
        return data

    app.include_router(state_router(runtime, guarded))
    app.include_router(webhooks_router(runtime, guarded))
    app.include_router(proxy_router(runtime, guarded))
    app.include_router(traffic_router(runtime, guarded))
    # Middleware added later runs further out: the request logger (added below) sees every
    # request first, so the guard's refusals are logged too; the guard runs before any route.
    app.add_middleware(
        AdminGuard,
        admin_host=settings.admin_host,
        allow_hosts=settings.admin_allow_hosts,
        token=settings.admin_token,
    )
    app.add_middleware(AdminRequestLogger, runtime=runtime)
    return app


def _version() -> str:
    from mockloop.version import __version__

    return __version__


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
