"""Webhooks: registered URLs that receive a signed POST when matching events happen.

Events are business requests (`*`, an operationId, or `METHOD /path/template`) and run-time
changes (`scenario.activated`, `scenario.deactivated`, `state.created`, `state.updated`,
`state.deleted`, `state.reset`), which other parts of the mock report through
`WebhookDispatcher.notify_event`. Deliveries never run on the request path: `notify` only
matches (a set intersection per registered webhook) and queues. Each webhook has its own lane
(a bounded FIFO and one thread), so a slow or dead target delays only its own deliveries. Each
delivery is retried with exponential backoff (tenacity) on connection errors, timeouts, 429 and
5xx, and its outcome lands in the delivery history.

Targets are limited to an allow-list of hosts (loopback by default), checked when a webhook
is registered and again before every attempt. Secrets sign the body
(`X-MockLoop-Signature: sha256=<hex HMAC-SHA256 of the raw body>`) and are never returned.

Payloads and the delivery history go through the mock's `Redactor` (the request log's): a
request's query carries the same redacted values the log stores, event data loses secret
fields, and a target URL's credentials and errors quoting them are redacted in the history.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets as token_source
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from mockloop.errors import ConfigError, StoreError
from mockloop.mock.webhooks.store import WebhookStore
from mockloop.redaction import Redactor

if TYPE_CHECKING:
    import httpx

__all__ = ["RUNTIME_EVENTS", "SIGNATURE_HEADER", "WebhookDispatcher", "sign", "verify_signature"]

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
_LANE_BOUND = 10_000  # deliveries waiting per webhook before new ones are dropped (and counted)
_MAX_WAIT = 30.0  # cap of one backoff wait, in seconds
_REMOVED = "not delivered: the webhook was removed first"
_STOPPED = "not delivered: the mock stopped first"

_Item = tuple[dict[str, Any], str, bytes]  # the hook (with its secret), event name, body


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of the exact raw `body` (constant-time compare).

    Args:
        secret: the secret given when the webhook was registered.
        body: the request body exactly as received (before any JSON parsing).
        header: the `X-MockLoop-Signature` header value, e.g. `sha256=3f0a…`.
    """
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())


class _Retryable(Exception):
    """A delivery attempt worth repeating (connection trouble, 429, 5xx)."""


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class _Lane:
    """One webhook's pending deliveries, in order, and the thread that works through them.

    `close()` lets the thread finish what is queued with one attempt each (no more backoff
    waits); `close(abandon=reason)` records whatever is still queued as failed with `reason`.
    """

    def __init__(self, dispatcher: WebhookDispatcher, webhook_id: str) -> None:
        self.dispatcher = dispatcher
        self.items: deque[_Item] = deque()
        self.condition = threading.Condition()
        self.closing = False
        self.abandon: str | None = None
        self.cancel = threading.Event()  # cuts retry waits short once the lane closes
        self.thread = threading.Thread(
            target=self._run, name=f"mockloop-webhook-{webhook_id}", daemon=True
        )

    def put(self, item: _Item) -> bool:
        """Queue a delivery; False when the lane is closed or full."""
        with self.condition:
            if self.closing or len(self.items) >= _LANE_BOUND:
                return False
            self.items.append(item)
            self.condition.notify()
            return True

    def close(self, abandon: str | None = None) -> None:
        with self.condition:
            self.closing = True
            if abandon is not None:
                self.abandon = abandon
            self.condition.notify()
        self.cancel.set()

    def _run(self) -> None:
        while True:
            with self.condition:
                while not self.items and not self.closing:
                    self.condition.wait()
                if self.abandon is not None:
                    left, reason = list(self.items), self.abandon
                    self.items.clear()
                    break
                if not self.items:
                    return
                hook, event, body = self.items.popleft()
            try:
                self.dispatcher.deliver(hook, event, body, cancel=self.cancel)
            except Exception:  # the lane must outlive any one delivery (a closed store, a bug)
                logger.exception("webhook delivery to %s failed unexpectedly", hook["url"])
        self.dispatcher.record_unsent(left, reason)


