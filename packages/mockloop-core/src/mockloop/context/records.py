"""What a context store keeps, backend-neutral: contexts, their change history, snapshots.

Records carry decoded Python values (datetimes as datetimes); the backends store them with
`mockloop.context.values` and hand records back.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CONTEXT_TYPES",
    "GLOBAL_CONTEXT_ID",
    "LIST_STATUSES",
    "STORED_STATUSES",
    "Actor",
    "ContextRecord",
    "ContextStatus",
    "ContextType",
    "HistoryRecord",
    "SnapshotRecord",
    "StoredStatus",
    "effective_status",
    "new_context_id",
    "new_snapshot_id",
]

ContextType = Literal["test_session", "workflow", "agent", "global"]
CONTEXT_TYPES: tuple[str, ...] = ContextType.__args__  # type: ignore[attr-defined]

#: Statuses a caller may set; "expired" is never stored, it is read off `expires_at`.
StoredStatus = Literal["active", "completed", "failed", "archived"]
STORED_STATUSES: tuple[str, ...] = StoredStatus.__args__  # type: ignore[attr-defined]
ContextStatus = Literal["active", "completed", "failed", "archived", "expired"]
LIST_STATUSES: tuple[str, ...] = ContextStatus.__args__  # type: ignore[attr-defined]

#: The one global context: created on first use, shared by every session and agent.
GLOBAL_CONTEXT_ID = "global"


def new_context_id(context_type: str) -> str:
    """A unique context id that says its type: "workflow-" and 16 hex digits."""
    prefix = "session" if context_type == "test_session" else context_type
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def new_snapshot_id() -> str:
    """A unique snapshot id: "snap-" and 16 hex digits."""
    return f"snap-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the operation, the face (python, mcp, ...) and its session."""

    operation: str = ""
    face: str | None = None
    session_id: str | None = None


def effective_status(status: str, expires_at: float | None, now: float | None = None) -> str:
    """The status a caller sees: an active context past its `expires_at` reads "expired"."""
    moment = time.time() if now is None else now
    if status == "active" and expires_at is not None and moment >= expires_at:
        return "expired"
    return status


@dataclass(frozen=True)
class ContextRecord:
    """One context as stored, with its children's ids."""

    id: str
    type: str
    name: str
    stored_status: str
    parent_id: str | None
    attributes: dict[str, Any]
    data: dict[str, Any]
    version: int
    created_at: float
    updated_at: float
    expires_at: float | None
    created_by: str | None = None
    children: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        """The status as of now ("expired" once `expires_at` has passed)."""
        return effective_status(self.stored_status, self.expires_at)


@dataclass(frozen=True)
class HistoryRecord:
    """One change of a context: the version it made and what changed (secrets redacted).

    `changes` maps each changed key to {"old": ..., "new": ...}; a key that was added has no
    "old", a removed key no "new".
    """

    context_id: str
    version: int
    at: float
    action: str
    changed_keys: tuple[str, ...]
    changes: dict[str, dict[str, Any]]
    operation: str | None = None
    face: str | None = None
    session_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SnapshotRecord:
    """A full copy of a context's data at one version."""

    id: str
    context_id: str
    name: str | None
    version: int
    data: dict[str, Any]
    created_at: float
    face: str | None = None
