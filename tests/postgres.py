"""A throwaway PostgreSQL server for the store suite, on 127.0.0.1 and a free port.

`make test` installs Debian's PostgreSQL when it is missing (as root, with apt-get); this module
starts a cluster of its own in a temporary folder with that package's `initdb` and `pg_ctl`
(as the `postgres` user when the tests run as root, since PostgreSQL refuses to run as root),
and stops and deletes it at the end of the session.

`MOCKLOOP_TEST_DATABASE_URL`, when set, names a server to use instead. Without either, the
PostgreSQL half of the store suite skips, saying why, except under CI (`CI` set), where it fails:
CI must run both backends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import wait_for

TEST_URL_ENV = "MOCKLOOP_TEST_DATABASE_URL"


def _bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], *, as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip() or result.stdout}")


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL store tests need a server: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run both backends; `make test` installs it)")
    pytest.skip(message)


class Cluster:
    """A PostgreSQL cluster of the test's own in a temporary folder: start, stop, start again."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            _unavailable("no initdb found (apt-get install postgresql)")
        assert bin_dir is not None
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres and shutil.which("runuser") is None:
            _unavailable("running as root without runuser to start it as the postgres user")
        self.root = Path(tempfile.mkdtemp(prefix="mockloop-pg-"))
        if self.as_postgres:
            shutil.chown(self.root, user="postgres")
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        try:
            _run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                as_postgres=self.as_postgres,
            )
            self.start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(self.root, ignore_errors=True)
            _unavailable(str(exc))

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=400"
        )
        _run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            as_postgres=self.as_postgres,
        )

    def stop(self, mode: str = "fast") -> None:
        _run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
            as_postgres=self.as_postgres,
        )

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """The URL of a running server: `MOCKLOOP_TEST_DATABASE_URL`, or a cluster started here."""
    given = os.environ.get(TEST_URL_ENV, "").strip()
    if given:
        yield given
        return
    cluster = Cluster()
    try:
        yield cluster.url
    finally:
        cluster.remove()


def drop_schemas(url: str, prefix: str) -> None:
    """Drop every schema whose name starts with `prefix` (a test's own namespace)."""
    import psycopg

    def dropped() -> bool:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                names = [
                    row[0]
                    for row in conn.execute(
                        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                        (prefix.replace("_", r"\_") + "%",),
                    )
                ]
                for name in names:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except psycopg.errors.LockNotAvailable:
            return False  # another session still holds a lock on one: try again
        return True

    wait_for(dropped, f"the schemas {prefix}* to be dropped", timeout=10, every=0.1)
