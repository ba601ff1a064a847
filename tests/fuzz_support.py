"""What the fuzz tests share: a `mockloop serve` process on free loopback ports, and a
schemathesis run against it whose every exchange is read back from its NDJSON report (the run
and the report reading are `scripts/schemathesis_run.py`, which `make conformance` uses too)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scripts import schemathesis_run
from scripts.schemathesis_run import Exchange, SchemathesisRun

__all__ = [
    "Exchange",
    "SchemathesisRun",
    "ServedMock",
    "rss_bytes",
    "run_schemathesis",
    "serve",
]

PROBLEM_JSON = "application/problem+json"


def rss_bytes(pid: int) -> int:
    """The resident set size of process `pid` (VmRSS in /proc/PID/status), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no VmRSS line")


@dataclass
class ServedMock:
    """A running `mockloop serve` process and the URLs it printed."""

    process: subprocess.Popen[str]
    business_url: str
    admin_url: str
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The server process' id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def health(self, url: str | None = None, timeout: float = 5.0) -> httpx.Response:
        """GET /health on the business port (or on `url`)."""
        return httpx.get(f"{url or self.business_url}/health", timeout=timeout)


def _read_urls(process: subprocess.Popen[str], deadline_s: float) -> tuple[str, str, list[str]]:
    """The API and Admin URLs `mockloop serve` prints before "Press Ctrl-C to stop."."""
    assert process.stdout is not None
    lines: list[str] = []
    business = admin = ""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        words = line.split()
        if words[:1] == ["API:"]:
            business = words[1]
        elif words[:1] == ["Admin:"]:
            admin = words[1]
        elif line.startswith("Press Ctrl-C"):
            return business, admin, lines
    raise AssertionError("mockloop serve did not print its URLs:\n" + "\n".join(lines))


def _drain(process: subprocess.Popen[str], lines: list[str], keep: int = 200) -> None:
    """Read the process' output until it ends, keeping the last `keep` lines."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if len(lines) > keep:
            del lines[: len(lines) - keep]


@contextmanager
def serve(
    spec: Path, data_dir: Path, *flags: str, deadline_s: float = 60.0
) -> Iterator[ServedMock]:
    """Run `mockloop serve SPEC --port 0 --admin-port 0` as its own process until the block
    ends; then SIGTERM it (SIGKILL if it has not stopped 30 s later)."""
    command = [
        sys.executable,
        "-m",
        "mockloop.cli",
        "serve",
        str(spec),
        "--port",
        "0",
        "--admin-port",
        "0",
        "--data-dir",
        str(data_dir),
        "--seed",
        "1",
        *flags,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        business, admin, lines = _read_urls(process, deadline_s)
        mock = ServedMock(process, business, admin, lines)
        # Keep reading: a server blocked on a full stdout pipe would look like a hang.
        threading.Thread(target=_drain, args=(process, mock.output), daemon=True).start()
        yield mock
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def run_schemathesis(
    location: str,
    base_url: str,
    workdir: Path,
    *,
    max_examples: int,
    timeout_s: float,
    phases: str = "examples,coverage,fuzzing",
    extra: tuple[str, ...] = (),
) -> SchemathesisRun:
    """Run schemathesis 4 (positive and negative data, fixed seed, one worker, a per-request
    timeout, no shrinking) against `base_url`, with `location` as the description, checking
    only that nothing answers 5xx; the run is killed at `timeout_s`, which counts as a hang."""
    return schemathesis_run.run_schemathesis(
        location,
        base_url,
        workdir,
        checks="not_a_server_error",
        mode="all",
        phases=phases,
        max_examples=max_examples,
        request_timeout=10,
        timeout_s=timeout_s,
        extra=extra,
    )
