"""Placeholder credentials for plan steps, the same for generated and for saved plans.

A MockLoop mock with auth on checks only that credentials are present and well formed (see
`mockloop.mock.auth`), so a step that calls an operation needing them gets placeholder ones:
a generated plan writes them into its steps, and a plan written by hand or saved earlier gets
them when it runs against such a mock (`add_mock_credentials`). A step that already carries
credentials for one of the operation's requirements, blanks a credential header on purpose
(`"Authorization": ""`), or expects only 401/403 is left as written: it tests the refusal.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockloop.spec.model import ApiSpec, Operation, SecurityScheme

if TYPE_CHECKING:
    from mockloop.testing.plans.runner import PreparedStep

__all__ = ["PLACEHOLDER", "Credentials", "add_mock_credentials", "placeholder_credentials"]

PLACEHOLDER = "mockloop-test-plan"
_BASIC = base64.b64encode(b"mockloop:test-plan").decode()
_REFUSALS = {"401", "403", 401, 403}


@dataclass(slots=True)
class Credentials:
    """Placeholder credentials for one operation: headers, query parameters, cookies."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)


def requires_auth(op: Operation) -> bool:
    """Whether every security requirement of `op` asks for something (none is anonymous)."""
    return bool(op.security) and all(requirement for requirement in op.security)


def placeholder_credentials(
    spec: ApiSpec, op: Operation, provided_headers: set[str] | None = None
) -> Credentials:
    """Placeholder credentials for `op`'s first security requirement.

    `provided_headers` (lower-case names) are sent by the caller anyway and are left out.
    """
    found = Credentials()
    if not requires_auth(op):
        return found
    provided = provided_headers or set()
    for name in op.security[0]:
        scheme = spec.security_schemes.get(name)
        if scheme is None:
            continue
        if scheme.type == "apiKey" and scheme.param_name:
            if scheme.location == "query":
                found.params[scheme.param_name] = PLACEHOLDER
            elif scheme.location == "cookie":
                found.cookies.append(f"{scheme.param_name}={PLACEHOLDER}")
            elif scheme.param_name.lower() not in provided:
                found.headers[scheme.param_name] = PLACEHOLDER
        elif "authorization" not in provided:
            if scheme.type == "http" and (scheme.scheme or "").lower() == "basic":
                found.headers["Authorization"] = f"Basic {_BASIC}"
            else:
                found.headers["Authorization"] = f"Bearer {PLACEHOLDER}"
    return found


def _credential_names(scheme: SecurityScheme) -> tuple[str, str]:
    """(where, lower-case name) of the credential a scheme asks for."""
    if scheme.type == "apiKey" and scheme.param_name:
        return scheme.location or "header", scheme.param_name.lower()
    return "header", "authorization"


def _carries(
    spec: ApiSpec, op: Operation, headers: dict[str, str], params: dict[str, Any]
) -> tuple[bool, bool]:
    """(some requirement is met, a credential header is blanked on purpose)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    cookie = lowered.get("cookie", "")
    cookies = {part.split("=", 1)[0].strip() for part in cookie.split(";") if "=" in part}
    blanked = False
    met = False
    for requirement in op.security:
        present = True
        for name in requirement:
            scheme = spec.security_schemes.get(name)
            if scheme is None:
                continue
            where, key = _credential_names(scheme)
            if where == "query":
                present &= key in {p.lower() for p in params}
            elif where == "cookie":
                present &= key in {c.lower() for c in cookies}
            else:
                value = lowered.get(key)
                blanked |= value == ""
                present &= bool(value)
        met |= present
    return met, blanked


def add_mock_credentials(
    steps: list[PreparedStep],
    spec: ApiSpec,
    *,
    plan_headers: dict[str, str] | None = None,
    caller_headers: dict[str, str] | None = None,
) -> list[str]:
    """Give each step that needs credentials and carries none the placeholder ones.

    Meant for a plan run against a MockLoop mock that enforces auth. Steps are changed in
    place; returns the names of the steps that got credentials.
    """
    shared = {**(plan_headers or {}), **(caller_headers or {})}
    given: list[str] = []
    for prepared in steps:
        op = prepared.operation
        if op is None or not requires_auth(op):
            continue
        step = prepared.step
        request = step.request
        if all(status in _REFUSALS for status in step.default_status()):
            continue  # the step checks the refusal itself
        headers = {**shared, **request.headers}
        met, blanked = _carries(spec, op, headers, request.params)
        if met or blanked:
            continue
        found = placeholder_credentials(spec, op, {name.lower() for name in headers})
        new_headers = {**request.headers, **found.headers}
        if found.cookies:
            old = next((v for k, v in request.headers.items() if k.lower() == "cookie"), "")
            new_headers = {k: v for k, v in new_headers.items() if k.lower() != "cookie"}
            new_headers["Cookie"] = "; ".join(filter(None, [old, *found.cookies]))
        new_request = request.model_copy(
            update={"headers": new_headers, "params": {**request.params, **found.params}}
        )
        prepared.step = step.model_copy(update={"request": new_request})
        given.append(prepared.name)
    return given
