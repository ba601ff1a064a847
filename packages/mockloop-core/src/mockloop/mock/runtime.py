"""The state one mock process holds: the description, its router and responder, the rules in
force, the store and the request log. The business app and the admin app share one runtime."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mockloop.errors import ConfigError, ScenarioError
from mockloop.fake import SchemaFaker
from mockloop.mock.auth import AuthSimulator
from mockloop.mock.config import MockConfig
from mockloop.mock.request_log import Redactor, RequestLogWriter
from mockloop.mock.responder import Responder
from mockloop.mock.router import Router
from mockloop.mock.scenarios import (
    RuleEngine,
    Scenario,
    ScenarioRule,
    check_rules_against,
    parse_rule,
    parse_scenario,
)
from mockloop.mock.stateful import StateStore
from mockloop.mock.validation import RequestValidator
from mockloop.mock.webhook_delivery import WebhookDispatcher
from mockloop.mock.webhook_store import WebhookStore
from mockloop.spec import ApiSpec, load_spec
from mockloop.spec.validation import SchemaValidator
from mockloop.store import SQLiteStore

if TYPE_CHECKING:
    from mockloop.proxy.engine import ProxyEngine

__all__ = ["MockRuntime"]

logger = logging.getLogger("mockloop.mock")


class MockRuntime:
    """Everything a running mock needs; build it, `start()` it, `stop()` it."""

    def __init__(self, config: MockConfig, spec: ApiSpec | None = None) -> None:
        self.config = config
        self.spec = spec if spec is not None else load_spec(config.spec)
        self.started_at = time.time()
        self.router = Router(self.spec.operations, self.spec.base_path)
        self.schema_validator = SchemaValidator(self.spec.document)
        self.faker = SchemaFaker(self.spec.document, seed=config.seed)
        self.responder = Responder(self.spec, self.faker, self.schema_validator)
        self.rules = RuleEngine(self.spec.operations, seed=config.seed)
        self.auth = AuthSimulator(self.spec) if config.auth else None
        self.state: StateStore | None = None  # stateful mode's data; None when off
        if config.stateful:
            self.state = StateStore(
                self.spec,
                seed=config.seed,
                seed_items=config.state_seed_items,
                isolation=config.state_isolation,
                responder=self.responder,
            )
        self.request_validator = (
            RequestValidator(self.schema_validator, config.validation)
            if config.validation != "off"
            else None
        )
        self._temporary_dir: tempfile.TemporaryDirectory[str] | None = None
        if config.storage:
            self.data_dir = config.resolved_data_dir(self.spec.title)
        else:
            self._temporary_dir = tempfile.TemporaryDirectory(prefix="mockloop-mock-")
            self.data_dir = Path(self._temporary_dir.name)
        self.store: SQLiteStore | None = None
        self.log_writer: RequestLogWriter | None = None
        self.webhooks: WebhookDispatcher | None = None  # None when webhooks are off
        self.business_url: str | None = None
        self.admin_url: str | None = None
        self.defines_health = any(op.path.rstrip("/") == "/health" for op in self.spec.operations)
        self.defines_docs = any(op.path.rstrip("/") == "/docs" for op in self.spec.operations)
        # None for a pure mock: the business app's hot path then skips proxying entirely.
        self.proxy: ProxyEngine | None = None
        if config.proxy is not None:
            from mockloop.proxy.engine import ProxyEngine

            self.proxy = ProxyEngine(self, config.proxy)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store, load persisted scenarios and overrides, start the log writer."""
        if self.state is not None:
            self.state.start()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SQLiteStore(self.data_dir / "mock.db")
        if self.config.scenarios_file is not None:
            self.import_scenarios_file(self.config.scenarios_file)
        self._reload_rules()
        if self.proxy is not None:
            self.proxy.start()
        if self.config.log_requests:
            self.log_writer = RequestLogWriter(
                self.store,
                redactor=Redactor(self.config.redact_fields),
                body_limit=self.config.log_body_limit,
                max_records=self.config.log_max_records,
            )
            self.log_writer.start()
        if self.config.webhooks:
            self.webhooks = WebhookDispatcher(
                WebhookStore(self.data_dir / "webhooks.db"),
                allow_hosts=self.config.webhook_allow_hosts,
                mock_title=self.spec.title,
            )
            self.webhooks.start()
            if self.state is not None:
                self.state.listeners.append(self.webhooks.notify_event)

    def stop(self) -> None:
        """Flush the request log and close the store; safe to call twice."""
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

    def _require_store(self) -> SQLiteStore:
        if self.store is None:
            raise ConfigError("the mock is not started: its store is closed")
        return self.store

    def _reload_rules(self) -> None:
        store = self._require_store()
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

    # -- scenarios --------------------------------------------------------------------------

    def list_scenarios(self) -> list[dict[str, Any]]:
        return self._require_store().list_scenarios()

    def get_scenario(self, name: str) -> dict[str, Any]:
        stored = self._require_store().get_scenario(name)
        if stored is None:
            raise ScenarioError(self._unknown(name))
        return stored

    def save_scenario(self, data: Any, *, name: str | None = None, create: bool = False) -> dict:
        """Create or replace a scenario after validating it against this description."""
        scenario = parse_scenario(data, name=name)
        if name is not None and scenario.name != name:
            raise ScenarioError(
                f"the body names scenario {scenario.name!r} but the URL names {name!r}"
            )
        problems = check_rules_against(scenario.rules, self.spec.operations)
        if problems:
            raise ScenarioError(f"scenario {scenario.name!r}: " + "; ".join(problems))
        store = self._require_store()
        if create and store.get_scenario(scenario.name) is not None:
            raise ScenarioError(
                f"scenario {scenario.name!r} exists already; update it with PUT instead"
            )
        # The input as given (it validated): a dump would lose an explicit `"body": null`.
        saved = store.put_scenario(scenario.name, {**data, "name": scenario.name})
        if self.rules.active_scenario == scenario.name:
            self.rules.set_scenario(scenario)
        return saved

    def delete_scenario(self, name: str) -> None:
        store = self._require_store()
        if not store.delete_scenario(name):
            raise ScenarioError(self._unknown(name))
        if self.rules.active_scenario == name:
            store.set_active_scenario(None)
            self.rules.set_scenario(None)

    def activate_scenario(self, name: str) -> Scenario:
        store = self._require_store()
        stored = store.get_scenario(name)
        if stored is None:
            raise ScenarioError(self._unknown(name))
        scenario = parse_scenario(stored["config"], name=name)
        store.set_active_scenario(name)
        self.rules.set_scenario(scenario)
        if self.webhooks is not None:
            self.webhooks.notify_event("scenario.activated", {"scenario": name})
        return scenario

    def deactivate_scenario(self) -> str | None:
        previous = self.rules.active_scenario
        self._require_store().set_active_scenario(None)
        self.rules.set_scenario(None)
        if self.webhooks is not None and previous is not None:
            self.webhooks.notify_event("scenario.deactivated", {"scenario": previous})
        return previous

    def _unknown(self, name: str) -> str:
        names = [s["name"] for s in self._require_store().list_scenarios()]
        known = ", ".join(names) if names else "none yet: create one first"
        return f"unknown scenario {name!r} (known: {known})"

    def import_scenarios_file(self, path: Path) -> list[str]:
        """Load scenarios from YAML/JSON: a list, or {"scenarios": [...], "active": name}."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read scenarios file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"scenarios file {path} is not valid YAML/JSON: {exc}") from None
        active = None
        if isinstance(data, dict) and "scenarios" in data:
            active = data.get("active")
            data = data["scenarios"]
        if not isinstance(data, list):
            raise ConfigError(
                f"scenarios file {path}: expected a list of scenarios or "
                '{"scenarios": [...], "active": "name"}'
            )
        names = []
        for index, item in enumerate(data):
            try:
                names.append(self.save_scenario(item)["name"])
            except ScenarioError as exc:
                raise ConfigError(f"scenarios file {path}, scenario {index}: {exc}") from None
        if active is not None:
            if active not in names:
                raise ConfigError(f"scenarios file {path}: active scenario {active!r} is not in it")
            self._require_store().set_active_scenario(active)
        return names

    # -- response overrides -----------------------------------------------------------------

    def override_rule(self, key: str, data: Any) -> ScenarioRule:
        """A rule for `key`: an operationId, `METHOD /path/template` or `/path/template`."""
        if not isinstance(data, dict):
            raise ScenarioError("a response override must be a JSON object")
        selector: dict[str, Any] = {}
        method, _, path = key.partition(" ")
        if path and path.startswith("/"):
            selector = {"method": method, "path": path}
        elif key.startswith("/"):
            selector = {"path": key}
        else:
            selector = {"operation": key}
        rule = parse_rule({**data, **selector})
        if not any(rule.selects(op) for op in self.spec.operations):
            examples = ", ".join(op.operation_id for op in self.spec.operations[:5])
            raise ScenarioError(
                f"response override {key!r} matches no operation; use an operationId "
                f"(e.g. {examples}) or 'METHOD /path/template'"
            )
        return rule

    def set_override(self, key: str, data: Any) -> dict[str, Any]:
        self.override_rule(key, data)
        config = dict(data)
        store = self._require_store()
        store.put_override(key, config)
        self._reload_rules()
        return config

    def delete_override(self, key: str) -> None:
        if not self._require_store().delete_override(key):
            raise ScenarioError(f"no response override for {key!r}")
        self._reload_rules()

    def clear_overrides(self) -> None:
        self._require_store().clear_overrides()
        self._reload_rules()
