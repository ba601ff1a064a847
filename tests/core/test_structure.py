"""The import contracts of `make lint` (pyproject's [tool.importlinter]) hold in the suite too,
so CI refuses a change that makes an import run the wrong way or closes a circle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (it is in the dev dependency group)")
    result = subprocess.run(
        [lint_imports, "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-4000:]


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The check itself can fail: a contract the code breaks is reported as broken."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (it is in the dev dependency group)")
    config = tmp_path / "contracts.toml"
    config.write_text(
        "[tool.importlinter]\n"
        'root_packages = ["mockloop"]\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "the client never imports the mock (false: it does)"\n'
        'type = "forbidden"\n'
        'source_modules = ["mockloop.operations"]\n'
        'forbidden_modules = ["mockloop.mock"]\n'
    )
    result = subprocess.run(
        [lint_imports, "--no-cache", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "BROKEN" in result.stdout


def test_every_room_holds_at_most_fifteen_modules() -> None:
    """A room is the plain modules directly inside one folder of a package."""
    crowded = {}
    for folder in ROOT.glob("packages/*/src/**/"):
        if folder.name == "__pycache__":
            continue
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > 15:
            crowded[str(folder.relative_to(ROOT))] = len(modules)
    assert crowded == {}


def test_the_tool_map_of_the_architecture_page_is_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import tool_map
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert tool_map.updated(text) == text, "run .venv/bin/python scripts/tool_map.py"
    from mockloop.catalog import get_catalog

    for op in get_catalog():
        assert f"| `{op.name}` |" in text


def test_modules_that_moved_into_rooms_import_under_their_old_names() -> None:
    import importlib

    from mockloop.mock.webhooks import delivery

    sys.modules.pop("mockloop.mock.webhook_delivery", None)  # imported by an earlier test
    with pytest.warns(DeprecationWarning, match="moved to mockloop.mock.webhooks.delivery"):
        old = importlib.import_module("mockloop.mock.webhook_delivery")
    assert old is delivery
    assert old.verify_signature is delivery.verify_signature
    from mockloop.mock.scenarios import Scenario
    from mockloop.mock.scenarios.rules import Scenario as ScenarioAtHome

    assert Scenario is ScenarioAtHome
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mockloop.mock.no_such_module")
