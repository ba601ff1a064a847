"""What reading one description may cost: bytes per document, nesting depth, alias expansion.

A description comes from anywhere (an agent, a teammate, a URL), so every document read is
held to `SpecLimits` before anything walks it: a stranger's file can refuse to load, never
freeze or exhaust the process. `check_shape` measures a parsed document in one pass that
visits each distinct container once, so a YAML alias bomb (a billion nodes written as a few
dozen anchors) is measured as cheaply as it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockloop.errors import ConfigError, SpecError

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_SPEC_BYTES",
    "URI_SCHEME",
    "SpecLimits",
    "check_shape",
    "size_text",
    "too_deep",
]

DEFAULT_MAX_SPEC_BYTES = 64 * 1024 * 1024
URI_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
"""A location that starts with a URI scheme (`https:`, `file:`) rather than a path."""
# Real-world descriptions nest about 20 levels; 128 leaves room for deep schemas while every
# later stage (Swagger 2.0 conversion, bundling, validation, fake data) stays far from
# Python's recursion limit.
DEFAULT_MAX_DEPTH = 128
# Nodes that YAML aliases may add beyond those written: anchors shared a few hundred times
# stay well inside it, a "billion laughs" document is a billion nodes beyond it.
DEFAULT_MAX_ALIAS_NODES = 1_000_000
# Entries YAML merge keys (`<<: *a`) may copy in all. Unlike aliases they copy, at the cost of
# a Python call each, so their budget is smaller; real descriptions merge a few hundred.
DEFAULT_MAX_MERGED_ENTRIES = 100_000
# Files and URLs one description may be split over: large split descriptions have a few
# hundred; each is held to max_bytes, so this also bounds what one description may read.
DEFAULT_MAX_DOCUMENTS = 1000


@dataclass(frozen=True)
class SpecLimits:
    """Bounds on reading one description, applied to every document of it (file or URL)."""

    max_bytes: int = DEFAULT_MAX_SPEC_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_alias_nodes: int = DEFAULT_MAX_ALIAS_NODES
    max_merged_entries: int = DEFAULT_MAX_MERGED_ENTRIES
    max_documents: int = DEFAULT_MAX_DOCUMENTS
    timeout: float = 10.0

    def __post_init__(self) -> None:
        """ConfigError naming the first limit out of range."""
        if self.max_bytes < 1:
            raise ConfigError(f"max_bytes={self.max_bytes} must be 1 or more")
        if self.max_depth < 8:
            raise ConfigError(f"max_depth={self.max_depth} must be 8 or more")
        if not self.timeout > 0:
            raise ConfigError(f"timeout={self.timeout!r} must be above 0 seconds")


def size_text(size: int) -> str:
    """`67108864` -> "64 MiB", `1500` -> "1500 bytes": a size as a person reads it."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def too_deep(limits: SpecLimits, source: str) -> SpecError:
    """The error for a document nested deeper than `limits.max_depth`."""
    return SpecError(
        f"nested deeper than {limits.max_depth} levels: not a description MockLoop reads "
        "(real ones nest about 20)",
        source=source,
    )


def check_shape(document: Any, limits: SpecLimits, source: str, *, shared: bool = True) -> None:
    """SpecError when `document` nests deeper than `limits.max_depth` or when its aliases
    (containers reached more than once) expand it by more than `limits.max_alias_nodes`.

    Each distinct container is visited once (memo by identity), without recursion, so the
    check costs the size of the document as written, not as expanded. A container that
    contains itself (a recursive YAML alias) is refused too: nothing downstream can walk it.
    `shared=False` says no container is reached twice (parsed JSON): only the depth is
    measured then, level by level, at a tenth of the cost.
    """
    if not isinstance(document, dict | list):
        return
    if not shared:
        level = [document]
        for _ in range(limits.max_depth):
            level = [
                child
                for node in level
                for child in (node.values() if type(node) is dict else node)
                if type(child) is dict or type(child) is list
            ]
            if not level:
                return
        raise too_deep(limits, source)
    # id -> (expanded node count, height); a container is in `open_ids` while its children
    # are being measured.
    measured: dict[int, tuple[int, int]] = {}
    open_ids: set[int] = set()
    written = 0  # nodes as written: each distinct container and the scalars it holds
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        children = node.values() if isinstance(node, dict) else node
        if children_done:
            size, height = 1, 0
            for child in children:
                if isinstance(child, dict | list):
                    child_size, child_height = measured[id(child)]
                    size += child_size
                    height = max(height, child_height)
                else:
                    size += 1
                    written += 1
            written += 1
            open_ids.discard(key)
            measured[key] = (size, height + 1)
            continue
        if key in measured:
            continue
        open_ids.add(key)
        stack.append((node, True))
        for child in children:
            if isinstance(child, dict | list):
                if id(child) in open_ids:
                    raise SpecError(
                        "a YAML alias refers to a node that contains it (a recursive "
                        "structure): write a $ref instead",
                        source=source,
                    )
                if id(child) not in measured:
                    stack.append((child, False))
    size, height = measured[id(document)]
    if height > limits.max_depth:
        raise too_deep(limits, source)
    if size - written > limits.max_alias_nodes:
        raise SpecError(
            f"YAML aliases expand the document to {size:,} nodes from {written:,} written "
            f"(aliases may add at most {limits.max_alias_nodes:,}): an alias bomb, not a "
            "description; write shared parts once and refer to them with $ref",
            source=source,
        )
