"""The admin UI: one static page (plain HTML, JavaScript and CSS, no build step) at the admin
port's `/`, with its two assets under `/ui/`.

Everything the page needs is served from here, nothing from elsewhere: a strict
Content-Security-Policy keeps it that way (and makes an injected script inert). The page talks
only to the admin API of the same origin, so it works wherever the admin port is reachable,
including behind an admin token (the page asks for it on the first 401). With
`MockConfig.admin_ui=False`, `/` is a short page saying so and linking the admin API.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = ["UI_ASSETS", "ui_router"]

UI_ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}

# Same origin only; `data:` images for the empty favicon. No inline script or style anywhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The files change only with the package; no-cache still lets the browser revalidate.
    "Cache-Control": "no-cache",
}
_API_LINKS = (
    ("/docs", "Admin API reference"),
    ("/health", "Health"),
    ("/api/operations", "Operations"),
    ("/api/logs/search", "Request log"),
    ("/api/mock-data/scenarios", "Scenarios"),
    ("/api/state", "Stateful data"),
    ("/api/webhooks", "Webhooks"),
)


def _read_assets() -> dict[str, bytes]:
    folder = files("mockloop.mock.admin").joinpath("assets")
    return {name: folder.joinpath(name).read_bytes() for name in UI_ASSETS}


def _disabled_page(runtime: MockRuntime) -> str:
    links = "".join(
        f'<li><a href="{href}">{html.escape(label)}</a> <code>{href}</code></li>'
        for href, label in _API_LINKS
    )
    business = html.escape(runtime.business_url or "")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>MockLoop admin: {html.escape(runtime.spec.title)}</title></head><body>"
        f"<h1>MockLoop admin: {html.escape(runtime.spec.title)}</h1>"
        "<p>The admin UI is disabled for this mock (<code>admin_ui=False</code>); "
        "the admin API below still answers.</p>"
        f'<p>Business API: <a href="{business}">{business}</a></p>'
        f"<ul>{links}</ul></body></html>"
    )


def ui_router(runtime: MockRuntime) -> APIRouter:
    """Routes for `/` and `/ui/{asset}`: the admin UI, or the "UI disabled" page at `/` when
    `runtime.config.admin_ui` is False.

    Raises:
        FileNotFoundError: an asset is missing from the installed package (a broken install).
    """
    router = APIRouter(include_in_schema=False)

    if not runtime.config.admin_ui:

        @router.get("/", response_class=HTMLResponse)
        async def ui_disabled() -> HTMLResponse:
            return HTMLResponse(_disabled_page(runtime), headers={"Cache-Control": "no-cache"})

        return router

    assets = _read_assets()

    @router.get("/")
    async def ui_index() -> Response:
        return Response(assets["index.html"], media_type=UI_ASSETS["index.html"], headers=_HEADERS)

    @router.get("/ui/{name}")
    async def ui_asset(name: str) -> Response:
        if name == "index.html" or name not in assets:
            raise HTTPException(status_code=404, detail=f"no admin UI file {name!r}")
        return Response(assets[name], media_type=UI_ASSETS[name], headers=_HEADERS)

    return router
