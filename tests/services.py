"""Private Redis and PostgreSQL servers for outage tests: started by the test on a free port, stopped (or frozen)
in the middle of it. The machine's shared services are never touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class PrivateRedis:
    """``redis-server`` on a free port, no persistence. ``stop()`` kills it; ``start()`` again on the same port."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", tempfile.gettempdir()],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not _answers(self.port):
            assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def freeze(self) -> None:
        """Still accepting connections (the kernel does), never answering: a Redis that is slow, not gone."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


class PrivatePostgres:
    """A PostgreSQL cluster made by ``initdb`` in a temporary folder, on a free port (trust authentication)."""

    def __init__(self) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="asean-mt-pg-"))
        self.data = self.root / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        done = subprocess.run([*self.as_user, "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                               "--no-sync"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = subprocess.run([*self.as_user, "pg_ctl", "-D", str(self.data), "-o", options, "-l",
                               str(self.root / "log"), "-w", "-t", "60", "start"], capture_output=True, text=True,
                              timeout=90)
        assert done.returncode == 0, done.stderr + (self.root / "log").read_text(errors="replace")
        return self

    def stop(self) -> None:
        """Immediate shutdown (like a crash): open connections are cut."""
        subprocess.run([*self.as_user, "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
