"""Blocking work of the client, run in a thread with the client's state folder in force."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mockloop.settings import ClientSettings, using_home

if TYPE_CHECKING:
    from mockloop.spec import ApiSpec

__all__ = ["BlockingWork"]

T = TypeVar("T")


class BlockingWork:
    """Runs blocking calls (stores, files, description loading) off the event loop.

    Args:
        settings: the client's settings (its state folder and `allow_fetch`).
    """

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings

    async def run(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `func` in a thread, with this client's state folder in force."""
        with using_home(self.settings.home):
            return await asyncio.to_thread(func, *args, **kwargs)

    async def load_spec(self, source: Any) -> ApiSpec:
        """Load a description an agent or caller gave (path, URL, dict or text), bounded like
        every load, reaching the private hosts of this client's `allow_fetch` and, for a file,
        only its own folder."""
        from mockloop.spec import load_spec

        return await self.run(load_spec, source, allow_fetch=list(self.settings.allow_fetch))
