"""The admin API's `/api/webhooks`: register, list, read, delete, test, history.

Every error is `application/problem+json`: 404 for an unknown webhook or when webhooks are off
for this mock, 400 (through the admin app's `MockLoopUserError` handler) for a bad body or a
target the allow-list refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mockloop.errors import ConfigError
from mockloop.mock.runtime import MockRuntime

__all__ = ["WebhookRegistration", "webhooks_router"]

_DISABLED = (
    "webhooks are disabled for this mock; start it with webhooks on (drop --no-webhooks, "
    "MockConfig(webhooks=True), or webhooks_enabled=True in generate_mock_api)"
)


class WebhookRegistration(BaseModel):
    """Body of `POST /api/webhooks`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="http(s) URL on an allowed host (loopback by default)")
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description='"*", an operationId, "METHOD /path/template", scenario.* or state.*',
    )
    secret: str | None = Field(default=None, description="signs each body (HMAC-SHA256)")
    active: bool = True


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "Not Found" if status == 404 else "Error",
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
    )


def _unknown(webhook_id: str) -> JSONResponse:
    return _problem(404, f"no webhook {webhook_id!r}; GET /api/webhooks lists them")


def _registration(body: Any) -> WebhookRegistration:
    try:
        return WebhookRegistration.model_validate(body if body is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f'invalid webhook: {problems} (expected {{"url": "http://127.0.0.1:9000/hook", '
            '"events": ["*"], "secret": "...", "active": true}})'
        ) from None


def webhooks_router(runtime: MockRuntime, dependencies: Sequence[Any]) -> APIRouter:
    """The `/api/webhooks` routes over the runtime's dispatcher, behind `dependencies`."""
    router = APIRouter(prefix="/api/webhooks", dependencies=list(dependencies), tags=["webhooks"])

    @router.get("", response_model=None)
    async def list_webhooks() -> dict[str, Any] | JSONResponse:
        """Every registered webhook (secrets are never returned)."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        return {"webhooks": hooks.store.list_webhooks()}

    @router.post("", status_code=201, response_model=None)
    async def register(body: Any = Body(None)) -> dict[str, Any] | JSONResponse:
        """Register a webhook; 400 when the body is invalid or the URL's host is not allowed."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        registration = _registration(body)
        registered = hooks.register(
            registration.url, registration.events, registration.secret, registration.active
        )
        await asyncio.to_thread(runtime.webhooks_changed)
        return registered

    @router.get("/history", response_model=None)
    async def history(
        webhook_id: str | None = None, limit: int = Query(100, ge=1, le=10_000)
    ) -> dict[str, Any] | JSONResponse:
        """Delivery outcomes, newest first."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        return {"deliveries": hooks.store.deliveries(webhook_id=webhook_id, limit=limit)}

    @router.get("/{webhook_id}", response_model=None)
    async def get_webhook(webhook_id: str) -> dict[str, Any] | JSONResponse:
        """One webhook."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        hook = hooks.store.get_webhook(webhook_id)
        return hook if hook is not None else _unknown(webhook_id)

    @router.delete("/{webhook_id}", response_model=None)
    async def delete(webhook_id: str) -> dict[str, Any] | JSONResponse:
        """Remove a webhook (its delivery history stays)."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        if not hooks.delete(webhook_id):
            return _unknown(webhook_id)
        await asyncio.to_thread(runtime.webhooks_changed)
        return {"deleted": webhook_id}

    @router.post("/{webhook_id}/test", response_model=None)
    async def test(webhook_id: str) -> dict[str, Any] | JSONResponse:
        """Deliver a `webhook.test` event now (with retries) and return the delivery record."""
        hooks = runtime.webhooks
        if hooks is None:
            return _problem(404, _DISABLED)
        try:
            return await asyncio.to_thread(hooks.test, webhook_id)
        except KeyError:
            return _unknown(webhook_id)

    return router
