"""Reading documents and following `$ref`s across files and URLs.

A location is an absolute file path or an http(s) URL; every document read is parsed once and
kept. A reference is split into its location (relative to the referring document) and a JSON
pointer; `Documents.resolve` returns the target with the location it lives in, so references
inside the target resolve against the right file.

Reading is bounded (`SpecLimits`): only regular files are opened (a device, FIFO, socket or
folder is refused before any open that could block), each document is read up to its size
limit and no further, and its nesting and alias expansion are measured before anything walks
it. URLs go through `fetch_document` and its address policy. Local `$ref`s stay inside one
root folder (symlinks resolved first), and a document fetched over HTTP refers only to URLs.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import orjson
import yaml

from mockloop.errors import ConfigError, SpecError
from mockloop.spec.fetch import FetchPolicy, fetch_document
from mockloop.spec.limits import URI_SCHEME, SpecLimits, check_shape, size_text, too_deep

__all__ = [
    "URI_SCHEME",
    "Documents",
    "default_refs_root",
    "escape_pointer",
    "is_url",
    "note_reads",
    "parse_text",
    "read_file",
    "read_location",
    "record_reads",
    "split_ref",
]

_READS: contextvars.ContextVar[list[tuple[str, str | None]] | None] = contextvars.ContextVar(
    "mockloop_spec_reads", default=None
)


@contextlib.contextmanager
def record_reads() -> Iterator[list[tuple[str, str | None]]]:
    """Collect every document read meanwhile: (location, sha256 of its bytes), None for a URL,
    "" for a file that could not be read (the load then fails).

    The compiled cache keys an entry by the content of every file a description reads.
    """
    reads: list[tuple[str, str | None]] = []
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def note_reads(reads: list[tuple[str, str | None]]) -> None:
    """Add documents read elsewhere (the compiled cache's record of them) to a `record_reads`
    in progress, if any."""
    active = _READS.get()
    if active is not None:
        active.extend(reads)


_DEFAULT_LIMITS = SpecLimits()
"""A URI scheme (`ftp:`, `urn:`, `file:`); one letter is a Windows drive, not a scheme."""
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# What open(O_NOFOLLOW) reports for a symbolic link: ELOOP (Linux, macOS), EMLINK (FreeBSD).
_LINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})
_NOT_REGULAR = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """YAML loader that keeps timestamps as strings and turns every mapping key into a string.

    Merge keys (`<<: *a`) copy entries, unlike aliases: `merge_budget` bounds how many entries
    they may add in all, so a chain of merges cannot grow quadratically.
    """

    merge_budget = 0


def _construct_mapping(loader: _SpecLoader, node: yaml.MappingNode) -> dict[str, Any]:
    written = len(node.value)
    loader.flatten_mapping(node)
    if len(node.value) > written:
        loader.merge_budget -= len(node.value) - written
        if loader.merge_budget < 0:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "merge keys (<<) copy more entries than a description needs: an alias bomb",
                node.start_mark,
            )
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


def parse_text(text: str, source: str, limits: SpecLimits = _DEFAULT_LIMITS) -> Any:
    """Parse YAML or JSON text; SpecError with the line and column when malformed, or when it
    nests deeper or expands (YAML aliases) further than `limits` allow."""
    document, shared = _parse(text, source, limits)
    check_shape(document, limits, source, shared=shared)
    return document


def _parse(text: str, source: str, limits: SpecLimits) -> tuple[Any, bool]:
    """(document, whether it may share containers: YAML aliases can, JSON cannot)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise SpecError("the document is empty: not an OpenAPI description", source=source)
    if stripped[0] == "<":
        raise SpecError(
            "HTML or XML, not an OpenAPI description (for a documentation page, give the "
            "address of its openapi.json or swagger.json instead)",
            source=source,
        )
    try:
        if stripped[0] in "{[":
            return _parse_json(stripped, source, limits)
        return _load_yaml(stripped, limits), True
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in problem:
            raise too_deep(limits, source) from None
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if "alias bomb" in problem:
            raise SpecError(f"YAML{where}: {problem}", source=source) from None
        raise SpecError(f"malformed YAML{where}: {problem}", source=source) from None
    except RecursionError:
        raise too_deep(limits, source) from None


def _load_yaml(text: str, limits: SpecLimits) -> Any:
    loader = _SpecLoader(text)
    loader.merge_budget = limits.max_merged_entries
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _parse_json(text: str, source: str, limits: SpecLimits) -> tuple[Any, bool]:
    try:
        return orjson.loads(text), False
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):
            raise too_deep(limits, source) from None
    try:  # numbers beyond 64 bits, NaN: the standard library reads them
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        json_error = exc
    try:  # JSON-looking YAML (flow style) is still YAML, but a .json file is JSON
        if source.lower().endswith(".json"):
            raise yaml.YAMLError
        return _load_yaml(text, limits), True
    except yaml.YAMLError:
        raise SpecError(
            f"malformed JSON at line {json_error.lineno}, column {json_error.colno}: "
            f"{json_error.msg}",
            source=source,
        ) from None


