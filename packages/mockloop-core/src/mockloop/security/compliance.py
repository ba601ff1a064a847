"""Findings mapped to compliance frameworks' controls, honestly.

A control is `failed` when a finding of a mapped family exists, `passed` when every mapped
family was tested and found nothing, `partially_tested` when some were and found nothing, and
`not_tested` when none ran. `passed` means only that these probes found nothing: every control
says what the probes establish for it (`establishes`) and what automated probes cannot
(`not_covered`), and no report here is an attestation.

GDPR, HIPAA and SOX are laws and regulations, not control catalogues: their controls here are
the articles and safeguards with a technical side an API probe can speak to (security of
processing, access control, transmission security, IT general controls over access). Their
legal obligations (lawful basis, consent, retention, breach notification, business associate
agreements, management's assessment of internal control) are named as out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from mockloop.errors import ConfigError
from mockloop.security.findings import (
    ComplianceControl,
    ComplianceReport,
    Finding,
    ProbeStatus,
)

__all__ = ["FRAMEWORKS", "Control", "compliance_reports", "resolve_frameworks"]

_ALL = (
    "object_authorization",
    "authentication",
    "property_authorization",
    "resource_consumption",
    "function_authorization",
    "ssrf",
    "misconfiguration",
    "inventory",
    "injection",
    # Never automatable: a control about all vulnerabilities can at best be partially tested.
    "business_flows",
    "unsafe_consumption",
)
_ACCESS = ("object_authorization", "function_authorization", "property_authorization")


@dataclass(frozen=True, slots=True)
class Control:
    """One control and the probe families that speak to it."""

    id: str
    title: str
    families: tuple[str, ...]
    not_covered: str
    establishes: str = ""

    def established(self) -> str:
        """What this run's probes establish for the control (said once per control)."""
        if self.establishes:
            return self.establishes
        if not self.families:
            return "nothing: no probe speaks to this control"
        return (
            "whether the probes of "
            + ", ".join(self.families)
            + " find a weakness on the operations they reached"
        )


