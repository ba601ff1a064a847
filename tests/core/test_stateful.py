"""Stateful mode: collections inferred from descriptions, CRUD through real servers, sessions,
the `/api/state` admin routes and the `--stateful` command-line flags."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from mockloop.cli import build_parser, main
from mockloop.mock import MockConfig, MockServer
from mockloop.mock.state.store import StateStore
from mockloop.spec import load_spec
from mockloop.spec.validation import SchemaValidator
from tests.conftest import FIXTURES, PETSTORE

SWAGGER2 = FIXTURES / "specs" / "swagger2.yaml"

_ITEM = {"$ref": "#/components/schemas/Item"}
_NOTE = {"$ref": "#/components/schemas/Note"}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# A description with what the pet store lacks: string ids named after the parameter, a wrapped
# list with a total, PATCH, paging, and a collection nested under an item.
BOARD: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Board", "version": "1.0.0"},
    "servers": [{"url": "http://localhost/api"}],
    "paths": {
        "/items": {
            "get": {
                "operationId": "listItems",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                    {"name": "colour", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["data", "total"],
                            "properties": {
                                "data": {"type": "array", "items": _ITEM},
                                "total": {"type": "integer", "minimum": 0},
                                "service": {"type": "string"},
                            },
                        }
                    )
                },
            },
            "post": {
                "operationId": "createItem",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ITEM}},
                },
                "responses": {"201": _json(_ITEM)},
            },
        },
        "/items/{itemId}": {
            "parameters": [
                {"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {"operationId": "getItem", "responses": {"200": _json(_ITEM)}},
            "put": {
                "operationId": "replaceItem",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ITEM}},
                },
                "responses": {"200": _json(_ITEM)},
            },
            "patch": {
                "operationId": "patchItem",
                "requestBody": {
                    "required": True,
                    "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
                },
                "responses": {"200": _json(_ITEM)},
            },
            "delete": {"operationId": "deleteItem", "responses": {"204": {"description": "gone"}}},
        },
        "/items/{itemId}/notes": {
            "parameters": [
                {"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "listNotes",
                "responses": {"200": _json({"type": "array", "items": _NOTE})},
            },
            "post": {
                "operationId": "addNote",
                "requestBody": {"content": {"application/json": {"schema": _NOTE}}},
                "responses": {"201": _json(_NOTE)},
            },
        },
        "/items/{itemId}/notes/{noteId}": {
            "parameters": [
                {"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "noteId", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "get": {"operationId": "getNote", "responses": {"200": _json(_NOTE)}},
        },
        "/stats": {
            "get": {
                "operationId": "stats",
                "responses": {
                    "200": _json({"type": "object", "properties": {"n": {"type": "integer"}}})
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["itemId", "title", "colour"],
                "properties": {
                    "itemId": {"type": "string", "readOnly": True},
                    "title": {"type": "string", "minLength": 1},
                    "colour": {"type": "string", "enum": ["red", "green", "blue"]},
                    "meta": {
                        "type": "object",
                        "properties": {"size": {"type": "integer"}, "shape": {"type": "string"}},
                    },
                },
            },
            "Note": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
            },
        }
    },
}


@contextlib.contextmanager
def _serve(spec: Any, **settings: Any) -> Iterator[tuple[httpx.Client, httpx.Client, MockServer]]:
    values: dict[str, Any] = {"port": 0, "admin_port": 0, "auth": False, "stateful": True}
    values.update(settings)
    with MockServer(MockConfig.build(spec=spec, **values)) as server:
        assert server.admin_url is not None
        with (
            httpx.Client(base_url=server.business_url, timeout=10) as api,
            httpx.Client(base_url=server.admin_url, timeout=10) as admin,
        ):
            yield api, admin, server


@pytest.fixture(scope="module")
def petstore() -> Iterator[tuple[httpx.Client, httpx.Client, MockServer]]:
    with _serve(str(PETSTORE), storage=False) as served:
        yield served


@pytest.fixture()
def pets(petstore: tuple[httpx.Client, httpx.Client, MockServer]):
    api, admin, server = petstore
    assert admin.post("/api/state/reset", json={}).status_code == 200
    return api, admin, server


# -- inference -------------------------------------------------------------------------------


def test_petstore_collections_are_inferred() -> None:
    store = StateStore(load_spec(str(PETSTORE)))
    assert set(store.collections) == {"pets", "owners"}
    pets = store.collections["pets"]
    assert (pets.collection_path, pets.item_path) == ("/pets", "/pets/{petId}")
    assert (pets.id_field, pets.id_param, pets.id_kind) == ("id", "petId", "integer")
    assert set(pets.operations) == {"list", "create", "read", "replace", "delete"}
    assert pets.filter_params == ("tag",) and pets.limit_param == "limit"
    assert "secret_note" in pets.write_only
    owners = store.collections["owners"]
    assert owners.id_kind == "uuid" and set(owners.operations) == {"list", "read"}


def test_swagger2_collection_and_non_collections() -> None:
    store = StateStore(load_spec(str(SWAGGER2)))
    assert list(store.collections) == ["pets"]  # `/pets/{petId}/photo` is an action, not items
    pets = store.collections["pets"]
    assert set(pets.operations) == {"list", "create", "read"}
    assert pets.id_kind == "integer"


def test_board_inference_wrapper_nested_and_id_named_after_parameter() -> None:
    store = StateStore(load_spec(BOARD))
    assert set(store.collections) == {"items", "notes"}  # /stats is no collection
    items = store.collections["items"]
    assert (items.id_field, items.id_kind) == ("itemId", "string")
    assert items.list_shape is not None
    assert (items.list_shape.array_property, items.list_shape.total_fields) == ("data", ("total",))
    assert items.filter_params == ("colour",)
    notes = store.collections["notes"]
    assert notes.parent_params == ("itemId",) and notes.id_kind == "integer"


def test_seed_is_deterministic_with_distinct_ids() -> None:
    first = StateStore(load_spec(str(PETSTORE)), seed=7, seed_items=5)
    second = StateStore(load_spec(str(PETSTORE)), seed=7, seed_items=5)
    other = StateStore(load_spec(str(PETSTORE)), seed=8, seed_items=5)
    for store in (first, second, other):
        store.start()
    assert [p["id"] for p in first.items("pets")] == [1, 2, 3, 4, 5]
    owner_ids = [o["id"] for o in first.items("owners")]
    assert len(set(owner_ids)) == 5
    assert first.items("pets") == second.items("pets")
    assert first.items("owners") == second.items("owners")
    assert first.items("pets") != other.items("pets")


def test_summary_lists_constrained_ids_and_unreachable_ids() -> None:
    sid = {"type": "string", "pattern": "^HS[0-9a-f]{32}$"}
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "Sims", "version": "1"},
        "paths": {
            "/sims": {
                "get": {
                    "operationId": "listSims",
                    "responses": {
                        "200": _json({"type": "array", "items": {"$ref": "#/$defs/Ref"}})
                    },
                },
                "post": {
                    "operationId": "addSim",
                    "responses": {"201": _json({"$ref": "#/$defs/Sim"})},
                },
            },
            "/sims/{Sid}": {
                "parameters": [{"name": "Sid", "in": "path", "required": True, "schema": sid}],
                "get": {
                    "operationId": "getSim",
                    "responses": {"200": _json({"$ref": "#/$defs/Sim"})},
                },
            },
            "/consents": {
                "post": {
                    "operationId": "addConsent",
                    "responses": {"201": _json({"$ref": "#/$defs/Wrapped"})},
                }
            },
            "/consents/{ConsentId}": {
                "parameters": [
                    {
                        "name": "ConsentId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "get": {
                    "operationId": "getConsent",
                    "responses": {"200": _json({"$ref": "#/$defs/Wrapped"})},
                },
            },
        },
        "$defs": {
            "Sim": {
                "type": "object",
                "required": ["sid", "name", "iccid"],
                "properties": {"sid": sid, "name": {"type": "string"}, "iccid": {"type": "string"}},
            },
            "Ref": {
                "type": "object",
                "required": ["sid", "arn"],
                "additionalProperties": False,
                "properties": {"sid": sid, "arn": {"type": "string", "minLength": 5}},
            },
            "Wrapped": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "Data": {"type": "object", "properties": {"ConsentId": {"type": "string"}}}
                },
            },
        },
    }
    loaded = load_spec(spec)
    store = StateStore(loaded)
    store.start()
    assert list(store.collections) == ["sims"]  # the consent id hides inside `Data`
    sims = store.collections["sims"]
    assert sims.id_field == "sid" and sims.entry_fields == {"sid", "arn"}
    created = store.handle(loaded.operation("addSim"), {}, "", [], "/sims", b'{"name": "n"}')
    assert created is not None and created.status == 201
    new_sid = orjson.loads(created.body)["sid"]
    assert re.fullmatch(r"HS[0-9a-f]{32}", new_sid)
    listed = store.handle(loaded.operation("listSims"), {}, "", [], "/sims", b"")
    assert listed is not None
    entries = orjson.loads(listed.body)
    validator = SchemaValidator(loaded.document)
    ref_list = loaded.operation("listSims").responses["200"].content["application/json"].schema
    assert validator.errors(ref_list, entries) == []
    assert [e["sid"] for e in entries][-1] == new_sid and len(entries) == 4


# -- CRUD through a real server --------------------------------------------------------------


def test_petstore_crud_flow(pets) -> None:
    api, _, _ = pets
    created = api.post(
        "/pets", json={"name": "Biscuit", "tag": "dog", "secret_note": "bites", "price": 10}
    )
    assert created.status_code == 201, created.text
    pet = created.json()
    assert pet["id"] == 4 and pet["name"] == "Biscuit" and pet["tag"] == "dog"
    assert "secret_note" not in pet and "created_at" in pet
    assert created.headers["location"] == "/pets/4"
    spec = load_spec(str(PETSTORE))
    schema = spec.operation("getPet").responses["200"].content["application/json"].schema
    assert SchemaValidator(spec.document).errors(schema, pet) == []

    assert api.get("/pets/4").json() == pet
    assert api.get("/v1/pets/4").json() == pet  # the base path serves the same data
    listed = api.get("/pets").json()
    assert [p["id"] for p in listed] == [1, 2, 3, 4] and listed[-1] == pet

    replaced = api.put("/pets/4", json={"name": "Biscuit II", "id": 99})
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["id"] == 4 and body["name"] == "Biscuit II"
    assert body["created_at"] == pet["created_at"]  # read-only fields survive a replace
    assert api.get("/pets/4").json() == body

    deleted = api.delete("/pets/4")
    assert deleted.status_code == 204 and deleted.content == b""
    gone = api.get("/pets/4")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert "pets" in gone.json()["detail"] and gone.json()["id"] == "4"
    assert api.put("/pets/4", json={"name": "x"}).status_code == 404
    assert api.delete("/pets/4").status_code == 404
    assert [p["id"] for p in api.get("/pets").json()] == [1, 2, 3]


def test_list_filters_pages_and_validation_still_gates(pets) -> None:
    api, _, _ = pets
    for tag in ("fish", "fish", "cat"):
        assert api.post("/pets", json={"name": f"A {tag}", "tag": tag}).status_code == 201
    fish = api.get("/pets", params={"tag": "fish"}).json()
    assert len(fish) >= 2 and all(p["tag"] == "fish" for p in fish)
    assert len(api.get("/pets", params={"limit": 2}).json()) == 2
    refused = api.post("/pets", json={"tag": "dog"})  # `name` is required
    assert refused.status_code == 422
    assert len(api.get("/pets").json()) == 6


def test_rules_and_prefer_outrank_stored_data(pets) -> None:
    api, admin, _ = pets
    assert api.get("/pets/77").status_code == 404
    assert api.get("/pets/77", headers={"Prefer": "code=200"}).status_code == 200
    put = admin.put("/api/mock-data/responses/getPet", json={"status": 200, "body": {"id": 77}})
    assert put.status_code == 200, put.text
    try:
        assert api.get("/pets/77").json() == {"id": 77}
    finally:
        assert admin.delete("/api/mock-data/responses/getPet").status_code == 200
    assert api.get("/pets/77").status_code == 404


def test_concurrent_creates_get_distinct_ids(pets) -> None:
    api, _, server = pets
    ids: list[int] = []
    lock = threading.Lock()

    def create(worker: int) -> None:
        with httpx.Client(base_url=server.business_url, timeout=10) as client:
            for index in range(10):
                response = client.post("/pets", json={"name": f"w{worker}-{index}"})
                assert response.status_code == 201
                with lock:
                    ids.append(response.json()["id"])

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(ids) == list(range(4, 44))
    assert len(api.get("/pets", params={"limit": 100}).json()) == 43


def test_events_reach_listeners(pets) -> None:
    api, admin, server = pets
    state = server.runtime.state
    assert state is not None
    seen: list[tuple[str, Any]] = []
    state.listeners.append(lambda event, data: seen.append((event, data.get("id"))))
    try:
        pet_id = api.post("/pets", json={"name": "Echo"}).json()["id"]
        api.put(f"/pets/{pet_id}", json={"name": "Echo 2"})
        api.delete(f"/pets/{pet_id}")
        admin.post("/api/state/reset", json={})
    finally:
        state.listeners.clear()
    assert [e for e, _ in seen] == [
        "state.created",
        "state.updated",
        "state.deleted",
        "state.reset",
    ]
    assert seen[0][1] == pet_id


def test_board_wrapper_patch_and_nested() -> None:
    with _serve(BOARD, state_seed_items=2) as (api, _, _):
        page = api.get("/items").json()
        assert page["total"] == 2 and len(page["data"]) == 2 and isinstance(page["service"], str)
        created = api.post("/api/items", json={"title": "Kite", "colour": "red"})
        assert created.status_code == 201, created.text
        item = created.json()
        item_id = item["itemId"]
        assert isinstance(item_id, str) and item_id
        assert created.headers["location"] == f"/api/items/{item_id}"
        patched = api.patch(
            f"/items/{item_id}",
            json={"meta": {"size": 3}, "colour": "blue"},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["colour"] == "blue" and patched.json()["title"] == "Kite"
        assert patched.json()["meta"]["size"] == 3
        api.patch(
            f"/items/{item_id}",
            json={"meta": None},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert "meta" not in api.get(f"/items/{item_id}").json()

        page = api.get("/items", params={"limit": 1, "offset": 2}).json()
        assert page["total"] == 3 and [i["itemId"] for i in page["data"]] == [item_id]
        blue = api.get("/items", params={"colour": "blue"}).json()
        assert item_id in [i["itemId"] for i in blue["data"]]
        assert all(i["colour"] == "blue" for i in blue["data"])

        # nested notes live per parent item and start empty
        assert api.get(f"/items/{item_id}/notes").json() == []
        note = api.post(f"/items/{item_id}/notes", json={"text": "hi"}).json()
        assert note["id"] == 1 and note["text"] == "hi"
        assert api.get(f"/items/{item_id}/notes/1").json() == note
        assert api.get("/items/other/notes").json() == []
        assert api.get("/items/other/notes/1").status_code == 404

        assert api.delete(f"/items/{item_id}").status_code == 204
        assert api.get(f"/items/{item_id}").status_code == 404
        assert api.get("/stats").status_code == 200  # not a collection: the normal responder


def test_swagger2_fixture_through_its_base_path() -> None:
    with _serve(str(SWAGGER2), auth=True) as (api, _, _):
        key = {"api_key": "k"}
        assert [p["id"] for p in api.get("/v2/pets", params=key).json()] == [1, 2, 3]
        created = api.post("/v2/pets", params=key, json={"id": 10, "name": "Rex", "kind": "dog"})
        assert created.status_code == 201, created.text
        assert created.json() == {
            "id": 10,
            "name": "Rex",
            "kind": "dog",
            "weight": created.json()["weight"],
        }
        assert created.headers["location"] == "/v2/pets/10"
        taken = api.post("/v2/pets", params=key, json={"id": 10, "name": "Again"})
        assert taken.status_code == 409
        basic = {"Authorization": "Basic dXNlcjpwYXNz"}
        assert api.get("/v2/pets/10", headers=basic).json()["name"] == "Rex"
        assert api.get("/v2/pets/11", headers=basic).status_code == 404
        assert api.get("/v2/pets/10").status_code == 401  # auth still gates first


def test_put_creates_when_the_collection_has_no_post() -> None:
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "Keys", "version": "1"},
        "paths": {
            "/keys": {
                "get": {
                    "operationId": "listKeys",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}
                        )
                    },
                }
            },
            "/keys/{name}": {
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "put": {
                    "operationId": "putKey",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Key"}}
                        }
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Key"}),
                        "201": _json({"$ref": "#/components/schemas/Key"}),
                    },
                },
            },
        },
        "components": {
            "schemas": {
                "Key": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                }
            }
        },
    }
    with _serve(spec, state_seed_items=0) as (api, _, _):
        assert api.get("/keys").json() == []
        first = api.put("/keys/colour", json={"value": "red"})
        assert first.status_code == 201 and first.json() == {"name": "colour", "value": "red"}
        again = api.put("/keys/colour", json={"value": "blue"})
        assert again.status_code == 200 and again.json()["value"] == "blue"
        assert api.get("/keys").json() == [{"name": "colour", "value": "blue"}]


# -- sessions --------------------------------------------------------------------------------


def test_sessions_do_not_see_each_other() -> None:
    with _serve(str(PETSTORE), state_isolation="session") as (api, admin, _):
        alice, bob = {"X-Session-ID": "alice"}, {"x-session-id": "bob"}
        made = api.post("/pets", json={"name": "Alice's"}, headers=alice).json()
        assert made["id"] == 4
        assert [p["id"] for p in api.get("/pets", headers=alice).json()] == [1, 2, 3, 4]
        assert [p["id"] for p in api.get("/pets", headers=bob).json()] == [1, 2, 3]
        assert api.get("/pets/4", headers=bob).status_code == 404
        assert [p["id"] for p in api.get("/pets").json()] == [1, 2, 3]
        bobs = api.post("/pets", json={"name": "Bob's"}, headers=bob).json()
        assert bobs["id"] == 4 and api.get("/pets/4", headers=alice).json()["name"] == "Alice's"
        assert api.delete("/pets/1", headers=bob).status_code == 204
        assert api.get("/pets/1", headers=alice).status_code == 200

        state = admin.get("/api/state", params={"session_id": "alice"}).json()
        assert state["isolation"] == "session" and state["session_id"] == "alice"
        assert set(state["sessions"]) == {"alice", "bob"}
        assert {c["name"]: c["count"] for c in state["collections"]}["pets"] == 4
        bob_pets = admin.get("/api/state/pets", params={"session_id": "bob"}).json()
        assert bob_pets["count"] == 3 and sorted(p["id"] for p in bob_pets["items"]) == [2, 3, 4]
        fresh = admin.get("/api/state/pets", params={"session_id": "carol"}).json()
        assert fresh["count"] == 3  # a session not seen yet would start from the seed
        reset = admin.post("/api/state/reset", json={"session_id": "alice"}).json()
        assert reset == {
            "reset": True,
            "session_id": "alice",
            "collections": {"pets": 3, "owners": 3},
        }
        assert api.get("/pets/4", headers=alice).status_code == 404
        assert api.get("/pets/4", headers=bob).status_code == 200


# -- /api/state -------------------------------------------------------------------------------


def test_admin_state_read_seed_reset(pets) -> None:
    api, admin, _ = pets
    state = admin.get("/api/state").json()
    assert state["enabled"] is True and state["isolation"] == "shared"
    assert state["session_id"] is None and state["sessions"] == []
    by_name = {c["name"]: c for c in state["collections"]}
    assert by_name["pets"] == {
        "name": "pets",
        "collection_path": "/pets",
        "item_path": "/pets/{petId}",
        "id_field": "id",
        "id_param": "petId",
        "count": 3,
    }
    seeded = admin.post("/api/state/seed", json={"collection": "pets", "count": 2}).json()
    assert seeded == {"seeded": {"pets": 2}, "session_id": None}
    assert [p["id"] for p in api.get("/pets").json()] == [1, 2, 3, 4, 5]
    explicit = admin.post(
        "/api/state/seed", json={"collection": "pets", "items": [{"name": "Given", "id": 50}]}
    ).json()
    assert explicit["seeded"] == {"pets": 1}
    assert api.get("/pets/50").json()["name"] == "Given"
    every = admin.post("/api/state/seed", json={"count": 1}).json()
    assert every["seeded"] == {"pets": 1, "owners": 1}
    listed = admin.get("/api/state/pets").json()
    assert listed["collection"] == "pets" and listed["count"] == 7 == len(listed["items"])

    reset = admin.post("/api/state/reset", json={"reseed": False}).json()
    assert reset == {"reset": True, "session_id": None, "collections": {"pets": 0, "owners": 0}}
    assert api.get("/pets").json() == []
    assert admin.post("/api/state/reset").json()["collections"] == {"pets": 3, "owners": 3}
    assert [p["id"] for p in api.get("/pets").json()] == [1, 2, 3]


def test_admin_state_errors_are_problems(pets) -> None:
    _, admin, _ = pets
    unknown = admin.get("/api/state/cats")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "pets" in unknown.json()["detail"]
    assert admin.post("/api/state/seed", json={"collection": "cats"}).status_code == 404
    shared = admin.get("/api/state", params={"session_id": "s1"})
    assert shared.status_code == 400 and "state_isolation" in shared.json()["detail"]
    bad = admin.post("/api/state/seed", json={"count": -1, "colour": "red"})
    assert bad.status_code == 400
    assert "count" in bad.json()["detail"] and "colour" in bad.json()["detail"]
    no_collection = admin.post("/api/state/seed", json={"items": [{"name": "x"}]})
    assert no_collection.status_code == 400


def test_admin_state_needs_the_admin_token() -> None:
    with _serve(str(PETSTORE), admin_token="s3cret") as (_, admin, _):
        assert admin.get("/api/state").status_code == 401
        authorised = admin.get("/api/state", headers={"Authorization": "Bearer s3cret"})
        assert authorised.status_code == 200 and authorised.json()["enabled"] is True


def test_stateful_off_is_the_normal_mock() -> None:
    with _serve(str(PETSTORE), stateful=False) as (api, admin, server):
        assert server.runtime.state is None
        made = api.post("/pets", json={"name": "Ghost"})
        assert made.status_code == 201 and "location" not in made.headers
        assert api.get("/pets/12345").status_code == 200  # generated, never stored or missing
        assert api.get("/pets/12345").json() == api.get("/pets/12345").json()
        state = admin.get("/api/state").json()
        assert state == {
            "enabled": False,
            "isolation": "shared",
            "session_id": None,
            "sessions": [],
            "collections": [],
        }
        for path in ("/api/state/seed", "/api/state/reset"):
            refused = admin.post(path, json={})
            assert refused.status_code == 409
            assert "stateful=True" in refused.json()["detail"]
        assert admin.get("/api/state/pets").status_code == 409


# -- command line ------------------------------------------------------------------------------


def test_cli_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    args = build_parser().parse_args(
        ["serve", str(PETSTORE), "--stateful", "--state-isolation", "session", "--seed-items", "5"]
    )
    assert (args.stateful, args.state_isolation, args.seed_items) == (True, "session", 5)
    defaults = build_parser().parse_args(["serve", str(PETSTORE)])
    assert (defaults.stateful, defaults.state_isolation, defaults.seed_items) == (
        False,
        "shared",
        3,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", str(PETSTORE), "--state-isolation", "tenant"])

    captured: list[MockConfig] = []

    def fake_serve(config: MockConfig, **_: Any) -> int:
        captured.append(config)
        return 0

    monkeypatch.setattr("mockloop.mock.serve", fake_serve)
    assert main(["serve", str(PETSTORE), "--stateful", "--seed-items", "7"]) == 0
    assert captured[0].stateful is True and captured[0].state_seed_items == 7
    assert captured[0].state_isolation == "shared"
    assert main(["serve", str(PETSTORE), "--stateful", "--seed-items", "5000"]) == 2


def test_the_cache_of_listed_summaries_is_bounded_in_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockloop.mock.state import store as stateful

    document = orjson.loads(orjson.dumps(BOARD))
    summary = {
        "type": "object",
        "properties": {
            "itemId": {"type": "string"},
            "title": {"type": "string"},
            "blurb": {"type": "string", "minLength": 5000, "maxLength": 5000},
        },
    }
    listed = document["paths"]["/items"]["get"]["responses"]["200"]["content"]
    listed["application/json"]["schema"]["properties"]["data"]["items"] = summary
    monkeypatch.setattr(stateful, "_ENTRY_CACHE_BYTES", 30_000)
    store = StateStore(load_spec(document), seed_items=20)
    store.start()
    assert store.collections["items"].entry_schema is not None
    listing = store.spec.operation("listItems")
    prepared = store.handle(listing, {}, "limit=100", [], "/items", b"")
    assert prepared is not None and prepared.status == 200
    page = orjson.loads(prepared.body)["data"]
    assert len(page) == 20 and all(len(entry["blurb"]) == 5000 for entry in page)
    assert 0 < len(store._entries) < 20 and store._entry_bytes <= 30_000