class WebhookDispatcher:
    """Webhook registry, matcher and delivery lanes of one mock.

    Args:
        store: persistence of webhooks and delivery history.
        allow_hosts: hosts a target URL may name.
        max_attempts: tries per delivery (first try included).
        backoff: first retry wait in seconds, doubling each retry (capped at 30 s).
        timeout: seconds one attempt may take (connect, send and each read).
        mock_title: the API title put in every payload.
        redactor: the secret policy for payloads and history (give the request log's, so
            both show the same values); a default `Redactor()` when None.
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
        redactor: Redactor | None = None,
    ) -> None:
        self.store = store
        self.redactor = redactor or Redactor()
        self.allow_hosts = {host.lower().strip("[]") for host in allow_hosts}
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout = timeout
        self.mock_title = mock_title
        self.dropped = 0  # deliveries refused because their webhook's lane was full
        self._lock = threading.Lock()  # guards the registry and the lanes
        self._lanes: dict[str, _Lane] = {}
        # Active webhooks with their event sets and lanes; replaced whole (never mutated) so
        # the request path reads it without a lock.
        self._hooks: list[tuple[dict[str, Any], frozenset[str], _Lane]] = []
        self._running = False
        self._http: httpx.Client | None = None
        self._reload()

    # -- life cycle -------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True when at least one active webhook is registered (the request path's check)."""
        return bool(self._hooks)

    def start(self) -> None:
        """Start delivering (one thread per active webhook)."""
        with self._lock:
            self._running = True
            for lane in self._lanes.values():
                lane.thread.start()

    def _client(self) -> httpx.Client:
        """The one HTTP client of every delivery, made on the first one."""
        with self._lock:
            if self._http is None:
                import httpx

                self._http = httpx.Client(
                    timeout=self.timeout, trust_env=False, follow_redirects=False
                )
            return self._http

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering: what is queued gets one attempt each within `timeout` seconds;
        what is left after that is recorded as failed. Safe to call twice."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.close()
        deadline = time.monotonic() + timeout
        for lane in lanes:
            lane.thread.join(max(0.0, deadline - time.monotonic()))
        # An attempt in flight ends within the HTTP timeout; then its lane records the rest.
        deadline = time.monotonic() + self.timeout + 1.0
        for lane in lanes:
            if lane.thread.is_alive():
                lane.close(abandon=_STOPPED)
                lane.thread.join(max(0.0, deadline - time.monotonic()))
                if lane.thread.is_alive():
                    logger.warning("a webhook delivery was still running when the mock stopped")
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- registry ---------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the registrations again (another process of the same store changed them)."""
        self._reload()

    def _reload(self) -> None:
        with self._lock:
            hooks = [h for h in self.store.list_webhooks(include_secret=True) if h["active"]]
            wanted = {hook["id"] for hook in hooks}
            for webhook_id in [known for known in self._lanes if known not in wanted]:
                self._lanes.pop(webhook_id).close(abandon=_REMOVED)
            entries = []
            for hook in hooks:
                lane = self._lanes.get(hook["id"])
                if lane is None:
                    lane = self._lanes[hook["id"]] = _Lane(self, hook["id"])
                    if self._running:
                        lane.thread.start()
                entries.append((hook, frozenset(hook["events"]), lane))
            self._hooks = entries

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
        """Store a webhook; the result never holds the secret.

        Raises:
            ConfigError: the URL is not http(s), its host is not allowed, or no event is named.
        """
        self.check_target(url)
        names = [str(e).strip() for e in (events if events is not None else ["*"])]
        names = list(dict.fromkeys(name for name in names if name))
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
        """Remove a webhook; False when there is none with that id. Its queued deliveries are
        recorded as failed, not sent."""
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
        """A business request was answered: queue deliveries to the webhooks it matches.

        Called on the request path: it matches and queues, nothing more.
        """
        verb = method.upper()
        names = {"*"}
        if operation_id:
            names.add(operation_id)
        if template:
            names.add(f"{verb} {template}")
        event = operation_id or ""
        body: bytes | None = None
        for hook, events, lane in self._hooks:
            if not events.isdisjoint(names):
                if body is None:  # one body for every matching webhook
                    # The path loses token shapes (`/keys/sk-live-...`), in the payload and the
                    # event name; the pre-scan makes that one scan for an ordinary path.
                    shown_path = self.redactor.path(path)
                    event = event or f"{verb} {template or shown_path}"
                    body = self._payload(
                        event,
                        request={
                            "method": verb,
                            "path": shown_path,
                            "query": self.redactor.query(query),
                            "operation_id": operation_id,
                        },
                        response={"status": status},
                    )
                self._enqueue(hook, lane, event, body)

    def notify_event(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Report a run-time event; queues a delivery to each webhook listing `name`.

        This is how the rest of the mock feeds webhooks: the runtime reports
        `scenario.activated` / `scenario.deactivated`, the stateful store `state.created`,
        `state.updated`, `state.deleted` and `state.reset`. It is cheap, never blocks and never
        raises for delivery trouble, so it may be called from the request path. `"*"` covers
        business requests only: a webhook receives run-time events it lists by name.

        Args:
            name: the event name, e.g. "state.created".
            data: JSON-serialisable details, delivered as the payload's `data`.
        """
        body: bytes | None = None
        for hook, events, lane in self._hooks:
            if name in events:
                if body is None:
                    body = self._payload(name, data=self.redactor.value(data or {}))
                self._enqueue(hook, lane, name, body)

    def _payload(
        self,
        event: str,
        *,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> bytes:
        return orjson.dumps(
            {
                "event": event,
                "timestamp": time.time(),
                "mock": {"title": self.mock_title},
                "request": request,
                "response": response,
                "data": data if data is not None else {},
            },
            default=str,
        )

    def _enqueue(self, hook: dict[str, Any], lane: _Lane, event: str, body: bytes) -> None:
        if lane.put((hook, event, body)) or lane.closing:
            return  # queued, or the webhook is being removed / the mock is stopping
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            logger.warning(
                "webhook %s has %d deliveries waiting: %s delivery dropped (%d so far)",
                hook["id"],
                _LANE_BOUND,
                event,
                self.dropped,
            )

    # -- delivery ---------------------------------------------------------------------------

    def test(self, webhook_id: str) -> dict[str, Any]:
        """Deliver a `webhook.test` event now (with retries) and return its delivery record.

        Raises:
            KeyError: there is no webhook `webhook_id`.
        """
        hook = self.store.get_webhook(webhook_id, include_secret=True)
        if hook is None:
            raise KeyError(webhook_id)
        body = self._payload("webhook.test", data={"webhook_id": webhook_id})
        return self.deliver(hook, "webhook.test", body)

    def deliver(
        self,
        hook: dict[str, Any],
        event: str,
        body: bytes,
        *,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """POST `body` to the hook's URL with retries; record and return the outcome.

        Once `cancel` is set no further attempt starts (the attempt in flight completes).
        """
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
        import httpx  # on the first delivery: a mock without webhooks never loads it

        http = (
            self._client()
            if self._running
            else httpx.Client(timeout=self.timeout, trust_env=False, follow_redirects=False)
        )

        def attempt() -> int:
            nonlocal attempts, status
            attempts += 1
            self.check_target(hook["url"])  # the allow-list may have narrowed since
            try:
                response = http.post(
                    hook["url"], content=body, headers=headers, timeout=self.timeout
                )
            except httpx.HTTPError as exc:
                raise _Retryable(f"{type(exc).__name__}: {exc}") from None
            status = response.status_code
            if response.status_code == 429 or response.status_code >= 500:
                raise _Retryable(f"target answered {response.status_code}")
            return response.status_code

        stop = stop_after_attempt(self.max_attempts)
        if cancel is not None:
            stop = stop | stop_when_event_set(cancel)

        def sleep(seconds: float) -> None:
            # A closing lane sets `cancel`: the backoff wait ends at once.
            if cancel is None:
                time.sleep(seconds)
            else:
                cancel.wait(seconds)

        retrying = Retrying(
            stop=stop,
            wait=wait_exponential(multiplier=self.backoff, max=_MAX_WAIT),
            retry=retry_if_exception_type(_Retryable),
            sleep=sleep,
            reraise=False,
        )
        outcome = "failed"
        try:
            final = retrying(attempt)
            if 200 <= final < 300:
                outcome = "delivered"
            else:
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
            "url": self.redactor.text(hook["url"]),
            "status": outcome,
            "attempts": attempts,
            "response_status": status,
            "error": self.redactor.text(error) if error else error,
            "ts": started,
            "duration_ms": (time.perf_counter() - clock) * 1000.0,
        }
        self.store.add_delivery(record)
        return record

    def record_unsent(self, items: list[_Item], reason: str) -> None:
        """Record queued deliveries that were never attempted as failed with `reason`."""
        if not items:
            return
        now = time.time()
        records = [
            {
                "id": f"dl_{token_source.token_hex(8)}",
                "webhook_id": hook["id"],
                "event": event,
                "url": self.redactor.text(hook["url"]),
                "status": "failed",
                "attempts": 0,
                "response_status": None,
                "error": reason,
                "ts": now,
                "duration_ms": 0.0,
            }
            for hook, event, _ in items
        ]
        try:
            self.store.add_deliveries(records)
        except StoreError as exc:
            logger.warning("%d unsent webhook deliveries not recorded: %s", len(records), exc)
