"""Security tests: real probes mapped to the OWASP API Security Top 10 (2023)."""

from __future__ import annotations

from mockloop.errors import ConfigError
from mockloop.operation import operation
from mockloop.operations.base import OperationsBase, normalise_url
from mockloop.operations.parameters.typed import ApiDocumentJson, SecurityAuthJson
from mockloop.security.engine import ScanRequest, run_security_scan
from mockloop.security.findings import SecurityTestResult
from mockloop.security.runner import BudgetExhausted
from mockloop.security.scan import ScanOptions

__all__ = ["SecurityOperations"]


class SecurityOperations(OperationsBase):
    """Security tests: real probes mapped to the OWASP API Security Top 10 (2023)."""

    @operation(group="security", long_running=True, roles=("security",), schedulable=True)
    async def run_security_test(
        self,
        server_url: str,
        api_spec: str | ApiDocumentJson | None = None,
        security_focus: list[str] | None = None,
        compliance_requirements: list[str] | None = None,
        allow_hosts: list[str] | None = None,
        max_requests: int = 500,
        rate_limit_rps: float = 50,
        auth: SecurityAuthJson | None = None,
        allow_writes: bool = True,
        burst: int = 30,
        timing_delay: float = 1.0,
        timeout: float = 10,
        session_id: str | None = None,
    ) -> SecurityTestResult:
        """Probe an HTTP API for the OWASP API Security Top 10 (2023) and report proven flaws.

        Real requests, each judged against a legitimate baseline: object-level authorization
        (another user's ids), broken authentication (no, malformed, expired and alg:none
        tokens), property-level authorization (sensitive and undocumented response fields,
        mass assignment), resource consumption (burst without 429, page sizes, huge bodies),
        function-level authorization (admin paths, undocumented methods), SSRF (URL-typed
        parameters pointed at a loopback canary), misconfiguration (security headers, CORS
        with credentials, stack traces, TRACE), inventory (undocumented versions and shadow
        descriptions) and injection (SQL, NoSQL, command, path traversal, template). Each
        finding has its OWASP category, CWE, severity, operation, evidence (request and
        response excerpts, secrets redacted, and the comparison that proved it) and the fix;
        every probe is listed as tested, not tested (why) or skipped (budget). Only loopback
        targets unless allow_hosts or MOCKLOOP_ALLOWED_HOSTS lists the host: nothing is sent
        to any other. Probes send writes (POST/PUT/PATCH/DELETE) unless allow_writes=False:
        run it against a test deployment, never production data.

        Args:
            server_url: the API to test, e.g. http://127.0.0.1:8000 (paths are relative to it).
            api_spec: its OpenAPI description (path, URL or dict); None: fetched from
                server_url/openapi.json (a MockLoop mock serves it), else spec-free probes only.
            security_focus: categories to run, e.g. ["API1", "API2", "injection"]; None: all.
                Accepts "API1".."API10", family names (object_authorization,
                authentication, property_authorization, resource_consumption,
                function_authorization, ssrf, misconfiguration, inventory, injection) and
                aliases (bola, bfla, sqli, cors...).
            compliance_requirements: frameworks to map findings to: "OWASP-API-2023",
                "PCI-DSS-4.0", "SOC2", "ISO-27001-2022", "NIST-800-53", "GDPR", "HIPAA",
                "SOX"; each control is reported failed, passed, partially tested or not
                tested, with what the probes establish and what they cannot.
            allow_hosts: hosts besides loopback that may be probed (names, '*.domain', IPs,
                CIDR); only list APIs you own or are authorised to test.
            max_requests: the request budget; probes it cannot pay for are reported skipped.
            rate_limit_rps: the most requests per second sent to the target.
            auth: principals to act as: {"users": [{"name", "headers" or "token", "query",
                "ids": {path parameter: id of an object the user owns}}, ...], "admin":
                {...}}; two users with ids make object-level authorization testable.
            allow_writes: send the probes that write (mass assignment, huge bodies,
                undocumented PUT/PATCH/DELETE, body injection); False: reads only.
            burst: requests in the rate-limit burst (one probe, sent last).
            timing_delay: seconds of the sleep payloads of the timing-based command injection
                probe (a hit must be slower than the baseline by most of it, twice).
            timeout: seconds a probe request may take.
            session_id: the test session the run lands in (default: the session this client
                opened with create_test_session, if any).
        """
        request = ScanRequest(
            server_url=normalise_url(server_url),
            api_spec=api_spec,
            security_focus=security_focus,
            compliance_requirements=compliance_requirements,
            allow_hosts=allow_hosts,
            max_requests=max_requests,
            rate_limit_rps=rate_limit_rps,
            auth=auth,
            options=ScanOptions(
                burst=burst, timing_delay=timing_delay, allow_writes=bool(allow_writes)
            ),
            timeout=timeout,
        )
        try:
            result = await run_security_scan(request)
        except BudgetExhausted:
            # The root request and the description lookup come before any probe.
            raise ConfigError(
                f"max_requests={max_requests} was spent before any probe ran (reaching the "
                "server and looking for its description take up to 3 requests); give more"
            ) from None
        result.session_id = await self.services.runs.record(
            run_id=result.run_id,
            kind="security",
            status=result.status,
            server_url=result.server_url,
            started_at=result.started_at,
            finished_at=result.finished_at,
            summary={
                **result.summary_by_severity,
                "findings": len(result.findings),
                "requests": result.requests_sent,
                "categories_tested": len(result.categories_tested),
            },
            result=result.model_dump(mode="json"),
            session_id=session_id,
        )
        return result
