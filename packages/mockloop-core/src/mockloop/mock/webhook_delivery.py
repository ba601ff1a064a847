"""Webhooks: registered URLs that receive a signed POST when matching events happen.

Events are business requests (`*`, an operationId, or `METHOD /path/template`) and run-time
changes (`scenario.activated`, `scenario.deactivated`, `state.created`, `state.updated`,
`state.deleted`, `state.reset`). Deliveries run in one background thread, never on the
request path: `notify` only matches (a set lookup per webhook) and queues. Each delivery is
retried with exponential backoff (tenacity) on connection errors, timeouts, 429 and 5xx, and
its outcome lands in the delivery history.

Targets are limited to an allow-list of hosts (loopback by default), checked when a webhook
is registered and again before every delivery. Secrets sign the body
(`X-MockLoop-Signature: sha256=<hex HMAC-SHA256 of the raw body>`) and are never returned.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import secrets as token_source
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mockloop.errors import ConfigError
from mockloop.mock.webhook_store import WebhookStore

__all__ = ["SIGNATURE_HEADER", "WebhookDispatcher", "sign", "verify_signature"]

logger = logging.getLogger("mockloop.webhooks")

SIGNATURE_HEADER = "X-MockLoop-Signature"
RUNTIME_EVENTS = (
    "scenario.activated",
    "scenario.deactivated",
    "state.created",
    "state.updated",
    "state.deleted",
    "state.reset",
)
_QUEUE_BOUND = 10_000


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of the exact raw `body` (constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())


class _Retryable(Exception):
    """A delivery attempt worth repeating (connection trouble, 429, 5xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class WebhookDispatcher:
    """Webhook registry, matcher and delivery thread of one mock.

    Args:
        store: persistence of webhooks and delivery history.
        allow_hosts: hosts a target URL may name.
        max_attempts: tries per delivery (first try included).
        backoff: first retry wait in seconds, doubling each retry (capped at 30 s).
        timeout: seconds one attempt may take.
        mock_title: the API title put in every payload.
    """

    def __init__(
        self,
        store: WebhookStore,
        *,
        allow_hosts: Iterable[str],
        max_attempts: int = 4,
        backoff: float = 0.5,
        timeout: float = 5.0,
        mock_title: str = "",
    ) -> None:
        self.store = store
        self.allow_hosts = {host.lower().strip("[]") for host in allow_hosts}
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.mock_title = mock_title
        self._hooks: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[dict[str, Any], str, bytes] | None] = queue.Queue(
            _QUEUE_BOUND
        )
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self.dropped = 0
        self._reload()

    # -- life cycle -------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True when at least one active webhook is registered (the request path's check)."""
        return bool(self._hooks)

    def start(self) -> None:
        """Start the delivery thread."""
        self._http = httpx.Client(timeout=self.timeout, trust_env=False, follow_redirects=False)
        self._thread = threading.Thread(target=self._run, name="mockloop-webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (within `timeout`), then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- registry ---------------------------------------------------------------------------

    def _reload(self) -> None:
        self._hooks = [
            {**hook, "event_set": frozenset(hook["events"])}
            for hook in self.store.list_webhooks(include_secret=True)
            if hook["active"]
        ]

    def check_target(self, url: str) -> None:
        """ConfigError unless `url` is http(s) on an allowed host."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"webhook url {url!r} must be an http:// or https:// URL")
        if _host_of(url) not in self.allow_hosts:
            allowed = ", ".join(sorted(self.allow_hosts)) or "none"
            raise ConfigError(
                f"webhook target host {parts.hostname!r} is not allowed (allowed: {allowed}); "
                "widen the list with `mockloop serve --webhook-allow-host HOST` or "
                "MockConfig.webhook_allow_hosts"
            )

    def register(
        self, url: str, events: list[str] | None, secret: str | None, active: bool = True
    ) -> dict[str, Any]:
        """Store a webhook; the result never holds the secret."""
        self.check_target(url)
        names = [str(e).strip() for e in (events or ["*"]) if str(e).strip()]
        if not names:
            raise ConfigError('webhook events must name at least one event (or "*")')
        hook = self.store.add_webhook(
            webhook_id=f"wh_{token_source.token_hex(6)}",
            url=url,
            events=names,
            secret=secret or None,
            active=active,
        )
        self._reload()
        return hook

    def delete(self, webhook_id: str) -> bool:
        """Remove a webhook; False when there is none with that id."""
        removed = self.store.delete_webhook(webhook_id)
        self._reload()
        return removed

    # -- events -----------------------------------------------------------------------------

    def notify(
        self,
        *,
        method: str,
        path: str,
        query: str,
        operation_id: str | None,
        template: str | None,
        status: int,
    ) -> None:
        """A business request was answered: queue deliveries to the webhooks it matches."""
        names = {"*"}
        if operation_id:
            names.add(operation_id)
        if template:
            names.add(f"{method.upper()} {template}")
        request = {"method": method, "path": path, "query": query, "operation_id": operation_id}
        for hook in self._hooks:
            if hook["event_set"] & names:
                event = operation_id or f"{method.upper()} {path}"
                self._enqueue(hook, event, {"request": request, "response": {"status": status}})

    def notify_event(self, name: str, data: dict[str, Any] | None = None) -> None:
        """A run-time event (scenario.*, state.*) happened: queue matching deliveries."""
        for hook in self._hooks:
            if name in hook["event_set"] or "*" in hook["event_set"]:
                self._enqueue(hook, name, {"data": data or {}})

    def _payload(self, event: str, extra: dict[str, Any]) -> bytes:
        return orjson.dumps(
            {"event": event, "timestamp": time.time(), "mock": {"title": self.mock_title}, **extra},
            default=str,
        )

    def _enqueue(self, hook: dict[str, Any], event: str, extra: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait((hook, event, self._payload(event, extra)))
        except queue.Full:
            self.dropped += 1
            logger.warning("webhook queue full: delivery of %s to %s dropped", event, hook["url"])

    # -- delivery ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            hook, event, body = item
            try:
                self.deliver(hook, event, body)
            except Exception:  # the thread must outlive any one delivery
                logger.exception("webhook delivery to %s failed unexpectedly", hook["url"])

    def test(self, webhook_id: str) -> dict[str, Any]:
        """Deliver a `webhook.test` event now and return its delivery record."""
        hook = self.store.get_webhook(webhook_id, include_secret=True)
        if hook is None:
            raise KeyError(webhook_id)
        body = self._payload("webhook.test", {"data": {"webhook_id": webhook_id}})
        return self.deliver(hook, "webhook.test", body)

    def deliver(self, hook: dict[str, Any], event: str, body: bytes) -> dict[str, Any]:
        """POST `body` to the hook's URL with retries; record and return the outcome."""
        delivery_id = f"dl_{token_source.token_hex(8)}"
        started = time.time()
        clock = time.perf_counter()
        attempts = 0
        status: int | None = None
        error: str | None = None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "MockLoop-Webhooks",
            "X-MockLoop-Event": event,
            "X-MockLoop-Delivery": delivery_id,
        }
        if hook.get("secret"):
            headers[SIGNATURE_HEADER] = sign(hook["secret"], body)
        http = self._http or httpx.Client(timeout=self.timeout, trust_env=False)

        def attempt() -> int:
            nonlocal attempts, status
            attempts += 1
            self.check_target(hook["url"])
            try:
                response = http.post(hook["url"], content=body, headers=headers)
            except httpx.HTTPError as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}") from None
            status = response.status_code
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(f"target answered {response.status_code}", response.status_code)
            return response.status_code

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            retry=retry_if_exception_type(_Retryable),
            reraise=False,
        )
        outcome = "failed"
        try:
            final = retrying(attempt)
            outcome = "delivered" if 200 <= final < 300 else "failed"
            if outcome == "failed":
                error = f"target answered {final}"
        except RetryError as exc:
            last = exc.last_attempt.exception()
            error = str(last) if last else "gave up"
        except ConfigError as exc:
            error = str(exc)
        finally:
            if http is not self._http:
                http.close()
        record = {
            "id": delivery_id,
            "webhook_id": hook["id"],
            "event": event,
            "url": hook["url"],
            "status": outcome,
            "attempts": attempts,
            "response_status": status,
            "error": error,
            "ts": started,
            "duration_ms": (time.perf_counter() - clock) * 1000.0,
        }
        self.store.add_delivery(record)
        return record
