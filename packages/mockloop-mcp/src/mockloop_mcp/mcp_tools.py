"""Every MockLoop operation as a plain async function: the original quick start's import path.

    from mockloop_mcp.mcp_tools import create_mcp_plugin

    plugin = await create_mcp_plugin(
        spec_url_or_path="examples/specs/petstore.yaml", mode="hybrid",
        plugin_name="example_api", target_url="http://127.0.0.1:9000",
    )

Each name of the catalog (`create_mcp_plugin`, `generate_mock_api`, `run_load_test`, ...) is
an async function with the operation's own signature, docstring and typed result. Every one
runs on one default `AsyncMockLoopClient`, made on first use from the environment:
MOCKLOOP_HOME (the folder of MockLoop's state: mocks, plugins, runs, audit trail; default the
user data folder), MOCKLOOP_TIMEOUT (seconds an HTTP call to a mock may take) and
MOCKLOOP_ADMIN_TOKEN (the bearer token for admin APIs). `configure(home=..., timeout=...,
admin_token=..., llm=...)` replaces it (functions imported before then use the new one too);
`default_client()` returns it. Nothing here imports the MCP SDK: the functions are plain
Python calls, audited as face "python".
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from mockloop import AsyncMockLoopClient
from mockloop.catalog import get_catalog

__all__ = ["configure", "default_client", *get_catalog().names()]  # pyright: ignore[reportUnsupportedDunderAll]

_lock = threading.Lock()
_client: AsyncMockLoopClient | None = None


def default_client() -> AsyncMockLoopClient:
    """The client every function here runs on (made from the environment on first use)."""
    global _client
    with _lock:
        if _client is None:
            _client = AsyncMockLoopClient()
        return _client


def configure(
    *,
    home: str | None = None,
    timeout: float | None = None,
    admin_token: str | None = None,
    llm: Any = None,
) -> AsyncMockLoopClient:
    """Replace the default client: its settings are these (unset ones from the environment).

    The previous client is closed (on the running event loop when there is one, else at
    once): its stores, connections and schedule runners end; mocks and plugins it started keep
    running (they are recorded in its home). Returns the new client.

    Args:
        home: folder for MockLoop's state; default MOCKLOOP_HOME, else the user data folder.
        timeout: seconds an HTTP call to a mock may take; default MOCKLOOP_TIMEOUT or 30.
        admin_token: bearer token for admin APIs that require one; default MOCKLOOP_ADMIN_TOKEN.
        llm: optional model the prompts refine their results with.
    """
    global _client
    client = AsyncMockLoopClient(home=home, timeout=timeout, admin_token=admin_token, llm=llm)
    with _lock:
        previous, _client = _client, client
    if previous is not None:
        _close(previous)
    return client


def _close(client: AsyncMockLoopClient) -> None:
    """Close a replaced default client: a task on the running loop, else a loop of its own."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(client.aclose())
    else:
        _closing.add(task := loop.create_task(client.aclose()))
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()  # closes under way (kept from the collector)


def _operation_function(name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The module-level async function of operation `name` (on the default client)."""
    method = getattr(AsyncMockLoopClient, name)

    async def call(*args: Any, **kwargs: Any) -> Any:
        return await getattr(default_client(), name)(*args, **kwargs)

    functools.update_wrapper(call, method)
    del call.__wrapped__  # the signature is the method's without `self`, set below
    parameters = list(inspect.signature(method).parameters.values())[1:]
    call.__signature__ = inspect.signature(method).replace(parameters=parameters)  # type: ignore[attr-defined]
    call.__module__ = __name__
    call.__qualname__ = name
    return call


def __getattr__(name: str) -> Any:
    catalog = get_catalog()
    if name not in catalog:
        known = ", ".join(sorted(catalog.names()))
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}; its functions are the MockLoop "
            f"operations ({known}), configure and default_client"
        )
    function = _operation_function(name)
    globals()[name] = function
    return function


def __dir__() -> list[str]:
    return sorted({*globals(), *get_catalog().names()})
