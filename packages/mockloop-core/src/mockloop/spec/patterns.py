"""Description patterns matched in linear time, through RE2.

A `pattern` (or a `patternProperties` key) comes from whoever wrote the description, and the
text it is matched against from whoever sends a request. Python's backtracking `re` can take
exponential time on both together (`^(a+)+$` against 31 characters takes 37 s), so every
description pattern is matched by RE2 (`google-re2`), which never backtracks. Python's `re`
never runs a description pattern against any text.

Linear is not free: at worst (when its DFA gives up, as for `[ab]*a[ab]{999}`) RE2 takes time
proportional to the text's length times the pattern's program size (`LinearPattern.cost`,
about 4 ns per unit: 0.24 s for 64 KiB against a program of 1,005 instructions), and a small
program can be that slow too, so no program-size threshold separates safe patterns from costly
ones. Instead each match is charged, at that worst case, to the step budget of the check it
belongs to (`mockloop.spec.validation.WorkBudget`): a request whose pattern checks would take
long on the event loop is moved to a worker thread, and one that would take too long anywhere
is refused as too complex to check.

Patterns are ECMA-262 regular expressions (JSON Schema says so); they are translated to RE2
syntax: `\\uXXXX` and `\\u{...}` escapes, `\\cX`, ECMA's Unicode `\\s`, `[^]`, identity escapes.
What RE2 cannot express is handled so that the check never rejects a value the pattern accepts:

- lookaheads right after a leading `^` (`^(?=.*\\d)(?!admin).{8,}$`, the usual password rule)
  are checked exactly, as separate anchored patterns;
- any other lookaround is dropped, a backreference matches any text, an atomic group becomes a
  plain group and a repeat count above RE2's limit of 1000 becomes open-ended: the pattern is
  then checked in a *relaxed* form (a superset of what it accepts);
- a pattern that still does not compile (Python-only syntax, a malformed pattern) is not
  checked at all: it is an annotation, and every value matches it.

Relaxed and unchecked patterns are logged once each (logger `mockloop.patterns`) and listed by
`pattern_warnings`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

__all__ = ["LinearPattern", "compile_pattern", "pattern_search", "pattern_warnings"]

logger = logging.getLogger("mockloop.patterns")

_MAX_COUNT = 1000  # RE2 refuses larger repeat counts (and larger nested products)
_MAX_PATTERN = 64 * 1024  # longer patterns are not checked (RE2 would need too much memory)
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
# ECMA-262 WhiteSpace and LineTerminator: RE2's `\s` is ASCII only and lacks \v.
_ECMA_SPACE = r"\s\x0b\p{Z}\x{feff}"
_KNOWN_ESCAPES = set("dDwWsSbBnrtfvxpPAz")
_COUNTED = re.compile(r"\{(\d+)(,(\d*))?\}")
_HEX = set("0123456789abcdefABCDEF")
_OCTAL = set("01234567")


@dataclass(frozen=True)
class LinearPattern:
    """A description pattern compiled for RE2.

    Attributes:
        source: the pattern as the description wrote it.
        parts: compiled RE2 patterns, each with the outcome a match must have (a negative
            lookahead becomes a part that must not match); empty when the pattern is unchecked.
        exact: whether the parts accept exactly what the pattern accepts.
        note: why the check is relaxed or missing ("" when exact).
        cost: the parts' RE2 program sizes added up: a match costs at most about this many
            steps per character of the text (see the module docstring).
    """

    source: str
    parts: tuple[tuple[Any, bool], ...]
    exact: bool
    note: str
    cost: int = 0

    @property
    def checked(self) -> bool:
        """Whether the pattern constrains anything (False: it is an annotation)."""
        return bool(self.parts)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in `text` (JSON Schema's semantics)."""
        for compiled, wanted in self.parts:
            try:
                found = compiled.search(text) is not None
            except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8
                fixed = text.encode("utf-8", "replace").decode("utf-8")
                found = compiled.search(fixed) is not None
            if found is not wanted:
                return False
        return True


def pattern_search(pattern: str, text: str) -> bool:
    """Whether description `pattern` matches anywhere in `text`, never backtracking (time
    linear in the text, times the pattern's program size); a pattern that cannot be checked
    matches everything."""
    return compile_pattern(pattern).search(text)


@functools.lru_cache(maxsize=8192)
def compile_pattern(pattern: str) -> LinearPattern:
    """`pattern` compiled for RE2, exactly where possible, else relaxed, else unchecked."""
    found = _build(pattern)
    if found.note:
        logger.warning("pattern %s: %s", _shown(pattern), found.note)
    return found


