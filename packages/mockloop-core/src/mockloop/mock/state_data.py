"""Stateful mode's data in memory: items by collection and parent, with running totals.

`Data` maps each collection to its `Partitions`: the items under each parent (the values of
the parent path parameters, `()` for a top-level collection), each partition keyed by the item's
id as text and kept in insertion order. A `Partitions` keeps three totals up to date on every
`put` and `remove`, so no request ever walks a collection to learn them:

* `count`: the items of the collection (all parents), read by the item cap;
* `bytes`: the JSON size of those items, read by the byte cap;
* `tops`: per parent, the highest integer id seen, so the next integer id is one add away.

`StateMemory` holds what a process serves from (the seed template, the shared data, each
session's copy, which shares the template's collections until it changes them) and when each
session was last used, by an injectable clock.
"""

from __future__ import annotations

import copy
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Data",
    "Items",
    "Partitions",
    "StateMemory",
    "decode_data",
    "encode_data",
    "encode_item",
    "integer_key",
]

Items = dict[str, dict[str, Any]]  # id (as text) -> item, in insertion order


class Partitions(dict[tuple[str, ...], Items]):
    """One collection's items in one scope, by parent, with the totals the caps read.

    Change items only through `put` and `remove` (reads may use the dict directly): they keep
    `count`, `bytes` and `tops` exact. A deep copy copies the totals with the items.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.bytes = 0
        self.tops: dict[tuple[str, ...], int] = {}

    def put(
        self, parent: tuple[str, ...], key: str, item: dict[str, Any], size: int | None = None
    ) -> bool:
        """Store `item` under `key` (an existing one keeps its place); True when it is new.

        `size` is the item's JSON size when the caller already knows it."""
        items = self.get(parent)
        if items is None:
            items = self[parent] = {}
        old = items.get(key)
        items[key] = item
        self.bytes += len(encode_item(item)) if size is None else size
        if old is None:
            self.count += 1
            number = integer_key(key)
            if number is not None and number > self.tops.get(parent, number - 1):
                self.tops[parent] = number
            return True
        self.bytes -= len(encode_item(old))
        return False

    def remove(self, parent: tuple[str, ...], key: str) -> dict[str, Any] | None:
        """Remove and return the item under `key`, or None when there is none."""
        items = self.get(parent)
        old = None if items is None else items.pop(key, None)
        if old is not None:
            self.count -= 1
            self.bytes -= len(encode_item(old))
        return old

    def top(self, parent: tuple[str, ...]) -> int | None:
        """The highest integer id this partition has held (deleted ones included), if any."""
        return self.tops.get(parent)


Data = dict[str, Partitions]  # collection name -> its partitions


def integer_key(key: str) -> int | None:
    """`key` as an integer when it is one's canonical text ("12", "-3"), else None."""
    if not key or len(key) > 30 or not (key.isdigit() or (key[0] == "-" and key[1:].isdigit())):
        return None
    number = int(key)
    return number if str(number) == key else None


def encode_item(item: Any) -> bytes:
    """An item as the JSON the store keeps (and the byte cap counts)."""
    try:
        return orjson.dumps(item, option=orjson.OPT_NON_STR_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        # What orjson refuses (an integer past 64 bits, a lone surrogate from a description's
        # example) is written by the standard library, which reads it back the same.
        return json.dumps(item, default=_plain).encode()  # ASCII: every other character escaped


def _plain(value: Any) -> Any:
    """A value JSON has no type for, as orjson serves it (dates in ISO 8601), else its text."""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def encode_data(data: dict[str, dict[tuple[str, ...], Items]]) -> str:
    """`data` as JSON text: `{collection: [[parent values, {id: item}], ...]}`."""
    document = {
        name: [[list(parent), items] for parent, items in partitions.items()]
        for name, partitions in data.items()
    }
    return encode_item(document).decode()


def decode_data(text: str, names: Iterable[str]) -> Data:
    """The data `encode_data` wrote, with exactly the collections `names` (missing ones empty,
    unknown ones dropped), its totals counted."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = json.loads(text)
    data: Data = {name: Partitions() for name in names}
    for name, parts in document.items():
        target = data.get(name)
        if target is None:
            continue
        for parent, items in parts:
            target.setdefault(tuple(parent), {})
            for key, item in items.items():
                target.put(tuple(parent), key, item)
    return data


@dataclass
class StateMemory:
    """What one process serves from: the seed template, the shared data, each session's copy
    (least recently used first), when each session was last used (by `clock`) and the serial
    that keys generated values."""

    template: Data
    shared: Data
    sessions: OrderedDict[str, Data] = field(default_factory=OrderedDict)
    serial: int = 0
    clock: Callable[[], float] = time.monotonic
    used: dict[str, float] = field(default_factory=dict)

    def touch(self, session: str) -> None:
        """Mark `session` used now: it becomes the most recently used."""
        self.sessions.move_to_end(session)
        self.used[session] = self.clock()

    def forget(self, session: str) -> Data | None:
        """Drop a session's data; returns it (None when there was none)."""
        self.used.pop(session, None)
        return self.sessions.pop(session, None)

    def writable(self, data: Data, name: str) -> Partitions:
        """`data`'s partitions of collection `name`, ready to change.

        A session (or a reset) starts by sharing the seed template's partitions, so a new
        session costs a dict of references; each collection is copied the first time it
        changes."""
        partitions = data[name]
        if data is not self.template and partitions is self.template.get(name):
            partitions = data[name] = copy.deepcopy(partitions)
        return partitions

    def idle_for(self, session: str) -> float:
        """Seconds since `session` was last used."""
        return self.clock() - self.used.get(session, self.clock())
