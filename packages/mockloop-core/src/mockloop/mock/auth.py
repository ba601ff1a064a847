"""Authentication simulated from the description's `securitySchemes`.

The mock checks that credentials are present and well formed where the operation's security
requirements say so; it does not judge their value (any bearer token passes), because a mock
stands in for an API whose real secrets it does not know. A requirement list is an OR of ANDs,
and an empty requirement `{}` lets anonymous callers through.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from mockloop.mock.problem import PreparedResponse, problem
from mockloop.spec.model import ApiSpec, Operation, SecurityScheme

__all__ = ["AuthSimulator"]


class AuthSimulator:
    """Answers 401 problem+json when an operation's required credentials are missing."""

    def __init__(self, spec: ApiSpec) -> None:
        self._schemes = spec.security_schemes

    def requires_auth(self, op: Operation) -> bool:
        return bool(op.security) and not any(not requirement for requirement in op.security)

    def check(
        self, op: Operation, headers: Mapping[str, str], query: str
    ) -> PreparedResponse | None:
        """None when the request satisfies one of `op`'s security requirements, else a 401."""
        if not self.requires_auth(op):
            return None
        cookies: dict[str, str] | None = None
        query_params: dict[str, list[str]] | None = None
        failures: list[str] = []
        for requirement in op.security:
            missing = []
            for name in requirement:
                scheme = self._schemes.get(name)
                if scheme is None:
                    continue  # an undefined scheme cannot be simulated; the loader warned
                if scheme.type == "apiKey" and scheme.location in ("query", "cookie"):
                    if scheme.location == "query" and query_params is None:
                        query_params = parse_qs(query, keep_blank_values=False)
                    if scheme.location == "cookie" and cookies is None:
                        cookies = _cookies(headers.get("cookie", ""))
                present = _satisfied(scheme, headers, query_params or {}, cookies or {})
                if not present:
                    missing.append(_describe(scheme))
            if not missing:
                return None
            failures.append(" and ".join(missing))
        challenges = sorted(
            {_challenge(self._schemes[n]) for r in op.security for n in r if n in self._schemes}
            - {""}
        )
        extra = (
            [(b"www-authenticate", ", ".join(challenges).encode("latin-1"))] if challenges else []
        )
        return problem(
            401,
            f"{op.operation_id} requires credentials: send " + " or ".join(dict.fromkeys(failures)),
            title="Unauthorized",
            headers=extra,
        )


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header simply carries no usable cookie
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _satisfied(
    scheme: SecurityScheme,
    headers: Mapping[str, str],
    query: Mapping[str, list[str]],
    cookies: Mapping[str, str],
) -> bool:
    if scheme.type == "apiKey":
        name = scheme.param_name or ""
        if scheme.location == "query":
            return any(v for v in query.get(name, []))
        if scheme.location == "cookie":
            return bool(cookies.get(name))
        return bool(headers.get(name.lower(), "").strip())
    if scheme.type == "http":
        authorization = headers.get("authorization", "")
        kind, _, credentials = authorization.strip().partition(" ")
        wanted = (scheme.scheme or "bearer").lower()
        if kind.lower() != wanted or not credentials.strip():
            return False
        if wanted == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return ":" in decoded
        return True
    if scheme.type in ("oauth2", "openIdConnect"):
        kind, _, token = headers.get("authorization", "").strip().partition(" ")
        return kind.lower() == "bearer" and bool(token.strip())
    return True  # mutualTLS and unknown types cannot be checked at this layer


def _describe(scheme: SecurityScheme) -> str:
    if scheme.type == "apiKey":
        return f"an API key in {scheme.location or 'header'} {scheme.param_name!r}"
    if scheme.type == "http":
        kind = (scheme.scheme or "bearer").lower()
        if kind == "basic":
            return "'Authorization: Basic <base64 user:password>'"
        return f"'Authorization: {kind.capitalize()} <token>'"
    return "'Authorization: Bearer <token>'"


def _challenge(scheme: SecurityScheme) -> str:
    if scheme.type == "http":
        return (scheme.scheme or "bearer").capitalize()
    if scheme.type in ("oauth2", "openIdConnect"):
        return "Bearer"
    return ""