def pattern_warnings(document: Any, *, limit: int = 200) -> list[str]:
    """One line per pattern in `document`'s schemas that is checked relaxed or not at all,
    each naming its JSON pointer."""
    lines: list[str] = []
    for pointer, pattern in _patterns(document):
        found = compile_pattern(pattern)
        if found.note:
            lines.append(f"#{pointer}: pattern {_shown(pattern)}: {found.note}")
            if len(lines) >= limit:
                break
    return lines


def _shown(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 80 else pattern[:79] + "…")


def _patterns(document: Any) -> Iterator[tuple[str, str]]:
    stack: list[tuple[str, Any]] = [("", document)]
    seen: set[int] = set()
    while stack:
        pointer, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                yield f"{pointer}/pattern", node["pattern"]
            keyed = node.get("patternProperties")
            if isinstance(keyed, dict):
                for key in keyed:
                    if isinstance(key, str):
                        yield f"{pointer}/patternProperties", key
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    name = str(key).replace("~", "~0").replace("/", "~1")
                    stack.append((f"{pointer}/{name}", value))
        elif isinstance(node, list):
            stack.extend(
                (f"{pointer}/{i}", v) for i, v in enumerate(node) if isinstance(v, list | dict)
            )


# -- building ---------------------------------------------------------------------------------


def _build(pattern: str) -> LinearPattern:
    if len(pattern) > _MAX_PATTERN:
        return LinearPattern(
            pattern, (), False, f"longer than {_MAX_PATTERN} characters: not checked"
        )
    pieces = _leading_lookaheads(pattern)
    parts: list[tuple[Any, bool]] = []
    notes: list[str] = []
    for source, wanted in pieces:
        compiled, relaxed = _compile(source)
        if compiled is None:
            if wanted:
                return LinearPattern(
                    pattern, (), False, "RE2 cannot compile it: not checked (an annotation)"
                )
            notes.append("a negative lookahead RE2 cannot compile is ignored")
            continue
        if relaxed and not wanted:
            # A relaxed (wider) pattern that must not match would reject too much: skip it.
            notes.append("a negative lookahead is ignored")
            continue
        notes.extend(relaxed)
        parts.append((compiled, wanted))
    notes = list(dict.fromkeys(notes))
    note = "checked in relaxed form (" + "; ".join(notes) + ")" if notes else ""
    cost = sum(_program_size(compiled) for compiled, _ in parts)
    return LinearPattern(pattern, tuple(parts), not notes, note, cost)


def _program_size(compiled: Any) -> int:
    """RE2's count of instructions in `compiled` (what a match costs per character at
    worst), forward and reverse programs alike."""
    return max(int(compiled.programsize), int(compiled.reverseprogramsize), 1)


def _compile(source: str) -> tuple[Any, list[str]]:
    """`source` translated and compiled for RE2 (None when it cannot be), with the
    relaxations made."""
    translated, relaxed = _translate(source)
    try:
        return re2.compile(translated, _OPTIONS), relaxed
    except re2.error as exc:
        if "repetition" not in str(exc):
            return None, relaxed
    # Nested counted repeats beyond RE2's product limit: every count becomes open-ended.
    translated, relaxed = _translate(source, open_counts=True)
    try:
        return re2.compile(translated, _OPTIONS), relaxed
    except re2.error:
        return None, relaxed


def _leading_lookaheads(pattern: str) -> list[tuple[str, bool]]:
    """`^(?=A)(?!B)C` -> [(`^(?:A)`, True), (`^(?:B)`, False), (`^C`, True)]: exact when the
    pattern has no top-level alternation (else the pattern itself, for `_translate`)."""
    if not pattern.startswith("^") or _top_level_alternation(pattern):
        return [(pattern, True)]
    pieces: list[tuple[str, bool]] = []
    index = 1
    while pattern.startswith(("(?=", "(?!"), index):
        end = _group_end(pattern, index)
        if end is None:
            return [(pattern, True)]
        pieces.append(("^(?:" + pattern[index + 3 : end] + ")", pattern[index + 2] == "="))
        index = end + 1
    if not pieces:
        return [(pattern, True)]
    pieces.append(("^" + pattern[index:], True))
    return pieces


def _group_end(pattern: str, start: int) -> int | None:
    """Index of the `)` closing the group opened at `start`, or None."""
    depth = 0
    index = start
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            if pattern.startswith("]", index + 1) or pattern.startswith("^]", index + 1):
                index += 1 if pattern[index + 1] == "]" else 2
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def _top_level_alternation(pattern: str) -> bool:
    depth = 0
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        index += 1
    return False


