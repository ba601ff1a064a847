"""Prometheus metrics of a mock: what `/metrics` on the admin port serves.

Requests are counted where every one of them already goes, off the event loop: the request-log
writer hands each batch it wrote to `TrafficMetrics` on its own thread (`RequestLogWriter.
observe`), so the business port's hot path pays nothing for metrics. The price: with the
request log off (`--no-log`, `log_requests=False`) there is no writer and no per-request
metric; `/metrics` then still reports the mock's identity and active scenario, and
`mockloop_request_log_enabled 0` says why the request series are absent.

Under `serve --workers N` the business traffic is in the worker processes and the admin API in
the supervisor: each worker writes its series to prometheus-client's multiprocess files
(`PROMETHEUS_MULTIPROC_DIR`, set by the supervisor to `metrics/` in the mock's data folder and
emptied at start), and the supervisor's `/metrics` merges them. Every per-request series has a
`worker` label: `main` for a single process, the worker's index under `--workers`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from mockloop.errors import ConfigError
from mockloop.mock.request_log.writer import LogRecord

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROC_ENV",
    "MockMetrics",
    "TrafficMetrics",
    "forget_worker",
    "install_worker_metrics",
    "metrics_dir",
    "prepare_multiprocess_dir",
]

logger = logging.getLogger("mockloop.mock")

#: The variable prometheus-client reads, at import, to keep its values in shared files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Latency buckets in seconds: a mock answers in well under a millisecond when idle and in
#: tens of milliseconds under load or with a scenario's delay; seconds are for slow proxies.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: The operation label of a request no documented operation matched (a 404 or 405).
UNMATCHED = "(none)"


class TrafficMetrics:
    """Counts the requests of each request-log batch (runs on the writer's thread).

    Args:
        worker: the `worker` label: "main" for a single process, the index under `--workers`.
        registry: where the series are registered; None under multiprocess mode, where the
            values live in the shared files the supervisor merges.
    """

    def __init__(self, worker: str, registry: CollectorRegistry | None) -> None:
        self.worker = worker
        self.requests = Counter(
            "mockloop_requests",
            "Requests the business port answered, by operation, method, status and mode.",
            ["worker", "operation", "method", "status", "mode"],
            registry=registry,
        )
        self.latency = Histogram(
            "mockloop_request_duration_seconds",
            "Time the mock took to produce each response, by operation.",
            ["worker", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.log_written = Counter(
            "mockloop_request_log_written",
            "Records the request-log writer stored.",
            ["worker"],
            registry=registry,
        )
        self.log_dropped = Counter(
            "mockloop_request_log_dropped",
            "Records the request-log writer dropped (queue full, or the store kept refusing).",
            ["worker"],
            registry=registry,
        )
        self.log_queued = Gauge(
            "mockloop_request_log_queued",
            "Records waiting for the request-log writer.",
            ["worker"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._written = 0
        self._dropped = 0
        self._latency_children: dict[str, Any] = {}
        self._request_children: dict[tuple[str, str, int, str], Any] = {}

    def __call__(self, batch: Sequence[LogRecord], stats: Mapping[str, Any]) -> None:
        """Count one batch of served requests and the writer's counters after it."""
        counts: dict[tuple[str, str, int, str], int] = {}
        latency = self._latency_children
        for record in batch:
            if record.mode == "admin":  # the admin port's own requests: not the mock's traffic
                continue
            operation = record.operation_id or UNMATCHED
            key = (operation, record.method, record.status, record.mode)
            counts[key] = counts.get(key, 0) + 1
            child = latency.get(operation)
            if child is None:
                child = latency[operation] = self.latency.labels(self.worker, operation)
            child.observe(record.latency_ms / 1000.0)
        for key, count in counts.items():
            child = self._request_children.get(key)
            if child is None:
                operation, method, status, mode = key
                child = self._request_children[key] = self.requests.labels(
                    self.worker, operation, method, str(status), mode
                )
            child.inc(count)
        written = int(stats.get("written", 0))
        dropped = int(stats.get("dropped", 0))
        if written > self._written:
            self.log_written.labels(self.worker).inc(written - self._written)
            self._written = written
        if dropped > self._dropped:
            self.log_dropped.labels(self.worker).inc(dropped - self._dropped)
            self._dropped = dropped
        self.log_queued.labels(self.worker).set(int(stats.get("queued", 0)))


class _MockCollector(Collector):
    """The mock's identity, active scenario and workers, read at each scrape."""

    def __init__(self, runtime: MockRuntime, multiprocess: bool) -> None:
        self.runtime = runtime
        self.multiprocess = multiprocess

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        from mockloop.version import __version__

        sync = runtime.replica_sync
        info = InfoMetricFamily("mockloop", "The mock: MockLoop version, API, replica identity.")
        info.add_metric(
            [],
            {
                "version": __version__,
                "api": runtime.spec.title,
                "api_version": str(runtime.spec.version),
                "replica_id": sync.replica_id if sync is not None else "",
                "role": "supervisor" if self.multiprocess else "main",
            },
        )
        yield info
        active = runtime.rules.active_scenario
        scenario = GaugeMetricFamily(
            "mockloop_scenario_active",
            '1 for the active scenario (scenario="" and 0 when none is active).',
            labels=["scenario"],
        )
        scenario.add_metric([active or ""], 1.0 if active else 0.0)
        yield scenario
        enabled = GaugeMetricFamily(
            "mockloop_request_log_enabled",
            "1 when the request log is on; the request series are counted by its writer.",
            value=1.0 if runtime.config.log_requests else 0.0,
        )
        yield enabled
        if runtime.workers is not None:
            up = GaugeMetricFamily(
                "mockloop_worker_up",
                "1 for each business worker that is alive and ready, by index and pid.",
                labels=["worker", "pid"],
            )
            restarts = GaugeMetricFamily(
                "mockloop_worker_restarts",
                "Times each business worker was started again after it died.",
                labels=["worker"],
            )
            for row in runtime.workers():
                index = str(row["index"])
                alive = bool(row["alive"] and row["ready"])
                up.add_metric([index, str(row["pid"] or "")], 1.0 if alive else 0.0)
                restarts.add_metric([index], float(row["restarts"]))
            yield up
            yield restarts


class MockMetrics:
    """The `/metrics` of one admin port: a registry over this mock's series.

    In a single process it installs `TrafficMetrics` on the runtime's request-log writer; under
    `serve --workers N` (the runtime lists its workers) it merges the workers' files from
    `metrics_dir(runtime)`.
    """

    def __init__(self, runtime: MockRuntime) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        multiprocess = runtime.workers is not None
        if multiprocess:
            MultiProcessCollector(self.registry, path=str(metrics_dir(runtime.data_dir)))
        elif runtime.log_writer is not None:
            runtime.log_writer.observe(TrafficMetrics("main", self.registry))
        self.registry.register(_MockCollector(runtime, multiprocess))

    def render(self) -> bytes:
        """The Prometheus text exposition of every series (reads the workers' files)."""
        with _FILES:
            return generate_latest(self.registry)


def metrics_dir(data_dir: Path) -> Path:
    """Where the workers of a mock keep their multiprocess metric files."""
    return Path(data_dir) / "metrics"


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """Empty (or create) the workers' metrics folder before they start; returns it.

    Files left by an earlier run would add its counts to this one's.

    Raises:
        ConfigError: the folder cannot be emptied or created.
    """
    folder = metrics_dir(data_dir)
    try:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot prepare the metrics folder {folder} of the workers: {exc.strerror or exc}; "
            "check the permissions of the mock's data folder (--data-dir)"
        ) from None
    return folder


