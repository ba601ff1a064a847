"""How numbers read in a report: milliseconds, rates, shares and times, one way everywhere."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["count", "ms", "number", "share", "timestamp", "truncate"]


def number(value: Any, digits: int = 2) -> str:
    """A figure with at most `digits` decimals (one more below 1) and no trailing zeros; "-"
    for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) < 1:  # sub-millisecond latencies and small rates keep a digit more
            digits += 1
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def ms(value: Any) -> str:
    """A latency in milliseconds, e.g. "12.35 ms"; "-" when nothing was measured."""
    return "-" if value is None else f"{number(float(value))} ms"


def share(value: Any) -> str:
    """A ratio as a percentage, e.g. "1.25%"."""
    return "-" if value is None else f"{float(value) * 100:.2f}%"


def count(value: Any) -> str:
    """A count with thousands separators."""
    return "-" if value is None else f"{int(value):,}"


def timestamp(epoch: float | None) -> str:
    """Epoch seconds as UTC, e.g. "2026-12-01 15:20:03 UTC"."""
    if epoch is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def truncate(text: Any, limit: int = 160) -> str:
    """Text on one line, cut to `limit` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
