"""Blocking work of the client, run in a thread with the client's state folder in force."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from mockloop.errors import SpecError
from mockloop.settings import ClientSettings, using_home

if TYPE_CHECKING:
    from mockloop.spec import ApiSpec

__all__ = ["BlockingWork", "load_any_description"]

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
        only its own folder. A running MockLoop mock's URL (business or admin port) stands for
        the description it serves."""
        return await self.run(load_any_description, source, list(self.settings.allow_fetch))


def load_any_description(source: Any, allow_fetch: list[str]) -> ApiSpec:
    """The description `source` designates: a path, dict or text, a description's URL, or the
    URL of a running MockLoop mock (whose /openapi.json is read).

    Raises:
        SpecError: the description cannot be loaded; for a bare URL (no path), one saying it
            is neither a running mock nor a description.
        ConfigError: `source` is empty or of a type that cannot hold a description.
    """
    from mockloop.prompts.description import load_description
    from mockloop.spec import load_spec

    if isinstance(source, os.PathLike):
        return load_spec(source, allow_fetch=allow_fetch)
    if not (isinstance(source, str) and source.strip().startswith(("http://", "https://"))):
        return load_description(source, allow_fetch=allow_fetch)
    url = source.strip()
    try:
        return load_description(url, allow_fetch=allow_fetch)
    except SpecError as exc:
        if urlsplit(url).path not in ("", "/"):
            raise
        raise SpecError(
            "neither a running MockLoop mock (no description at its /openapi.json, nor at "
            "the business port its admin /health names) nor an OpenAPI description "
            f"({exc.problem}); give a running mock's URL such as http://127.0.0.1:8000, the "
            "URL of a description, or a file path",
            source=url,
        ) from None
