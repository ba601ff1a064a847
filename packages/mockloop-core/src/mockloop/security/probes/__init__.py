"""The probes, one module per family; `HANDLERS` maps every automatable probe id to its
coroutine."""

from __future__ import annotations

from mockloop.security.probes import (
    authn,
    authz,
    consumption,
    injection,
    inventory,
    misconfig,
    properties,
    ssrf,
)
from mockloop.security.scan import Handler

__all__ = ["HANDLERS"]

HANDLERS: dict[str, Handler] = {
    **authz.HANDLERS,
    **authn.HANDLERS,
    **properties.HANDLERS,
    **consumption.HANDLERS,
    **ssrf.HANDLERS,
    **misconfig.HANDLERS,
    **inventory.HANDLERS,
    **injection.HANDLERS,
}
