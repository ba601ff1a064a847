"""Run a `LoadPlan`: check the target answers, start the worker processes, gather their
ticks into a per-second time series with live progress, and merge their final reports.

Workers are child processes (`mockloop.load.process`) fed over pipes. Each reports ready after
its imports; then all are given one start time, so ramp-up and arrival schedules line up
across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import pickle
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mockloop.errors import ServerError
from mockloop.load.histogram import (
    latency_summary,
    new_histogram,
    record_counts,
    value_tables,
)
from mockloop.load.http import tls_context
from mockloop.load.plan import LoadPlan, Target
from mockloop.load.process import frame
from mockloop.load.report import (
    LoadProgress,
    LoadTestResult,
    SecondStats,
    build_result,
    second_stats,
)

__all__ = ["ProgressHook", "execute_plan", "probe_target"]

ProgressHook = Callable[[LoadProgress, SecondStats], Awaitable[None] | None]
_READY_TIMEOUT = 60.0
_START_MARGIN = 0.05


async def probe_target(target: Target, timeout: float) -> None:
    """ServerError, saying why, unless the target accepts a connection (and a TLS handshake)."""
    context = tls_context() if target.tls else None
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.host,
                target.port,
                ssl=context,
                server_hostname=target.host if context else None,
            ),
            timeout=min(timeout, 10.0),
        )
    except ConnectionRefusedError:
        raise ServerError(
            f"nothing listens on {target.url} (connection refused): start the server or check "
            "the URL; no load was sent"
        ) from None
    except TimeoutError:
        raise ServerError(
            f"{target.url} did not accept a connection within {min(timeout, 10.0)} s; no load "
            "was sent"
        ) from None
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise ServerError(
            f"the TLS handshake with {target.url} failed ({exc}); for a self-signed "
            "certificate point SSL_CERT_FILE at it; no load was sent"
        ) from None
    except OSError as exc:
        raise ServerError(
            f"cannot connect to {target.url} ({exc.strerror or exc}); no load was sent"
        ) from None
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


class _Seconds:
    """Worker ticks merged per second; a second is final once every worker has sent it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pending: dict[int, dict[str, Any]] = {}
        self.cumulative = new_histogram()
        self.requests = 0
        self.errors = 0

    def add(self, message: tuple[Any, ...]) -> SecondStats | None:
        _, _, second, requests, errors, counts, cpu, wall = message
        entry = self.pending.setdefault(
            second,
            {"n": 0, "requests": 0, "errors": 0, "hist": new_histogram(), "cpu": 0.0, "wall": 0.0},
        )
        entry["n"] += 1
        entry["requests"] += requests
        entry["errors"] += errors
        record_counts(entry["hist"], counts)
        entry["cpu"] = max(entry["cpu"], cpu / wall if wall > 0 else 0.0)
        entry["wall"] = max(entry["wall"], wall)
        record_counts(self.cumulative, counts)
        self.requests += requests
        self.errors += errors
        if entry["n"] < self.workers:
            return None
        return self._close(second)

    def _close(self, second: int) -> SecondStats:
        entry = self.pending.pop(second)
        return second_stats(
            second, entry["requests"], entry["errors"], entry["hist"], entry["wall"], entry["cpu"]
        )

    def rest(self) -> list[SecondStats]:
        """Seconds not every worker reached (a worker stopped a little earlier)."""
        return [self._close(second) for second in sorted(self.pending)]


class _Child:
    """One worker process as the parent sees it: its pipes and what it said last."""

    def __init__(self, index: int, process: asyncio.subprocess.Process) -> None:
        self.index = index
        self.process = process
        self.stderr = b""

    async def pump(self, messages: asyncio.Queue[tuple[Any, ...]]) -> None:
        """Forward the child's frames to `messages`; an "exited" message when it ends."""
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                header = await stdout.readexactly(4)
                payload = await stdout.readexactly(int.from_bytes(header, "big"))
                await messages.put(pickle.loads(payload))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        code = await self.process.wait()
        await messages.put(("exited", self.index, code))

    async def drain_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        while chunk := await stderr.read(4096):
            self.stderr = (self.stderr + chunk)[-4000:]

    async def send(self, data: bytes) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            stdin.write(data)
            await stdin.drain()

    def why(self) -> str:
        text = self.stderr.decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit code {self.process.returncode}"


