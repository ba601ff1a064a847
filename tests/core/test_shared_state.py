"""Stateful mode shared through a database: two StateStores ("replicas") on one location
answer alike, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mockloop.errors import StoreError
from mockloop.mock.state.store import StateStore
from mockloop.mock.state.sync import SharedState, decode_data, encode_data
from mockloop.spec import load_spec
from mockloop.spec.model import ApiSpec
from mockloop.store.database import DatabaseError, connect
from tests.conftest import PETSTORE
from tests.core.test_state_limits import Direct


@pytest.fixture(scope="module")
def spec() -> ApiSpec:
    return load_spec(str(PETSTORE))


class Replica(Direct):
    """One StateStore on the shared location, with the pet store's requests."""

    def __init__(self, spec: ApiSpec, location: Any, **settings: Any) -> None:
        super().__init__(spec, StateStore(spec, shared=SharedState(location), **settings))
        self.store.start()

    def ids(self, session: str | None = None) -> list[int]:
        status, pets = self.call("listPets", "/pets", session=session, query="limit=100")
        assert status == 200
        return [p["id"] for p in pets]

    def create(self, name: str, session: str | None = None) -> dict[str, Any]:
        status, pet = self.call("createPet", "/pets", body={"name": name}, session=session)
        assert status == 201, pet
        return pet

    def get(self, pet_id: int, session: str | None = None) -> tuple[int, Any]:
        return self.call(
            "getPet", f"/pets/{pet_id}", params={"petId": str(pet_id)}, session=session
        )


@pytest.fixture()
def replicas(database, tmp_path: Path, spec: ApiSpec) -> Iterator[tuple[Replica, Replica]]:
    location = database.location("state_petstore", tmp_path / "state.db")
    first, second = Replica(spec, location), Replica(spec, location)
    yield first, second
    first.store.close()
    second.store.close()


def test_a_create_through_one_is_read_through_the_other(replicas) -> None:
    one, two = replicas
    assert one.ids() == two.ids() == [1, 2, 3]
    made = one.create("Biscuit")
    assert made["id"] == 4
    status, fetched = two.get(4)
    assert status == 200 and fetched == made  # created_at and the id come back as served
    assert two.ids() == [1, 2, 3, 4]
    assert two.create("Rex")["id"] == 5  # ids count up from the newest data
    assert one.get(5)[1]["name"] == "Rex"
    status, replaced = two.call(
        "updatePet", "/pets/4", params={"petId": "4"}, body={"name": "Biscuit II"}
    )
    assert status == 200 and replaced["name"] == "Biscuit II"
    assert one.get(4)[1] == replaced


def test_a_delete_through_one_is_404_through_the_other(replicas) -> None:
    one, two = replicas
    assert two.get(2)[0] == 200
    status, _ = one.call("deletePet", "/pets/2", params={"petId": "2"})
    assert status == 204
    assert two.get(2)[0] == 404
    assert two.ids() == [1, 3]
    again, _ = two.call("deletePet", "/pets/2", params={"petId": "2"})
    assert again == 404


def test_admin_seed_reads_and_reset_reach_every_replica(replicas) -> None:
    one, two = replicas
    assert one.store.seed("pets", count=2) == {"pets": 2}
    assert two.store.counts() == {"pets": 5, "owners": 3}
    one.store.seed("pets", items=[{"id": 50, "name": "Given"}])
    assert [p["name"] for p in two.store.items("pets") if p["id"] == 50] == ["Given"]
    one.create("Local")

    # A reset through one replica resets the data of both.
    assert two.store.reset() == {"pets": 3, "owners": 3}
    assert one.ids() == [1, 2, 3] and one.get(50)[0] == 404
    assert one.store.reset(reseed=False) == {"pets": 0, "owners": 0}
    assert two.ids() == [] and two.store.counts() == {"pets": 0, "owners": 0}
    two.store.reset()
    assert one.ids() == [1, 2, 3]


