"""Operations on the audit trail: query, export, verify, retention."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from mockloop.audit.recorder import audit_failures, audit_store
from mockloop.audit.results import (
    AuditExport,
    AuditLogPage,
    AuditRetention,
    AuditVerificationResult,
    Outcome,
)
from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase
from mockloop.operations.reports import refuse_existing, write_file

__all__ = [
    "AuditExport",
    "AuditLogPage",
    "AuditOperations",
    "AuditRetention",
    "AuditVerificationResult",
    "Outcome",
]


def _epoch(value: str | float | datetime | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r}: give epoch seconds or ISO 8601") from None


class AuditOperations(OperationsBase):
    """The audit trail every operation call appends to."""

    @operation(group="audit", read_only=True)
    async def query_audit_log(
        self,
        operation: str | None = None,
        face: str | None = None,
        outcome: Outcome | None = None,
        session_id: str | None = None,
        time_from: str | float | datetime | None = None,
        time_to: str | float | datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> AuditLogPage:
        """Read the audit trail of MockLoop operation calls, newest first, with filters.

        Args:
            operation: only calls of this operation (e.g. generate_mock_api).
            face: only calls made through python, mcp, langchain or crewai.
            outcome: only ok, error, cancelled or invalid calls (invalid: refused at argument
                validation, the operation never ran).
            session_id: only calls of this session or client id.
            time_from: earliest call time: epoch seconds, ISO 8601 or a datetime.
            time_to: latest call time: epoch seconds, ISO 8601 or a datetime.
            limit: records to return, 1 to 10000.
            offset: matching records to skip (for paging).
        """
        if not 1 <= limit <= 10_000:
            raise ConfigError(f"limit={limit} must be between 1 and 10000")
        if offset < 0:
            raise ConfigError(f"offset={offset} must be 0 or more")
        filters = {
            "operation": operation,
            "face": face,
            "outcome": outcome,
            "session_id": session_id,
            "time_from": _epoch(time_from, "time_from"),
            "time_to": _epoch(time_to, "time_to"),
        }
        store = await self._in_thread(audit_store)
        total, records = await self._in_thread(store.query, limit=limit, offset=offset, **filters)
        return AuditLogPage(
            total=total, count=len(records), limit=limit, offset=offset, records=records
        )

    @operation(group="audit", read_only=True)
    async def export_audit_log(
        self,
        format: Literal["jsonl", "csv"] = "jsonl",
        path: str | None = None,
        operation: str | None = None,
        face: str | None = None,
        time_from: str | float | datetime | None = None,
        time_to: str | float | datetime | None = None,
        overwrite: bool = False,
    ) -> AuditExport:
        """Export the audit trail (oldest first) as JSON Lines or CSV, to a file or as text.

        Args:
            format: jsonl (one JSON record per line) or csv.
            path: a file to write (folders are created; an existing file is an error unless
                overwrite is True); without it the export is returned as text.
            operation: only calls of this operation.
            face: only calls made through python, mcp, langchain or crewai.
            time_from: earliest call time: epoch seconds, ISO 8601 or a datetime.
            time_to: latest call time: epoch seconds, ISO 8601 or a datetime.
            overwrite: replace path when it exists already (default False: refuse).
        """
        target = Path(path).expanduser() if path is not None else None
        if target is not None and not overwrite:
            refuse_existing(target, "path")  # before the export is read
        store = await self._in_thread(audit_store)
        text, count = await self._in_thread(
            store.export,
            format,
            operation=operation,
            face=face,
            time_from=_epoch(time_from, "time_from"),
            time_to=_epoch(time_to, "time_to"),
        )
        if target is None:
            return AuditExport(format=format, records=count, content=text)
        written = await self._in_thread(write_file, text, target, "path", overwrite)
        return AuditExport(format=format, records=count, path=written)

    @operation(group="audit", read_only=True)
    async def verify_audit_log(self) -> AuditVerificationResult:
        """Check the audit trail's hash chain; names the first record that was altered.

        Also reports how many audit records this process failed to write.
        """
        store = await self._in_thread(audit_store)
        found = await self._in_thread(store.verify)
        failures = audit_failures()
        return AuditVerificationResult(
            **found.model_dump(),
            write_failures=int(failures["count"] or 0),
            last_write_error=failures["last_error"],
        )

    @operation(group="audit", destructive=True)
    async def apply_audit_retention(
        self, max_age_days: float | None = None, max_records: int | None = None
    ) -> AuditRetention:
        """Delete old audit records by age and/or count; the remaining chain still verifies.

        Args:
            max_age_days: delete records older than this many days.
            max_records: keep at most this many of the newest records.
        """
        store = await self._in_thread(audit_store)
        deleted = await self._in_thread(
            store.apply_retention, max_age_days=max_age_days, max_records=max_records
        )
        total, _ = await self._in_thread(store.query, limit=1)
        check = await self._in_thread(store.verify)
        return AuditRetention(deleted=deleted, remaining=total, verification_ok=check.ok)
