"""The admin port's gate: which Host it answers, which writes it accepts, and its token.

A pure ASGI middleware in front of every admin route (the API, `/health`, `/docs`,
`/openapi.json`, the UI and its files), checked in this order:

1. **Host.** The `Host` header must name the admin port: `127.0.0.1` (any 127.0.0.0/8
   address), `localhost`, `[::1]`, the address it is bound to, or a name given with
   `--admin-allow-host` (`MockConfig.admin_allow_hosts`), with or without a port. Anything
   else is a DNS-rebinding attempt or a misdirected request: 421 problem+json.
2. **Writes** (POST, PUT, PATCH, DELETE) must be impossible for a web page of another origin:
   an `Origin` other than the admin port's own (same host and port as the request's `Host`)
   and a `Sec-Fetch-Site` other than `same-origin`/`none` are refused with 403; a write with a
   body must be JSON (`application/json`, `application/*+json`) or carry the header
   `X-MockLoop-Admin: 1` (a page can send neither cross-origin without a CORS preflight,
   which the admin port never grants). A write without a body and without a content type
   needs no marker: a browser always sends its `Origin` with one, and that was checked.
3. **Token.** With an admin token, every route but the open ones (`/health`, `/docs`,
   `/openapi.json`, the UI's static files) needs `Authorization: Bearer <token>`, compared in
   constant time; 401 otherwise. The token never appears in an answer or a log line.

The admin port sends no CORS headers, so no page of another origin can read its answers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = [
    "ADMIN_MARKER_HEADER",
    "LOOPBACK_NAMES",
    "AdminGuard",
    "admin_host_names",
    "is_loopback_host",
    "normalise_host_name",
]

logger = logging.getLogger("mockloop.mock")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The header a tool sends with a write that has no JSON body (its value is not checked).
ADMIN_MARKER_HEADER = "X-MockLoop-Admin"
#: Names the admin port always answers to, whatever address it is bound to.
LOOPBACK_NAMES: frozenset[str] = frozenset({"127.0.0.1", "localhost", "::1"})

_MARKER = ADMIN_MARKER_HEADER.lower().encode()
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})
# Open with a token too: liveness (its answer holds no secret), the reference of the admin
# API (the same for every mock) and the UI's static shell, which asks for the token itself.
_OPEN_PATHS = frozenset({"/", "/health", "/docs", "/openapi.json"})
_OPEN_PREFIX = "/ui/"
_SHOWN = 200  # characters of a foreign Host or Origin quoted back

# status, title, detail, extra headers
_Refusal = tuple[int, str, str, Iterable[tuple[bytes, bytes]]]


def normalise_host_name(name: str) -> str:
    """`name` as compared with a Host header: lowercased, without brackets or a final dot."""
    text = name.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text[:-1] if text.endswith(".") else text


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    """Whether a listen address stays on this machine: 127.0.0.0/8, ::1 or localhost."""
    name = normalise_host_name(host)
    if name == "localhost":
        return True
    address = _ip(name)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


def admin_host_names(admin_host: str, allowed: Iterable[str] = ()) -> frozenset[str]:
    """The Host names an admin port bound to `admin_host` answers, plus `allowed` ones."""
    names = set(LOOPBACK_NAMES)
    bound = normalise_host_name(admin_host)
    if bound not in _WILDCARDS:
        names.add(bound)
    names.update(normalise_host_name(name) for name in allowed)
    names.discard("")
    return frozenset(names)


def _split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` or `[v6][:port]` -> (normalised name, port or None); None when invalid."""
    text = value.strip()
    port_text = ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port_text = rest[1:]
    elif text.count(":") == 1:
        name, port_text = text.split(":")
    elif ":" in text:
        return None  # a bare IPv6 address is no valid Host
    else:
        name = text
    if port_text and not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        return None
    name = normalise_host_name(name)
    if not name:
        return None
    return name, int(port_text) if port_text else None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


