"""The results of the context operations.

Data values come back as they were given: datetimes as `datetime` objects in Python, and as
ISO 8601 text in `model_dump(mode="json")` (what MCP and agent frameworks receive).
Timestamps of the contexts themselves (`created_at`, ...) are seconds since the epoch.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mockloop.context.records import ContextRecord, HistoryRecord, SnapshotRecord
from mockloop.results import Result

__all__ = [
    "AgentContext",
    "ContextData",
    "ContextInfo",
    "ContextList",
    "ContextRun",
    "ContextSnapshot",
    "ContextUpdate",
    "GlobalContextData",
    "HistoryEntry",
    "RestoredContext",
    "SnapshotInfo",
    "TestSessionContext",
    "WorkflowContext",
    "context_fields",
]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _keys(keys: list[str], shown: int = 8) -> str:
    if not keys:
        return "none"
    text = ", ".join(keys[:shown])
    return text + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


class ContextRun(BaseModel):
    """A testing run recorded with a context's id (from MOCKLOOP_HOME/test_runs.db)."""

    run_id: str
    kind: str = Field(description="test_plan, iteration, security or load")
    status: str
    server_url: str
    started_at: float
    finished_at: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict, description="the run's key figures")


class SnapshotInfo(BaseModel):
    """One snapshot of a context, as listed with it."""

    snapshot_id: str
    name: str | None
    version: int = Field(description="the context version the snapshot copied")
    created_at: float


class HistoryEntry(BaseModel):
    """One change of a context (secret-looking values redacted)."""

    version: int = Field(description="the version the change made")
    at: float
    action: str = Field(description="create, merge, replace, status or restore")
    changed_keys: list[str]
    changes: dict[str, dict[str, Any]] = Field(
        description="{key: {old, new}}; an added key has no old, a removed key no new"
    )
    operation: str | None = None
    face: str | None = Field(default=None, description="python, mcp, langchain or crewai")
    session_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, record: HistoryRecord) -> HistoryEntry:
        """The entry of a stored history record."""
        return cls(
            version=record.version,
            at=record.at,
            action=record.action,
            changed_keys=list(record.changed_keys),
            changes=record.changes,
            operation=record.operation,
            face=record.face,
            session_id=record.session_id,
            detail=record.detail,
        )


def context_fields(record: ContextRecord) -> dict[str, Any]:
    """The fields every context result shares, from a stored record."""
    return {
        "context_id": record.id,
        "context_type": record.type,
        "name": record.name,
        "status": record.status,
        "version": record.version,
        "parent_context": record.parent_id,
        "children": list(record.children),
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "expires_at": record.expires_at,
    }


class ContextInfo(Result):
    """A context: its id, type, status, version, parent and children."""

    context_id: str
    context_type: str = Field(description="test_session, workflow, agent or global")
    name: str
    status: str = Field(description="active, completed, failed, archived or expired")
    version: int = Field(description="bumped by every change; pass it as expected_version")
    parent_context: str | None = None
    children: list[str] = Field(default_factory=list, description="ids of child contexts")
    created_at: float
    updated_at: float
    expires_at: float | None = Field(default=None, description="None: never expires")

    def summary(self, limit: int = 600) -> str:
        text = (
            f"{self.context_type} context {self.name!r} ({self.context_id}): {self.status}, "
            f"version {self.version}"
        )
        if self.parent_context:
            text += f", child of {self.parent_context}"
        if self.children:
            text += f", {len(self.children)} child context(s)"
        return _clip(text + ".", limit)


class TestSessionContext(ContextInfo):
    """A test session context: the root of a testing workflow's contexts."""

    __test__ = False  # not a pytest test class, whatever its name says

    session_name: str
    configuration: dict[str, Any] = Field(default_factory=dict)


class WorkflowContext(ContextInfo):
    """A workflow context with its steps and the runs recorded with its id."""

    workflow_name: str
    steps: list[str] = Field(default_factory=list)
    results: list[ContextRun] = Field(
        default_factory=list, description="testing runs recorded with this context id"
    )

    def summary(self, limit: int = 600) -> str:
        text = super().summary(limit)
        text += f" Steps: {_keys(self.steps)}; {len(self.results)} recorded run(s)."
        return _clip(text, limit)


class AgentContext(ContextInfo):
    """An agent's own context: its capabilities and working data."""

    agent_name: str
    capabilities: list[str] = Field(default_factory=list)


