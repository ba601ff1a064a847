"""Security tests: real probes mapped to the OWASP API Security Top 10 (2023), their
catalogue, the budgeted request sender, findings and the compliance view."""

from mockloop.security.catalogue import CATEGORIES, FAMILIES, PROBES, resolve_focus
from mockloop.security.compliance import FRAMEWORKS
from mockloop.security.engine import ScanRequest, run_security_scan
from mockloop.security.findings import (
    ComplianceControl,
    ComplianceReport,
    Evidence,
    Finding,
    ProbeStatus,
    RequestExcerpt,
    ResponseExcerpt,
    SecurityTestResult,
)
from mockloop.security.scan import ScanOptions

__all__ = [
    "CATEGORIES",
    "FAMILIES",
    "FRAMEWORKS",
    "PROBES",
    "ComplianceControl",
    "ComplianceReport",
    "Evidence",
    "Finding",
    "ProbeStatus",
    "RequestExcerpt",
    "ResponseExcerpt",
    "ScanOptions",
    "ScanRequest",
    "SecurityTestResult",
    "resolve_focus",
    "run_security_scan",
]
