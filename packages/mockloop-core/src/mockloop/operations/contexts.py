"""Contexts of long testing workflows: sessions, workflows, agents, global data, snapshots."""

from __future__ import annotations

import time
from typing import Any

from mockloop.audit.context import current_face
from mockloop.context.models import (
    AgentContext,
    ContextData,
    ContextInfo,
    ContextList,
    ContextRun,
    ContextSnapshot,
    ContextUpdate,
    GlobalContextData,
    HistoryEntry,
    RestoredContext,
    SnapshotInfo,
    TestSessionContext,
    WorkflowContext,
    context_fields,
)
from mockloop.context.records import (
    GLOBAL_CONTEXT_ID,
    Actor,
    ContextRecord,
    ContextStatus,
    ContextType,
    StoredStatus,
)
from mockloop.context.store import ContextStore
from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase

__all__ = ["ContextOperations"]

_HISTORY_SHOWN = 200
_RUNS_SHOWN = 1000


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def _names(values: Any, what: str, *, unique: bool) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise ConfigError(f"{what} must be a list of strings, got {type(values).__name__}")
    names = [_name(value, f"{what}[{index}]") for index, value in enumerate(values)]
    if unique:
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f"{what} repeats {', '.join(repeated)}: give each name once")
    return names


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be an object (a dict), got {type(value).__name__}")
    return value


def _expiry(ttl_seconds: float | None) -> float | None:
    if ttl_seconds is None:
        return None
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int | float):
        raise ConfigError(f"ttl_seconds must be a number of seconds, got {ttl_seconds!r}")
    if not ttl_seconds > 0:
        raise ConfigError(f"ttl_seconds={ttl_seconds!r} must be above 0 (None: never expires)")
    return time.time() + float(ttl_seconds)


def _select(data: dict[str, Any], keys: list[str] | None) -> tuple[dict[str, Any], list[str]]:
    if keys is None:
        return data, []
    wanted = _names(keys, "keys", unique=False)
    return {k: data[k] for k in wanted if k in data}, [k for k in wanted if k not in data]


