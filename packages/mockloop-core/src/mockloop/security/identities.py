"""The principals a security test acts as, from the `auth` parameter.

    auth = {
        "users": [
            {"name": "alice", "headers": {"Authorization": "Bearer ..."}, "ids": {"id": 1}},
            {"name": "bob", "headers": {"Authorization": "Bearer ..."}, "ids": {"id": 2}},
        ],
        "admin": {"headers": {...}},          # optional: an administrator
    }

`ids` maps path-parameter names to the id of an object the user owns; two users with ids make
object-level authorization testable. `{"headers": {...}}` alone is one user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from mockloop.errors import ConfigError

__all__ = ["Identity", "SecurityAuth", "SecurityPrincipal", "parse_identities"]

_KEYS = {"name", "headers", "query", "ids", "role", "token"}


@dataclass(slots=True)
class Identity:
    """One principal: how its requests carry credentials, and which objects it owns."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    role: str = "user"

    @property
    def is_admin(self) -> bool:
        """Whether it was declared as an administrator."""
        return self.role == "admin"

    def bearer(self) -> str | None:
        """Its bearer token, if its credentials are one."""
        for name, value in self.headers.items():
            if name.lower() == "authorization" and value.lower().startswith("bearer "):
                return value[7:].strip()
        return None


def _leave_out(schema: dict[str, Any]) -> None:
    """Publish an optional field as one to leave out, not to send as null (refused)."""
    schema.pop("default", None)


class SecurityPrincipal(BaseModel):
    """One principal to act as (the published shape; `parse_identities` reads the dict)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "alice",
                    "headers": {"Authorization": "Bearer alice-token"},
                    "ids": {"petId": 1},
                }
            ]
        },
    )

    name: str | SkipJsonSchema[None] = Field(
        default=None,
        description="a label in findings (default user1...)",
        json_schema_extra=_leave_out,
    )
    headers: dict[str, str | int | float] = Field(
        default_factory=dict, description="headers carrying its credentials"
    )
    token: str | None = Field(
        default=None, description="a bearer token: the same as headers {Authorization: Bearer}"
    )
    query: dict[str, str | int | float] = Field(
        default_factory=dict, description="query parameters carrying its credentials"
    )
    ids: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="path parameter name -> the id of an object this principal owns",
    )
    role: Literal["user", "admin"] | SkipJsonSchema[None] = Field(
        default=None,
        description="user or admin (default: user in users, admin as admin)",
        json_schema_extra=_leave_out,
    )


class SecurityAuth(BaseModel):
    """The principals a security test acts as: users (two with ids make object-level
    authorization testable) and an optional administrator. A principal alone is one user."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {"name": "alice", "token": "alice-token", "ids": {"petId": 1}},
                        {"name": "bob", "token": "bob-token", "ids": {"petId": 2}},
                    ],
                    "admin": {"token": "admin-token"},
                }
            ]
        },
    )

    users: list[SecurityPrincipal] = Field(
        default_factory=list, description="ordinary users, each with its own credentials"
    )
    admin: SecurityPrincipal | None = Field(default=None, description="an administrator")


def _strings(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"{where} must be an object of name -> value")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ConfigError(f"{where}.{key} must be a string or a number")
        out[key] = str(item)
    return out


def _identity(raw: Any, where: str, default_name: str, role: str) -> Identity:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object with headers, query, ids, name, role")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}; use {sorted(_KEYS)}")
    headers = _strings(raw.get("headers"), f"{where}.headers")
    token = raw.get("token")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise ConfigError(f"{where}.token must be a non-empty string (a bearer token)")
        headers.setdefault("Authorization", f"Bearer {token}")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name must be a non-empty string")
    chosen_role = raw.get("role", role)
    if chosen_role not in ("user", "admin"):
        raise ConfigError(f"{where}.role must be 'user' or 'admin', not {chosen_role!r}")
    return Identity(
        name=name,
        headers=headers,
        query=_strings(raw.get("query"), f"{where}.query"),
        ids=_strings(raw.get("ids"), f"{where}.ids"),
        role=chosen_role,
    )


def parse_identities(auth: dict[str, Any] | None) -> tuple[list[Identity], Identity | None]:
    """(users, admin) from the `auth` parameter; ConfigError naming the wrong field."""
    if auth is None:
        return [], None
    if not isinstance(auth, dict):
        raise ConfigError('auth must be an object like {"users": [{"headers": {...}}]}')
    if "users" not in auth and "admin" not in auth:
        return [_identity(auth, "auth", "user1", "user")], None
    unknown = set(auth) - {"users", "admin"}
    if unknown:
        raise ConfigError(f"auth has unknown key(s) {sorted(unknown)}; use users and admin")
    raw_users = auth.get("users", [])
    if not isinstance(raw_users, list):
        raise ConfigError("auth.users must be a list of identities")
    users = [
        _identity(raw, f"auth.users[{i}]", f"user{i + 1}", "user")
        for i, raw in enumerate(raw_users)
    ]
    admin = None
    if auth.get("admin") is not None:
        admin = _identity(auth["admin"], "auth.admin", "admin", "admin")
    return users, admin
