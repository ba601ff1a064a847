"""Contexts: the ten operations, values, history, snapshots, expiry, concurrency and crashes.

Every test of the store (directly or through the client) runs on both backends through the
`database` fixture: SQLite files, and PostgreSQL with `MOCKLOOP_DATABASE_URL` set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date
from datetime import datetime as real_datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mockloop import MockLoopClient
from mockloop.context import (
    CONTEXT_MIGRATIONS,
    ContextStore,
    SQLContextStore,
    SQLiteContextStore,
    VersionConflictError,
    open_context_store,
)
from mockloop.context.values import TYPE_TAG, decode_value, encode_value
from mockloop.errors import ConfigError, StoreError
from mockloop.mock.config import MockConfig
from mockloop.mock.server import MockServer
from mockloop.testing.runs import TestRunStore
from tests.conftest import PETSTORE, ROOT

# Five small plans against the petstore mock, one per step of the documented workflow.
STEP_PLANS: dict[str, list[dict[str, Any]]] = {
    "user_registration": [
        {"name": "list_owners", "operation": "listOwners", "expect": {"status": 200}},
    ],
    "product_browsing": [
        {
            "name": "list_pets",
            "operation": "listPets",
            "request": {"params": {"limit": 5}},
            "expect": {"status": 200},
        },
        {
            "name": "get_pet",
            "operation": "getPet",
            "path_params": {"petId": 1},
            "expect": {"status": 200},
        },
    ],
    "cart_management": [
        {
            "name": "add_to_cart",
            "operation": "createPet",
            "request": {"body": {"name": "Rex", "tag": "dog"}},
            "expect": {"status": 201},
        },
    ],
    "checkout_process": [
        {
            "name": "checkout",
            "operation": "updatePet",
            "path_params": {"petId": 1},
            "request": {"body": {"name": "Rex", "tag": "dog"}},
            "expect": {"status": 200},
        },
    ],
    "order_fulfillment": [
        {"name": "status", "operation": "getStatus", "expect": {"status": 200}},
    ],
}


@pytest.fixture
def mockloop(database: Any) -> Iterator[MockLoopClient]:
    """A client whose contexts live on the test's backend (`database` sets the environment)."""
    with MockLoopClient() as client:
        yield client


@pytest.fixture(scope="module")
def petstore() -> Iterator[MockServer]:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as server:
        yield server


def _store() -> SQLContextStore:
    """The store a client uses: it follows `MOCKLOOP_DATABASE_URL`, as `database` set it."""
    return SQLContextStore()


# -- values -----------------------------------------------------------------------------------