class AdminGuard:
    """ASGI middleware: refuses foreign Hosts (421), cross-origin writes (403) and requests
    without the admin token (401) with problem+json, before any admin route runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        admin_host: str,
        allow_hosts: Iterable[str] = (),
        token: str | None = None,
    ) -> None:
        self.app = app
        self.names = admin_host_names(admin_host, allow_hosts)
        # Both sides are hashed before the comparison so that not even the token's length
        # shows in the time a refusal takes.
        self._token_digest = hashlib.sha256(token.encode()).digest() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts: list[str] = []
        origin: str | None = None
        fetch_site: str | None = None
        content_type: str | None = None
        authorization: bytes | None = None
        marked = False
        has_body = False
        for name, value in scope["headers"]:
            if name == b"host":
                hosts.append(value.decode("latin-1"))
            elif name == b"origin":
                origin = value.decode("latin-1").strip()
            elif name == b"sec-fetch-site":
                fetch_site = value.decode("latin-1").strip().lower()
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value
            elif name == _MARKER:
                marked = True
            elif name == b"content-length":
                has_body = has_body or value.strip() not in (b"", b"0")
            elif name == b"transfer-encoding":
                has_body = True
        refusal = self._check_host(hosts)
        if refusal is None and scope["method"] in _WRITES:
            request_host = _split_host(hosts[0]) if hosts else None
            refusal = _check_write(request_host, origin, fetch_site, content_type, marked, has_body)
        if refusal is None and self._token_digest is not None:
            refusal = self._check_token(scope.get("path", ""), authorization)
        if refusal is not None:
            status, title, detail, extra = refusal
            await _send_problem(send, status, title, detail, extra)
            return
        await self.app(scope, receive, send)

    def _check_host(self, hosts: list[str]) -> _Refusal | None:
        # No Host at all (HTTP/1.0): no browser sends that, so there is nothing to rebind.
        for value in hosts:
            parsed = _split_host(value)
            name = parsed[0] if parsed is not None else ""
            if name in self.names:
                continue
            address = _ip(name)
            if address is not None and address.is_loopback:
                continue
            served = ", ".join(sorted(f"[{n}]" if ":" in n else n for n in self.names))
            if parsed is None:
                detail = (
                    f"the Host header {_shown(value.strip())} is not a host name with an "
                    f"optional port; the admin port answers {served}"
                )
            else:
                detail = (
                    f"the admin port does not serve the Host {_shown(value.strip())}: it answers "
                    f"{served}; if that name is this machine's, start the mock with "
                    f"--admin-allow-host {name[:_SHOWN]} (MockConfig admin_allow_hosts)"
                )
            return 421, "Misdirected Request", detail, ()
        return None

    def _check_token(self, path: str, authorization: bytes | None) -> _Refusal | None:
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX):
            return None
        sent = b""
        if authorization is not None:
            scheme, _, credentials = authorization.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                sent = credentials.strip()
        digest = hashlib.sha256(sent).digest()
        assert self._token_digest is not None
        if sent and hmac.compare_digest(digest, self._token_digest):
            return None
        return (
            401,
            "Unauthorized",
            "the admin API needs 'Authorization: Bearer <admin token>' (the token the mock was "
            "started with: --admin-token-file, MOCKLOOP_ADMIN_TOKEN or MockConfig admin_token)"
            + ("; the token sent is not it" if sent else ""),
            ((b"www-authenticate", b"Bearer"),),
        )


def _check_write(
    request_host: tuple[str, int | None] | None,
    origin: str | None,
    fetch_site: str | None,
    content_type: str | None,
    marked: bool,
    has_body: bool,
) -> _Refusal | None:
    """Refuse a write a web page of another origin could have sent; None when it may pass."""
    how = (
        "the admin API takes writes from its own page and from tools (which send no Origin); "
        "a page elsewhere cannot change the mock"
    )
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return (
            403,
            "Forbidden",
            f"a {fetch_site} write (Sec-Fetch-Site: {fetch_site[:_SHOWN]}) is refused: {how}",
            (),
        )
    if origin is not None and not _same_origin(origin, request_host):
        return (
            403,
            "Forbidden",
            f"a write from the web page at {_shown(origin)} is refused: {how}",
            (),
        )
    if marked or (content_type is not None and _is_json(content_type)):
        return None
    if content_type is None and not has_body:
        return None
    sent = f"Content-Type {_shown(content_type)}" if content_type else "a body without a type"
    return (
        403,
        "Forbidden",
        f"a write to the admin API needs a JSON body (Content-Type: application/json) or the "
        f"header '{ADMIN_MARKER_HEADER}: 1'; this one has {sent}",
        (),
    )


def _same_origin(origin: str, request_host: tuple[str, int | None] | None) -> bool:
    """Whether `Origin` names the host and port the request itself was sent to."""
    if request_host is None:
        return False
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = 80 if parts.scheme == "http" else 443
    name, host_port = request_host
    origin_port = None if port in (None, default) else port
    if host_port in (80, 443):
        host_port = None
    return normalise_host_name(parts.hostname) == name and origin_port == host_port


async def _send_problem(
    send: Send, status: int, title: str, detail: str, extra: Iterable[tuple[bytes, bytes]]
) -> None:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
