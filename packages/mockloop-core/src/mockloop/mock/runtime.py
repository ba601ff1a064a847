"""The state one mock process holds: the description, its router and responder, the rules in
force, the store and the request log. The business app and the admin app share one runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mockloop.errors import ConfigError, ScenarioError, StoreError
from mockloop.fake import SchemaFaker
from mockloop.mock.auth import AuthSimulator
from mockloop.mock.config import MockConfig
from mockloop.mock.cors import CorsPolicy
from mockloop.mock.request_log.writer import RequestLogWriter
from mockloop.mock.responder import Responder
from mockloop.mock.router import Router
from mockloop.mock.scenarios.control import ScenarioControl
from mockloop.mock.scenarios.ratelimit import RateLimiter
from mockloop.mock.scenarios.rules import (
    RuleEngine,
    check_rules_against,
    parse_scenario,
)
from mockloop.mock.state.store import StateStore
from mockloop.mock.validation import RequestValidator
from mockloop.mock.webhooks.delivery import WebhookDispatcher
from mockloop.mock.webhooks.store import WebhookStore
from mockloop.redaction import Redactor
from mockloop.spec.compiled import file_sha256, load_spec_cached
from mockloop.spec.model import ApiSpec
from mockloop.spec.validation import SchemaValidator
from mockloop.store import SQLStore
from mockloop.store.database import (
    DatabaseError,
    Location,
    connect,
    database_url,
    parse_database_url,
    schema_name,
)

if TYPE_CHECKING:
    from mockloop.mock.replicas import ReplicaSync
    from mockloop.proxy.engine import ProxyEngine

__all__ = [
    "MockRuntime",
    "ServedDescription",
    "publish_served_description",
    "read_served_description",
]

logger = logging.getLogger("mockloop.mock")


def _load_description(config: MockConfig) -> ApiSpec:
    """The configured description, through the compiled cache unless it is switched off."""
    options: dict[str, Any] = {
        "max_bytes": config.max_spec_bytes,
        "allow_fetch": config.allow_fetch,
        "refs_root": config.refs_root,
        "widen_refs_root_to_cwd": True,
    }
    if not config.compile_cache:
        from mockloop.spec.loader import load_spec

        return load_spec(config.spec, **options)
    return load_spec_cached(config.spec, cache_dir=config.compile_cache_dir, **options)


class WatchStatus(Protocol):
    """What the health pages read of `--watch` (mock.watch.DescriptionWatch)."""

    version: int
    """Grows with every reload and every refused edit."""

    def status(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


def publish_served_description(runtime: MockRuntime, path: Path) -> None:
    """Write the description `runtime` serves, and the files it read, to `path` for the
    workers of `serve --workers N --watch` (`read_served_description`): replaced whole
    (a reader never sees half a file), readable by this user only."""
    import pickle

    payload = pickle.dumps(
        (runtime.spec, dict(runtime.description_files)), protocol=pickle.HIGHEST_PROTOCOL
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".served-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_served_description(
    path: Path,
) -> tuple[ApiSpec, dict[str, str], tuple[int, int, int]]:
    """The description and files `publish_served_description` wrote to `path`, and the
    stamp (inode, mtime, size) of the file read.

    Raises:
        ConfigError: the file is not this user's own, or others may write it (it is
            unpickled: only a file of the supervisor's own is trusted), or it is damaged.
        OSError: it cannot be read.
    """
    import pickle

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        owner = getattr(os, "getuid", lambda: found.st_uid)()
        if found.st_uid != owner or found.st_mode & 0o022:
            raise ConfigError(f"{path} is not this user's own file: not reading it")
        try:
            spec, files = pickle.load(handle)
        except Exception as exc:
            raise ConfigError(f"{path} is damaged: {exc}") from None
    if not isinstance(spec, ApiSpec) or not isinstance(files, dict):
        raise ConfigError(f"{path} holds no description")
    return spec, files, (found.st_ino, found.st_mtime_ns, found.st_size)


@dataclass(frozen=True, slots=True)
class ServedDescription:
    """What derives from one version of the description (see `MockRuntime._build`).

    The business app reads `runtime.served` once per request, before it routes, and answers
    from that one object: a request in flight while `--watch` reloads finishes on the version
    it was routed by, whatever it awaits meanwhile.
    """

    spec: ApiSpec
    router: Router
    schema_validator: SchemaValidator
    faker: SchemaFaker
    responder: Responder
    auth: AuthSimulator | None
    request_validator: RequestValidator | None
    state: StateStore | None


class MockRuntime(ScenarioControl):
    """Everything a running mock needs; build it, `start()` it, `stop()` it. Its scenarios and
    response overrides are managed by `ScenarioControl` (mock.scenarios.control)."""

    def __init__(self, config: MockConfig, spec: ApiSpec | None = None) -> None:
        self.config = config
        # Under `--watch`: every local file the description read, with the sha256 of its bytes
        # (mock.watch compares them to tell an edit from a save of the same content).
        self.description_files: dict[str, str] = {}
        self.watch: WatchStatus | None = None  # set by mock.watch while it watches
        self.refused_files: list[str] = []  # the files of the last version that did not load
        # A worker of `serve --workers N --watch`: the supervisor's published version, which
        # it serves instead of the files (mock.workers); see `reload_rules`.
        self.served_from: Path | None = None
        self.served_stamp: tuple[int, int, int] | None = None  # of the version served
        if spec is None:
            spec, self.description_files = self.load_description()
        self.started_at = time.time()
        self.cors = CorsPolicy(config.cors, proxied=config.proxy is not None)
        self.rate_limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.rules = RuleEngine(spec.operations, seed=config.seed)
        self.loop: asyncio.AbstractEventLoop | None = None  # the business port's, once serving
        self.generation = 0  # grows with every version of the description put in force
        self._put(self._build(spec))
        self._store_name = self._name_store()
        self._temporary_dir: tempfile.TemporaryDirectory[str] | None = None
        if config.storage:
            self.data_dir = config.resolved_data_dir(self.spec.title)
        else:
            self._temporary_dir = tempfile.TemporaryDirectory(prefix="mockloop-mock-")
            self.data_dir = Path(self._temporary_dir.name)
        self.store: SQLStore | None = None
        self.replica_sync: ReplicaSync | None = None  # None for a store no one else uses
        self._reload_lock = threading.Lock()
        # What the scenarios file held when last imported (see import_scenarios_file).
        self._file_scenarios: set[str] = set()
        self._file_active: str | None = None
        self.scenarios_digest: str | None = None  # sha256 of the bytes imported
        self._description_lock = threading.Lock()
        self.log_writer: RequestLogWriter | None = None
        self.webhooks: WebhookDispatcher | None = None  # None when webhooks are off
        self.business_url: str | None = None
        self.admin_url: str | None = None
        # Under `serve --workers N` (mock.workers): the business workers, for the admin /health.
        self.workers: Callable[[], list[dict[str, Any]]] | None = None
        self.worker: int | None = None  # this process's index when it is one of those workers
        # None for a pure mock: the business app's hot path then skips proxying entirely.
        self.proxy: ProxyEngine | None = None
        if config.proxy is not None:
            from mockloop.proxy.engine import ProxyEngine

            self.proxy = ProxyEngine(self, config.proxy)

    def load_description(self) -> tuple[ApiSpec, dict[str, str]]:
        """Load the configured description; with `watch` on, also the files it read (their
        sha256 by path, for mock.watch). SpecError/ConfigError as the loader raises them."""
        if not self.config.watch:
            return _load_description(self.config), {}
        from mockloop.spec.refs import record_reads

        with record_reads() as reads:
            try:
                spec = _load_description(self.config)
            except Exception:
                # What a refused version read or tried to: its fix may be in any of them.
                self.refused_files = sorted({path for path, digest in reads if digest is not None})
                raise
        self.refused_files = []
        return spec, {path: digest for path, digest in reads if digest}

    def _build(self, spec: ApiSpec) -> ServedDescription:
        """Everything that derives from the description, built aside (nothing is in force yet)."""
        config = self.config
        if not spec.operations:
            logger.warning(
                "%s describes no operations: the mock serves /health, /docs and the admin API "
                "and answers 404 to every other request",
                spec.source,
            )
        schema_validator = SchemaValidator(spec.document)
        faker = SchemaFaker(
            spec.document,
            seed=config.seed,
            locale=config.locale,
            max_bytes=config.max_response_bytes,
        )
        faker.warm_up()  # Faker's import and the pools off the first answer
        responder = Responder(spec, faker, schema_validator, max_bytes=config.max_response_bytes)
        state = None
        if config.stateful:
            state = StateStore(
                spec,
                seed=config.seed,
                seed_items=config.state_seed_items,
                isolation=config.state_isolation,
                responder=responder,
                max_items=config.state_max_items,
                max_bytes=config.state_max_bytes,
                max_sessions=config.state_max_sessions,
                session_idle_seconds=config.state_session_idle_seconds,
            )
        return ServedDescription(
            spec=spec,
            router=Router(spec.operations, spec.base_path),
            schema_validator=schema_validator,
            faker=faker,
            responder=responder,
            auth=AuthSimulator(spec) if config.auth else None,
            request_validator=(
                RequestValidator(schema_validator, config.validation)
                if config.validation != "off"
                else None
            ),
            state=state,
        )

    def _put(self, served: ServedDescription, files: dict[str, str] | None = None) -> None:
        """Put a built description in force: plain assignments, no await, no I/O; the
        generation moves last, once everything it stands for is in place."""
        self.served = served
        if files is not None:
            self.description_files = files
        self.spec = served.spec
        self.router = served.router
        self.schema_validator = served.schema_validator
        self.faker = served.faker
        self.responder = served.responder
        self.auth = served.auth
        self.request_validator = served.request_validator
        self.state = served.state
        self.defines_health = any(op.path.rstrip("/") == "/health" for op in served.spec.operations)
        self.rules.set_operations(served.spec.operations)
        self.generation += 1

    def adopt_description(self, spec: ApiSpec, files: dict[str, str]) -> None:
        """Serve another version of the description from now on (mock.watch's reload).

        Everything is built and started aside, then put in force on the business port's event
        loop, so a request handled there sees the old description or the new one, never a mix.
        The rules in force are resolved against the new one (an override or the active
        scenario that no longer fits is set aside with a warning, as at start). Stateful data
        starts again from the new description's seed items: its collections may have changed.
        """
        served = self._build(spec)
        previous = self.state
        if served.state is not None:
            if previous is not None:
                served.state.listeners = list(previous.listeners)
            if previous is not None and previous.shared_state is not None:
                from mockloop.mock.state.sync import SharedState

                served.state.shared_state = SharedState(self.store_location("state"))
            served.state.start()
        try:
            self._on_loop(lambda: self._put(served, files))
        except BaseException:
            if served.state is not None:
                served.state.close()
            raise
        if previous is not None:
            previous.close()
        if self.store is not None:
            with self._reload_lock:
                self._reload_rules()
        scenario = self.rules.active_scenario
        if scenario is not None and self.rules.scenario_rules is not None:
            unfit = check_rules_against(self.rules.scenario_rules, spec.operations)
            if unfit:
                logger.warning(
                    "active scenario %r after the reload of %s: %s (those rules select nothing "
                    "now)",
                    scenario,
                    spec.source,
                    "; ".join(unfit),
                )

    def description_changed(self) -> bool:
        """Whether a file the description read has other bytes now, or is gone, or the root
        (a link) leads to another file now (`--watch`)."""
        root = self.config.spec
        if (
            self.description_files
            and isinstance(root, str)
            and os.path.realpath(root) not in self.description_files
        ):
            return True
        for path, digest in self.description_files.items():
            try:
                if file_sha256(path) != digest:
                    return True
            except OSError:
                return True
        return False

    def reload_description(self) -> bool:
        """Load the description again and serve it when its files changed; False when they
        did not (a save of the same bytes).

        Raises:
            SpecError, ConfigError: the new version cannot be served; the last good one keeps
                serving.
        """
        with self._description_lock:
            if not self.description_changed():
                return False
            spec, files = self.load_description()
            if files == self.description_files:
                return False
            self.adopt_description(spec, files)
            return True

    def follow_served(self) -> bool:
        """A worker: serve the version of the description the supervisor published in
        `served_from` when it is another than the one served (False: the same). Never the
        files on disk: they may hold an edit the supervisor refused, or a newer one."""
        path = self.served_from
        if path is None:
            return False
        with self._description_lock:
            try:
                found = os.stat(path)
                if (found.st_ino, found.st_mtime_ns, found.st_size) == self.served_stamp:
                    return False
                spec, files, stamp = read_served_description(path)
            except (OSError, ConfigError) as exc:
                logger.error("cannot read the supervisor's description %s: %s", path, exc)
                return False
            self.adopt_description(spec, files)
            self.served_stamp = stamp
            return True

    def _on_loop(self, action: Callable[[], None]) -> None:
        """Run `action` on the business port's event loop (`self.loop`) and wait for it; right
        here when there is none yet or this is that loop's thread."""
        loop = self.loop
        if loop is None or loop.is_closed() or not loop.is_running():
            action()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            action()
            return

        async def run() -> None:
            action()

        asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=60)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store, load persisted scenarios and overrides, start the log writer."""
        if self.state is not None:
            if self.database_url is not None or self.config.replica_sync:
                # Every replica on the store serves the same data (see mock.state.sync).
                from mockloop.mock.state.sync import SharedState

                self.state.shared_state = SharedState(self.store_location("state"))
            self.state.start()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLStore(self.store_location("mock"))
        if self.config.scenarios_file is not None:
            self.import_scenarios_file(self.config.scenarios_file)
        follow = self.config.replica_sync
        if follow is None:
            follow = self.store.backend == "postgresql"
        # The version read before the rules: a change made meanwhile is then seen as new and
        # loaded by the sync, never counted as served without being loaded.
        version = self.store.config_version() if follow else None
        self._reload_rules()
        if follow:
            from mockloop.mock.replicas import ReplicaSync

            self.replica_sync = ReplicaSync(self)
            self.replica_sync.start(seen=version)
        if self.proxy is not None:
            self.proxy.start()
        # One secret policy for every sink of this mock: the log and the webhook payloads.
        redactor = Redactor(self.config.redact_fields)
        if self.config.log_requests:
            self.log_writer = RequestLogWriter(
                self.store,
                redactor=redactor,
                body_limit=self.config.log_body_limit,
                max_records=self.config.log_max_records,
                # Its counters outlive a kill -9, so the next start on this folder reports
                # (once, as a warning) exactly what a crash lost; see mock.request_log.
                counter_dir=self.data_dir / "request-log" if self.config.storage else None,
            )
            self.log_writer.start()
        if self.config.webhooks:
            self.webhooks = WebhookDispatcher(
                WebhookStore(self.store_location("webhooks")),
                allow_hosts=self.config.webhook_allow_hosts,
                mock_title=self.spec.title,
                redactor=redactor,
            )
            self.webhooks.start()
            if self.state is not None:
                self.state.listeners.append(self.webhooks.notify_event)

    def stop(self) -> None:
        """Flush the request log and close the store; safe to call twice."""
        if self.watch is not None:
            self.watch.stop()
        if self.replica_sync is not None:
            self.replica_sync.stop()
            self.replica_sync = None
        if self.state is not None:
            self.state.close()
        if self.webhooks is not None:
            self.webhooks.stop()
            self.webhooks.store.close()
            self.webhooks = None
        if self.log_writer is not None:
            self.log_writer.close()
            stats = self.log_writer.stats()
            if stats.get("dropped"):
                logger.warning(
                    "request log: %s record(s) dropped (%s at the queue bound, %s on store errors)",
                    stats["dropped"],
                    stats.get("dropped_on_submit", 0),
                    stats.get("dropped_on_write", 0),
                )
            self.log_writer = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._temporary_dir is not None:
            self._temporary_dir.cleanup()
            self._temporary_dir = None

    def require_store(self) -> SQLStore:
        """The open store; ConfigError while the mock is not started."""
        if self.store is None:
            raise ConfigError("the mock is not started: its store is closed")
        return self.store

    # -- where the data lives ---------------------------------------------------------------

    @property
    def database_url(self) -> str | None:
        """The shared database this mock uses (config, else MOCKLOOP_DATABASE_URL), or None.

        A mock without storage keeps everything in a temporary folder, whatever is set.
        """
        if not self.config.storage:
            return None
        url = self.config.database_url or database_url()
        if url is None:
            return None
        backend, _ = parse_database_url(url, label="database URL", files=False)
        # SQLite: each store keeps its own file, the mock's in its data folder.
        return url if backend == "postgresql" else None

    def check_store(self) -> None:
        """Open the mock's store once and close it: an unreachable database or a bad URL fails
        here, with one clear error, before any port is served.

        Raises:
            ConfigError: the database URL names an unknown backend.
            StoreError: the database cannot be reached or opened.
        """
        location = self.store_location("mock")
        if location.backend != "postgresql":
            return
        try:
            connect(location, busy_timeout=10.0).close()
        except DatabaseError as exc:
            raise StoreError(f"{location}: could not open the database: {exc}") from exc

    @property
    def store_name(self) -> str:
        """This mock's name in a shared database (replicas with the same name share it)."""
        return self._store_name

    def _name_store(self) -> str:
        """The store's name, fixed at construction: a reload that retitles the description
        must not move the data to another schema."""
        name = self.config.store_name or self.spec.title or "api"
        return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "api"

    def store_location(self, kind: str) -> Location:
        """Where one of this mock's stores lives: `kind` is "mock", "state" or "webhooks"."""
        url = self.database_url
        if url is None:
            filename = "mock.db" if kind == "mock" else f"{kind}.db"
            return Location.sqlite(self.data_dir / filename)
        return Location.postgresql(url, schema_name(f"{kind}_{self.store_name}"))

    def storage_info(self) -> dict[str, Any]:
        """Where the data lives and which replicas share it (for /health and the client)."""
        store = self.store
        info: dict[str, Any] = {"backend": store.backend if store is not None else None}
        if self.database_url is not None:
            info["store_name"] = self.store_name
        if self.replica_sync is not None:
            info["replica_id"] = self.replica_sync.replica_id
            info["config_version"] = self.replica_sync.seen
            with contextlib.suppress(StoreError, ConfigError):
                info["other_replicas"] = len(self.replica_sync.others())
        return info

    def _synced(self) -> None:
        """After a config change made here: wait until the other replicas serve it."""
        if self.replica_sync is not None:
            self.replica_sync.wait_for_replicas()

    def reload_rules(self) -> None:
        """Load the rules in force (overrides, the active scenario) and the webhook
        registrations from the stores again (another replica or worker changed them).

        A worker of `serve --workers N --watch` first puts in force the version of the
        description its supervisor published, if it changed (`follow_served`).
        """
        if self.served_from is not None:
            self.follow_served()
        with self._reload_lock:
            self._reload_rules()
            if self.webhooks is not None:
                self.webhooks.reload()

    def webhooks_changed(self) -> None:
        """After a webhook was registered or removed here: the other replicas and workers
        deliver to the same set by the time this returns."""
        self.share_change("webhook registrations changed")

    def share_change(self, what: str) -> None:
        """After a change made here that the other replicas and workers load for themselves
        (webhook registrations, a description `--watch` reloaded): they serve it by the time
        this returns."""
        if self.replica_sync is not None:
            self.require_store().bump_config_version(what)
            self._synced()

    def _reload_rules(self) -> None:
        store = self.require_store()
        overrides = {}
        for key, config in store.list_overrides().items():
            try:
                overrides[key] = self.override_rule(key, config)
            except ScenarioError as exc:
                logger.warning("stored response override %r ignored: %s", key, exc)
        self.rules.set_overrides(overrides)
        active = store.active_scenario()
        scenario = None
        if active is not None:
            stored = store.get_scenario(active)
            if stored is not None:
                try:
                    scenario = parse_scenario(stored["config"], name=active)
                except ScenarioError as exc:
                    logger.warning("stored scenario %r not activated: %s", active, exc)
        self.rules.set_scenario(scenario)

    # -- proxy ------------------------------------------------------------------------------

    def configure_proxy(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the proxy settings at run time (a pure mock becomes a proxy here)."""
        if self.proxy is None:
            from mockloop.proxy.engine import ProxyEngine
            from mockloop.proxy.settings import ProxySettings

            engine = ProxyEngine(self, ProxySettings())
            status = engine.configure(changes)
            self.proxy = engine  # only once the settings are valid
            return status
        return self.proxy.configure(changes)
