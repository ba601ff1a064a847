"""The request-log writer's counters in a memory-mapped file, so a crash can be measured.

A mock answers a request, hands its record to the writer, and the writer stores it a fraction of
a second later. A process killed in between (`kill -9`, the OOM killer, a segfault) loses the
records still in memory. To say exactly how many, each writer keeps three counters in a small
file of its own in the mock's data folder, mapped into memory:

* `accepted`: records accepted into the writer's queue, which is also the highest sequence
  number handed out (the hot path stores it with one 8-byte write into the mapping);
* `rejected`: records dropped on submit (queue full, writer closed);
* `settled`: the highest sequence number the writer thread has stored or counted as dropped.

A write into a shared mapping lands in the kernel's page cache the moment it is made, so it
outlives the process however that process dies. It does not outlive the machine: the mapping
is never synced to disk (a sync per request would cost a disk write each), so after a power loss
or a kernel crash the counters may be behind what the store holds, and the loss is reported as
unknown rather than guessed.

Who is alive: the owning process holds an exclusive `flock` on its file (through a descriptor of
its own, not the mapping's) for as long as the writer runs; the kernel drops it when the process
dies. A file whose lock can be taken belongs to a writer that is gone, and the next writer built
on the folder reconciles it with the store (`Recovery.run`) and carries on with its identity, so
sequence numbers continue across restarts. Several processes on one folder
(replicas, or a test that starts two mocks) each hold their own file.

The file is 32 bytes: the magic `MLLOGSQ1`, then the three counters as native 64-bit unsigned
integers (the file never leaves the machine that wrote it).
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockloop.errors import MockLoopError
from mockloop.store.sql import SQLStore, WriterProgress

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, counters stay in memory
    fcntl = None  # type: ignore[assignment]

__all__ = ["ACCEPTED", "REJECTED", "SETTLED", "Recovery", "WriterCounters"]

logger = logging.getLogger("mockloop.request_log")

_MAGIC = b"MLLOGSQ1"
ACCEPTED, REJECTED, SETTLED = 1, 2, 3  # slot indexes; slot 0 is the magic
_SLOTS = 4
_SIZE = 8 * _SLOTS
_SUFFIX = ".counters"
_ID = re.compile(r"^[0-9a-f]{16}$")


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _in_memory() -> memoryview:
    view = memoryview(bytearray(_SIZE)).cast("Q")
    view[0] = int.from_bytes(_MAGIC, "little")
    return view


class WriterCounters:
    """One writer's identity and counters: in a locked, memory-mapped file, or only in memory.

    `slots` is a memoryview of 64-bit unsigned integers; `slots[ACCEPTED] = n` is the hot path's
    whole cost. Build one with `create`, `claim_orphans` or `in_memory`.

    Args:
        writer_id: 16 hex characters; names the file and the writer's rows in the store.
        slots: the counters.
        path: the file, or None for counters kept only in memory.
        lock_fd: the descriptor holding the file's `flock`, or None.
        mapping: the shared mapping behind `slots`, or None.
    """

    def __init__(
        self,
        writer_id: str,
        slots: memoryview,
        *,
        path: Path | None = None,
        lock_fd: int | None = None,
        mapping: mmap.mmap | None = None,
    ) -> None:
        self.writer_id = writer_id
        self.slots = slots
        self.path = path
        self._lock_fd = lock_fd
        self._mapping = mapping

    @property
    def durable(self) -> bool:
        """True when the counters are in a file that outlives this process."""
        return self._mapping is not None

    @property
    def accepted(self) -> int:
        """Records accepted into the queue: the highest sequence number handed out."""
        return int(self.slots[ACCEPTED])

    @property
    def rejected(self) -> int:
        """Records dropped on submit."""
        return int(self.slots[REJECTED])

    @property
    def settled(self) -> int:
        """The highest sequence number stored or counted as dropped by the writer thread."""
        return int(self.slots[SETTLED])

    @classmethod
    def in_memory(cls, writer_id: str | None = None) -> WriterCounters:
        """Counters that die with the process (no data folder, or no `flock` on this system)."""
        return cls(writer_id or _new_id(), _in_memory())

    @classmethod
    def create(cls, folder: Path) -> WriterCounters:
        """A new writer's file in `folder`, locked by this process, every counter at zero.

        Raises:
            OSError: the folder cannot be created or written, or does not support `mmap`.
        """
        if fcntl is None:  # pragma: no cover - Windows
            return cls.in_memory()
        folder.mkdir(parents=True, exist_ok=True)
        writer_id = _new_id()
        path = folder / f"{writer_id}{_SUFFIX}"
        scratch = folder / f"{writer_id}.new"
        fd = os.open(scratch, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, _MAGIC + bytes(_SIZE - len(_MAGIC)))
            # Renamed only once complete and locked: a scan never meets a half-written file.
            os.replace(scratch, path)
            return cls._mapped(writer_id, path, fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                scratch.unlink()
            raise

    @classmethod
    def _mapped(cls, writer_id: str, path: Path, lock_fd: int) -> WriterCounters:
        # The mapping gets a descriptor (an open file description) of its own: the lock lives
        # on `lock_fd`, so closing that releases it even while the mapping is still referenced.
        map_fd = os.open(path, os.O_RDWR)
        try:
            mapping = mmap.mmap(map_fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(map_fd)
        return cls(
            writer_id, memoryview(mapping).cast("Q"), path=path, lock_fd=lock_fd, mapping=mapping
        )

    @classmethod
    def claim_orphans(cls, folder: Path) -> list[WriterCounters]:
        """The files in `folder` whose writer process is gone, each now locked by this process.

        A file that is not a counters file (wrong size or magic) is logged and left alone.
        """
        if fcntl is None or not folder.is_dir():  # pragma: no cover - Windows
            return []
        claimed: list[WriterCounters] = []
        for path in sorted(folder.iterdir()):
            writer_id = path.name.removesuffix(_SUFFIX)
            if path.name.endswith(".new") and _ID.match(path.stem):
                cls._remove_if_orphaned(path)
                continue
            if not path.name.endswith(_SUFFIX) or not _ID.match(writer_id):
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue  # removed by another process meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Another process may have claimed, settled and removed it between our scan and
                # our lock: only a file still linked under its name is ours to read.
                if os.fstat(fd).st_ino != os.stat(path).st_ino:
                    raise FileNotFoundError(path)
                if os.fstat(fd).st_size != _SIZE or os.pread(fd, 8, 0) != _MAGIC:
                    logger.warning("request log: %s is not a counters file; it is left alone", path)
                    raise ValueError(path)
                claimed.append(cls._mapped(writer_id, path, fd))
            except (OSError, ValueError):
                os.close(fd)
        return claimed

    @staticmethod
    def _remove_if_orphaned(path: Path) -> None:
        assert fcntl is not None
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
        except OSError:
            pass
        finally:
            os.close(fd)

    def detach(self) -> None:
        """Keep counting in memory only and release the file (its lock) to the next writer.

        Idempotent. The file keeps the last values written; a late write from another thread
        lands in memory, never in a file another process may have claimed by then.
        """
        if self._mapping is None:
            return
        old, mapping = self.slots, self._mapping
        copy = _in_memory()
        copy[:] = old
        self.slots = copy
        self._mapping = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        with contextlib.suppress(BufferError, ValueError):
            old.release()
            mapping.close()

    def remove(self) -> None:
        """Delete the file (its counters are settled in the store), then `detach`."""
        if self.path is not None and self._mapping is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.detach()

    def __repr__(self) -> str:
        where = self.path if self._mapping is not None else "memory"
        return (
            f"WriterCounters({self.writer_id} in {where}: accepted={self.accepted}, "
            f"rejected={self.rejected}, settled={self.settled})"
        )


@dataclass
class Recovery:
    """What a starting writer found on its folder: the counters it carries on with, its
    progress in the store, and what the writers that died there lost.

    Args:
        counters: the identity and counters the new writer goes on with.
        progress: the store's record of that identity (all zero for a new one).
        lost: answered records the dead writers had not stored.
        lost_ranges: one `{"writer_id", "first_seq", "last_seq", "lost"}` per dead writer
            that lost any.
        unmeasured: dead writers whose counters were behind the store, so that what they
            lost cannot be told.
    """

    counters: WriterCounters
    progress: WriterProgress
    lost: int = 0
    lost_ranges: list[dict[str, Any]] = field(default_factory=list)
    unmeasured: list[str] = field(default_factory=list)

    @classmethod
    def run(cls, folder: Path, store: SQLStore) -> Recovery:
        """Settle the counters of writers that died on `folder`; adopt one, or start afresh.

        Every problem is logged, none raised: the mock serves either way, with counters that
        stay in memory at worst.
        """
        found: list[tuple[WriterCounters, WriterProgress]] = []
        lost = 0
        ranges: list[dict[str, Any]] = []
        unmeasured: list[str] = []
        try:
            orphans = WriterCounters.claim_orphans(folder)
        except OSError as exc:
            logger.warning("request log: cannot read the writer counters in %s: %s", folder, exc)
            orphans = []
        for orphan in orphans:
            try:
                progress, gap = _reconcile(orphan, store)
            except MockLoopError as exc:
                logger.warning(
                    "request log: could not check what writer %s lost (%s); the next start "
                    "checks again",
                    orphan.writer_id,
                    exc,
                )
                orphan.detach()
                continue
            if gap is None:
                unmeasured.append(orphan.writer_id)
            elif gap["lost"]:
                lost += gap["lost"]
                ranges.append(gap)
            if found:
                orphan.remove()  # settled in the store; one identity to carry on is enough
            else:
                found.append((orphan, progress))
        if found:
            counters, progress = found[0]
        else:
            progress = WriterProgress("", 0)
            try:
                counters = WriterCounters.create(folder)
            except OSError as exc:
                logger.warning(
                    "request log: cannot keep the writer counters in %s (%s); a crash's loss "
                    "will not be measured",
                    folder,
                    exc,
                )
                counters = WriterCounters.in_memory()
        return cls(counters, progress, lost, ranges, unmeasured)


def _reconcile(
    orphan: WriterCounters, store: SQLStore
) -> tuple[WriterProgress, dict[str, Any] | None]:
    """Compare a dead writer's counters with the store; record and report the difference.

    Records numbered up to the store's `last_seq` are stored or counted dropped (the same
    transaction as the rows says so). Up to the counters' `settled`, the writer thread had
    dealt with them: those the store does not cover failed. Above that, up to `accepted`, they
    were still in memory when the process died: lost. Returns the settled progress and the
    lost range (`lost` 0 when nothing was), or None when the loss cannot be measured.

    Raises:
        StoreError: the store could not be read or written.
    """
    writer_id = orphan.writer_id
    stored = store.log_writer(writer_id) or WriterProgress(writer_id, 0)
    accepted, settled = orphan.accepted, min(orphan.settled, orphan.accepted)
    rejected = max(stored.rejected, orphan.rejected)
    if accepted < stored.last_seq:
        progress = WriterProgress(writer_id, stored.last_seq, stored.dropped, rejected, stored.lost)
        store.save_log_writer(progress)
        orphan.slots[ACCEPTED] = orphan.slots[SETTLED] = stored.last_seq
        logger.warning(
            "request log: the counters of writer %s are behind the log (%d < %d): the machine "
            "may have lost power, or the data folder was restored from a copy; what its last "
            "run lost cannot be measured",
            writer_id,
            accepted,
            stored.last_seq,
        )
        return progress, None
    high = max(settled, stored.last_seq)
    lost = accepted - high
    failed = high - stored.last_seq
    progress = WriterProgress(
        writer_id, accepted, stored.dropped + failed, rejected, stored.lost + lost
    )
    # The store first: killed before the counters are updated, the next start finds the store
    # caught up and nothing more to report.
    store.save_log_writer(progress, gap=(high + 1, accepted) if lost else None)
    orphan.slots[SETTLED] = accepted
    orphan.slots[REJECTED] = rejected
    if lost:
        logger.warning(
            "request log: the previous run (writer %s) ended without a clean stop: %d answered "
            "request(s) never reached the log (sequence numbers %d-%d)%s",
            writer_id,
            lost,
            high + 1,
            accepted,
            f"; {failed} more were dropped on store errors" if failed else "",
        )
    elif failed:
        logger.warning(
            "request log: the previous run (writer %s) dropped %d record(s) on store errors",
            writer_id,
            failed,
        )
    gap = {"writer_id": writer_id, "first_seq": high + 1, "last_seq": accepted, "lost": lost}
    return progress, gap
