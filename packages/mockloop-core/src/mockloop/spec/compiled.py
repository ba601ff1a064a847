"""The compiled cache: a loaded description kept on disk, so a second start skips the loading.

`load_spec` reads, resolves and normalises a description (about 0.1 s for GitHub's REST
description, more for larger ones); a mock started again on the same unchanged files gets the
same `ApiSpec` back from a pickle instead. An entry is keyed by the sha256 of the root file's
bytes, the resolved root path, the loading code (size and mtime of each `mockloop.spec`
module), the Python version and every loading option that changes the result; it records
the sha256 of every other file the description read (external `$ref`s) and is used only while
each still matches, so it is never stale.

The cache lives in `MOCKLOOP_CACHE_DIR`, else `$XDG_CACHE_HOME/mockloop/compiled`, else
`~/.cache/mockloop/compiled`. Entries are written atomically (a temporary file renamed), the
newest `MAX_ENTRIES` are kept within `MAX_TOTAL_BYTES` (1 GiB), and deleting the folder or
any entry is always safe: a missing, unreadable or corrupt entry means a cold load and a debug
log line, never an error.
Descriptions given as URLs, text or dicts, or reading any URL, are not cached.

An entry is a pickle, and unpickling runs code: an entry is read only from a folder and a file
owned by the user running the mock that no one else may write (the folder is made 0700), so
another user cannot plant one through a shared `MOCKLOOP_CACHE_DIR`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

from mockloop.spec.limits import URI_SCHEME
from mockloop.spec.model import ApiSpec

__all__ = [
    "CACHE_FORMAT",
    "MAX_ENTRIES",
    "MAX_TOTAL_BYTES",
    "compiled_cache_dir",
    "file_sha256",
    "load_spec_cached",
]

logger = logging.getLogger("mockloop.spec")

CACHE_FORMAT = 1
"""Bumped whenever what an entry holds changes shape; an entry of another format is ignored."""

MAX_ENTRIES = 16
"""Entries kept; older ones (by last use) are removed after each write."""

MAX_TOTAL_BYTES = 1024 * 1024 * 1024
"""Bytes kept in all: the oldest entries beyond them are removed too (the newest always stays)."""

MAX_ENTRY_BYTES = 512 * 1024 * 1024
"""An entry larger than this is never read (the description's own limit keeps it far below)."""

_SUFFIX = ".spec.pickle"


def compiled_cache_dir() -> Path:
    """Where compiled descriptions are kept (see the module docstring for the order)."""
    configured = os.environ.get("MOCKLOOP_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mockloop" / "compiled"


def _local_path(source: object) -> str | None:
    """The resolved path of a description given as a file path, else None (not cached)."""
    if isinstance(source, os.PathLike):
        text = os.fspath(source)
    elif isinstance(source, str):
        text = source
        if "\n" in text or text.lstrip().startswith(("{", "[", "openapi:", "swagger:")):
            return None
        if URI_SCHEME.match(text):
            return None
    else:
        return None
    path = Path(text).expanduser().resolve()
    return str(path) if path.is_file() else None


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes, hex (OSError when it cannot be read)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_spec(source: Any, **options: Any) -> ApiSpec:
    """`mockloop.spec.loader.load_spec`, imported on a miss only: a start from the cache never
    loads the loader, YAML and the $ref machinery."""
    from mockloop.spec.loader import load_spec as load

    return load(source, **options)


def load_spec_cached(
    source: str | os.PathLike[str] | dict[str, Any],
    *,
    cache_dir: Path | None = None,
    **options: Any,
) -> ApiSpec:
    """`load_spec(source, **options)`, from the compiled cache when an entry matches.

    Args:
        source: as for `load_spec`; only a local file path is cached.
        cache_dir: the cache folder (default: `compiled_cache_dir()`).
        **options: `load_spec`'s keyword arguments; those that change the result are part of
            the key.

    Raises:
        SpecError, ConfigError: as `load_spec` does; the cache itself never raises.
    """
    location = _local_path(source)
    if location is None:
        return load_spec(source, **options)
    folder = cache_dir if cache_dir is not None else compiled_cache_dir()
    try:
        key, root_digest = _key(location, options)
    except OSError as exc:  # unreadable root: load_spec words the error
        logger.debug("compiled cache: cannot hash %s (%s): loading it", location, exc)
        return load_spec(source, **options)
    entry = folder / f"{key}{_SUFFIX}"
    cached = _read_entry(entry, location)
    if cached is not None:
        spec, deps = cached
        _note_reads([(location, root_digest), *deps])
        return spec
    from mockloop.spec.refs import record_reads

    reads: list[tuple[str, str | None]] = []
    try:
        with record_reads() as reads:
            spec = load_spec(source, **options)
    finally:  # to the caller's record too, a failed load's: `--watch` waits for those files
        _note_reads(list(reads))
    # Stored only when the root read is the root hashed into the key (an editor may save it in
    # between) and nothing came from a URL.
    read_root = [digest for path, digest in reads if path == location]
    if read_root == [root_digest] and all(digest for _, digest in reads):
        deps = [(path, digest) for path, digest in reads if path != location]
        # A $ref outside the description's folder may have been allowed only because the
        # current directory widened the root: then the entry holds for this directory alone.
        home = Path(location).parent
        outside = [path for path, _ in deps if not Path(path).is_relative_to(home)]
        cwd = os.getcwd() if outside and options.get("widen_refs_root_to_cwd") else None
        _write_entry(folder, entry, deps, spec, cwd)
    return spec


_LIBRARIES = ("yaml", "jsonschema", "re2", "orjson")
"""Libraries whose behaviour shapes a loaded description (parsing, example checks, patterns)."""


def _code_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """The loading code itself: name, size and mtime of each module of `mockloop.spec` and of
    the libraries it parses with (found, not imported), so an entry written by other code or
    another library release is never read back, even between two builds of one version."""
    import importlib.util

    files = sorted(Path(__file__).parent.glob("*.py"))
    for name in _LIBRARIES:
        with contextlib.suppress(ImportError, ValueError):
            found = importlib.util.find_spec(name)
            if found is not None and found.origin:
                files.append(Path(found.origin))
    rows = []
    for path in files:
        with contextlib.suppress(OSError):
            stat = path.stat()
            rows.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(rows)


def _key(location: str, options: dict[str, Any]) -> tuple[str, str]:
    """sha256 of what decides the result: the root's bytes, its path, the loading code and
    Python's version, the options."""
    shaping = {
        name: options.get(name)
        for name in (
            "check_examples",
            "max_bytes",
            "allow_fetch",
            "refs_root",
            "widen_refs_root_to_cwd",
        )
    }
    if shaping["allow_fetch"] is not None:
        shaping["allow_fetch"] = sorted(str(host) for host in shaping["allow_fetch"])
    if shaping["refs_root"] is not None:
        shaping["refs_root"] = str(Path(shaping["refs_root"]).expanduser().resolve())
    header = repr((CACHE_FORMAT, _code_fingerprint(), sys.version_info[:2], location, shaping))
    root = file_sha256(location)
    digest = hashlib.sha256(header.encode())
    digest.update(root.encode())
    return digest.hexdigest(), root


def _trusted(stat: os.stat_result) -> bool:
    """What `stat` describes belongs to this user and no one else may write it (POSIX;
    elsewhere True)."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return True
    return stat.st_uid == getuid() and not stat.st_mode & 0o022


def _read_entry(entry: Path, location: str) -> tuple[ApiSpec, list[tuple[str, str]]] | None:
    """The cached spec in `entry` and the files it read, when it is whole and every one of
    them is unchanged."""
    try:
        # Opened without following a link, then judged on what was opened (no swap between
        # the check and the read).
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        handle = os.fdopen(fd, "rb")
    except FileNotFoundError:
        logger.debug("compiled cache: no entry for %s: loading it", location)
        return None
    except OSError as exc:  # a link, unreadable: a cold load instead
        logger.debug("compiled cache: %s unusable (%s): loading %s", entry, exc, location)
        return None
    try:
        with handle:
            if not (_trusted(entry.parent.stat()) and _trusted(os.fstat(handle.fileno()))):
                logger.warning(
                    "compiled cache: %s is writable by another user or not yours: not reading "
                    "it (make the folder yours and 0700, or set MOCKLOOP_CACHE_DIR)",
                    entry,
                )
                return None
            if os.fstat(handle.fileno()).st_size > MAX_ENTRY_BYTES:
                return None
            header = pickle.load(handle)
            if not isinstance(header, dict) or header.get("format") != CACHE_FORMAT:
                logger.debug("compiled cache: %s has another format: loading %s", entry, location)
                return None
            if header.get("cwd") not in (None, os.getcwd()):
                logger.debug("compiled cache: %s holds for another directory", entry)
                return None
            for path, digest in header["deps"]:
                if file_sha256(path) != digest:
                    logger.debug("compiled cache: %s changed: loading %s again", path, location)
                    return None
            collecting = gc.isenabled()
            gc.disable()  # unpickling builds millions of objects: no collection needs to run
            try:
                spec = pickle.load(handle)
            finally:
                if collecting:
                    gc.enable()
    except FileNotFoundError:
        logger.debug("compiled cache: no entry for %s: loading it", location)
        return None
    except Exception as exc:  # corrupt, truncated, unreadable: a cold load instead
        logger.debug("compiled cache: %s unusable (%s): loading %s", entry, exc, location)
        return None
    if not isinstance(spec, ApiSpec):
        logger.debug("compiled cache: %s holds no description: loading %s", entry, location)
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # last use, for the pruning
    return spec, [(str(path), str(digest)) for path, digest in header["deps"]]


def _note_reads(reads: list[tuple[str, str | None]]) -> None:
    """Tell a `record_reads` in progress which files a description from the cache read, as a
    load would have. Without the $ref module loaded no one can be recording."""
    refs = sys.modules.get("mockloop.spec.refs")
    if refs is not None:
        refs.note_reads(reads)


def _write_entry(
    folder: Path,
    entry: Path,
    deps: list[tuple[str, str | None]],
    spec: Any,
    cwd: str | None = None,
) -> None:
    """Write `entry` atomically, then keep only the newest entries; failures are logged."""
    temporary = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile(
            "wb", dir=folder, prefix=".writing-", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            header = {"format": CACHE_FORMAT, "deps": deps, "cwd": cwd}
            pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(spec, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
        temporary = None
        _prune(folder)
    except Exception as exc:  # a full disk or a read-only home: the next start is cold
        logger.debug("compiled cache: cannot write %s: %s", entry, exc)
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _prune(folder: Path) -> None:
    """Keep the `MAX_ENTRIES` most recently used entries within `MAX_TOTAL_BYTES` in all."""
    entries = []
    for path in folder.glob(f"*{_SUFFIX}"):
        with contextlib.suppress(OSError):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    entries.sort(key=lambda entry: entry[0], reverse=True)
    total = 0
    for index, (_, size, path) in enumerate(entries):
        total += size
        if index >= MAX_ENTRIES or (index and total > MAX_TOTAL_BYTES):
            with contextlib.suppress(OSError):
                path.unlink()
