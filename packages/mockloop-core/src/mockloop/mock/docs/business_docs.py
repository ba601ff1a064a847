"""The business port's Swagger UI: the page, the description it shows and Swagger UI's files.

Served at `/docs` unless the description defines `/docs` or a path under it; then those are
the description's and the UI moves aside to `/_mockloop/docs`, where it is always served too.
Under a root R: the page at `R`, the description at `R/openapi.json` and Swagger UI's files
at `R/swagger-ui/<tag>/<file>`. The description is the mock's normalised one (the same as
`/openapi.json`) with `servers` set to the mock itself, so "Try it out" calls the mock and
nothing else (the page's Content-Security-Policy allows only this origin).

Only requests no operation took reach here (`BusinessApp._unrouted`), so a description's own
paths always win.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from mockloop.http_response import PreparedResponse
from mockloop.mock.docs.swagger import (
    ASSET_CACHE_CONTROL,
    PAGE_HEADERS,
    swagger_assets,
    swagger_page,
)

if TYPE_CHECKING:
    from mockloop.spec.model import ApiSpec

__all__ = ["DOCS_ASIDE", "DOCS_PREFIXES", "BusinessDocs"]

#: Where the business port's Swagger UI always lives, and the only place when the description
#: defines `/docs`.
DOCS_ASIDE = "/_mockloop/docs"
#: A request path starting with neither is never a docs request (one `startswith` to decide).
DOCS_PREFIXES = ("/docs", DOCS_ASIDE)

_PAGE_HEADERS = [(b"content-type", b"text/html; charset=utf-8")] + [
    (name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS
]
_DOCUMENT_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]
_ASSET = "/swagger-ui/"


class BusinessDocs:
    """Swagger UI for one loaded description; `answer` serves its page, document and files."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        #: Whether `/docs` is free for the UI: the description defines no `/docs` nor a path
        #: under it (a `/docs/{id}` would take the UI's own document and files).
        self.docs_free = not any(
            op.path.rstrip("/") == "/docs" or op.path.startswith("/docs/") for op in spec.operations
        )
        self._pages: dict[str, bytes] = {}
        self._document: bytes | None = None

    @property
    def root(self) -> str:
        """Where the UI is announced: `/docs`, or `/_mockloop/docs` when the description has
        `/docs`."""
        return "/docs" if self.docs_free else DOCS_ASIDE

    def answer(self, bare: str) -> PreparedResponse | None:
        """The docs answer for a GET of `bare` (a path without query or final slash), or None
        when `bare` is not one of the UI's paths.

        Raises:
            ConfigError: Swagger UI's files are not installed (see `swagger_assets`).
        """
        if bare == DOCS_ASIDE or bare.startswith(DOCS_ASIDE + "/"):
            root = DOCS_ASIDE
        elif self.docs_free and (bare == "/docs" or bare.startswith("/docs/")):
            root = "/docs"
        else:
            return None
        rest = bare[len(root) :]
        if not rest:
            return PreparedResponse(200, _PAGE_HEADERS, self._page(root), source="builtin")
        if rest == "/openapi.json":
            return PreparedResponse(200, _DOCUMENT_HEADERS, self._spec_json(), source="builtin")
        if rest.startswith(_ASSET):
            tag, _, name = rest[len(_ASSET) :].partition("/")
            found = swagger_assets().get(tag, name)
            if found is not None:
                body, kind = found
                headers = [
                    (b"content-type", kind.encode()),
                    (b"cache-control", ASSET_CACHE_CONTROL.encode()),
                    (b"x-content-type-options", b"nosniff"),
                ]
                return PreparedResponse(200, headers, body, source="builtin")
        return None

    def _page(self, root: str) -> bytes:
        page = self._pages.get(root)
        if page is None:
            spec = self.spec
            operations = [
                (op.method, op.path, f"{op.operation_id}: {op.summary}".rstrip(": "))
                for op in spec.operations
            ]
            links = [("/openapi.json", "OpenAPI document"), ("/health", "Health")]
            page = self._pages[root] = swagger_page(
                title=f"{spec.title} {spec.version} (MockLoop mock)",
                document_url=f"{root}/openapi.json",
                root=root,
                operations=operations,
                links=links,
            ).encode()
        return page

    def _spec_json(self) -> bytes:
        if self._document is None:
            document: dict[str, Any] = dict(self.spec.document)
            document["servers"] = [
                {"url": self.spec.base_path or "/", "description": "this MockLoop mock"}
            ]
            self._document = orjson.dumps(document)
        return self._document
