"""The proxy settings of a mock: mode, routing rules, upstream auth and resilience.

They are plain data (`MockConfig.proxy`, the `proxy:` mapping of a project's mockloop.yaml,
the body of `PUT /api/proxy`), validated here into models whose errors name the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from mockloop.errors import ConfigError

__all__ = [
    "AUTH_TYPES",
    "AuthConfig",
    "CircuitSettings",
    "ProxyMode",
    "ProxyOptions",
    "ProxySettings",
    "RouteMode",
    "RoutingRule",
    "parse_auth",
    "parse_proxy_settings",
    "parse_rules",
]

ProxyMode = Literal["mock", "proxy", "hybrid", "replay"]
RouteMode = Literal["mock", "proxy"]
AuthType = Literal[
    "none", "api_key", "bearer_token", "basic", "oauth2_client_credentials", "custom_headers"
]
AUTH_TYPES: tuple[str, ...] = AuthType.__args__  # type: ignore[attr-defined]
_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


class RoutingRule(BaseModel):
    """Where matching requests go in hybrid mode; the highest `priority` match wins."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"pattern": "/api/critical/*", "mode": "proxy", "priority": 10, "methods": ["GET"]}
            ]
        },
    )

    pattern: str = Field(
        min_length=1,
        description="the request path to match: a glob (`*` spans `/`, `?` one character) or "
        "a regex starting with ^, e.g. /api/critical/*",
    )
    mode: RouteMode = Field(
        default="proxy", description="where matching requests go: the live API or the mock"
    )
    priority: int = Field(
        default=0, description="among several matching rules the highest wins (ties: first)"
    )
    methods: list[str] = Field(
        default_factory=list, description="HTTP methods it applies to, e.g. ['GET']; empty: all"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="header name -> exact value, or '*' for present"
    )
    query: dict[str, str] = Field(
        default_factory=dict, description="query parameter -> exact value, or '*' for present"
    )
    pattern_type: Literal["auto", "glob", "regex"] = Field(
        default="auto", description="auto: a regex when the pattern starts with ^, else a glob"
    )
    name: str | None = Field(default=None, description="a label shown in routing decisions")

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        upper = [m.upper() for m in value]
        unknown = [m for m in upper if m not in _METHODS]
        if unknown:
            raise ValueError(f"unknown HTTP method(s) {unknown}; use {sorted(_METHODS)}")
        return upper

    def regex(self) -> re.Pattern[str]:
        """The compiled path pattern (ValueError for a bad regular expression)."""
        if self.pattern_type == "regex" or (
            self.pattern_type == "auto" and self.pattern.startswith("^")
        ):
            return re.compile(self.pattern)
        return re.compile(_glob_to_regex(self.pattern))


def _glob_to_regex(pattern: str) -> str:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
    return "^" + "".join(parts) + "$"


_CREDENTIALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the secrets and settings of auth_type: api_key {api_key, name?, location?}; "
    "bearer_token {token}; basic {username, password}; oauth2_client_credentials {token_url, "
    "client_id, client_secret, scope?, audience?, client_auth?}; custom_headers {headers}",
    "properties": {
        "api_key": {"type": "string", "description": "api_key: the key's value"},
        "name": {
            "type": "string",
            "description": "api_key: the header, query or cookie name (default X-API-Key)",
        },
        "location": {
            "enum": ["header", "query", "cookie"],
            "description": "api_key: where the key goes (default header)",
        },
        "token": {"type": "string", "description": "bearer_token: the token sent as Bearer"},
        "username": {"type": "string", "description": "basic: the user name"},
        "password": {"type": "string", "description": "basic: the password"},
        "token_url": {
            "type": "string",
            "description": "oauth2_client_credentials: the http(s) token endpoint",
        },
        "client_id": {"type": "string", "description": "oauth2_client_credentials: client id"},
        "client_secret": {
            "type": "string",
            "description": "oauth2_client_credentials: client secret",
        },
        "scope": {"type": "string", "description": "oauth2_client_credentials: scopes asked"},
        "audience": {"type": "string", "description": "oauth2_client_credentials: audience"},
        "client_auth": {
            "enum": ["basic", "body"],
            "description": "oauth2_client_credentials: how the client authenticates (default "
            "basic)",
        },
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "custom_headers: header name -> value",
        },
    },
}


class AuthConfig(BaseModel):
    """Credentials the proxy adds to every upstream request (never echoed anywhere).

    `credentials` by type: api_key {api_key, name?, location?: header|query|cookie};
    bearer_token {token}; basic {username, password}; oauth2_client_credentials {token_url,
    client_id, client_secret, scope?, audience?, client_auth?: basic|body}; custom_headers
    {headers: {...}}. Any type may add `headers` (custom headers sent as well).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "auth_type": "api_key",
                    "credentials": {"api_key": "test-key", "name": "X-API-Key"},
                }
            ]
        },
    )

    auth_type: AuthType = Field(
        default="none", description='how the upstream authenticates requests ("type" also works)'
    )
    credentials: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_CREDENTIALS_SCHEMA)
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra headers sent upstream with every request"
    )
    refresh_margin_s: float = Field(
        default=30.0, ge=0, description="OAuth2: refresh this long before expiry (at most 20%)"
    )

    def secret_values(self) -> list[str]:
        """Every credential value configured (for scrubbing text), longest first."""
        values = [str(v) for k, v in self.credentials.items() if k not in _PUBLIC_KEYS and v]
        headers = self.credentials.get("headers")
        if isinstance(headers, dict):
            values.extend(str(v) for v in headers.values() if v)
        values.extend(v for v in self.headers.values() if v)
        return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)

    def describe(self) -> dict[str, Any]:
        """What the auth is, without a single secret: type, where it goes, which names."""
        data: dict[str, Any] = {"auth_type": self.auth_type}
        creds = self.credentials
        if self.auth_type == "api_key":
            data["location"] = creds.get("location", "header")
            data["name"] = creds.get("name", "X-API-Key")
        elif self.auth_type == "basic":
            data["username_set"] = bool(creds.get("username"))
        elif self.auth_type == "oauth2_client_credentials":
            data["token_url"] = creds.get("token_url")
            data["scope"] = creds.get("scope")
        custom = {**(creds.get("headers") or {}), **self.headers}
        if custom:
            data["custom_header_names"] = sorted(custom)
        data["credentials"] = "[REDACTED]" if creds else None
        return data


_PUBLIC_KEYS = frozenset(
    {"name", "location", "token_url", "scope", "audience", "client_auth", "username", "headers"}
)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "api_key": ("api_key",),
    "bearer_token": ("token",),
    "basic": ("username", "password"),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}


class CircuitSettings(BaseModel):
    """Stop calling a failing upstream for a while after consecutive failures."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"failure_threshold": 5, "reset_timeout_s": 30}]},
    )

    failure_threshold: int = Field(default=5, ge=0, description="0 turns the breaker off")
    reset_timeout_s: float = Field(default=30.0, gt=0, description="open time before a trial")


class ProxySettings(BaseModel):
    """How a mock answers: from itself, from the live API, or by rules; and how it calls it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"default_mode": "mock", "timeout_s": 5, "retries": 1, "fallback_to_mock": True}
            ]
        },
    )

    mode: ProxyMode = Field(
        default="mock",
        description="mock: answer from the description; proxy: forward every request to "
        "target_url; hybrid: route by routing_rules; replay: serve a recording",
    )
    target_url: str | None = Field(default=None, description="the live API's base URL")
    default_mode: RouteMode = Field(
        default="mock", description="hybrid mode: where a request no rule matches goes"
    )
    routing_rules: list[RoutingRule] = Field(
        default_factory=list, description="hybrid mode's rules, highest priority first"
    )
    auth: AuthConfig | None = Field(
        default=None, description="credentials added to every upstream request"
    )
    timeout_s: float = Field(default=10.0, gt=0, description="per upstream attempt")
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="seconds to open an upstream connection"
    )
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts, idempotent only")
    retry_backoff_s: float = Field(default=0.1, ge=0, description="first wait, then doubled")
    retry_max_backoff_s: float = Field(default=2.0, ge=0, description="the longest wait")
    retry_statuses: list[int] = Field(
        default_factory=lambda: [502, 503, 504],
        description="upstream statuses retried (idempotent requests only)",
    )
    circuit_breaker: CircuitSettings = Field(
        default_factory=CircuitSettings,
        description="stop calling a failing upstream for a while",
    )
    fallback_to_mock: bool = Field(
        default=False, description="answer from the mock when the live API fails"
    )
    fallback_statuses: list[int] = Field(
        default_factory=lambda: [502, 503, 504],
        description="upstream statuses that count as failures for the fallback",
    )
    replay_scenario: str | None = Field(default=None, description="replay mode's recording")
    allow_mode_header: bool = Field(
        default=True, description="honour an X-MockLoop-Mode: mock|proxy request header"
    )

    @field_validator("target_url")
    @classmethod
    def _target(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        text = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", text):
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. http://127.0.0.1:9000)")
        return text

    def check(self) -> ProxySettings:
        """ConfigError when the combination cannot work (e.g. proxy mode without a target)."""
        if self.mode in ("proxy", "hybrid") and not self.target_url:
            raise ConfigError(
                f"proxy mode {self.mode!r} needs target_url (the live API's base URL, "
                "e.g. http://127.0.0.1:9000)"
            )
        for index, rule in enumerate(self.routing_rules):
            try:
                rule.regex()
            except re.error as exc:
                raise ConfigError(
                    f"routing_rules[{index}].pattern {rule.pattern!r} is not a valid regular "
                    f"expression: {exc}"
                ) from None
        if self.auth is not None:
            _check_auth(self.auth)
        return self

    def public(self) -> dict[str, Any]:
        """The settings as JSON with the auth described, never its secrets."""
        data = self.model_dump(mode="json", exclude={"auth"})
        data["auth"] = self.auth.describe() if self.auth is not None else None
        return data


_OWN_ARGUMENTS = ("mode", "target_url", "routing_rules", "auth")
_OPTIONS: dict[str, Any] = {
    name: (field.annotation, field)
    for name, field in ProxySettings.model_fields.items()
    if name not in _OWN_ARGUMENTS
}

ProxyOptions: type[BaseModel] = create_model(
    "ProxyOptions",
    __config__=ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"default_mode": "mock", "timeout_s": 5, "retries": 1, "fallback_to_mock": True}
            ]
        },
    ),
    __doc__="The proxy settings besides mode, target_url, routing_rules and auth (which the "
    "tools take as arguments of their own): the published shape of `proxy_config`.",
    **_OPTIONS,
)


def _check_auth(auth: AuthConfig) -> None:
    creds = auth.credentials
    missing = [key for key in _REQUIRED.get(auth.auth_type, ()) if not creds.get(key)]
    if missing:
        raise ConfigError(
            f"auth_config of type {auth.auth_type!r} needs credentials "
            f"{', '.join(missing)} (e.g. credentials={{{missing[0]!r}: '...'}})"
        )
    if auth.auth_type == "api_key":
        location = creds.get("location", "header")
        if location not in ("header", "query", "cookie"):
            raise ConfigError(
                f"auth_config.credentials.location={location!r}: use header, query or cookie"
            )
    if auth.auth_type == "oauth2_client_credentials":
        if creds.get("client_auth", "basic") not in ("basic", "body"):
            raise ConfigError("auth_config.credentials.client_auth must be 'basic' or 'body'")
        if not str(creds["token_url"]).startswith(("http://", "https://")):
            raise ConfigError("auth_config.credentials.token_url must be an http(s) URL")
    if auth.auth_type == "custom_headers" and not (creds.get("headers") or auth.headers):
        raise ConfigError(
            "auth_config of type 'custom_headers' needs headers: "
            "{'auth_type': 'custom_headers', 'headers': {'X-Tenant': 'acme'}}"
        )


def _problems(exc: ValidationError, prefix: str) -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
    )


def parse_auth(data: Any) -> AuthConfig | None:
    """An auth config from a dict (None for none); ConfigError naming each bad field."""
    if data is None:
        return None
    if isinstance(data, AuthConfig):
        auth = data
    else:
        if not isinstance(data, dict):
            raise ConfigError("auth_config must be an object like {'auth_type': ..., ...}")
        data = dict(data)
        if "type" in data and "auth_type" not in data:
            data["auth_type"] = data.pop("type")
        try:
            auth = AuthConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid auth_config: {_problems(exc, '')}") from None
    _check_auth(auth)
    return None if auth.auth_type == "none" and not auth.headers else auth


def parse_rules(data: Any) -> list[RoutingRule]:
    """Routing rules from a list of dicts; ConfigError naming each bad field."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError("routing_rules must be a list of {'pattern', 'mode', 'priority', ...}")
    rules = []
    for index, item in enumerate(data):
        try:
            rule = item if isinstance(item, RoutingRule) else RoutingRule.model_validate(item)
            rule.regex()
        except ValidationError as exc:
            problems = _problems(exc, f"routing_rules[{index}].")
            raise ConfigError(f"invalid routing rule: {problems}") from None
        except re.error as exc:
            raise ConfigError(
                f"routing_rules[{index}].pattern is not a valid regular expression: {exc}"
            ) from None
        rules.append(rule)
    return rules


def parse_proxy_settings(data: Any) -> ProxySettings:
    """Proxy settings from a dict; ConfigError naming each bad field or combination."""
    if isinstance(data, ProxySettings):
        return data.check()
    if not isinstance(data, dict):
        raise ConfigError("proxy settings must be an object (mode, target_url, routing_rules...)")
    try:
        settings = ProxySettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid proxy settings: {_problems(exc, '')}") from None
    return settings.check()
