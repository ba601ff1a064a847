"""A response ready to send on the business port, whichever part of MockLoop made it (the mock,
a problem, a replayed recording)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PreparedResponse"]


@dataclass(slots=True)
class PreparedResponse:
    """A response ready to send: status, raw headers (without content-length) and body bytes."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    source: str = ""  # what produced it (scenario, prefer, example, generated, ...)