def _not_regular(mode: int) -> str | None:
    """What a file of this mode is when it is not a regular file ("a FIFO", ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _NOT_REGULAR if test(mode)), "not a regular file")


def read_file(location: str, max_bytes: int, *, referrer: str = "", pointer: str = "") -> bytes:
    """The bytes of the regular file `location`, at most `max_bytes` of them.

    `location` is a resolved path (its callers resolve it and check it against the `$ref`
    root first), so its last component is opened without following a symbolic link: one
    swapped in after that check cannot lead outside the root. A folder, device, FIFO or socket
    is refused from its `stat`, before any open; the file is then opened without blocking and
    checked again on the open descriptor (it may have been swapped in between), and at most
    `max_bytes` + 1 bytes are read, so a file that grows while read is still refused.

    Raises:
        SpecError: the file is missing, unreadable, a symbolic link, not a regular file, or
            larger than `max_bytes`.
    """
    source = referrer or location

    def refuse(problem: str) -> SpecError:
        return SpecError(problem, source=source, pointer=pointer)

    def check(info: os.stat_result) -> None:
        what = _not_regular(info.st_mode)
        if what == "a folder":
            raise refuse(f"{location} is a folder, not a description file")
        if what is not None:
            raise refuse(f"{location} is {what}, not a file: only regular files are read")
        if info.st_size > max_bytes:
            raise refuse(
                f"{location} is larger than {size_text(max_bytes)}, the limit on one "
                "description document: raise it with --max-spec-size (max_spec_bytes)"
            )

    linked = refuse(
        f"{location} is a symbolic link, which is not followed here (one swapped in after the "
        "path was resolved and checked could lead outside the $ref root): read the file itself"
    )
    try:
        info = os.lstat(location)
        if stat.S_ISLNK(info.st_mode):
            raise linked
        check(info)
        descriptor = os.open(location, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise refuse(f"file not found: {location}") from None
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise linked from None
        raise refuse(f"cannot read {location}: {exc.strerror or exc}") from None
    with os.fdopen(descriptor, "rb") as file:
        try:
            check(os.fstat(file.fileno()))
            data = file.read(max_bytes + 1)
        except OSError as exc:
            raise refuse(f"cannot read {location}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise refuse(
            f"{location} is larger than {size_text(max_bytes)}, the limit on one description "
            "document: raise it with --max-spec-size (max_spec_bytes)"
        )
    return data


def _decode(raw: bytes, location: str) -> str:
    if b"\x00" in raw[:8192]:
        raise SpecError("binary content: not an OpenAPI description", source=location)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(
            "the document is not UTF-8 text: not an OpenAPI description", source=location
        ) from None


def read_location(
    location: str,
    *,
    limits: SpecLimits = _DEFAULT_LIMITS,
    policy: FetchPolicy | None = None,
    referrer: str = "",
    pointer: str = "",
) -> Any:
    """Read and parse one document (a file path or an http(s) URL) within `limits`; URLs are
    fetched under `policy` (default: loopback and public addresses only)."""
    if is_url(location):
        raw = fetch_document(
            location,
            policy=policy if policy is not None else FetchPolicy(),
            max_bytes=limits.max_bytes,
            timeout=limits.timeout,
            referrer=referrer,
            pointer=pointer,
        )
    else:
        try:
            raw = read_file(location, limits.max_bytes, referrer=referrer, pointer=pointer)
        except Exception:
            tried = _READS.get()
            if tried is not None:  # an empty digest: tried and unreadable (`--watch` waits)
                tried.append((location, ""))
            raise
    reads = _READS.get()
    if reads is not None:
        reads.append((location, None if is_url(location) else hashlib.sha256(raw).hexdigest()))
    return parse_text(_decode(raw, location), location, limits)


def default_refs_root(
    location: str, refs_root: str | os.PathLike[str] | None = None, *, widen_to_cwd: bool
) -> Path | None:
    """The folder local `$ref`s of the description at `location` must stay inside.

    `refs_root` when given; else the description's own folder, or the current directory when
    `widen_to_cwd` and the description lies inside it (never the filesystem root). A URL has
    none (its `$ref`s are URLs), nor has a dict or text unless widened to the current folder.

    Raises:
        ConfigError: `refs_root` is not a folder.
    """
    if refs_root is not None:
        root = Path(refs_root).expanduser().resolve()
        if not root.is_dir():
            raise ConfigError(
                f"refs_root {refs_root} is not a folder: give the folder local $refs may read"
            )
        return root
    if is_url(location):
        return None
    cwd = Path.cwd().resolve()
    widen = widen_to_cwd and cwd != Path(cwd.anchor)
    if location.startswith("<"):
        return cwd if widen else None
    own = Path(location).resolve().parent
    return cwd if widen and own.is_relative_to(cwd) else own


@dataclass
class Documents:
    """Every document of one description, by location, parsed once.

    `refs_root` is the folder local `$ref`s must stay inside (None: no local file may be
    read by a `$ref`, as for a description given as text); `policy` decides which hosts remote
    `$ref`s may reach.
    """

    root_location: str
    root: Any
    limits: SpecLimits = _DEFAULT_LIMITS
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    refs_root: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict)
    _absolute: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cache[self.root_location] = self.root

    def replace_root(self, document: Any) -> None:
        """Use a converted copy of the root (Swagger 2.0) for every later lookup."""
        self.root = document
        self._cache[self.root_location] = document

    def absolute(self, location: str, base: str) -> str:
        """The location a reference names, relative to the document `base` it is written in.

        A `file:` URL in a local document becomes its path; any other scheme but http(s) is
        kept as written, for `resolve` to refuse.
        """
        if not location:
            return base
        key = (location, base)
        found = self._absolute.get(key)
        if found is None:
            scheme = URI_SCHEME.match(location)
            if is_url(base):
                found = urljoin(base, location)
            elif is_url(location) or (scheme and scheme.group(1).lower() != "file"):
                found = location
            elif scheme:  # file:///path or file:path
                found = str(Path(unquote(urlsplit(location).path) or "/").resolve())
            elif os.path.isabs(location):
                found = str(Path(location).resolve())
            elif base.startswith("<"):  # a dict or a string: relative to the current folder
                found = str(Path(unquote(urlsplit(location).path)).resolve())
            else:
                found = str((Path(base).parent / unquote(urlsplit(location).path)).resolve())
            self._absolute[key] = found
        return found

    def _admit(self, ref: str, location: str, base: str, site: str) -> None:
        """SpecError unless the document `base` may read `location` through `ref`."""
        if location in self._cache or is_url(location):
            return
        scheme = URI_SCHEME.match(location)
        if scheme and scheme.group(1).lower() != "file":
            raise SpecError(
                f"$ref {ref!r} uses the scheme {scheme.group(1)}:, which MockLoop does not "
                "follow (use a relative path or an http(s) URL)",
                source=base,
                pointer=site,
            )
        if is_url(base):
            raise SpecError(
                f"$ref {ref!r} names a local file from a description fetched over HTTP: a "
                "remote description may refer only to http(s) URLs",
                source=base,
                pointer=site,
            )
        if self.refs_root is None:
            raise SpecError(
                f"$ref {ref!r} names a local file, but a description given as text or a dict "
                "has no folder to read it from: give refs_root (--refs-root DIR) to allow one",
                source=base,
                pointer=site,
            )
        if not Path(location).is_relative_to(self.refs_root):
            raise SpecError(
                f"$ref {ref!r} reads {location}, outside {self.refs_root} (the folder local "
                "$refs may read): move the file inside it or widen it with --refs-root DIR "
                "(refs_root)",
                source=base,
                pointer=site,
            )

    def document(self, location: str, *, referrer: str, pointer: str) -> Any:
        """The parsed document at `location`, read once; SpecError beyond the document cap."""
        if location not in self._cache:
            if len(self._cache) >= self.limits.max_documents:
                raise SpecError(
                    f"the description is split over more than {self.limits.max_documents} "
                    "files and URLs: bundle it into fewer",
                    source=referrer,
                    pointer=pointer,
                )
            self._cache[location] = read_location(
                location,
                limits=self.limits,
                policy=self.policy,
                referrer=referrer,
                pointer=pointer,
            )
        return self._cache[location]

    def resolve(self, ref: str, base: str, site: str) -> tuple[Any, str, tuple[str, ...]]:
        """Follow one `$ref` written at pointer `site` of document `base`.

        Returns (target, its location, its pointer tokens). SpecError naming the referring
        file, the pointer of the `$ref` and the missing target when it leads nowhere, or why
        it may not be read (outside the root folder, a local file from a remote document).
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
        self._admit(ref, location, base, site)
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
