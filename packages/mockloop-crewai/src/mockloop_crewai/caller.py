"""The CrewAI face's operation caller: `mockloop.tools.calls` with this face's name."""

from __future__ import annotations

from mockloop.tools.calls import (
    ClientLike,
    compact_json,
    error_text,
    given_arguments,
)
from mockloop.tools.calls import OperationCaller as _OperationCaller

__all__ = ["ClientLike", "OperationCaller", "compact_json", "error_text", "given_arguments"]


class OperationCaller(_OperationCaller):
    """Calls operations by name on one client, audited as the CrewAI face."""

    def __init__(self, client: ClientLike = None) -> None:
        super().__init__(client, face="crewai", omitted_note="call a narrower operation for them")