class ContextOperations(OperationsBase):
    """Contexts of long testing workflows: sessions, workflows, agents, global data, snapshots."""

    async def _context_store(self) -> ContextStore:
        """The client's context store (opened and migrated on first use, in a thread)."""
        return await self._in_thread(self.services.stores.contexts.open)

    def _context_actor(self, operation_name: str) -> Actor:
        face, session_id = current_face()
        return Actor(operation_name, face, session_id or self.current_session_id)

    async def _context_runs(self, context_id: str) -> list[ContextRun]:
        """The testing runs recorded with this context id, oldest first."""
        runs = self.services.stores.test_runs
        rows = await self._in_thread(runs.list, context_id=context_id, limit=_RUNS_SHOWN)
        return [
            ContextRun(
                run_id=row["id"],
                kind=row["kind"],
                status=row["status"],
                server_url=row["server_url"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
                summary=row["summary"],
            )
            for row in rows
        ]

    async def _context_record(self, store: ContextStore, context_id: str) -> ContextRecord:
        _name(context_id, "context_id")
        if context_id == GLOBAL_CONTEXT_ID:
            return await self._in_thread(store.global_context)
        record = await self._in_thread(store.get, context_id)
        if record is None:
            raise ConfigError(
                f"no context {context_id!r}: use the context_id a create_*_context call "
                "returned (list_contexts_by_type lists them)"
            )
        return record

    # -- creating contexts ------------------------------------------------------------------

    @operation(group="contexts")
    async def create_test_session_context(
        self,
        session_name: str,
        configuration: dict[str, Any] | None = None,
        ttl_seconds: float | None = None,
    ) -> TestSessionContext:
        """Create a test session context: the root that workflow and agent contexts hang off.

        Its data starts empty (update_context_data fills it); the configuration is kept as
        the context's attributes. Returns the new context_id.

        Args:
            session_name: a name for the session, e.g. "ecommerce_integration_test".
            configuration: free-form settings of the session, e.g. {"environment": "staging"}.
            ttl_seconds: seconds until the context expires (then read-only); None: never.
        """
        name = _name(session_name, "session_name")
        config = _mapping(configuration, "configuration")
        store = await self._context_store()
        record = await self._in_thread(
            store.create,
            "test_session",
            name,
            attributes={"configuration": config},
            expires_at=_expiry(ttl_seconds),
            actor=self._context_actor("create_test_session_context"),
        )
        return TestSessionContext(
            **context_fields(record),
            session_name=name,
            configuration=record.attributes["configuration"],
        )

    @operation(group="contexts")
    async def create_workflow_context(
        self,
        workflow_name: str,
        parent_context: str | None = None,
        steps: list[str] | None = None,
        ttl_seconds: float | None = None,
    ) -> WorkflowContext:
        """Create a workflow context with named steps, optionally under a session context.

        Testing runs made with its context_id (execute_test_plan(context_id=...)) become its
        `results`; get_context_data lists them as they are recorded.

        Args:
            workflow_name: a name for the workflow, e.g. "user_journey_test".
            parent_context: the context_id of a parent context (usually a test session).
            steps: the workflow's step names, in order, each once.
            ttl_seconds: seconds until the context expires (then read-only); None: never.
        """
        name = _name(workflow_name, "workflow_name")
        step_names = _names(steps, "steps", unique=True)
        parent = None if parent_context is None else _name(parent_context, "parent_context")
        store = await self._context_store()
        record = await self._in_thread(
            store.create,
            "workflow",
            name,
            attributes={"steps": step_names},
            parent_id=parent,
            expires_at=_expiry(ttl_seconds),
            actor=self._context_actor("create_workflow_context"),
        )
        # A context id minted just now has no recorded runs yet.
        return WorkflowContext(
            **context_fields(record), workflow_name=name, steps=step_names, results=[]
        )

    @operation(group="contexts")
    async def create_agent_context(
        self,
        agent_name: str,
        capabilities: list[str] | None = None,
        parent_context: str | None = None,
        ttl_seconds: float | None = None,
    ) -> AgentContext:
        """Create an agent's own context (its capabilities and working data).

        Args:
            agent_name: the agent's name, e.g. "performance_analyst".
            capabilities: what the agent can do, e.g. ["load_testing", "analysis"].
            parent_context: the context_id of a parent context (a session or a workflow).
            ttl_seconds: seconds until the context expires (then read-only); None: never.
        """
        name = _name(agent_name, "agent_name")
        capability_names = _names(capabilities, "capabilities", unique=True)
        parent = None if parent_context is None else _name(parent_context, "parent_context")
        store = await self._context_store()
        record = await self._in_thread(
            store.create,
            "agent",
            name,
            attributes={"capabilities": capability_names},
            parent_id=parent,
            expires_at=_expiry(ttl_seconds),
            actor=self._context_actor("create_agent_context"),
        )
        return AgentContext(
            **context_fields(record), agent_name=name, capabilities=capability_names
        )

    # -- reading and changing data ----------------------------------------------------------

    @operation(group="contexts", read_only=True)
    async def get_context_data(
        self,
        context_id: str,
        keys: list[str] | None = None,
        include_history: bool = False,
    ) -> ContextData:
        """Read a context: its data, status, version, parent and children, snapshots and runs.

        `results` lists the testing runs recorded with this context id (run id, kind, status,
        key figures), read from the run store as they are now.

        Args:
            context_id: the id a create_*_context call returned ("global" for global data).
            keys: only these top-level keys of the data; absent ones are listed in
                missing_keys. None: all of it.
            include_history: add the newest changes (version, keys, old and new values with
                secrets redacted, who made them).
        """
        store = await self._context_store()
        record = await self._context_record(store, context_id)
        data, missing = _select(record.data, keys)
        snapshots = await self._in_thread(store.list_snapshots, record.id)
        history = None
        if include_history:
            entries = await self._in_thread(store.history, record.id, limit=_HISTORY_SHOWN)
            history = [HistoryEntry.of(entry) for entry in entries]
        return ContextData(
            **context_fields(record),
            data=data,
            missing_keys=missing,
            attributes=record.attributes,
            results=await self._context_runs(record.id),
            snapshots=[
                SnapshotInfo(
                    snapshot_id=s.id, name=s.name, version=s.version, created_at=s.created_at
                )
                for s in snapshots
            ],
            history=history,
        )

    @operation(group="contexts")
    async def update_context_data(
        self,
        context_id: str,
        data: dict[str, Any],
        merge: bool = True,
        status: StoredStatus | None = None,
        expected_version: int | None = None,
    ) -> ContextUpdate:
        """Change a context's data (merge keys in, or replace it) and optionally its status.

        Each change is one transaction that bumps the version and records a history entry;
        concurrent writers never lose each other's changes. Expired contexts are read-only;
        archived ones refuse data changes until set back to active.

        Args:
            context_id: the id a create_*_context call returned ("global" for global data).
            data: JSON values (datetimes allowed) by top-level key.
            merge: True sets the given keys and keeps the others; False replaces the data.
            status: set the status too: active, completed, failed or archived.
            expected_version: refuse the change (VersionConflictError) unless the context is
                still at this version, for a safe read-modify-write; None: no check.
        """
        return await self._context_update(
            context_id, data, merge, status, expected_version, "update_context_data"
        )

    async def _context_update(
        self,
        context_id: str,
        data: dict[str, Any],
        merge: bool,
        status: str | None,
        expected_version: int | None,
        operation_name: str,
    ) -> ContextUpdate:
        _name(context_id, "context_id")
        changes = _mapping(data, "data")
        if expected_version is not None and (
            isinstance(expected_version, bool) or not isinstance(expected_version, int)
        ):
            raise ConfigError(f"expected_version must be an integer, got {expected_version!r}")
        store = await self._context_store()
        if context_id == GLOBAL_CONTEXT_ID:
            await self._in_thread(store.global_context)
        record, entry = await self._in_thread(
            store.update,
            context_id,
            changes,
            merge=bool(merge),
            status=status,
            expected_version=expected_version,
            actor=self._context_actor(operation_name),
        )
        return ContextUpdate(
            **context_fields(record),
            data=record.data,
            previous_version=record.version - 1 if entry is not None else record.version,
            changed=entry is not None,
            changed_keys=list(entry.changed_keys) if entry is not None else [],
        )

    @operation(group="contexts", read_only=True)
    async def list_contexts_by_type(
        self, context_type: ContextType, status: ContextStatus | None = None
    ) -> ContextList:
        """List contexts of one type, newest first, optionally only those of one status.

        Args:
            context_type: test_session, workflow, agent or global.
            status: only contexts that are active, completed, failed, archived or expired.
        """
        store = await self._context_store()
        if context_type == GLOBAL_CONTEXT_ID:
            await self._in_thread(store.global_context)
        records = await self._in_thread(store.list, context_type, status=status)
        contexts = [ContextInfo(**context_fields(record)) for record in records]
        return ContextList(
            context_type=context_type, status=status, count=len(contexts), contexts=contexts
        )

    # -- snapshots --------------------------------------------------------------------------

    @operation(group="contexts")
    async def create_context_snapshot(
        self, context_id: str, snapshot_name: str | None = None
    ) -> ContextSnapshot:
        """Snapshot a context: a full copy of its data at its current version, to restore later.

        Args:
            context_id: the context to copy.
            snapshot_name: a name for the snapshot, e.g. "checkout_process_completion";
                default "version_N".
        """
        _name(context_id, "context_id")
        name = None if snapshot_name is None else _name(snapshot_name, "snapshot_name")
        store = await self._context_store()
        if context_id == GLOBAL_CONTEXT_ID:
            await self._in_thread(store.global_context)
        snapshot = await self._in_thread(
            store.create_snapshot,
            context_id,
            name,
            actor=self._context_actor("create_context_snapshot"),
        )
        return ContextSnapshot.of(snapshot)

    @operation(group="contexts", destructive=True)
    async def restore_context_snapshot(
        self, snapshot_id: str, context_id: str | None = None
    ) -> RestoredContext:
        """Restore a snapshot: the context's data becomes exactly the snapshot's copy.

        The restore is a new version with a history entry (the replaced values stay in the
        history). An unknown snapshot id is an error that lists the context's snapshots.

        Args:
            snapshot_id: the id create_context_snapshot returned.
            context_id: restore into this context instead of the snapshot's own; it must be
                of the same type (e.g. carry an expired workflow on in a new one).
        """
        _name(snapshot_id, "snapshot_id")
        target = None if context_id is None else _name(context_id, "context_id")
        store = await self._context_store()
        record, snapshot, entry = await self._in_thread(
            store.restore_snapshot,
            snapshot_id,
            target,
            actor=self._context_actor("restore_context_snapshot"),
        )
        return RestoredContext(
            **context_fields(record),
            snapshot_id=snapshot.id,
            snapshot_name=snapshot.name,
            snapshot_version=snapshot.version,
            source_context_id=snapshot.context_id,
            previous_version=record.version - 1,
            data=record.data,
            changed_keys=list(entry.changed_keys),
        )

    # -- global data ------------------------------------------------------------------------

    @operation(group="contexts", read_only=True)
    async def get_global_context_data(self, keys: list[str] | None = None) -> GlobalContextData:
        """Read the global context: data shared by every session, workflow and agent.

        Args:
            keys: only these top-level keys; absent ones are listed in missing_keys.
                None: all of it.
        """
        store = await self._context_store()
        record = await self._in_thread(store.global_context)
        data, missing = _select(record.data, keys)
        return GlobalContextData(
            context_id=record.id,
            version=record.version,
            updated_at=record.updated_at,
            data=data,
            missing_keys=missing,
        )

    @operation(group="contexts")
    async def update_global_context_data(
        self, data: dict[str, Any], merge: bool = True
    ) -> ContextUpdate:
        """Change the global context's data, shared by every session, workflow and agent.

        Args:
            data: JSON values (datetimes allowed) by top-level key.
            merge: True sets the given keys and keeps the others; False replaces the data.
        """
        return await self._context_update(
            GLOBAL_CONTEXT_ID, data, merge, None, None, "update_global_context_data"
        )
