"""Run wrk and read its report: requests, requests/s, latency percentiles, errors.

wrk corrects its latency histogram for coordinated omission before it prints it (`stats_correct`
in its stats.c, called from main() with `interval = runtime_us / (complete / connections)`):
every recorded latency `n` of at least twice the interval adds one synthetic sample at
`n - interval`, `n - 2 * interval`, ... down to the interval, standing for the requests a
connection would have sent while it waited. So the percentiles wrk prints are not the latencies
it measured: a handful of multi-millisecond stalls in a run of 500,000 requests adds thousands of
samples and moves the printed p99 several-fold. With `histogram=True`, `run_wrk` has wrk dump its
(corrected) histogram through a `done()` script and undoes the correction exactly, so both the
printed and the measured percentiles are known (`wrk_correction`, `undo_wrk_correction`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "WRK_INSTALL_HINT",
    "WrkResult",
    "correction_interval",
    "find_wrk",
    "parse_histogram_line",
    "parse_wrk_output",
    "require_whole_seconds",
    "run_wrk",
    "undo_wrk_correction",
    "wrk_correction",
    "wrk_percentile",
]

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
_HISTOGRAM_LINE = re.compile(r"^MOCKLOOP-HISTOGRAM (\d+) (\d+) ?(\S*)$", re.MULTILINE)

#: A wrk script whose done() prints the run time (µs), the requests completed and the latency
#: histogram as wrk holds it then (after its correction): `value:count` pairs in microseconds.
HISTOGRAM_SCRIPT = """
done = function(summary, latency, requests)
  local pairs = {}
  for i = 1, #latency do
    local value, count = latency(i)
    pairs[#pairs + 1] = value .. ":" .. count
  end
  io.write("MOCKLOOP-HISTOGRAM ", summary.duration, " ", summary.requests, " ")
  io.write(table.concat(pairs, ","), "\\n")
end
"""


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
    #: With `histogram=True`: the latency histogram wrk printed from (µs -> count, corrected),
    #: the correction's interval, and the histogram wrk measured (the correction undone).
    printed_histogram_us: dict[int, int] = field(default_factory=dict)
    correction_interval_us: int | None = None
    measured_histogram_us: dict[int, int] = field(default_factory=dict)
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

    def measured_ms(self, percentile: float) -> float | None:
        """A percentile of the latencies wrk measured (before its correction), in ms."""
        if not self.measured_histogram_us:
            return None
        return wrk_percentile(self.measured_histogram_us, percentile) / 1000

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for bulky in ("raw", "printed_histogram_us", "measured_histogram_us"):
            data.pop(bulky)
        if self.measured_histogram_us:
            data["measured_percentiles_ms"] = {
                f"{p:g}": self.measured_ms(p) for p in (50, 75, 90, 99, 99.9)
            }
            data["synthetic_samples"] = sum(self.printed_histogram_us.values()) - sum(
                self.measured_histogram_us.values()
            )
        return data


def correction_interval(duration_us: int, requests: int, connections: int) -> int | None:
    """wrk's expected interval between one connection's requests (µs), as its main() computes
    it; None when wrk skips the correction (fewer requests than connections)."""
    per_connection = requests // connections
    return duration_us // per_connection if per_connection > 0 else None


def wrk_correction(counts: Mapping[int, int], interval: int) -> dict[int, int]:
    """`counts` (µs -> count) as wrk's `stats_correct(stats, interval)` leaves them."""
    corrected = dict(counts)
    if interval <= 0:
        return corrected
    for value in sorted(counts):
        if value < 2 * interval:
            continue
        count = counts[value]
        synthetic = value - interval
        while count and synthetic > interval:
            corrected[synthetic] = corrected.get(synthetic, 0) + count
            synthetic -= interval
    return corrected


def undo_wrk_correction(corrected: Mapping[int, int], interval: int) -> dict[int, int]:
    """The histogram wrk measured, from the one it printed: the inverse of `wrk_correction`.

    The correction only ever adds to values below the one it copies, so walking down from the
    highest value, each value's measured count is its printed count minus the copies the
    (already known) measured values above it added. ValueError when `corrected` cannot have
    come from wrk's correction with this interval (checked by correcting the result again).
    """
    if interval <= 0:
        return dict(corrected)
    measured: dict[int, int] = {}
    top = max(corrected, default=0)
    for value in sorted(corrected, reverse=True):
        count = corrected[value]
        if value > interval:
            source = value + interval
            while source <= top:
                if source >= 2 * interval:
                    count -= measured.get(source, 0)
                source += interval
        if count < 0:
            break
        if count:
            measured[value] = count
    if wrk_correction(measured, interval) != dict(corrected):
        raise ValueError(f"not a histogram wrk corrected with interval {interval} µs")
    return measured


def wrk_percentile(counts: Mapping[int, int], percentile: float) -> int:
    """A percentile of `counts` (µs -> count) as wrk's `stats_percentile` computes it."""
    total = sum(counts.values())
    if not total:
        raise ValueError("empty histogram")
    rank = int(percentile / 100 * total + 0.5 + 0.5)  # C's round(p * count + 0.5)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return max(counts)


def parse_histogram_line(text: str) -> tuple[int, int, dict[int, int]] | None:
    """(run time µs, requests, histogram) from `HISTOGRAM_SCRIPT`'s line; None without one."""
    found = _HISTOGRAM_LINE.search(text)
    if found is None:
        return None
    counts: dict[int, int] = {}
    for pair in filter(None, found.group(3).split(",")):
        value, count = pair.split(":")
        counts[int(float(value))] = int(float(count))
    return int(found.group(1)), int(found.group(2)), counts


def require_whole_seconds(parser: argparse.ArgumentParser, **options: float) -> None:
    """Stop a bench's argument parsing when a wrk duration option is not whole seconds."""
    for name, value in options.items():
        if value < 1 or not float(value).is_integer():
            parser.error(f"--{name} {value:g}: wrk runs for whole seconds (1 or more)")


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
    histogram: bool = False,
) -> WrkResult:
    """Run `wrk -tT -cC -dD --latency URL` and parse its report.

    `histogram=True` also reads wrk's whole latency histogram (through `HISTOGRAM_SCRIPT`) and
    undoes its coordinated-omission correction (see the module's docstring).
    """
    wrk = find_wrk()
    if wrk is None:
        raise RuntimeError(WRK_INSTALL_HINT)
    if not float(duration_s).is_integer() or duration_s < 1:
        raise ValueError(f"wrk runs for whole seconds (at least 1), not {duration_s:g}")
    with tempfile.TemporaryDirectory(prefix="mockloop-wrk-") as folder:
        command = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s:g}s",
            f"--timeout={timeout_s:g}s",
            "--latency",
        ]
        if histogram:
            script = Path(folder) / "histogram.lua"
            script.write_text(HISTOGRAM_SCRIPT)
            command += ["--script", str(script)]
        command.append(url)
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration_s + timeout_s + 30,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    result = WrkResult(url=url, threads=threads, connections=connections, duration_s=duration_s)
    parse_wrk_output(done.stdout, result)
    if histogram:
        parsed = parse_histogram_line(done.stdout)
        if parsed is None:
            raise RuntimeError(f"wrk printed no histogram (did its script fail?):\n{done.stdout}")
        duration_us, requests, printed = parsed
        result.printed_histogram_us = printed
        result.correction_interval_us = correction_interval(duration_us, requests, connections)
        result.measured_histogram_us = (
            undo_wrk_correction(printed, result.correction_interval_us)
            if result.correction_interval_us
            else dict(printed)
        )
    return result