_FILES = threading.Lock()
"""Held while the supervisor reads the workers' files (a scrape) or folds a dead worker's into
the archive: a scrape sees the dead worker's counts once, in its file or in the archive."""

_FOLDED = ("counter", "histogram")
"""The kinds of file whose values outlive their worker (a gauge's die with it)."""


def forget_worker(folder: Path, pid: int) -> None:
    """A worker died: drop its live gauges from the workers' metrics `folder`, and fold its
    counters and histograms into one archive file per kind, where they keep counting in the
    total. A crash-looping worker leaves no file behind per restart (each is 64 KiB or more)."""
    with _FILES:
        mark_process_dead(pid, str(folder))
        for kind in _FOLDED:
            dead = folder / f"{kind}_{pid}.db"
            if not dead.exists():
                continue
            archive = MmapedDict(str(folder / f"{kind}_archive.db"))
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):
                    total, _ = archive.read_value(key)
                    archive.write_value(key, total + value, timestamp)
            finally:
                archive.close()
            dead.unlink()


def install_worker_metrics(runtime: MockRuntime, worker: int, folder: str) -> None:
    """In a business worker: count its requests into the shared files of `folder`.

    Raises:
        ConfigError: the process was started without `PROMETHEUS_MULTIPROC_DIR` set to
            `folder` (prometheus-client reads it once, when first imported).
    """
    if os.environ.get(MULTIPROC_ENV) != folder:
        raise ConfigError(
            f"business worker {worker}: {MULTIPROC_ENV} must be {folder!r} before "
            "prometheus-client is imported; start workers with `mockloop serve --workers N`"
        )
    if runtime.log_writer is not None:
        runtime.log_writer.observe(TrafficMetrics(str(worker), None))
