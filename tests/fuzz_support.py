"""What the fuzz tests share: a `mockloop serve` process on free loopback ports, and a
schemathesis run against it whose every exchange is read back from its NDJSON report."""

from __future__ import annotations

import json
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


@dataclass(frozen=True)
class Exchange:
    """One request schemathesis sent and the answer it got."""

    label: str
    phase: str
    mode: str
    request: str
    status: int | None
    content_type: str
    body: str
    failed_checks: tuple[str, ...]

    def describe(self) -> str:
        """One line for an assertion message."""
        checks = f" failed {', '.join(self.failed_checks)}" if self.failed_checks else ""
        return (
            f"[{self.phase}/{self.mode}] {self.label}: {self.request} -> {self.status} "
            f"{self.content_type}{checks} {self.body[:300]!r}"
        )


@dataclass
class SchemathesisRun:
    """What a schemathesis run did: its exit code, exchanges, errors and output."""

    exit_code: int | None
    exchanges: list[Exchange]
    errors: list[str]
    output: str
    operations_selected: int = 0


def _decode_body(response: dict) -> str:
    import base64

    content = response.get("content") or {}
    if "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return str(content.get("$text") or content.get("body") or "")


def _read_report(path: Path, run: SchemathesisRun) -> None:
    if not path.exists():
        return
    for line in path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind, data = next(iter(event.items()))
        if kind == "LoadingFinished":
            operations = (data.get("statistic") or {}).get("operations") or {}
            run.operations_selected = int(operations.get("selected") or 0)
        elif kind == "ScenarioFinished":
            recorder = data.get("recorder") or {}
            label = recorder.get("label", "?")
            cases = recorder.get("cases") or {}
            checks = recorder.get("checks") or {}
            for case_id, interaction in (recorder.get("interactions") or {}).items():
                request = (interaction or {}).get("request") or {}
                response = (interaction or {}).get("response") or {}
                case = ((cases.get(case_id) or {}).get("value") or {}).get("meta") or {}
                headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
                content_type = (headers.get("content-type") or [""])[0]
                failed = tuple(
                    check.get("name", "?")
                    for check in checks.get(case_id, [])
                    if check.get("status") == "failure"
                )
                run.exchanges.append(
                    Exchange(
                        label=label,
                        phase=str((case.get("phase") or {}).get("name", "?")),
                        mode=str((case.get("generation") or {}).get("mode", "?")),
                        request=f"{request.get('method', '?')} {request.get('uri', '')}",
                        status=response.get("status_code"),
                        content_type=content_type,
                        body=_decode_body(response),
                        failed_checks=failed,
                    )
                )
        elif kind == "NonFatalError":
            value = data.get("value")
            text = value.get("message", "") if isinstance(value, dict) else str(value or "")
            run.errors.append(f"{data.get('label') or ''}: {' '.join(text.split())[:500]}")
        elif kind == "FatalError":
            run.errors.append(f"fatal: {json.dumps(data)[:600]}")


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
    timeout, no shrinking) against `base_url`, with `location` as the description; the run
    is killed at `timeout_s`, which counts as a hang."""
    workdir.mkdir(parents=True, exist_ok=True)
    if "://" not in location:
        location = str(Path(location).resolve())
    report = workdir / "schemathesis.ndjson"
    script = Path(sys.executable).with_name("schemathesis")
    command = [
        *([str(script)] if script.exists() else [sys.executable, "-m", "schemathesis.cli"]),
        "run",
        location,
        "--url",
        base_url,
        "--checks",
        "not_a_server_error",
        "--mode",
        "all",
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--seed",
        "1",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "10",
        "--no-shrink",
        "--continue-on-failure",
        "--output-sanitize",
        "false",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else ""
        run = SchemathesisRun(
            None, [], [f"schemathesis did not finish in {timeout_s:.0f} s"], output
        )
        _read_report(report, run)
        return run
    run = SchemathesisRun(done.returncode, [], [], done.stdout + done.stderr)
    _read_report(report, run)
    return run