FRAMEWORKS: dict[str, tuple[str, tuple[Control, ...]]] = {
    "OWASP-API-2023": (
        "OWASP API Security Top 10 (2023)",
        (
            Control(
                "API1",
                "Broken Object Level Authorization",
                ("object_authorization",),
                "only GET operations whose ids were given for two principals; writes and "
                "other operations are not checked",
            ),
            Control(
                "API2",
                "Broken Authentication",
                ("authentication",),
                "credential stuffing defences, password policy, token lifetime and "
                "revocation, login flows",
            ),
            Control(
                "API3",
                "Broken Object Property Level Authorization",
                ("property_authorization",),
                "properties whose names do not reveal sensitivity; per-role field rules",
            ),
            Control(
                "API4",
                "Unrestricted Resource Consumption",
                ("resource_consumption",),
                "limits above the probe's burst, cost of expensive operations, spending "
                "limits on third-party services",
            ),
            Control(
                "API5",
                "Broken Function Level Authorization",
                ("function_authorization",),
                "role models beyond admin/non-admin; functions under unguessable paths",
            ),
            Control(
                "API6",
                "Unrestricted Access to Sensitive Business Flows",
                ("business_flows",),
                "not automatable: needs knowledge of the business",
            ),
            Control(
                "API7",
                "Server Side Request Forgery",
                ("ssrf",),
                "blind SSRF through parameters not typed or named as URLs; remote targets",
            ),
            Control(
                "API8",
                "Security Misconfiguration",
                ("misconfiguration", "injection"),
                "TLS configuration, patch levels, cloud and container settings",
            ),
            Control(
                "API9",
                "Improper Inventory Management",
                ("inventory",),
                "hosts, environments and versions on other names or ports; data flows "
                "to third parties",
            ),
            Control(
                "API10",
                "Unsafe Consumption of APIs",
                ("unsafe_consumption",),
                "not automatable black-box: needs hostile upstream APIs",
            ),
        ),
    ),
    "PCI-DSS-4.0": (
        "PCI DSS v4.0",
        (
            Control(
                "6.2.4",
                "Software engineering techniques prevent common software attacks",
                (
                    "injection",
                    "object_authorization",
                    "function_authorization",
                    "property_authorization",
                    "authentication",
                    "ssrf",
                ),
                "whether the techniques are defined and applied in development (a "
                "process and code-review requirement)",
            ),
            Control(
                "6.4.1",
                "Public-facing web applications are protected against attacks",
                _ALL,
                "the review cadence (at least every 12 months and after changes) "
                "and the assessor's qualification; a tool run is one input",
            ),
            Control(
                "6.3.2",
                "An inventory of bespoke and custom software is maintained",
                ("inventory",),
                "the inventory document itself",
            ),
            Control(
                "7.2.1",
                "Access control model defined and access assigned by need",
                _ACCESS,
                "the documented model and its approval",
            ),
            Control(
                "8.3.1",
                "User access authenticated with at least one factor",
                ("authentication",),
                "factor strength, MFA (8.4), password rules (8.3.6)",
            ),
            Control(
                "2.2.1",
                "Configuration standards applied to system components",
                ("misconfiguration",),
                "the standards and their coverage of all components",
            ),
            Control(
                "6.4.2",
                "Automated technical solution detects and prevents web attacks",
                (),
                "a WAF's presence cannot be proven by probing the API; not tested",
            ),
        ),
    ),
    "SOC2": (
        "SOC 2 (2017 Trust Services Criteria)",
        (
            Control(
                "CC6.1",
                "Logical access security over protected information assets",
                ("authentication", *_ACCESS),
                "identity management, provisioning and key management processes",
            ),
            Control(
                "CC6.6",
                "Security measures against threats from outside the boundary",
                ("ssrf", "misconfiguration", "resource_consumption"),
                "network boundary controls outside the API",
            ),
            Control(
                "CC6.8",
                "Prevent or detect unauthorized or malicious software",
                ("injection",),
                "malware controls on hosts",
            ),
            Control(
                "CC7.1",
                "Detection and monitoring procedures identify vulnerabilities",
                _ALL,
                "that scans run regularly and findings are tracked to closure",
            ),
            Control(
                "CC8.1",
                "Changes are authorized, tested and approved",
                ("inventory",),
                "the change-management process",
            ),
        ),
    ),
    "ISO-27001-2022": (
        "ISO/IEC 27001:2022 Annex A",
        (
            Control("A.5.15", "Access control", _ACCESS, "the access control policy"),
            Control(
                "A.8.3",
                "Information access restriction",
                _ACCESS,
                "restrictions enforced outside the API",
            ),
            Control(
                "A.8.5",
                "Secure authentication",
                ("authentication",),
                "authentication procedures, MFA, credential management",
            ),
            Control(
                "A.8.6",
                "Capacity management",
                ("resource_consumption",),
                "capacity planning and monitoring",
            ),
            Control(
                "A.8.8",
                "Management of technical vulnerabilities",
                _ALL,
                "the vulnerability management process and its timelines",
            ),
            Control(
                "A.8.9",
                "Configuration management",
                ("misconfiguration", "inventory"),
                "configuration baselines and their review",
            ),
            Control(
                "A.8.26",
                "Application security requirements",
                ("injection", "property_authorization"),
                "that requirements were specified and approved",
            ),
            Control(
                "A.8.28",
                "Secure coding",
                ("injection", "ssrf"),
                "coding standards, training and reviews",
            ),
            Control(
                "A.5.9",
                "Inventory of information and other associated assets",
                ("inventory",),
                "the asset inventory itself",
            ),
        ),
    ),
    "NIST-800-53": (
        "NIST SP 800-53 Rev. 5",
        (
            Control("AC-3", "Access Enforcement", _ACCESS, "enforcement outside the API"),
            Control(
                "AC-6",
                "Least Privilege",
                ("function_authorization",),
                "privilege assignment and review",
            ),
            Control(
                "IA-2",
                "Identification and Authentication (Organizational Users)",
                ("authentication",),
                "MFA and identity proofing",
            ),
            Control(
                "IA-5",
                "Authenticator Management",
                ("authentication",),
                "authenticator lifecycle and strength",
            ),
            Control(
                "SC-5",
                "Denial-of-Service Protection",
                ("resource_consumption",),
                "network-level protection and capacity",
            ),
            Control("SC-7", "Boundary Protection", ("ssrf",), "network boundary devices"),
            Control(
                "SI-10",
                "Information Input Validation",
                ("injection", "ssrf", "property_authorization"),
                "validation of inputs the probes did not reach",
            ),
            Control(
                "SI-11",
                "Error Handling",
                ("misconfiguration",),
                "error logging and who may read it",
            ),
            Control(
                "CM-6",
                "Configuration Settings",
                ("misconfiguration",),
                "documented settings baselines",
            ),
            Control(
                "CM-7",
                "Least Functionality",
                ("misconfiguration", "inventory"),
                "ports, protocols and services beyond HTTP",
            ),
            Control(
                "CM-8",
                "System Component Inventory",
                ("inventory",),
                "the inventory and its updates",
            ),
            Control(
                "RA-5",
                "Vulnerability Monitoring and Scanning",
                _ALL,
                "scan frequency, coverage of all systems and remediation tracking",
            ),
        ),
    ),
}

_TRANSPORT = (
    "with an https server_url: whether HTTPS answers carry HSTS (misconfiguration probes); the "
    "probes never inspect TLS versions, ciphers or certificates"
)

