"""The settings of one mock server."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mockloop.errors import ConfigError
from mockloop.proxy.settings import ProxySettings
from mockloop.settings import mockloop_home

__all__ = ["MockConfig", "RateLimit", "ValidationMode", "parse_rate"]

ValidationMode = Literal["off", "warn", "enforce"]


_RATE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*(?:\.\d+)?)\s*(s|sec|second|m|min|minute|h|hour)\s*$"
)
_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_UNITS |= {"h": 3600, "hour": 3600}


class RateLimit(BaseModel):
    """A token bucket: `requests` per `per_seconds`, bursts up to `burst`, per `scope`."""

    model_config = ConfigDict(extra="forbid")

    requests: float = Field(gt=0, description="requests allowed per window", examples=[10])
    per_seconds: float = Field(
        default=1.0, gt=0, description="the window in seconds", examples=[60]
    )
    burst: float | None = Field(
        default=None,
        ge=1,
        description="requests allowed at once after a quiet spell (default: requests)",
        examples=[20],
    )
    scope: Literal["client", "session", "global"] = Field(
        default="client",
        description="one bucket per client address, per X-Session-ID (else per client), or one "
        "for everyone",
        examples=["session"],
    )

    @model_validator(mode="after")
    def _bounded(self) -> RateLimit:
        if self.requests / self.per_seconds > 1e9:
            raise ValueError("more than a billion requests per second is no limit: drop it")
        return self

    def describe(self) -> str:
        window = f"{self.per_seconds:g} s"
        return f"{self.requests:g} requests per {window} per {self.scope}"


def parse_rate(text: str, scope: str = "client", burst: float | None = None) -> RateLimit:
    """`10/s`, `100/m`, `5000/h`, `30/10s` as a `RateLimit`.

    Raises:
        ValueError: not this form, naming what is accepted.
    """
    found = _RATE.match(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a rate: write REQUESTS/UNIT such as 10/s, 100/m, 5000/h or 30/10s"
        )
    count, multiple, unit = found.groups()
    seconds = (float(multiple) if multiple else 1.0) * _UNITS[unit]
    return RateLimit.model_validate(
        {"requests": float(count), "per_seconds": seconds, "burst": burst, "scope": scope}
    )


class MockConfig(BaseModel):
    """How to serve a description. The admin port defaults to none (business port only)."""

    model_config = ConfigDict(extra="forbid")

    spec: str | dict[str, Any] = Field(description="path, URL or parsed description")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    admin_host: str = "127.0.0.1"
    admin_port: int | None = Field(default=None, ge=0, le=65535)
    admin_token: str | None = Field(
        default=None,
        repr=False,
        description="require 'Authorization: Bearer <token>' on the admin API (`mockloop "
        "serve` refuses an admin host beyond loopback without one)",
    )
    admin_allow_hosts: list[str] = Field(
        default_factory=list,
        description="more Host names the admin port answers (beside 127.0.0.1, localhost, "
        "[::1] and its bound address), e.g. this machine's name when bound to 0.0.0.0",
    )
    seed: int = 0
    locale: str = Field(
        default="en_US",
        description="Faker locale of generated names, places, companies and texts (de_DE, "
        "ja_JP, ...); see docs/data-generation.md",
    )
    validation: ValidationMode = "enforce"
    auth: bool = True
    data_dir: Path | None = None
    scenarios_file: Path | None = None
    log_requests: bool = True
    log_body_limit: int = Field(default=4096, ge=0)
    log_max_records: int = Field(default=100_000, ge=1)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    max_spec_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1,
        description="largest description document read (each file or URL of it), in bytes",
    )
    allow_fetch: list[str] = Field(
        default_factory=list,
        description="hosts or CIDRs in private ranges that description URLs and remote $refs "
        "may reach (loopback is always allowed; link-local and cloud metadata never)",
    )
    refs_root: Path | None = Field(
        default=None,
        description="folder local $refs must stay inside; None: the description's folder, "
        "widened to the current directory when the description lies inside it",
    )
    max_response_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest generated response body; a schema that would expand beyond it is "
        "answered within the bound and the cut is logged once",
    )
    max_request_line_bytes: int = Field(
        default=8 * 1024, ge=256, description="longest request line (414 beyond)"
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="largest request header block (431 beyond)"
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        description="seconds a client may take to send a request's headers and body before "
        "the connection is closed",
    )
    state_max_items: int = Field(
        default=100_000,
        ge=1,
        description="items one stateful collection (shared, or one session's) may hold",
    )
    state_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="bytes all stateful data may take, in every collection, session and the "
        "seed: each item's JSON size plus an estimate of its overhead in memory (at least 128 "
        "bytes); a write past it is refused with 409",
    )
    state_max_sessions: int = Field(
        default=1000,
        ge=1,
        description="X-Session-ID sessions kept at once with state_isolation='session'",
    )
    state_session_idle_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="a session unused this long is evicted with state_isolation='session'",
    )
    redact_fields: list[str] = Field(default_factory=list)
    database_url: str | None = Field(
        default=None,
        description="the shared store, postgresql://user:password@host:port/database; None: "
        "MOCKLOOP_DATABASE_URL, else a SQLite file in the data folder",
    )
    store_name: str | None = Field(
        default=None,
        description="this mock's name in a shared database: replicas with the same name share "
        "scenarios, overrides, state and the request log (default: the description's title)",
    )
    replica_sync: bool | None = Field(
        default=None,
        description="follow config changes made by other processes on the same store; None: "
        "on for PostgreSQL, off for a SQLite file",
    )
    storage: bool = Field(
        default=True,
        description="keep the store (log, scenarios, state, webhooks) on disk; False uses a "
        "temporary folder removed when the mock stops",
    )
    admin_ui: bool = Field(default=True, description="serve the admin UI at the admin port's /")
    stateful: bool = Field(
        default=False, description="CRUD collections inferred from the description"
    )
    state_seed_items: int = Field(
        default=3, ge=0, le=1000, description="generated items per collection at start"
    )
    state_isolation: Literal["shared", "session"] = Field(
        default="shared",
        description="'session' keeps separate data per X-Session-ID header value",
    )
    webhooks: bool = Field(default=True, description="serve /api/webhooks and fire webhooks")
    webhook_allow_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "::1"],
        description="hosts webhook targets may name (loopback only by default)",
    )
    proxy: ProxySettings | None = Field(
        default=None,
        description="mock, proxy, hybrid or replay mode: target_url, routing_rules, auth, "
        "retries, circuit breaker, fallback (see docs/proxy.md); None: a pure mock",
    )
    cors: list[str] | None = Field(
        default=None,
        description="origins whose pages may call the business port (CORS): None = any origin "
        "for a pure mock and none with proxy settings; [] = off; ['*'] = any; or origins such "
        "as 'http://localhost:3000' (credentials allowed); see mockloop.mock.cors",
    )
    rate_limit: RateLimit | None = Field(
        default=None,
        description="throttle every operation: a token bucket per client, session or for "
        "everyone; an empty bucket answers 429 with Retry-After and RateLimit-* headers "
        "(see mockloop.mock.scenarios.ratelimit); None: no limit",
    )
    security_headers: Literal["off", "standard", "strict"] = Field(
        default="off",
        description="headers added to every business answer: 'standard' (nosniff, "
        "X-Frame-Options DENY, Referrer-Policy no-referrer, a CSP of default-src 'none'), "
        "'strict' (also HSTS, Cache-Control no-store, COOP); an answer's own header wins",
    )
    compile_cache: bool = Field(
        default=True,
        description="keep the loaded description in the compiled cache and reuse it on the "
        "next start of the same unchanged files (see mockloop.spec.compiled)",
    )
    compile_cache_dir: Path | None = Field(
        default=None,
        description="the compiled cache's folder; None: MOCKLOOP_CACHE_DIR, else "
        "$XDG_CACHE_HOME/mockloop/compiled, else ~/.cache/mockloop/compiled",
    )
    watch: bool = Field(
        default=False,
        description="reload the description (every file it reads) and the scenarios file when "
        "they change on disk; a bad edit keeps the last good version serving and is reported "
        "in the log and /health (see mockloop.mock.watch)",
    )

    @field_validator("admin_allow_hosts")
    @classmethod
    def _host_names(cls, names: list[str]) -> list[str]:
        """Each allowed admin Host is a bare name or address: no scheme, port, path or '*'."""
        for name in names:
            bare = name.strip().strip("[]")
            if not bare or any(c in bare for c in "/*@ ") or (":" in bare and not _is_ipv6(bare)):
                raise ValueError(
                    f"{name!r} is not a host name: give a name or an address such as "
                    "mock.example or 192.168.1.5, without a scheme, port or wildcard"
                )
        return [name.strip() for name in names]

    @field_validator("locale")
    @classmethod
    def _locale(cls, locale: str) -> str:
        """A locale Faker has (`de-DE` is taken as `de_DE`)."""
        from mockloop.fake.pools import check_locale

        return check_locale(locale)

    @field_validator("cors")
    @classmethod
    def _origins(cls, origins: list[str] | None) -> list[str] | None:
        """'*' or scheme://host[:port] each."""
        if origins is None:
            return None
        from mockloop.mock.cors import check_origins

        return check_origins(origins)

    @model_validator(mode="after")
    def _watchable(self) -> MockConfig:
        """`watch` needs a description read from local files."""
        if self.watch and (not isinstance(self.spec, str) or "://" in self.spec):
            raise ValueError(
                "watch needs a description in a local file (a URL or a parsed document has no "
                "file to watch): save it to a file and serve that"
            )
        return self

    @classmethod
    def build(cls, **values: Any) -> MockConfig:
        """Validate settings; ConfigError naming each bad field otherwise."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid mock settings: {problems}") from None

    def resolved_data_dir(self, title: str) -> Path:
        """Where this mock keeps its database: `data_dir`, else one folder per spec and port."""
        if self.data_dir is not None:
            return Path(self.data_dir)
        source = self.spec if isinstance(self.spec, str) else repr(sorted(self.spec.items()))[:4096]
        if isinstance(self.spec, str) and Path(self.spec).exists():
            source = str(Path(self.spec).resolve())
        digest = hashlib.sha256(source.encode()).hexdigest()[:10]
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "api"
        return mockloop_home() / "mocks" / f"{slug}-{digest}-{self.port}"


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
