"""Batch jobs through real Celery workers: Redis + PostgreSQL (scale-out), a worker killed with SIGKILL in the
middle of a job, and the embedded mode (SQLite broker and store, no server) behind `python -m service serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.jobs.service import JobService
from service.jobs.store import JobStore, NewDocument
from service.jobs.worker import create_celery, enqueue
from service.pipeline import Pipeline
from tests.conftest import REPO
from tests.test_serving import free_port, start, stop, wait_ready

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: A Redis database of its own (flushed by the tests); parallel checkouts set ASEAN_MT_TEST_REDIS_DB apart.
REDIS = f"redis://127.0.0.1:6379/{os.environ.get('ASEAN_MT_TEST_REDIS_DB', '9')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"asean_mt_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS


class Worker:
    def __init__(self, env: dict[str, str], concurrency: int):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "worker", "--concurrency", str(concurrency)], cwd=REPO,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 90
        while not any(" ready." in line for line in self.lines):
            assert self.proc.poll() is None and time.monotonic() < deadline, "".join(self.lines[-30:])
            time.sleep(0.2)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def scale_out(settings: Settings, pipeline: Pipeline, pg_url: str, redis_url: str) -> tuple[JobService, dict]:
    s = settings.replace(jobs_database_url=pg_url, broker_url=redis_url, jobs_visibility_timeout_s=8)
    celery = create_celery(s)
    store = JobStore(pg_url)
    service = JobService(s, store, pipeline, lambda job_id, ps: enqueue(celery, job_id, ps, s.job_chunk_documents))
    env = {"ASEAN_MT_MODELS_DIR": str(s.models_dir), "ASEAN_MT_CATALOG_PATH": str(s.catalog_path),
           "ASEAN_MT_JOBS_DATABASE_URL": pg_url, "ASEAN_MT_BROKER_URL": redis_url,
           "ASEAN_MT_JOBS_VISIBILITY_TIMEOUT_S": "8", "ASEAN_MT_INTRA_THREADS": "1"}
    return service, env


def wait_state(service: JobService, job_id: str, timeout: float, until=lambda st: st["state"] == "completed"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = service.status(job_id)
        if until(status):
            return status
        time.sleep(0.25)
    raise AssertionError(f"job not there in time: {service.status(job_id)}")


def assert_exactly_once(service: JobService, job_id: str, docs: list[NewDocument], targets: list[str]) -> None:
    rows = list(service.results(job_id))
    pairs = [(r["id"], r["target"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == len(docs) * len(targets)  # no duplicates, none missing
    assert set(pairs) == {(d.id, t) for d in docs for t in targets}
    assert all(r["state"] == "done" and r["text"] for r in rows)


def documents(n: int) -> list[NewDocument]:
    return [NewDocument(f"d{i:03}", f"Pertemuan tahunan ASCN ke-{i} di Kualalumpur. Kota cerdas nomor {i}.")
            for i in range(n)]


def test_200_documents_through_redis_and_postgresql(settings: Settings, pipeline: Pipeline, pg_url: str,
                                                    redis_url: str) -> None:
    service, env = scale_out(settings, pipeline, pg_url, redis_url)
    workers = [Worker(env, concurrency=2), Worker(env, concurrency=1)]  # two workers sharing the store
    try:
        docs = documents(200)
        job, created = service.submit(docs, ["ms", "en"], "id")
        assert created
        status = wait_state(service, job.id, 240)
        assert status["progress"] == 1.0 and status["counts"]["done"] == 400
        assert_exactly_once(service, job.id, docs, ["ms", "en"])
    finally:
        for w in workers:
            w.stop()


def test_worker_killed_mid_job_then_a_new_one_finishes_it(settings: Settings, pipeline: Pipeline, pg_url: str,
                                                          redis_url: str) -> None:
    service, env = scale_out(settings, pipeline, pg_url, redis_url)
    docs = documents(160)
    first = Worker(env, concurrency=1)
    try:
        job, _ = service.submit(docs, ["ms", "en"], "id")
        wait_state(service, job.id, 120, until=lambda st: st["counts"]["done"] >= 40)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        assert service.status(job.id)["state"] != "completed"
    finally:
        first.stop()
    second = Worker(env, concurrency=1)
    try:
        status = wait_state(service, job.id, 240)
        assert status["counts"] == {"done": 320, "failed": 0, "pending": 0, "cancelled": 0}
        assert_exactly_once(service, job.id, docs, ["ms", "en"])
    finally:
        second.stop()


def test_embedded_mode_serve_runs_jobs_with_no_server(models_dir: Path, catalog_path: Path,
                                                      tmp_path: Path) -> None:
    port = free_port()
    env = {"ASEAN_MT_MODELS_DIR": str(models_dir), "ASEAN_MT_CATALOG_PATH": str(catalog_path),
           "ASEAN_MT_DATA_DIR": str(tmp_path), "ASEAN_MT_EMBEDDED_WORKER": "1", "ASEAN_MT_PRELOAD": "id-ms"}
    proc = start(port, env)
    try:
        wait_ready(port, proc)
        body = {"documents": [{"id": f"n{i}", "text": f"Pertemuan tahunan ke-{i}."} for i in range(12)],
                "targets": ["ms"], "source": "id"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/jobs", method="POST",
                                         data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            job = json.loads(r.read())
        deadline = time.monotonic() + 120
        while job["state"] != "completed":
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/jobs/{job['id']}", timeout=10) as r:
                job = json.loads(r.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/jobs/{job['id']}/results", timeout=10) as r:
            rows = [json.loads(line) for line in r.read().decode().splitlines()]
        assert [row["text"] for row in rows][:2] == ["Mesyuarat tahunan ke-0.", "Mesyuarat tahunan ke-1."]
        assert (tmp_path / "broker.sqlite").exists() and (tmp_path / "jobs.sqlite").exists()
    finally:
        stop(proc)


def test_a_chunk_whose_store_is_locked_is_retried_never_left_pending(settings: Settings, pipeline: Pipeline,
                                                                     models_dir: Path, catalog_path: Path,
                                                                     tmp_path: Path) -> None:
    """A real "database is locked" (another process holds SQLite's write lock past the store's timeout) fails the
    chunk's store call; the chunk is retried once the lock is gone, and every document gets its result."""
    import sqlite3

    s = settings.replace(data_dir=tmp_path, jobs_lock_timeout_s=0.5)
    celery = create_celery(s)
    store = JobStore(s.jobs_db, s.jobs_lock_timeout_s)
    service = JobService(s, store, pipeline, lambda job_id, ps: enqueue(celery, job_id, ps, s.job_chunk_documents))
    docs = documents(3)
    job, _ = service.submit(docs, ["ms"], "id")  # queued; no worker yet
    locker = sqlite3.connect(tmp_path / "jobs.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # holds the write lock: every claim/record of the worker times out
    env = {"ASEAN_MT_MODELS_DIR": str(models_dir), "ASEAN_MT_CATALOG_PATH": str(catalog_path),
           "ASEAN_MT_DATA_DIR": str(tmp_path), "ASEAN_MT_JOBS_LOCK_TIMEOUT_S": "0.5", "ASEAN_MT_INTRA_THREADS": "1"}
    worker = Worker(env, concurrency=1)
    try:
        deadline = time.monotonic() + 90
        while not any("locked" in line or "unreachable" in line or "raised unexpected" in line
                      for line in worker.lines):
            assert time.monotonic() < deadline, "".join(worker.lines[-30:])
            time.sleep(0.2)
        assert service.status(job.id)["counts"]["pending"] == 3  # reading works; nothing could be written
        locker.execute("ROLLBACK")
        locker.close()
        status = wait_state(service, job.id, 90)
        assert status["counts"] == {"done": 3, "failed": 0, "pending": 0, "cancelled": 0}
        assert_exactly_once(service, job.id, docs, ["ms"])
        assert "Traceback" not in "".join(worker.lines)
    finally:
        worker.stop()


def test_a_job_whose_task_message_was_lost_is_queued_again(settings: Settings, pipeline: Pipeline, pg_url: str,
                                                            redis_url: str) -> None:
    """kombu's Redis transport can lose a message taken off the queue when Redis stops at that moment (found by
    bench/soak.py). Here the message is never sent at all: the worker's sweep finds the job without progress and
    an empty queue, and queues its documents; the results are still exactly once."""
    service, env = scale_out(settings, pipeline, pg_url, redis_url)
    lost = JobService(service.settings, service.store, pipeline, lambda job_id, positions: None)  # sends nothing
    docs = documents(12)
    job, _ = lost.submit(docs, ["ms"], "id")
    worker = Worker(env, concurrency=2)
    try:
        wait_state(service, job.id, timeout=120)  # visibility timeout 8 s: swept within ~10 s
    finally:
        worker.stop()
    assert_exactly_once(service, job.id, docs, ["ms"])
    assert any("queued again (a task message was lost)" in line for line in worker.lines)


def test_a_worker_that_stops_on_an_error_starts_again_once_the_queue_answers(monkeypatch) -> None:
    """Celery's "unrecoverable error" (kombu's Redis transport can raise one while reconnecting) ends its worker;
    ours starts again as a fresh process once the broker answers. A worker told to stop just stops."""
    from service.jobs import worker

    monkeypatch.setattr(worker, "RESTART_RETRY_S", 0.0)
    restarts: list[int] = []
    checks = iter([ConnectionError("away"), ConnectionError("away"), None])

    def reachable() -> None:
        error = next(checks)
        if error is not None:
            raise error

    worker.keep_running(lambda: 0, reachable, lambda: restarts.append(1))
    assert restarts == []  # a clean stop
    worker.keep_running(lambda: 1, reachable, lambda: restarts.append(1))
    assert restarts == [1] and next(checks, "done") == "done"  # restarted only after the queue answered


def test_a_restarted_worker_is_the_same_command_in_a_fresh_process(tmp_path: Path) -> None:
    """restart_process replaces the process by the command it was started with (same pid, new interpreter)."""
    log = tmp_path / "runs"
    code = ("import os, sys; from pathlib import Path; from service.jobs import worker; "
            f"log = Path({str(log)!r}); runs = log.read_text().split() if log.exists() else []; "
            "log.write_text(' '.join([*runs, str(os.getpid())])); "
            "worker.keep_running(lambda: 0 if runs else 1, lambda: None, worker.restart_process)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = log.read_text().split()
    assert first == second  # one process, run twice
    assert "starts again once the task queue answers" in done.stderr
