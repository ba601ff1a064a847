"""Stateful data at scale: caps on items and bytes per collection, session eviction by idle
time and a cap no stranger can use to wipe a live session, X-Session-ID bounds, the counters in
`/health`, and per-item sync between replicas (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import functools
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mockloop.mock import MockConfig, MockServer, state_data, state_sync, stateful
from mockloop.mock.state.data import (
    ITEM_OVERHEAD,
    Partitions,
    encode_item,
    item_charge,
    partition_charge,
)
from mockloop.mock.state.limits import check_session_id
from mockloop.mock.state.store import StateStore
from mockloop.mock.state.sync import STATE_MIGRATIONS, SharedState
from mockloop.spec import load_spec
from mockloop.spec.model import ApiSpec
from mockloop.store.database import Location, connect
from tests.conftest import PETSTORE


class FakeClock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def spec() -> ApiSpec:
    return load_spec(str(PETSTORE))


@contextlib.contextmanager
def serve(
    monkeypatch: pytest.MonkeyPatch | None = None, clock: FakeClock | None = None, **settings: Any
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The pet store, stateful, on free ports; with `clock`, its state ages by that clock."""
    if clock is not None and monkeypatch is not None:
        monkeypatch.setattr(
            "mockloop.mock.runtime.StateStore", functools.partial(StateStore, clock=clock)
        )
    values: dict[str, Any] = {
        "port": 0,
        "admin_port": 0,
        "auth": False,
        "stateful": True,
        "storage": False,
    }
    values.update(settings)
    with MockServer(MockConfig.build(spec=str(PETSTORE), **values)) as server:
        assert server.admin_url is not None
        with (
            httpx.Client(base_url=server.business_url, timeout=10) as api,
            httpx.Client(base_url=server.admin_url, timeout=10) as admin,
        ):
            yield api, admin


def state_health(admin: httpx.Client) -> dict[str, Any]:
    health = admin.get("/health")
    assert health.status_code == 200
    return health.json()["state"]


class Direct:
    """Requests to a StateStore without HTTP (the pet store's operations)."""

    def __init__(self, spec: ApiSpec, store: StateStore) -> None:
        self.spec = spec
        self.store = store

    def call(
        self,
        operation: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        session: str | None = None,
        query: str = "",
    ) -> tuple[int, Any]:
        headers = [(b"X-Session-ID", session.encode())] if session else []
        raw = b"" if body is None else orjson.dumps(body)
        prepared = self.store.handle(
            self.spec.operation(operation), params or {}, query, headers, path, raw
        )
        assert prepared is not None
        return prepared.status, orjson.loads(prepared.body) if prepared.body else None

    def create(self, name: str, session: str | None = None) -> tuple[int, Any]:
        return self.call("createPet", "/pets", body={"name": name}, session=session)

    def ids(self, session: str | None = None) -> list[int]:
        status, pets = self.call("listPets", "/pets", session=session, query="limit=100000")
        assert status == 200
        return [p["id"] for p in pets]


# -- caps on a collection ----------------------------------------------------------------------


def test_the_item_cap_refuses_with_a_problem_and_keeps_what_is_stored() -> None:
    with serve(state_max_items=5) as (api, admin):
        made = [api.post("/pets", json={"name": f"p{n}"}) for n in range(2)]
        assert [r.status_code for r in made] == [201, 201]
        refused = api.post("/pets", json={"name": "one too many"})
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["collection"] == "pets" and problem["limit"] == "state_max_items"
        assert problem["max_items"] == 5 and problem["flag"] == "--state-max-items"
        assert "'pets'" in problem["detail"] and "--state-max-items" in problem["detail"]

        listed = api.get("/pets", params={"limit": 100}).json()
        assert [p["id"] for p in listed] == [1, 2, 3, 4, 5]
        for pet in listed:
            assert api.get(f"/pets/{pet['id']}").json() == pet
        # A replace within the cap still works; a delete makes room again.
        assert api.put("/pets/5", json={"name": "renamed"}).status_code == 200
        assert api.delete("/pets/1").status_code == 204
        assert api.post("/pets", json={"name": "fits now"}).json()["id"] == 6
        assert state_health(admin)["refused_items"] == 1

        seeded = admin.post("/api/state/seed", json={"collection": "pets", "count": 2})
        assert seeded.status_code == 409 and seeded.json()["limit"] == "state_max_items"
        assert admin.get("/api/state/pets").json()["count"] == 5


