"""Runs catalog operations for an agent framework's tools, blocking or async, on one client.

The shared core of the LangChain and CrewAI adapters (they may not import each other). A tool
set holds one `OperationCaller`. Given a `MockLoopClient` it runs blocking calls on that
client's own event-loop thread (where its background schedules live) and async calls through
`client.async_client`; given an `AsyncMockLoopClient` it awaits it directly and runs blocking
calls on one private loop thread of its own. Every call is audited as made by its face
("langchain", "crewai"), and so is every call refused at argument validation, whether the
catalog's check (`validate`) or the framework's own (`rejected`) refused it: outcome "invalid".
Nothing here imports a framework.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

from mockloop._sync_client import MockLoopClient
from mockloop._sync_runner import LoopThread
from mockloop.audit import record_rejected, using_face
from mockloop.bound.operation import given_arguments
from mockloop.bound.text import MAX_JSON_CHARS, compact_json, render_result
from mockloop.catalog import OperationSpec
from mockloop.client import AsyncMockLoopClient
from mockloop.errors import MockLoopError
from mockloop.operation import invalid_arguments
from mockloop.progress import ProgressCallback, progress_to
from mockloop.settings import using_home
from mockloop.tools.errors import error_text, validation_error_text

__all__ = [
    "MAX_JSON_CHARS",
    "ClientLike",
    "OperationCaller",
    "compact_json",
    "error_text",
    "given_arguments",
    "render_result",
]

ClientLike = MockLoopClient | AsyncMockLoopClient | None
T = TypeVar("T")


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

    def validate(self, op: OperationSpec, arguments: dict[str, Any]) -> dict[str, Any]:
        """`op`'s arguments checked by the catalog (`OperationSpec.validate_arguments`); a
        refusal is audited as this face's call with outcome "invalid", then raised."""
        try:
            return op.validate_arguments(arguments)
        except MockLoopError as exc:
            with using_home(self.async_client.settings.home):
                record_rejected(op.name, arguments, exc, face=self.face)
            raise

    def rejected(self, op: OperationSpec, exc: Any) -> str:
        """The error text for arguments a framework's own validation refused (a pydantic
        `ValidationError`), after auditing the refusal (outcome "invalid", the arguments
        the errors quote)."""
        quoted = {
            ".".join(str(p) for p in error["loc"]) or "(arguments)": error.get("input")
            for error in exc.errors()
        }
        with using_home(self.async_client.settings.home):
            record_rejected(op.name, quoted, invalid_arguments(op.name, exc), face=self.face)
        return validation_error_text(op.name, exc)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine over the async client (e.g. a plugin API tool's call) on this
        caller's event loop, to completion (blocking)."""
        return self._loop.run(work)

    def render(self, result: Any) -> str:
        """The text an agent reads of `result` (see `render_result`)."""
        return render_result(result, self.omitted_note)
