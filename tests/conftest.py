"""Shared fixtures: every test gets its own MOCKLOOP_HOME; nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PETSTORE = ROOT / "examples" / "specs" / "petstore.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_WORLD = ROOT.parent / "shared" / "specs" / "real-world"

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("mockloop-home")
    monkeypatch.setenv("MOCKLOOP_HOME", str(home))
    yield home
