"""Runs catalog operations for an agent framework's tools, blocking or async, on one client.

The shared core of the LangChain and CrewAI adapters (they may not import each other). A tool
set holds one `OperationCaller`. Given a `MockLoopClient` it runs blocking calls on that
client's own event-loop thread (where its background schedules live) and async calls through
`client.async_client`; given an `AsyncMockLoopClient` it awaits it directly and runs blocking
calls on one private loop thread of its own. Every call is audited as made by its face
("langchain", "crewai"). Nothing here imports a framework.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from mockloop._sync_client import MockLoopClient
from mockloop._sync_runner import LoopThread
from mockloop.audit import using_face
from mockloop.catalog import OperationSpec
from mockloop.client import AsyncMockLoopClient
from mockloop.progress import ProgressCallback, progress_to
from mockloop.results import Result, summary_of
from mockloop.tools.errors import error_text

__all__ = [
    "ClientLike",
    "OperationCaller",
    "compact_json",
    "error_text",
    "given_arguments",
    "render_result",
]

ClientLike = MockLoopClient | AsyncMockLoopClient | None
T = TypeVar("T")

MAX_JSON_CHARS = 24_000


class OperationCaller:
    """Calls operations by name on one client, as one face (audited under `face`).

    Args:
        client: the client to run on (default: a new MockLoopClient).
        face: who calls, for the audit trail: "langchain", "crewai", ...
        omitted_note: what a result's text says of a field left out for size.
    """

    def __init__(
        self,
        client: ClientLike = None,
        *,
        face: str,
        omitted_note: str = "call a narrower operation for them",
    ) -> None:
        self.face = face
        self.omitted_note = omitted_note
        if client is None:
            client = MockLoopClient()
        if isinstance(client, MockLoopClient):
            self.client: MockLoopClient | AsyncMockLoopClient = client
            self.async_client = client.async_client
            # The sync client's own loop: schedules it starts keep running between calls.
            self._loop: LoopThread = client.loop_thread
        elif isinstance(client, AsyncMockLoopClient):
            self.client = client
            self.async_client = client
            self._loop = LoopThread()
        else:
            raise TypeError(
                f"client must be a MockLoopClient or an AsyncMockLoopClient, not "
                f"{type(client).__name__}"
            )

    def call(
        self, name: str, arguments: dict[str, Any], *, progress: ProgressCallback | None = None
    ) -> Any:
        """Run operation `name` to completion (blocking) and return its result.

        `progress` receives the operation's progress reports (done, total, message); it runs
        on the client's event loop thread.
        """
        return self._loop.run(self.acall(name, arguments, progress=progress))

    async def acall(
        self, name: str, arguments: dict[str, Any], *, progress: ProgressCallback | None = None
    ) -> Any:
        """Run operation `name` on the async client and return its result."""
        with using_face(self.face), progress_to(progress):
            return await getattr(self.async_client, name)(**arguments)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine over the async client (e.g. a plugin API tool's call) on this
        caller's event loop, to completion (blocking)."""
        return self._loop.run(work)

    def render(self, result: Any) -> str:
        """The text an agent reads of `result` (see `render_result`)."""
        return render_result(result, self.omitted_note)


def given_arguments(op: OperationSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments minus those that are the very default object of their parameter.

    Frameworks fill every default in after validating; dropping them keeps the method's own
    defaults (some are sentinels, such as "the default port, moved if busy").
    """
    defaults = {p.name: p.default for p in op.parameters if not p.required}
    return {
        name: value
        for name, value in arguments.items()
        if not (name in defaults and value is defaults[name])
    }


def render_result(result: Any, omitted_note: str = "call a narrower operation for them") -> str:
    """The text an agent reads: the result's short summary, then its JSON (compacted)."""
    if isinstance(result, Result):
        data = result.model_dump(mode="json")
        summary = summary_of(result)
    else:
        data = result
        summary = ""
    text = compact_json(data, note=omitted_note)
    return f"{summary}\n\nResult JSON: {text}" if summary else text


def compact_json(
    data: Any, limit: int = MAX_JSON_CHARS, note: str = "call a narrower operation for them"
) -> str:
    """JSON of `data` within `limit` characters: the largest top-level fields give way first,
    each replaced by a note of its size, so what remains is still valid JSON."""
    text = json.dumps(data, default=str)
    if len(text) <= limit or not isinstance(data, dict):
        return text if len(text) <= limit else text[:limit] + "... [truncated]"
    shown = dict(data)
    sizes = sorted(
        ((len(json.dumps(value, default=str)), key) for key, value in data.items()), reverse=True
    )
    for size, key in sizes:
        shown[key] = f"<omitted: {size} characters; {note}>"
        text = json.dumps(shown, default=str)
        if len(text) <= limit:
            break
    return text
