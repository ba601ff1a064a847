"""Per-kind recall of `run_security_test` on two planted-flaw APIs it has no knowledge of, and
at most one false category on their hardened twins.

Each vulnerable target plants one flaw per kind; a kind counts as found when a finding of one
of its probes is reported. Scans go through the public `run_security_test` with the
documented `auth` shape, as a user would run them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from starlette.applications import Starlette

from mockloop import AsyncMockLoopClient
from mockloop.security import SecurityTestResult
from tests.core.security_targets import hardened_app, serve, token_for, vulnerable_app
from tests.core.security_targets_v2 import PLANTED as WORKSPACE_PLANTED
from tests.core.security_targets_v2 import PlantedKind, auth_shape, workspace_app

RECALL = 0.9

# The first target's planted kinds (tests/core/security_targets.py), one per flaw it plants.
ACCOUNTS_PLANTED: tuple[PlantedKind, ...] = (
    PlantedKind("another user's object (BOLA)", "API1", ("API1.object_ids",), "GET /users/{id}"),
    PlantedKind("unsigned alg:none JWT accepted", "API2", ("API2.alg_none_jwt",), "every op"),
    PlantedKind("expired JWT accepted", "API2", ("API2.expired_jwt",), "every op"),
    PlantedKind("password hash returned", "API3", ("API3.sensitive_fields",), "GET /users/{id}"),
    PlantedKind("unbounded page size", "API4", ("API4.page_size",), "GET /users?limit="),
    PlantedKind("no rate limit", "API4", ("API4.rate_limit",), "every operation"),
    PlantedKind("no body size limit", "API4", ("API4.payload_size",), "POST /users"),
    PlantedKind("non-admin reaches /admin", "API5", ("API5.admin_paths",), "GET /admin"),
    PlantedKind("SSRF through a URL field", "API7", ("API7.url_parameters",),
                "POST /avatars/import"),
    PlantedKind("CORS reflects any origin with credentials", "API8", ("API8.cors",), "all"),
    PlantedKind("stack trace in a 500 body", "API8", ("API8.verbose_errors",),
                "GET /users/{id}"),
    PlantedKind("TRACE echoes the request", "API8", ("API8.trace",), "every path"),
    PlantedKind("SQL injection", "API8", ("INJ.sql",), "GET /users/search?name="),
    PlantedKind("retired version still served", "API9", ("API9.versions",), "GET /v1/users"),
)  # fmt: skip

ACCOUNTS_AUTH: dict[str, Any] = {
    "users": [
        {"name": "alice", "token": token_for(1), "ids": {"id": 1}},
        {"name": "bob", "token": token_for(2), "ids": {"id": 2}},
    ],
    "admin": {"token": token_for(3, "admin")},
}


async def _scan(app: Any, auth: dict[str, Any]) -> SecurityTestResult:
    # serve() runs any ASGI app; it is typed for the first target's Starlette apps.
    with serve(cast(Starlette, app)) as url:
        return await AsyncMockLoopClient().run_security_test(
            url, auth=auth, max_requests=900, rate_limit_rps=300, burst=25, timing_delay=0.3
        )


def _table(planted: tuple[PlantedKind, ...], result: SecurityTestResult) -> tuple[float, str]:
    """The recall over planted kinds and a table of every kind: found, by which probe, where."""
    probes = {f.probe for f in result.findings}
    rows, found = [], 0
    for kind in planted:
        hit = [p for p in kind.probes if p in probes]
        found += bool(hit)
        mark = f"found ({', '.join(hit)})" if hit else f"MISSED ({' or '.join(kind.probes)})"
        rows.append(f"  {kind.category:<5} {kind.kind:<45} {mark:<40} {kind.where}")
    recall = found / len(planted)
    head = f"recall {found}/{len(planted)} = {recall:.2f}; {result.summary()}"
    return recall, "\n".join([head, *rows])


def _false_categories(result: SecurityTestResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in result.findings:
        out.setdefault(finding.category.split(":")[0], []).append(
            f"{finding.probe} {finding.operation}: {finding.title}"
        )
    return out


TARGETS = {
    "accounts (Starlette, JWT)": (vulnerable_app, hardened_app, ACCOUNTS_PLANTED, ACCOUNTS_AUTH),
    "workspace (plain ASGI, X-Api-Key)": (
        workspace_app,
        lambda: workspace_app(hardened=True),
        WORKSPACE_PLANTED,
        auth_shape(),
    ),
}


@pytest.fixture(scope="module", params=list(TARGETS))
def target(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


async def test_planted_kinds_are_found(target: str) -> None:
    make_vulnerable, _, planted, auth = TARGETS[target]
    result = await _scan(make_vulnerable(), auth)
    recall, table = _table(planted, result)
    assert recall >= RECALL, f"{target}: recall below {RECALL}\n{table}"
    assert all(f.evidence.request.url.startswith("http://127.0.0.1") for f in result.findings)


async def test_hardened_twin_has_at_most_one_false_category(target: str) -> None:
    _, make_hardened, _, auth = TARGETS[target]
    result = await _scan(make_hardened(), auth)
    false = _false_categories(result)
    assert len(false) <= 1, f"{target}: false categories on the hardened twin: {false}"
    assert result.requests_sent <= result.max_requests
