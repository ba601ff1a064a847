"""`examples/demo.py` (what `make demo` runs) is run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_demo_runs_and_shows_the_log() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "GET /pets (no credentials)                   -> 401" in out
    assert "GET /pets/7 under 'pets_down'                -> 503" in out
    assert "authorization=[REDACTED]" in out
    assert "(12 records in all)" in out
    assert "exited with code 0 after SIGTERM" in out
