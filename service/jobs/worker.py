"""Celery: the app factory, the chunk task, and the worker entry point (``python -m service worker``).

One task code path for both deployments: the embedded default (kombu's SQLAlchemy transport on a SQLite file,
started by ``serve`` itself) and scale-out (Redis or RabbitMQ, any number of ``python -m service worker``
processes on any machines, sharing a PostgreSQL job store). Late acknowledgement and reject-on-worker-lost
make a task taken by a dying worker go back to the queue (Redis: after ``jobs_visibility_timeout_s``;
RabbitMQ: when the connection drops). The embedded transport cannot redeliver a task whose worker died, so
the embedded worker re-queues every unfinished document from the job store when it starts. Result writes
are idempotent, so a redelivered chunk never produces a second result.

A chunk whose job-store call fails (SQLite "database is locked" past its timeout, PostgreSQL gone) is retried
with back-off until the store answers again; documents it finished are skipped on the retry.

A task message can be lost on its way despite all that: kombu's Redis transport takes a message off the queue
and then records it as unacknowledged, two steps, so a Redis that stops between them loses it. The job store is
the source of truth, so every scale-out worker sweeps now and then: when the task queue is empty and a job has
pending documents but no progress for ``jobs_visibility_timeout_s`` (longer than any chunk takes), its pending
documents are queued again. A copy of a chunk that was not lost only finds its documents done.

The embedded worker lives and dies with the server that started it: it stops when its parent dies (Linux's
parent-death signal, and a watchdog on the parent's pid everywhere), and one lock file per data folder keeps
a restarted server from running a second one beside a first that is still finishing its task.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from celery import Celery

from service.config import Settings
from service.engines.router import EngineRouter
from service.errors import JobsUnavailable
from service.jobs.processing import process_chunk
from service.jobs.service import JobService
from service.jobs.store import JobStore
from service.pipeline import Pipeline

log = logging.getLogger(__name__)
TASK_NAME = "asean_mt.translate_chunk"
QUEUE = "asean_mt.translate"
#: Longest wait (seconds) between retries of a chunk whose job store cannot be reached.
STORE_RETRY_MAX_S = 60
#: How often (seconds) the embedded worker checks that the server that started it is still there.
PARENT_CHECK_S = 1.0
#: How often (seconds) a worker that stopped on a broker error asks the task queue whether it answers again.
RESTART_RETRY_S = 2.0
#: How often (seconds) the embedded worker tries its start-up re-queue again while the job store is away.
REQUEUE_RETRY_S = 5.0
#: The sweep for jobs whose task messages were lost runs every visibility timeout / SWEEPS_PER_TIMEOUT seconds
#: (at least SWEEP_MIN_S apart): a lost chunk waits between one and 1.25 visibility timeouts.
SWEEPS_PER_TIMEOUT = 4
SWEEP_MIN_S = 5.0


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
            self._store = JobStore(self.settings.jobs_db, self.settings.jobs_lock_timeout_s)
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

    @app.task(name=TASK_NAME, bind=True, max_retries=None)
    def translate_chunk(task: Any, job_id: str, positions: list[int], round_: int = 0) -> int:
        try:
            retry = process_chunk(ctx.store, ctx.pipeline, job_id, positions, settings.job_max_attempts)
        except JobsUnavailable as exc:  # the store went away mid-chunk: the whole chunk again, later
            wait = min(STORE_RETRY_MAX_S, 2 ** min(task.request.retries, 6))
            log.warning("job %s: job store unreachable, chunk of %d documents retried in %d s", job_id,
                        len(positions), wait)
            raise task.retry(countdown=wait, exc=exc) from None
        if retry:  # back off a little: transient failures (a busy engine) often clear
            task.app.send_task(TASK_NAME, args=[job_id, retry, round_ + 1], countdown=min(30, 2 ** round_))
        return len(positions) - len(retry)

    return app


def broker_check(app: Celery) -> Callable[[], None]:
    """A check that raises when the task queue cannot be reached (one try, the broker's connect timeout)."""

    def check() -> None:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)

    return check


def celery_job_service(settings: Settings, pipeline: Pipeline) -> JobService:
    """The job service of a web process: the configured store (connected on first use) and Celery broker."""
    celery = create_celery(settings)
    return JobService(settings, JobStore(settings.jobs_db, settings.jobs_lock_timeout_s), pipeline,
                      lambda job_id, positions: enqueue(celery, job_id, positions, settings.job_chunk_documents),
                      broker_check=broker_check(celery))


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


def queue_length(app: Celery) -> int:
    """Task messages waiting in the queue (not those a worker has taken)."""
    with app.connection_for_write() as conn:  # declared as the workers declare it (a no-op once it exists)
        return app.amqp.queues[QUEUE].bind(conn.default_channel).queue_declare().message_count


def sweep(app: Celery, store: JobStore, idle_s: float, chunk: int) -> int:
    """Queue again the pending documents of jobs without progress for ``idle_s`` seconds, if the task queue is
    empty (with tasks waiting, a job without progress is only waiting its turn). Returns the documents queued."""
    if queue_length(app):
        return 0
    n = 0
    for job_id in store.stalled_jobs(idle_s):
        positions = store.pending_positions(job_id)
        if positions:
            log.warning("job %s: no progress for %.0f s and no task waiting; %d pending documents queued again "
                        "(a task message was lost)", job_id, idle_s, len(positions))
            enqueue(app, job_id, positions, chunk)
            n += len(positions)
    return n


