"""Run wrk and read its report: requests, requests/s, latency percentiles, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["WRK_INSTALL_HINT", "WrkResult", "find_wrk", "parse_wrk_output", "run_wrk"]

WRK_INSTALL_HINT = (
    "wrk is not installed. Install it with:\n"
    "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
    "  macOS:         brew install wrk\n"
    "  from source:   https://github.com/wg/wrk (make; put ./wrk on PATH)"
)

_DURATION_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_LATENCY = re.compile(
    r"^\s+Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+"
    r"([\d.]+)(us|ms|s|m|h)",
    re.MULTILINE,
)
_PERCENTILE = re.compile(r"^\s+([\d.]+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(
    r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(\w+) read", re.MULTILINE
)
_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)


@dataclass
class WrkResult:
    """One wrk run as wrk reported it. Latencies in milliseconds."""

    url: str
    threads: int
    connections: int
    duration_s: float
    requests: int = 0
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    latency_avg_ms: float | None = None
    latency_stdev_ms: float | None = None
    latency_max_ms: float | None = None
    percentiles_ms: dict[str, float] = field(default_factory=dict)
    socket_errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    )
    non_2xx_3xx: int = 0
    raw: str = ""

    @property
    def p50_ms(self) -> float | None:
        return self.percentiles_ms.get("50")

    @property
    def p99_ms(self) -> float | None:
        return self.percentiles_ms.get("99")

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values()) + self.non_2xx_3xx

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("raw")
        return data


def find_wrk() -> str | None:
    return shutil.which("wrk")


def _ms(value: str, unit: str) -> float:
    return float(value) * _DURATION_UNITS[unit]


def parse_wrk_output(text: str, result: WrkResult) -> WrkResult:
    """Fill `result` from wrk's text report (run with `--latency`). ValueError if unparseable."""
    total = _TOTAL.search(text)
    rps = _RPS.search(text)
    if total is None or rps is None:
        raise ValueError(f"cannot read wrk's report:\n{text}")
    result.requests = int(total.group(1))
    result.elapsed_s = _ms(total.group(2), total.group(3)) / 1e3
    result.requests_per_s = float(rps.group(1))
    latency = _LATENCY.search(text)
    if latency:
        result.latency_avg_ms = _ms(latency.group(1), latency.group(2))
        result.latency_stdev_ms = _ms(latency.group(3), latency.group(4))
        result.latency_max_ms = _ms(latency.group(5), latency.group(6))
    for percent, value, unit in _PERCENTILE.findall(text):
        key = percent.rstrip("0").rstrip(".") if "." in percent else percent
        result.percentiles_ms[key] = _ms(value, unit)
    sockets = _SOCKET.search(text)
    if sockets:
        result.socket_errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)
        )
    non_2xx = _NON_2XX.search(text)
    result.non_2xx_3xx = int(non_2xx.group(1)) if non_2xx else 0
    result.raw = text
    return result


def run_wrk(
    url: str,
    *,
    threads: int = 1,
    connections: int = 50,
    duration_s: float = 10.0,
    timeout_s: float = 5.0,
) -> WrkResult:
    """Run `wrk -tT -cC -dD --latency URL` and parse its report."""
    wrk = find_wrk()
    if wrk is None:
        raise RuntimeError(WRK_INSTALL_HINT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result = WrkResult(url=url, threads=threads, connections=connections, duration_s=duration_s)
    return parse_wrk_output(done.stdout, result)
