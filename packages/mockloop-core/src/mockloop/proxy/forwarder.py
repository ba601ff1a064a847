"""Sending a request to the live API: credentials, timeouts, retries with backoff for
idempotent methods (tenacity), and a circuit breaker.

One `httpx.AsyncClient` per mock (keep-alive, `trust_env=False`) is created on first use in the
server's event loop and closed when the mock stops. A failure never raises out of `forward`: it
comes back as an `UpstreamOutcome` whose `error` says what went wrong, with the status the mock
should answer (502 unreachable, 503 circuit open, 504 timed out).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mockloop.errors import ServerError
from mockloop.proxy.auth import UpstreamAuth
from mockloop.proxy.circuit import CircuitBreaker
from mockloop.proxy.settings import ProxySettings

__all__ = ["IDEMPOTENT_METHODS", "UpstreamForwarder", "UpstreamOutcome"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself.
_DROP_REQUEST = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
        b"accept-encoding",
        b"x-mockloop-mode",
    }
)
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"content-encoding",  # httpx hands over the decoded body
    }
)


@dataclass(slots=True)
class UpstreamOutcome:
    """What the live API answered, or why it did not."""

    url: str
    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    latency_ms: float = 0.0
    attempts: int = 0
    error: str | None = None
    failure_status: int = 502

    @property
    def answered(self) -> bool:
        return self.status is not None


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class UpstreamForwarder:
    """Forwards requests to `settings.target_url` under the settings' resilience rules."""

    def __init__(self, settings: ProxySettings, auth: UpstreamAuth | None) -> None:
        self.settings = settings
        self.auth = auth
        self.breaker = CircuitBreaker(settings.circuit_breaker)
        self._http: httpx.AsyncClient | None = None

    def configure(self, settings: ProxySettings, auth: UpstreamAuth | None) -> None:
        """New settings; the breaker's state survives unless its settings changed."""
        if settings.circuit_breaker != self.settings.circuit_breaker:
            self.breaker = CircuitBreaker(settings.circuit_breaker)
        self.settings = settings
        self.auth = auth

    def client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _scrub(self, text: str) -> str:
        return self.auth.scrub(text) if self.auth is not None else text

    async def forward(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        client_addr: str = "",
    ) -> UpstreamOutcome:
        """Send one request upstream; never raises (failures are in the outcome)."""
        settings = self.settings
        target = settings.target_url or ""
        outcome = UpstreamOutcome(url=f"{target}{raw_path}")
        if not target:
            outcome.error = "no target_url is configured: set one with configure_proxy"
            return outcome
        breaker = self.breaker
        if not breaker.allow():
            outcome.error = (
                f"circuit open after {breaker.failures} consecutive upstream failures; the "
                f"next trial call goes through in {breaker.retry_in():.1f} s"
            )
            outcome.failure_status = 503
            return outcome
        started = time.perf_counter()
        try:
            response = await self._send(method, target, raw_path, query, headers, body, outcome)
        except _RetryableStatus as exc:
            response = exc.response
        except httpx.TimeoutException as exc:
            outcome.error = (
                f"the live API at {target} timed out on {method} {raw_path} "
                f"({type(exc).__name__}, timeout {settings.timeout_s:g} s) after "
                f"{outcome.attempts} attempt(s)"
            )
            outcome.failure_status = 504
            response = None
        except httpx.HTTPError as exc:
            outcome.error = (
                f"the live API at {target} did not answer {method} {raw_path} "
                f"({type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}) after "
                f"{outcome.attempts} attempt(s)"
            )
            response = None
        except ServerError as exc:  # no OAuth2 token
            outcome.error = f"no upstream credentials: {self._scrub(str(exc))}"
            response = None
        outcome.latency_ms = (time.perf_counter() - started) * 1000.0
        if response is None:
            breaker.failure()
            return outcome
        outcome.status = response.status_code
        outcome.headers = [
            (name.lower(), value)
            for name, value in response.headers.raw
            if name.lower() not in _DROP_RESPONSE
        ]
        outcome.body = response.content
        if response.status_code in settings.retry_statuses:
            breaker.failure()
        else:
            breaker.success()
        return outcome

    async def _send(
        self,
        method: str,
        target: str,
        raw_path: str,
        query: str,
        raw_headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        outcome: UpstreamOutcome,
    ) -> httpx.Response:
        settings = self.settings
        http = self.client()
        attempts = settings.retries + 1 if method in IDEMPOTENT_METHODS else 1
        timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        refreshed = False
        while True:
            headers = _forward_headers(raw_headers, credentials=self.auth is not None)
            params = parse_qsl(query, keep_blank_values=True)
            if self.auth is not None:
                await self.auth.apply(http, headers, params)
            retrying = AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential(
                    multiplier=settings.retry_backoff_s, max=settings.retry_max_backoff_s
                ),
                retry=retry_if_exception_type((httpx.TransportError, _RetryableStatus)),
                reraise=True,
            )
            response: Any = None
            async for attempt in retrying:
                with attempt:
                    outcome.attempts += 1
                    response = await http.request(
                        method,
                        f"{target}{raw_path}",
                        params=tuple(params),
                        headers=headers,
                        content=body or None,
                        timeout=timeout,
                    )
                    if response.status_code in settings.retry_statuses and attempts > 1:
                        raise _RetryableStatus(response)
            assert response is not None
            auth = self.auth
            if (
                response.status_code == 401
                and auth is not None
                and auth.config.auth_type == "oauth2_client_credentials"
                and not refreshed
            ):
                # The upstream refused the cached token (revoked, clock skew): fetch a new
                # one and try once more.
                auth.invalidate()
                refreshed = True
                continue
            return response

    def status(self) -> dict[str, Any]:
        return self.breaker.status()


def _forward_headers(raw: Sequence[tuple[bytes, bytes]], *, credentials: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        if key in _DROP_REQUEST or (credentials and key == b"authorization"):
            continue
        text_name = key.decode("latin-1")
        text = value.decode("latin-1")
        if text_name in headers:
            joiner = "; " if text_name == "cookie" else ", "
            headers[text_name] = f"{headers[text_name]}{joiner}{text}"
        else:
            headers[text_name] = text
    return headers
