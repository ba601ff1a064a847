"""The proxy side of one running mock: mode and routing, the forwarder, recording and replay.

The business app asks `decide` per request (one reference read of an immutable routing
table), `forward`s to the live API when the answer is proxy, and the admin API changes the
settings with `configure`, which builds the new state first and swaps it in whole: a request
in flight finishes under the old settings, the next one follows the new ones, nothing restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from mockloop.errors import ConfigError, ScenarioError
from mockloop.proxy.auth import UpstreamAuth
from mockloop.proxy.forwarder import UpstreamForwarder, UpstreamOutcome
from mockloop.proxy.recording import ExchangeRecorder, ReplayIndex
from mockloop.proxy.routing import RouteDecision, RoutingTable
from mockloop.proxy.settings import ProxySettings, parse_auth, parse_proxy_settings, parse_rules
from mockloop.redaction import Redactor

if TYPE_CHECKING:
    from mockloop.spec import ApiSpec


class _SecretPolicy(Protocol):
    redact_fields: list[str]


class _RulesInForce(Protocol):
    @property
    def active_scenario(self) -> str | None: ...


class ScenarioHost(Protocol):
    """What `ProxyEngine` needs of the runtime that owns it: its secret policy and description,
    the scenario in force, and its scenarios (recordings are kept as scenarios). The runtime
    creates its engine; nothing in `mockloop.proxy` imports the mock back."""

    @property
    def config(self) -> _SecretPolicy: ...

    @property
    def spec(self) -> ApiSpec: ...

    @property
    def rules(self) -> _RulesInForce: ...

    def list_scenarios(self) -> list[dict[str, Any]]: ...

    def get_scenario(self, name: str) -> dict[str, Any]: ...

    def save_scenario(
        self, data: Any, *, name: str | None = None, create: bool = False
    ) -> dict[str, Any]: ...

    def activate_scenario(self, name: str) -> object: ...

    def deactivate_scenario(self) -> str | None: ...


__all__ = ["MODE_HEADER", "ProxyEngine", "ScenarioHost"]

MODE_HEADER = b"x-mockloop-mode"
_ANSWER_MODES = ("mock", "proxy", "fallback", "replay")


class ProxyEngine:
    """Routing, forwarding, recording and replay for one runtime.

    Args:
        runtime: the mock runtime (its store keeps recordings as scenarios).
        settings: the starting settings.
    """

    def __init__(self, runtime: ScenarioHost, settings: ProxySettings) -> None:
        self.runtime = runtime
        self.redactor = Redactor(runtime.config.redact_fields)
        self._lock = threading.Lock()
        self.settings = settings.check()
        self.auth = UpstreamAuth(settings.auth) if settings.auth is not None else None
        self.forwarder = UpstreamForwarder(settings, self.auth)
        self.table = self._table(settings)
        self.recorder: ExchangeRecorder | None = None
        self.replay: ReplayIndex | None = None
        self.answered: dict[str, int] = dict.fromkeys(_ANSWER_MODES, 0)
        self.upstream_failures = 0
        self.mode_changes = 0

    def _table(self, settings: ProxySettings) -> RoutingTable:
        return RoutingTable.build(
            settings.mode,
            settings.default_mode,
            settings.routing_rules,
            self.runtime.spec.base_path,
        )

    def start(self) -> None:
        """Load replay mode's recording when the settings start in replay mode."""
        if self.settings.mode == "replay":
            self._load_replay(self.settings.replay_scenario)

    # -- per request ------------------------------------------------------------------------

    def decide(
        self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], query: str
    ) -> RouteDecision:
        """Which side answers this request."""
        table = self.table
        if self.settings.allow_mode_header:
            for name, value in headers:
                if name == MODE_HEADER:
                    wanted = value.decode("latin-1").strip().lower()
                    if wanted == "mock" or (wanted == "proxy" and self.settings.target_url):
                        return RouteDecision(wanted, None, "X-MockLoop-Mode header")
        return table.decide(method, path, headers, query)

    async def forward(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> UpstreamOutcome:
        outcome = await self.forwarder.forward(method, raw_path, query, headers, body)
        if outcome.error is not None:
            self.upstream_failures += 1
        return outcome

    def should_fall_back(self, outcome: UpstreamOutcome) -> bool:
        """Whether the mock answers instead: fallback on, and the upstream failed."""
        if not self.settings.fallback_to_mock:
            return False
        return not outcome.answered or outcome.status in self.settings.fallback_statuses

    def count(self, mode: str) -> None:
        self.answered[mode] = self.answered.get(mode, 0) + 1

    def scrub(self, data: bytes) -> bytes:
        return self.auth.scrub_bytes(data) if self.auth is not None else data

    def scrub_text(self, text: str) -> str:
        return self.auth.scrub(text) if self.auth is not None else text

    # -- run-time changes -------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update (mode, routing_rules, target_url, auth, resilience...).

        Validates everything before changing anything; ConfigError naming the bad field.
        """
        if not isinstance(changes, dict):
            raise ConfigError("proxy settings must be an object, e.g. {'mode': 'proxy'}")
        data = dict(changes)
        if "auth_config" in data:
            data["auth"] = data.pop("auth_config")
        if "rules" in data:
            data["routing_rules"] = data.pop("rules")
        with self._lock:
            current = self.settings.model_dump()
            if "auth" in data:
                auth = parse_auth(data.pop("auth"))
                current["auth"] = auth.model_dump() if auth is not None else None
            if "routing_rules" in data:
                current["routing_rules"] = [
                    r.model_dump() for r in parse_rules(data.pop("routing_rules"))
                ]
            current.update(data)
            settings = parse_proxy_settings(current)
            if settings.mode == "replay":
                self._load_replay(settings.replay_scenario)
                settings = settings.model_copy(
                    update={"replay_scenario": self.replay.scenario_name if self.replay else None}
                )
            elif self.settings.mode == "replay":
                self._leave_replay()
            if settings.auth != self.settings.auth:
                self.auth = UpstreamAuth(settings.auth) if settings.auth is not None else None
            if settings.mode != self.settings.mode:
                self.mode_changes += 1
            self.forwarder.configure(settings, self.auth)
            self.settings = settings
            self.table = self._table(settings)
        return self.status()

    def _load_replay(self, name: str | None) -> None:
        name = name or (self.recorder.scenario_name if self.recorder else None)
        if not name:
            raise ConfigError(
                "replay mode needs replay_scenario: the name of a recorded scenario "
                "(stop_recording returns it)"
            )
        stored = self.runtime.get_scenario(name)  # ScenarioError when unknown
        recording = (stored["config"].get("metadata") or {}).get("recording") or {}
        exchanges = recording.get("exchanges")
        if not isinstance(exchanges, list):
            raise ScenarioError(
                f"scenario {name!r} holds no recording (metadata.recording.exchanges); "
                "record one with start_recording/stop_recording"
            )
        self.replay = ReplayIndex(name, exchanges)
        self.runtime.activate_scenario(name)

    def _leave_replay(self) -> None:
        replay = self.replay
        self.replay = None
        if replay is not None and self.runtime.rules.active_scenario == replay.scenario_name:
            self.runtime.deactivate_scenario()

    # -- recording --------------------------------------------------------------------------

    def start_recording(self, scenario_name: str) -> dict[str, Any]:
        if not scenario_name or not scenario_name.strip():
            raise ConfigError("start_recording needs scenario_name (the scenario to record into)")
        if self.recorder is not None:
            raise ConfigError(
                f"a recording into {self.recorder.scenario_name!r} is running: stop it first"
            )
        self.recorder = ExchangeRecorder(
            scenario_name=scenario_name.strip(),
            target_url=self.settings.target_url or "",
            scrub=self.scrub,
            redactor=self.redactor,
        )
        return self.status()

    def stop_recording(self, *, replay: bool = False) -> dict[str, Any]:
        """Save the recording as a scenario; with `replay`, switch to replay mode on it."""
        recorder = self.recorder
        if recorder is None:
            raise ConfigError("no recording is running: start one with start_recording")
        scenario = recorder.to_scenario()
        name = scenario["name"]
        existing = {s["name"] for s in self.runtime.list_scenarios()}
        self.runtime.save_scenario(scenario, create=name not in existing)
        self.recorder = None
        if replay:
            self.configure({"mode": "replay", "replay_scenario": name})
        exchanges = scenario["metadata"]["recording"]["exchanges"]
        return {
            "scenario": name,
            "exchanges": len(exchanges),
            "operations": sorted({e["operation_id"] for e in exchanges if e["operation_id"]}),
            "rules": len(scenario["rules"]),
            "dropped": recorder.dropped,
            "status": self.status(),
        }

    # -- reporting --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Everything about the proxy, as JSON without a secret."""
        settings = self.settings
        data = settings.public()
        data["routing"] = [
            {**c.rule.model_dump(mode="json"), "index": c.index} for c in self.table.rules
        ]
        data["auth"] = self.auth.status() if self.auth is not None else None
        data["circuit"] = self.forwarder.status()
        data["answered"] = dict(self.answered)
        data["upstream_failures"] = self.upstream_failures
        data["mode_changes"] = self.mode_changes
        recorder = self.recorder
        data["recording"] = (
            {
                "active": True,
                "scenario": recorder.scenario_name,
                "exchanges": recorder.count(),
                "started_at": recorder.started_at,
            }
            if recorder is not None
            else {"active": False}
        )
        data["replay"] = self.replay.status() if self.replay is not None else None
        return data

    async def aclose(self) -> None:
        await self.forwarder.aclose()
