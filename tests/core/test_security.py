"""The security tester: every planted flaw of a vulnerable API found with evidence, nothing
reported on its hardened twin, safety (allow-list, budget), focus, compliance and recording."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from mockloop import AsyncMockLoopClient
from mockloop.errors import ConfigError
from mockloop.mock.config import MockConfig
from mockloop.mock.server import MockServer
from mockloop.security import ScanOptions, ScanRequest, SecurityTestResult, run_security_scan
from mockloop.security.canary import Canary
from mockloop.security.catalogue import resolve_focus
from mockloop.security.probes.authn import craft_jwt
from mockloop.testing.runs import TestRunStore
from tests.conftest import PETSTORE
from tests.core.security_targets import hardened_app, serve, token_for, vulnerable_app

# One planted flaw per category: the probe that must find it.
PLANTED = {
    "object_authorization": "API1.object_ids",
    "authentication": "API2.alg_none_jwt",
    "property_authorization": "API3.sensitive_fields",
    "resource_consumption": "API4.page_size",
    "function_authorization": "API5.admin_paths",
    "ssrf": "API7.url_parameters",
    "misconfiguration": "API8.cors",
    "inventory": "API9.versions",
    "injection": "INJ.sql",
}
ALSO_PLANTED = ("API2.expired_jwt", "API4.rate_limit", "API4.payload_size", "API8.trace",
                "API8.verbose_errors")  # fmt: skip


AUTH: dict[str, Any] = {
    "users": [
        {"name": "alice", "token": token_for(1), "ids": {"id": 1}},
        {"name": "bob", "token": token_for(2), "ids": {"id": 2}},
    ]
}


def _scan(url: str, **kw: Any) -> SecurityTestResult:
    options = ScanOptions(burst=kw.pop("burst", 25), timing_delay=0.3)
    request = ScanRequest(
        server_url=url,
        api_spec=kw.pop("api_spec", None),
        security_focus=kw.pop("security_focus", None),
        compliance_requirements=kw.pop("compliance_requirements", None),
        allow_hosts=None,
        max_requests=kw.pop("max_requests", 600),
        rate_limit_rps=kw.pop("rate_limit_rps", 200),
        auth=kw.pop("auth", AUTH),
        options=options,
        timeout=5,
    )
    return asyncio.run(run_security_scan(request))


@pytest.fixture(scope="module")
def vulnerable() -> Iterator[str]:
    with serve(vulnerable_app()) as url:
        yield url


@pytest.fixture(scope="module")
def vulnerable_result(vulnerable: str) -> SecurityTestResult:
    return _scan(vulnerable, compliance_requirements=["OWASP-API-2023", "PCI-DSS-4.0"])


@pytest.fixture(scope="module")
def hardened_result() -> SecurityTestResult:
    with serve(hardened_app()) as url:
        return _scan(url, compliance_requirements=["OWASP-API-2023", "NIST-800-53"])


# -- the planted flaws and the twin ------------------------------------------------------------


def test_every_planted_flaw_is_found_with_evidence(vulnerable_result: SecurityTestResult) -> None:
    found = {f.probe for f in vulnerable_result.findings}
    missing = [p for p in (*PLANTED.values(), *ALSO_PLANTED) if p not in found]
    assert not missing, f"planted flaws not found: {missing}"
    assert {f.family for f in vulnerable_result.findings} >= set(PLANTED)
    for finding in vulnerable_result.findings:
        evidence = finding.evidence
        assert evidence.request.method and evidence.request.url.startswith("http://127.0.0.1")
        assert evidence.why and finding.remediation and finding.cwe.startswith("CWE-")
        assert finding.category.split(":")[0] in {f"API{i}" for i in range(1, 11)}
    bola = next(f for f in vulnerable_result.findings if f.probe == "API1.object_ids")
    assert bola.category == "API1:2023 Broken Object Level Authorization"
    assert bola.cwe == "CWE-639" and bola.confidence == "confirmed"
    assert bola.operation == "GET /users/{id}"
    assert '"name":"bob"' in bola.evidence.response.body.replace(" ", "")
    sql = next(f for f in vulnerable_result.findings if f.probe == "INJ.sql" and
               f.operation == "GET /users/search")  # fmt: skip
    assert "sqlite3.OperationalError" in sql.evidence.why
    ssrf = next(f for f in vulnerable_result.findings if f.probe == "API7.url_parameters")
    assert ssrf.evidence.extra["canary"]["method"] == "GET"
    assert vulnerable_result.status == "completed"
    assert vulnerable_result.requests_sent <= vulnerable_result.max_requests


def test_evidence_never_carries_the_credentials(vulnerable_result: SecurityTestResult) -> None:
    dumped = json.dumps(vulnerable_result.model_dump(mode="json"))
    for user in AUTH["users"]:
        assert user["token"] not in dumped
        assert user["token"].split(".")[2] not in dumped  # not even the signature
    bola = next(f for f in vulnerable_result.findings if f.probe == "API1.object_ids")
    assert bola.evidence.request.headers["Authorization"] == "[REDACTED]"
    assert "Bearer ey" not in dumped
    leak = next(f for f in vulnerable_result.findings if f.probe == "API3.sensitive_fields")
    assert '"password_hash": "[REDACTED]"' in leak.evidence.response.body
    assert "$2b$12$" not in dumped  # the leaked hashes are proven, not repeated


def test_hardened_twin_yields_no_finding(hardened_result: SecurityTestResult) -> None:
    assert hardened_result.findings == [], [f.title for f in hardened_result.findings]
    statuses = {p.probe: p.status for p in hardened_result.probes}
    for probe in (*PLANTED.values(), *ALSO_PLANTED):
        assert statuses[probe] == "tested", (probe, statuses[probe])
    assert hardened_result.summary_by_severity == dict.fromkeys(
        ("critical", "high", "medium", "low", "info"), 0
    )


def test_probes_not_automatable_are_reported_not_tested(
    vulnerable_result: SecurityTestResult,
) -> None:
    by_id = {p.probe: p for p in vulnerable_result.probes}
    for probe in ("API6.sensitive_flows", "API10.upstream"):
        assert by_id[probe].status == "not_tested" and "not automatable" in by_id[probe].reason
    assert "API6:2023 Unrestricted Access to Sensitive Business Flows" in (
        vulnerable_result.categories_not_tested
    )
    assert "vulnerable" not in vulnerable_result.summary()  # it reads figures, not names
    assert "finding(s)" in vulnerable_result.summary()


def test_compliance_maps_findings_honestly(
    vulnerable_result: SecurityTestResult, hardened_result: SecurityTestResult
) -> None:
    pci = next(r for r in vulnerable_result.compliance if r.framework == "PCI-DSS-4.0")
    controls = {c.control: c for c in pci.controls}
    assert controls["6.2.4"].status == "failed" and controls["6.2.4"].findings
    assert controls["6.4.2"].status == "not_tested"  # a WAF cannot be proven by probing
    assert "not that the control is met" in pci.statement
    owasp = {c.control: c for c in hardened_result.compliance[0].controls}
    assert owasp["API1"].status == "passed"
    assert owasp["API6"].status == "not_tested"
    assert owasp["API8"].status == "passed"
    nist = {c.control: c for c in hardened_result.compliance[1].controls}
    assert nist["RA-5"].status == "partially_tested"  # API6/API10 families cannot run
    assert all(c.not_covered for c in nist.values())


# -- safety ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://192.0.2.10:8080", "http://example.invalid/"])
async def test_a_target_not_allowed_gets_nothing(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    async def refuse(self: Any, request: httpx.Request, *a: Any, **k: Any) -> Any:
        sent.append(str(request.url))
        raise AssertionError("a request left for a target that is not allowed")

    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    monkeypatch.delenv("MOCKLOOP_ALLOWED_HOSTS", raising=False)
    with pytest.raises(ConfigError, match=r"server_url .*allow_hosts"):
        await AsyncMockLoopClient().run_security_test(url, api_spec=str(PETSTORE))
    assert sent == []


async def test_bad_input_names_the_field(vulnerable: str) -> None:
    client = AsyncMockLoopClient()
    with pytest.raises(ConfigError, match=r"security_focus.*API1"):
        await client.run_security_test(vulnerable, security_focus=["API42"])
    with pytest.raises(ConfigError, match=r"compliance_requirements.*PCI-DSS-4.0"):
        await client.run_security_test(vulnerable, compliance_requirements=["HIPPA"])
    with pytest.raises(ConfigError, match=r"auth\.users\[0\]\.headers"):
        await client.run_security_test(vulnerable, auth={"users": [{"headers": "Bearer x"}]})
    with pytest.raises(ConfigError, match="max_requests"):
        await client.run_security_test(vulnerable, max_requests=0)
    with pytest.raises(ConfigError, match=r"api_spec '192\.0\.2\.10'.*allow_hosts"):
        await client.run_security_test(vulnerable, api_spec="http://192.0.2.10/openapi.json")
    with pytest.raises(ConfigError, match="allow_hosts"):
        await client.run_security_test(vulnerable, allow_hosts="everything")  # type: ignore[arg-type]


def test_the_budget_is_kept_and_what_it_could_not_pay_for_is_skipped(vulnerable: str) -> None:
    result = _scan(vulnerable, max_requests=25)
    assert result.requests_sent <= 25
    assert result.status == "budget_exhausted"
    skipped = [p for p in result.probes if p.status == "skipped"]
    assert skipped and all("budget" in p.reason for p in skipped)
    assert "budget exhausted" in result.summary()


def test_the_rate_cap_spaces_requests(vulnerable: str) -> None:
    result = _scan(vulnerable, security_focus=["misconfiguration"], rate_limit_rps=25)
    assert result.requests_sent >= 8
    assert result.elapsed_s >= (result.requests_sent - 1) / 25 * 0.9


async def test_redirects_are_never_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    async def away(request: Any) -> RedirectResponse:
        return RedirectResponse("http://192.0.2.1/elsewhere", status_code=302)

    hosts: list[str] = []
    original = httpx.AsyncClient.send

    async def spy(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> httpx.Response:
        hosts.append(request.url.host)
        return await original(self, request, **kw)

    monkeypatch.setattr(httpx.AsyncClient, "send", spy)
    app = Starlette(routes=[Route("/{path:path}", away, methods=["GET", "POST", "TRACE"])])
    with serve(app) as url:
        result = await AsyncMockLoopClient().run_security_test(url, max_requests=80)
    assert hosts and set(hosts) == {"127.0.0.1"}
    assert result.findings == []
    assert any(p.notes for p in result.probes)


def test_focus_runs_only_the_chosen_categories(vulnerable: str) -> None:
    result = _scan(vulnerable, security_focus=["API2", "sqli"])
    assert {p.family for p in result.probes} == {"authentication", "injection"}
    assert {f.family for f in result.findings} == {"authentication", "injection"}
    assert any("not selected" in n for n in result.notes)


def test_focus_names_and_aliases() -> None:
    assert resolve_focus(["bola"]) == ["object_authorization"]
    assert resolve_focus("API8:2023") == ["misconfiguration", "injection"]
    assert resolve_focus(["Server Side Request Forgery"]) == ["ssrf"]


# -- other targets ----------------------------------------------------------------------------


def test_a_petstore_mock_runs_within_budget() -> None:
    config = MockConfig.build(spec=str(PETSTORE), port=0, admin_port=0, auth=False, storage=False)
    with MockServer(config) as mock:
        result = _scan(mock.business_url.rstrip("/"), auth=None, max_requests=150)
    assert result.requests_sent <= 150
    assert result.description_source and result.description_source.endswith("/openapi.json")
    assert not result.spec_free
    bola = next(p for p in result.probes if p.probe == "API1.object_ids")
    assert bola.status == "not_tested" and "two principals" in bola.reason


def test_without_a_description_only_spec_free_probes_run() -> None:
    async def root(request: Any) -> JSONResponse:
        return JSONResponse({"service": "plain"})

    with serve(Starlette(routes=[Route("/", root)])) as url:
        result = _scan(url, auth=None, max_requests=100)
    assert result.spec_free and result.description_source is None
    by_id = {p.probe: p for p in result.probes}
    assert by_id["API1.object_ids"].status == "not_tested"
    assert by_id["INJ.sql"].status == "not_tested"
    assert by_id["API8.trace"].status == "tested"
    assert by_id["API8.security_headers"].status == "tested"
    assert any(f.probe == "API8.security_headers" for f in result.findings)
    assert any("spec-free" in n for n in result.notes)


async def test_the_run_is_recorded_in_the_session(vulnerable: str) -> None:
    client = AsyncMockLoopClient()
    result = await client.run_security_test(
        vulnerable,
        security_focus=["misconfiguration"],
        max_requests=60,
        rate_limit_rps=200,
        session_id="sess-security",
    )
    stored = TestRunStore().get(result.run_id)
    assert stored is not None and stored["kind"] == "security"
    assert stored["session_id"] == "sess-security" == result.session_id
    assert stored["summary"]["findings"] == len(result.findings) > 0
    assert stored["summary"]["low"] == result.summary_by_severity["low"]


# -- parts -------------------------------------------------------------------------------------


def test_alg_none_tokens_are_unsigned() -> None:
    token = craft_jwt({"sub": "1"}, "none")
    head, _body, signature = token.split(".")
    assert signature == ""
    assert json.loads(base64.urlsafe_b64decode(head + "==")) == {
        "alg": "none",
        "typ": "JWT",
    }


async def test_the_canary_reports_only_its_own_token() -> None:
    async with Canary() as canary:
        url, token = canary.url()
        other, _ = canary.url()
        async with httpx.AsyncClient(trust_env=False) as http:
            answer = await http.get(other)
        assert await canary.wait_for(token, 0.2) is None
        assert answer.text.startswith("mockloop-canary-")
        async with httpx.AsyncClient(trust_env=False) as http:
            await http.get(url)
        hit = await canary.wait_for(token, 2)
        assert hit is not None and hit.method == "GET"
