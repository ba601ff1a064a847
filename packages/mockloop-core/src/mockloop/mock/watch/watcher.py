"""Reload a running mock's description and scenarios file when they change on disk.

One thread waits on `watchfiles` (inotify, FSEvents, ReadDirectoryChangesW) for changes in the
folders of the watched files: every local file the description read (its root and each file a
`$ref` reached, as the loader recorded them; a link and where it leads) and the scenarios file.
An edit is read once its files have been quiet for `SETTLE_MS`, then `check` runs:

- the description is loaded again when a file's bytes differ from what is served (a save of
  the same bytes does nothing); a version that loads is put in force at once, with no restart
  and no port closed (`MockRuntime.reload_description`): a request in flight finishes on the
  version that routed it;
- the scenarios file is imported again when its bytes changed; every scenario is checked
  before any is saved, so a file with one bad scenario changes nothing, and a scenario the
  file no longer names is removed.

A bad edit (a YAML error, a `$ref` to a missing file, a scenario naming an unknown operation)
keeps the last good version serving: the error is logged once and reported as `watch.error` by
`/health` until an edit loads. While an edit is refused, any change in the watched folders (and,
every `POLL_SECONDS`, a new entry in them) is tried again, so a fix that creates the missing
file is taken. A watched folder replaced (a checkout, a ConfigMap swap) is watched anew.
Under `serve --workers N` the supervisor watches and reloads first; the workers follow through
the shared store before the reload is counted, and a worker (re)started meanwhile gets the
supervisor's version, not the files on disk.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockloop.errors import MockLoopError
from mockloop.spec.compiled import file_sha256

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = ["DescriptionWatch"]

logger = logging.getLogger("mockloop.mock.watch")

SETTLE_MS = 150
"""An edit is read once its files have been quiet this long (an editor's truncate-then-write or
write-then-rename is one edit)."""

POLL_SECONDS = 1.0
"""How often, besides the notifications, the watch looks again: while an edit is refused (its
fix may need a file that did not exist yet), and whether a watched folder was replaced."""


def _digest(path: str) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _moment(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


class DescriptionWatch:
    """Watches a running mock's files and reloads what changed; `status()` for `/health`.

    Attributes:
        version: grows with every reload and every refused edit (the health pages rebuild
            their cached body when it moves).
        reloads: how many times a new version was put in force.
        error: why the last edit could not be served, or None.
    """

    def __init__(
        self,
        runtime: MockRuntime,
        *,
        settle_ms: int = SETTLE_MS,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.settle_ms = settle_ms
        # Run after a new version is in force here and before the replicas are told (the
        # supervisor of `--workers` publishes it for its workers).
        self.on_reload = on_reload
        self.version = 0
        self.reloads = 0
        self.last_reload: float | None = None
        self.error: str | None = None
        self.error_at: float | None = None
        scenarios = runtime.config.scenarios_file
        self._scenarios = os.path.abspath(scenarios) if scenarios is not None else None
        # While an edit is refused: the files it read or tried to, as they were then.
        self._refused: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> DescriptionWatch:
        """Watch from now on (a daemon thread); the runtime reports it in `/health`."""
        self.runtime.watch = self
        self._thread = threading.Thread(target=self._run, name="mockloop-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching; safe to call twice and from the watch's own thread."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def files(self) -> list[str]:
        """The watched files as the mock reads them: the description's (root first), the
        scenarios file and, while an edit is refused, every file that edit read or tried to."""
        found = list(self.runtime.description_files)
        root = os.path.abspath(str(self.runtime.config.spec))  # a link's own path, too
        if root not in found:
            found.insert(1, root)
        if self._scenarios is not None and self._scenarios not in found:
            found.append(self._scenarios)
        if self.error is not None:
            found.extend(path for path in self._refused if path not in found)
        return found

    def _targets(self) -> tuple[set[str], dict[str, tuple[int, int] | None]]:
        """The paths an event may name (each file as read and where a link leads) and the
        folders to watch with their identity (device, inode) now; a missing folder is None."""
        paths: set[str] = set()
        for path in self.files():
            paths.update((path, os.path.realpath(path)))
        folders: dict[str, tuple[int, int] | None] = {}
        for path in paths:
            folder = os.path.dirname(path)
            try:
                found = os.stat(folder)
                folders[folder] = (found.st_dev, found.st_ino)
            except OSError:
                folders[folder] = None
        return paths, folders

    def _refused_changed(self) -> bool:
        """Whether a file the refused edit read or tried to read differs now (its fix)."""
        return any(_digest(path) != digest for path, digest in self._refused.items())

    def _run(self) -> None:
        from watchfiles import watch

        while not self._stop.is_set():
            paths, folders = self._targets()
            present = sorted(folder for folder, seen in folders.items() if seen is not None)
            if not present:  # every folder gone (a checkout in progress): look again soon
                self._stop.wait(POLL_SECONDS)
                self.check()
                continue
            # Checked once the new watch is in place: an edit saved while it was set up
            # (after a reload, or at start) has no event of its own.
            first = True
            polled = time.monotonic()
            try:
                # Unfiltered, so a busy folder (a log written beside the description) cannot
                # hold back the polls below: each batch is sorted out here.
                for changes in watch(
                    *present,
                    watch_filter=None,
                    step=self.settle_ms,
                    rust_timeout=int(POLL_SECONDS * 1000),
                    yield_on_timeout=True,
                    recursive=False,
                    stop_event=self._stop,
                    raise_interrupt=False,
                ):
                    if self._stop.is_set():
                        return
                    touched = any(
                        path in paths or os.path.realpath(path) in paths for _, path in changes
                    )
                    due = time.monotonic() - polled >= POLL_SECONDS
                    if due:
                        polled = time.monotonic()
                    moved = due and self._targets() != (paths, folders)
                    if self.error is not None:
                        # A refused edit is tried again only once one of its files changed:
                        # loading a big description every second would burn a core.
                        retry = (touched or due) and self._refused_changed()
                        if retry or moved or first:
                            first = False
                            self.check()
                    elif touched or moved or first:
                        first = False
                        self.check()
                    if moved or self._targets() != (paths, folders):
                        break  # a folder replaced, or a $ref to another file: watch anew
            except Exception as exc:  # the OS watch limit reached, a folder unreadable
                logger.warning(
                    "--watch: cannot watch %s (%s); trying again", ", ".join(present), exc
                )
                self._stop.wait(POLL_SECONDS)

    # -- reloading --------------------------------------------------------------------------

    def check(self) -> bool:
        """Reload whatever changed on disk; True when a new version is now served.

        Never raises: a bad edit is logged and kept in `error` while the last good version
        serves.
        """
        with self._lock:
            if self._stop.is_set():
                return False
            runtime = self.runtime
            problems: list[str] = []
            reloaded = False
            try:
                reloaded = runtime.reload_description()
            except MockLoopError as exc:
                problems.append(f"the description: {exc}")
            except Exception as exc:  # never the end of the watch: reported like a bad edit
                problems.append(f"the description could not be put in force: {exc!r}")
            if reloaded:
                spec = runtime.spec
                logger.info(
                    "reloaded %s: %s %s, %d operations",
                    spec.source,
                    spec.title,
                    spec.version,
                    len(spec.operations),
                )
                try:
                    if self.on_reload is not None:
                        self.on_reload()
                    runtime.share_change("description reloaded")  # returns once all serve it
                except Exception as exc:
                    problems.append(f"the workers could not be given the reload: {exc}")
                self._count_reload()
            scenarios = self._scenarios
            if scenarios is not None and _digest(scenarios) != runtime.scenarios_digest:
                try:
                    runtime.import_scenarios_file(Path(scenarios))  # syncs the replicas itself
                except MockLoopError as exc:
                    problems.append(str(exc))
                except Exception as exc:
                    problems.append(f"scenarios file {scenarios}: {exc!r}")
                else:
                    logger.info("reloaded the scenarios file %s", scenarios)
                    self._count_reload()
                    reloaded = True
            if problems:
                error = "; ".join(problems)
                # What the refused edit read or tried to, as it was: a change is its fix.
                tried = [*runtime.refused_files, *([scenarios] if scenarios else [])]
                self._refused = {path: _digest(path) for path in tried}
                if error != self.error:  # once per refused edit, not once per retry
                    logger.error("--watch: %s; still serving the last good version", error)
                    self.error = error
                    self.error_at = time.time()
                    self.version += 1
            elif self.error is not None:
                # Served anew, or a bad edit undone to what is served: nothing is wrong now.
                self.error = None
                self.error_at = None
                self._refused = {}
                self.version += 1
            return reloaded

    def _count_reload(self) -> None:
        """Count a version put in force (under `--workers`, once every worker serves it)."""
        self.reloads += 1
        self.last_reload = time.time()
        if self.error is not None and not self.runtime.refused_files:
            self.error = None
            self.error_at = None
            self._refused = {}
        self.version += 1

    def status(self) -> dict[str, Any]:
        """What `/health` shows: the files, the reloads, the last refused edit."""
        return {
            "files": self.files(),
            "reloads": self.reloads,
            "last_reload": _moment(self.last_reload),
            "error": self.error,
            "error_at": _moment(self.error_at),
        }
