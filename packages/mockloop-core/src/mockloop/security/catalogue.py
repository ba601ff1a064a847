"""The probe catalogue: OWASP API Security Top 10 (2023) categories, MockLoop's probe families,
every probe with its CWE and remediation, and the names `security_focus` accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mockloop.errors import ConfigError

__all__ = [
    "CATEGORIES",
    "FAMILIES",
    "PROBES",
    "Category",
    "Family",
    "ProbeSpec",
    "family_of",
    "probe_spec",
    "resolve_focus",
]


@dataclass(frozen=True, slots=True)
class Category:
    """One entry of the OWASP API Security Top 10 (2023)."""

    id: str
    name: str

    @property
    def label(self) -> str:
        """ "API1:2023 Broken Object Level Authorization"."""
        return f"{self.id}:2023 {self.name}"


CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        Category("API1", "Broken Object Level Authorization"),
        Category("API2", "Broken Authentication"),
        Category("API3", "Broken Object Property Level Authorization"),
        Category("API4", "Unrestricted Resource Consumption"),
        Category("API5", "Broken Function Level Authorization"),
        Category("API6", "Unrestricted Access to Sensitive Business Flows"),
        Category("API7", "Server Side Request Forgery"),
        Category("API8", "Security Misconfiguration"),
        Category("API9", "Improper Inventory Management"),
        Category("API10", "Unsafe Consumption of APIs"),
    )
}


@dataclass(frozen=True, slots=True)
class Family:
    """A group of probes that `security_focus` selects by name; maps to one OWASP category.

    Injection was API8:2019 and has no entry of its own in the 2023 list; MockLoop files its
    findings under API8:2023 (inputs reaching interpreters unhardened) and keeps the family
    separate so that it can be selected and reported on its own.
    """

    name: str
    category: str
    aliases: tuple[str, ...]
    automatable: bool = True
    why_not: str = ""


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("object_authorization", "API1", ("bola", "idor", "object_level_authorization")),
        Family("authentication", "API2", ("authn", "broken_authentication", "auth")),
        Family(
            "property_authorization",
            "API3",
            ("bopla", "mass_assignment", "properties", "excessive_data_exposure"),
        ),
        Family("resource_consumption", "API4", ("rate_limit", "rate_limiting", "consumption")),
        Family("function_authorization", "API5", ("bfla", "function_level_authorization")),
        Family(
            "business_flows",
            "API6",
            ("sensitive_business_flows",),
            automatable=False,
            why_not="which business flows are sensitive (buying out stock, mass sign-ups) and "
            "what abuse of them looks like is business knowledge no description states; "
            "review the flows by hand or script them as test plans",
        ),
        Family("ssrf", "API7", ("server_side_request_forgery",)),
        Family("misconfiguration", "API8", ("security_misconfiguration", "headers", "cors")),
        Family("inventory", "API9", ("improper_inventory", "inventory_management", "versions")),
        Family(
            "unsafe_consumption",
            "API10",
            ("unsafe_consumption_of_apis",),
            automatable=False,
            why_not="it is about how the API trusts the third-party APIs it calls; a black-box "
            "probe cannot stand in for those upstreams (point the API at a MockLoop mock of "
            "the upstream serving hostile data to test it)",
        ),
        Family("injection", "API8", ("sqli", "sql_injection", "nosql", "command_injection")),
    )
}


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One probe: what it checks, its CWE, the default severity of its findings, the fix."""

    id: str
    family: str
    title: str
    cwe: str
    severity: str
    remediation: str


def _p(id_: str, family: str, title: str, cwe: str, severity: str, remediation: str) -> ProbeSpec:
    return ProbeSpec(id_, family, title, cwe, severity, remediation)


_AUTHZ = (
    "Check on every request that the authenticated principal may act on the object the "
    "request names (owner or grant lookup on the server side); never trust ids from the client"
)
_JWT = (
    "Verify every token: signature with a fixed allow-list of algorithms (never 'none'), "
    "expiry (exp), not-before, issuer and audience; reject anything else with 401"
)

