"""Distributed load with Locust: a `LoadPlan` rendered as a locustfile, run by Locust's own
master and workers, its statistics read back into a `LoadTestResult`.

The master and the local workers are child processes (`python -m locust`); workers on other
machines connect to the master's address and fetch the locustfile from it (`-f -`). Locust
writes its statistics as CSV files (`--csv`); the per-second history is read while the run
goes on (progress) and the final files when it ends. Locust does not count statuses, so the
rendered locustfile counts them in each worker and sends them to the master with its regular
reports (`report_to_master` / `worker_report`); the master writes them out when it quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import resource
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mockloop.errors import ConfigError, ServerError
from mockloop.load.locust_stats import read_history, read_result
from mockloop.load.plan import LoadPlan
from mockloop.load.report import LoadProgress, LoadTestResult, SecondStats
from mockloop.load.runner import ProgressHook

__all__ = ["LocustOptions", "render_locustfile", "require_locust", "run_locust"]

_WAIT_FOR_WORKERS = 60
_STATUS_ENV = "MOCKLOOP_LOCUST_STATUS_FILE"


@dataclass(frozen=True)
class LocustOptions:
    """How Locust runs: local worker processes, workers on other machines, the master's
    address (`HOST:PORT`; default a free loopback port, local workers only)."""

    local_workers: int = 2
    remote_workers: int = 0
    master_bind: str | None = None
    wait_for_workers: int = _WAIT_FOR_WORKERS

    @property
    def workers(self) -> int:
        return self.local_workers + self.remote_workers

    def bind(self) -> tuple[str, int]:
        """The master's (host, port); ConfigError for a malformed `master_bind`."""
        if self.master_bind is None:
            return "127.0.0.1", _free_port()
        host, sep, port = self.master_bind.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"master_bind={self.master_bind!r}: write HOST:PORT, e.g. 0.0.0.0:5557"
            )
        return host.strip("[]") or "0.0.0.0", int(port)


