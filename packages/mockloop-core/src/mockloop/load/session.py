"""A load run from start to finish: persisted when it starts, progress recorded each second,
thresholds judged and the result stored when it ends; optionally in the background.

Runs started in the background are tracked in this process (`running_runs`) so that they can
be stopped; their progress and result are in the store, readable from any process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from mockloop.errors import MockLoopError
from mockloop.load.plan import LoadPlan
from mockloop.load.report import LoadProgress, LoadTestResult, SecondStats
from mockloop.load.runner import ProgressHook, execute_plan
from mockloop.load.store import LoadRunStore
from mockloop.load.thresholds import evaluate_thresholds
from mockloop.progress import progress_to, report_progress

__all__ = ["LoadSession", "PlanExecutor", "new_run_id", "pid_alive", "running_runs"]

logger = logging.getLogger("mockloop.load")

#: Runs a plan: (plan, base result, per-second hook, stop event) -> the completed result.
PlanExecutor = Callable[
    [LoadPlan, LoadTestResult, ProgressHook | None, asyncio.Event | None],
    Awaitable[LoadTestResult],
]

_RUNNING: dict[str, tuple[asyncio.Task[LoadTestResult], asyncio.Event]] = {}


def new_run_id() -> str:
    """A short unique run id ("load-" and 12 hex digits)."""
    return f"load-{uuid.uuid4().hex[:12]}"


def running_runs() -> dict[str, tuple[asyncio.Task[LoadTestResult], asyncio.Event]]:
    """Background runs of this process still going: {run_id: (task, stop event)}."""
    return {k: v for k, v in _RUNNING.items() if not v[0].done()}


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _message(progress: LoadProgress) -> str:
    p95 = f"{progress.p95_ms:.1f} ms" if progress.p95_ms is not None else "-"
    return (
        f"{progress.requests} requests, {progress.current_rps:.0f} req/s, "
        f"errors {progress.error_rate:.1%}, p95 {p95}"
    )


class LoadSession:
    """One run of a plan with its persistence.

    Args:
        plan: what to run.
        base: the result's identity and settings (status "running").
        store: where runs are kept.
        thresholds: {metric: limit} to judge the result by.
        before: awaited before the load starts (e.g. activate a scenario); returns an undo.
        execute: runs the plan (the native engine's `execute_plan`, or another engine's
            function with the same arguments).
    """

    def __init__(
        self,
        plan: LoadPlan,
        base: LoadTestResult,
        store: LoadRunStore,
        thresholds: dict[str, float],
        before: Callable[[], Awaitable[Callable[[], Awaitable[None]] | None]] | None = None,
        execute: PlanExecutor = execute_plan,
    ) -> None:
        self.plan = plan
        self.base = base.redacted()  # what is stored and returned; `plan` sends the load
        self.store = store
        self.thresholds = thresholds
        self.before = before
        self.execute = execute
        self.stop = asyncio.Event()

    async def _save(self, result: LoadTestResult, progress: LoadProgress | None = None) -> None:
        data = result.redacted().model_dump(mode="json")
        extra = progress.model_dump(mode="json") if progress is not None else None
        try:
            await asyncio.to_thread(self.store.save, data, extra)
        except MockLoopError as exc:  # a full disk must not lose the measured result
            logger.warning("could not store load run %s: %s", result.run_id, exc)

    async def _on_second(self, progress: LoadProgress, _second: SecondStats) -> None:
        await report_progress(
            min(progress.elapsed_s, self.plan.duration), self.plan.duration, _message(progress)
        )
        try:
            await asyncio.to_thread(
                self.store.update_progress, self.base.run_id, progress.model_dump(mode="json")
            )
        except MockLoopError as exc:
            logger.warning("could not record progress of %s: %s", self.base.run_id, exc)

    async def run(self) -> LoadTestResult:
        """Run to the end (or until `stop` is set) and return the stored result."""
        await self._save(self.base)
        return await self._execute()

    async def _execute(self) -> LoadTestResult:
        undo = None
        try:
            if self.before is not None:
                undo = await self.before()
            result = await self.execute(self.plan, self.base, self._on_second, self.stop)
        except BaseException as exc:
            failed = self.base.model_copy(
                update={
                    "status": "failed",
                    "finished_at": time.time(),
                    "error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
                }
            )
            await asyncio.shield(self._save(failed))
            raise
        finally:
            if undo is not None:
                try:
                    await undo()
                except MockLoopError as exc:
                    logger.warning("could not restore the mock's scenario: %s", exc)
        result = result.redacted()
        if self.thresholds:
            verdicts = evaluate_thresholds(result, self.thresholds)
            result = result.model_copy(
                update={"thresholds": verdicts, "passed": all(v.passed for v in verdicts)}
            )
        await self._save(result)
        return result

    async def start_background(self) -> LoadTestResult:
        """Store the run, start it as a task of the running loop, return the "running" result."""
        await self._save(self.base)
        # The caller's progress receiver belongs to the call that returns now, not to the run.
        with progress_to(None):
            task = asyncio.get_running_loop().create_task(self._execute())
        _RUNNING[self.base.run_id] = (task, self.stop)

        def forget(done: asyncio.Task[LoadTestResult]) -> None:
            _RUNNING.pop(self.base.run_id, None)
            if not done.cancelled() and done.exception() is not None:
                logger.warning(
                    "background load run %s failed: %s", self.base.run_id, done.exception()
                )

        task.add_done_callback(forget)
        return self.base

    @staticmethod
    def describe_progress(progress: dict[str, Any] | None) -> LoadProgress | None:
        """A stored progress record as a model."""
        return LoadProgress.model_validate(progress) if progress else None