FRAMEWORKS["GDPR"] = (
    "EU General Data Protection Regulation (2016/679), technical side",
    (
        Control(
            "Art. 32(1)(b)",
            "Security of processing: confidentiality and integrity of processing systems",
            ("authentication", *_ACCESS, "injection", "misconfiguration"),
            "lawful basis (Art. 6), consent, purpose limitation, data minimisation, retention "
            "and erasure (Art. 5, 17), records of processing (Art. 30), DPIAs (Art. 35), "
            "encryption at rest, and whether the measures are appropriate to the risk",
            "whether the API refuses callers without valid credentials, keeps one principal "
            "from another's objects and from admin functions, resists injection and leaks no "
            "stack traces, on the operations probed",
        ),
        Control(
            "Art. 32(1)(b) availability",
            "Security of processing: availability and resilience of processing systems",
            ("resource_consumption",),
            "capacity, redundancy, backups and the ability to restore (Art. 32(1)(c)), "
            "regular testing of the measures (Art. 32(1)(d))",
            "whether a burst at the probe's rate meets a limit (429 or a rate-limit header), "
            "oversized pages or bodies are refused",
        ),
        Control(
            "Art. 25",
            "Data protection by design and by default",
            ("property_authorization",),
            "which personal data the API should process at all, pseudonymisation, defaults "
            "chosen by design; what a property means beyond its name",
            "whether responses expose sensitive-named or undocumented properties and whether "
            "privileged properties are accepted in writes (mass assignment)",
        ),
        Control(
            "Art. 5(1)(f)",
            "Integrity and confidentiality principle",
            ("authentication", *_ACCESS, "ssrf"),
            "organisational measures, staff access, processors' security (Art. 28), breach "
            "detection and notification (Art. 33, 34)",
            "whether unauthenticated or cross-principal reads of objects succeed and whether "
            "URL inputs make the server fetch internal addresses",
        ),
        Control(
            "Art. 32 transport",
            "Security of processing: personal data protected in transit",
            ("misconfiguration",),
            "TLS versions, ciphers and certificates, encryption between internal services",
            _TRANSPORT,
        ),
    ),
)
FRAMEWORKS["HIPAA"] = (
    "HIPAA Security Rule (45 CFR Part 164 Subpart C), technical safeguards",
    (
        Control(
            "164.312(a)(1)",
            "Access control: only authorized persons or software access ePHI",
            ("authentication", *_ACCESS),
            "unique user identification (a)(2)(i), emergency access procedure (a)(2)(ii), "
            "automatic logoff (a)(2)(iii), encryption at rest (a)(2)(iv); workforce access "
            "policies (164.308(a)(4))",
            "whether secured operations refuse missing, malformed, expired and unsigned "
            "tokens and whether one principal reaches another's objects or admin functions",
        ),
        Control(
            "164.312(b)",
            "Audit controls: activity in systems with ePHI is recorded and examined",
            (),
            "whether the API's own audit logs record access to ePHI and are reviewed; a "
            "black-box probe cannot see the target's logs; not tested",
            "nothing: no probe can see the target's audit logs",
        ),
        Control(
            "164.312(c)(1)",
            "Integrity: ePHI protected from improper alteration or destruction",
            ("function_authorization", "property_authorization", "injection"),
            "integrity of stored data, checksums and backups, mechanisms to authenticate "
            "ePHI at rest (c)(2)",
            "whether non-admin principals reach write or admin functions, privileged fields "
            "are accepted in writes, and injected input changes what the server does",
        ),
        Control(
            "164.312(d)",
            "Person or entity authentication",
            ("authentication",),
            "identity proofing, MFA, credential issuance and revocation procedures",
            "whether the API authenticates callers: missing, malformed, expired and "
            "alg=none tokens refused on secured operations",
        ),
        Control(
            "164.312(e)(1)",
            "Transmission security: ePHI protected in transit",
            ("misconfiguration",),
            "TLS versions, ciphers and certificates, integrity controls (e)(2)(i), "
            "encryption of every network path carrying ePHI (e)(2)(ii)",
            _TRANSPORT,
        ),
        Control(
            "164.308(a)(1)(ii)(A)",
            "Risk analysis: potential risks and vulnerabilities to ePHI assessed",
            _ALL,
            "the documented, organisation-wide risk analysis and risk management plan; "
            "business associate agreements (164.308(b)); breach notification (164.400); a "
            "tool run is one input to the analysis",
            "which of the OWASP API Top 10 weaknesses the probes found on this API",
        ),
    ),
)
FRAMEWORKS["SOX"] = (
    "Sarbanes-Oxley Act Sec. 404, IT general controls over financial reporting systems",
    (
        Control(
            "ITGC-AC-1",
            "Logical access to financial systems is restricted to authorized users",
            ("authentication", *_ACCESS),
            "user provisioning and de-provisioning, periodic access reviews, segregation of "
            "duties by role, privileged-user monitoring",
            "whether the API refuses unauthenticated and tampered credentials and keeps "
            "principals from each other's objects, admin functions and privileged fields",
        ),
        Control(
            "ITGC-AC-2",
            "Segregation of duties enforced by the application",
            ("function_authorization",),
            "the duty matrix itself and whether roles beyond admin/non-admin conflict; the "
            "probes know only the principals given to them",
            "whether a non-admin principal reaches operations meant for admins",
        ),
        Control(
            "ITGC-DI-1",
            "Data integrity: inputs to financial records are validated",
            ("injection", "property_authorization"),
            "reconciliations, completeness and accuracy controls, interfaces between "
            "systems, whether amounts are right",
            "whether injected input is executed and whether writes accept privileged fields "
            "(status, roles, prices) a client should not set",
        ),
        Control(
            "ITGC-CM-1",
            "Changes to financial systems are authorized, tested and documented",
            ("inventory",),
            "the change-management process, approvals and test evidence, who can deploy",
            "whether undocumented API versions or documentation describing other operations "
            "are still served (drift between what is deployed and what is described)",
        ),
        Control(
            "Sec. 404(a)",
            "Management's assessment of internal control over financial reporting",
            (),
            "management's assessment, the auditor's attestation (404(b)), entity-level and "
            "business-process controls; no probe can establish these; not tested",
            "nothing: an assessment is management's, not a tool's",
        ),
    ),
)

