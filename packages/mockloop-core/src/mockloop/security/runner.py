"""The probe sender: every probe request goes through one `ProbeClient`, which checks the host
against the allow-list, keeps the request budget and the rate cap, never follows redirects,
and captures each exchange as redacted evidence."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from mockloop.audit.redaction import redact_arguments, redact_text
from mockloop.errors import ConfigError
from mockloop.load.plan import check_allowed, parse_target
from mockloop.redaction import REDACTED, Redactor
from mockloop.security.findings import RequestExcerpt, ResponseExcerpt

__all__ = ["BudgetExhausted", "Exchange", "ProbeClient", "check_host"]

_REDACTOR = Redactor()
_BODY_EXCERPT = 600
_JSON_REDACT_MAX = 256 * 1024
_KEPT_HEADERS = (
    "content-type",
    "content-length",
    "location",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "cache-control",
    "x-content-type-options",
    "strict-transport-security",
    "content-security-policy",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "allow",
)


class BudgetExhausted(Exception):
    """Raised inside a probe when the run's request budget is spent."""


def check_host(url: str, allow_hosts: list[str], what: str = "the target") -> None:
    """ConfigError unless `url`'s host is loopback or matches `allow_hosts`."""
    target = parse_target(url)
    try:
        check_allowed(target, extra=allow_hosts)
    except ConfigError:
        raise ConfigError(
            f"{what} {target.host!r} is not an allowed security-test host: probes go to "
            "loopback hosts only unless the host is listed in allow_hosts (now: "
            f"{allow_hosts or 'none'}) or MOCKLOOP_ALLOWED_HOSTS; only probe APIs you own or "
            "are authorised to test"
        ) from None


def _excerpt(text: str, limit: int = _BODY_EXCERPT) -> str:
    # Cut before redacting: the redaction regexes are too slow for bodies of megabytes.
    size = len(text)
    text = redact_text(text[: limit + 200])
    if size <= limit and len(text) <= limit:
        return text
    return text[:limit] + f"... [{size - limit} more chars]"


def _body_excerpt(content: bytes, limit: int = _BODY_EXCERPT) -> str:
    """A body as evidence: JSON with secret-named values redacted, then cut to an excerpt."""
    text = content.decode("utf-8", errors="replace")
    if len(content) <= _JSON_REDACT_MAX:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if isinstance(data, dict | list):
            text = json.dumps(redact_arguments(data), ensure_ascii=False)
    return _excerpt(text, limit)


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        k: (REDACTED if _REDACTOR.is_secret(k) else _REDACTOR.text(v)) for k, v in headers.items()
    }


#: What `ProbeClient.exchanges` keeps of each request body and each response body.
KEPT_REQUEST_BYTES = 8 * 1024
KEPT_RESPONSE_BYTES = 64 * 1024


@dataclass(slots=True)
class Exchange:
    """One probe request and what came back (status 0: no answer)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    elapsed: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        """The response body as text (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The response body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        """A response header, by case-insensitive name."""
        return self.response_headers.get(name.lower())

    def request_excerpt(self) -> RequestExcerpt:
        """The request as evidence: credentials redacted, the body cut short."""
        body = None
        if self.body is not None:
            size = len(self.body)
            body = _body_excerpt(self.body[:4000], 300)
            if size > 4000:
                body += f" [body of {size} bytes]"
        return RequestExcerpt(
            method=self.method,
            url=redact_text(self.url),
            headers=_redact_headers(self.headers),
            body=body,
        )

    def response_excerpt(self) -> ResponseExcerpt:
        """The response as evidence: a few telling headers and a body excerpt."""
        kept = {k: v for k, v in self.response_headers.items() if k in _KEPT_HEADERS}
        return ResponseExcerpt(
            status=self.status,
            headers=_redact_headers(kept),
            body=_body_excerpt(self.content),
            elapsed_ms=round(self.elapsed * 1000, 1),
            error=self.error,
        )


class ProbeClient:
    """Sends probe requests within the budget and the rate cap, to allowed hosts only."""

    def __init__(
        self,
        *,
        allow_hosts: list[str],
        max_requests: int,
        rate_limit_rps: float,
        timeout: float,
    ) -> None:
        self.allow_hosts = allow_hosts
        self.max_requests = max_requests
        self.sent = 0
        #: Every exchange of the run, in order, bodies cut to KEPT_REQUEST_BYTES and
        #: KEPT_RESPONSE_BYTES: error hygiene judges them all at the end.
        self.exchanges: list[Exchange] = []
        self._interval = 1.0 / rate_limit_rps
        self._next_slot = 0.0
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> ProbeClient:
        # verify=False: targets under test often run with self-signed certificates, and the
        # probes judge the API's behaviour, not its certificate chain.
        self._http = httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, trust_env=False, verify=False
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    @property
    def remaining(self) -> int:
        """Requests left in the budget."""
        return self.max_requests - self.sent

    async def _slot(self) -> None:
        now = time.monotonic()
        wait = self._next_slot - now
        self._next_slot = max(now, self._next_slot) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> Exchange:
        """Send one request (BudgetExhausted when none are left); never raises on a failed
        connection: the exchange then has status 0 and the error."""
        if self.sent >= self.max_requests:
            raise BudgetExhausted
        sent_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        assert self._http is not None
        request = self._http.build_request(
            method,
            url,
            params=params,
            headers=sent_headers,
            content=content,
            timeout=timeout if timeout else httpx.USE_CLIENT_DEFAULT,
        )
        final_url = str(request.url)
        # The same guard as the start of the run, on every request: nothing leaves for a host
        # that is not allowed, whatever a probe or a description made of the URL.
        check_host(final_url, self.allow_hosts)
        self.sent += 1
        await self._slot()
        exchange = Exchange(method, final_url, sent_headers, content)
        started = time.perf_counter()
        try:
            response = await self._http.send(request)
            exchange.content = response.content
            exchange.status = response.status_code
            exchange.response_headers = {k.lower(): v for k, v in response.headers.items()}
        except httpx.HTTPError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
        exchange.elapsed = time.perf_counter() - started
        # Kept for error hygiene, bounded: a run of payload-size probes (MB-sized bodies) must
        # not hold every byte it sent and received until the end.
        self.exchanges.append(
            replace(
                exchange,
                body=exchange.body[:KEPT_REQUEST_BYTES] if exchange.body else exchange.body,
                content=exchange.content[:KEPT_RESPONSE_BYTES],
            )
        )
        return exchange
