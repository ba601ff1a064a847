"""`examples/langgraph_workflow.py` runs as a script (scripted model), no process left."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _run_example(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the example as `python examples/NAME.py` does (as __main__), in this process."""
    runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
    return capsys.readouterr().out


def test_the_workflow_mocks_analyses_deploys_loads_and_advises(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOCKLOOP_EXAMPLE_MODEL", "scripted")
    out = _run_example("langgraph_workflow.py", capsys)
    steps = re.findall(r"^  (\w+): ", out, re.MULTILINE)
    assert steps == ["setup", "analyse", "deploy", "load", "load", "security", "report", "teardown"]
    assert "error:" not in out
    assert re.search(r"deploy: 2 scenario\(s\) deployed \(load-", out)
    loads = re.findall(r"^Load run load-\w+: (\d+) requests", out, re.MULTILINE)
    assert len(loads) == 2 and all(int(n) > 0 for n in loads)
    assert re.search(r"^Security: \d+ finding\(s\)", out, re.MULTILINE)
    verdict = re.search(r"^Analysis verdict: (pass|warn|fail)$", out, re.MULTILINE)
    assert verdict and f"Verdict: {verdict.group(1).upper()}." in out  # the advisor read it
    assert "Processes left running: 0" in out
    pid = int(re.search(r"Mock pid (\d+)", out).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists()