PROBES: dict[str, ProbeSpec] = {
    p.id: p
    for p in (
        _p("API1.object_ids", "object_authorization",
           "another principal's object ids", "CWE-639", "high", _AUTHZ),
        _p("API2.no_credentials", "authentication",
           "secured operations without credentials", "CWE-306", "critical",
           "Enforce the security the description declares on every operation; answer 401 "
           "when credentials are missing"),
        _p("API2.malformed_token", "authentication",
           "secured operations with a malformed token", "CWE-287", "high", _JWT),
        _p("API2.expired_jwt", "authentication",
           "secured operations with an expired JWT", "CWE-613", "high", _JWT),
        _p("API2.alg_none_jwt", "authentication",
           "secured operations with an unsigned alg:none JWT", "CWE-347", "critical", _JWT),
        _p("API3.sensitive_fields", "property_authorization",
           "sensitive property names in responses", "CWE-213", "high",
           "Return an explicit response model per operation; never serialise storage records "
           "(password hashes, secrets, internal flags) to clients"),
        _p("API3.undocumented_fields", "property_authorization",
           "response properties beyond the documented schema", "CWE-213", "medium",
           "Serialise responses through the documented schema so undocumented properties "
           "never leave the server"),
        _p("API3.mass_assignment", "property_authorization",
           "privileged properties accepted in request bodies", "CWE-915", "high",
           "Bind request bodies to an allow-list of writable properties (reject or ignore "
           "role, is_admin, owner and other server-controlled fields)"),
        _p("API4.rate_limit", "resource_consumption",
           "a burst of requests without throttling", "CWE-770", "medium",
           "Rate-limit per client and per operation; answer 429 with Retry-After and "
           "advertise the limits (RateLimit headers)"),
        _p("API4.page_size", "resource_consumption",
           "page sizes beyond the documented maximum", "CWE-770", "medium",
           "Clamp or reject page sizes above a documented maximum"),
        _p("API4.payload_size", "resource_consumption",
           "a request body of megabytes", "CWE-400", "medium",
           "Limit request body sizes at the edge and in the app; answer 413 above the limit"),
        _p("API5.admin_paths", "function_authorization",
           "administrative paths reached by a non-admin principal", "CWE-285", "high",
           "Deny administrative functions by default and check the caller's role on each; "
           "do not rely on paths being unknown"),
        _p("API5.undocumented_methods", "function_authorization",
           "methods the description does not document", "CWE-285", "high",
           "Route only the documented methods (405 for the rest) and authorise each function"),
        _p("API6.sensitive_flows", "business_flows",
           "abuse of sensitive business flows", "CWE-799", "medium",
           "Identify sensitive flows and protect them (device fingerprinting, CAPTCHAs, "
           "per-account quotas)"),
        _p("API7.url_parameters", "ssrf",
           "URL-typed parameters fetched by the server", "CWE-918", "high",
           "Fetch only allow-listed schemes, hosts and ports; resolve and block internal "
           "addresses; disable redirects; never return raw fetched content"),
        _p("API8.security_headers", "misconfiguration",
           "security headers", "CWE-693", "low",
           "Send X-Content-Type-Options: nosniff, Cache-Control: no-store on responses to "
           "authenticated requests, Strict-Transport-Security over HTTPS and a "
           "Content-Security-Policy on HTML"),
        _p("API8.cors", "misconfiguration",
           "CORS with credentials for any origin", "CWE-942", "high",
           "Allow-list trusted origins; never combine a wildcard or a reflected origin with "
           "Access-Control-Allow-Credentials: true"),
        _p("API8.verbose_errors", "misconfiguration",
           "stack traces and internals in error responses", "CWE-209", "medium",
           "Answer errors with a generic problem document; log the details server-side only"),
        _p("API8.trace", "misconfiguration",
           "the TRACE method", "CWE-693", "low",
           "Disable TRACE (and TRACK) on every server and proxy in front of the API"),
        _p("API8.error_hygiene", "misconfiguration",
           "stack traces, debug pages and SQL errors in any answer of the run", "CWE-209",
           "medium",
           "Answer errors with a generic problem document; turn framework debug modes off in "
           "production; log exceptions and database errors server-side only"),
        _p("API9.versions", "inventory",
           "undocumented API versions still served", "CWE-1059", "medium",
           "Retire old versions (or document and protect them like the current one); keep an "
           "inventory of every host, version and environment"),
        _p("API9.docs", "inventory",
           "documentation endpoints that reveal undocumented operations", "CWE-1059", "medium",
           "Publish one up-to-date description; remove stale or internal descriptions from "
           "production"),
        _p("API10.upstream", "unsafe_consumption",
           "trust in data from third-party APIs", "CWE-20", "medium",
           "Validate and sanitise data from upstream APIs like user input; use TLS, "
           "timeouts and size limits on upstream calls"),
        _p("INJ.sql", "injection", "SQL injection", "CWE-89", "critical",
           "Use parameterised queries or an ORM's bound parameters; never build SQL from "
           "request data"),
        _p("INJ.nosql", "injection", "NoSQL operator injection", "CWE-943", "high",
           "Accept only scalar values where scalars are expected; strip '$' operators; "
           "validate bodies against the schema"),
        _p("INJ.command", "injection", "OS command injection", "CWE-78", "critical",
           "Never pass request data to a shell; call programs with argument lists and "
           "allow-listed values"),
        _p("INJ.path_traversal", "injection", "path traversal", "CWE-22", "high",
           "Resolve file names against a fixed base directory and reject anything that "
           "escapes it; prefer ids over file names"),
        _p("INJ.template", "injection", "server-side template injection", "CWE-1336", "high",
           "Never compile templates from request data; pass data to fixed templates as "
           "context"),
        _p("INJ.reflection", "injection", "payloads reflected unescaped in HTML", "CWE-79",
           "medium", "Encode output for its context; send JSON as application/json"),
    )
}  # fmt: skip


