"""A load worker: one process with its own event loop, driving its share of a `LoadPlan`.

Closed model: the worker runs the users whose number modulo `processes` is its index; each
user owns one keep-alive connection and sends its next request as soon as the previous answer
is in (after `think_time`), users starting one after another over `ramp_up`.

Open model: the worker sends the arrivals whose number modulo `processes` is its index, at the
times `arrival_time` gives, whatever the server does. An arrival takes an idle connection, or
opens one (up to its share of `concurrent_users`), or waits in a queue; its latency counts from
its scheduled time, so time spent waiting for a stalled server is in the figures (no
coordinated omission). Arrivals that waited longer than `timeout` fail as timeouts.

Once a second the worker sends a tick (requests, errors, CPU and the second's latencies as
microseconds -> count) on its queue; at the end, a report with every operation's encoded HDR
histogram.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mockloop.load.histogram import LatencyRecorder
from mockloop.load.http import Connection, encode_request, error_kind, tls_context
from mockloop.load.plan import LoadPlan, arrival_time

__all__ = ["Worker", "new_event_loop", "weighted_cycle"]

_BACKOFF_MIN = 0.05
#: Tracked objects allocated and not freed since the last collection before the worker, which
#: runs with automatic garbage collection off, collects the young generations itself.
_GC_BACKLOG = 200_000
_BACKOFF_MAX = 1.0


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    """uvloop's loop when installed (about twice as fast for this work), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux and macOS
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


def weighted_cycle(weights: list[float], length: int = 1000) -> list[int]:
    """Template indices in smooth weighted round-robin order (nginx's): each weight's share,
    interleaved rather than in runs."""
    total = sum(weights)
    scaled = [max(1, round(length * w / total)) for w in weights]
    current = [0] * len(scaled)
    order = []
    for _ in range(sum(scaled)):
        for i, w in enumerate(scaled):
            current[i] += w
        best = max(range(len(scaled)), key=current.__getitem__)
        current[best] -= sum(scaled)
        order.append(best)
    return order


