"""Rate limiting: a mock that throttles like the API it stands for.

A scenario rule or override with `rate_limit`, or `mockloop serve --rate-limit 10/s` for every
operation, holds a token bucket per client (the peer address), per session (`X-Session-ID`,
else the client) or one for everyone: `requests` tokens refill over `per_seconds`, up to `burst`
(default `requests`). A request that finds the bucket empty is answered 429 with
`Retry-After` (whole seconds until a token) and the IETF `RateLimit-Policy`, `RateLimit-Limit`,
`RateLimit-Remaining` and `RateLimit-Reset` headers; its body is the operation's documented 429
response when it has one, else a problem document saying which limit was hit. Requests let
through carry the same `RateLimit-*` headers.

The buckets live in the process that answers (under `serve --workers N` each worker has its
own, so the limit is per worker) and at most `MAX_KEYS` keys are kept per limit (the least
recently seen are dropped, as if they had waited long enough).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from mockloop.mock.config import RateLimit

__all__ = ["MAX_KEYS", "Bucket", "RateLimiter"]

MAX_KEYS = 10_000


class Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class RateLimiter:
    """The buckets of one limit (one rule, or the whole mock)."""

    def __init__(self, limit: RateLimit, clock: object = time.monotonic) -> None:
        self.limit = limit
        # At least one request fits: 0.5/s is one request every 2 s, not none ever.
        self.capacity = max(1.0, limit.burst if limit.burst is not None else limit.requests)
        # The RateLimit fields are integers: a quota of whole requests over whole seconds.
        self.quota = max(1, round(limit.requests))
        self.window = max(1, round(limit.per_seconds * self.quota / limit.requests))
        self.rate = limit.requests / limit.per_seconds  # tokens per second
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def key(self, client: str, session: str | None) -> str:
        if self.limit.scope == "global":
            return ""
        if self.limit.scope == "session" and session:
            return f"s:{session}"
        return f"c:{client}"

    def take(self, key: str) -> tuple[bool, list[tuple[bytes, bytes]]]:
        """Take a token for `key`: whether the request may pass, and the headers to send."""
        now = self._clock()  # type: ignore[operator]
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = Bucket(self.capacity, now)
            self._buckets[key] = bucket
            if len(self._buckets) > MAX_KEYS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        missing = max(0.0, 1.0 - bucket.tokens)
        wait = math.ceil(missing / self.rate) if not allowed else 0
        full = math.ceil((self.capacity - bucket.tokens) / self.rate)
        headers = [
            (b"ratelimit-policy", f"{self.quota};w={self.window}".encode()),
            (b"ratelimit-limit", str(self.quota).encode()),
            (b"ratelimit-remaining", str(int(bucket.tokens)).encode()),
            (b"ratelimit-reset", str(wait if not allowed else full).encode()),
        ]
        if not allowed:
            headers.append((b"retry-after", str(max(1, wait)).encode()))
        return allowed, headers