def _translate(pattern: str, *, open_counts: bool = False) -> tuple[str, list[str]]:
    """ECMA-262 syntax to RE2 syntax; the second item lists the relaxations made. With
    `open_counts`, every counted repeat `{n,m}` becomes `*` or `+`."""
    out: list[str] = []
    relaxed: list[str] = []
    index = 0
    length = len(pattern)
    in_class = False
    while index < length:
        char = pattern[index]
        if char == "\\":
            text, index = _escape(pattern, index, in_class, relaxed)
            out.append(text)
            continue
        if in_class:
            if char == "]":
                in_class = False
            out.append(char)
            index += 1
            continue
        if char == "[":
            if pattern.startswith("[^]", index):
                out.append(r"[\s\S]")
                index += 3
                continue
            if pattern.startswith("[]", index):
                out.append(r"[^\s\S]")
                index += 2
                continue
            in_class = True
            out.append(char)
            index += 1
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            continue
        if char == "(" and pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), index):
            end = _group_end(pattern, index)
            if end is None:
                out.append(pattern[index:])
                break
            relaxed.append("a lookaround is not checked")
            index = end + 1
            if index < length and pattern[index] in "*+?{":
                out.append("(?:)")  # keep a quantifier that followed it valid
            continue
        if char == "(" and pattern.startswith("(?P=", index):
            close = pattern.find(")", index)
            if close > 0:
                relaxed.append("a backreference matches any text")
                out.append("(?s:.*?)")
                index = close + 1
                continue
        if char == "(" and pattern.startswith("(?>", index):
            relaxed.append("an atomic group is checked as a plain group")
            out.append("(?:")
            index += 3
            continue
        if char == "{":
            found = _COUNTED.match(pattern, index)
            if found is not None:
                text = _count(found, relaxed, open_counts)
                out.append(text)
                index = found.end()
                continue
        out.append(char)
        index += 1
    return "".join(out), list(dict.fromkeys(relaxed))


def _escape(pattern: str, index: int, in_class: bool, relaxed: list[str]) -> tuple[str, int]:
    """One escape sequence at `index` (a backslash) in RE2 syntax, and the index after it."""
    if index + 1 >= len(pattern):
        return "\\\\", index + 1
    char = pattern[index + 1]
    after = index + 2
    if char == "u":
        if pattern.startswith("{", after):
            close = pattern.find("}", after)
            digits = pattern[after + 1 : close] if close > 0 else ""
            if digits and set(digits) <= _HEX:
                return "\\x{" + digits + "}", close + 1
        digits = pattern[after : after + 4]
        if len(digits) == 4 and set(digits) <= _HEX:
            return "\\x{" + digits + "}", after + 4
        return "u", after
    if (
        char == "c"
        and after < len(pattern)
        and pattern[after].isascii()
        and pattern[after].isalpha()
    ):
        return f"\\x{{{ord(pattern[after]) % 32:02x}}}", after + 1
    if char == "s":
        return (_ECMA_SPACE if in_class else f"[{_ECMA_SPACE}]"), after
    if char == "S" and not in_class:
        return f"[^{_ECMA_SPACE}]", after
    if char == "Z":
        return "\\z", after
    if char == "0" and not (after < len(pattern) and pattern[after].isdigit()):
        return "\\x{00}", after
    if char.isdigit():
        end = after
        while end < len(pattern) and pattern[end].isdigit():
            end += 1
        digits = pattern[index + 1 : end]
        if in_class:  # ECMA: an octal escape inside a class
            return (f"\\x{{{int(digits, 8):x}}}" if set(digits) <= _OCTAL else digits), end
        relaxed.append("a backreference matches any text")
        return "(?s:.*?)", end
    if char == "k" and pattern.startswith("<", after) and not in_class:
        close = pattern.find(">", after)
        if close > 0:
            relaxed.append("a backreference matches any text")
            return "(?s:.*?)", close + 1
    if char.isascii() and char.isalpha() and char not in _KNOWN_ESCAPES:
        return char, after  # an ECMA identity escape: `\e` is `e`
    return pattern[index:after], after


def _count(found: re.Match[str], relaxed: list[str], open_counts: bool) -> str:
    low = int(found.group(1))
    high = int(found.group(3)) if found.group(3) else None
    if open_counts:
        relaxed.append("repeat counts are not checked")
        return "+" if low > 0 else "*"
    if low <= _MAX_COUNT and (high is None or high <= _MAX_COUNT):
        return found.group(0)
    relaxed.append(f"repeat counts above {_MAX_COUNT} are not checked")
    return f"{{{min(low, _MAX_COUNT)},}}"
