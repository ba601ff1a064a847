"""`examples/testing_workflow.py` runs the whole job: plan, load, security, analysis, reports."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from tests.conftest import ROOT


def test_the_testing_workflow_runs_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path / "home")}
    out = tmp_path / "reports"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "testing_workflow.py"),
            "--out",
            str(out),
            "--duration",
            "1.5",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    text = result.stdout
    assert result.returncode == 0, text + result.stderr
    assert "[plan] test plan" in text and " 0 failed" in text
    assert "[security] Security test of" in text
    assert "Secured operations answer without credentials" in text  # the mock runs auth off
    assert "[compare] verdict regressed" in text
    assert "  regressed: latency_p50 of GET /pets/1: " in text  # the operation slowed down
    assert "regressed: latency_p50 of GET /pets?limit=5" not in text
    assert "Stopped the mock (stopped)" in text
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    suites = ElementTree.parse(out / "junit.xml").getroot()
    assert suites.tag == "testsuites" and len(suites.findall("testsuite")) == 4
    assert "[session]" in text and "4 runs" in text