def charged(store: StateStore) -> int:
    """The byte budget's charge for everything `store` holds, counted afresh (each partition
    object once, however many scopes share it)."""
    memory = store._mem
    held: dict[int, Partitions] = {}
    for data in (memory.template, memory.shared, *memory.sessions.values()):
        for partitions in data.values():
            held[id(partitions)] = partitions
    return sum(
        partition_charge(parent) + sum(item_charge(encode_item(i)) for i in items.values())
        for partitions in held.values()
        for parent, items in partitions.items()
    )


def test_the_byte_budget_refuses_with_a_problem_and_keeps_what_is_stored(spec: ApiSpec) -> None:
    seeded = StateStore(spec)
    seeded.start()
    budget = seeded._mem.held + 8 * 1024  # the seed counts: room for about a dozen pets more
    store = StateStore(spec, max_bytes=budget)
    store.start()
    assert store._mem.held == seeded._mem.held == charged(store)
    direct = Direct(spec, store)
    statuses = [direct.create("x" * 60)[0] for _ in range(40)]
    assert 201 in statuses and statuses[-1] == 409
    first_refusal = statuses.index(409)
    assert set(statuses[first_refusal:]) == {409}  # once full, every further create is refused
    status, problem = direct.create("y" * 60)
    assert status == 409 and problem["limit"] == "state_max_bytes"
    assert problem["flag"] == "--state-max-bytes" and problem["max_bytes"] == budget
    assert problem["title"] == "State Full" and "--state-max-bytes" in problem["detail"]
    assert len(store.items("pets")) == 3 + first_refusal
    assert store._mem.held == charged(store) <= budget
    assert store.summary()["refused_bytes"] == 40 - first_refusal + 1
    assert store.summary()["held_bytes"] == store._mem.held
    # A change that shrinks an item is taken even at the cap.
    last = store.items("pets")[-1]["id"]
    patched = direct.call(
        "updatePet", f"/pets/{last}", params={"petId": str(last)}, body={"name": "short"}
    )
    assert patched[0] == 200


def test_many_sessions_together_hit_the_process_wide_budget(spec: ApiSpec) -> None:
    budget = 256 * 1024
    store = StateStore(spec, isolation="session", max_bytes=budget, max_sessions=1000)
    store.start()
    direct = Direct(spec, store)
    refused: dict[str, Any] | None = None
    sessions = 0
    while refused is None and sessions < 500:
        sessions += 1
        for n in range(3):
            status, body = direct.create(f"pet {n} " + "z" * 50, session=f"run-{sessions}")
            if status != 201:
                assert status == 409
                refused = body
                break
    assert refused is not None, "500 sessions of 3 pets each never reached the budget"
    assert refused["limit"] == "state_max_bytes" and refused["flag"] == "--state-max-bytes"
    # No one collection came near the budget: only the total of every session's data did.
    own = [data["pets"].charged for data in store._mem.sessions.values()]
    assert max(own) < budget / 10 and sessions > 10
    assert store._mem.held == charged(store) <= budget
    # A session reset (or evicted) gives its room back.
    before = store._mem.held
    store.reset("run-1")
    assert store._mem.held < before and store._mem.held == charged(store)
    assert direct.create("fits again", session="run-1")[0] == 201


def test_a_session_is_charged_only_for_what_it_copies(spec: ApiSpec) -> None:
    store = StateStore(spec, isolation="session")
    store.start()
    direct = Direct(spec, store)
    memory = store._mem
    seed = memory.held
    assert seed == charged(store) and memory.shared["pets"] is memory.template["pets"]
    assert direct.ids("a") == [1, 2, 3] and memory.held == seed  # a read copies nothing
    status, pet = direct.create("A's", session="a")
    assert status == 201
    copied = memory.template["pets"].charged
    grown = item_charge(encode_item(pet))  # the stored item is what was answered
    assert memory.held == seed + copied + grown == charged(store)
    assert direct.create("A's second", session="a")[0] == 201  # no second copy
    assert memory.held == charged(store) < seed + 2 * copied + 2 * grown + 500
    store.reset("a")
    assert memory.held == seed == charged(store)
    memory.forget("a")
    assert memory.held == seed


