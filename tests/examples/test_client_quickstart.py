"""`examples/client_quickstart.py` runs as a user runs it and leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_quickstart_generates_calls_switches_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "MOCKLOOP_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client_quickstart.py")],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "GET /v1/pets/1 -> 200" in out
    assert "Request log: 3 records" in out
    assert "After switching to 'pet_missing': GET /v1/pets/1 -> 404" in out
    assert "unknown scenario 'no_such_scenario' (known: pet_missing)" in out
    assert "Processes left running: 0" in out
    pid = int(re.search(r"pid (\d+)", out).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists()
