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
