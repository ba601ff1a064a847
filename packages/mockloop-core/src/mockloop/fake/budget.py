"""How many bytes a value takes as JSON, measured without serialising it.

Generated and documented bodies are bounded in size (`MockConfig.max_response_bytes`). A value
from a description can share structure (a YAML alias used many times over) and so stand for
far more JSON than it holds in memory: `json_size` walks it as the JSON text would, and stops
as soon as the count passes the limit. Every value it visits adds at least one byte, so it
visits at most about `limit` values, each for the cost of measuring it: constant for numbers
and containers, a string's length for a non-ASCII string (it is encoded to count its bytes).
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MAX_BYTES", "json_size"]

DEFAULT_MAX_BYTES = 1024 * 1024
"""The bound a `SchemaFaker` keeps generated values within unless told otherwise (1 MiB)."""


def json_size(value: Any, limit: int) -> int:
    """About how many bytes `value` takes as compact JSON; any number above `limit` once it
    is known to exceed it (the walk stops there)."""
    size = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            size += (len(node) if node.isascii() else len(node.encode("utf-8", "replace"))) + 2
        elif node is None or isinstance(node, bool):
            size += 5
        elif isinstance(node, int):
            # Digits from the bit length past 64 bits: `repr` of a huge integer is slow (or
            # refused past 4,300 digits).
            size += len(repr(node)) if node.bit_length() <= 64 else node.bit_length() * 3 // 10 + 2
        elif isinstance(node, float):
            size += len(repr(node))
        elif isinstance(node, dict):
            size += 2 + len(node)
            if size > limit:
                return size
            for key in node:
                size += (len(key) if isinstance(key, str) else len(str(key))) + 3
                if size > limit:
                    return size
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            size += 2 + len(node)
            if size > limit:
                return size
            stack.extend(node)
        else:
            size += len(str(node)) + 2
        if size > limit:
            return size
    return size
