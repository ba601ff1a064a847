"""Runs schedules in this process: one asyncio task per schedule, on the loop that created it.

A runner waits until its schedule's next run is due, runs the suite's tests one after the
other through the client's own operations (so each call is audited and its run lands in the
schedule's session), records the suite run, notifies, and computes the next due time. It
lives as long as its event loop: the MCP server's, or the sync client's private loop thread,
so as long as the process (or until the client is closed).

Cancellation, from this process or any other, is the status "cancelled" in the store. The
runner reads it before each run, before each test and every `POLL_SECONDS` while it waits or
a test runs; in this process `Scheduler.stop` also wakes it at once. A test in progress when
the cancellation arrives gets `CANCEL_GRACE_SECONDS` to finish (its run is kept), then it is
interrupted; no further test or suite run starts.

Every runner reads time from a `Clock` (`Scheduler.clock`, the system's unless a test puts a
manual one there), so a test can move a schedule's time on without waiting for it. How long a
caller waits for a runner to stop (`Scheduler.stop`, `Scheduler.abandon`) stays real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import orjson

from mockloop.errors import MockLoopError
from mockloop.progress import progress_to
from mockloop.testing.runs import TestRunStore
from mockloop.testing.sessions.clock import SYSTEM_CLOCK, Clock
from mockloop.testing.sessions.report import run_problems
from mockloop.testing.sessions.schedule_store import ScheduleStore
from mockloop.testing.sessions.schedules import (
    NotificationConfig,
    ScheduleTiming,
    SuiteTest,
    TestSuite,
)

__all__ = [
    "CANCEL_GRACE_SECONDS",
    "POLL_SECONDS",
    "RunJudge",
    "ScheduleRunner",
    "Scheduler",
    "TestCall",
]

logger = logging.getLogger("mockloop.schedules")

POLL_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 5.0
WEBHOOK_TIMEOUT_SECONDS = 10.0

#: Runs one test: (operation, arguments, session_id) -> the operation's result.
TestCall = Callable[[str, dict[str, Any], str], Awaitable[Any]]
#: Judges one stored run: (why it failed, what deserves a warning). The client passes one that
#: adds the analysis checks analyze_test_results runs; without it, `run_problems`.
RunJudge = Callable[[dict[str, Any]], tuple[list[str], list[str]]]


class ScheduleRunner:
    """The loop of one schedule: wait, run the suite, record, notify, repeat."""

    def __init__(
        self,
        *,
        schedule_id: str,
        suite: TestSuite,
        timing: ScheduleTiming,
        session_id: str,
        notification: NotificationConfig | None,
        store: ScheduleStore,
        run_store: TestRunStore,
        call: TestCall,
        owner: object = None,
        clock: Clock | None = None,
        judge: RunJudge | None = None,
    ) -> None:
        self.schedule_id = schedule_id
        self.owner = owner
        self.suite = suite
        self.timing = timing
        self.session_id = session_id
        self.notification = notification
        self.store = store
        self.run_store = run_store
        self.call = call
        self.judge: RunJudge = judge if judge is not None else run_problems
        self.clock = clock if clock is not None else Scheduler.clock
        self.stop = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled, completed, or the event loop goes away."""
        with progress_to(None):  # the call that created the schedule has long returned
            try:
                await self._run()
            except asyncio.CancelledError:
                raise  # the event loop is closing: the schedule shows as orphaned
            except Exception as exc:
                logger.exception("schedule %s failed", self.schedule_id)
                with contextlib.suppress(MockLoopError):
                    await asyncio.to_thread(
                        self.store.finish,
                        self.schedule_id,
                        "failed",
                        f"its runner failed: {type(exc).__name__}: {exc}",
                    )
            finally:
                try:
                    self.store.runner_exited(self.schedule_id)
                except MockLoopError as exc:
                    logger.warning("schedule %s: %s", self.schedule_id, exc)

    async def _run(self) -> None:
        row = await asyncio.to_thread(self.store.get, self.schedule_id)
        if row is None:
            return
        seq = int(row["runs_done"])
        due: float | None = row["next_run_at"]
        while True:
            if due is None:
                await self._finish("completed", "no run is due before end_at")
                return
            if not await self._wait_until(due):
                return
            seq += 1
            outcome, tests = await self._suite_run(seq, due)
            finished = self.clock.now()
            next_due = None if outcome == "cancelled" else self.timing.next_due(due, finished)
            reason = "no run is due before end_at"
            if self.timing.max_runs is not None and seq >= self.timing.max_runs:
                next_due, reason = None, f"max_runs ({self.timing.max_runs}) reached"
            errors = [t["error"] for t in tests if t.get("error")]
            await asyncio.to_thread(
                self.store.finish_run,
                self.schedule_id,
                seq,
                outcome=outcome,
                tests=tests,
                next_run_at=next_due,
                error=errors[0] if errors else None,
            )
            if outcome == "cancelled":
                return
            await self._notify(seq, outcome, tests, next_due)
            if next_due is None:
                await self._finish("completed", reason)
                return
            due = next_due

    async def _finish(self, status: str, reason: str) -> None:
        await asyncio.to_thread(self.store.finish, self.schedule_id, status, reason)  # type: ignore[arg-type]

    async def _cancelled(self) -> bool:
        if self.stop.is_set():
            return True
        return await asyncio.to_thread(self.store.status, self.schedule_id) != "active"

    async def _wait_until(self, due: float) -> bool:
        """Sleep until `due`; False when the schedule was cancelled meanwhile."""
        while True:
            if await self._cancelled():
                return False
            remaining = due - self.clock.now()
            if remaining <= 0:
                return True
            stopped = asyncio.ensure_future(self.stop.wait())
            try:
                await self._wait_any({stopped}, min(remaining, POLL_SECONDS))
            finally:
                stopped.cancel()
            if self.stop.is_set():
                return False

    async def _wait_any(self, futures: set[asyncio.Future[Any]], seconds: float) -> None:
        """Wait until one of `futures` is done or `seconds` pass on the runner's clock."""
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({*futures, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()

    async def _suite_run(self, seq: int, due: float) -> tuple[str, list[dict[str, Any]]]:
        await asyncio.to_thread(self.store.start_run, self.schedule_id, seq, self.session_id, due)
        tests: list[dict[str, Any]] = []
        for test in self.suite.tests:
            if await self._cancelled():
                return "cancelled", tests
            entry = await self._one_test(test)
            tests.append(entry)
            if entry.get("interrupted"):
                return "cancelled", tests
        failed = any(t["error"] or t["failures"] for t in tests)
        return ("failed" if failed else "passed"), tests

    async def _one_test(self, test: SuiteTest) -> dict[str, Any]:
        entry: dict[str, Any] = {"operation": test.operation, "run_id": None, "status": None}
        entry |= {"failures": [], "warnings": [], "error": None}
        call = asyncio.ensure_future(self.call(test.operation, test.arguments, self.session_id))
        try:
            interrupted = await self._watch(call)
        except asyncio.CancelledError:
            call.cancel()
            raise
        if interrupted:
            entry |= {"interrupted": True, "error": "interrupted: the schedule was cancelled"}
            return entry
        exc = call.exception()
        if exc is not None:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            return entry
        result = call.result()
        run_id = getattr(result, "run_id", None)
        if run_id is None and isinstance(result, dict):
            run_id = result.get("run_id")
        entry["run_id"] = run_id
        stored = await asyncio.to_thread(self.run_store.get, run_id) if run_id else None
        if stored is None:
            entry["status"] = str(getattr(result, "status", "unknown"))
            return entry
        failures, warnings = self.judge(stored)
        entry |= {"status": stored["status"], "failures": failures, "warnings": warnings}
        entry["summary"] = stored["summary"]
        return entry

    async def _watch(self, call: asyncio.Future[Any]) -> bool:
        """Wait for a test call; True when cancellation interrupted it after the grace time."""
        deadline: float | None = None
        while not call.done():
            if deadline is None and await self._cancelled():
                deadline = self.clock.monotonic() + CANCEL_GRACE_SECONDS
            if deadline is None:
                stopped = asyncio.ensure_future(self.stop.wait())
                try:
                    await self._wait_any({call, stopped}, POLL_SECONDS)
                finally:
                    stopped.cancel()
                continue
            left = deadline - self.clock.monotonic()
            if left <= 0:
                call.cancel()
                await asyncio.wait({call})
                return True
            await self._wait_any({call}, left)
        return False

    async def _notify(
        self, seq: int, outcome: str, tests: list[dict[str, Any]], next_due: float | None
    ) -> None:
        """Tell the webhook and/or the file; a delivery error is recorded, never raised."""
        notification = self.notification
        if notification is None or not notification.wants(outcome):
            return
        payload = {
            "event": "suite_run",
            "schedule_id": self.schedule_id,
            "suite": self.suite.name,
            "session_id": self.session_id,
            "suite_run": seq,
            "outcome": outcome,
            "finished_at": self.clock.now(),
            "next_run_at": next_due,
            "tests": tests,
        }
        problems: list[str] = []
        if notification.webhook_url:
            try:
                async with httpx.AsyncClient(
                    timeout=WEBHOOK_TIMEOUT_SECONDS, trust_env=False
                ) as http:
                    response = await http.post(notification.webhook_url, json=payload)
                if response.status_code >= 300:
                    problems.append(
                        f"webhook {notification.webhook_url} answered {response.status_code}"
                    )
            except httpx.HTTPError as exc:
                problems.append(
                    f"webhook {notification.webhook_url}: {type(exc).__name__}: {exc}".rstrip(": ")
                )
        if notification.file:
            try:
                await asyncio.to_thread(_append_line, notification.file, payload)
            except OSError as exc:
                problems.append(f"file {notification.file}: {exc}")
        for problem in problems:
            with contextlib.suppress(MockLoopError):
                await asyncio.to_thread(
                    self.store.add_notification_error, self.schedule_id, problem
                )


def _append_line(path: str, payload: dict[str, Any]) -> None:
    with open(path, "ab") as file:
        file.write(orjson.dumps(payload) + b"\n")


@dataclass
class _Running:
    runner: ScheduleRunner
    task: asyncio.Task[None]
    loop: asyncio.AbstractEventLoop

    def alive(self) -> bool:
        return not self.task.done() and not self.loop.is_closed() and self.loop.is_running()


class Scheduler:
    """The schedules this process runs (one registry per process, whichever client)."""

    _running: ClassVar[dict[str, _Running]] = {}
    #: The clock a runner reads when it is given none: the system's (a test may put its own).
    clock: ClassVar[Clock] = SYSTEM_CLOCK

    @classmethod
    def start(cls, runner: ScheduleRunner) -> None:
        """Run `runner` as a task of the running event loop."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(runner.run(), name=f"mockloop-{runner.schedule_id}")
        cls._running[runner.schedule_id] = _Running(runner, task, loop)

        def forget(_task: asyncio.Task[None]) -> None:
            current = cls._running.get(runner.schedule_id)
            if current is not None and current.task is task:
                del cls._running[runner.schedule_id]

        task.add_done_callback(forget)

    @classmethod
    def is_running(cls, schedule_id: str) -> bool:
        """Whether this process runs the schedule right now."""
        running = cls._running.get(schedule_id)
        return running is not None and running.alive()

    @classmethod
    async def abandon(cls, owner: object) -> list[str]:
        """Stop the runners `owner` (a client) started, leaving their schedules active: they
        show as orphaned and can be resumed. For a client that is closing."""
        loop = asyncio.get_running_loop()
        mine = [r for r in cls._running.values() if r.runner.owner is owner and r.alive()]
        for running in mine:
            if running.loop is loop:
                running.task.cancel()
            else:
                running.loop.call_soon_threadsafe(running.task.cancel)
        deadline = time.monotonic() + 5.0
        while any(not r.task.done() for r in mine) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return [r.runner.schedule_id for r in mine]

    @classmethod
    async def stop(cls, schedule_id: str) -> bool:
        """Wake the schedule's runner to stop and wait for it; False when none runs here."""
        running = cls._running.get(schedule_id)
        if running is None or not running.alive():
            return False
        running.loop.call_soon_threadsafe(running.runner.stop.set)
        limit = CANCEL_GRACE_SECONDS + 4 * POLL_SECONDS
        if asyncio.get_running_loop() is running.loop:
            await asyncio.wait({running.task}, timeout=limit)
        else:
            deadline = time.monotonic() + limit
            while not running.task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        return running.task.done()
