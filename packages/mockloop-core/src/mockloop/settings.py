"""Where MockLoop keeps its state and how the client behaves, from arguments or `MOCKLOOP_*`
environment variables.

| variable | meaning | default |
| --- | --- | --- |
| `MOCKLOOP_HOME` | folder for all state (registry, projects, mock data) | user data folder |
| `MOCKLOOP_TIMEOUT` | seconds an HTTP call to a mock may take | 30 |
| `MOCKLOOP_ADMIN_TOKEN` | bearer token sent to admin APIs that require one | none |
| `MOCKLOOP_ALLOW_FETCH` | private hosts or CIDRs description URLs may reach (a,b,...) | none |
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field

from mockloop.errors import ConfigError

__all__ = [
    "PROBE",
    "PROBE_HEADER",
    "ClientSettings",
    "env_allow_fetch",
    "mockloop_home",
    "using_home",
]

#: Sent by MockLoop's own /health probes (client, registry, discovery) so that a mock does not
#: log them as traffic.
PROBE_HEADER = "X-MockLoop-Probe"
PROBE = {PROBE_HEADER: "1"}

_HOME_OVERRIDE: ContextVar[Path | None] = ContextVar("mockloop_home", default=None)


def mockloop_home() -> Path:
    """The folder for MockLoop's state: the client's `home`, else `MOCKLOOP_HOME`, else the
    user data folder.

    Never the current folder or site-packages. Created on first use.
    """
    override = _HOME_OVERRIDE.get()
    if override is not None:
        home = override
    else:
        configured = os.environ.get("MOCKLOOP_HOME")
        home = (
            Path(configured).expanduser()
            if configured
            else Path(platformdirs.user_data_dir("mockloop"))
        )
    home.mkdir(parents=True, exist_ok=True)
    return home


@contextmanager
def using_home(home: Path | None) -> Iterator[None]:
    """Within the block (and threads started from it with its context), state lives in `home`."""
    token = _HOME_OVERRIDE.set(home)
    try:
        yield
    finally:
        _HOME_OVERRIDE.reset(token)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be above 0")
    return value


def env_allow_fetch() -> list[str]:
    """The hosts and CIDRs in `MOCKLOOP_ALLOW_FETCH` (comma-separated); none when unset."""
    raw = os.environ.get("MOCKLOOP_ALLOW_FETCH") or ""
    return [entry.strip() for entry in raw.split(",") if entry.strip()]


class ClientSettings(BaseModel):
    """The client's settings; `from_env` fills what the caller left out from `MOCKLOOP_*`."""

    model_config = ConfigDict(frozen=True)

    home: Path | None = Field(default=None, description="state folder; None: MOCKLOOP_HOME")
    timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP call to a mock")
    admin_token: str | None = Field(default=None, repr=False)
    allow_fetch: tuple[str, ...] = Field(
        default=(),
        description="private hosts or CIDRs that description URLs and remote $refs may reach "
        "(loopback always may; link-local and cloud metadata never)",
    )

    @classmethod
    def from_env(
        cls,
        *,
        home: str | Path | None = None,
        timeout: float | None = None,
        admin_token: str | None = None,
        allow_fetch: list[str] | tuple[str, ...] | None = None,
    ) -> ClientSettings:
        """Arguments win; then `MOCKLOOP_HOME`, `MOCKLOOP_TIMEOUT`, `MOCKLOOP_ADMIN_TOKEN`,
        `MOCKLOOP_ALLOW_FETCH`."""
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"timeout={timeout!r} must be above 0 seconds")
        return cls(
            home=Path(home).expanduser() if home is not None else None,
            timeout=timeout if timeout is not None else _env_float("MOCKLOOP_TIMEOUT", 30.0),
            admin_token=admin_token or os.environ.get("MOCKLOOP_ADMIN_TOKEN") or None,
            allow_fetch=tuple(allow_fetch if allow_fetch is not None else env_allow_fetch()),
        )
