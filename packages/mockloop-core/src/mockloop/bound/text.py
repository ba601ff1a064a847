"""What an agent reads: the text of an operation's result, and of a failed call.

Every face (MCP, LangChain, CrewAI, the bound operations of `MockLoopClient`) renders with
these, so an agent reads the same text wherever it calls from. A result reads as its short
summary followed by its JSON (compacted, largest fields first). A user mistake
(`MockLoopUserError`) says to fix the arguments and call again; any other MockLoop error says
what failed; anything else is a bug, reported as one. Every error text is redacted: a secret
an error echoes never reaches the agent's transcript.
"""

from __future__ import annotations

import json
from typing import Any

from mockloop.errors import MockLoopError, MockLoopUserError
from mockloop.operation import invalid_arguments
from mockloop.redaction import redact_text
from mockloop.results import Result, summary_of

__all__ = [
    "MAX_JSON_CHARS",
    "compact_json",
    "error_text",
    "render_result",
    "validation_error_text",
]

MAX_JSON_CHARS = 24_000
"""The most characters of JSON a result's text holds."""


def error_text(op_name: str, exc: BaseException) -> str:
    """What the agent reads when `op_name` fails with `exc`: what was wrong and what to do."""
    if isinstance(exc, MockLoopUserError):
        text = f"{type(exc).__name__}: {exc} (fix the arguments of {op_name} and call it again)"
    elif isinstance(exc, MockLoopError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = (
            f"{op_name} failed inside MockLoop ({type(exc).__name__}: {exc}); check the "
            "arguments, or report this error"
        )
    return redact_text(text)


def validation_error_text(op_name: str, exc: Any) -> str:
    """The error text for arguments a framework's own validation refused (a pydantic
    `ValidationError`): each bad argument named, as a ConfigError to fix and retry."""
    return error_text(op_name, invalid_arguments(op_name, exc))


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
