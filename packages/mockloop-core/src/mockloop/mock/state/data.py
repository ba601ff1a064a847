"""Stateful mode's data in memory: items by collection and parent, with running totals.

`Data` maps each collection to its `Partitions`: the items under each parent (the values of
the parent path parameters, `()` for a top-level collection), each partition keyed by the item's
id as text and kept in insertion order. A `Partitions` keeps its totals up to date on every
`put` and `remove`, so no request ever walks a collection to learn them:

* `count`: the items of the collection (all parents), read by the item cap;
* `charged`: what those items and partitions cost against the byte budget (`item_charge`);
* `tops`: per parent, the highest integer id seen, so the next integer id is one add away;
* `suffixes`: per parent, the highest `N` of an id shaped `name-N`, so the next generated
  string id is one add away too.

The byte budget is process-wide: every `Partitions` a `StateMemory` holds is attached to its
`Ledger`, whose `held` is the sum of their charges. An item is charged its JSON size plus an
estimate of what Python spends beyond the JSON (per item, per object, array, value and string:
`{}` takes 2 bytes of JSON and about 140 in memory), so the budget bounds memory, not only text.

`StateMemory` holds what a process serves from (the seed template, the shared data, each
session's copy, which shares the template's collections until it changes them; only copies
are charged) and when each session was last used, by an injectable clock.
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
    "ITEM_OVERHEAD",
    "PARTITION_OVERHEAD",
    "Data",
    "Items",
    "Ledger",
    "Partitions",
    "StateMemory",
    "decode_data",
    "encode_data",
    "encode_item",
    "integer_key",
    "item_charge",
    "partition_charge",
]

Items = dict[str, dict[str, Any]]  # id (as text) -> item, in insertion order

#: Charged per item beyond its JSON: the id key, the partition's slot, the dict itself.
ITEM_OVERHEAD = 128
#: Charged per partition (a parent's dict, its key and running tops) plus its values' length.
PARTITION_OVERHEAD = 256
# Charged per byte of JSON that starts an object, an array, a value or a string: what CPython
# spends on each beyond its text (measured: `{}` 72 bytes, `[]` 64, a float 32, "a" 58).
_OBJECT, _ARRAY, _VALUE, _QUOTE = 160, 64, 48, 32


def item_charge(encoded: bytes) -> int:
    """What an item whose JSON is `encoded` costs against the byte budget.

    Its JSON size plus `ITEM_OVERHEAD` plus an estimate of the memory Python spends on each
    object, array, value and string beyond its text (brackets or quotes inside strings are
    counted too, which only overestimates), so a body of many tiny values costs what it takes.
    """
    return (
        len(encoded)
        + ITEM_OVERHEAD
        + _OBJECT * encoded.count(b"{")
        + _ARRAY * encoded.count(b"[")
        + _VALUE * encoded.count(b",")
        + _QUOTE * encoded.count(b'"')
    )


def partition_charge(parent: tuple[str, ...]) -> int:
    """What a partition costs against the byte budget (its parent values' text included)."""
    return PARTITION_OVERHEAD + sum(len(value) for value in parent)


class Ledger:
    """The bytes charged for everything one `StateMemory` holds."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = 0


class Partitions(dict[tuple[str, ...], Items]):
    """One collection's items in one scope, by parent, with the totals the caps read.

    Change items only through `open`, `put` and `remove` (reads may use the dict directly):
    they keep `count`, `charged`, `tops` and `suffixes` exact and charge the `ledger` the
    partitions are attached to. A deep copy copies the items and totals, and is attached to no
    ledger (its owner adopts it).
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.charged = 0
        self.tops: dict[tuple[str, ...], int] = {}
        self.suffixes: dict[tuple[str, ...], int] = {}
        self.ledger: Ledger | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Partitions:
        clone = Partitions()
        for parent, items in self.items():
            clone[parent] = copy.deepcopy(items, memo)
        clone.count = self.count
        clone.charged = self.charged
        clone.tops = dict(self.tops)
        clone.suffixes = dict(self.suffixes)
        return clone

    def _charge(self, amount: int) -> None:
        self.charged += amount
        if self.ledger is not None:
            self.ledger.held += amount

    def open(self, parent: tuple[str, ...]) -> Items:
        """The items under `parent`, its partition made (and charged) when it has none."""
        items = self.get(parent)
        if items is None:
            items = self[parent] = {}
            self._charge(partition_charge(parent))
        return items

    def cost(self, parent: tuple[str, ...], charge: int, old_charge: int | None) -> int:
        """What a `put` of an item charged `charge` would add to `charged` (`old_charge`: the
        charge of the item it replaces, None when the key is new)."""
        if old_charge is not None:
            return charge - old_charge
        return charge + (0 if parent in self else partition_charge(parent))

    def put(
        self,
        parent: tuple[str, ...],
        key: str,
        item: dict[str, Any],
        charge: int | None = None,
        old_charge: int | None = None,
    ) -> bool:
        """Store `item` under `key` (an existing one keeps its place); True when it is new.

        `charge` is `item_charge` of the item and `old_charge` that of the item it replaces,
        when the caller already knows them (each is computed otherwise)."""
        items = self.open(parent)
        old = items.get(key)
        items[key] = item
        if charge is None:
            charge = item_charge(encode_item(item))
        if old is not None:
            if old_charge is None:
                old_charge = item_charge(encode_item(old))
            self._charge(charge - old_charge)
            return False
        self._charge(charge)
        self.count += 1
        number = integer_key(key)
        if number is not None:
            if number > self.tops.get(parent, number - 1):
                self.tops[parent] = number
        else:
            head, dash, tail = key.rpartition("-")
            suffix = integer_key(tail) if dash and head else None
            if suffix is not None and suffix > self.suffixes.get(parent, 0):
                self.suffixes[parent] = suffix
        return True

    def remove(self, parent: tuple[str, ...], key: str) -> dict[str, Any] | None:
        """Remove and return the item under `key`, or None when there is none (its partition
        stays, with its running tops, so ids are not handed out again)."""
        items = self.get(parent)
        old = None if items is None else items.pop(key, None)
        if old is not None:
            self.count -= 1
            self._charge(-item_charge(encode_item(old)))
        return old

    def top(self, parent: tuple[str, ...]) -> int | None:
        """The highest integer id this partition has held (deleted ones included), if any."""
        return self.tops.get(parent)

    def suffix(self, parent: tuple[str, ...]) -> int:
        """The highest `N` of an id `name-N` this partition has held (deleted ones included),
        0 when none."""
        return self.suffixes.get(parent, 0)


Data = dict[str, Partitions]  # collection name -> its partitions


def integer_key(key: str) -> int | None:
    """`key` as an integer when it is one's canonical text ("12", "-3"), else None."""
    if not key or len(key) > 30 or not (key.isdigit() or (key[0] == "-" and key[1:].isdigit())):
        return None
    number = int(key)
    return number if str(number) == key else None


def encode_item(item: Any) -> bytes:
    """An item as the JSON the store keeps (and the byte budget counts)."""
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
            target.open(tuple(parent))
            for key, item in items.items():
                target.put(tuple(parent), key, item)
    return data


@dataclass
class StateMemory:
    """What one process serves from: the seed template, the shared data, each session's copy
    (least recently used first), when each session was last used (by `clock`), the serial
    that keys generated values, and the `ledger` of the bytes all of it is charged.

    Replace a scope's data through `put_scope` or `forget` (or call `recount` after replacing
    several), so the ledger stays exact."""

    template: Data
    shared: Data
    sessions: OrderedDict[str, Data] = field(default_factory=OrderedDict)
    serial: int = 0
    clock: Callable[[], float] = time.monotonic
    used: dict[str, float] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)

    def __post_init__(self) -> None:
        self.recount()

    @property
    def held(self) -> int:
        """The bytes charged for every collection of every scope (shared partitions once)."""
        return self.ledger.held

    def recount(self) -> None:
        """Charge a fresh ledger for everything held now (after scopes were replaced whole)."""
        self.ledger = Ledger()
        self.adopt(self.template)
        self.adopt(self.shared)
        for data in self.sessions.values():
            self.adopt(data)

    def adopt(self, data: Data) -> None:
        """Attach `data`'s partitions not yet attached to the ledger, and charge them."""
        ledger = self.ledger
        for partitions in data.values():
            if partitions.ledger is not ledger:
                partitions.ledger = ledger
                ledger.held += partitions.charged

    def release(self, data: Data) -> None:
        """Detach and stop charging `data`'s own partitions (not those it shares with the
        template)."""
        ledger = self.ledger
        for name, partitions in data.items():
            if partitions.ledger is ledger and partitions is not self.template.get(name):
                partitions.ledger = None
                ledger.held -= partitions.charged

    def put_scope(self, session: str | None, data: Data) -> None:
        """Make `data` the shared data (`session` None) or a session's, releasing what it
        replaces; a session's use time is left to `touch`."""
        old = self.shared if session is None else self.sessions.get(session)
        if old is not None and old is not data:
            self.release(old)
        if session is None:
            self.shared = data
        else:
            self.sessions[session] = data
        self.adopt(data)

    def touch(self, session: str) -> None:
        """Mark `session` used now: it becomes the most recently used."""
        self.sessions.move_to_end(session)
        self.used[session] = self.clock()

    def forget(self, session: str) -> Data | None:
        """Drop a session's data (no longer charged); returns it (None when there was none)."""
        self.used.pop(session, None)
        data = self.sessions.pop(session, None)
        if data is not None:
            self.release(data)
        return data

    def copy_cost(self, data: Data, name: str) -> int:
        """What `writable(data, name)` would charge: the size of the template's collection
        when `data` still shares it, else 0."""
        partitions = data[name]
        if data is not self.template and partitions is self.template.get(name):
            return partitions.charged
        return 0

    def writable(self, data: Data, name: str) -> Partitions:
        """`data`'s partitions of collection `name`, ready to change.

        A session (or a reset) starts by sharing the seed template's partitions, so a new
        session costs a dict of references; each collection is copied (and charged) the first
        time it changes."""
        partitions = data[name]
        if data is not self.template and partitions is self.template.get(name):
            partitions = data[name] = copy.deepcopy(partitions)
            self.adopt({name: partitions})
        return partitions

    def idle_for(self, session: str) -> float:
        """Seconds since `session` was last used."""
        return self.clock() - self.used.get(session, self.clock())
