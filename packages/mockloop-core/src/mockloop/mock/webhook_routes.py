"""The admin API's `/api/webhooks`: register, list, read, delete, test, history."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.params import Depends
from pydantic import BaseModel, Field

from mockloop.mock.runtime import MockRuntime
from mockloop.mock.webhook_delivery import WebhookDispatcher

__all__ = ["WebhookRegistration", "webhooks_router"]


class WebhookRegistration(BaseModel):
    """A webhook to register."""

    url: str = Field(description="http(s) URL on an allowed host (loopback by default)")
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description='"*", an operationId, "METHOD /path/template", scenario.* or state.*',
    )
    secret: str | None = Field(default=None, description="signs each body (HMAC-SHA256)")
    active: bool = True


def webhooks_router(runtime: MockRuntime, dependencies: Sequence[Depends]) -> APIRouter:
    """The `/api/webhooks` routes over the runtime's dispatcher."""
    router = APIRouter(prefix="/api/webhooks", dependencies=list(dependencies), tags=["webhooks"])

    def dispatcher() -> WebhookDispatcher:
        hooks = runtime.webhooks
        if hooks is None:
            raise HTTPException(
                404,
                "webhooks are disabled for this mock (start it with webhooks enabled, e.g. "
                "without --no-webhooks / webhooks_enabled=True)",
            )
        return hooks

    def unknown(webhook_id: str) -> HTTPException:
        return HTTPException(404, f"no webhook {webhook_id!r}; GET /api/webhooks lists them")

    @router.get("")
    async def list_webhooks() -> dict[str, Any]:
        """Every registered webhook (secrets are never returned)."""
        return {"webhooks": dispatcher().store.list_webhooks()}

    @router.post("", status_code=201)
    async def register(registration: WebhookRegistration = Body(...)) -> dict[str, Any]:
        """Register a webhook; 400 when the URL's host is not allowed."""
        return dispatcher().register(
            registration.url, registration.events, registration.secret, registration.active
        )

    @router.get("/history")
    async def history(
        webhook_id: str | None = None, limit: int = Query(100, ge=1, le=10_000)
    ) -> dict[str, Any]:
        """Delivery outcomes, newest first."""
        return {"deliveries": dispatcher().store.deliveries(webhook_id=webhook_id, limit=limit)}

    @router.get("/{webhook_id}")
    async def get_webhook(webhook_id: str) -> dict[str, Any]:
        """One webhook."""
        hook = dispatcher().store.get_webhook(webhook_id)
        if hook is None:
            raise unknown(webhook_id)
        return hook

    @router.delete("/{webhook_id}")
    async def delete(webhook_id: str) -> dict[str, Any]:
        """Remove a webhook (its delivery history stays)."""
        if not dispatcher().delete(webhook_id):
            raise unknown(webhook_id)
        return {"deleted": webhook_id}

    @router.post("/{webhook_id}/test")
    async def test(webhook_id: str) -> dict[str, Any]:
        """Deliver a `webhook.test` event now (with retries) and return the delivery record."""
        hooks = dispatcher()
        try:
            return await asyncio.to_thread(hooks.test, webhook_id)
        except KeyError:
            raise unknown(webhook_id) from None

    return router