def test_sessions_stay_isolated_across_replicas(database, tmp_path: Path, spec) -> None:
    location = database.location("state_petstore", tmp_path / "state.db")
    one = Replica(spec, location, isolation="session")
    two = Replica(spec, location, isolation="session")
    try:
        assert one.create("Alice's", session="alice")["id"] == 4
        assert two.ids("alice") == [1, 2, 3, 4]
        assert two.ids("bob") == [1, 2, 3] and two.ids() == [1, 2, 3]
        assert two.create("Bob's", session="bob")["id"] == 4
        assert one.get(4, "alice")[1]["name"] == "Alice's"
        assert one.get(4, "bob")[1]["name"] == "Bob's"
        assert one.call("deletePet", "/pets/1", params={"petId": "1"}, session="bob")[0] == 204
        assert two.get(1, "alice")[0] == 200 and two.get(1, "bob")[0] == 404
        # Reading a session does not make it; sessions are listed least recently written first.
        assert two.ids("carol") == [1, 2, 3]
        assert one.store.sessions() == two.store.sessions() == ["alice", "bob"]
        assert two.store.counts("alice")["pets"] == 4

        assert one.store.reset("alice") == {"pets": 3, "owners": 3}
        assert two.get(4, "alice")[0] == 404 and two.get(4, "bob")[0] == 200
        assert two.store.sessions() == ["bob", "alice"]
    finally:
        one.store.close()
        two.store.close()


