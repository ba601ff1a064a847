"""Signatures: text in a response that gives away a stack trace, a framework debug page, a SQL
error, a NoSQL error or a shell error, and the output of an injected command or of a system
file read. Each list holds compiled patterns; `first_match` names the hit and `excerpt` cuts
the text around it."""

from __future__ import annotations

import re

__all__ = [
    "COMMAND_ERRORS",
    "COMMAND_OUTPUT",
    "DEBUG_PAGES",
    "ERROR_KINDS",
    "NOSQL_ERRORS",
    "SQL_ERRORS",
    "STACK_TRACES",
    "SYSTEM_FILES",
    "excerpt",
    "first_match",
    "first_span",
]


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
    r"\bat (com|org|net|java|javax|jdk|sun)\.[\w$]+\.[\w$.]+\(",
    r"\n\s+at System\.[\w.`<>]+\(",
    r"\bat Object\.<anonymous> \(",
    r"/node_modules/[\w@.-]+/[^\s:)]+\.js:\d+",
)

DEBUG_PAGES = _compile(
    r"\bDEBUG = True\b",
    r"You're seeing this error because you have <code>DEBUG = True</code>",
    r"(?i)werkzeug debugger",
    r"The debugger caught an exception in your WSGI application",
    r"(?i)\bWhoops! There was an error\b",
    r"\bWhoops\\(Handler|Run)\b",
    r"(?i)<title>Action Controller: Exception caught</title>",
    r"Rails\.root: /",
    r"(?i)<title>[^<]*\(\d{3}\)[^<]*Laravel[^<]*</title>",
)

ERROR_SQL = _compile(
    r"(?i)\bSQL syntax\b",
    r"\bORA-\d{4,5}\b",
    r"\bSQLSTATE\b",
    r"sqlite3\.\w*Error",
    r"\bpsycopg2?\b",
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

# `(?:\b|(?<=\\[nrt]))`: a word start, or just after an escaped newline or tab, as the output
# reads inside a JSON string ("...\nuid=0(root)...").
COMMAND_OUTPUT = _compile(
    r"(?:\b|(?<=\\[nrt]))uid=\d+\([\w.-]+\) gid=\d+",
    r"(?i)(?:\b|(?<=\\[nrt]))nt authority\\\w+",
    r"Volume Serial Number is [0-9A-F]{4}-[0-9A-F]{4}",
    r"Microsoft Windows \[Version \d+\.",
)

SYSTEM_FILES = _compile(
    r"root:x?:0:0:",
    r"(?i)\[boot loader\]",
    r"(?i)\[fonts\]",
    r"(?i)\[mci extensions\]",
    r"; for 16-bit app support",
)

#: The error-hygiene kinds: what a response must not show, whatever request provoked it.
#: A debug page comes first: it also holds a stack trace, and says more.
ERROR_KINDS: dict[str, tuple[re.Pattern[str], ...]] = {
    "framework debug page": DEBUG_PAGES,
    "stack trace": STACK_TRACES,
    "SQL error text": SQL_ERRORS + ERROR_SQL,
}


def first_match(patterns: tuple[re.Pattern[str], ...], text: str) -> str | None:
    """The first matching excerpt of `text`, or None."""
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None


def first_span(patterns: tuple[re.Pattern[str], ...], text: str) -> tuple[int, int] | None:
    """Where the first matching pattern matches in `text`, or None."""
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found.span()
    return None


def excerpt(text: str, span: tuple[int, int], around: int = 160) -> str:
    """The text around a match, at most `around` characters either side, on one line."""
    start, end = max(0, span[0] - around), min(len(text), span[1] + around)
    cut = text[start:end].replace("\r", " ").replace("\n", " | ")
    return ("..." if start else "") + cut + ("..." if end < len(text) else "")
