"""Which face (python, mcp, langchain, crewai) and which session an operation call comes from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["FACES", "current_face", "using_face"]

FACES = ("python", "mcp", "langchain", "crewai")

_FACE: ContextVar[tuple[str, str | None]] = ContextVar("mockloop_face", default=("python", None))


@contextmanager
def using_face(face: str, session_id: str | None = None) -> Iterator[None]:
    """Within the block, operation calls are audited as made by `face` in `session_id`."""
    token = _FACE.set((face, session_id))
    try:
        yield
    finally:
        _FACE.reset(token)


def current_face() -> tuple[str, str | None]:
    """(face, session id) of the operation call in progress."""
    return _FACE.get()
