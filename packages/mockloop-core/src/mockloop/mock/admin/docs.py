"""The admin API reference at the admin port's `/docs`: one self-contained HTML page.

Rendered from the admin app's own OpenAPI document (operations, parameters, request bodies,
responses), with its CSS inline and no script, image or link to anywhere else: the page loads
nothing from a CDN (FastAPI's Swagger UI and ReDoc pages would) and works offline. A strict
Content-Security-Policy keeps it that way.
"""

from __future__ import annotations

import html
import re
from typing import Any

__all__ = ["DOCS_HEADERS", "reference_page"]

# No script at all; the inline <style> is the page's only resource.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

_METHODS = ("get", "post", "put", "patch", "delete")
_CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1.5rem;
color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;
border-bottom:2px solid #ddd}h3{font-size:1rem;margin:0}h4{font-size:.9rem;margin:.8rem 0 .3rem}
code,.path{font-family:ui-monospace,monospace;font-size:.9em}
.op{border:1px solid #ddd;border-radius:6px;padding:.7rem 1rem;margin:.8rem 0}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:ui-monospace,monospace}
.get{color:#0b6e4f}.post{color:#1d4ed8}.put{color:#92400e}.patch{color:#6b21a8}
.delete{color:#b91c1c}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.25rem .5rem;text-align:left;vertical-align:top}
.muted{color:#666}.note{background:#f6f6f6;border-radius:6px;padding:.6rem 1rem}
ul.toc{columns:2;padding-left:1.2rem}
"""


def reference_page(openapi: dict[str, Any], *, token_required: bool) -> str:
    """The HTML reference of an OpenAPI document (the admin app's), without external URLs."""
    info = openapi.get("info") or {}
    title = str(info.get("title") or "MockLoop admin API")
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in (openapi.get("paths") or {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                tags = operation.get("tags") or [_group_of(path)]
                groups.setdefault(str(tags[0]), []).append((method, path, operation))
    toc: list[str] = []
    sections: list[str] = []
    for group, operations in groups.items():
        sections.append(f'<h2 id="{_anchor("g", group)}">{_e(group)}</h2>')
        for method, path, operation in operations:
            anchor = _anchor(method, path)
            toc.append(
                f'<li><a href="#{anchor}"><span class="method {method}">{method.upper()}</span>'
                f'<span class="path">{_e(path)}</span></a></li>'
            )
            sections.append(_operation(method, path, operation, anchor))
    token = (
        "This mock has an admin token: every <code>/api/...</code> route needs "
        "<code>Authorization: Bearer &lt;token&gt;</code>."
        if token_required
        else "This mock has no admin token: anyone on this machine may call the admin API."
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}: API reference</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=muted>version {_e(str(info.get('version', '')))}"
        f' &middot; OpenAPI document: <a href="/openapi.json">/openapi.json</a>'
        f' &middot; <a href="/">admin UI</a></p>'
        f"<p>{_e(str(info.get('description') or ''))}</p>"
        '<div class="note"><p>Calling it: the <code>Host</code> header must name this port '
        "(127.0.0.1, localhost, [::1], or a name allowed with <code>--admin-allow-host</code>). "
        "A write (POST, PUT, PATCH, DELETE) with a body sends it as JSON "
        "(<code>Content-Type: application/json</code>) or adds the header "
        "<code>X-MockLoop-Admin: 1</code>; a write from a web page of another origin is "
        f"refused. {token}</p></div>"
        f'<h2>Operations</h2><ul class="toc">{"".join(toc)}</ul>'
        f"{''.join(sections)}</body></html>"
    )


def _operation(method: str, path: str, operation: dict[str, Any], anchor: str) -> str:
    parts = [
        f'<section class="op" id="{anchor}"><h3><span class="method {method}">'
        f'{method.upper()}</span><span class="path">{_e(path)}</span></h3>'
    ]
    summary = str(operation.get("description") or operation.get("summary") or "")
    if summary:
        parts.append(f"<p>{_e(summary)}</p>")
    parameters = [p for p in operation.get("parameters") or [] if isinstance(p, dict)]
    if parameters:
        rows = "".join(
            f"<tr><td><code>{_e(str(p.get('name', '')))}</code></td>"
            f"<td>{_e(str(p.get('in', '')))}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td>{_e(_schema_text(p.get('schema') or {}))}</td>"
            f"<td>{_e(str(p.get('description') or (p.get('schema') or {}).get('description') or ''))}</td></tr>"  # noqa: E501
            for p in parameters
        )
        parts.append(
            "<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Required</th>"
            f"<th>Type</th><th>Description</th></tr>{rows}</table>"
        )
    body = operation.get("requestBody")
    if isinstance(body, dict):
        rows = "".join(
            f"<tr><td><code>{_e(media)}</code></td>"
            f"<td>{_e(_schema_text((content or {}).get('schema') or {}))}</td>"
            f"<td>{_e(str(((content or {}).get('schema') or {}).get('description') or ''))}</td></tr>"  # noqa: E501
            for media, content in (body.get("content") or {}).items()
        )
        needed = "required" if body.get("required") else "optional"
        parts.append(
            f"<h4>Request body ({needed})</h4><table><tr><th>Content type</th><th>Type</th>"
            f"<th>Description</th></tr>{rows}</table>"
        )
    responses = operation.get("responses") or {}
    if responses:
        rows = "".join(
            f"<tr><td>{_e(str(code))}</td><td>{_e(str((answer or {}).get('description', '')))}"
            f"</td><td>{_e(_response_type(answer or {}))}</td></tr>"
            for code, answer in responses.items()
        )
        parts.append(
            "<h4>Responses</h4><table><tr><th>Status</th><th>Description</th><th>Body</th></tr>"
            f"{rows}</table>"
        )
    parts.append("</section>")
    return "".join(parts)


def _response_type(answer: dict[str, Any]) -> str:
    return "; ".join(
        f"{media}: {_schema_text((content or {}).get('schema') or {})}"
        for media, content in (answer.get("content") or {}).items()
    )


def _schema_text(schema: dict[str, Any], depth: int = 0) -> str:
    """A schema in a few words: `integer (1..10000, default 100)`, `string | null`."""
    if not isinstance(schema, dict) or depth > 4:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            text = " | ".join(_schema_text(s, depth + 1) for s in schema[key])
            break
    else:
        kind = schema.get("type")
        if kind == "array":
            text = f"array of {_schema_text(schema.get('items') or {}, depth + 1)}"
        elif isinstance(kind, list):
            text = " | ".join(str(k) for k in kind)
        else:
            text = str(kind or "any")
    notes: list[str] = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(repr(v) for v in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:
        notes.append(f"{'' if low is None else low}..{'' if high is None else high}")
    if "default" in schema:
        notes.append(f"default {schema['default']!r}")
    return f"{text} ({', '.join(notes)})" if notes else text


def _group_of(path: str) -> str:
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    if len(parts) >= 2 and parts[0] == "api":
        return f"/api/{parts[1]}"
    return "service"


def _anchor(prefix: str, text: str) -> str:
    return f"{prefix}-" + (re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "root")


def _e(text: str) -> str:
    return html.escape(text, quote=True)