def test_the_charge_covers_the_memory_an_item_takes() -> None:
    shapes = {
        "empty": b"{}",
        "pet": b'{"id":12345,"name":"Rex","tag":"dog"}',
        "empty objects": b'{"a":[' + b",".join([b"{}"] * 1000) + b"]}",
        "empty arrays": b'{"a":[' + b",".join([b"[]"] * 1000) + b"]}",
        "floats": b'{"a":[' + b",".join([b"1.5"] * 1000) + b"]}",
        "one-letter strings": b'{"a":[' + b",".join([b'"a"'] * 1000) + b"]}",
        "small objects": b'{"a":[' + b",".join([b'{"x":1}'] * 1000) + b"]}",
        "many keys": b"{" + b",".join(b'"%x":0' % i for i in range(20000)) + b"}",
        "deep arrays": b'{"a":' + b"[" * 200 + b"]" * 200 + b"}",
        "long string": b'{"a":"' + b"x" * 100_000 + b'"}',
    }
    for name, text in shapes.items():
        tracemalloc.start()
        try:
            held = [orjson.loads(text) for _ in range(5)]
            taken, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(held) == 5
        assert item_charge(text) * 5 >= taken, name
    assert item_charge(b"{}") >= ITEM_OVERHEAD  # a million {} cannot slip through


def test_running_totals_match_the_items_after_every_kind_of_write(spec: ApiSpec) -> None:
    store = StateStore(spec)
    store.start()
    direct = Direct(spec, store)
    for n in range(20):
        assert direct.create(f"pet {n}" * (n + 1))[0] == 201
    for pet_id in (4, 9, 13):
        assert direct.call("deletePet", f"/pets/{pet_id}", params={"petId": str(pet_id)})[0] == 204
    direct.call("updatePet", "/pets/5", params={"petId": "5"}, body={"name": "z" * 500})
    store.seed("pets", items=[{"id": 6, "name": "explicit"}, {"id": 900, "name": "far"}])
    partitions = store._mem.shared["pets"]
    items = store.items("pets")
    assert partitions.count == len(items) == 3 + 20 - 3 + 1
    assert partitions.charged == partition_charge(()) + sum(
        item_charge(encode_item(i)) for i in items
    )
    assert store._mem.held == charged(store)
    assert direct.create("after the far one")[1]["id"] == 901  # ids count up from the highest


