"""The admin API reference at the admin port's `/docs`: Swagger UI on the admin app's OpenAPI.

The page and Swagger UI's files come from `mockloop.mock.docs` (installed with MockLoop,
nothing from a CDN). The files live under `/ui/swagger-ui/<tag>/`, with the admin UI's own
files: the guard keeps `/ui/` open without the admin token, like `/docs` and `/openapi.json`,
so the reference loads on a mock with a token too. With a token, Swagger UI's "Authorize"
button takes it (the document declares the bearer scheme) and "Try it out" sends it; the
guard's Host and cross-origin checks apply to those calls as to any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from mockloop.mock.docs import ASSET_CACHE_CONTROL, PAGE_HEADERS, swagger_assets, swagger_page

__all__ = ["DOCS_HEADERS", "docs_router", "reference_page"]

#: Headers of the `/docs` page (a strict Content-Security-Policy: same-origin files only).
DOCS_HEADERS: dict[str, str] = dict(PAGE_HEADERS)

_ASSET_ROOT = "/ui"  # Swagger UI's files: /ui/swagger-ui/<tag>/<file>, open like the UI's
_METHODS = ("get", "post", "put", "patch", "delete")


def reference_page(openapi: dict[str, Any], *, token_required: bool) -> str:
    """The Swagger UI page of the admin API (`openapi` is its document, at `/openapi.json`)."""
    info = openapi.get("info") or {}
    title = f"{info.get('title') or 'MockLoop admin API'}: API reference"
    operations = [
        (method, path, str(operation.get("summary") or operation.get("description") or ""))
        for path, item in (openapi.get("paths") or {}).items()
        for method in _METHODS
        if isinstance(operation := (item or {}).get(method), dict)
    ]
    operations_label = (
        "Operations (every /api route needs Authorization: Bearer <token>)"
        if token_required
        else "Operations"
    )
    return swagger_page(
        title=title,
        document_url="/openapi.json",
        root=_ASSET_ROOT,
        operations=operations,
        links=[
            ("/", "Admin UI"),
            ("/openapi.json", "OpenAPI document"),
            ("/api/operations", operations_label),
        ],
    )


def docs_router(openapi: Callable[[], dict[str, Any]], *, token_required: bool) -> APIRouter:
    """Routes for `/docs` (Swagger UI on `openapi()`) and `/ui/swagger-ui/{tag}/{name}`.

    Raises:
        ConfigError: on a request, when Swagger UI's files are not installed.
    """
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def reference() -> HTMLResponse:
        page = reference_page(openapi(), token_required=token_required)
        return HTMLResponse(page, headers=DOCS_HEADERS)

    @router.get(_ASSET_ROOT + "/swagger-ui/{tag}/{name}")
    async def swagger_file(tag: str, name: str) -> Response:
        found = swagger_assets().get(tag, name)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no Swagger UI file {tag}/{name}")
        body, kind = found
        headers = {"Cache-Control": ASSET_CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
        return Response(body, media_type=kind, headers=headers)

    return router
