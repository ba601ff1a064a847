"""CrewAI writes to HOME as soon as it is imported (a key, a task-output database): every test
here gets a temporary HOME, set before the test imports CrewAI, and no telemetry or tracing."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _crewai_sandbox(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("crewai-home")
    monkeypatch.setenv("HOME", str(home))
    for name, folder in (("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config")):
        monkeypatch.setenv(name, str(Path(home) / folder))
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("CREWAI_TRACING_ENABLED", "false")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):  # no test may reach a real model
        monkeypatch.delenv(key, raising=False)
    yield home
