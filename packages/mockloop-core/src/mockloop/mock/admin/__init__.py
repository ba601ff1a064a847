"""The admin port: its FastAPI app with the request log, scenario and server routes (`app`),
the routes of the other capabilities (`proxy_routes`, `state_routes`, `webhook_routes`), the
guard in front of it all (`guard`), the log of its own requests (`self_log`), the
self-contained API docs (`docs`) and the web UI (`ui`, files in `assets/`).

The admin app reads and steers a running mock through `mockloop.mock.runtime.MockRuntime`;
nothing in the served mock imports it (only `mockloop.mock.server` puts the two ports together).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.mock.admin.app import create_admin_app as create_admin_app

__all__ = ["create_admin_app"]


def __getattr__(name: str) -> Any:
    """`create_admin_app` (the module `mockloop.mock.admin` held before the split), on first
    use."""
    if name == "create_admin_app":
        from mockloop.mock.admin.app import create_admin_app

        return create_admin_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
