"""Run schemathesis 4 against a URL and read back every exchange from its NDJSON report.

One implementation for both users: `scripts/conformance.py` (GET operations, positive data,
schema conformance) and the fuzz tests (`tests/fuzz_support.py`: all operations, positive and
negative data, no 5xx). Each passes its own checks, mode and phases; the fixed parts (seed 1,
one worker, no shrinking, no example database, an NDJSON report) are here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Check", "Exchange", "SchemathesisRun", "read_report", "run_schemathesis"]


@dataclass(frozen=True)
class Check:
    """One check schemathesis ran on one answer."""

    name: str
    status: str
    title: str = ""
    message: str = ""

    @property
    def failed(self) -> bool:
        """Whether the answer failed this check."""
        return self.status == "failure"


@dataclass(frozen=True)
class Exchange:
    """One request schemathesis sent and the answer it got (status None: no answer)."""

    label: str
    phase: str
    mode: str
    request: str
    status: int | None
    content_type: str
    body: str
    checks: tuple[Check, ...] = ()

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """The names of the checks this answer failed."""
        return tuple(check.name for check in self.checks if check.failed)

    def describe(self) -> str:
        """One line for an assertion message."""
        failed = self.failed_checks
        checks = f" failed {', '.join(failed)}" if failed else ""
        return (
            f"[{self.phase}/{self.mode}] {self.label}: {self.request} -> {self.status} "
            f"{self.content_type}{checks} {self.body[:300]!r}"
        )


@dataclass
class SchemathesisRun:
    """What a schemathesis run did: exit code (None: killed at its time limit), exchanges,
    errors, output, the operations it selected, the command and how long it took."""

    exit_code: int | None
    exchanges: list[Exchange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    output: str = ""
    operations_selected: int = 0
    command: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _binary() -> list[str]:
    script = Path(sys.executable).with_name("schemathesis")
    if script.exists():
        return [str(script)]
    found = shutil.which("schemathesis")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def _decode_body(response: dict[str, Any]) -> str:
    import base64

    content = response.get("content") or {}
    if "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return str(content.get("$text") or content.get("body") or "")


def _exchanges(recorder: dict[str, Any]) -> list[Exchange]:
    label = recorder.get("label", "?")
    cases = recorder.get("cases") or {}
    checks = recorder.get("checks") or {}
    found = []
    for case_id, interaction in (recorder.get("interactions") or {}).items():
        request = (interaction or {}).get("request") or {}
        response = (interaction or {}).get("response") or {}
        case = ((cases.get(case_id) or {}).get("value") or {}).get("meta") or {}
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        ran = []
        for check in checks.get(case_id, []):
            failure = (check.get("failure_info") or {}).get("failure") or {}
            ran.append(
                Check(
                    name=check.get("name", "?"),
                    status=str(check.get("status", "?")),
                    title=failure.get("title", ""),
                    message=failure.get("message", ""),
                )
            )
        found.append(
            Exchange(
                label=label,
                phase=str((case.get("phase") or {}).get("name", "?")),
                mode=str((case.get("generation") or {}).get("mode", "?")),
                request=f"{request.get('method', '?')} {request.get('uri', '')}",
                status=response.get("status_code"),
                content_type=(headers.get("content-type") or [""])[0],
                body=_decode_body(response),
                checks=tuple(ran),
            )
        )
    return found


def read_report(path: Path, run: SchemathesisRun) -> None:
    """Add what the NDJSON report at `path` records to `run` (nothing when it is absent)."""
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
            run.exchanges.extend(_exchanges(data.get("recorder") or {}))
        elif kind == "NonFatalError":
            value = data.get("value")
            if isinstance(value, dict):
                text = f"{value.get('type', 'Error')}: {value.get('message', '')}"
            else:
                text = str(value or data.get("info") or "")
            run.errors.append(f"{data.get('label') or ''}: {' '.join(text.split())[:500]}")
        elif kind == "FatalError":
            run.errors.append(f"fatal: {json.dumps(data)[:600]}")


def run_schemathesis(
    location: str | Path,
    base_url: str,
    workdir: Path,
    *,
    checks: str,
    mode: str,
    max_examples: int,
    timeout_s: float,
    phases: str = "examples,coverage,fuzzing",
    request_timeout: float = 10.0,
    options: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> SchemathesisRun:
    """Run schemathesis against `base_url` with `location` (a file or URL) as the description
    and return what it did. `options` go before `run` (e.g. `--config-file`), `extra` after
    the fixed flags. The run is killed at `timeout_s`, which counts as a hang (exit code None).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    location = str(location)
    if "://" not in location:
        location = str(Path(location).resolve())
    report = workdir / "schemathesis.ndjson"
    command = [
        *_binary(),
        *options,
        "run",
        location,
        "--url",
        base_url,
        "--checks",
        checks,
        "--mode",
        mode,
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
        f"{request_timeout:g}",
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
    started = time.monotonic()
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
        raw = exc.stdout or ""  # bytes, whatever `text=True` asked for, on most versions
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        run = SchemathesisRun(None, output=output, command=command)
        run.errors.append(f"schemathesis did not finish within {timeout_s:.0f} s")
    else:
        run = SchemathesisRun(done.returncode, output=done.stdout + done.stderr, command=command)
    run.seconds = time.monotonic() - started
    read_report(report, run)
    return run
