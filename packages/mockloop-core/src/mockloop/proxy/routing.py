"""Which side answers a request: the mock or the live API.

A `RoutingTable` is an immutable snapshot of the mode, the default and the compiled rules;
changing the mode or the rules swaps the whole snapshot, so a request in flight sees the old
table or the new one, never a mix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from mockloop.proxy.settings import ProxyMode, RouteMode, RoutingRule

__all__ = ["CompiledRule", "RouteDecision", "RoutingTable"]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A routing rule with its path pattern compiled and its conditions lowercased."""

    rule: RoutingRule
    index: int
    regex: re.Pattern[str]
    methods: frozenset[str]
    headers: tuple[tuple[bytes, str], ...]
    query: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, rule: RoutingRule, index: int) -> CompiledRule:
        return cls(
            rule=rule,
            index=index,
            regex=rule.regex(),
            methods=frozenset(rule.methods),
            headers=tuple((k.lower().encode("latin-1"), v) for k, v in rule.headers.items()),
            query=tuple(rule.query.items()),
        )

    def matches(
        self,
        method: str,
        paths: Sequence[str],
        headers: Sequence[tuple[bytes, bytes]],
        query: str,
    ) -> bool:
        if self.methods and method not in self.methods:
            return False
        if not any(self.regex.search(path) for path in paths):
            return False
        for name, wanted in self.headers:
            values = [v.decode("latin-1") for k, v in headers if k.lower() == name]
            if not values or (wanted != "*" and wanted not in values):
                return False
        if self.query:
            pairs = parse_qsl(query, keep_blank_values=True)
            for name, wanted in self.query:
                values = [v for k, v in pairs if k == name]
                if not values or (wanted != "*" and wanted not in values):
                    return False
        return True


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where one request goes and why (`rule` is the winning rule's index, if any)."""

    mode: str
    rule: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """The mode, hybrid mode's default, and the rules, highest priority first."""

    mode: ProxyMode
    default_mode: RouteMode
    rules: tuple[CompiledRule, ...]
    base_path: str = ""

    @classmethod
    def build(
        cls,
        mode: ProxyMode,
        default_mode: RouteMode,
        rules: Sequence[RoutingRule],
        base_path: str = "",
    ) -> RoutingTable:
        compiled = [CompiledRule.of(rule, index) for index, rule in enumerate(rules)]
        # Stable sort: among equal priorities the rule listed first wins.
        compiled.sort(key=lambda c: -c.rule.priority)
        return cls(mode, default_mode, tuple(compiled), base_path.rstrip("/"))

    def decide(
        self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], query: str
    ) -> RouteDecision:
        """The mode for one request: mock, proxy or replay."""
        mode = self.mode
        if mode != "hybrid":
            return RouteDecision(mode, None, f"{mode} mode")
        paths = [path]
        base = self.base_path
        if base and (path == base or path.startswith(base + "/")):
            paths.append(path[len(base) :] or "/")
        for compiled in self.rules:
            if compiled.matches(method, paths, headers, query):
                rule = compiled.rule
                label = rule.name or rule.pattern
                return RouteDecision(
                    rule.mode, compiled.index, f"rule {label!r} (priority {rule.priority})"
                )
        return RouteDecision(self.default_mode, None, "no rule matched: default_mode")