_ALIASES = {name.lower().replace("_", "-").replace(" ", "-"): name for name in FRAMEWORKS}
_ALIASES.update({"owasp": "OWASP-API-2023", "pci": "PCI-DSS-4.0", "pci-dss": "PCI-DSS-4.0",
                 "soc-2": "SOC2", "iso-27001": "ISO-27001-2022", "iso27001": "ISO-27001-2022",
                 "nist": "NIST-800-53", "nist-sp-800-53": "NIST-800-53",
                 "eu-gdpr": "GDPR", "hipaa-security-rule": "HIPAA",
                 "sarbanes-oxley": "SOX", "sox-404": "SOX"})  # fmt: skip


def resolve_frameworks(names: list[str] | None) -> list[str]:
    """Canonical framework names; ConfigError naming the known ones for an unknown name."""
    if names is None:
        return []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        raise ConfigError("compliance_requirements must be a list of framework names")
    out = []
    for name in names:
        key = str(name).strip().lower().replace("_", "-").replace(" ", "-")
        if key not in _ALIASES:
            raise ConfigError(
                f"compliance_requirements: unknown framework {name!r}; known: "
                + ", ".join(FRAMEWORKS)
            )
        if _ALIASES[key] not in out:
            out.append(_ALIASES[key])
    return out


def _family_state(probes: list[ProbeStatus]) -> dict[str, str]:
    """Per family: tested (at least one probe ran) or untested."""
    state: dict[str, str] = {}
    for probe in probes:
        if probe.status == "tested":
            state[probe.family] = "tested"
        else:
            state.setdefault(probe.family, "untested")
    return state


def compliance_reports(
    frameworks: list[str], findings: list[Finding], probes: list[ProbeStatus]
) -> list[ComplianceReport]:
    """One report per framework, each control judged on this run's probes and findings."""
    state = _family_state(probes)
    reports = []
    for name in frameworks:
        title, controls = FRAMEWORKS[name]
        judged = []
        for control in controls:
            hits = [f.id for f in findings if f.family in control.families]
            tested = [f for f in control.families if state.get(f) == "tested"]
            untested = [f for f in control.families if state.get(f) != "tested"]
            if hits:
                status = "failed"
            elif not tested:
                status = "not_tested"
            elif untested:
                status = "partially_tested"
            else:
                status = "passed"
            judged.append(
                ComplianceControl(
                    control=control.id,
                    title=control.title,
                    status=status,  # type: ignore[arg-type]
                    probe_families=list(control.families),
                    findings=hits,
                    untested_families=untested,
                    establishes=control.established(),
                    not_covered=control.not_covered,
                )
            )
        reports.append(
            ComplianceReport(
                framework=name,
                title=title,
                controls=judged,
                failed=sum(1 for c in judged if c.status == "failed"),
                passed=sum(1 for c in judged if c.status == "passed"),
                not_tested=sum(1 for c in judged if c.status == "not_tested"),
                statement=(
                    "Automated black-box probes speak to the technical side of these controls "
                    "only. 'passed' means the probes that ran found nothing, not that the "
                    "control is met; processes, policies and evidence an auditor asks for are "
                    "out of reach of any probe (see not_covered)."
                ),
            )
        )
    return reports
