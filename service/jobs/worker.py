"""Celery: the app factory, the chunk task, and the worker entry point (``python -m service worker``).

One task code path for both deployments: the embedded default (kombu's SQLAlchemy transport on a SQLite file,
started by ``serve`` itself) and scale-out (Redis or RabbitMQ, any number of ``python -m service worker``
processes on any machines, sharing a PostgreSQL job store). Late acknowledgement and reject-on-worker-lost
make a task taken by a dying worker go back to the queue (Redis: after ``jobs_visibility_timeout_s``;
RabbitMQ: when the connection drops). The embedded transport cannot redeliver a task whose worker died, so
the embedded worker re-queues every unfinished document from the job store when it starts. Result writes
are idempotent, so a redelivered chunk never produces a second result.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from service.config import Settings
from service.engines.router import EngineRouter
from service.jobs.processing import process_chunk
from service.jobs.store import JobStore
from service.pipeline import Pipeline

log = logging.getLogger(__name__)
TASK_NAME = "asean_mt.translate_chunk"
QUEUE = "asean_mt.translate"


class WorkerContext:
    """What a worker process holds: its job store and its pipeline (models loaded once, on first use)."""

    def __init__(self, settings: Settings, pipeline: Pipeline | None = None, store: JobStore | None = None):
        self.settings = settings
        self._pipeline = pipeline
        self._store = store

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = Pipeline(self.settings, EngineRouter(self.settings))
        return self._pipeline

    @property
    def store(self) -> JobStore:
        if self._store is None:
            self._store = JobStore(self.settings.jobs_db)
        return self._store


def create_celery(settings: Settings, context: WorkerContext | None = None) -> Celery:
    if settings.embedded_broker:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("asean_mt", broker=settings.broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=QUEUE, task_ignore_result=True, worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True, task_serializer="json", accept_content=["json"],
    )
    if not settings.embedded_broker:  # the SQLAlchemy transport hands its options to create_engine()
        app.conf.broker_transport_options = {
            "visibility_timeout": settings.jobs_visibility_timeout_s,
            # Redis: look for tasks of dead workers every visibility_timeout / 4 (at most every 10 s)
            "unacked_restore_interval": max(1, min(10, settings.jobs_visibility_timeout_s // 4)),
            "unacked_restore_throttle": 1,
        }
    else:
        app.conf.broker_polling_interval = 0.5  # how often an idle embedded worker looks for tasks
    ctx = context or WorkerContext(settings)
    app.service_context = ctx  # type: ignore[attr-defined]

    @app.task(name=TASK_NAME, bind=True)
    def translate_chunk(task: Any, job_id: str, positions: list[int], round_: int = 0) -> int:
        retry = process_chunk(ctx.store, ctx.pipeline, job_id, positions, settings.job_max_attempts)
        if retry:  # back off a little: transient failures (a busy engine) often clear
            task.app.send_task(TASK_NAME, args=[job_id, retry, round_ + 1], countdown=min(30, 2 ** round_))
        return len(positions) - len(retry)

    return app


def enqueue(app: Celery, job_id: str, positions: list[int], chunk: int) -> None:
    for i in range(0, len(positions), chunk):
        app.send_task(TASK_NAME, args=[job_id, positions[i:i + chunk]])


def requeue_unfinished(app: Celery, store: JobStore, chunk: int) -> int:
    """Queue every pending document of every unfinished job again (the store is the source of truth)."""
    n = 0
    for job_id in store.unfinished_jobs():
        positions = store.pending_positions(job_id)
        enqueue(app, job_id, positions, chunk)
        n += len(positions)
    return n


def prepare_embedded(settings: Settings) -> None:
    """Create the embedded job store and broker tables once, before the web workers and the job worker start
    using them together (SQLite schema creation from several processes at once can fail)."""
    JobStore(settings.jobs_db)
    app = create_celery(settings)
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
        app.amqp.queues[QUEUE].bind(conn.default_channel).declare()


def run_worker(settings: Settings, concurrency: int, requeue: bool) -> None:
    """Run a worker in this process: a thread pool sharing one copy of the models."""
    app = create_celery(settings)
    ctx: WorkerContext = app.service_context  # type: ignore[attr-defined]
    ctx.pipeline  # noqa: B018 - load the pipeline (glossaries, segmenter) before taking tasks
    if requeue:
        n = requeue_unfinished(app, ctx.store, settings.job_chunk_documents)
        log.info("re-queued %d unfinished documents", n)
    app.worker_main(["worker", "--pool", "threads", "--concurrency", str(concurrency), "--queues", QUEUE,
                     "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"])
