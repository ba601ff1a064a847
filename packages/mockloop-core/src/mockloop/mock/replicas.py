"""Several mock processes on one store answer alike: each follows the others' config changes.

Two replicas of a mock pointed at one PostgreSQL database (or, on one machine, one SQLite data
folder) share the store's scenarios and overrides, but each holds the rules in force in memory,
where the hot path reads them. `ReplicaSync` closes that gap:

* Every change to scenarios or overrides bumps the store's config version in the same
  transaction (`SQLStore._config_write`), and on PostgreSQL notifies the store's channel.
* Each replica runs a thread that waits for that notification (PostgreSQL `LISTEN`; on SQLite it
  polls the version every `poll_interval` seconds), reloads its rules when the version moved,
  and records the version it now serves in the store's `replicas` table (its heartbeat).
* The replica that made a change waits (`wait_for_replicas`, at most `sync_timeout` seconds)
  until every other live replica reports that version, so when a scenario switch returns,
  every replica answers with the new scenario. A replica that does not catch up in time (it
  hangs, or died without removing itself) is named in a warning and left behind; its
  heartbeat stops and it no longer counts once `live_window` seconds have passed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from mockloop.errors import ConfigError, StoreError
from mockloop.store.database import DatabaseError, connect

if TYPE_CHECKING:
    from mockloop.store import SQLStore

__all__ = ["ReplicaHost", "ReplicaSync"]

logger = logging.getLogger("mockloop.mock")


class ReplicaHost(Protocol):
    """What `ReplicaSync` needs of the runtime that owns it. The runtime creates its replica
    sync; this module never imports the runtime back."""

    admin_url: str | None

    def require_store(self) -> SQLStore: ...

    def reload_rules(self) -> None: ...


class ReplicaSync:
    """Keep one runtime's rules in step with the other replicas of its store."""

    def __init__(
        self,
        runtime: ReplicaHost,
        *,
        poll_interval: float = 0.2,
        heartbeat_every: float = 2.0,
        live_window: float = 10.0,
        sync_timeout: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.replica_id = uuid.uuid4().hex[:12]
        self.poll_interval = poll_interval
        self.heartbeat_every = heartbeat_every
        self.live_window = live_window
        self.sync_timeout = sync_timeout
        self.seen = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Any = None  # the PostgreSQL connection that LISTENs
        self._last_beat = 0.0
        self._warned = False
        self._relisten_at = 0.0  # when to try LISTEN again after losing it (0: not pending)

    @property
    def store(self) -> SQLStore:
        return self.runtime.require_store()

    def start(self, seen: int | None = None) -> None:
        """Record this replica, open the listener (PostgreSQL) and start following.

        `seen`: the config version read before the runtime loaded its rules (default: now).
        """
        store = self.store
        self.seen = store.config_version() if seen is None else seen
        store.heartbeat(self.replica_id, self.runtime.admin_url, self.seen)
        self._last_beat = time.monotonic()
        if store.backend == "postgresql":
            self._listener = self._listen()
        self._thread = threading.Thread(target=self._run, name="mockloop-replica-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following and remove this replica from the store (the store stays open)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None
        with contextlib.suppress(StoreError, ConfigError):
            self.store.remove_replica(self.replica_id)

    # -- following ----------------------------------------------------------------------------

    def _listen(self) -> Any:
        store = self.store
        try:
            conn = connect(store.location, busy_timeout=store.busy_timeout)
            conn.execute(f'LISTEN "{store.channel}"')
        except DatabaseError as exc:
            logger.warning(
                "%s: cannot listen for config changes (%s); polling every %.1f s instead",
                store.location,
                exc,
                self.poll_interval,
            )
            return None
        return conn.raw

    def _wait(self) -> None:
        """Until a notification arrives (PostgreSQL) or `poll_interval` passes."""
        if self._listener is None:
            if self._relisten_at and time.monotonic() >= self._relisten_at:
                self._listener = self._listen()  # the database is back: listen again
                self._relisten_at = 0.0 if self._listener is not None else time.monotonic() + 5
            self._stop.wait(self.poll_interval)
            return
        try:
            for _ in self._listener.notifies(timeout=self.poll_interval, stop_after=1):
                pass
        except Exception as exc:  # the connection broke: poll, and listen again later
            logger.warning("config change listener lost (%s); polling until it is back", exc)
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None
            self._relisten_at = time.monotonic() + 5

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self._warned = False
            except (StoreError, ConfigError) as exc:
                if not self._warned:  # once per outage, not every poll
                    logger.warning("replica sync: %s", exc)
                    self._warned = True
            if self._stop.is_set():
                return
            self._wait()

    def step(self) -> bool:
        """Reload the rules if another process changed the config; True when it did."""
        store = self.store
        version = store.config_version()
        changed = version != self.seen
        if changed:
            self.runtime.reload_rules()
            self.seen = version
        now = time.monotonic()
        if changed or now - self._last_beat >= self.heartbeat_every:
            store.heartbeat(self.replica_id, self.runtime.admin_url, self.seen)
            self._last_beat = now
        return changed

    # -- after a change made here -------------------------------------------------------------

    def others(self) -> list[dict[str, Any]]:
        """The other live replicas of this store and the config version each serves."""
        return [
            r
            for r in self.store.replicas(max_age=self.live_window)
            if r["replica_id"] != self.replica_id
        ]

    def wait_for_replicas(self) -> list[str]:
        """After a change made through this replica: wait until every other live replica
        serves it; the ids of those that did not within `sync_timeout` (empty: all did)."""
        store = self.store
        version = store.config_version()
        self.seen = max(self.seen, version)
        store.heartbeat(self.replica_id, self.runtime.admin_url, self.seen)
        deadline = time.monotonic() + self.sync_timeout
        pause = 0.005
        while True:
            behind = [r for r in self.others() if r["seen_version"] < version]
            if not behind:
                return []
            if time.monotonic() >= deadline:
                names = [f"{r['replica_id']} ({r['url'] or 'no admin URL'})" for r in behind]
                logger.warning(
                    "config version %s: replica(s) %s did not catch up within %.1f s",
                    version,
                    ", ".join(names),
                    self.sync_timeout,
                )
                return [r["replica_id"] for r in behind]
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
