"""The request log: every request the mock answers, recorded off the hot path.

`writer` builds one cheap record per request and writes it in the background (redacted by
`mockloop.redaction`), `counters` keeps the running totals, `analysis` turns rows into figures
and `insights` says what the figures mean. The admin port serves it at `/api/logs/search` and
`/api/logs/analyze` (`mockloop.mock.admin.app`) and logs its own requests (`admin.self_log`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockloop.mock.request_log.writer import KEPT_BODY_BYTES as KEPT_BODY_BYTES
    from mockloop.mock.request_log.writer import REDACTED as REDACTED
    from mockloop.mock.request_log.writer import SECRET_HEADERS as SECRET_HEADERS
    from mockloop.mock.request_log.writer import SECRET_WORDS as SECRET_WORDS
    from mockloop.mock.request_log.writer import LogRecord as LogRecord
    from mockloop.mock.request_log.writer import Redactor as Redactor
    from mockloop.mock.request_log.writer import RequestLogWriter as RequestLogWriter

# The names `mockloop.mock.request_log` held as one module before the split, loaded on first use.
__all__ = [
    "KEPT_BODY_BYTES",
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_WORDS",
    "LogRecord",
    "Redactor",
    "RequestLogWriter",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module("mockloop.mock.request_log.writer"), name)
