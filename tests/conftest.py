"""Shared fixtures: every test gets its own MOCKLOOP_HOME; nothing leaves 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PETSTORE = ROOT / "examples" / "specs" / "petstore.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The real-world descriptions: ../shared beside the project, or MOCKLOOP_TEST_REAL_WORLD. Tests
#: that read them carry `needs_real_world` (or skip per parameter) and skip cleanly without them.
REAL_WORLD = Path(
    os.environ.get("MOCKLOOP_TEST_REAL_WORLD") or ROOT.parent / "shared" / "specs" / "real-world"
)
needs_real_world = pytest.mark.skipif(
    not REAL_WORLD.is_dir(), reason=f"the real-world descriptions are not at {REAL_WORLD}"
)

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("mockloop-home")
    monkeypatch.setenv("MOCKLOOP_HOME", str(home))
    # The compiled-description cache too (it would otherwise be ~/.cache/mockloop/compiled).
    monkeypatch.setenv("MOCKLOOP_CACHE_DIR", str(home / "compiled"))
    yield home


@pytest.fixture(autouse=True)
def _no_shared_database(monkeypatch: pytest.MonkeyPatch):
    """Tests use SQLite files unless they ask for the `database` fixture's PostgreSQL half."""
    monkeypatch.delenv("MOCKLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("MOCKLOOP_DATABASE_PREFIX", raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session (see tests/postgres.py)."""
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url


class Database:
    """Which backend a store test runs on, and where its stores live."""

    def __init__(self, backend: str, url: str | None, prefix: str) -> None:
        self.backend = backend
        self.url = url
        self.prefix = prefix

    def location(self, store: str, sqlite_path: Path):
        """The location a store named `store` gets on this backend."""
        from mockloop.store.database import Location, schema_name

        if self.url is None:
            return Location.sqlite(sqlite_path)
        return Location.postgresql(self.url, schema_name(store, self.prefix))

    def __repr__(self) -> str:
        return f"Database({self.backend})"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """Run the test once on SQLite files and once on PostgreSQL (`MOCKLOOP_DATABASE_URL` set,
    with a schema prefix of the test's own, dropped afterwards)."""
    import uuid

    if request.param == "sqlite":
        yield Database("sqlite", None, "")
        return
    url = request.getfixturevalue("postgres_url")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("MOCKLOOP_DATABASE_URL", url)
    monkeypatch.setenv("MOCKLOOP_DATABASE_PREFIX", prefix)
    yield Database("postgresql", url, prefix)
    from mockloop.audit.recorder import close_audit_stores
    from mockloop.store.connection import close_cached_connections
    from tests.postgres import drop_schemas

    close_audit_stores()
    close_cached_connections()
    drop_schemas(url, prefix + "_")