def probe_spec(probe_id: str) -> ProbeSpec:
    """The catalogue entry of a probe id."""
    return PROBES[probe_id]


def family_of(probe_id: str) -> Family:
    """The family a probe belongs to."""
    return FAMILIES[PROBES[probe_id].family]


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "_", text.strip().lower()).strip("_")


def resolve_focus(focus: list[str] | str | None) -> list[str]:
    """The family names `security_focus` selects (all when None).

    Accepts OWASP ids ("API1".."API10", "API3:2023"), family names ("injection",
    "authentication") and their aliases; ConfigError naming every valid value otherwise.
    """
    if focus is None:
        return list(FAMILIES)
    items = [focus] if isinstance(focus, str) else focus
    if not isinstance(items, list) or not items:
        raise ConfigError("security_focus must be a non-empty list of categories, or None for all")
    chosen: list[str] = []
    for item in items:
        matched = _match(item) if isinstance(item, str) else []
        if not matched:
            valid = ", ".join(
                list(CATEGORIES)
                + [f"{name} ({'/'.join(f.aliases)})" for name, f in FAMILIES.items()]
            )
            raise ConfigError(f"security_focus: unknown category {item!r}; valid: {valid}")
        chosen.extend(name for name in matched if name not in chosen)
    return [name for name in FAMILIES if name in chosen]


def _match(item: str) -> list[str]:
    key = _squash(item)
    code = re.fullmatch(r"api_?(\d{1,2})(?:_?2023)?(?:_.*)?", key)
    if code and f"API{int(code.group(1))}" in CATEGORIES:
        category = f"API{int(code.group(1))}"
        return [n for n, f in FAMILIES.items() if f.category == category]
    for name, family in FAMILIES.items():
        if key == name or key in family.aliases:
            return [name]
    for cat_id, category in CATEGORIES.items():
        if key == _squash(category.name):
            return [n for n, f in FAMILIES.items() if f.category == cat_id]
    return []
