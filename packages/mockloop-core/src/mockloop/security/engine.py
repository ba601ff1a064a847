"""`run_security_scan`: check the input (nothing is sent before the target is known to be
allowed), find the description, run the probes and assemble the result."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from mockloop.errors import ConfigError, ServerError
from mockloop.load.plan import allowed_hosts
from mockloop.security.catalogue import CATEGORIES, FAMILIES, resolve_focus
from mockloop.security.compliance import compliance_reports, resolve_frameworks
from mockloop.security.findings import SecurityTestResult
from mockloop.security.identities import parse_identities
from mockloop.security.probes import HANDLERS
from mockloop.security.runner import ProbeClient, check_host
from mockloop.security.scan import (
    ScanContext,
    ScanOptions,
    by_severity,
    family_coverage,
    run_probes,
)
from mockloop.security.target import SecurityTarget
from mockloop.spec import ApiSpec, load_spec

__all__ = ["ScanRequest", "run_security_scan"]

_DISCOVERY = ("/openapi.json", "/swagger.json")


class ScanRequest:
    """The checked input of a run (every mistake is a ConfigError naming the field)."""

    def __init__(
        self,
        *,
        server_url: str,
        api_spec: str | dict[str, Any] | None,
        security_focus: list[str] | str | None,
        compliance_requirements: list[str] | None,
        allow_hosts: list[str] | None,
        max_requests: int,
        rate_limit_rps: float,
        auth: dict[str, Any] | None,
        options: ScanOptions,
        timeout: float,
    ) -> None:
        if allow_hosts is not None and (
            not isinstance(allow_hosts, list)
            or not all(isinstance(h, str) and h.strip() for h in allow_hosts)
        ):
            raise ConfigError("allow_hosts must be a list of host names, IPs or CIDR networks")
        self.allow_hosts = [h.strip().lower() for h in (allow_hosts or [])] + allowed_hosts()
        self.server_url = server_url
        # Before anything else: a target that is not allowed gets nothing, not even a probe.
        check_host(server_url, self.allow_hosts, "server_url")
        if isinstance(api_spec, str) and api_spec.strip().lower().startswith(
            ("http://", "https://")
        ):
            check_host(api_spec.strip(), self.allow_hosts, "api_spec")
        if isinstance(max_requests, bool) or not isinstance(max_requests, int) or max_requests < 1:
            raise ConfigError(
                f"max_requests must be a whole number of at least 1, not {max_requests!r}"
            )
        if not isinstance(rate_limit_rps, int | float) or not 0 < rate_limit_rps <= 10_000:
            raise ConfigError(
                f"rate_limit_rps must be above 0 and at most 10000, not {rate_limit_rps!r}"
            )
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, not {timeout!r}")
        if not isinstance(options.burst, int) or not 2 <= options.burst <= 1000:
            raise ConfigError(f"burst must be a whole number from 2 to 1000, not {options.burst!r}")
        if (
            not isinstance(options.timing_delay, int | float)
            or not 0.05 <= options.timing_delay <= 10
        ):
            raise ConfigError(
                f"timing_delay must be from 0.05 to 10 seconds, not {options.timing_delay!r}"
            )
        if api_spec is not None and not isinstance(api_spec, str | dict):
            raise ConfigError("api_spec must be a path, a URL, YAML/JSON text or a dict")
        self.api_spec = api_spec
        self.families = resolve_focus(security_focus)
        self.frameworks = resolve_frameworks(compliance_requirements)
        self.users, self.admin = parse_identities(auth)
        self.max_requests = max_requests
        self.rate_limit_rps = float(rate_limit_rps)
        self.options = options
        self.timeout = float(timeout)


async def _discover(http: ProbeClient, base_url: str) -> tuple[dict[str, Any] | None, str | None]:
    """The description the server serves itself (a MockLoop mock serves /openapi.json)."""
    for path in _DISCOVERY:
        answer = await http.send("GET", base_url + path)
        if answer.ok:
            data = answer.json()
            if isinstance(data, dict) and isinstance(data.get("paths"), dict):
                return data, base_url + path
    return None, None


async def run_security_scan(request: ScanRequest) -> SecurityTestResult:
    """Run the probes of `request` against its target and return the result."""
    started = time.time()
    notes: list[str] = []
    spec: ApiSpec | None = None
    source: str | None = None
    spec_url: str | None = None
    if request.api_spec is not None:
        spec = await asyncio.to_thread(load_spec, request.api_spec)
        source = spec.source
    async with ProbeClient(
        allow_hosts=request.allow_hosts,
        max_requests=request.max_requests,
        rate_limit_rps=request.rate_limit_rps,
        timeout=request.timeout,
    ) as http:
        root = await http.send("GET", request.server_url + "/")
        if root.status == 0:
            raise ServerError(
                f"nothing answers on {request.server_url} ({root.error}); start the API first"
            )
        if spec is None:
            document, spec_url = await _discover(http, request.server_url)
            if document is not None:
                spec = await asyncio.to_thread(load_spec, document)
                source = spec_url
                notes.append(f"description fetched from {spec_url}")
        if spec is None:
            notes.append(
                "no API description (api_spec not given, none served at /openapi.json or "
                "/swagger.json): spec-free probes only (misconfiguration, inventory, admin "
                "paths, authentication on the base URL); the rest are reported not tested"
            )
        target = SecurityTarget(request.server_url, spec, request.users, request.admin, http)
        target.spec_url = spec_url
        ctx = ScanContext(target=target, http=http, options=request.options)
        exhausted = await run_probes(ctx, request.families, HANDLERS)
        sent = http.sent
    for name in FAMILIES:
        if name not in request.families:
            notes.append(f"{name}: not selected by security_focus")
    probes = list(ctx.statuses.values())
    tested = {p.category for p in probes if p.status == "tested"}
    labels = [c.label for c in CATEGORIES.values()]
    finished = time.time()
    return SecurityTestResult(
        run_id=f"sec-{uuid.uuid4().hex[:12]}",
        server_url=request.server_url,
        status="budget_exhausted" if exhausted else "completed",
        description_source=source,
        spec_free=spec is None,
        started_at=started,
        finished_at=finished,
        elapsed_s=round(finished - started, 3),
        requests_sent=sent,
        max_requests=request.max_requests,
        rate_limit_rps=request.rate_limit_rps,
        findings=ctx.findings,
        probes=probes,
        categories_tested=[c for c in labels if c in tested],
        categories_not_tested=[c for c in labels if c not in tested],
        summary_by_severity=by_severity(ctx.findings),
        compliance=compliance_reports(request.frameworks, ctx.findings, probes),
        coverage=family_coverage(request.families, probes),
        notes=notes,
    )
