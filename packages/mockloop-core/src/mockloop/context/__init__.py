"""Contexts of long testing workflows: test sessions, workflows, agents, the global context.

A context is a named, typed bag of JSON data (datetimes included) with a parent link, a
status, an optional expiry, a version bumped by every change, a history of changes and
snapshots that can be restored. `ContextStore` is the persistence contract;
`SQLContextStore` keeps everything in `MOCKLOOP_HOME/contexts.db`, or in the `contexts` schema
of the PostgreSQL database `MOCKLOOP_DATABASE_URL` names (`SQLiteContextStore` is its former
name). The operations are on the client (`mockloop.operations.contexts`); the format is
described in docs/contexts.md.
"""

from __future__ import annotations

from mockloop.context.changes import VersionConflictError
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
)
from mockloop.context.records import (
    CONTEXT_TYPES,
    GLOBAL_CONTEXT_ID,
    Actor,
    ContextRecord,
    ContextStatus,
    ContextType,
    HistoryRecord,
    SnapshotRecord,
    StoredStatus,
)
from mockloop.context.sqlite import (
    CONTEXT_MIGRATIONS,
    SQLContextStore,
    SQLiteContextStore,
    open_context_store,
)
from mockloop.context.store import (
    ContextStore,
    default_context_store_path,
)

__all__ = [
    "CONTEXT_MIGRATIONS",
    "CONTEXT_TYPES",
    "GLOBAL_CONTEXT_ID",
    "Actor",
    "AgentContext",
    "ContextData",
    "ContextInfo",
    "ContextList",
    "ContextRecord",
    "ContextRun",
    "ContextSnapshot",
    "ContextStatus",
    "ContextStore",
    "ContextType",
    "ContextUpdate",
    "GlobalContextData",
    "HistoryEntry",
    "HistoryRecord",
    "RestoredContext",
    "SQLContextStore",
    "SQLiteContextStore",
    "SnapshotInfo",
    "SnapshotRecord",
    "StoredStatus",
    "TestSessionContext",
    "VersionConflictError",
    "WorkflowContext",
    "default_context_store_path",
    "open_context_store",
]
