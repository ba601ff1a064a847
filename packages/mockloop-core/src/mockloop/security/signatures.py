"""Error signatures: text in a response that gives away a stack trace, a SQL error, a NoSQL
error or a shell error. Each list holds compiled patterns; `first_match` names the hit."""

from __future__ import annotations

import re

__all__ = ["COMMAND_ERRORS", "NOSQL_ERRORS", "SQL_ERRORS", "STACK_TRACES", "first_match"]


def _compile(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


STACK_TRACES = _compile(
    r"Traceback \(most recent call last\)",
    r'File "[^"]+\.py", line \d+',
    r"\bat [\w$.]+\([\w$]+\.java:\d+\)",
    r"Exception in thread \"",
    r"java\.lang\.\w+(Exception|Error)",
    r"System\.\w+(\.\w+)*Exception",
    r" in [\w:\\/.]+\.cs:line \d+",
    r"<b>(Fatal|Parse) error</b>:",
    r"\bat [\w.<>]+ \((/|[A-Z]:\\)[^)]+:\d+:\d+\)",
    r"Werkzeug Debugger",
    r"(?i)django\.core\.exceptions",
    r"\.rb:\d+:in `",
    r"goroutine \d+ \[running\]",
)

SQL_ERRORS = _compile(
    r"sqlite3\.(OperationalError|ProgrammingError)",
    r"SQLite3::SQLException",
    r"near \"[^\"]*\": syntax error",
    r"unrecognized token: ",
    r"(?i)you have an error in your sql syntax",
    r"(?i)warning: mysql",
    r"\bORA-\d{5}\b",
    r"PG::SyntaxError",
    r"psycopg2?\.errors?\.",
    r"(?i)unterminated quoted string",
    r"(?i)syntax error at or near",
    r"SQLSTATE\[",
    r"(?i)quoted string not properly terminated",
    r"(?i)microsoft ole db provider for",
    r"(?i)odbc sql server driver",
    r"(?i)unclosed quotation mark after the character string",
)

NOSQL_ERRORS = _compile(
    r"MongoError",
    r"MongoServerError",
    r"(?i)\bCastError\b",
    r"(?i)unknown operator: \$",
    r"(?i)\$where",
    r"BSON(Type)?Error",
)

COMMAND_ERRORS = _compile(
    r"sh: \d+: ",
    r"(?i)/bin/(ba)?sh: ",
    r"(?i): command not found",
    r"(?i)is not recognized as an internal or external command",
)


def first_match(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    """The first matching excerpt of `text`, or None."""
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None
