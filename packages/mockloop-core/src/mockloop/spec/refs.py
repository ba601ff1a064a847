"""Reading documents and following `$ref`s across files and URLs.

A location is an absolute file path or an http(s) URL; every document read is parsed once and
kept. A reference is split into its location (relative to the referring document) and a JSON
pointer; `Documents.resolve` returns the target with the location it lives in, so references
inside the target resolve against the right file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import orjson
import yaml

from mockloop.errors import SpecError

__all__ = [
    "Documents",
    "escape_pointer",
    "is_url",
    "parse_text",
    "split_ref",
]

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """YAML loader that keeps timestamps as strings and turns every mapping key into a string."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.flatten_mapping(node)
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # `200:` is the status "200" and `on:` the name "on", exactly as written.
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_SpecLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_SpecLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
)


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def split_ref(ref: str) -> tuple[str, list[str]]:
    """`file.yaml#/a/b~1c` -> ("file.yaml", ["a", "b/c"]); "" location means "this document"."""
    location, _, fragment = ref.partition("#")
    fragment = unquote(fragment)
    if not fragment or fragment == "/":
        return location, []
    if not fragment.startswith("/"):
        raise ValueError(f"the fragment {fragment!r} is not a JSON pointer (it must start with /)")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in fragment[1:].split("/")]
    return location, tokens


def parse_text(text: str, source: str) -> Any:
    """Parse YAML or JSON text; SpecError with the line and column when malformed."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise SpecError("the document is empty: not an OpenAPI description", source=source)
    if stripped[0] == "<":
        raise SpecError(
            "HTML or XML, not an OpenAPI description (for a documentation page, give the "
            "address of its openapi.json or swagger.json instead)",
            source=source,
        )
    if stripped[0] in "{[":
        try:
            return orjson.loads(stripped)
        except orjson.JSONDecodeError:
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as exc:
                json_error = exc
            try:  # JSON-looking YAML (flow style) is still YAML, but a .json file is JSON
                if source.lower().endswith(".json"):
                    raise yaml.YAMLError
                return yaml.load(stripped, Loader=_SpecLoader)
            except yaml.YAMLError:
                raise SpecError(
                    f"malformed JSON at line {json_error.lineno}, column {json_error.colno}: "
                    f"{json_error.msg}",
                    source=source,
                ) from None
    try:
        return yaml.load(stripped, Loader=_SpecLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"malformed YAML{where}: {problem}", source=source) from None


def read_location(location: str, *, timeout: float, referrer: str = "", pointer: str = "") -> Any:
    """Fetch and parse one document (a file path or an http(s) URL)."""
    if is_url(location):
        try:
            response = httpx.get(location, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise SpecError(
                f"cannot fetch {location}: {type(exc).__name__}: {exc}",
                source=referrer or location,
                pointer=pointer,
            ) from None
        if response.status_code >= 400:
            raise SpecError(
                f"cannot fetch {location}: HTTP {response.status_code} {response.reason_phrase}",
                source=referrer or location,
                pointer=pointer,
            )
        return parse_text(response.text, location)
    path = Path(location)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            f"file not found: {location}", source=referrer or location, pointer=pointer
        ) from None
    except IsADirectoryError:
        raise SpecError(
            f"{location} is a folder, not a description file",
            source=referrer or location,
            pointer=pointer,
        ) from None
    except OSError as exc:
        raise SpecError(
            f"cannot read {location}: {exc.strerror}", source=referrer or location, pointer=pointer
        ) from None
    if b"\x00" in raw[:8192]:
        raise SpecError("binary content: not an OpenAPI description", source=location)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(
            "the file is not UTF-8 text: not an OpenAPI description", source=location
        ) from None
    return parse_text(text, location)


@dataclass
class Documents:
    """Every document of one description, by location, parsed once."""

    root_location: str
    root: Any
    timeout: float = 10.0
    _cache: dict[str, Any] = field(default_factory=dict)
    _absolute: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cache[self.root_location] = self.root

    def replace_root(self, document: Any) -> None:
        """Use a converted copy of the root (Swagger 2.0) for every later lookup."""
        self.root = document
        self._cache[self.root_location] = document

    def absolute(self, location: str, base: str) -> str:
        """The location a reference names, relative to the document `base` it is written in."""
        if not location:
            return base
        key = (location, base)
        found = self._absolute.get(key)
        if found is None:
            if is_url(location) or is_url(base):
                found = urljoin(base, location)
            elif os.path.isabs(location):
                found = str(Path(location).resolve())
            elif base.startswith("<"):  # a dict or a string: relative to the current folder
                found = str(Path(unquote(urlsplit(location).path)).resolve())
            else:
                found = str((Path(base).parent / unquote(urlsplit(location).path)).resolve())
            self._absolute[key] = found
        return found

    def document(self, location: str, *, referrer: str, pointer: str) -> Any:
        if location not in self._cache:
            self._cache[location] = read_location(
                location, timeout=self.timeout, referrer=referrer, pointer=pointer
            )
        return self._cache[location]

    def resolve(self, ref: str, base: str, site: str) -> tuple[Any, str, tuple[str, ...]]:
        """Follow one `$ref` written at pointer `site` of document `base`.

        Returns (target, its location, its pointer tokens). SpecError naming the referring
        file, the pointer of the `$ref` and the missing target when it leads nowhere.
        """
        if not isinstance(ref, str):
            raise SpecError(
                f"$ref must be a string, not {type(ref).__name__}", source=base, pointer=site
            )
        location_part, _, _ = ref.partition("#")
        try:
            _, tokens = split_ref(ref)
        except ValueError as exc:
            raise SpecError(f"$ref {ref!r}: {exc}", source=base, pointer=site) from None
        location = self.absolute(location_part, base)
        node = self.document(location, referrer=base, pointer=site)
        for depth, token in enumerate(tokens):
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                walked = "/" + "/".join(escape_pointer(t) for t in tokens[: depth + 1])
                raise SpecError(
                    f"$ref {ref!r} points to nothing: {location} has no {walked}",
                    source=base,
                    pointer=site,
                )
        return node, location, tuple(tokens)