class ContextData(ContextInfo):
    """A context's data (all of it, or the keys asked for) with its links and snapshots."""

    data: dict[str, Any]
    missing_keys: list[str] = Field(
        default_factory=list, description="keys asked for that the context does not hold"
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="what the context was created with: configuration, steps or capabilities",
    )
    results: list[ContextRun] = Field(
        default_factory=list, description="testing runs recorded with this context id"
    )
    snapshots: list[SnapshotInfo] = Field(default_factory=list, description="oldest first")
    history: list[HistoryEntry] | None = Field(
        default=None, description="the newest changes, oldest first (include_history=True)"
    )

    def summary(self, limit: int = 600) -> str:
        text = super().summary(limit)
        text += (
            f" {len(self.data)} key(s): {_keys(list(self.data))}; {len(self.snapshots)} "
            f"snapshot(s), {len(self.results)} recorded run(s)"
        )
        if self.missing_keys:
            text += f"; missing: {_keys(self.missing_keys)}"
        return _clip(text + ".", limit)


class ContextUpdate(ContextInfo):
    """The outcome of an update: the data after it and what changed."""

    data: dict[str, Any] = Field(description="the whole data after the update")
    previous_version: int
    changed: bool = Field(description="False when the update changed nothing (no new version)")
    changed_keys: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        if not self.changed:
            text = (
                f"context {self.context_id} unchanged at version {self.version} "
                f"({len(self.data)} key(s), status {self.status})."
            )
        else:
            text = (
                f"context {self.context_id} updated from version {self.previous_version} to "
                f"{self.version}: changed {_keys(self.changed_keys)}; {len(self.data)} key(s) "
                f"now, status {self.status}."
            )
        return _clip(text, limit)


class ContextList(Result):
    """Contexts of one type, newest first."""

    context_type: str
    status: str | None = Field(default=None, description="the status filter, if any")
    count: int
    contexts: list[ContextInfo]

    def summary(self, limit: int = 600) -> str:
        by_status: dict[str, int] = {}
        for context in self.contexts:
            by_status[context.status] = by_status.get(context.status, 0) + 1
        counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"
        names = _keys([f"{c.name} ({c.context_id})" for c in self.contexts], 5)
        text = f"{self.count} {self.context_type} context(s) ({counts}): {names}."
        return _clip(text, limit)


class ContextSnapshot(Result):
    """A snapshot just taken: a full copy of the context's data at one version."""

    snapshot_id: str
    context_id: str
    snapshot_name: str | None
    version: int = Field(description="the context version copied")
    created_at: float
    data: dict[str, Any] = Field(description="the data copied")

    @classmethod
    def of(cls, record: SnapshotRecord) -> ContextSnapshot:
        """The result for a stored snapshot."""
        return cls(
            snapshot_id=record.id,
            context_id=record.context_id,
            snapshot_name=record.name,
            version=record.version,
            created_at=record.created_at,
            data=record.data,
        )

    def summary(self, limit: int = 600) -> str:
        text = (
            f"snapshot {self.snapshot_name!r} ({self.snapshot_id}) of context {self.context_id} "
            f"at version {self.version}: {len(self.data)} key(s) ({_keys(list(self.data))})."
        )
        return _clip(text, limit)


class RestoredContext(ContextInfo):
    """A context whose data a snapshot replaced."""

    snapshot_id: str
    snapshot_name: str | None
    snapshot_version: int = Field(description="the version the snapshot had copied")
    source_context_id: str = Field(description="the context the snapshot was taken of")
    previous_version: int
    data: dict[str, Any] = Field(description="the restored data (now the context's data)")
    changed_keys: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        text = (
            f"restored snapshot {self.snapshot_name!r} ({self.snapshot_id}, version "
            f"{self.snapshot_version} of {self.source_context_id}) into context "
            f"{self.context_id}: version {self.previous_version} -> {self.version}, "
            f"{len(self.changed_keys)} key(s) changed ({_keys(self.changed_keys)}), "
            f"{len(self.data)} key(s) now."
        )
        return _clip(text, limit)


class GlobalContextData(Result):
    """The global context's data (all of it, or the keys asked for)."""

    context_id: str
    version: int
    updated_at: float
    data: dict[str, Any]
    missing_keys: list[str] = Field(default_factory=list)

    def summary(self, limit: int = 600) -> str:
        text = f"global context at version {self.version}: {len(self.data)} key(s) "
        text += f"({_keys(list(self.data))})"
        if self.missing_keys:
            text += f"; missing: {_keys(self.missing_keys)}"
        return _clip(text + ".", limit)
