"""RFC 9457 `application/problem+json` answers for everything the mock refuses."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson

from mockloop.http_response import PreparedResponse

__all__ = ["PreparedResponse", "problem", "problem_bytes"]


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: list[str] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> PreparedResponse:
    """A problem+json response saying what failed (`detail`) and, when useful, each error."""
    document: dict[str, Any] = {
        "type": "about:blank",
        "title": title or _title(status),
        "status": status,
        "detail": detail,
    }
    if errors:
        document["errors"] = errors
    document.update(extra)
    raw_headers = [(b"content-type", b"application/problem+json")]
    if headers:
        raw_headers.extend(headers)
    return PreparedResponse(status, raw_headers, orjson.dumps(document), source="problem")


def problem_bytes(status: int, detail: str, *, title: str | None = None) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, for what the HTTP
    layer refuses on its own (a request it cannot parse, a header block too large, a timeout)."""
    prepared = problem(status, detail, title=title)
    head = [f"HTTP/1.1 {status} {_title(status)}\r\n".encode("ascii")]
    head.extend(name + b": " + value + b"\r\n" for name, value in prepared.headers)
    head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(prepared.body))
    return b"".join(head) + prepared.body
