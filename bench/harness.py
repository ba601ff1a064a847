"""What the benchmarks share: free ports, `mockloop serve` as a child process, polling, tables.

Everything here talks to real processes on 127.0.0.1; nothing is simulated.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BENCH",
    "RESULTS",
    "ROOT",
    "ServedMock",
    "free_port",
    "machine",
    "median",
    "mockloop_command",
    "print_table",
    "wait_for_http",
    "write_results",
]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
_URL_LINE = re.compile(r"^\s*(API|Admin):\s+(http://\S+)", re.MULTILINE)


def free_port() -> int:
    """A port that was free a moment ago (for programs that cannot be given port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mockloop_command() -> list[str]:
    """The `mockloop` console script next to this interpreter, else `python -m mockloop.cli`."""
    script = Path(sys.executable).with_name("mockloop")
    if script.exists():
        return [str(script)]
    found = shutil.which("mockloop")
    return [found] if found else [sys.executable, "-m", "mockloop.cli"]


def wait_for_http(
    url: str,
    *,
    deadline_s: float = 60.0,
    process: subprocess.Popen[Any] | None = None,
    interval_s: float = 0.005,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Poll `url` until it answers at all (any status); the first response is returned.

    Raises RuntimeError when `process` exits first or the deadline passes.
    """
    deadline = time.monotonic() + deadline_s
    with httpx.Client(timeout=5.0) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode} first")
            try:
                return client.get(url, headers=headers)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer within {deadline_s} s") from None
                time.sleep(interval_s)


class ServedMock:
    """`mockloop serve SPEC` in a child process; the URLs are read from what it prints.

    Args:
        spec: the description to serve.
        data_dir: the mock's `--data-dir` (its SQLite file is `mock.db` there).
        extra: more CLI options (`--no-auth`, `--no-log`, ...).
        admin: serve the admin port too.
        port, admin_port: the ports; 0 lets the mock choose (then wait for its printed URLs).
    """

    def __init__(
        self,
        spec: Path | str,
        data_dir: Path,
        extra: Sequence[str] = (),
        *,
        admin: bool = True,
        port: int = 0,
        admin_port: int = 0,
    ) -> None:
        # Absolute: the child runs in `data_dir`, where a relative path would not resolve.
        self.spec = str(Path(spec).resolve()) if Path(spec).exists() else str(spec)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.output_path = self.data_dir / "serve-output.txt"
        self.command = [
            *mockloop_command(),
            "serve",
            self.spec,
            "--port",
            str(port),
            *(["--admin-port", str(admin_port)] if admin else ["--no-admin"]),
            "--data-dir",
            str(self.data_dir),
            *extra,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        # Known at once when the port is given (so it can be polled from the first moment).
        self.business_url = f"http://127.0.0.1:{port}" if port else ""
        self.admin_url = f"http://127.0.0.1:{admin_port}" if admin and admin_port else ""
        self.launched_at = 0.0
        self.exit_code: int | None = None

    def launch(self) -> ServedMock:
        """Start the process (and return at once: see `wait_until_ready`)."""
        # Output goes to a file, not a pipe: a pipe nobody reads could fill and stall the mock.
        self._output = self.output_path.open("wb")
        self.launched_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, stdout=self._output, stderr=subprocess.STDOUT, cwd=self.data_dir
        )
        return self

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def wait_until_ready(self, deadline_s: float = 120.0) -> ServedMock:
        """Wait until the mock has printed its URLs (it prints them once both ports listen)."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            text = self.output()
            urls = dict(_URL_LINE.findall(text))
            if "API" in urls and ("Admin" in urls or "--no-admin" in self.command):
                self.business_url = urls["API"]
                self.admin_url = urls.get("Admin", "")
                return self
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mockloop serve exited with code {self.process.returncode}:\n{text[-2000:]}"
                )
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"mockloop serve printed no URLs within {deadline_s} s")

    def start(self) -> ServedMock:
        return self.launch().wait_until_ready()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, then wait for the exit (the log is flushed on the way out); the exit code."""
        if self.process is None:
            return self.exit_code if self.exit_code is not None else 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.exit_code = self.process.wait()
        self._output.close()
        self.process = None
        return self.exit_code

    def __enter__(self) -> ServedMock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain text table; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        line = "  ".join(
            value.rjust(width) if _numeric(value) and index else value.ljust(width)
            for value, width in zip(row, widths, strict=True)
        )
        print(line.rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d,]*\.?\d+(e[-+]?\d+)?x?", text))


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Write `bench/results/NAME.json` (git-ignored) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "platform": sys.platform,
    }
