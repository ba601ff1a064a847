"""Credentials for upstream requests: API key, bearer, basic, OAuth2 client credentials and
custom headers.

OAuth2 tokens are fetched from the token endpoint, cached, and refreshed a margin before they
expire (the smaller of `refresh_margin_s` and a fifth of the token's lifetime). An
`asyncio.Lock` makes concurrent requests wait for one fetch instead of each fetching.
Every secret value (configured or fetched) is known to `scrub`, which takes it out of text.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from mockloop.errors import ServerError
from mockloop.proxy.settings import AuthConfig
from mockloop.redaction import REDACTED

__all__ = ["OAuth2Token", "UpstreamAuth"]


@dataclass(slots=True)
class OAuth2Token:
    """A fetched access token and when it must be replaced (monotonic clock seconds)."""

    access_token: str
    token_type: str
    fetched_at: float
    expires_at: float | None
    refresh_at: float | None


class UpstreamAuth:
    """Adds the configured credentials to an upstream request.

    Args:
        config: the auth configuration.
        clock: monotonic seconds (a test may pass a fake clock).
    """

    def __init__(self, config: AuthConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._token: OAuth2Token | None = None
        self._lock: asyncio.Lock | None = None
        self.token_fetches = 0
        self.last_token_error: str | None = None
        self._secrets = config.secret_values()

    # -- secrets ----------------------------------------------------------------------------

    def secret_values(self) -> list[str]:
        """Configured secrets and the current access token, longest first."""
        values = list(self._secrets)
        token = self._token
        if token is not None and token.access_token not in values:
            values.append(token.access_token)
        return values

    def scrub(self, text: str) -> str:
        """`text` with every known secret value replaced by [REDACTED]."""
        for value in self.secret_values():
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        """`data` with every known secret value replaced by [REDACTED]."""
        for value in self.secret_values():
            raw = value.encode("utf-8", "surrogateescape")
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
        return data

    # -- applying ---------------------------------------------------------------------------

    async def apply(
        self, http: httpx.AsyncClient, headers: dict[str, str], params: list[tuple[str, str]]
    ) -> None:
        """Add credentials to `headers` (lowercase names) and `params` (query pairs)."""
        config = self.config
        creds = config.credentials
        kind = config.auth_type
        if kind == "api_key":
            name = str(creds.get("name") or "X-API-Key")
            location = creds.get("location", "header")
            key = str(creds["api_key"])
            if location == "query":
                params[:] = [(k, v) for k, v in params if k != name]
                params.append((name, key))
            elif location == "cookie":
                cookie = f"{name}={key}"
                existing = headers.get("cookie")
                headers["cookie"] = f"{existing}; {cookie}" if existing else cookie
            else:
                headers[name.lower()] = key
        elif kind == "bearer_token":
            headers["authorization"] = f"Bearer {creds['token']}"
        elif kind == "basic":
            pair = f"{creds['username']}:{creds['password']}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif kind == "oauth2_client_credentials":
            token = await self.token(http)
            headers["authorization"] = f"{token.token_type} {token.access_token}"
        for name, value in {**(creds.get("headers") or {}), **config.headers}.items():
            headers[str(name).lower()] = str(value)

    # -- OAuth2 -----------------------------------------------------------------------------

    def _fresh(self) -> OAuth2Token | None:
        token = self._token
        if token is None:
            return None
        if token.refresh_at is not None and self.clock() >= token.refresh_at:
            return None
        return token

    def invalidate(self) -> None:
        """Forget the cached token (the upstream refused it); the next request fetches one."""
        self._token = None

    async def token(self, http: httpx.AsyncClient) -> OAuth2Token:
        """The cached OAuth2 token, fetched (once, under a lock) when missing or due."""
        token = self._fresh()
        if token is not None:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._fresh()  # another request may have fetched it meanwhile
            if token is not None:
                return token
            token = await self._fetch(http)
            self._token = token
            return token

    async def _fetch(self, http: httpx.AsyncClient) -> OAuth2Token:
        creds = self.config.credentials
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if creds.get("scope"):
            form["scope"] = str(creds["scope"])
        if creds.get("audience"):
            form["audience"] = str(creds["audience"])
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
        }
        client_id, secret = str(creds["client_id"]), str(creds["client_secret"])
        if creds.get("client_auth", "basic") == "body":
            form["client_id"], form["client_secret"] = client_id, secret
        else:
            pair = f"{client_id}:{secret}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        url = str(creds["token_url"])
        started = self.clock()
        self.token_fetches += 1
        try:
            response = await http.post(url, content=urlencode(form), headers=headers)
        except httpx.HTTPError as exc:
            self.last_token_error = f"{type(exc).__name__} calling {url}"
            raise ServerError(
                f"OAuth2 token endpoint {url} did not answer ({type(exc).__name__}); "
                "check auth_config.credentials.token_url"
            ) from None
        data: Any = None
        try:
            data = response.json()
        except ValueError:
            data = None
        if (
            response.status_code >= 400
            or not isinstance(data, dict)
            or not data.get("access_token")
        ):
            error = data.get("error") if isinstance(data, dict) else None
            self.last_token_error = f"HTTP {response.status_code} {error or ''}".strip()
            raise ServerError(
                f"OAuth2 token endpoint {url} answered {response.status_code}"
                f"{f' ({error})' if error else ''} without an access_token; check client_id, "
                "client_secret and scope"
            )
        self.last_token_error = None
        lifetime = data.get("expires_in")
        expires_at = refresh_at = None
        if isinstance(lifetime, int | float) and lifetime > 0:
            expires_at = started + float(lifetime)
            margin = min(self.config.refresh_margin_s, float(lifetime) / 5.0)
            refresh_at = expires_at - margin
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() == "bearer":
            token_type = "Bearer"
        return OAuth2Token(str(data["access_token"]), token_type, started, expires_at, refresh_at)

    def status(self) -> dict[str, Any]:
        """The auth as JSON without secrets; for OAuth2 the token's timing and fetch count."""
        data = self.config.describe()
        if self.config.auth_type == "oauth2_client_credentials":
            token = self._token
            now = self.clock()
            data["token_fetches"] = self.token_fetches
            data["token_cached"] = token is not None
            if token is not None and token.expires_at is not None:
                data["token_expires_in_s"] = round(token.expires_at - now, 3)
                data["token_refresh_in_s"] = round((token.refresh_at or now) - now, 3)
            data["last_token_error"] = self.last_token_error
        return data
