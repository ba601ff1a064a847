"""Operating-system work for detached mock servers: free ports, spawning a process in its own
session, telling whether a recorded pid is still that process, and stopping its group.

A pid alone is not an identity: after a server dies the system may give its number to another
process. On Linux the kernel's start time of the process (`/proc/PID/stat`, field 22) is
recorded with the pid, and a pid whose start time differs is a different process. Elsewhere
only existence can be checked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = [
    "is_alive",
    "log_tail",
    "port_is_free",
    "port_listens",
    "process_start",
    "spawn_detached",
    "terminate",
]

_WINDOWS = sys.platform == "win32"


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (binding as uvicorn will)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if not _WINDOWS:  # on Windows SO_REUSEADDR lets a second socket steal a bound port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_listens(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first); None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    return text[text.rfind(")") + 2 :].split()


def process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot) where the system tells it."""
    fields = _proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def _windows_alive(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    kernel32 = getattr(ctypes, "windll").kernel32  # noqa: B009 - absent off Windows
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259
    finally:
        kernel32.CloseHandle(handle)


def is_alive(pid: int, started: str | None = None) -> bool:
    """Whether `pid` is a live process and, when `started` is known, still the same one.

    A zombie (exited, not yet reaped by its parent) counts as dead.
    """
    if pid <= 0:
        return False
    if _WINDOWS:  # pragma: no cover
        return _windows_alive(pid)
    if Path("/proc/self/stat").exists():
        fields = _proc_stat(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        return started is None or len(fields) <= 19 or fields[19] == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: not a server this user started
        return False
    return True


def spawn_detached(
    command: list[str], *, cwd: Path, env: dict[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """Start `command` in its own session (so it outlives this process and its terminal),
    output to `log_file`, stdin closed.

    While this process lives, a daemon thread waits for the child so it never lingers as a
    zombie; once this process exits the system reparents and reaps it.
    """
    options: dict[str, object] = {}
    if _WINDOWS:  # pragma: no cover
        options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) | getattr(
            subprocess, "DETACHED_PROCESS", 0x8
        )
    else:
        options["start_new_session"] = True
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            **options,  # type: ignore[arg-type]
        )
    threading.Thread(target=process.wait, name=f"mockloop-reap-{process.pid}", daemon=True).start()
    return process


def _signal_group(pid: int, sig: signal.Signals) -> None:
    if _WINDOWS:  # pragma: no cover - no process groups to signal; TerminateProcess
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        return
    try:
        # The server leads its own session and group (start_new_session), so its group id is
        # its pid; signalling the group also reaches anything it started.
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_dead(pid: int, started: str | None, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not is_alive(pid, started):
            return True
        time.sleep(0.02)
    return not is_alive(pid, started)


def terminate(pid: int, started: str | None, *, timeout: float = 10.0) -> bool:
    """Stop `pid`'s process group: SIGTERM (a mock flushes its request log and exits), then
    SIGKILL after `timeout` seconds. True once the process is gone.

    Nothing is signalled when `pid` no longer is the process started at `started`.
    """
    if not is_alive(pid, started):
        return True
    _signal_group(pid, signal.SIGTERM)
    if _wait_dead(pid, started, time.monotonic() + timeout):
        return True
    if not _WINDOWS and is_alive(pid, started):
        _signal_group(pid, signal.SIGKILL)
    return _wait_dead(pid, started, time.monotonic() + 5.0)


def log_tail(path: Path | None, lines: int = 15) -> str:
    """The last `lines` non-empty lines of a log file ("" when there is none)."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