async def _start_children(plan: LoadPlan) -> list[_Child]:
    env = dict(os.environ)
    # The child imports mockloop from wherever this process did.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    children = []
    for index in range(plan.processes):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mockloop.load.process",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        child = _Child(index, process)
        children.append(child)
        await child.send(frame((plan, index)))
    return children


async def execute_plan(
    plan: LoadPlan,
    base: LoadTestResult,
    on_second: ProgressHook | None = None,
    stop: asyncio.Event | None = None,
) -> LoadTestResult:
    """Run `plan` in `plan.processes` worker processes and return the completed result.

    `on_second` is called once a second with the progress so far and the second's figures;
    setting `stop` ends the load early (what was measured is returned, status "stopped").

    Raises:
        ServerError: a worker process could not start or died before reporting.
    """
    messages: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    children: list[_Child] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        children = await _start_children(plan)
        for child in children:
            tasks.append(asyncio.create_task(child.pump(messages)))
            tasks.append(asyncio.create_task(child.drain_stderr()))
        ready = 0
        deadline = time.monotonic() + _READY_TIMEOUT
        while ready < len(children):
            message = await _next(messages, deadline)
            if message is None:
                raise ServerError("the load worker processes did not start within 60 s")
            if message[0] == "exited":
                child = children[message[1]]
                await asyncio.sleep(0.05)  # let its last words reach stderr
                raise ServerError(f"a load worker process failed to start: {child.why()}")
            ready += 1
        value_tables()  # built now, not while the first second's figures compete with the load
        start_at = time.time() + _START_MARGIN
        for child in children:
            await child.send(f"go {start_at!r}\n".encode())
        started = time.monotonic() + _START_MARGIN
        seconds = _Seconds(len(children))
        series: list[SecondStats] = []
        reports: dict[int, dict[str, Any]] = {}
        stopping = False
        while len(reports) < len(children):
            if stop is not None and stop.is_set() and not stopping:
                stopping = True
                for child in children:
                    await child.send(b"stop\n")
            message = await _next(messages, time.monotonic() + 0.25)
            if message is None:
                continue
            if message[0] == "tick":
                closed = seconds.add(message)
                if closed is not None:
                    series.append(closed)
                    await _progress(on_second, plan, seconds, closed, time.monotonic() - started)
            elif message[0] == "done":
                reports[message[1]] = message[2]
            elif message[0] == "exited" and message[1] not in reports:
                child = children[message[1]]
                await asyncio.sleep(0.05)
                raise ServerError(f"load worker process {child.index} failed: {child.why()}")
        series.extend(seconds.rest())
        series.sort(key=lambda s: s.second)
        result = base.model_copy(
            update={
                "status": "stopped" if stopping else "completed",
                "time_series": series,
                "finished_at": time.time(),
            }
        )
        return build_result(result, plan, [reports[i] for i in sorted(reports)])
    finally:
        await asyncio.shield(_reap(children, tasks))


async def _next(messages: asyncio.Queue[tuple[Any, ...]], deadline: float) -> Any:
    try:
        return await asyncio.wait_for(messages.get(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        return None


async def _reap(children: list[_Child], tasks: list[asyncio.Task[None]]) -> None:
    for child in children:
        stdin = child.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()  # end of stdin: a worker still running stops
    for child in children:
        try:
            await asyncio.wait_for(child.process.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.process.kill()
            await child.process.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _progress(
    hook: ProgressHook | None,
    plan: LoadPlan,
    seconds: _Seconds,
    second: SecondStats,
    elapsed: float,
) -> None:
    if hook is None:
        return
    attempted = seconds.requests
    summary = latency_summary(seconds.cumulative)
    progress = LoadProgress(
        elapsed_s=round(elapsed, 2),
        remaining_s=round(max(0.0, plan.duration - elapsed), 2),
        requests=attempted,
        errors=seconds.errors,
        current_rps=second.rps,
        error_rate=round(seconds.errors / attempted, 6) if attempted else 0.0,
        p95_ms=summary["p95_ms"],
    )
    outcome = hook(progress, second)
    if inspect.isawaitable(outcome):
        await outcome
