"""Scenarios and response overrides of a running mock: stored, checked against the
description, put in force.

`ScenarioControl` is mixed into `mockloop.mock.runtime.MockRuntime`, which holds what it works
on (the description, the rule engine, the store, the replica sync); the admin API and the
scenarios file reach these methods through the runtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockloop.errors import ConfigError, ScenarioError
from mockloop.mock.scenarios.matching import when_problems
from mockloop.mock.scenarios.rules import (
    RuleEngine,
    Scenario,
    ScenarioRule,
    check_rules_against,
    parse_rule,
    parse_scenario,
)

if TYPE_CHECKING:
    from mockloop.mock.config import MockConfig
    from mockloop.spec.model import ApiSpec
    from mockloop.store import SQLStore

__all__ = ["ScenarioControl"]


class ScenarioControl:
    """The scenario and override operations of a mock runtime (a mixin: see the module)."""

    if TYPE_CHECKING:  # provided by MockRuntime
        config: MockConfig
        spec: ApiSpec
        rules: RuleEngine
        webhooks: Any
        _reload_lock: threading.Lock
        _file_scenarios: set[str]
        _file_active: str | None
        scenarios_digest: str | None

        def require_store(self) -> SQLStore: ...
        def reload_rules(self) -> None: ...
        def _reload_rules(self) -> None: ...
        def _synced(self) -> None: ...

    def list_scenarios(self) -> list[dict[str, Any]]:
        return self.require_store().list_scenarios()

    def get_scenario(self, name: str) -> dict[str, Any]:
        stored = self.require_store().get_scenario(name)
        if stored is None:
            raise ScenarioError(self._unknown(name))
        return stored

    def save_scenario(
        self, data: Any, *, name: str | None = None, create: bool = False, sync: bool = True
    ) -> dict:
        """Create or replace a scenario after validating it against this description.

        `sync`: return once the other replicas serve it (False: the caller syncs once for a
        batch)."""
        scenario = parse_scenario(data, name=name)
        if name is not None and scenario.name != name:
            raise ScenarioError(
                f"the body names scenario {scenario.name!r} but the URL names {name!r}"
            )
        problems = self._rule_problems(scenario)
        if problems:
            raise ScenarioError(f"scenario {scenario.name!r}: " + "; ".join(problems))
        store = self.require_store()
        if create and store.get_scenario(scenario.name) is not None:
            raise ScenarioError(
                f"scenario {scenario.name!r} exists already; update it with PUT instead"
            )
        # The input as given (it validated): a dump would lose an explicit `"body": null`.
        saved = store.put_scenario(scenario.name, {**data, "name": scenario.name})
        if self.rules.active_scenario == scenario.name:
            self.rules.set_scenario(scenario)
        if sync:
            self._synced()
        return saved

    def _rule_problems(self, scenario: Scenario) -> list[str]:
        """What refuses `scenario` on this description (see `check_rules_against`)."""
        return check_rules_against(
            scenario.rules,
            self.spec.operations,
            self.spec.document,
            validated=self.config.validation == "enforce",
        )

    def delete_scenario(self, name: str, *, sync: bool = True) -> None:
        store = self.require_store()
        if not store.delete_scenario(name):
            raise ScenarioError(self._unknown(name))
        if self.rules.active_scenario == name:
            store.set_active_scenario(None)
            self.rules.set_scenario(None)
        if sync:
            self._synced()

    def activate_scenario(self, name: str) -> Scenario:
        store = self.require_store()
        stored = store.get_scenario(name)
        if stored is None:
            raise ScenarioError(self._unknown(name))
        scenario = parse_scenario(stored["config"], name=name)
        store.set_active_scenario(name)
        self.rules.set_scenario(scenario)
        self._synced()
        if self.webhooks is not None:
            self.webhooks.notify_event("scenario.activated", {"scenario": name})
        return scenario

    def deactivate_scenario(self) -> str | None:
        previous = self.rules.active_scenario
        self.require_store().set_active_scenario(None)
        self.rules.set_scenario(None)
        self._synced()
        if self.webhooks is not None and previous is not None:
            self.webhooks.notify_event("scenario.deactivated", {"scenario": previous})
        return previous

    def _unknown(self, name: str) -> str:
        names = [s["name"] for s in self.require_store().list_scenarios()]
        known = ", ".join(names) if names else "none yet: create one first"
        return f"unknown scenario {name!r} (known: {known})"

    def import_scenarios_file(self, path: Path) -> list[str]:
        """Load scenarios from YAML/JSON: a list, or {"scenarios": [...], "active": name}.

        Imported again (`--watch`), the file is the truth for its scenarios: one it named
        before and names no more is removed, and its `active` is applied when its value
        changes (an admin switch in between stands until then; a file that drops `active`
        deactivates the scenario it had activated).
        """
        import yaml  # here only: a mock without a scenarios file never needs it

        try:
            raw = Path(path).read_bytes()
            data = yaml.safe_load(raw.decode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read scenarios file {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"scenarios file {path} is not UTF-8 text: {exc}") from None
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
        # Every scenario is checked before any is saved: a file with one bad scenario (an edit
        # `--watch` picked up) changes nothing.
        names = []
        for index, item in enumerate(data):
            try:
                scenario = parse_scenario(item)
                problems = self._rule_problems(scenario)
                if problems:
                    raise ScenarioError("; ".join(problems))
            except ScenarioError as exc:
                raise ConfigError(f"scenarios file {path}, scenario {index}: {exc}") from None
            names.append(scenario.name)
        if active is not None and active not in names:
            raise ConfigError(f"scenarios file {path}: active scenario {active!r} is not in it")
        # Only what changed is written, and the replicas are waited for once, at the end.
        store = self.require_store()
        changed = False
        for item, name in zip(data, names, strict=True):
            stored = store.get_scenario(name)
            if stored is None or stored["config"] != {**item, "name": name}:
                self.save_scenario(item, sync=False)
                changed = True
        for gone in sorted(self._file_scenarios - set(names)):
            with contextlib.suppress(ScenarioError):  # removed through the admin API already
                self.delete_scenario(gone, sync=False)
                changed = True
        if active != self._file_active:
            if active is not None:
                store.set_active_scenario(active)
                with self._reload_lock:
                    self._reload_rules()
                changed = True
            elif self.rules.active_scenario == self._file_active:
                store.set_active_scenario(None)
                self.rules.set_scenario(None)
                changed = True
        if changed:
            self._synced()
        self._file_scenarios = set(names)
        self._file_active = active
        self.scenarios_digest = hashlib.sha256(raw).hexdigest()
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
                if examples
                else f"response override {key!r} matches no operation: the description "
                "has none (add paths to it)"
            )
        # Refused only when validation enforces the description: otherwise a `when` no valid
        # request meets still answers the invalid ones it describes (check_rules_against).
        if rule.when is not None and self.config.validation == "enforce":
            selected = [op for op in self.spec.operations if rule.selects(op)]
            errors = [
                f"when.{location}: {message}"
                for location, message, severity in when_problems(
                    rule.when, selected, self.spec.document
                )
                if severity == "error"
            ]
            if errors:
                raise ScenarioError(f"response override {key!r}: " + "; ".join(errors))
        return rule

    def set_override(self, key: str, data: Any) -> dict[str, Any]:
        self.override_rule(key, data)
        config = dict(data)
        store = self.require_store()
        store.put_override(key, config)
        self.reload_rules()
        self._synced()
        return config

    def delete_override(self, key: str) -> None:
        if not self.require_store().delete_override(key):
            raise ScenarioError(f"no response override for {key!r}")
        self.reload_rules()
        self._synced()

    def clear_overrides(self) -> None:
        self.require_store().clear_overrides()
        self.reload_rules()
        self._synced()