class Worker:
    """Drives one process's share of the plan; `emit` sends ticks and the final report."""

    def __init__(
        self,
        plan: LoadPlan,
        index: int,
        emit: Callable[[tuple[Any, ...]], None],
        stopped: Callable[[], bool] = lambda: False,
        loop_name: str = "asyncio",
    ) -> None:
        self.plan = plan
        self.index = index
        self.emit = emit
        self.stopped = stopped
        self.loop_name = loop_name
        target = plan.target
        self.requests = [
            [
                encode_request(
                    t.method, target.base_path + path, target.host_header, t.headers, t.body
                )
                for path in t.targets
            ]
            for t in plan.templates
        ]
        self.heads = [t.method == "HEAD" for t in plan.templates]
        self.variant = [0] * len(plan.templates)
        self.mix = weighted_cycle([t.weight for t in plan.templates])
        self.mix_pos = index * 7919  # processes start at different places in the mix
        self.recorder = LatencyRecorder(len(plan.templates))
        self.statuses: list[dict[int, int]] = [{} for _ in plan.templates]
        self.errors: list[dict[str, int]] = [{} for _ in plan.templates]
        self.tick_requests = 0
        self.tick_errors = 0
        self.conns: set[Connection] = set()
        self.idle: list[Connection] = []
        self.queue: deque[tuple[float, int]] = deque()
        self.opening = 0
        self.sending = True
        self.lag_sum = 0.0
        self.lag_max = 0.0
        self.lag_count = 0
        self.max_queue = 0
        self.bytes_received = 0
        self.ssl = tls_context() if target.tls else None
        self.loop: asyncio.AbstractEventLoop
        self.t0 = 0.0
        self.end = 0.0
        self.tasks: set[asyncio.Task[Any]] = set()
        self._arrival: float | None = None
        share = [u for u in range(plan.users) if u % plan.processes == index]
        self.users = share
        self.cap = len(share)

    # -- shared plumbing --------------------------------------------------------------------

    def _next_request(self) -> tuple[int, bytes]:
        op = self.mix[self.mix_pos % len(self.mix)]
        self.mix_pos += 1
        variants = self.requests[op]
        n = self.variant[op]
        self.variant[op] = n + 1
        return op, variants[n % len(variants)]

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _connect(self, user: int) -> Connection:
        target = self.plan.target
        _, conn = await asyncio.wait_for(
            self.loop.create_connection(
                lambda: Connection(self, user),
                target.host,
                target.port,
                ssl=self.ssl,
                server_hostname=target.host if self.ssl else None,
            ),
            timeout=self.plan.timeout,
        )
        self.conns.add(conn)
        return conn

    def _count_error(self, op: int, kind: str) -> None:
        errors = self.errors[op]
        errors[kind] = errors.get(kind, 0) + 1
        self.tick_requests += 1
        self.tick_errors += 1

    def _send(self, conn: Connection, op: int, request: bytes, started: float) -> None:
        now = time.perf_counter()
        conn.send(op, request, started, now, self.heads[op])

    # -- ConnectionOwner --------------------------------------------------------------------

    def arrival_time(self) -> float:
        """When the data the event loop is handing over now reached this process.

        The loop hands over every socket that became readable at once, one after another; a
        response handled 40th waited for the 39 before it in this process, not at the server.
        All of them arrived when the loop woke up, so the first one handled takes the time and
        the rest of the batch shares it (reset once the batch is done). Latency thus excludes
        the generator's own handling, as a faster client (wrk's C loop) mostly does anyway.
        """
        stamp = self._arrival
        if stamp is None:
            stamp = self._arrival = time.perf_counter()
            self.loop.call_soon(self._end_batch)
        return stamp

    def _end_batch(self) -> None:
        self._arrival = None

    def on_response(self, conn: Connection, status: int) -> None:
        op = conn.op
        conn.op = -1
        arrived = conn.arrived or time.perf_counter()
        self.recorder.record(op, max(0, int((arrived - conn.started) * 1_000_000)))
        statuses = self.statuses[op]
        statuses[status] = statuses.get(status, 0) + 1
        self.tick_requests += 1
        if status >= 400:
            self.tick_errors += 1
        if conn.closed:
            self.conns.discard(conn)
        if self.plan.rate is None:
            self._user_next(conn)
        else:
            self._arrival_next(conn)

    def on_failure(self, conn: Connection, kind: str) -> None:
        op = conn.op
        conn.op = -1
        self.conns.discard(conn)
        self._count_error(op, kind)
        if self.plan.rate is None:
            self._user_next(conn)
        else:
            self._arrival_next(conn)

    def on_closed(self, conn: Connection) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    # -- closed model -----------------------------------------------------------------------

    def _user_next(self, conn: Connection) -> None:
        if not self.sending:
            conn.close()
            self.conns.discard(conn)
        elif conn.closed:
            self._spawn(self._user(conn.user))
        elif self.plan.think_time:
            self.loop.call_later(self.plan.think_time, self._resume, conn)
        else:
            op, request = self._next_request()
            self._send(conn, op, request, time.perf_counter())

    def _resume(self, conn: Connection) -> None:
        if not self.sending:
            conn.close()
            self.conns.discard(conn)
        elif conn.closed:
            self._spawn(self._user(conn.user))
        else:
            op, request = self._next_request()
            self._send(conn, op, request, time.perf_counter())

    async def _user(self, user: int, start_at: float | None = None) -> None:
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        failures = 0
        while self.sending:
            op, request = self._next_request()
            started = time.perf_counter()
            try:
                conn = await self._connect(user)
            except (OSError, TimeoutError) as exc:
                if not self.sending:
                    return
                self._count_error(op, error_kind(exc))
                # A refused or unreachable server is retried after a growing pause, so a dead
                # target costs neither it nor the generator a tight reconnect loop.
                failures += 1
                await asyncio.sleep(min(_BACKOFF_MAX, _BACKOFF_MIN * 2 ** (failures - 1)))
                continue
            if not self.sending:
                conn.close()
                self.conns.discard(conn)
                return
            self._send(conn, op, request, started)
            return

    # -- open model -------------------------------------------------------------------------

    def _arrival_next(self, conn: Connection) -> None:
        if conn.closed:
            self.conns.discard(conn)
            if self.queue:
                self._open_for_queue()
            return
        if self.queue:
            due, op = self.queue.popleft()
            self._send_arrival(conn, op, due)
        elif self.sending:
            self.idle.append(conn)
        else:
            conn.close()
            self.conns.discard(conn)

    def _send_arrival(self, conn: Connection, op: int, due: float) -> None:
        variants = self.requests[op]
        n = self.variant[op]
        self.variant[op] = n + 1
        now = time.perf_counter()
        lag = now - due
        self.lag_sum += lag
        self.lag_count += 1
        if lag > self.lag_max:
            self.lag_max = lag
        conn.send(op, variants[n % len(variants)], due, now, self.heads[op])

    def _arrive(self, due: float) -> None:
        op = self.mix[self.mix_pos % len(self.mix)]
        self.mix_pos += 1
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                self._send_arrival(conn, op, due)
                return
        self.queue.append((due, op))
        if len(self.queue) > self.max_queue:
            self.max_queue = len(self.queue)
        self._open_for_queue()

    def _open_for_queue(self) -> None:
        busy = sum(1 for c in self.conns if not c.closed) + self.opening
        if busy < self.cap:
            self.opening += 1
            self._spawn(self._open_connection())

    async def _open_connection(self) -> None:
        try:
            conn = await self._connect(-1)
        except (OSError, TimeoutError) as exc:
            self.opening -= 1
            if self.queue:
                _, op = self.queue.popleft()
                self._count_error(op, error_kind(exc))
            return
        self.opening -= 1
        self._arrival_next(conn)

    async def _arrivals(self) -> None:
        rate = self.plan.rate or 1.0
        ramp = self.plan.ramp_up
        step = self.plan.processes
        number = self.index
        while self.sending:
            due = self.t0 + arrival_time(number, rate, ramp)
            if due >= self.end:
                return
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            self._arrive(due)
            number += step

    # -- the run ----------------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        """Fail requests (and queued arrivals) older than the timeout."""
        timeout = self.plan.timeout
        for conn in list(self.conns):
            if conn.op >= 0 and now - conn.started > timeout:
                conn.fail("timeout")
        while self.queue and now - self.queue[0][0] > timeout:
            _, op = self.queue.popleft()
            self._count_error(op, "timeout")

    def _in_flight(self) -> bool:
        return bool(self.queue) or any(c.op >= 0 for c in self.conns) or self.opening > 0

    def _tick(self, second: int, cpu_before: float, wall_before: float) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        self.emit(
            (
                "tick",
                self.index,
                second,
                self.tick_requests,
                self.tick_errors,
                self.recorder.take_interval(),
                cpu - cpu_before,
                wall - wall_before,
            )
        )
        self.tick_requests = 0
        self.tick_errors = 0
        return cpu, wall

    async def prepare(self) -> None:
        """Open model: open this worker's connections before the start, so that the first
        arrivals do not wait for handshakes (a failure here is retried when needed)."""
        self.loop = asyncio.get_running_loop()
        if self.plan.rate is None:
            return
        opened = await asyncio.gather(
            *(self._connect(-1) for _ in range(self.cap)), return_exceptions=True
        )
        self.idle = [conn for conn in opened if isinstance(conn, Connection)]

    async def run(self, start_in: float) -> None:
        """Wait `start_in` seconds, run the plan, then emit the final report."""
        self.loop = asyncio.get_running_loop()
        # The cyclic garbage collector would pause the loop at moments of its choosing and put
        # those pauses into the measured tail (at 50 connections it pushed p99 about 25% above
        # wrk's): the hot path makes (almost) no cycles, so automatic collection stays off for
        # the run; the loop below collects only if garbage really piles up.
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            await self._run(start_in)
        finally:
            gc.enable()
            gc.unfreeze()

    async def _run(self, start_in: float) -> None:
        plan = self.plan
        await asyncio.sleep(max(0.0, start_in))
        self.t0 = time.perf_counter()
        self.end = self.t0 + plan.duration
        cpu_start = time.process_time()
        if plan.rate is None:
            for user in self.users:
                self._spawn(self._user(user, self.t0 + plan.ramp_up * user / plan.users))
        else:
            self._spawn(self._arrivals())
        cpu, wall = cpu_start, self.t0
        second = 1
        sweep_every = min(0.05, plan.timeout / 10)
        while True:
            now = time.perf_counter()
            if self.sending and (now >= self.end or self.stopped()):
                self.sending = False
                self.end = min(self.end, now)
                for conn in self.idle:
                    conn.close()
                self.idle.clear()
            if not self.sending and (not self._in_flight() or now > self.end + plan.timeout):
                break
            if self.sending and now >= self.t0 + second:
                cpu, wall = self._tick(second, cpu, wall)
                second += 1
            self._sweep(now)
            # Small, frequent flushes: one big flush a second would stall the loop for ms.
            self.recorder.flush()
            if gc.get_count()[0] > _GC_BACKLOG:  # cyclic garbage piling up: collect it now
                gc.collect(1)
            await asyncio.sleep(sweep_every)
        elapsed = self.end - self.t0
        self._tick(max(second, math.ceil(elapsed)), cpu, wall)
        for task in list(self.tasks):
            task.cancel()
        for conn in list(self.conns):
            conn.close()
        await asyncio.sleep(0)
        cpu_used = time.process_time() - cpu_start
        self.emit(("done", self.index, self._report(elapsed, cpu_used)))

    def _report(self, elapsed: float, cpu_used: float) -> dict[str, Any]:
        return {
            "elapsed_s": elapsed,
            "cpu_s": cpu_used,
            "histograms": self.recorder.encoded(),
            "statuses": self.statuses,
            "errors": self.errors,
            "lag_mean_ms": (self.lag_sum / self.lag_count * 1000) if self.lag_count else None,
            "lag_max_ms": self.lag_max * 1000 if self.lag_count else None,
            "max_queue": self.max_queue,
            "bytes": self.bytes_received,
            "loop": self.loop_name,
        }
