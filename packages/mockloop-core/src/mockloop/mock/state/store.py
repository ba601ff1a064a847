"""Stateful mode: the mock remembers what clients create, change and delete.

For each collection the description defines (see `state_collections`), `POST` stores an item
and answers it with a new id, `GET` lists and fetches, `PUT` replaces, `PATCH` merges (JSON
merge patch), `DELETE` removes, and a fetch after a delete is 404. Data lives in memory and is
seeded at start with generated items (deterministic for the mock's seed). With session
isolation each `X-Session-ID` value gets its own copy of the seed (made when it first writes;
it shares the seed's collections until it changes them), so parallel agent runs do not see each
other; requests without the header use the shared data. Sessions are bounded in number and
evicted when idle, never while in use (see `state_limits`).

The business app calls `StateStore.handle` from its event loop while the admin API may seed or
reset from a worker thread, so every read and write of the data holds one lock.

Every request costs the same whatever a collection holds: items are found by id, integer ids
and generated `name-N` ids come from a running highest one (`state_data.Partitions`), and the
caps on items per collection, on the bytes of all the data and on live sessions
(`state_limits`) read running totals. A list walks only the page it answers, unless it
filters.

Given a `SharedState` (see `mockloop.mock.state.sync`), the data lives in a database that
several mock processes share: each request or admin read first catches up with what the others
wrote (one SELECT when nothing changed), and each write runs under the database's write lock,
so replicas answer alike. Without one, nothing touches a database.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, quote

from mockloop.errors import ConfigError, StoreError
from mockloop.fake import SchemaFaker
from mockloop.mock.problem import PreparedResponse, problem
from mockloop.mock.responder import Responder, default_status, encode_body, is_json_media
from mockloop.mock.state.collection import (
    Collection,
    infer_collections,
    json_object,
    matches_filter,
    merge_patch,
    page_number,
)
from mockloop.mock.state.data import (
    Data,
    Items,
    Partitions,
    StateMemory,
    encode_item,
    item_charge,
)
from mockloop.mock.state.limits import StateLimitError, StateLimits, check_session_id
from mockloop.mock.state.sync import Changes, SharedState, fingerprint
from mockloop.spec.model import ApiSpec, Operation

__all__ = ["StateListener", "StateStore"]

#: Largest generated item (seed items and the fields a POST lacks), as JSON bytes.
GENERATED_ITEM_BYTES = 64 * 1024

logger = logging.getLogger("mockloop.mock")

_SESSION_HEADER = b"x-session-id"
_ENTRY_CACHE = 50_000
_ENTRY_CACHE_BYTES = 16 * 1024 * 1024  # charged as items are: a large entry schema fills it sooner
_STRING_RULES = ("pattern", "format", "minLength", "maxLength", "enum", "const")
_READS = frozenset({"list", "read"})

StateListener = Callable[[str, dict[str, Any]], None]


class StateStore:
    """The in-memory data of a stateful mock: collections, seed, sessions.

    Args:
        spec: the description whose collections are served.
        seed: the generator's seed (generated items are the same from run to run).
        seed_items: generated items per top-level collection at start.
        isolation: "session" keeps one copy of the data per `X-Session-ID` value.
        responder: makes the documented response headers.
        shared: the database replicas share the data through; None keeps it in memory.
        max_items: items one collection (shared, or in one session) may hold.
        max_bytes: bytes all the data (seed, shared, every session's copies) may be charged:
            each item's JSON plus overhead (`state_data.item_charge`).
        max_sessions: sessions kept at once.
        session_idle_seconds: a session unused this long may be evicted.
        clock: seconds from an arbitrary start (tests pass a fake one to age sessions).
    """

    def __init__(
        self,
        spec: ApiSpec,
        *,
        seed: int = 0,
        seed_items: int = 3,
        isolation: Literal["shared", "session"] = "shared",
        responder: Responder | None = None,
        shared: SharedState | None = None,
        max_items: int = 100_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_sessions: int = 1000,
        session_idle_seconds: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.seed_number = seed
        self.seed_items = seed_items
        self.isolation = isolation
        self.collections: dict[str, Collection] = {c.name: c for c in infer_collections(spec)}
        self.listeners: list[StateListener] = []
        self.shared_state = shared  # None: the data lives in this process only
        # A generated item is bounded well below a collection's byte cap: a description whose
        # item schema asks for megabytes cannot fill memory with seed items at start.
        self._faker = SchemaFaker(spec.document, seed=seed, max_bytes=GENERATED_ITEM_BYTES)
        self._responder = responder
        self._routes: dict[str, tuple[Collection, str]] = {
            op.operation_id: (collection, action)
            for collection in self.collections.values()
            for action, op in collection.operations.items()
        }
        self.limits = StateLimits(max_items, max_bytes, max_sessions, session_idle_seconds)
        self._lock = threading.RLock()
        self._clock = clock
        self._mem = StateMemory(self._empty(), self._empty(), clock=clock)
        self._list_bodies: dict[str, Any] = {}
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._entry_bytes = 0
        # While a write to a shared database runs: what it changed, and in which scope.
        self._changes: Changes | None = None
        self._scope: str | None = None

    # -- seed, reset, read (the admin API's operations) -------------------------------------

    def start(self) -> None:
        """Generate the seed (`seed_items` per top-level collection) and load it as the shared
        data; every new session starts from a copy of it.

        With a `SharedState` the database's data is loaded instead when it was made from the
        same description and seed (another replica runs, or ran, this mock); else this seed is
        written there for every replica.
        """
        with self._lock:
            # The seed is built inside the memory, so it is charged against the byte budget.
            memory = StateMemory(self._empty(), {}, clock=self._clock)
            for collection in self.collections.values():
                if not collection.parent_params:
                    partitions = memory.template[collection.name]
                    partitions.open(())
                    try:
                        for index in range(self.seed_items):
                            self._add_generated(collection, partitions, f"seed|{index}")
                    except StateLimitError as exc:
                        logger.warning("stateful mock: the seed stops short: %s", exc)
            memory.put_scope(None, dict(memory.template))  # shares the seed until it changes
            self._mem = memory
            if self.shared_state is not None:
                shape = [(c.name, c.id_field, c.id_kind) for c in self.collections.values()]
                made_from = fingerprint(
                    self.spec.document, self.seed_number, self.seed_items, shape
                )
                self.shared_state.start(self._mem, made_from)

    def close(self) -> None:
        """Close the shared database connection, if any (the data in memory stays)."""
        with self._lock:
            if self.shared_state is not None:
                self.shared_state.close()

    def sessions(self) -> list[str]:
        """Session ids that have their own data, least recently used first (shared: least
        recently written first)."""
        with self._lock:
            self._refresh()
            return list(self._mem.sessions)

    def counts(self, session_id: str | None = None) -> dict[str, int]:
        """Items per collection in the shared data or a session's (the seed if it has none)."""
        if session_id is not None:
            self._check_session(session_id)
        with self._lock:
            self._refresh()
            return self._counts(session_id)

    def _counts(self, session_id: str | None) -> dict[str, int]:
        return {name: partitions.count for name, partitions in self._view(session_id).items()}

    def items(
        self,
        name: str,
        session_id: str | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Copies of a collection's items (`limit` of them from `offset`, or all); ConfigError
        naming the collections if unknown."""
        return self.page(name, session_id, offset=offset, limit=limit)[1]

    def page(
        self,
        name: str,
        session_id: str | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many items a collection holds and copies of `limit` of them from `offset` (or
        all), read together so they agree; ConfigError naming the collections if unknown."""
        self.collection(name)
        if session_id is not None:
            self._check_session(session_id)
        with self._lock:
            self._refresh()
            partitions = self._view(session_id)[name]
            every = itertools.chain.from_iterable(i.values() for i in partitions.values())
            stop = None if limit is None else offset + limit
            chosen = [copy.deepcopy(i) for i in itertools.islice(every, offset, stop)]
            return partitions.count, chosen

    def summary(self) -> dict[str, Any]:
        """The bounds, the live sessions and every eviction and refusal so far.

        Reads counters without the lock, so a slow write never holds up a health check."""
        return self.limits.summary(self._mem)

    def collection(self, name: str) -> Collection:
        """The collection called `name`; ConfigError naming the known ones otherwise."""
        found = self.collections.get(name)
        if found is None:
            known = ", ".join(self.collections) or "none: the description defines no collection"
            raise ConfigError(f"unknown collection {name!r} (collections: {known})")
        return found

    def seed(
        self,
        collection: str | None = None,
        *,
        count: int | None = None,
        items: list[Any] | None = None,
        session_id: str | None = None,
    ) -> dict[str, int]:
        """Add `count` generated items (or the explicit `items`) to one top-level collection or
        all of them; returns how many were added per collection."""
        if items is not None and collection is None:
            raise ConfigError("explicit items need a collection: give 'collection' too")
        if items is not None and not all(isinstance(i, dict) for i in items):
            raise ConfigError("explicit items must be JSON objects")
        targets = [self.collection(collection)] if collection else list(self.collections.values())
        for target in targets:
            if collection and target.parent_params:
                raise ConfigError(
                    f"collection {target.name!r} is nested under {target.collection_path}; "
                    "its items belong to a parent: create them through the business API"
                )
        if session_id is not None:
            self._check_session(session_id)
        number = self.seed_items if count is None else count
        added: dict[str, int] = {}
        refused: StateLimitError | None = None
        with self._lock, self._changing(session_id):
            data = self._data(session_id)
            for target in targets:
                if target.parent_params:
                    continue
                # Items added before a cap is reached stay (and are saved); the refusal follows.
                try:
                    partitions = self._writable(data, target.name)
                except StateLimitError as exc:
                    refused = exc
                    break
                partitions.open(())
                before = partitions.count
                try:
                    if items is None:
                        for _ in range(number):
                            self._mem.serial += 1
                            self._add_generated(target, partitions, f"admin|{self._mem.serial}")
                    else:
                        for item in items:
                            self._put_explicit(target, partitions, dict(item))
                except StateLimitError as exc:
                    refused = exc
                added[target.name] = partitions.count - before if items is None else len(items)
                if refused is not None:
                    break
        if refused is not None:
            raise refused
        return added

    def reset(self, session_id: str | None = None, *, reseed: bool = True) -> dict[str, int]:
        """Back to a copy of the seed (or to empty collections); returns the counts after.

        With a `SharedState` this resets the data of every replica (the shared data, or the
        session's copy, in the database)."""
        if session_id is not None:
            self._check_session(session_id)
        with self._lock, self._changing(session_id):
            fresh = dict(self._mem.template) if reseed else self._empty()
            if session_id is None:
                self._mem.put_scope(None, fresh)
            else:
                if session_id not in self._mem.sessions:
                    self.limits.admit(self._mem, session_id)
                self._mem.put_scope(session_id, fresh)
                self._mem.touch(session_id)
            if self._changes is not None:
                self._changes.scope(session_id)
            counts = self._counts(session_id)
        self._emit("state.reset", {"session_id": session_id, "collections": counts})
        return counts

    # -- business requests ------------------------------------------------------------------

    def handle(
        self,
        op: Operation,
        path_params: Mapping[str, str],
        query: str,
        headers: Iterable[tuple[bytes, bytes]],
        path: str,
        body: bytes,
    ) -> PreparedResponse | None:
        """Answer a request from the store, or None when `op` is not part of a collection."""
        route = self._routes.get(op.operation_id)
        if route is None:
            return None
        collection, action = route
        session_id = None
        if self.isolation == "session":
            for name, value in headers:
                if name.lower() == _SESSION_HEADER:
                    session_id = value.decode("latin-1").strip() or None
                    break
            if session_id is not None:
                try:
                    check_session_id(session_id)
                except StateLimitError as exc:
                    self.limits.refused_session_ids += 1
                    return exc.problem()
        parent = tuple(path_params.get(p, "") for p in collection.parent_params)
        events: list[tuple[str, dict[str, Any]]] = []

        def serve(data: Data) -> PreparedResponse:
            return self._serve(
                collection, action, op, parent, path_params, query, path, body, events, data
            )

        shared = self.shared_state
        if shared is None:
            with self._lock:
                if action in _READS:
                    prepared = serve(self._view(session_id))
                else:
                    prepared = self._limited(lambda: serve(self._data(session_id)), events)
        else:
            prepared = self._serve_shared(shared, action, session_id, events, serve)
        for event, details in events:
            self._emit(event, {"collection": collection.name, "session_id": session_id, **details})
        return prepared

    def _serve_shared(
        self,
        shared: SharedState,
        action: str,
        session_id: str | None,
        events: list[tuple[str, dict[str, Any]]],
        serve: Callable[[Data], PreparedResponse],
    ) -> PreparedResponse:
        """`serve` on the data shared through the database: a read catches up first (it
        creates no session), a write runs in `SharedState.write`. A database failure answers
        503 naming it."""
        try:
            with self._lock:
                if action in _READS:
                    shared.refresh(self._mem)
                    return serve(self._view(session_id))
                with self._changing(session_id):
                    # A refusal commits what was done before it (idle sessions evicted) and
                    # nothing else: a rollback would make every replica reload everything.
                    return self._limited(lambda: serve(self._data(session_id)), events)
        except StoreError as exc:
            events.clear()
            logger.error("stateful mock: %s", exc)
            prepared = problem(503, str(exc), title="Service Unavailable")
            prepared.source = "state"
            return prepared

    def _serve(
        self,
        collection: Collection,
        action: str,
        op: Operation,
        parent: tuple[str, ...],
        path_params: Mapping[str, str],
        query: str,
        path: str,
        body: bytes,
        events: list[tuple[str, dict[str, Any]]],
        data: Data,
    ) -> PreparedResponse:
        """Answer one request from `data` (the caller holds the lock); changes go to `events`.

        Raises StateLimitError when a write would pass a cap (see `_limited`)."""
        if action in _READS:
            partitions = data[collection.name]
        else:
            partitions = self._writable(data, collection.name)
        # Only a stored item makes a partition (charged with it): reads of any parent, and
        # writes refused or answered 404, leave nothing behind.
        items = partitions.get(parent) or {}
        if action == "list":
            return self._list(collection, op, items, query)
        if action == "create":
            return self._create(collection, op, partitions, parent, body, path, events)
        raw_id = path_params.get(collection.id_param, "")
        key = self._key(collection, raw_id)
        current = items.get(key)
        if current is None:
            if action != "replace" or "create" in collection.operations:
                return self._missing(collection, raw_id)
            # Without a POST the API creates by PUT to the item's URL (RFC 9110 9.3.4).
            return self._put_new(collection, op, partitions, parent, raw_id, body, events)
        if action == "read":
            return self._answer(op, current)
        if action == "delete":
            partitions.remove(parent, key)
            self._note(collection, parent, key, new=False)
            events.append(("state.deleted", {"id": current[collection.id_field]}))
            return self._answer(op, current)
        prepared = self._change(collection, op, partitions, parent, current, action, body)
        if prepared.status < 300:
            events.append(("state.updated", {"id": current[collection.id_field]}))
        return prepared

    def _list(
        self, collection: Collection, op: Operation, items: Items, query: str
    ) -> PreparedResponse:
        pairs = parse_qsl(query, keep_blank_values=True) if query else []
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name, []).append(value)
        limit = page_number(values, collection.limit_param)
        offset = page_number(values, collection.offset_param) or 0
        page = page_number(values, collection.page_param)
        if page is not None and limit is not None and offset == 0:
            offset = max(page - 1, 0) * limit
        filters = [(n, values[n]) for n in collection.filter_params if values.get(n)]
        if filters:
            chosen = [
                i for i in items.values() if all(matches_filter(i.get(n), w) for n, w in filters)
            ]
            total = len(chosen)
            chosen = chosen[offset:] if limit is None else chosen[offset : offset + limit]
        else:  # only the page is walked
            total = len(items)
            stop = None if limit is None else offset + limit
            chosen = list(itertools.islice(items.values(), offset, stop))
        if collection.entry_schema is not None:
            chosen = [self._entry(collection, item) for item in chosen]
        shape = collection.list_shape
        value: Any = chosen
        if shape is not None and shape.array_property is not None:
            template = self._list_bodies.get(collection.name)
            if template is None:
                template = self._faker.generate(shape.schema, key=f"state|{collection.name}|list")
                template = template if isinstance(template, dict) else {}
                self._list_bodies[collection.name] = template
            value = {**template, shape.array_property: chosen}
            for name in shape.total_fields:
                value[name] = total
            for name, used in ((collection.limit_param, limit), (collection.offset_param, offset)):
                if name is not None and isinstance(template.get(name), int) and used is not None:
                    value[name] = used
        return self._answer(op, value)

    def _entry(self, collection: Collection, item: dict[str, Any]) -> dict[str, Any]:
        """A listed entry when the list shows a summary: generated for the entry schema once
        per id, with the item's own values for the properties both share."""
        cache_key = (collection.name, str(item.get(collection.id_field)))
        base = self._entries.get(cache_key)
        if base is None:
            value = self._faker.generate(
                collection.entry_schema, key=f"state|{collection.name}|entry|{cache_key[1]}"
            )
            base = value if isinstance(value, dict) else {}
            charge = item_charge(encode_item(base))
            if (
                len(self._entries) >= _ENTRY_CACHE
                or self._entry_bytes + charge > _ENTRY_CACHE_BYTES
            ):
                self._entries.clear()
                self._entry_bytes = 0
            self._entries[cache_key] = base
            self._entry_bytes += charge
        return {**base, **{k: v for k, v in item.items() if k in collection.entry_fields}}

    def _create(
        self,
        collection: Collection,
        op: Operation,
        partitions: Partitions,
        parent: tuple[str, ...],
        body: bytes,
        path: str,
        events: list[tuple[str, dict[str, Any]]],
    ) -> PreparedResponse:
        sent = json_object(body)
        if sent is None:
            return _not_object(collection, op)
        id_field = collection.id_field
        given = sent.pop(id_field, None)
        items = partitions.get(parent, {})
        if given is not None and id_field not in collection.read_only:
            if self._key(collection, str(given)) in items:
                return problem(
                    409,
                    f"{collection.name} already holds an item with {id_field} {given!r}",
                    collection=collection.name,
                    id=given,
                )
        else:
            given = None
        self._mem.serial += 1
        item = self._generated(collection, f"new|{self._mem.serial}")
        item.update(sent)
        item_id = given if given is not None else self._new_id(collection, partitions, parent)
        stored = self._store(collection, partitions, parent, item_id, item)
        events.append(("state.created", {"id": item_id}))
        prepared = self._answer(op, stored)
        if prepared.status == 201:
            location = f"{path.rstrip('/')}/{quote(str(item_id), safe='')}"
            prepared.headers.append((b"location", location.encode("latin-1", "replace")))
        return prepared

    def _put_new(
        self,
        collection: Collection,
        op: Operation,
        partitions: Partitions,
        parent: tuple[str, ...],
        raw_id: str,
        body: bytes,
        events: list[tuple[str, dict[str, Any]]],
    ) -> PreparedResponse:
        sent = json_object(body)
        if sent is None:
            return _not_object(collection, op)
        sent.pop(collection.id_field, None)
        self._mem.serial += 1
        item = self._generated(collection, f"new|{self._mem.serial}")
        item.update(sent)
        item_id: Any = raw_id
        if collection.id_kind == "integer":
            with contextlib.suppress(ValueError):
                item_id = int(raw_id)
        stored = self._store(collection, partitions, parent, item_id, item)
        events.append(("state.created", {"id": item_id}))
        return self._answer(op, stored, "201" if "201" in op.responses else None)

    def _change(
        self,
        collection: Collection,
        op: Operation,
        partitions: Partitions,
        parent: tuple[str, ...],
        current: dict[str, Any],
        action: str,
        body: bytes,
    ) -> PreparedResponse:
        sent = json_object(body)
        if sent is None:
            return _not_object(collection, op)
        sent.pop(collection.id_field, None)  # the id is the URL's: a body cannot move an item
        if action == "replace":
            item = self._generated(collection, f"replace|{current[collection.id_field]}")
            item.update({k: v for k, v in current.items() if k in collection.read_only})
            item.update(sent)
        else:
            item = merge_patch(copy.deepcopy(current), sent)
        stored = self._store(collection, partitions, parent, current[collection.id_field], item)
        return self._answer(op, stored)

    # -- pieces -----------------------------------------------------------------------------

    def _empty(self) -> Data:
        return {name: Partitions() for name in self.collections}

    def _refresh(self) -> None:
        """Shared: catch up with what other replicas wrote (one SELECT when nothing)."""
        if self.shared_state is not None:
            self.shared_state.refresh(self._mem)

    @contextlib.contextmanager
    def _changing(self, scope: str | None) -> Iterator[None]:
        """Shared: the write transaction that saves what the block changes in `scope` (the
        caller holds the lock); else nothing."""
        if self.shared_state is None:
            yield
            return
        with self.shared_state.write(self._mem) as changes:
            self._changes, self._scope = changes, scope
            try:
                yield
            finally:
                self._changes, self._scope = None, None

    def _note(
        self, collection: Collection, parent: tuple[str, ...], key: str, *, new: bool
    ) -> None:
        """Shared: record a stored (`new`: newly placed) or removed item for the write."""
        if self._changes is not None:
            self._changes.item(self._scope, collection.name, parent, key, new=new)

    def _limited(
        self, serve: Callable[[], PreparedResponse], events: list[tuple[str, dict[str, Any]]]
    ) -> PreparedResponse:
        """`serve()`, or the problem a cap it hit answers (then nothing was stored)."""
        try:
            return serve()
        except StateLimitError as exc:
            events.clear()
            return exc.problem()

    def _view(self, session_id: str | None) -> Data:
        """Data to read without creating a session (its seed copy would look the same); the
        caller has checked `session_id`."""
        if session_id is None:
            return self._mem.shared
        data = self._mem.sessions.get(session_id)
        if data is None:
            return self._mem.template
        if self.shared_state is None:
            # A read is use too; on a shared database only writes are (the replicas agree on
            # the order only through what they write).
            self._mem.touch(session_id)
        return data

    def _data(self, session_id: str | None) -> Data:
        """Data to change; a new session starts from a copy of the seed when there is room
        (StateLimitError otherwise), and sessions idle past the limit are evicted. The caller
        has checked `session_id`."""
        if session_id is None:
            return self._mem.shared
        self.limits.expire(self._mem)
        data = self._mem.sessions.get(session_id)
        if data is None:
            self.limits.admit(self._mem, session_id)
            data = dict(self._mem.template)
            self._mem.put_scope(session_id, data)
            if self._changes is not None:
                self._changes.scope(session_id)
        self._mem.touch(session_id)
        return data

    def _writable(self, data: Data, name: str) -> Partitions:
        """`data`'s collection `name`, ready to change; copying it from the seed must fit the
        byte budget (StateLimitError otherwise)."""
        cost = self._mem.copy_cost(data, name)
        if cost:
            self.limits.check_bytes(name, self._mem.held, cost)
        return self._mem.writable(data, name)

    def _check_session(self, session_id: str) -> None:
        if self.isolation != "session":
            raise ConfigError(
                f"session_id {session_id!r} given, but this mock shares one state between "
                "all clients; start it with state_isolation='session'"
            )
        check_session_id(session_id)

    def _key(self, collection: Collection, raw: str) -> str:
        if collection.id_kind == "integer":
            try:
                return str(int(raw))
            except ValueError:
                return raw
        return raw

    def _generated(self, collection: Collection, key: str) -> dict[str, Any]:
        if collection.item_schema is None:
            return {}
        value = self._faker.generate(collection.item_schema, key=f"state|{collection.name}|{key}")
        return value if isinstance(value, dict) else {}

    def _add_generated(self, collection: Collection, partitions: Partitions, key: str) -> None:
        item = self._generated(collection, key)
        items = partitions.get((), {})
        candidate = item.get(collection.id_field)
        usable = collection.id_kind != "integer" and isinstance(candidate, str) and candidate
        if not usable or self._key(collection, str(candidate)) in items:
            candidate = None  # integer ids count up from 1; others keep a distinct generated id
        item_id = (
            candidate if candidate is not None else self._new_id(collection, partitions, (), key)
        )
        self._store(collection, partitions, (), item_id, item)

    def _put_explicit(
        self, collection: Collection, partitions: Partitions, item: dict[str, Any]
    ) -> None:
        item_id = item.get(collection.id_field)
        if item_id is None:
            item_id = self._new_id(collection, partitions, ())
        self._store(collection, partitions, (), item_id, item)

    def _new_id(
        self,
        collection: Collection,
        partitions: Partitions,
        parent: tuple[str, ...],
        key: str | None = None,
    ) -> Any:
        """A new id for an item of `parent`'s partition, in constant time for integer and
        uuid ids: integers count up from the highest one the partition has held."""
        items = partitions.get(parent, {})
        if collection.id_kind == "integer":
            minimum = collection.id_schema.get("minimum", 1)
            start = int(minimum) if isinstance(minimum, int | float) else 1
            top = partitions.top(parent)
            return start if top is None or top < start else top + 1
        if collection.id_kind == "uuid":
            if key is not None:  # seeded items keep the same ids from run to run
                return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockloop:{collection.name}:{key}"))
            return str(uuid.uuid4())
        if any(k in collection.id_schema for k in _STRING_RULES):
            # A constrained id (`^HS[0-9a-f]{32}$`, a length) is made by the faker so it keeps
            # matching its schema; a few draws find one not taken yet.
            for attempt in range(20):
                self._mem.serial += 1
                value = self._faker.generate(
                    collection.id_schema,
                    key=f"state|{collection.name}|id|{self._mem.serial}|{attempt}",
                )
                if isinstance(value, str) and value and value not in items:
                    return value
        # One past the highest `name-N` the partition has held: the walk below never steps
        # unless an id was stored around `Partitions.put`, so explicit ids cannot slow it.
        number = partitions.suffix(parent) + 1
        while f"{collection.singular}-{number}" in items:
            number += 1
        return f"{collection.singular}-{number}"

    def _store(
        self,
        collection: Collection,
        partitions: Partitions,
        parent: tuple[str, ...],
        item_id: Any,
        item: dict[str, Any],
    ) -> dict[str, Any]:
        """Keep `item` under `item_id`, within the caps (StateLimitError otherwise)."""
        for name in collection.write_only:  # never answered, so never kept
            item.pop(name, None)
        item[collection.id_field] = item_id
        key = self._key(collection, str(item_id))
        charge = item_charge(encode_item(item))
        old = partitions.get(parent, {}).get(key)
        old_charge = None if old is None else item_charge(encode_item(old))
        grown = partitions.cost(parent, charge, old_charge)
        self.limits.check_item(collection.name, partitions, int(old is None), grown)
        new = partitions.put(parent, key, item, charge, old_charge)
        self._note(collection, parent, key, new=new)
        return item

    def _answer(self, op: Operation, value: Any, wanted: str | None = None) -> PreparedResponse:
        status_key = wanted or default_status(op)
        status = int(status_key) if status_key.isdigit() else 200
        response = op.responses.get(status_key)
        media = None
        if response is not None and response.content:
            media = next((m for m in response.content if is_json_media(m)), None)
            media = media or next(iter(response.content))
        if status == 204 or response is None or media is None:
            return PreparedResponse(status, [], b"", source="state")
        if self._responder is not None:
            # The documented response headers, made as for any other response.
            headers = self._responder._headers(op, response, media, {})
        else:
            content_type = "application/json" if media == "*/*" else media
            headers = [(b"content-type", content_type.encode("latin-1"))]
        return PreparedResponse(status, headers, encode_body(value, media), source="state")

    def _missing(self, collection: Collection, raw_id: str) -> PreparedResponse:
        prepared = problem(
            404,
            f"{collection.name} has no item with {collection.id_field} {raw_id!r}",
            title="Not Found",
            collection=collection.name,
            id=raw_id,
        )
        prepared.source = "state"
        return prepared

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, data)
            except Exception:  # a listener must never fail a request
                logger.exception("stateful mock: listener failed on %s", event)


def _not_object(collection: Collection, op: Operation) -> PreparedResponse:
    prepared = problem(
        400,
        f"{op.operation_id} on the stateful collection {collection.name!r} needs a JSON object "
        "body",
    )
    prepared.source = "state"
    return prepared