def _sweep_forever(app: Celery, store: JobStore, settings: Settings) -> None:
    idle = settings.jobs_visibility_timeout_s
    interval = max(SWEEP_MIN_S, idle / SWEEPS_PER_TIMEOUT)
    while True:
        time.sleep(interval * random.uniform(0.9, 1.1))  # workers started together do not sweep together
        try:
            sweep(app, store, idle, settings.job_chunk_documents)
        except JobsUnavailable:
            pass  # the store logs the outage once; the next sweep tries again
        except Exception as exc:  # the broker is away: the next sweep tries again
            log.info("sweep for lost tasks skipped: %s", str(exc).splitlines()[0][:200] if str(exc) else
                     exc.__class__.__name__)


def prepare_embedded(settings: Settings) -> None:
    """Create the embedded job store and broker tables once, before the web workers and the job worker start
    using them together (SQLite schema creation from several processes at once can fail). A store that cannot be
    reached is not fatal: the server starts, and job routes answer 503 until it is back."""
    try:
        JobStore(settings.jobs_db, settings.jobs_lock_timeout_s).ping()
    except JobsUnavailable:
        log.warning("the job store is unreachable at start-up; batch jobs wait for it, translation starts now")
    app = create_celery(settings)
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=3)
            app.amqp.queues[QUEUE].bind(conn.default_channel).declare()
    except Exception as exc:  # the embedded broker is a file: unreadable data_dir, full disk...
        log.warning("the embedded task queue in %s is not usable yet: %s", settings.data_dir,
                    str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__)


def check_reachable(settings: Settings, app: Celery, store: JobStore) -> None:
    """For a worker started by hand: the job store and the broker must answer, or one sentence says what to do."""
    if not store.reachable():
        raise JobsUnavailable(f"The job store {store.where} cannot be reached; start it, or correct "
                              "jobs_database_url, then start the worker again.")
    try:
        broker_check(app)()
    except Exception:
        where = "in " + str(settings.data_dir) if settings.embedded_broker else redact(settings.broker)
        raise JobsUnavailable(f"The task queue ({where}) cannot be reached; start it, or correct broker_url, "
                              "then start the worker again.") from None


def redact(url: str) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(url)


def run_worker(settings: Settings, concurrency: int, requeue: bool, parent: int | None = None) -> None:
    """Run a worker in this process: a thread pool sharing one copy of the models. ``parent``: the pid of the
    server that started this worker (embedded mode); the worker stops when that process is gone."""
    app = create_celery(settings)
    ctx: WorkerContext = app.service_context  # type: ignore[attr-defined]
    if parent is not None:
        follow_parent(parent)
        hold_worker_lock(settings.data_dir / "embedded-worker.lock")
    else:
        check_reachable(settings, app, ctx.store)
    ctx.pipeline  # noqa: B018 - load the pipeline (glossaries, segmenter) before taking tasks
    if requeue:
        threading.Thread(target=_requeue_when_reachable, args=(app, ctx.store, settings.job_chunk_documents),
                         name="requeue", daemon=True).start()
    if not settings.embedded_broker:  # the embedded queue is a table: nothing is lost between two steps there
        threading.Thread(target=_sweep_forever, args=(app, ctx.store, settings), name="sweep", daemon=True).start()
    argv = ["worker", "--pool", "threads", "--concurrency", str(concurrency), "--queues", QUEUE,
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    keep_running(lambda: app.start(argv), broker_check(app), restart_process)


def keep_running(work: Callable[[], int | None], reachable: Callable[[], None],
                 restart: Callable[[], None]) -> None:
    """Run the Celery worker (``work`` returns its exit code). A worker told to stop (exit 0) stops; one that
    stopped on an error of its own is started again once the task queue answers, as a fresh process
    (``restart``): Celery calls an error in its consumer "unrecoverable", and kombu's Redis transport can raise
    one while it reconnects after a broker restart (seen in bench/soak.py: the worker was gone, and every job
    after it waited). What the old worker held is re-queued by the sweep (``JobStore.stalled_jobs``)."""
    code = work()
    if not code:
        return
    log.warning("the job worker stopped on an error (exit %s); it starts again once the task queue answers", code)
    while True:
        try:
            reachable()
            break
        except Exception:  # still away: the broker's own error, retried until it answers
            time.sleep(RESTART_RETRY_S)
    restart()


def restart_process() -> None:
    """Replace this process by a fresh run of the same command (same pid; the models are loaded again)."""
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _requeue_when_reachable(app: Celery, store: JobStore, chunk: int) -> None:
    """Re-queue unfinished documents once the store answers (at once, normally)."""
    while True:
        try:
            n = requeue_unfinished(app, store, chunk)
            log.info("re-queued %d unfinished documents", n)
            return
        except JobsUnavailable:
            time.sleep(REQUEUE_RETRY_S)  # the store logs the outage once


# -- the embedded worker's life ----------------------------------------------------------------------------
_lock_file: list[IO[str]] = []  # held open (and locked) for the life of the process


def follow_parent(parent: int) -> None:
    """Stop (SIGTERM: Celery finishes its task, then exits) when the process ``parent`` is gone: the kernel's
    parent-death signal on Linux, and a watchdog thread that compares the parent pid (also if reparented)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1  # the name in <sys/prctl.h>
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        log.warning("the server that started this worker (pid %d) is gone; stopping", parent)
        raise SystemExit(0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        log.warning("the server that started this worker (pid %d) is gone; stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def hold_worker_lock(path: Path) -> None:
    """One embedded worker per data folder: wait until an earlier one (still finishing its task after its server
    was killed) has stopped, then hold the lock for the life of this process. The file holds the owner's pid."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # kept open (and locked) on purpose
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waiting:
                handle.seek(0)
                log.warning("waiting for the embedded worker %s (of an earlier start) to stop",
                            handle.read().strip() or "?")
                waiting = True
            time.sleep(0.5)
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _lock_file.append(handle)
