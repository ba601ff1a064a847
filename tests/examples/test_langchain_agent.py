"""`examples/langchain_agent.py` runs as a script (scripted model) and leaves no process."""

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


def test_the_agent_works_through_the_testing_workflow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOCKLOOP_EXAMPLE_MODEL", "scripted")
    out = _run_example("langchain_agent.py", capsys)
    part1, part2 = out.split("== Part 2")
    assert "Model: scripted" in part1
    called = re.findall(r"^- (\w+)\(", part1, re.MULTILINE)
    assert called == [
        "generate_mock_api",
        "create_test_session_context",
        "analyze_openapi_for_testing",
        "analyze_openapi_for_testing",
        "generate_scenario_config",
        "deploy_scenario",
        "execute_test_plan",
        "analyze_test_results",
        "stop_mock_server",
    ]
    statuses = re.findall(r"^    (success|error): ", part1, re.MULTILINE)
    assert statuses.count("error") == 1 and len(statuses) == len(called)
    assert "error: ConfigError: invalid arguments for analyze_openapi_for_testing" in out
    assert "'standard' or 'comprehensive'" in out  # the model is told the allowed values
    plan = re.search(r"(\d+) steps, (\d+) passed, 0 failed", part1)
    assert plan and plan.group(1) == plan.group(2) and int(plan.group(1)) > 0
    assert "Agent: Done. 1 run(s) analysed: verdict PASS" in part1

    # Part 2: the user's own workflow tools, each several MockLoop calls.
    assert re.findall(r"^- (\w+)\(", part2, re.MULTILINE) == [
        "mock_and_analyse",
        "run_testing_workflow",
        "stop_mock_server",
    ]
    assert "error:" not in part2
    plans = re.findall(r"^      ([\w-]+): test plan .*: passed; (\d+) steps", part2, re.MULTILINE)
    plans += re.findall(r"success: ([\w-]+): test plan .*: passed; (\d+) steps", part2)
    assert len(plans) >= 2  # several generated scenarios, each deployed and its plan run
    total = sum(int(steps) for _, steps in plans)
    assert f"{len(plans)} run(s) analysed: verdict PASS. plans: {total}/{total} steps" in part2
    assert "Processes left running: 0" in out
    pids = [int(pid) for pid in re.findall(r"pid: (\d+)", out)]
    assert len(pids) == 2 and not any(Path(f"/proc/{pid}").exists() for pid in pids)