def require_locust() -> None:
    """ConfigError, saying how to install it, unless Locust can be imported."""
    if importlib.util.find_spec("locust") is None:
        raise ConfigError(
            "engine='locust' needs Locust, which is not installed: pip install "
            "'mockloop[locust]' (or use engine='native', with processes=N for N cores)"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _weights(plan: LoadPlan) -> list[int]:
    # Locust's task weights are integers; 10 steps per smallest weight keeps the ratios.
    smallest = min(t.weight for t in plan.templates)
    return [max(1, round(t.weight / smallest * 10)) for t in plan.templates]


def render_locustfile(plan: LoadPlan) -> str:
    """The locustfile for `plan`: one FastHttpUser with a weighted task per mix entry.

    Paths rotate per user through each entry's concrete requests; a status of 400 or above
    is a failure named `bad_status NNN`; statuses are counted and sent to the master.
    """
    mix = [
        (t.name, t.method, [plan.target.base_path + p for p in t.targets], t.headers, t.body)
        for t in plan.templates
    ]
    if plan.rate is not None:
        # Locust has no open model: each user paces itself to its share of the rate.
        wait = f"constant_throughput({plan.rate / plan.users!r})"
    else:
        wait = f"constant({plan.think_time!r})"
    tasks = "\n".join(
        f"    @task({weight})\n    def op_{i}(self):\n        self._send({i})\n"
        for i, weight in enumerate(_weights(plan))
    )
    return f'''"""Rendered by MockLoop from a load plan ({plan.mix_source}); run by Locust."""

import json
import os

import locust.runners
from locust import FastHttpUser, constant, constant_throughput, events, task

# Workers report every second instead of every 3 s, so the master's history is per second.
locust.runners.WORKER_REPORT_INTERVAL = 1.0
MIX = {mix!r}
STATUS_FILE = os.environ.get({_STATUS_ENV!r}, "")
_seen = {{}}
_totals = {{}}


@events.request.add_listener
def _count_status(name, response=None, **_kwargs):
    code = getattr(response, "status_code", 0) or 0
    if code:
        key = f"{{code}} {{name}}"
        _seen[key] = _seen.get(key, 0) + 1


@events.report_to_master.add_listener
def _send_status(client_id, data, **_kwargs):
    data["mockloop_status"] = dict(_seen)
    _seen.clear()


@events.worker_report.add_listener
def _gather_status(client_id, data, **_kwargs):
    for key, count in data.get("mockloop_status", {{}}).items():
        _totals[key] = _totals.get(key, 0) + count


@events.quitting.add_listener
def _write_status(environment, **_kwargs):
    if STATUS_FILE:
        with open(STATUS_FILE, "w") as out:
            json.dump(_totals, out)


class MockLoopUser(FastHttpUser):
    wait_time = {wait}
    network_timeout = {plan.timeout!r}
    connection_timeout = {plan.timeout!r}
    insecure = False  # certificates are verified, as by the native engine

    def on_start(self):
        self._turns = [0] * len(MIX)

    def _send(self, index):
        name, method, paths, headers, body = MIX[index]
        turn = self._turns[index]
        self._turns[index] = turn + 1
        with self.client.request(
            method,
            paths[turn % len(paths)],
            name=name,
            headers=headers or None,
            data=body,
            catch_response=True,
        ) as response:
            if response.status_code >= 400:
                response.failure(f"bad_status {{response.status_code}}")

{tasks}'''


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _spawn(args: list[str], log: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "locust",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )


def _last_words(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    useful = [line for line in lines if "Traceback" not in line][-3:]
    return " | ".join(useful) or "no output"


async def run_locust(
    plan: LoadPlan,
    base: LoadTestResult,
    on_second: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
    *,
    options: LocustOptions | None = None,
) -> LoadTestResult:
    """Run `plan` with a Locust master and its workers and return the result.

    `on_second` gets the progress as Locust's per-second history grows; setting `stop` asks
    the master to end the run early (status "stopped"). Cancelling the calling task kills
    every Locust process this call started.

    Raises:
        ConfigError: Locust is not installed, or `options` is malformed.
        ServerError: the master or a worker failed, or the workers never connected.
    """
    require_locust()
    options = options or LocustOptions()
    host, port = options.bind()
    folder = Path(tempfile.mkdtemp(prefix="mockloop-locust-"))
    locustfile = folder / "locustfile.py"
    locustfile.write_text(render_locustfile(plan))
    prefix = folder / "stats"
    status_file = folder / "status.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_time = max(1, round(plan.duration))
    spawn_rate = plan.users / plan.ramp_up if plan.ramp_up > 0 else max(plan.users, 1) * 100
    master_args = [
        "-f", str(locustfile), "--headless", "--master",
        "--master-bind-host", host, "--master-bind-port", str(port),
        "--expect-workers", str(options.workers),
        "--expect-workers-max-wait", str(options.wait_for_workers),
        "--host", plan.target.scheme + "://" + plan.target.host_header,
        "-u", str(plan.users), "-r", f"{spawn_rate:g}", "-t", f"{run_time}s",
        "--csv", str(prefix), "--csv-full-history", "--only-summary",
        "--exit-code-on-error", "0", "--stop-timeout", f"{plan.timeout:g}",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    connect = "127.0.0.1" if host in ("0.0.0.0", "::", "*") else host
    worker_args = [
        "-f", str(locustfile), "--worker",
        "--master-host", connect, "--master-port", str(port), "--loglevel", "WARNING",
    ]  # fmt: skip
    processes: list[asyncio.subprocess.Process] = []
    cpu_before = _children_cpu()
    started = time.monotonic()
    stopping = False
    try:
        master_log = folder / "master.log"
        master = await _spawn(master_args, master_log, {**env, _STATUS_ENV: str(status_file)})
        processes.append(master)
        for index in range(options.local_workers):
            processes.append(await _spawn(worker_args, folder / f"worker{index}.log", env))
        deadline = started + options.wait_for_workers + run_time + plan.timeout + 30
        seen = 0
        while master.returncode is None:
            if stop is not None and stop.is_set() and not stopping:
                stopping = True
                with contextlib.suppress(ProcessLookupError):
                    master.send_signal(signal.SIGTERM)  # Locust writes its stats and quits
            if time.monotonic() > deadline:
                raise ServerError(f"the Locust master did not finish in time ({run_time} s run)")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(master.wait(), 1.0)
            for worker in processes[1:]:
                if worker.returncode not in (None, 0) and master.returncode is None:
                    raise ServerError(
                        f"a Locust worker failed: {_last_words(folder / 'worker0.log')}"
                    )
            series = await asyncio.to_thread(read_history, prefix)
            if len(series) > seen:
                seen = len(series)
                await _progress(on_second, plan, series, time.monotonic() - started)
        if master.returncode != 0 and not stopping:
            raise ServerError(
                f"the Locust master failed (exit code {master.returncode}): "
                f"{_last_words(master_log)}"
            )
        for worker in processes[1:]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.wait(), 5)
        cpu = _children_cpu() - cpu_before
        result = await asyncio.to_thread(
            read_result, prefix, status_file, plan, base, cpu, options.local_workers + 1
        )
        return result.model_copy(
            update={
                "status": "stopped" if stopping else "completed",
                "finished_at": time.time(),
                "processes": options.workers,
            }
        )
    finally:
        await asyncio.shield(_reap(processes, folder))


async def _reap(processes: list[asyncio.subprocess.Process], folder: Path) -> None:
    for process in processes:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            await process.wait()
    for path in sorted(folder.glob("*"), reverse=True):
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


async def _progress(
    hook: ProgressHook | None, plan: LoadPlan, series: list[SecondStats], elapsed: float
) -> None:
    if hook is None:
        return
    requests = sum(s.requests for s in series)
    errors = sum(s.errors for s in series)
    last = series[-1]
    progress = LoadProgress(
        elapsed_s=round(elapsed, 2),
        remaining_s=round(max(0.0, plan.duration - elapsed), 2),
        requests=requests,
        errors=errors,
        current_rps=last.rps,
        error_rate=round(errors / requests, 6) if requests else 0.0,
        p95_ms=last.p95_ms,
    )
    outcome = hook(progress, last)
    if asyncio.iscoroutine(outcome):
        await outcome
