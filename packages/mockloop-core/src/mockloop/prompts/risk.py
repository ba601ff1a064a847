"""Risk per operation, with the reasons, and how the description covers authentication.

A score adds up what makes an operation risky to get wrong, each with its reason and, where one
applies, its OWASP API Security Top 10 (2023) category: deleting or changing state, object ids
in the path, URL-valued inputs (SSRF), privileged or money fields, file uploads, free-text
filters (injection), unbounded lists, sensitive fields in responses, writes without
authentication, undocumented errors. 0-1 is low, 2-3 medium, 4-6 high, 7+ critical.
"""

from __future__ import annotations

import re
from typing import Any

from mockloop.packs.bodies import resolve_schema
from mockloop.prompts.models import AuthCoverage, OperationRisk
from mockloop.spec.model import ApiSpec, Operation

__all__ = [
    "ADMIN_PATH",
    "assess_operations",
    "auth_coverage",
    "is_url_input",
    "request_fields",
    "requires_auth",
    "response_fields",
]

_WRITES = ("POST", "PUT", "PATCH", "DELETE")
ADMIN_PATH = re.compile(
    r"(^|/)(admin|internal|debug|manage|management|config|settings|system)(/|$)"
)
_URL_NAMES = re.compile(r"(url|uri|callback|webhook|redirect|endpoint|link|href)$", re.I)
_PRIVILEGED = re.compile(r"^(role|roles|is_?admin|admin|permissions?|scopes?|owner(_?id)?)$", re.I)
_MONEY = re.compile(r"(price|amount|balance|total|cost|fee|discount|credit|payment)", re.I)
_SENSITIVE = re.compile(r"(password|secret|token|api_?key|ssn|credit_?card|cvv|pin)$", re.I)
_PAGING = re.compile(r"^(limit|page|per_?page|page_?size|size|max_?results|top|count|first)$", re.I)
_FILTER = re.compile(r"^(q|query|search|filter|where|sort|order_?by|name|expression)$", re.I)


def requires_auth(op: Operation) -> bool:
    """The operation needs credentials (every requirement names a scheme)."""
    return bool(op.security) and all(requirement for requirement in op.security)


