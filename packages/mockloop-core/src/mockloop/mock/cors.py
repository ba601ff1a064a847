"""What browsers read on the business port: CORS, and the security headers profiles.

CORS lets a front-end on another origin call the mock.

`MockConfig.cors` (`mockloop serve --cors off|ORIGIN...`):

* `None` (the default): any origin, for a pure mock: `Access-Control-Allow-Origin: *`, no
  credentials. A mock with proxy settings answers no origin by default, because its answers
  may be the live API's, fetched with credentials the mock holds: name the origins to allow.
* `[]` (`--cors off`): no CORS headers at all.
* a list of origins (`http://localhost:3000`): those only, the origin reflected with
  `Access-Control-Allow-Credentials: true` (cookies and `Authorization` may be sent), and a
  Private Network Access preflight (a public page calling this loopback mock) allowed.
* `["*"]`: any origin, also with proxy settings.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with the methods
the description documents for the path (`Allow-Methods`), the headers the browser asked for
(`Allow-Headers`), `Max-Age` 600 and `Vary: Origin`; an origin not allowed gets a 403 problem
naming how to allow it. A plain `OPTIONS` is routed as any request. Every other answer to an
allowed origin carries `Access-Control-Allow-Origin`, `Vary: Origin` and
`Access-Control-Expose-Headers: *` (`*` is read literally by browsers when credentials are
allowed, so there the answer's own header names are listed).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["SECURITY_PROFILES", "CorsPolicy", "check_origins", "security_headers"]

Headers = list[tuple[bytes, bytes]]

_MAX_AGE = b"600"


def check_origins(origins: Iterable[str]) -> list[str]:
    """Each entry is `*` or an origin (`scheme://host[:port]`, nothing after it).

    Raises:
        ValueError: an entry is neither, naming it and the form expected.
    """
    checked = []
    for origin in origins:
        text = origin.strip().rstrip("/")
        if text == "*":
            checked.append(text)
            continue
        parts = urlsplit(text)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
        ):
            raise ValueError(
                f"{origin!r} is not an origin: give '*' or scheme://host[:port] such as "
                "http://localhost:3000 (no path); no origin at all ([] or --cors off) turns "
                "CORS off"
            )
        checked.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return checked


class CorsPolicy:
    """Which origins may read the mock's answers, and the headers that say so."""

    def __init__(self, origins: list[str] | None, *, proxied: bool) -> None:
        if origins is None:
            origins = [] if proxied else ["*"]
        self.enabled = bool(origins)
        self.any = "*" in origins
        self.listed = frozenset(o for o in origins if o != "*")

    def allows(self, origin: str) -> bool:
        return self.any or origin.rstrip("/").lower() in self.listed

    def _origin_headers(self, origin: str) -> Headers:
        if origin.rstrip("/").lower() in self.listed:
            return [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin"),
            ]
        return [(b"access-control-allow-origin", b"*"), (b"vary", b"Origin")]

    def response_headers(self, origin: str, answer: Headers) -> Headers:
        """Headers added to an answer to `origin` (empty when it is not allowed)."""
        if not self.allows(origin):
            return []
        added = self._origin_headers(origin)
        if len(added) == 3:  # credentials: `*` would be read literally
            names = sorted({name.decode("latin-1") for name, _ in answer})
            if names:
                added.append((b"access-control-expose-headers", ", ".join(names).encode()))
        else:
            added.append((b"access-control-expose-headers", b"*"))
        return added

    def preflight_headers(
        self, origin: str, methods: Iterable[str], asked_headers: str, private_network: bool
    ) -> Headers:
        """The headers of a 204 answer to an allowed preflight."""
        allowed = sorted(set(methods) | {"OPTIONS"})
        headers = self._origin_headers(origin)
        headers.append((b"access-control-allow-methods", ", ".join(allowed).encode()))
        if asked_headers:
            headers.append((b"access-control-allow-headers", asked_headers.encode("latin-1")))
        if private_network and origin.rstrip("/").lower() in self.listed:
            headers.append((b"access-control-allow-private-network", b"true"))
        headers.append((b"access-control-max-age", _MAX_AGE))
        return headers


# -- security headers ----------------------------------------------------------------------------

_STANDARD: Headers = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
SECURITY_PROFILES: dict[str, Headers] = {
    "off": [],
    "standard": _STANDARD,
    "strict": [
        *_STANDARD,
        (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ],
}
"""`--security-headers` profiles: headers added to every business answer that does not carry
them already (an answer the description or a scenario gives a header of its own keeps it)."""


def security_headers(profile: str, answer: Headers) -> Headers:
    """The profile's headers that `answer` does not set itself."""
    wanted = SECURITY_PROFILES[profile]
    if not wanted:
        return []
    present = {name.lower() for name, _ in answer}
    return [(name, value) for name, value in wanted if name not in present]
