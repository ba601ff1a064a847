"""What the audit trail's operations return: a page of records, an export, a verification of
the hash chain, and what a retention policy removed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mockloop.results import Result

__all__ = [
    "AuditExport",
    "AuditLogPage",
    "AuditRetention",
    "AuditVerificationResult",
    "Outcome",
]

Outcome = Literal["ok", "error", "cancelled", "invalid"]
"""How a call ended: ok, error (it raised), cancelled, invalid (refused at argument validation:
the operation never ran)."""


class AuditLogPage(Result):
    """Audit records, newest first."""

    total: int = Field(description="records matching the filters, all pages")
    count: int
    limit: int
    offset: int
    records: list[dict[str, Any]] = Field(
        description="time, operation, face, session_id, redacted arguments, outcome, "
        "error_class, error, duration_ms, hash"
    )


class AuditExport(Result):
    """An export of the audit trail."""

    format: str
    records: int
    path: str | None = Field(default=None, description="the file written, if a path was given")
    content: str | None = Field(default=None, description="the export, when no path was given")


class AuditVerificationResult(Result):
    """Whether the hash chain holds, and where it breaks."""

    ok: bool
    checked: int
    first_id: int | None = None
    last_id: int | None = None
    broken_id: int | None = Field(default=None, description="the first record that fails")
    reason: str | None = None
    write_failures: int = Field(description="audit records this process could not write")
    last_write_error: str | None = None


class AuditRetention(Result):
    """What a retention policy removed."""

    deleted: int
    remaining: int
    verification_ok: bool = Field(description="the chain still verifies after the deletion")