def _properties(document: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    resolved = resolve_schema(document, schema)
    if not isinstance(resolved, dict) or depth > 4:
        return {}
    found: dict[str, Any] = {}
    if resolved.get("type") == "array" or "items" in resolved:
        found.update(_properties(document, resolved.get("items"), depth + 1))
    found.update(resolved.get("properties") or {})
    for key in ("allOf", "oneOf", "anyOf"):
        for part in resolved.get(key) or []:
            found.update(_properties(document, part, depth + 1))
    return found


def _json_schema(content: dict[str, Any]) -> Any:
    for media, item in content.items():
        base = media.split(";", 1)[0].strip().lower()
        if (base == "application/json" or base.endswith("+json")) and item.schema is not None:
            return item.schema
    return None


def request_fields(spec: ApiSpec, op: Operation) -> dict[str, Any]:
    """Property name -> schema of the JSON request body (one level, arrays looked through)."""
    if op.request_body is None:
        return {}
    return _properties(spec.document, _json_schema(op.request_body.content))


def response_fields(spec: ApiSpec, op: Operation) -> dict[str, Any]:
    """Property name -> schema of the first JSON 2xx response."""
    for status in sorted(op.responses):
        if status.startswith("2"):
            schema = _json_schema(op.responses[status].content)
            if schema is not None:
                return _properties(spec.document, schema)
    return {}


def _returns_array(spec: ApiSpec, op: Operation) -> bool:
    for status in sorted(op.responses):
        if status.startswith("2"):
            schema = resolve_schema(spec.document, _json_schema(op.responses[status].content))
            return isinstance(schema, dict) and schema.get("type") == "array"
    return False


def is_url_input(name: str, schema: Any) -> bool:
    fmt = schema.get("format") if isinstance(schema, dict) else None
    return fmt in ("uri", "url", "uri-reference", "iri") or bool(_URL_NAMES.search(name))


def assess(spec: ApiSpec, op: Operation, has_schemes: bool) -> OperationRisk:
    """The risk of one operation and why."""
    method = op.method.upper()
    score = 0
    weighted: list[tuple[int, str]] = []
    owasp: list[str] = []

    def add(points: int, reason: str, category: str | None = None) -> None:
        nonlocal score
        score += points
        weighted.append((points, reason))
        if category and category not in owasp:
            owasp.append(category)

    secured = requires_auth(op)
    path_params = [p for p in op.parameters if p.location == "path"]
    if method == "DELETE":
        add(3, "deletes data")
    elif method in _WRITES:
        add(2, "changes state")
    if method in _WRITES and has_schemes and not secured:
        add(3, "a write that requires no credentials", "API2")
    if secured and path_params:
        names = ", ".join(p.name for p in path_params)
        add(2, f"object ids in the path ({names}): object-level authorization", "API1")
    if ADMIN_PATH.search(op.path.lower()):
        add(3, "an administrative path: function-level authorization", "API5")
    body = request_fields(spec, op)
    inputs = {p.name: p.schema for p in op.parameters} | body
    urls = sorted(name for name, schema in inputs.items() if is_url_input(name, schema))
    if urls:
        add(3, f"URL-valued inputs ({', '.join(urls[:3])}): server-side request forgery", "API7")
    privileged = sorted(name for name in body if _PRIVILEGED.match(name))
    if privileged:
        add(
            2,
            f"privileged fields in the body ({', '.join(privileged[:3])}): mass assignment",
            "API3",
        )
    money = sorted(name for name in body if _MONEY.search(name))
    if money and method in _WRITES:
        add(2, f"money fields ({', '.join(money[:3])}): a sensitive business flow", "API6")
    if op.request_body is not None and any(
        m.startswith("multipart/") or m == "application/octet-stream"
        for m in op.request_body.content
    ):
        add(2, "accepts files or binary uploads", "API4")
    filters = sorted(
        p.name for p in op.parameters if p.location == "query" and _FILTER.match(p.name)
    )
    if filters:
        add(1, f"free-text filters ({', '.join(filters[:3])}): injection", "API8")
    if (
        method == "GET"
        and _returns_array(spec, op)
        and not any(_PAGING.match(p.name) for p in op.parameters)
    ):
        add(1, "returns a list without a page-size parameter: unbounded results", "API4")
    sensitive = sorted(name for name in response_fields(spec, op) if _SENSITIVE.search(name))
    if sensitive:
        add(2, f"sensitive fields in responses ({', '.join(sensitive[:3])})", "API3")
    if not any(s.startswith(("4", "5")) or s == "default" for s in op.responses):
        add(1, "documents no error response: clients cannot know the failure shapes")
    if op.deprecated:
        add(1, "deprecated: still served, may be forgotten", "API9")
    # The weightiest reason first (stable for equal weights).
    reasons = [reason for _, reason in sorted(weighted, key=lambda item: -item[0])]
    if not reasons:
        reasons.append("a read without parameters of note")
    level = (
        "low" if score <= 1 else "medium" if score <= 3 else "high" if score <= 6 else "critical"
    )
    return OperationRisk(
        operation_id=op.operation_id,
        method=method,
        path=op.path,
        title=op.summary,
        secured=secured,
        risk=level,  # type: ignore[arg-type]
        score=score,
        reasons=reasons,
        owasp=owasp,
    )


def assess_operations(spec: ApiSpec) -> list[OperationRisk]:
    """Every operation's risk, riskiest first (ties keep document order)."""
    has_schemes = bool(spec.security_schemes)
    risks = [assess(spec, op, has_schemes) for op in spec.operations]
    order = {id(r): i for i, r in enumerate(risks)}
    return sorted(risks, key=lambda r: (-r.score, order[id(r)]))


def auth_coverage(spec: ApiSpec) -> AuthCoverage:
    """Which operations need credentials, which allow anonymous access, which writes are open."""
    schemes = []
    for name, scheme in spec.security_schemes.items():
        used = sum(1 for op in spec.operations if any(name in req for req in op.security))
        entry: dict[str, Any] = {"name": name, "type": scheme.type, "operations": used}
        if scheme.scheme:
            entry["scheme"] = scheme.scheme
        if scheme.location:
            entry["in"] = scheme.location
            entry["parameter"] = scheme.param_name
        schemes.append(entry)
    secured = [op for op in spec.operations if requires_auth(op)]
    optional = [op.operation_id for op in spec.operations if op.security and not requires_auth(op)]
    public = [op.operation_id for op in spec.operations if not op.security]
    open_writes = [
        op.operation_id
        for op in spec.operations
        if spec.security_schemes and op.method.upper() in _WRITES and not requires_auth(op)
    ]
    total = len(spec.operations) or 1
    return AuthCoverage(
        schemes=schemes,
        secured_operations=len(secured),
        public_operations=public,
        optional_auth_operations=optional,
        unprotected_writes=open_writes,
        coverage=round(len(secured) / total, 3),
    )
