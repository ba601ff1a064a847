"""Writing one audit record per operation call, without ever failing the call."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from mockloop.audit.context import current_face
from mockloop.audit.redaction import redact_arguments, redact_text
from mockloop.audit.store import AuditStore
from mockloop.store.database import Location

__all__ = [
    "audit_failures",
    "audit_store",
    "close_audit_stores",
    "record_call",
    "record_rejected",
]

logger = logging.getLogger("mockloop.audit")

_stores: dict[Location, AuditStore] = {}
_stores_lock = threading.Lock()
_failures = {"count": 0, "last_error": None}


def audit_store() -> AuditStore:
    """The trail in force: the `audit` schema of `MOCKLOOP_DATABASE_URL` when set, else
    `audit.db` in the state folder (one open store per location and process)."""
    location = AuditStore.resolve(None)
    with _stores_lock:
        store = _stores.get(location)
        if store is None:
            store = _stores[location] = AuditStore(location)
        return store


def close_audit_stores() -> None:
    """Close and forget every trail this process opened (the next record opens its own again).

    For tests and embedders that switch databases: each open store holds a connection.
    """
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()


def audit_failures() -> dict[str, Any]:
    """How many audit records could not be written in this process, and the last reason."""
    return dict(_failures)


def record_call(
    operation: str,
    arguments: dict[str, Any],
    *,
    error: BaseException | None,
    cancelled: bool = False,
    duration_ms: float,
) -> None:
    """Append the record of one call; a failure is logged and counted, never raised."""
    outcome = "cancelled" if cancelled else ("error" if error is not None else "ok")
    _append(operation, arguments, outcome, error, duration_ms, *current_face())


def record_rejected(
    operation: str,
    arguments: dict[str, Any],
    error: BaseException,
    *,
    face: str | None = None,
    session_id: str | None = None,
) -> None:
    """Append the record of a call refused at argument validation (outcome "invalid"): the
    operation never ran. `face` and `session_id` default to the face in force
    (`using_face`). A failure to write is logged and counted, never raised."""
    current, current_session = current_face()
    _append(
        operation,
        arguments,
        "invalid",
        error,
        0.0,
        face or current,
        session_id if face is not None else current_session,
    )


def _append(
    operation: str,
    arguments: dict[str, Any],
    outcome: str,
    error: BaseException | None,
    duration_ms: float,
    face: str,
    session_id: str | None,
) -> None:
    try:
        audit_store().append(
            {
                "ts": time.time(),
                "operation": operation,
                "face": face,
                "session_id": session_id,
                "arguments": redact_arguments(arguments),
                "outcome": outcome,
                "error_class": type(error).__name__ if error is not None else None,
                "error": redact_text(str(error))[:2000] if error is not None else None,
                "duration_ms": duration_ms,
            }
        )
    except Exception as exc:  # the audit must never break the operation it records
        _failures["count"] = int(_failures["count"] or 0) + 1
        _failures["last_error"] = f"{type(exc).__name__}: {exc}"
        logger.warning("audit record of %s not written: %s", operation, exc)