def test_concurrent_writes_from_both_lose_nothing(replicas) -> None:
    one, two = replicas
    ids: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def create(replica: Replica, worker: int) -> None:
        try:
            for index in range(10):
                pet = replica.create(f"w{worker}-{index}")
                with lock:
                    ids.append(pet["id"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(r, n)) for n, r in enumerate([one, two] * 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(ids) == list(range(4, 44))
    assert one.ids() == two.ids() == list(range(1, 44))


def test_a_later_replica_loads_what_is_there(database, tmp_path: Path, spec) -> None:
    location = database.location("state_petstore", tmp_path / "state.db")
    one = Replica(spec, location)
    one.create("Kept")
    one.store.seed("owners", count=1)
    later = Replica(spec, location)  # same description and seed: nothing is wiped
    assert later.ids() == [1, 2, 3, 4] and later.store.counts()["owners"] == 4
    assert one.ids() == [1, 2, 3, 4]
    assert later.create("Next")["id"] == 5

    # Another seed size means other data: that replica seeds afresh, for everyone.
    other = Replica(spec, location, seed_items=1)
    assert other.ids() == [1] and one.ids() == [1] and later.ids() == [1]
    for replica in (one, later, other):
        replica.store.close()


def test_string_ids_patches_and_nested_items_travel(database, tmp_path: Path) -> None:
    from tests.core.test_stateful import BOARD

    board = load_spec(BOARD)
    location = database.location("state_board", tmp_path / "state.db")
    one, two = Replica(board, location), Replica(board, location)
    try:
        status, item = one.call("createItem", "/items", body={"title": "Kite", "colour": "red"})
        assert status == 201
        item_id = item["itemId"]
        params = {"itemId": item_id}
        status, patched = two.call(
            "patchItem", f"/items/{item_id}", params=params, body={"meta": {"size": 3}}
        )
        assert status == 200 and patched["title"] == "Kite" and patched["meta"]["size"] == 3
        assert one.call("getItem", f"/items/{item_id}", params=params)[1] == patched
        notes = f"/items/{item_id}/notes"
        status, note = two.call("addNote", notes, params=params, body={"text": "hi"})
        assert status == 201 and note["id"] == 1
        assert one.call("listNotes", notes, params=params)[1] == [note]
        assert one.call("listNotes", "/items/other/notes", params={"itemId": "other"})[1] == []
        status, page = one.call("listItems", "/items", query="colour=red")
        assert status == 200 and item_id in [i["itemId"] for i in page["data"]]
    finally:
        one.store.close()
        two.store.close()


def test_listeners_hear_the_writes_of_their_own_replica(replicas) -> None:
    one, two = replicas
    heard: list[tuple[str, str]] = []
    one.store.listeners.append(lambda event, _: heard.append(("one", event)))
    two.store.listeners.append(lambda event, _: heard.append(("two", event)))
    one.create("Echo")
    two.store.reset()
    assert heard == [("one", "state.created"), ("two", "state.reset")]


def test_a_failed_write_leaves_nothing_behind(replicas, monkeypatch) -> None:
    one, two = replicas

    def refuse(*_: Any) -> None:
        raise DatabaseError("disk full")

    monkeypatch.setattr(SharedState, "_save", refuse)
    status, problem = one.call("createPet", "/pets", body={"name": "Lost"})
    assert status == 503 and "could not write the stateful data: disk full" in problem["detail"]
    with pytest.raises(StoreError, match="disk full"):
        one.store.seed("pets", count=1)
    monkeypatch.undo()
    assert one.ids() == two.ids() == [1, 2, 3]  # the memory was reloaded from the database
    assert one.create("Kept")["id"] == 4 and two.get(4)[0] == 200


def test_a_broken_database_answers_503_naming_it(replicas, database) -> None:
    one, _ = replicas
    conn = connect(one.store.shared_state.location)  # type: ignore[union-attr]
    try:
        conn.execute("DROP TABLE state_meta")
    finally:
        conn.close()
    status, problem = one.call("listPets", "/pets")
    assert status == 503
    assert problem["detail"].startswith(str(one.store.shared_state.location))  # type: ignore[union-attr]
    assert "could not read the stateful data" in problem["detail"]


def test_an_unopenable_location_fails_at_start(tmp_path: Path, spec) -> None:
    from mockloop.store.database import Location

    (tmp_path / "file").write_text("not a folder")
    store = StateStore(spec, shared=SharedState(Location.sqlite(tmp_path / "file" / "s.db")))
    with pytest.raises(StoreError, match=r"file/s\.db: could not open the stateful data"):
        store.start()


@pytest.mark.parametrize("big", [None, 2**70])
def test_the_json_round_trip_keeps_what_is_served(big: int | None) -> None:
    from datetime import UTC, date, datetime

    from mockloop.mock.responder import encode_body

    item = {
        "id": 7,
        "price": 310.0,
        "when": datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC),
        "day": date(2024, 5, 1),
        "big": big,  # past 64 bits orjson refuses it: the standard library writes it
        "text": "caf\u00e9 \u2603",
        "tags": ["a", None, True],
        "nested": {"z": 1, "a": 2},
    }
    data: Any = {"pets": {(): {"7": item}, ("x", "y"): {}}, "owners": {}}
    back = decode_data(encode_data(data), ["pets", "owners", "new"])
    assert back["new"] == {} and set(back["pets"]) == {(), ("x", "y")}
    served = back["pets"][()]["7"]
    assert list(served["nested"]) == ["z", "a"] and served["big"] == big
    assert served["when"] == "2024-05-01T10:00:00.250000+00:00" and served["day"] == "2024-05-01"
    assert isinstance(served["id"], int) and isinstance(served["price"], float)
    if big is None:  # what orjson serves before and after the round trip is the same
        media = "application/json"
        assert encode_body(served, media) == encode_body(item, media)


def test_without_a_shared_state_nothing_touches_a_database(tmp_path: Path, spec) -> None:
    store = StateStore(spec)
    store.start()
    assert store.shared_state is None
    op = spec.operation("createPet")
    created = store.handle(op, {}, "", [], "/pets", b'{"name": "m"}')
    assert created is not None and created.status == 201
    store.close()
    assert list(tmp_path.iterdir()) == []
