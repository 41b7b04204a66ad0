"""The embedded job worker lives and dies with `serve`, and `serve` survives a job database that is down: real
gunicorn, real Celery worker, a private PostgreSQL stopped and started by the test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.services import PrivatePostgres
from tests.test_serving import free_port, start, stop, wait_ready

pytestmark = pytest.mark.slow


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has stopped)."""
    try:
        state = Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_of(data_dir: Path) -> list[int]:
    """Live processes started with ASEAN_MT_DATA_DIR=data_dir (the server, its workers, the job worker)."""
    marker = f"ASEAN_MT_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def embedded_env(models_dir: Path, catalog_path: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return {"ASEAN_MT_MODELS_DIR": str(models_dir), "ASEAN_MT_CATALOG_PATH": str(catalog_path),
            "ASEAN_MT_DATA_DIR": str(data_dir), "ASEAN_MT_EMBEDDED_WORKER": "1", "ASEAN_MT_PRELOAD": "id-ms",
            "ASEAN_MT_INTRA_THREADS": "1", **extra}


def worker_pid(data_dir: Path) -> int:
    lock = data_dir / "embedded-worker.lock"
    wait_until(lambda: lock.exists() and lock.read_text().strip().isdigit(), 120, "no embedded worker started")
    return int(lock.read_text())


def test_killing_the_master_leaves_no_orphan_worker(models_dir: Path, catalog_path: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = start(port, embedded_env(models_dir, catalog_path, tmp_path))
    try:
        wait_ready(port, proc)
        worker = worker_pid(tmp_path)
        assert alive(worker) and len(processes_of(tmp_path)) >= 3  # master, web worker, job worker
        proc.send_signal(signal.SIGKILL)  # no on_exit hook runs: the worker must notice by itself
        proc.wait(10)
        wait_until(lambda: not alive(worker), 60, "the embedded worker outlived its server")
        wait_until(lambda: not processes_of(tmp_path), 60, f"orphans left: {processes_of(tmp_path)}")
    finally:
        stop(proc)


def test_one_embedded_worker_per_data_folder(models_dir: Path, catalog_path: Path, tmp_path: Path) -> None:
    """A restarted server's worker waits while the previous one (still finishing its task) runs."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **embedded_env(models_dir, catalog_path, tmp_path)}

    def worker() -> tuple[subprocess.Popen, list[str]]:
        lines: list[str] = []
        p = subprocess.Popen([sys.executable, "-m", "service", "worker", "--concurrency", "1", "--parent",
                              str(os.getpid())], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()  # type: ignore[arg-type]
        return p, lines

    first, first_lines = worker()
    second: subprocess.Popen | None = None
    try:
        wait_until(lambda: any(" ready." in line for line in first_lines), 120, "".join(first_lines[-20:]))
        second, second_lines = worker()
        wait_until(lambda: any("waiting for the embedded worker" in line for line in second_lines), 60,
                   "".join(second_lines[-20:]))
        assert str(first.pid) in next(line for line in second_lines if "waiting for" in line)
        time.sleep(2)
        assert not any(" ready." in line for line in second_lines) and second.poll() is None
        first.send_signal(signal.SIGTERM)
        first.wait(60)
        wait_until(lambda: any(" ready." in line for line in second_lines), 120, "".join(second_lines[-20:]))
        assert (tmp_path / "embedded-worker.lock").read_text() == str(second.pid)
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(60)


def test_serve_that_cannot_bind_leaves_no_worker(models_dir: Path, catalog_path: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(port, embedded_env(models_dir, catalog_path, tmp_path))
        try:
            out, _ = proc.communicate(timeout=120)
        finally:
            stop(proc)
    assert proc.returncode != 0 and "Traceback" not in out
    time.sleep(1)
    assert processes_of(tmp_path) == [] and not (tmp_path / "embedded-worker.lock").exists()


def post_job(port: int, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/jobs", method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def get_json(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read())


def web_workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(c) for c in children if b"service\0worker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_serve_starts_and_recovers_while_the_job_database_is_down(models_dir: Path, catalog_path: Path,
                                                                  tmp_path: Path) -> None:
    pg = PrivatePostgres()
    port = free_port()
    proc = start(port, embedded_env(models_dir, catalog_path, tmp_path, ASEAN_MT_JOBS_DATABASE_URL=pg.url))
    output: list[str] = []
    try:
        wait_ready(port, proc, timeout=120)  # the database has never been up
        threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
        assert get_json(port, "/readyz")["checks"]["job_store"] == "unavailable"
        body = {"documents": [{"id": f"d{i}", "text": f"Pertemuan tahunan ke-{i}."} for i in range(3)],
                "targets": ["ms"], "source": "id"}
        status, answer, headers = post_job(port, body)
        assert (status, answer["code"]) == (503, "jobs_unavailable") and "Retry-After" in headers

        [web] = web_workers(proc.pid)  # a web worker dies while the database is down: its successor boots
        os.kill(web, signal.SIGKILL)
        wait_until(lambda: web_workers(proc.pid) and web_workers(proc.pid) != [web], 60, "no new web worker")
        wait_ready(port, proc, timeout=120)

        pg.start()  # back: jobs work without a restart, and the embedded worker runs them
        status, job, _ = post_job(port, body)
        assert status == 201, job
        wait_until(lambda: get_json(port, f"/v1/jobs/{job['id']}")["state"] == "completed", 120, "job not done")
        assert get_json(port, "/readyz")["status"] in ("ready", "degraded")  # cached for two seconds at most
        assert proc.poll() is None
        text = "".join(output)
        assert "Traceback" not in text and "Worker failed to boot" not in text
    finally:
        stop(proc)
        pg.remove()
