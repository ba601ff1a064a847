"""`examples/crewai_crew.py` runs as a script (scripted LLMs): three agents, one tool
error read as text, no process left behind."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from tests.conftest import ROOT

# CrewAI warns about its own deprecated internals; nothing this test can change.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai")


def _run_example(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the example as `python examples/NAME.py` does (as __main__), in this process."""
    runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")
    return capsys.readouterr().out


def test_the_three_agent_crew_runs_and_reads_its_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"  # CrewAI writes to HOME, from the moment it is imported
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("MOCKLOOP_EXAMPLE_MODEL", "scripted")
    out = _run_example("crewai_crew.py", capsys)
    url = re.search(r"Mock API at (http://127\.0\.0\.1:\d+) \(server (\w+)\)", out)
    assert url, out
    assert "Load scenarios to try: load-" in out
    load = re.search(r"Load run load-\w+: (\d+) requests at \d+ req/s, p95 [\d.]+ ms", out)
    assert load and int(load.group(1)) > 0
    assert re.search(r"Verdict (PASS|WARN|FAIL): 1 run\(s\) analysed", out)
    assert re.search(r"\d+ finding\(s\) in [1-9]\d* requests", out)
    assert "(The comparison first failed: Error: ConfigError: no stored run 'security-0000'" in out
    assert "tool failure seen by the agent: Tool 'compare_test_runs' failed" in out
    assert f"Stopped mock {url.group(2)}" in out
    assert "Processes left running: 0" in out
    pid = int(re.search(r"Stopped mock \w+ \(pid (\d+)\)", out).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists()
