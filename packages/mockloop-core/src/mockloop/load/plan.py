"""What a load run does, as plain picklable data: the target, the request mix and the profile.

A `LoadPlan` is built and checked in the calling process (every mistake is a `ConfigError`
before any load is sent) and handed to each worker process as it is.
"""

from __future__ import annotations

import ipaddress
import math
import os
import socket
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from mockloop.errors import ConfigError
from mockloop.redaction import REDACTED, default_redactor

__all__ = [
    "LoadPlan",
    "RequestTemplate",
    "Target",
    "allowed_hosts",
    "arrival_time",
    "check_allowed",
    "parse_target",
]

LoadModel = Literal["closed", "open"]
_MAX_PROCESSES = 64


@dataclass(frozen=True)
class Target:
    """Where the load goes: scheme, host, port and the URL's path prefix."""

    scheme: str
    host: str
    port: int
    base_path: str = ""

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.base_path}"


@dataclass
class RequestTemplate:
    """One entry of the request mix: a name, a method, concrete request targets (path and
    query; one is used per request, in turn), headers, a body and a relative weight."""

    name: str
    method: str
    targets: list[str]
    weight: float = 1.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    path_template: str = ""

    def describe(self) -> dict[str, Any]:
        """The template as JSON-ready data for results and stores: secret header values and
        secrets in its name and targets redacted (what is sent keeps them)."""
        redactor = default_redactor()
        data = asdict(self)
        data["body_bytes"] = len(self.body or b"")
        data.pop("body")
        data["name"] = redactor.text(self.name)
        data["targets"] = [redactor.text(target) for target in self.targets[:5]]
        data["headers"] = {
            name: REDACTED if redactor.is_secret(name) else redactor.text(value)
            for name, value in self.headers.items()
        }
        return data


@dataclass
class LoadPlan:
    """A whole run: target, mix and profile (see `run_load_test` for each field's meaning)."""

    target: Target
    templates: list[RequestTemplate]
    duration: float
    users: int
    rate: float | None = None
    ramp_up: float = 0.0
    think_time: float = 0.0
    timeout: float = 10.0
    processes: int = 1
    mix_source: str = "endpoints"

    @property
    def model(self) -> LoadModel:
        return "open" if self.rate is not None else "closed"

    def describe(self) -> dict[str, Any]:
        """The plan as JSON-ready data (stored with the run)."""
        return {
            "target": self.target.url,
            "model": self.model,
            "duration": self.duration,
            "concurrent_users": self.users,
            "target_rps": self.rate,
            "ramp_up": self.ramp_up,
            "think_time": self.think_time,
            "timeout": self.timeout,
            "processes": self.processes,
            "mix_source": self.mix_source,
            "mix": [t.describe() for t in self.templates],
        }

    def check(self, *, mix: bool = True) -> None:
        """ConfigError naming the first value out of range (the mix too, unless `mix=False`)."""
        if not (isinstance(self.duration, int | float) and math.isfinite(self.duration)):
            raise ConfigError(f"duration={self.duration!r} must be a number of seconds")
        if self.duration <= 0:
            raise ConfigError(f"duration={self.duration} must be above 0 seconds")
        if self.users < 1:
            raise ConfigError(f"concurrent_users={self.users} must be 1 or more")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ConfigError(f"target_rps={self.rate} must be above 0 (or None: closed model)")
        if self.ramp_up < 0 or self.ramp_up > self.duration:
            raise ConfigError(
                f"ramp_up={self.ramp_up} must be between 0 and duration ({self.duration} s)"
            )
        if self.think_time < 0:
            raise ConfigError(f"think_time={self.think_time} must be 0 or more seconds")
        if self.think_time and self.rate is not None:
            raise ConfigError(
                "think_time applies to the closed model (users); with target_rps the arrival "
                "rate sets the pace: leave think_time at 0"
            )
        if self.timeout <= 0:
            raise ConfigError(f"timeout={self.timeout} must be above 0 seconds")
        if not 1 <= self.processes <= _MAX_PROCESSES:
            raise ConfigError(f"processes={self.processes} must be between 1 and {_MAX_PROCESSES}")
        if self.processes > self.users:
            raise ConfigError(
                f"processes={self.processes} exceeds concurrent_users={self.users}: each "
                "process needs at least one user (connection)"
            )
        if not mix:
            return
        if not self.templates:
            raise ConfigError("the request mix is empty: give endpoints, a spec or a scenario")
        for template in self.templates:
            if template.weight <= 0 or not math.isfinite(template.weight):
                raise ConfigError(f"endpoint {template.name!r}: weight must be above 0")
            if not template.targets:
                raise ConfigError(f"endpoint {template.name!r} has no request to send")


def arrival_time(index: int, rate: float, ramp_up: float) -> float:
    """Seconds from the start at which arrival `index` (0-based) of the open model is due.

    During `ramp_up` the rate climbs linearly from 0 to `rate` (so N(t) = rate t² / 2R);
    after it, arrivals come every 1/rate seconds.
    """
    ramp_arrivals = rate * ramp_up / 2
    if index < ramp_arrivals:
        return math.sqrt(2 * ramp_up * index / rate)
    return ramp_up + (index - ramp_arrivals) / rate


def parse_target(url: str) -> Target:
    """The target of a normalised http(s) URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(parts.scheme, host, port, parts.path.rstrip("/"))


def allowed_hosts(configured: str | None = None) -> list[str]:
    """Hosts load may go to besides loopback: `MOCKLOOP_ALLOWED_HOSTS` (comma separated;
    exact names, `*.example.test` suffixes, IPs or CIDR networks; `*` allows any)."""
    raw = configured if configured is not None else os.environ.get("MOCKLOOP_ALLOWED_HOSTS", "")
    return [part.strip().lower() for part in raw.split(",") if part.strip()]


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _matches(host: str, entry: str) -> bool:
    if entry == "*" or host == entry:
        return True
    if entry.startswith("*.") and host.endswith(entry[1:]):
        return True
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry, strict=False)
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    return False


def check_allowed(target: Target, extra: list[str] | None = None) -> None:
    """ConfigError unless load may go to the target's host: loopback always, others only
    when listed in `MOCKLOOP_ALLOWED_HOSTS` (load is traffic someone else may pay for)."""
    host = target.host.lower().strip("[]")
    entries = allowed_hosts() if extra is None else extra
    if _is_loopback(host) or any(_matches(host, entry) for entry in entries):
        return
    # A name that resolves only to loopback addresses is loopback too.
    try:
        infos = socket.getaddrinfo(host, None)
        addresses = {info[4][0] for info in infos}
        if addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses):
            return
    except (OSError, ValueError):
        pass
    raise ConfigError(
        f"load tests may only target loopback hosts by default, and {target.host!r} is not "
        "one: if you own it and may load it, add it to MOCKLOOP_ALLOWED_HOSTS "
        f"(e.g. MOCKLOOP_ALLOWED_HOSTS={host}; comma separated, '*.domain' and CIDR allowed)"
    )
