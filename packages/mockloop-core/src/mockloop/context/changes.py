"""The rules of changing a context, shared by every backend: what may change and what did.

A backend reads the current row inside its write transaction, asks `plan_update` or
`plan_restore` what the new row is (or which rule refuses the change), writes it with the
version check, and appends the plan's history entry. The rules work on encoded data
(`mockloop.context.values`), so "changed" means "stored differently", exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mockloop.audit.redaction import redact_arguments
from mockloop.context.records import STORED_STATUSES, effective_status
from mockloop.context.values import dumps
from mockloop.errors import ConfigError, VersionConflictError

__all__ = [
    "HISTORY_TEXT_LIMIT",
    "ChangePlan",
    "VersionConflictError",
    "diff_data",
    "plan_restore",
    "plan_update",
]


@dataclass(frozen=True)
class ChangePlan:
    """The row a change leads to and its history entry; `changed` is False for a no-op."""

    data: dict[str, Any]
    status: str
    changed_keys: tuple[str, ...]
    changes: dict[str, dict[str, Any]]
    action: str

    @property
    def changed(self) -> bool:
        """The change makes a new version (a restore always does, even to the same data)."""
        return self.action != "none"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


#: History keeps the start of longer strings: the data and snapshots hold them whole.
HISTORY_TEXT_LIMIT = 256


def _for_history(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) <= HISTORY_TEXT_LIMIT:
            return value
        return f"{value[:HISTORY_TEXT_LIMIT]}... [{len(value)} chars]"
    if isinstance(value, list):
        return [_for_history(item) for item in value]
    if isinstance(value, dict):
        return {key: _for_history(item) for key, item in value.items()}
    return value


def _redacted(key: str, value: Any) -> Any:
    # Redacted under its own key, so a secret-looking key ("api_token") hides its value.
    return redact_arguments({key: _for_history(value)})[key]


def diff_data(
    old: dict[str, Any], new: dict[str, Any]
) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """Top-level keys that differ between two encoded data objects, and {key: {old, new}}.

    Values in the changes are redacted (`mockloop.audit.redaction`) and strings beyond
    `HISTORY_TEXT_LIMIT` characters cut short: the history is a trail to read, the data and
    snapshots keep the values whole.
    """
    # Compared as stored text: 1, 1.0 and True are equal in Python but not in the data.
    keys = [key for key in old if key not in new or dumps(old[key]) != dumps(new[key])]
    keys += [key for key in new if key not in old]
    changes: dict[str, dict[str, Any]] = {}
    for key in keys:
        entry: dict[str, Any] = {}
        if key in old:
            entry["old"] = _redacted(key, old[key])
        if key in new:
            entry["new"] = _redacted(key, new[key])
        changes[key] = entry
    return tuple(keys), changes


def _check_writable(context_id: str, status: str, expires_at: float | None, now: float) -> None:
    if effective_status(status, expires_at, now) == "expired":
        assert expires_at is not None
        raise ConfigError(
            f"context {context_id!r} expired at {_iso(expires_at)}: its data can be read and "
            "snapshotted but not changed; restore one of its snapshots into a new context "
            "(restore_context_snapshot(snapshot_id, context_id=NEW_ID)) to carry on"
        )


def plan_update(
    context_id: str,
    *,
    current: dict[str, Any],
    stored_status: str,
    expires_at: float | None,
    version: int,
    data: dict[str, Any],
    merge: bool,
    status: str | None,
    expected_version: int | None,
    now: float,
) -> ChangePlan:
    """The outcome of `update_context_data` on a context read inside the write transaction.

    `merge=True` sets the given top-level keys and keeps the others; `merge=False` replaces
    the whole data. A status change alone (empty `data` with merge) is a change too.

    Raises:
        VersionConflictError: `expected_version` is given and is not the current version.
        ConfigError: the context expired; it is archived and the update does not reopen it;
            `status` is not one a caller may set.
    """
    if expected_version is not None and expected_version != version:
        raise VersionConflictError(context_id, expected_version, version)
    if status is not None and status not in STORED_STATUSES:
        raise ConfigError(
            f"status={status!r} cannot be set; use one of {', '.join(STORED_STATUSES)} "
            "(expired is read off the context's expiry)"
        )
    _check_writable(context_id, stored_status, expires_at, now)
    new_data = {**current, **data} if merge else dict(data)
    keys, changes = diff_data(current, new_data)
    new_status = status or stored_status
    if stored_status == "archived" and new_status == "archived" and keys:
        raise ConfigError(
            f"context {context_id!r} is archived and read-only; reopen it with "
            "update_context_data(context_id, data, status='active') to change its data"
        )
    action = ("merge" if merge else "replace") if keys else "status"
    if not keys and new_status == stored_status:
        action = "none"
    return ChangePlan(new_data, new_status, keys, changes, action)


def plan_restore(
    context_id: str,
    *,
    current: dict[str, Any],
    stored_status: str,
    expires_at: float | None,
    snapshot_data: dict[str, Any],
    now: float,
) -> ChangePlan:
    """The outcome of restoring a snapshot's data into a context (its data replaced whole).

    Raises:
        ConfigError: the target context expired or is archived.
    """
    _check_writable(context_id, stored_status, expires_at, now)
    if stored_status == "archived":
        raise ConfigError(
            f"context {context_id!r} is archived and read-only; reopen it with "
            "update_context_data(context_id, {}, status='active') before restoring into it"
        )
    keys, changes = diff_data(current, snapshot_data)
    # A restore is always recorded, even when the data already equals the snapshot's: the
    # history then says the context was brought back to that snapshot at that moment.
    return ChangePlan(dict(snapshot_data), stored_status, keys, changes, "restore")
