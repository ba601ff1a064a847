"""Swagger UI's files and page, from the `swagger-ui-py` package: nothing from a CDN.

`swagger-ui-py` (Apache-2.0, like Swagger UI itself) ships Swagger UI's built files in
`swagger_ui/static/`; MockLoop serves four of them (the bundle, its CSS, the favicon and the
licence) plus its own initializer (`assets/swagger-init.js`), under a path that names a hash
of their content: `<root>/swagger-ui/<tag>/<file>`. A new version is a new path, so the files
are sent with `Cache-Control: public, max-age=31536000, immutable` and the page itself, which
names the path, with `no-cache`.

The page loads only these files and the OpenAPI document of the same origin; its
Content-Security-Policy allows scripts and styles from the same origin only (no inline script)
and `data:` images (Swagger UI's icons), so an injected script stays inert.
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from mockloop.errors import ConfigError

__all__ = [
    "ASSET_CACHE_CONTROL",
    "PAGE_HEADERS",
    "SwaggerAssets",
    "swagger_assets",
    "swagger_page",
]

#: Sent with every Swagger UI file: its path changes whenever its content does.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Sent with the Swagger UI page on both ports.
PAGE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
)

_PACKAGE = "swagger_ui"  # the import name of `swagger-ui-py`
_SHIPPED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
}
_INITIALIZER = "swagger-init.js"


@dataclass(frozen=True, slots=True)
class SwaggerAssets:
    """Swagger UI's files by name (bytes, content type) and the tag in their path."""

    tag: str
    files: dict[str, tuple[bytes, str]]

    def get(self, tag: str, name: str) -> tuple[bytes, str] | None:
        """The file `name` when `tag` is the current one; None for anything else."""
        return self.files.get(name) if tag == self.tag else None

    def prefix(self, root: str) -> str:
        """The path under which a page at `root` finds the files: `<root>/swagger-ui/<tag>`."""
        return f"{root.rstrip('/')}/swagger-ui/{self.tag}"


def _static_folder() -> Path:
    # find_spec locates the package without running its __init__ (which imports its web
    # framework adapters); only the static files are wanted.
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "static"
        if folder.is_dir():
            return folder
    raise ConfigError(
        "Swagger UI's files are missing: the package swagger-ui-py is not installed; "
        "reinstall mockloop (pip install --force-reinstall mockloop) or install "
        "'swagger-ui-py>=25.7,<27'"
    )


@functools.cache
def swagger_assets() -> SwaggerAssets:
    """Swagger UI's files, read once per process.

    Raises:
        ConfigError: `swagger-ui-py` is not installed, or lacks a file MockLoop serves.
    """
    folder = _static_folder()
    loaded: dict[str, tuple[bytes, str]] = {}
    for name, kind in _SHIPPED.items():
        path = folder / name
        if not path.is_file():
            raise ConfigError(
                f"Swagger UI's file {name} is missing from {folder}: reinstall swagger-ui-py "
                "('swagger-ui-py>=25.7,<27')"
            )
        loaded[name] = (path.read_bytes(), kind)
    own = files("mockloop.mock.docs").joinpath("assets", _INITIALIZER).read_bytes()
    loaded[_INITIALIZER] = (own, "text/javascript; charset=utf-8")
    digest = hashlib.sha256()
    for name in sorted(loaded):
        digest.update(name.encode())
        digest.update(loaded[name][0])
    return SwaggerAssets(tag=digest.hexdigest()[:16], files=loaded)


def swagger_page(
    *,
    title: str,
    document_url: str,
    root: str,
    operations: Iterable[tuple[str, str, str]],
    links: Iterable[tuple[str, str]] = (),
) -> str:
    """The Swagger UI page for the OpenAPI document at `document_url`, served at `root`.

    `operations` (method, path, summary) are listed in a `<noscript>` block, and `links`
    (href, label) under the title, so a client without JavaScript still sees the API.
    """
    prefix = swagger_assets().prefix(root)
    e = functools.partial(html.escape, quote=True)
    rows = "".join(
        f"<tr><td>{e(method.upper())}</td><td><code>{e(path)}</code></td><td>{e(summary)}</td></tr>"
        for method, path, summary in operations
    )
    listed = "".join(f'<li><a href="{e(href)}">{e(label)}</a></li>' for href, label in links)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title>"
        f'<link rel="icon" type="image/png" href="{prefix}/favicon-32x32.png">'
        f'<link rel="stylesheet" href="{prefix}/swagger-ui.css"></head><body>'
        f'<div id="swagger-ui" data-url="{e(document_url)}"></div>'
        f"<noscript><h1>{e(title)}</h1><p>Swagger UI needs JavaScript. The OpenAPI document "
        f'is at <a href="{e(document_url)}">{e(document_url)}</a>.</p><ul>{listed}</ul>'
        "<table><tr><th>Method</th><th>Path</th><th>Summary</th></tr>"
        f"{rows}</table></noscript>"
        f'<script src="{prefix}/swagger-ui-bundle.js"></script>'
        f'<script src="{prefix}/{_INITIALIZER}"></script></body></html>'
    )
