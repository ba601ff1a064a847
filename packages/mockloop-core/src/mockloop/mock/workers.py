"""Every core: `mockloop serve --workers N` runs N business workers on one port.

One process serves a mock on one core (the GIL); this module spreads the business port over
several processes and keeps them one mock:

* **One port.** The supervisor (the process the user started) binds the business port with
  `SO_REUSEPORT` and never listens on it: it only holds the port (and learns it when the port
  is 0). Each worker binds its own listening socket to the same address with `SO_REUSEPORT`,
  and the kernel spreads new connections over the listening sockets, so no worker waits on a
  shared accept lock and a busy worker does not starve the others. That spreading is Linux's
  (macOS and most BSDs accept the option but hand every connection to one socket), so more
  than one worker is refused elsewhere.
* **One admin API**, served by the supervisor. The workers serve no admin port; their business
  `/health` names the supervisor's admin URL, so clients find it as they do for one process.
* **One store.** Every process opens the same store (the supervisor's data folder, or the
  PostgreSQL database): one request log (each worker's writer has its own identity and
  counters), one set of scenarios and overrides, and stateful data shared as replicas share it
  (`mock.state.sync`). Replica sync is on in every process (`mock.replicas`): a change made
  through the admin API bumps the store's config version, and the admin call returns only once
  every live worker serves the new version.
* **Supervision.** The supervisor waits until every worker answers before it reports ready,
  starts a worker again when one dies (with a growing pause, so a worker that cannot start
  does not spin), and on SIGINT/SIGTERM stops the workers (each flushes its request log) and
  then itself.

Workers are fresh interpreters (`python -m mockloop.mock.workers`), not forks: a fork of a
process that already runs threads (log writer, replica sync) is not safe. Each reads its
settings as JSON on stdin and reports readiness by writing one line to a pipe.

What lives in one process's memory is not shared: proxy settings changed at run time through
the admin API (`PUT /api/proxy`, recording) would reach the supervisor only, so under
`--workers` those routes answer 409 and proxy settings come from the command line.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockloop.errors import ConfigError, ServerError
from mockloop.mock.config import MockConfig
from mockloop.mock.watch import DescriptionWatch

if TYPE_CHECKING:
    from mockloop.mock.runtime import MockRuntime

__all__ = ["SERVED_DESCRIPTION", "WorkerPool", "resolve_workers", "serve_workers"]

SERVED_DESCRIPTION = "served-description.pickle"
"""Under --watch, in the data folder: the description the supervisor serves, for its workers."""

logger = logging.getLogger("mockloop.mock")

MAX_WORKERS = 256
START_TIMEOUT = 120.0
"""Seconds to wait for every worker to answer (a cold start on a big description takes ~1 s)."""
STOP_TIMEOUT = 15.0
"""Seconds a worker gets to flush its request log after SIGTERM before it is killed."""
RESTART_PAUSE_MAX = 30.0


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - platforms without affinity
        return max(1, os.cpu_count() or 1)


def resolve_workers(value: str | int) -> int:
    """`--workers` as a count: a positive integer, or `auto` for the cores at hand.

    Raises:
        ConfigError: neither a positive integer nor `auto`, or more than MAX_WORKERS.
    """
    text = str(value).strip().lower()
    if text == "auto":
        return available_cores()
    try:
        count = int(text)
    except ValueError:
        raise ConfigError(
            f"--workers {value!r} is not a number of workers: give a positive integer or 'auto' "
            f"(the cores at hand, {available_cores()} here)"
        ) from None
    if count < 1 or count > MAX_WORKERS:
        raise ConfigError(
            f"--workers {count} is out of range: give 1 to {MAX_WORKERS}, or 'auto' "
            f"({available_cores()} here)"
        )
    return count


def _worker_settings(config: MockConfig, runtime: MockRuntime, port: int) -> dict[str, Any]:
    """What a worker is told: the supervisor's settings, its port and data folder, no admin
    port, no scenarios file (the supervisor imported it into the store), replica sync on."""
    settings = json.loads(config.model_dump_json())
    settings.update(
        port=port,
        admin_port=None,
        scenarios_file=None,
        data_dir=str(runtime.data_dir),
        storage=True,  # the supervisor owns (and removes) a temporary folder
        replica_sync=True,
    )
    if config.database_url is None and runtime.database_url is not None:
        settings["database_url"] = runtime.database_url
    from mockloop.mock.metrics import metrics_dir

    # Each worker counts its requests into prometheus-client's shared files there; the
    # supervisor's admin /metrics merges them (mock.metrics).
    return {
        "config": settings,
        "admin_url": runtime.admin_url,
        "metrics_dir": str(metrics_dir(runtime.data_dir)),
    }


class _Worker:
    __slots__ = ("index", "process", "quick_deaths", "ready", "restart_at", "restarts", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.ready = False
        self.started = 0.0
        self.restarts = 0  # times it was started again
        self.quick_deaths = 0  # deaths in a row within a minute of starting: the back-off
        self.restart_at: float | None = None  # dead, to be started again at this time


class WorkerPool:
    """N worker processes serving one business port; started, watched and stopped together."""

    def __init__(self, settings: dict[str, Any], count: int) -> None:
        self.settings = settings
        self.workers = [_Worker(i) for i in range(count)]
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------------

    def _spawn(self, worker: _Worker) -> int:
        """Start one worker; returns the read end of its readiness pipe (the caller hands it
        to `_wait_ready`, which closes it)."""
        read_fd, write_fd = os.pipe()
        payload = dict(self.settings, worker=worker.index, ready_fd=write_fd)
        message = json.dumps(payload).encode()
        env = dict(os.environ)
        if payload.get("metrics_dir"):
            # prometheus-client reads it once, at import: it must be set when the worker starts.
            env["PROMETHEUS_MULTIPROC_DIR"] = str(payload["metrics_dir"])
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "mockloop.mock.workers"],
                stdin=subprocess.PIPE,
                env=env,
                pass_fds=(write_fd,),
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops workers
            )
        except OSError as exc:
            os.close(read_fd)
            raise ServerError(f"cannot start business worker {worker.index}: {exc}") from exc
        finally:
            os.close(write_fd)
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(message)
            process.stdin.close()
        worker.process = process
        worker.ready = False
        worker.started = time.monotonic()
        return read_fd

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every worker and wait until each serves the port.

        Raises:
            ServerError: a worker exited or did not answer within `timeout` seconds (the others
                are stopped).
        """
        pipes: dict[int, _Worker] = {}
        try:
            try:
                for worker in self.workers:
                    pipes[self._spawn(worker)] = worker
            except BaseException:
                for fd in pipes:
                    os.close(fd)
                raise
            self._wait_ready(pipes, timeout)
        except BaseException:
            self.stop()
            raise
        self._watcher = threading.Thread(target=self._watch, name="mockloop-workers", daemon=True)
        self._watcher.start()

    def _wait_ready(self, pipes: dict[int, _Worker], timeout: float) -> None:
        """Wait until each worker of `pipes` reports ready; closes every fd of `pipes`.

        Raises:
            ServerError: one stopped while starting, or `timeout` seconds passed first.
        """
        deadline = time.monotonic() + timeout
        waiting = dict(pipes)
        try:
            with selectors.DefaultSelector() as selector:
                for fd in waiting:
                    selector.register(fd, selectors.EVENT_READ)
                while waiting:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        names = ", ".join(str(w.index) for w in waiting.values())
                        raise ServerError(
                            f"business worker(s) {names} did not start within {timeout:.0f} s"
                        )
                    for key, _ in selector.select(min(left, 0.5)):
                        fd = int(key.fd)  # type: ignore[arg-type]
                        line = os.read(fd, 64)
                        selector.unregister(fd)
                        worker = waiting.pop(fd)
                        os.close(fd)
                        if not line.startswith(b"ready"):
                            code = worker.process.wait() if worker.process else None
                            raise ServerError(
                                f"business worker {worker.index} stopped while starting (exit "
                                f"status {code}); its error is printed above"
                            )
                        worker.ready = True
        finally:
            for fd in waiting:  # each fd is closed exactly once: here or right after its read
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- watching ---------------------------------------------------------------------------

    def _watch(self) -> None:
        """Start each dead worker again after its own pause (longer after each quick death),
        without holding up the others."""
        while not self._stop.wait(0.2):
            for worker in self.workers:
                fd = None
                with self._lock:
                    if self._stop.is_set():
                        return
                    now = time.monotonic()
                    process = worker.process
                    if worker.restart_at is None:
                        if process is None or process.poll() is None:
                            continue
                        lived = now - worker.started
                        worker.quick_deaths = 0 if lived > 60 else worker.quick_deaths + 1
                        pause = min(RESTART_PAUSE_MAX, 0.25 * 2 ** min(worker.quick_deaths, 8))
                        worker.ready = False
                        worker.restart_at = now + pause
                        self._forget(process.pid)
                        logger.warning(
                            "business worker %s (pid %s) exited with status %s after %.1f s; "
                            "starting it again in %.1f s",
                            worker.index,
                            process.pid,
                            process.returncode,
                            lived,
                            pause,
                        )
                        continue
                    if now < worker.restart_at:
                        continue
                    worker.restart_at = None
                    try:
                        fd = self._spawn(worker)
                    except ServerError as exc:
                        logger.error("%s", exc)
                        worker.restart_at = now + RESTART_PAUSE_MAX
                        continue
                    worker.restarts += 1
                threading.Thread(target=self._await_restart, args=(worker, fd), daemon=True).start()

    def _forget(self, pid: int) -> None:
        """Drop a dead worker's live metric gauges and fold its counters into the archive
        (they keep counting in the total; see mock.metrics.forget_worker)."""
        folder = self.settings.get("metrics_dir")
        if folder:
            from mockloop.mock.metrics import forget_worker

            try:
                forget_worker(Path(folder), pid)
            except Exception as exc:  # a damaged file must not stop the restarts
                logger.warning("could not drop the metrics of dead worker pid %s: %s", pid, exc)

    def _await_restart(self, worker: _Worker, fd: int) -> None:
        """Wait for a restarted worker; one that does not answer in time is killed (the
        watcher then starts it again after its pause)."""
        try:
            self._wait_ready({fd: worker}, START_TIMEOUT)
        except ServerError as exc:
            logger.error("%s", exc)
            process = worker.process
            if process is not None and process.poll() is None:
                process.kill()

    # -- reporting and stopping -------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        """Each worker: index, pid, alive, ready, restarts (for the admin `/health`)."""
        rows = []
        for worker in self.workers:
            process = worker.process
            rows.append(
                {
                    "index": worker.index,
                    "pid": process.pid if process else None,
                    "alive": process is not None and process.poll() is None,
                    "ready": worker.ready,
                    "restarts": worker.restarts,
                }
            )
        return rows

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM every worker (each flushes its request log), then kill what remains."""
        self._stop.set()
        with self._lock:
            processes = [w.process for w in self.workers if w.process is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "business worker pid %s did not stop within %.0f s; killing it",
                    process.pid,
                    timeout,
                )
                process.kill()
                process.wait()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=2)


def serve_workers(
    config: MockConfig,
    workers: int,
    *,
    on_ready: Callable[[MockRuntime], None] | None = None,
) -> int:
    """Serve `config` with `workers` business processes on one port and the admin API here;
    returns an exit code once SIGINT/SIGTERM stopped everything.

    Raises:
        ServerError: a port is busy, the platform has no SO_REUSEPORT, or a worker could not
            start.
    """
    from mockloop.mock.runtime import MockRuntime, publish_served_description
    from mockloop.mock.server import _admin_config, _MainServer, _url, bind_socket

    if workers > 1 and not sys.platform.startswith("linux"):
        raise ServerError(
            f"--workers {workers} needs Linux: only its SO_REUSEPORT spreads connections over "
            f"the workers (on {sys.platform} one worker would take them all); use --workers 1"
        )
    config = config.model_copy(update={"replica_sync": True})
    runtime = MockRuntime(config)
    runtime.check_store()
    # A plain bind first: it fails when anything holds the port, even another supervisor's
    # SO_REUSEPORT group (which a second group could otherwise join and split the traffic of).
    probe = bind_socket(config.host, config.port, what="port")
    port = probe.getsockname()[1]
    probe.close()
    holder = bind_socket(config.host, port, what="port", reuse_port=True)
    admin = None
    try:
        if config.admin_port is not None:
            admin = bind_socket(config.admin_host, config.admin_port, what="admin port")
        runtime.business_url = _url(config.host, port)
        if admin is not None:
            runtime.admin_url = _url(config.admin_host, admin.getsockname()[1])
        runtime.start()  # the store, the scenarios file, replica sync (before any worker)
        from mockloop.mock.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir(runtime.data_dir)  # counts of an earlier run must not add up
        settings = _worker_settings(config, runtime, port)
        served = runtime.data_dir / SERVED_DESCRIPTION

        def publish() -> None:
            publish_served_description(runtime, served)

        if config.watch:
            # The workers serve the version the supervisor loaded, never the files: those may
            # hold an edit it refused, or one newer than it has checked.
            publish()
            settings["served_description"] = str(served)
        pool = WorkerPool(settings, workers)
        runtime.workers = pool.describe
        try:
            pool.start()
            if config.watch:
                DescriptionWatch(runtime, on_reload=publish).start()
            gc.collect()  # as `serve` does once it answers (mock.server._freeze_heap)
            gc.freeze()
            gc.enable()
            code = _serve_admin(runtime, admin, on_ready, _admin_config, _MainServer)
        finally:
            if runtime.watch is not None:
                runtime.watch.stop()  # no reload waits on workers that are stopping
            pool.stop()
    finally:
        holder.close()
        if admin is not None:
            admin.close()
        runtime.stop()
    return code


def _serve_admin(
    runtime: MockRuntime,
    admin: socket.socket | None,
    on_ready: Callable[[MockRuntime], None] | None,
    admin_config: Any,
    server_class: Any,
) -> int:
    """Serve the admin API in this process until a signal; with no admin port, just wait."""
    if admin is None:
        stop = threading.Event()
        previous = {
            sig: signal.signal(sig, lambda *_: stop.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if on_ready is not None:
                on_ready(runtime)
            stop.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0
    from mockloop.mock.admin.app import create_admin_app

    server = server_class(admin_config(create_admin_app(runtime), runtime.config))
    if on_ready is not None:

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.01)
            if server.started:
                on_ready(runtime)

        threading.Thread(target=announce, name="mockloop-ready", daemon=True).start()
    try:
        server.run(sockets=[admin])
    except SystemExit as exc:
        return int(exc.code or 1)
    return 0 if server.started else 1


def _worker_main() -> int:
    """A business worker: settings as JSON on stdin, readiness written to `ready_fd`."""
    from mockloop.mock.runtime import MockRuntime, read_served_description
    from mockloop.mock.server import bind_socket, serve

    payload = json.loads(sys.stdin.buffer.read() or b"{}")
    config = MockConfig.model_validate(payload["config"])
    ready_fd = int(payload["ready_fd"])
    admin_url = payload.get("admin_url")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    def ready(runtime: MockRuntime) -> None:
        runtime.admin_url = admin_url
        runtime.worker = int(payload.get("worker", 0))
        if payload.get("metrics_dir"):
            from mockloop.mock.metrics import install_worker_metrics

            # Before readiness is announced: every request the supervisor lets in is counted.
            install_worker_metrics(runtime, runtime.worker, str(payload["metrics_dir"]))
        threading.Thread(target=announce, name="mockloop-ready", daemon=True).start()

    def announce() -> None:
        # Ready once the socket listens (uvicorn listens right after the start-up hooks), so
        # the supervisor never reports a port on which this worker still refuses connections.
        while not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            time.sleep(0.005)
        with contextlib.suppress(OSError):
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)

    def follow_parent() -> None:
        # Started in a session of its own (the supervisor forwards signals), a worker whose
        # supervisor died without stopping it stops itself instead of serving forever.
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=follow_parent, name="mockloop-parent", daemon=True).start()

    try:
        sock = bind_socket(config.host, config.port, what="port", reuse_port=True)
        served: MockConfig | MockRuntime = config
        if payload.get("served_description"):
            # Under --watch, the version the supervisor serves, not the files (mock.runtime).
            path = Path(payload["served_description"])
            spec, files, stamp = read_served_description(path)
            served = MockRuntime(config, spec=spec)
            served.description_files = files
            served.served_from, served.served_stamp = path, stamp
        # Under --watch the supervisor watches the files; a worker reloads when it says so.
        return serve(served, on_ready=ready, business_socket=sock, watch=False)
    except Exception as exc:  # reported to the supervisor by the closed pipe and exit status
        print(f"mockloop worker {payload.get('worker')}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(_worker_main())
