"""`/api/state` on the admin port: read, seed and reset the data of a stateful mock.

The routes exist whether or not stateful mode is on, so a client can ask; when it is off, the
read says `enabled: false` and the writes answer 409 saying how to turn it on. A seed or reset
past a cap (items per collection, bytes of all the data, live sessions; see `state_limits`)
answers the problem the business port would. Reads run off the event loop and a collection is
read a page at a time (its count with it, in one locked read), so a large one never holds up
`/health`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mockloop.errors import ConfigError
from mockloop.mock.state.limits import StateLimitError

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime
    from mockloop.mock.state.store import StateStore

__all__ = ["ResetRequest", "SeedRequest", "state_router"]

_Model = TypeVar("_Model", bound=BaseModel)
_OFF = "stateful mode is off; start the mock with stateful=True"


class SeedRequest(BaseModel):
    """Body of `POST /api/state/seed`."""

    model_config = ConfigDict(extra="forbid")

    collection: str | None = Field(default=None, description="one collection; null: all")
    count: int | None = Field(default=None, ge=0, le=1000, description="generated items")
    session_id: str | None = None
    items: list[dict[str, Any]] | None = Field(
        default=None, description="explicit items instead of generated ones"
    )


class ResetRequest(BaseModel):
    """Body of `POST /api/state/reset`."""

    model_config = ConfigDict(extra="forbid")

    session_id: str | None = None
    reseed: bool = True


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _refused(exc: StateLimitError) -> JSONResponse:
    """The problem a cap answers, as on the business port."""
    body = {"type": "about:blank", "title": exc.title, "status": exc.status, "detail": str(exc)}
    headers = {name.decode(): value.decode() for name, value in exc.headers}
    return JSONResponse(
        {**body, **exc.fields},
        status_code=exc.status,
        headers=headers,
        media_type="application/problem+json",
    )


def _parse(model: type[_Model], body: Any) -> _Model:
    try:
        return model.model_validate(body or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid {model.__name__}: {problems}") from None


def state_router(runtime: MockRuntime, dependencies: Sequence[Any]) -> APIRouter:
    """The `/api/state` routes for a runtime, behind the admin's `dependencies` (its token)."""
    router = APIRouter(dependencies=list(dependencies), tags=["state"])

    def store() -> StateStore | None:
        return runtime.state

    def session(value: str | None) -> str | None:
        return value or None

    @router.get("/api/state")
    async def read_state(session_id: str | None = None) -> dict[str, Any]:
        """Whether stateful mode is on, its collections and their item counts."""
        state = store()
        sid = session(session_id)
        if state is None:
            return {
                "enabled": False,
                "isolation": runtime.config.state_isolation,
                "session_id": sid,
                "sessions": [],
                "collections": [],
            }
        counts = await asyncio.to_thread(state.counts, sid)
        return {
            "enabled": True,
            "isolation": state.isolation,
            "session_id": sid,
            "sessions": await asyncio.to_thread(state.sessions),
            "limits": state.summary(),
            "collections": [
                {
                    "name": c.name,
                    "collection_path": c.collection_path,
                    "item_path": c.item_path,
                    "id_field": c.id_field,
                    "id_param": c.id_param,
                    "count": counts.get(c.name, 0),
                }
                for c in state.collections.values()
            ],
        }

    @router.post("/api/state/seed", response_model=None)
    async def seed_state(body: Any = Body(None)) -> dict[str, Any] | JSONResponse:
        """Add generated (or explicit) items to one collection or all of them."""
        state = store()
        if state is None:
            return _problem(409, "Conflict", _OFF)
        request = _parse(SeedRequest, body)
        sid = session(request.session_id)
        if request.collection and request.collection not in state.collections:
            return _problem(404, "Not Found", _unknown(state, request.collection))
        try:
            seeded = await asyncio.to_thread(
                state.seed,
                request.collection or None,
                count=request.count,
                items=request.items,
                session_id=sid,
            )
        except StateLimitError as exc:
            return _refused(exc)
        return {"seeded": seeded, "session_id": sid}

    @router.post("/api/state/reset", response_model=None)
    async def reset_state(body: Any = Body(None)) -> dict[str, Any] | JSONResponse:
        """Back to the seed (or to empty collections with reseed=false)."""
        state = store()
        if state is None:
            return _problem(409, "Conflict", _OFF)
        request = _parse(ResetRequest, body)
        sid = session(request.session_id)
        try:
            counts = await asyncio.to_thread(state.reset, sid, reseed=request.reseed)
        except StateLimitError as exc:
            return _refused(exc)
        return {"reset": True, "session_id": sid, "collections": counts}

    @router.get("/api/state/{collection}", response_model=None)
    async def read_collection(
        collection: str,
        session_id: str | None = None,
        limit: int = Query(1000, ge=1, le=10_000, description="items in this page"),
        offset: int = Query(0, ge=0, description="items skipped before the page"),
    ) -> dict[str, Any] | JSONResponse:
        """One page of a collection's items (`count` is the collection's whole size)."""
        state = store()
        if state is None:
            return _problem(409, "Conflict", _OFF)
        if collection not in state.collections:
            return _problem(404, "Not Found", _unknown(state, collection))
        sid = session(session_id)
        # One locked read: a write landing between two reads would make them disagree.
        count, items = await asyncio.to_thread(
            state.page, collection, sid, offset=offset, limit=limit
        )
        return {
            "collection": collection,
            "session_id": sid,
            "count": count,
            "offset": offset,
            "limit": limit,
            "items": items,
        }

    return router


def _unknown(state: StateStore, name: str) -> str:
    known = ", ".join(state.collections) or "none: the description defines no collection"
    return f"unknown collection {name!r} (collections: {known})"
