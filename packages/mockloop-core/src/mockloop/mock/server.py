"""Running a mock: both ports in one process and one event loop.

The admin server is started by the business app's lifespan, so `uvicorn main:app` in a
generated project serves both ports just as `mockloop serve` does. Sockets are bound before
uvicorn starts, which turns a busy port into a clear `ServerError` instead of a log line.

The business port answers first: the admin app (FastAPI, its routes and UI: about a third of
start-up) is imported on a worker thread and served right after, and `on_ready` fires once both
ports answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from mockloop.errors import ServerError
from mockloop.mock.business import BusinessApp
from mockloop.mock.config import MockConfig
from mockloop.mock.http_protocol import HttpLimits, guarded_protocol
from mockloop.mock.problem import problem
from mockloop.mock.runtime import MockRuntime
from mockloop.mock.watch import DescriptionWatch

if TYPE_CHECKING:
    from fastapi import Request, Response

__all__ = ["MockServer", "bind_socket", "create_app", "serve"]

logger = logging.getLogger("mockloop.mock")

KEEP_ALIVE_SECONDS = 5
"""An idle keep-alive connection is closed after this long (uvicorn's default), on both ports."""


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server living inside another one's loop: the outer server owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _MainServer(uvicorn.Server):
    """The process's own server: SIGINT and SIGTERM stop it gracefully, and unlike uvicorn's
    default the signal is not raised again afterwards, so a clean stop exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def bind_socket(
    host: str, port: int, *, what: str = "port", reuse_port: bool = False
) -> socket.socket:
    """A listening-ready TCP socket on host:port; ServerError naming the port when busy.

    `reuse_port`: bind with SO_REUSEPORT, so several processes listen on one port (the
    business workers of `mock.workers`); ServerError on a platform without it.
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ServerError(
            "--workers needs SO_REUSEPORT, which this platform lacks: serve with --workers 1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = "it is in use: choose another" if exc.errno in (98, 48) else exc.strerror
        raise ServerError(f"cannot listen on {what} {host}:{port}: {hint}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def create_app(
    config: MockConfig | MockRuntime,
    *,
    admin_socket: socket.socket | None = None,
    on_ready: Callable[[MockRuntime], None] | None = None,
    freeze_heap: bool = False,
    on_admin_failure: Callable[[BaseException], None] | None = None,
    watch: bool = True,
) -> BusinessApp:
    """The business ASGI app; its lifespan opens the store and serves the admin port.

    The admin port is started in the background once the lifespan has opened the store, so
    the business port listens without waiting for the admin app's imports; `on_ready` runs
    when both answer, `on_admin_failure` (default: log it) when the admin server cannot start.
    `freeze_heap` (for a process of the mock's own) freezes the start-up heap out of the
    garbage collector's way once both ports are up (see `_freeze_heap`). With the config's
    `watch` on, the description's files are watched from start-up on unless `watch` is False
    (a worker of `mock.workers` follows its supervisor's reloads instead).
    """
    runtime = config if isinstance(config, MockRuntime) else MockRuntime(config)
    settings = runtime.config
    if runtime.business_url is None:
        runtime.business_url = _url(settings.host, settings.port)
    state: dict[str, Any] = {}

    async def run_admin(sock: socket.socket | None) -> None:
        if sock is not None:
            port = sock.getsockname()[1]
            # The import (FastAPI, pydantic models, the UI) runs off the loop: the business
            # port answers meanwhile.
            admin_app = await asyncio.to_thread(_build_admin_app, runtime)
            server = _EmbeddedServer(_admin_config(admin_app, settings))
            task = asyncio.create_task(server.serve(sockets=[sock]))
            state["admin"] = (server, task)
            while not server.started:
                if task.done():
                    raise ServerError(f"the admin server on port {port} stopped while starting")
                await asyncio.sleep(0.01)
            # Named (in the business /health, to clients) only once it answers.
            runtime.admin_url = _url(settings.admin_host, port)
        if freeze_heap:
            _freeze_heap()
        if on_ready is not None:
            on_ready(runtime)

    async def start_admin() -> None:
        if watch and settings.watch:
            DescriptionWatch(runtime).start()
        sock = admin_socket
        if sock is None and settings.admin_port is not None:
            sock = bind_socket(settings.admin_host, settings.admin_port, what="admin port")

        async def guarded() -> None:
            try:
                await run_admin(sock)
            except Exception as exc:
                if on_admin_failure is None:
                    logger.error("the admin server could not start: %s", exc)
                else:
                    on_admin_failure(exc)

        state["starting"] = asyncio.create_task(guarded())

    async def stop_admin() -> None:
        if runtime.watch is not None:
            await asyncio.to_thread(runtime.watch.stop)
        starting = state.pop("starting", None)
        if starting is not None and not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
        admin = state.pop("admin", None)
        if admin is not None:
            server, task = admin
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=10)

    return BusinessApp(runtime, on_startup=start_admin, on_shutdown=stop_admin)


def _build_admin_app(runtime: MockRuntime) -> Any:
    """The admin ASGI app for `runtime` (imports FastAPI: called off the event loop)."""
    from mockloop.mock.admin.app import create_admin_app

    return create_admin_app(runtime)


def _uvicorn_config(app: BusinessApp) -> uvicorn.Config:
    settings = app.runtime.config
    return uvicorn.Config(
        app,
        # Size caps, deadlines and problem+json refusals; headers and body in one write (see
        # http_protocol).
        http=guarded_protocol(HttpLimits.business(settings), coalescing=True),
        ws="none",  # an Upgrade is answered as plain HTTP
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        proxy_headers=False,  # a mock answers its direct client; no X-Forwarded-* rewriting
    )


def _admin_config(app: Any, settings: MockConfig) -> uvicorn.Config:
    """The admin server: the business port's caps and deadlines, fewer connections, and a
    problem+json 500 for an exception escaping a route."""
    from fastapi import FastAPI

    if isinstance(app, FastAPI) and Exception not in app.exception_handlers:
        app.add_exception_handler(Exception, _admin_failure)
    return uvicorn.Config(
        app,
        http=guarded_protocol(HttpLimits.admin(settings), coalescing=False),
        ws="none",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


async def _admin_failure(_: Request, exc: Exception) -> Response:
    """The admin API's answer to an exception escaping a route (the protocol logs it once)."""
    from fastapi import Response

    prepared = problem(
        500,
        f"the admin API failed while answering ({type(exc).__name__}); its log has the details",
    )
    return Response(prepared.body, status_code=500, media_type="application/problem+json")


def _freeze_heap() -> None:
    """Move everything alive after start-up (the description, its router, compiled schemas,
    cached bodies) out of the garbage collector's reach.

    Under load the request log keeps thousands of records alive for a moment, which triggers a
    full collection every half second or so; each one walked the whole start-up heap to free
    nothing (about 50 ms on petstore, the mock's p99). Frozen, a full collection walks only
    what came later: p99 fell from ~50 ms to ~11 ms in the throughput bench. Only for a process
    of its own (`serve`): a mock served from a thread of someone else's process leaves that
    process's collector alone.
    """
    gc.collect()
    gc.freeze()
    gc.enable()  # `mockloop serve` starts with the collector off (see cli.main)


def serve(
    config: MockConfig | MockRuntime,
    *,
    on_ready: Callable[[MockRuntime], None] | None = None,
    business_socket: socket.socket | None = None,
    watch: bool = True,
) -> int:
    """Serve until SIGINT/SIGTERM, then flush the request log; returns an exit code.

    `business_socket`: an already bound socket for the business port (a worker of
    `mock.workers` binds its own with SO_REUSEPORT); by default the port is bound here.
    `watch`: False keeps a `config.watch` mock from watching files itself (see `create_app`).
    """
    runtime = config if isinstance(config, MockRuntime) else MockRuntime(config)
    config = runtime.config
    runtime.check_store()
    business = business_socket or bind_socket(config.host, config.port, what="port")
    admin = None
    try:
        if config.admin_port is not None:
            admin = bind_socket(config.admin_host, config.admin_port, what="admin port")
    except ServerError:
        business.close()
        raise
    runtime.business_url = _url(config.host, business.getsockname()[1])
    failed: list[BaseException] = []

    def admin_failed(exc: BaseException) -> None:
        logger.error("the admin server could not start, stopping the mock: %s", exc)
        failed.append(exc)
        server.should_exit = True

    app = create_app(
        runtime,
        admin_socket=admin,
        on_ready=on_ready,
        freeze_heap=True,
        on_admin_failure=admin_failed,
        watch=watch,
    )
    server = _MainServer(_uvicorn_config(app))
    try:
        server.run(sockets=[business])
    except SystemExit as exc:  # uvicorn exits on a failed start-up; its log said why
        return int(exc.code or 1)
    finally:
        runtime.stop()
    return 0 if server.started and not failed else 1


class MockServer:
    """A mock served from a background thread: for tests, notebooks and the pytest plugin.

    Ports default to 0 (free ports chosen by the system); read `business_url`/`admin_url`.
    """

    def __init__(self, config: MockConfig) -> None:
        self.config = config
        self.runtime = MockRuntime(config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def business_url(self) -> str:
        return self.runtime.business_url or ""

    @property
    def admin_url(self) -> str | None:
        return self.runtime.admin_url

    def start(self, timeout: float = 30.0) -> MockServer:
        config = self.config
        business = bind_socket(config.host, config.port, what="port")
        admin = None
        if config.admin_port is not None:
            try:
                admin = bind_socket(config.admin_host, config.admin_port, what="admin port")
            except ServerError:
                business.close()
                raise
        self.runtime.business_url = _url(config.host, business.getsockname()[1])
        ready = threading.Event()

        def admin_failed(exc: BaseException) -> None:
            self._error = exc
            ready.set()

        app = create_app(
            self.runtime,
            admin_socket=admin,
            on_ready=lambda _: ready.set(),
            on_admin_failure=admin_failed,
        )
        self._server = uvicorn.Server(_uvicorn_config(app))

        def run() -> None:
            try:
                self._server.run(sockets=[business])  # type: ignore[union-attr]
            except BaseException as exc:  # reported by start() or stop()
                self._error = exc
            finally:
                ready.set()

        self._thread = threading.Thread(target=run, name="mockloop-mock", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        ready.wait(timeout)
        # `ready` fires once both ports answer (or the admin port failed); `started` confirms
        # the business port listens.
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._server.started or self._error is not None:
            error = self._error
            self.stop()
            if error is not None:
                raise ServerError(f"the mock could not start: {error}")
            raise ServerError(f"the mock did not start within {timeout} s")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.runtime.stop()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