def test_values_round_trip_datetimes_and_tag_lookalikes() -> None:
    naive = real_datetime(2026, 12, 1, 15, 30, 0, 123456)
    aware = real_datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    value = {
        "naive": naive,
        "aware": aware,
        "day": date(2026, 12, 1),
        "clock": clock_time(9, 30, 15),
        "nested": [{"at": naive}, 1, 1.5, True, None, "text"],
        "lookalike": {TYPE_TAG: "datetime", "value": "not a date"},
    }
    encoded = encode_value(value)
    assert encoded["naive"] == {TYPE_TAG: "datetime", "value": "2026-12-01T15:30:00.123456"}
    decoded = decode_value(encoded)
    assert decoded == value
    assert decoded["naive"].tzinfo is None and decoded["aware"].tzinfo is not None
    # Other values with a JSON form are stored as that form.
    assert decode_value(encode_value({"t": (1, 2), "d": Decimal("1.5")})) == {
        "t": [1, 2],
        "d": "1.5",
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"x": float("nan")}, "data.x"),
        ({"x": {1: "a"}}, "key 1 is a int"),
        ({"x": object()}, "cannot be stored as JSON"),
        ({"x": 2**70}, "beyond 64 bits"),
    ],
)
def test_values_without_a_faithful_json_form_are_refused(value: Any, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        encode_value(value)


# -- creating, reading, listing -----------------------------------------------------------------


def test_contexts_link_parents_and_children(mockloop: MockLoopClient) -> None:
    session = mockloop.create_test_session_context(
        session_name="s1", configuration={"environment": "staging"}
    )
    assert session["configuration"] == {"environment": "staging"}
    assert session.context_type == "test_session" and session.version == 1
    # The client's store is the one the environment names (a PostgreSQL schema on that half).
    assert _store().get(session.context_id) is not None
    workflow = mockloop.create_workflow_context(
        workflow_name="w1", parent_context=session["context_id"], steps=["a", "b"]
    )
    agent = mockloop.create_agent_context(
        agent_name="analyst", capabilities=["load"], parent_context=workflow.context_id
    )
    assert workflow["steps"] == ["a", "b"] and workflow["results"] == []
    assert agent.parent_context == workflow.context_id

    read = mockloop.get_context_data(session.context_id)
    assert read.children == [workflow.context_id]
    assert read.attributes == {"configuration": {"environment": "staging"}}
    assert mockloop.get_context_data(workflow.context_id).children == [agent.context_id]
    assert mockloop.get_context_data(agent.context_id).attributes == {"capabilities": ["load"]}

    listed = mockloop.list_contexts_by_type("workflow")
    assert [c.context_id for c in listed.contexts] == [workflow.context_id]
    assert listed.contexts[0].children == [agent.context_id]
    assert "1 workflow context(s) (1 active)" in listed.summary()
    assert mockloop.list_contexts_by_type("agent", status="completed").count == 0


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda m: m.create_workflow_context("w", parent_context="nope"), "parent_context 'nope'"),
        (lambda m: m.create_workflow_context("w", steps=["a", "a"]), "steps repeats a"),
        (lambda m: m.create_test_session_context(""), "session_name must be"),
        (lambda m: m.create_agent_context("a", ttl_seconds=0), "ttl_seconds=0"),
        (lambda m: m.get_context_data("workflow-unknown"), "no context 'workflow-unknown'"),
        (lambda m: m.list_contexts_by_type("sessions"), "context_type='sessions' is unknown"),
        (lambda m: m.update_context_data("global", {"a": 1}, status="expired"), "cannot be set"),
        (lambda m: m.update_context_data("global", "a=1"), "data must be an object"),
        (lambda m: m.update_context_data("global", {}, expected_version="1"), "an integer"),
        (lambda m: m.update_global_context_data({"at": float("inf")}), "data.at"),
    ],
)
def test_caller_mistakes_are_config_errors(
    mockloop: MockLoopClient, call: Any, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        call(mockloop)


def test_get_context_data_selects_keys_and_reports_missing(mockloop: MockLoopClient) -> None:
    context = mockloop.create_agent_context("a")
    mockloop.update_context_data(context.context_id, {"x": 1, "y": [1, 2]})
    read = mockloop.get_context_data(context.context_id, keys=["y", "z"])
    assert read.data == {"y": [1, 2]} and read.missing_keys == ["z"]
    assert "missing: z" in read.summary()


# -- updates, versions and history ------------------------------------------------------------


def test_updates_merge_replace_and_record_history(mockloop: MockLoopClient) -> None:
    context = mockloop.create_agent_context("a")
    cid = context.context_id
    first = mockloop.update_context_data(cid, {"x": 1, "api_token": "s3cret"})
    assert (first.version, first.previous_version, first.changed) == (2, 1, True)
    merged = mockloop.update_context_data(cid, {"y": 2})
    assert merged.data == {"x": 1, "api_token": "s3cret", "y": 2}
    unchanged = mockloop.update_context_data(cid, {"y": 2})
    assert not unchanged.changed and unchanged.version == 3
    typed = mockloop.update_context_data(cid, {"y": 2.0})  # stored differently: a change
    assert typed.changed_keys == ["y"] and typed.version == 4
    replaced = mockloop.update_context_data(cid, {"only": True}, merge=False)
    assert replaced.data == {"only": True}
    assert sorted(replaced.changed_keys) == ["api_token", "only", "x", "y"]

    history = mockloop.get_context_data(cid, include_history=True).history
    assert history is not None
    assert [h.version for h in history] == [1, 2, 3, 4, 5]
    assert [h.action for h in history] == ["create", "merge", "merge", "merge", "replace"]
    assert history[1].changes["api_token"] == {"new": "[REDACTED]"}
    assert history[1].changes["x"] == {"new": 1}
    assert history[4].changes["api_token"] == {"old": "[REDACTED]"}
    assert history[4].operation == "update_context_data" and history[4].face == "python"
    # The data itself keeps the secret: the trail is what is redacted.
    assert mockloop.get_context_data(cid, keys=["only"]).data == {"only": True}
    mockloop.update_context_data(cid, {"blob": "y" * 1000})
    latest = mockloop.get_context_data(cid, include_history=True)
    assert latest.data["blob"] == "y" * 1000
    assert latest.history is not None
    assert latest.history[-1].changes["blob"]["new"] == "y" * 256 + "... [1000 chars]"


def test_expected_version_refuses_a_stale_write(mockloop: MockLoopClient) -> None:
    cid = mockloop.create_workflow_context("w").context_id
    read = mockloop.get_context_data(cid)
    mockloop.update_context_data(cid, {"n": 1}, expected_version=read.version)
    with pytest.raises(VersionConflictError) as error:
        mockloop.update_context_data(cid, {"n": 99}, expected_version=read.version)
    assert (error.value.expected, error.value.actual) == (1, 2)
    assert mockloop.get_context_data(cid).data == {"n": 1}


def test_status_changes_and_archived_contexts_are_read_only(mockloop: MockLoopClient) -> None:
    cid = mockloop.create_workflow_context("w").context_id
    archived = mockloop.update_context_data(cid, {"done": True}, status="archived")
    assert archived.status == "archived" and archived.version == 2
    with pytest.raises(ConfigError, match="archived and read-only"):
        mockloop.update_context_data(cid, {"more": 1})
    assert mockloop.list_contexts_by_type("workflow", status="archived").count == 1
    reopened = mockloop.update_context_data(cid, {"more": 1}, status="active")
    assert reopened.status == "active" and reopened.data == {"done": True, "more": 1}
    completed = mockloop.update_context_data(cid, {}, status="completed")
    assert completed.changed and completed.version == 4 and completed.status == "completed"


def test_expired_contexts_read_but_refuse_changes(mockloop: MockLoopClient) -> None:
    # `mockloop` brings the `database` fixture: `_store()` is on the same backend.
    store = _store()
    expired = store.create("workflow", "old", data={"step": 3}, expires_at=time.time() - 1)
    fresh = mockloop.create_workflow_context("new", ttl_seconds=3600)
    assert fresh.expires_at is not None and fresh.status == "active"

    read = mockloop.get_context_data(expired.id)
    assert read.status == "expired" and read.data == {"step": 3}
    with pytest.raises(ConfigError, match="expired at"):
        mockloop.update_context_data(expired.id, {"step": 4})
    assert [
        c.context_id for c in mockloop.list_contexts_by_type("workflow", "expired").contexts
    ] == [expired.id]
    assert [
        c.context_id for c in mockloop.list_contexts_by_type("workflow", "active").contexts
    ] == [fresh.context_id]
    # Its data carries on in a new context: snapshot it, restore the snapshot there.
    snapshot = mockloop.create_context_snapshot(expired.id, "carry_over")
    restored = mockloop.restore_context_snapshot(snapshot.snapshot_id, fresh.context_id)
    assert restored.data == {"step": 3} and restored.context_id == fresh.context_id
    with pytest.raises(ConfigError, match="expired at"):
        mockloop.restore_context_snapshot(snapshot.snapshot_id)


# -- snapshots --------------------------------------------------------------------------------


def test_snapshots_restore_exact_data_and_unknown_ids_fail(mockloop: MockLoopClient) -> None:
    cid = mockloop.create_workflow_context("w").context_id
    stamp = real_datetime.now()
    mockloop.update_context_data(cid, {"step": "one", "at": stamp})
    snapshot = mockloop.create_context_snapshot(cid, "one_done")
    assert snapshot.version == 2 and snapshot.data == {"step": "one", "at": stamp}
    default_named = mockloop.create_context_snapshot(cid)
    assert default_named.snapshot_name == "version_2"
    mockloop.update_context_data(cid, {"step": "two", "extra": [1]})

    restored = mockloop.restore_context_snapshot(snapshot.snapshot_id)
    assert restored.data == {"step": "one", "at": stamp}
    assert isinstance(restored.data["at"], real_datetime)
    assert restored.model_dump(mode="json")["data"]["at"] == stamp.isoformat()
    assert (restored.previous_version, restored.version, restored.snapshot_version) == (3, 4, 2)
    assert sorted(restored.changed_keys) == ["extra", "step"]
    read = mockloop.get_context_data(cid, include_history=True)
    assert read.data == {"step": "one", "at": stamp}
    assert read.history is not None and read.history[-1].action == "restore"
    assert read.history[-1].detail["snapshot_id"] == snapshot.snapshot_id
    assert [s.name for s in read.snapshots] == ["one_done", "version_2"]

    with pytest.raises(ConfigError) as error:
        mockloop.restore_context_snapshot("snap-missing", context_id=cid)
    assert "no snapshot 'snap-missing'" in str(error.value)
    assert snapshot.snapshot_id in str(error.value)
    with pytest.raises(ConfigError, match="that is a snapshot name, restore by id"):
        mockloop.restore_context_snapshot("one_done")


def test_restore_into_another_context_needs_the_same_type(mockloop: MockLoopClient) -> None:
    source = mockloop.create_workflow_context("a").context_id
    mockloop.update_context_data(source, {"k": "v"})
    snapshot = mockloop.create_context_snapshot(source)
    other_workflow = mockloop.create_workflow_context("b").context_id
    agent = mockloop.create_agent_context("c").context_id
    restored = mockloop.restore_context_snapshot(snapshot.snapshot_id, context_id=other_workflow)
    assert restored.data == {"k": "v"} and restored.source_context_id == source
    with pytest.raises(ConfigError, match="same type"):
        mockloop.restore_context_snapshot(snapshot.snapshot_id, context_id=agent)
    assert mockloop.get_context_data(agent).data == {}


# -- the global context -----------------------------------------------------------------------


def test_global_context_is_shared_across_clients(mockloop: MockLoopClient) -> None:
    assert mockloop.get_context_data("global").context_type == "global"
    assert mockloop.get_global_context_data().data == {}
    first = mockloop.update_global_context_data({"base_url": "http://127.0.0.1:1", "n": 1})
    assert first.context_id == "global" and first.version == 2
    with MockLoopClient() as other:
        other.update_global_context_data({"n": 2})
        read = other.get_global_context_data(keys=["n", "absent"])
    assert read.data == {"n": 2} and read.missing_keys == ["absent"]
    assert mockloop.get_global_context_data().data == {"base_url": "http://127.0.0.1:1", "n": 2}
    assert mockloop.list_contexts_by_type("global").count == 1
    assert mockloop.update_global_context_data({"x": 1}, merge=False).data == {"x": 1}


# -- the store behind the protocol --------------------------------------------------------------


def test_store_opens_by_path_or_url_and_meets_the_protocol(tmp_path: Path) -> None:
    assert SQLiteContextStore is SQLContextStore  # the former name still works
    store = open_context_store(f"sqlite:///{tmp_path}/c.db")
    assert isinstance(store, ContextStore)
    assert isinstance(open_context_store(), ContextStore)
    with pytest.raises(ConfigError, match="unknown scheme 'mysql'"):
        open_context_store("mysql://db/contexts")
    with pytest.raises(ConfigError, match="needs a database file"):
        SQLiteContextStore(":memory:")
    again = SQLiteContextStore(tmp_path / "c.db")
    assert again.applied_migrations == []
    assert max(m.version for m in CONTEXT_MIGRATIONS) == 1
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get("global")


# -- the documented stateful workflow ---------------------------------------------------------


def test_documented_ecommerce_workflow_runs_and_restores_step_three(
    mockloop: MockLoopClient, petstore: MockServer
) -> None:
    for step, steps in STEP_PLANS.items():
        mockloop.save_test_plan(f"{step}_test_plan", {"name": step, "steps": steps})
    server_url = petstore.business_url
    stamps: list[real_datetime] = []

    class datetime(real_datetime):
        """`datetime` as the documentation uses it, keeping what `now()` handed out."""

        @classmethod
        def now(cls, tz: Any = None) -> real_datetime:  # type: ignore[override]
            value = real_datetime.now(tz)
            stamps.append(value)
            return value

    # The documented workflow, as written (server_url is the petstore mock's).
    # fmt: off
    session = mockloop.create_test_session_context(session_name="ecommerce_integration_test", configuration={"test_type": "integration", "environment": "staging"})  # noqa: E501
    workflow = mockloop.create_workflow_context(workflow_name="user_journey_test", parent_context=session["context_id"], steps=["user_registration", "product_browsing", "cart_management", "checkout_process", "order_fulfillment"])  # noqa: E501
    for step in workflow["steps"]:
        mockloop.update_context_data(context_id=workflow["context_id"], data={"current_step": step, "timestamp": datetime.now()})  # noqa: E501
        mockloop.execute_test_plan(server_url=server_url, test_plan=f"{step}_test_plan", context_id=workflow["context_id"])  # noqa: E501
        mockloop.create_context_snapshot(context_id=workflow["context_id"], snapshot_name=f"{step}_completion")  # noqa: E501
    final = mockloop.analyze_test_results(test_results=workflow["results"], context_id=workflow["context_id"], include_recommendations=True)  # noqa: E501
    # fmt: on

    workflow_id = workflow["context_id"]
    assert len(final.runs) == 5 and final.verdict == "pass", final.summary
    assert final.context_id == workflow_id
    read = mockloop.get_context_data(workflow_id)
    assert read.parent_context == session["context_id"]
    assert read.data == {"current_step": "order_fulfillment", "timestamp": stamps[4]}
    recorded = TestRunStore().list(context_id=workflow_id)
    assert [run.run_id for run in read.results] == [row["id"] for row in recorded]
    assert [run.summary["plan"] for run in read.results] == list(STEP_PLANS)
    assert all(run.kind == "test_plan" and run.status == "passed" for run in read.results)
    assert [s.name for s in read.snapshots] == [f"{step}_completion" for step in STEP_PLANS]
    assert [s.version for s in read.snapshots] == [2, 3, 4, 5, 6]

    third = next(s for s in read.snapshots if s.name == "cart_management_completion")
    restored = mockloop.restore_context_snapshot(third.snapshot_id)
    step_three = {"current_step": "cart_management", "timestamp": stamps[2]}
    assert restored.data == step_three
    assert mockloop.get_context_data(workflow_id).data == step_three
    assert type(mockloop.get_context_data(workflow_id).data["timestamp"]) is real_datetime
    # The runs stay the workflow's: a restore changes data, not what was recorded.
    assert len(mockloop.get_context_data(workflow_id).results) == 5


# -- concurrency and crashes ------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from mockloop import MockLoopClient
    from mockloop.context import VersionConflictError

    context_id, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with MockLoopClient() as mockloop:
        print("ready", flush=True)
        sys.stdin.readline()  # wait for "go": both writers start together
        conflicts = 0
        for i in range(count):
            mockloop.update_context_data(context_id, {f"{tag}-{i}": i}, merge=True)
            while True:  # a read-modify-write of a counter, guarded by the version
                read = mockloop.get_context_data(context_id, keys=["counter"])
                counter = read.data.get("counter", 0)
                try:
                    mockloop.update_context_data(
                        context_id, {"counter": counter + 1}, expected_version=read.version
                    )
                    break
                except VersionConflictError:
                    conflicts += 1
        print(f"done {conflicts}", flush=True)
    """
)


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_two_processes_never_lose_a_write(mockloop: MockLoopClient) -> None:
    cid = mockloop.create_workflow_context("contended").context_id
    # Create the test-run store's tables here: two processes creating a new PostgreSQL schema's
    # tables at the same moment is the connection layer's case (tests/core/test_database.py).
    mockloop.get_context_data(cid)
    count = 40
    writers = [_spawn(_WRITER, cid, tag, str(count)) for tag in ("a", "b")]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for writer in writers:
            out, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err
            assert out.startswith("done")
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    data = mockloop.get_context_data(cid, include_history=True)
    assert data.data["counter"] == 2 * count
    assert {k for k in data.data if k != "counter"} == {
        f"{tag}-{i}" for tag in ("a", "b") for i in range(count)
    }
    # Every change is one version with one history entry: 1 create + 4 * count updates.
    assert data.version == 1 + 4 * count
    assert data.history is not None and [h.version for h in data.history] == list(
        range(1, data.version + 1)
    )


def test_store_ids_are_unique_and_typed(database: Any) -> None:
    store = _store()
    ids = {store.create("test_session", f"s{n}").id for n in range(50)}
    assert len(ids) == 50 and all(i.startswith("session-") for i in ids)
    assert store.create("agent", "a").id.startswith("agent-")