def test_an_update_encodes_each_item_once(spec: ApiSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore(spec)
    store.start()
    direct = Direct(spec, store)
    encoded: list[Any] = []

    def counting(item: Any) -> bytes:
        encoded.append(item)
        return encode_item(item)

    monkeypatch.setattr(state_data, "encode_item", counting)
    monkeypatch.setattr(stateful, "encode_item", counting)
    status, _ = direct.call("updatePet", "/pets/2", params={"petId": "2"}, body={"name": "Two"})
    assert status == 200
    assert len(encoded) == 2  # the new item and the one it replaces, once each


def test_the_session_id_is_checked_once_per_request(
    spec: ApiSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(spec, isolation="session")
    store.start()
    direct = Direct(spec, store)
    checked: list[str] = []

    def counting(value: str) -> None:
        checked.append(value)
        check_session_id(value)

    monkeypatch.setattr(stateful, "check_session_id", counting)
    assert direct.create("A's", session="a")[0] == 201
    assert checked == ["a"]
    assert direct.call("getPet", "/pets/4", params={"petId": "4"}, session="a")[0] == 200
    assert checked == ["a", "a"]


def test_five_thousand_creates_get_unique_ids(spec: ApiSpec) -> None:
    store = StateStore(spec)
    store.start()
    direct = Direct(spec, store)
    ids = []
    for n in range(5000):
        status, pet = direct.create(f"pet {n}")
        assert status == 201
        ids.append(pet["id"])
    assert len(set(ids)) == 5000 and ids == list(range(4, 5004))
    assert store.counts()["pets"] == 5003
    status, page = direct.call("listPets", "/pets", query="limit=3")
    assert status == 200 and [p["id"] for p in page] == [1, 2, 3]
    status, last = direct.call("getPet", "/pets/5003", params={"petId": "5003"})
    assert status == 200 and last["name"] == "pet 4999"


# -- sessions ---------------------------------------------------------------------------------


def test_a_full_session_table_refuses_newcomers_until_one_is_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    settings = {"state_isolation": "session", "state_max_sessions": 2}
    with serve(monkeypatch, clock, state_session_idle_seconds=60, **settings) as (api, admin):
        a, b, c = ({"X-Session-ID": name} for name in ("agent-a", "agent-b", "stranger"))
        assert api.post("/pets", json={"name": "A's"}, headers=a).json()["id"] == 4
        assert api.post("/pets", json={"name": "B's"}, headers=b).json()["id"] == 4

        refused = api.post("/pets", json={"name": "C's"}, headers=c)
        assert refused.status_code == 429
        problem = refused.json()
        assert problem["limit"] == "state_max_sessions" and problem["max_sessions"] == 2
        assert "--state-max-sessions" in problem["detail"]
        assert int(refused.headers["retry-after"]) == 60
        assert api.get("/pets/4", headers=a).json()["name"] == "A's"  # nothing was wiped
        # Reading as an unknown session takes no slot: it sees the seed.
        assert [p["id"] for p in api.get("/pets", headers=c).json()] == [1, 2, 3]

        clock.advance(30)
        assert api.get("/pets/4", headers=b).status_code == 200  # b stays in use
        clock.advance(31)  # a: 61 s idle, past the limit; b: 31 s
        accepted = api.post("/pets", json={"name": "C's"}, headers=c)
        assert accepted.status_code == 201 and accepted.json()["id"] == 4
        assert api.get("/pets/4", headers=a).status_code == 404  # a's data is gone
        assert api.get("/pets/4", headers=b).json()["name"] == "B's"

        state = state_health(admin)
        assert state["sessions"] == 2 and state["max_sessions"] == 2
        assert state["evicted_idle"] == 1 and state["refused_sessions"] == 1
        summary = admin.get("/api/state").json()
        assert set(summary["sessions"]) == {"agent-b", "stranger"}
        assert summary["limits"]["evicted_idle"] == 1


def test_a_bad_session_id_is_a_400(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(state_isolation="session") as (api, admin):
        for value in ("has space", "semi;colon", "x" * 129):
            refused = api.post("/pets", json={"name": "x"}, headers={"X-Session-ID": value})
            assert refused.status_code == 400, value
            assert "X-Session-ID must be 1-128 characters" in refused.json()["detail"]
        ok = api.post("/pets", json={"name": "x"}, headers={"X-Session-ID": "run-7:a/b=c"})
        assert ok.status_code == 201
        assert state_health(admin)["refused_session_ids"] == 3
        bad = admin.get("/api/state", params={"session_id": "no way"})
        assert bad.status_code == 400 and "X-Session-ID" in bad.json()["detail"]


# -- replicas on a database --------------------------------------------------------------------


def replica(spec: ApiSpec, location: Location, **settings: Any) -> Direct:
    store = StateStore(spec, shared=SharedState(location), **settings)
    store.start()
    return Direct(spec, store)


def test_session_cap_and_eviction_reach_every_replica(
    database, tmp_path: Path, spec: ApiSpec
) -> None:
    clock = FakeClock()
    location = database.location("state_limits", tmp_path / "state.db")
    settings = {
        "isolation": "session",
        "max_sessions": 2,
        "session_idle_seconds": 60,
        "clock": clock,
    }
    one, two = replica(spec, location, **settings), replica(spec, location, **settings)
    try:
        assert one.create("A's", session="a")[0] == 201
        assert one.create("B's", session="b")[0] == 201
        status, problem = two.create("C's", session="c")
        assert status == 429 and problem["flag"] == "--state-max-sessions"
        assert two.ids("a") == [1, 2, 3, 4]  # the refusal wiped nothing
        clock.advance(30)
        assert two.create("B's second", session="b")[0] == 201
        clock.advance(31)
        assert two.create("C's", session="c")[0] == 201
        assert one.store.sessions() == two.store.sessions() == ["b", "c"]
        assert one.ids("a") == [1, 2, 3]  # evicted everywhere: back to the seed
        assert one.ids("b") == [1, 2, 3, 4, 5]
        assert two.store.summary()["evicted_idle"] == 1
        assert two.store.summary()["refused_sessions"] == 1
    finally:
        one.store.close()
        two.store.close()


def test_replicas_follow_item_writes_deletes_and_order(
    database, tmp_path: Path, spec: ApiSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_sync, "_PURGE_EVERY", 8)  # tombstones purged often
    location = database.location("state_limits", tmp_path / "state.db")
    one, two = replica(spec, location), replica(spec, location)
    try:
        for n in range(30):
            assert one.create(f"pet {n}")[0] == 201
        assert two.ids() == list(range(1, 34))
        for pet_id in range(2, 30, 3):
            assert one.call("deletePet", f"/pets/{pet_id}", params={"petId": str(pet_id)})[0] == 204
        one.call("updatePet", "/pets/7", params={"petId": "7"}, body={"name": "seven"})
        expected = [i for i in range(1, 34) if i < 2 or i >= 30 or (i - 2) % 3]
        assert two.ids() == one.ids() == expected  # two fell behind the purge: reloaded
        assert two.call("getPet", "/pets/7", params={"petId": "7"})[1]["name"] == "seven"
        # Ids keep counting up on the other replica; writes there reach the first.
        assert two.create("from two")[1]["id"] == 34
        assert one.ids()[-1] == 34
        assert two.store._mem.shared["pets"].count == one.store._mem.shared["pets"].count
        later = replica(spec, location)  # a replica started now loads the same data
        assert later.ids() == one.ids()
        later.store.close()
    finally:
        one.store.close()
        two.store.close()


def test_a_store_at_the_old_schema_is_reseeded(tmp_path: Path, spec: ApiSpec) -> None:
    location = Location.sqlite(tmp_path / "state.db")
    conn = connect(location, STATE_MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO state_scopes (kind, session, version, data) VALUES ('shared', '', 1, '{}')"
    )
    conn.execute("UPDATE state_meta SET version = 1, fingerprint = 'old'")
    conn.close()
    direct = replica(spec, location)
    try:
        assert direct.ids() == [1, 2, 3]
        assert direct.create("new")[1]["id"] == 4
    finally:
        direct.store.close()


def test_a_recreated_item_moves_to_the_end_on_every_replica(
    database, tmp_path: Path, spec: ApiSpec
) -> None:
    location = database.location("state_limits", tmp_path / "state.db")
    one, two = replica(spec, location), replica(spec, location)
    try:
        assert two.ids() == [1, 2, 3]
        assert one.call("deletePet", "/pets/2", params={"petId": "2"})[0] == 204
        one.store.seed("pets", items=[{"id": 2, "name": "back"}])
        one.call("updatePet", "/pets/1", params={"petId": "1"}, body={"name": "first"})
        assert one.ids() == two.ids() == [1, 3, 2]  # two caught up item by item
        assert two.call("getPet", "/pets/1", params={"petId": "1"})[1]["name"] == "first"
        assert two.store.counts() == one.store.counts() == {"pets": 3, "owners": 3}
    finally:
        one.store.close()
        two.store.close()


def test_sessions_share_the_seed_until_they_change_it(spec: ApiSpec) -> None:
    store = StateStore(spec, isolation="session")
    store.start()
    direct = Direct(spec, store)
    template = store._mem.template
    assert direct.call("deletePet", "/pets/1", params={"petId": "1"}, session="a")[0] == 204
    assert direct.create("A's", session="a")[0] == 201
    session = store._mem.sessions["a"]
    assert session["pets"] is not template["pets"]  # copied when first changed
    assert session["owners"] is template["owners"]  # never changed: still the seed's
    assert [p["id"] for p in store.items("pets")] == [1, 2, 3]  # the seed is untouched
    assert direct.ids("b") == [1, 2, 3]
    assert direct.create("B's", session="b")[1]["id"] == 4
    assert direct.ids("a") == [2, 3, 4] and direct.ids("b") == [1, 2, 3, 4]
    store.reset("a")
    assert direct.ids("a") == [1, 2, 3] and template["pets"].count == 3


def test_sessions_are_ordered_by_use_after_a_reload(tmp_path: Path, spec: ApiSpec) -> None:
    clock = FakeClock()
    location = Location.sqlite(tmp_path / "state.db")
    settings = {
        "isolation": "session",
        "max_sessions": 2,
        "session_idle_seconds": 60,
        "clock": clock,
    }
    direct = replica(spec, location, **settings)
    try:
        assert direct.create("A's", session="a")[0] == 201
        clock.advance(10)
        assert direct.create("B's", session="b")[0] == 201
        clock.advance(10)
        # A write that changes nothing is use too, but moves nothing in the database.
        gone = direct.call("deletePet", "/pets/99", params={"petId": "99"}, session="a")
        assert gone[0] == 404
        assert direct.store.sessions() == ["b", "a"]
        shared = direct.store.shared_state
        assert shared is not None
        shared._version = -1  # as after a failed write: the next access reloads everything
        assert direct.store.sessions() == ["b", "a"]  # least recently used first, still
        clock.advance(51)  # b: 61 s idle, past the limit; a: 51 s
        assert direct.create("C's", session="c")[0] == 201  # b is evicted, not a 429
        assert direct.store.sessions() == ["a", "c"]
        assert direct.store.summary()["evicted_idle"] == 1
    finally:
        direct.store.close()


def test_an_admin_page_and_its_count_are_one_read(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve() as (_api, admin):
        original = StateStore.counts

        def counts_then_a_write(self: StateStore, session_id: str | None = None) -> Any:
            counted = original(self, session_id)
            self.seed("pets", count=1)  # a write landing right after the count was read
            return counted

        monkeypatch.setattr(StateStore, "counts", counts_then_a_write)
        page = admin.get("/api/state/pets").json()
        assert page["count"] == len(page["items"])


# -- ids in constant time ----------------------------------------------------------------------


class CountingItems(dict[str, dict[str, Any]]):
    """A partition that counts lookups and walks."""

    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        super().__init__(items)
        self.lookups = 0
        self.walks = 0

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.walks += 1
        return super().__iter__()

    def values(self) -> Any:
        self.walks += 1
        return super().values()

    def keys(self) -> Any:
        self.walks += 1
        return super().keys()

    def items(self) -> Any:
        self.walks += 1
        return super().items()


def _instrument(store: StateStore, name: str) -> CountingItems:
    partitions = store._mem.shared[name]
    counting = CountingItems(partitions[()])
    partitions[()] = counting
    return counting


@pytest.mark.parametrize("size", [1000, 20_000])
def test_a_string_id_is_assigned_without_walking_the_collection(size: int) -> None:
    from tests.core.test_stateful import BOARD

    document = orjson.loads(orjson.dumps(BOARD))
    del document["components"]["schemas"]["Item"]["properties"]["itemId"]["readOnly"]
    board = load_spec(document)
    store = StateStore(board, seed_items=0, max_items=size + 10)
    store.start()
    direct = Direct(board, store)
    # A client names its own ids in the generated shape, past the count of items: the ids a
    # count-based guess would try first are all taken.
    store.seed("items", items=[{"itemId": f"item-{n}"} for n in range(size + 1, 2 * size)])
    body = {"itemId": f"item-{2 * size}", "title": "mine", "colour": "red"}
    assert direct.call("createItem", "/items", body=body)[0] == 201
    counting = _instrument(store, "items")
    status, made = direct.call("createItem", "/items", body={"title": "t", "colour": "red"})
    assert status == 201 and made["itemId"] == f"item-{2 * size + 1}"
    assert counting.walks == 0 and counting.lookups <= 2  # the same at 1,000 and 20,000
    status, made = direct.call("createItem", "/items", body={"title": "u", "colour": "blue"})
    assert made["itemId"] == f"item-{2 * size + 2}" and counting.lookups <= 4
    # A deleted id is not handed out again.
    last = made["itemId"]
    assert direct.call("deleteItem", f"/items/{last}", params={"itemId": last})[0] == 204
    status, made = direct.call("createItem", "/items", body={"title": "v", "colour": "red"})
    assert made["itemId"] == f"item-{2 * size + 3}"


@pytest.mark.parametrize("size", [1000, 20_000])
def test_an_integer_id_is_assigned_without_walking_the_collection(spec: ApiSpec, size: int) -> None:
    store = StateStore(spec, seed_items=0, max_items=size + 10)
    store.start()
    direct = Direct(spec, store)
    store.seed("pets", items=[{"id": n, "name": "p"} for n in range(1, size + 1)])
    counting = _instrument(store, "pets")
    status, made = direct.create("one more")
    assert status == 201 and made["id"] == size + 1
    assert counting.walks == 0 and counting.lookups == 0


def test_a_refused_or_missing_write_leaves_no_partition() -> None:
    from tests.core.test_stateful import BOARD

    board = load_spec(BOARD)
    store = StateStore(board, max_items=1)
    store.start()
    direct = Direct(board, store)
    held = store._mem.held
    for n in range(20):
        path = f"/items/{'p' * 100}{n}/notes"
        direct.call("getNote", f"{path}/1", params={"itemId": f"{'p' * 100}{n}", "noteId": "1"})
    assert list(store._mem.shared["notes"]) == []  # reads make no partition
    assert direct.call("addNote", "/items/x/notes", params={"itemId": "x"}, body={})[0] == 201
    assert store._mem.held > held
    partitions = dict(store._mem.shared["notes"])
    for n in range(20):
        parent = f"{'p' * 100}{n}"
        status, _ = direct.call(
            "addNote", f"/items/{parent}/notes", params={"itemId": parent}, body={"text": "x"}
        )
        assert status == 409  # the collection is full (state_max_items 1)
    assert dict(store._mem.shared["notes"]) == partitions
    assert store._mem.held == charged(store)
