"""Worker processes: started as `python -m mockloop.load.process`, driven over pipes.

The parent writes the pickled (plan, index) as one frame on the child's stdin; the child
answers "ready" once its imports are done, waits for a `go START_EPOCH` line, runs, and sends
ticks and its final report as frames on stdout (4-byte big-endian length, then a pickle).
A `stop` line, or the end of stdin (the parent is gone), ends the load early.

Plain child processes rather than `multiprocessing`: its spawn start method re-runs the
parent's main script in every child, which turns a user's unguarded script (no
`if __name__ == "__main__":`) into a fork bomb of load runs.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import time
from typing import IO, Any

__all__ = ["frame", "main", "read_frame"]

_HEADER = struct.Struct(">I")


def frame(message: Any) -> bytes:
    """One message as a frame: length, then the pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> Any:
    """The next frame's message from a blocking stream; EOFError at the end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def main() -> int:
    """The child's entry point."""
    from mockloop.load.worker import Worker, new_event_loop

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else prints goes to stderr, never between the frames
    lock = threading.Lock()

    def emit(message: Any) -> None:
        data = frame(message)
        with lock:
            out.write(data)
            out.flush()

    stdin = sys.stdin.buffer
    plan, index = read_frame(stdin)
    loop, loop_name = new_event_loop()
    stop = threading.Event()
    worker = Worker(plan, index, emit, stop.is_set, loop_name)
    loop.run_until_complete(worker.prepare())
    emit(("ready", index))
    line = stdin.readline()
    if not line.startswith(b"go "):
        return 0
    start_at = float(line[3:])

    def watch() -> None:
        for command in stdin:
            if command.strip() == b"stop":
                break
        stop.set()

    threading.Thread(target=watch, name="mockloop-load-stdin", daemon=True).start()
    try:
        loop.run_until_complete(worker.run(start_at - time.time()))
    finally:
        loop.close()
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
