"""gunicorn configuration, derived from the service's settings (``ASEAN_MT_*``).

Usable on its own: ``gunicorn -c service/serving/gunicorn_conf.py 'service.http:create_app()'``;
``python -m service serve`` runs exactly that.

- worker class ``service.serving.worker.BufferingWorker``: gunicorn's threaded worker (a worker holds its
  models in memory once; its threads share them, and requests queue inside the engines, which use the cores:
  CTranslate2 and torch release the GIL while computing), except that requests are read in the worker's
  event loop before a thread takes them, so slow clients cannot hold the threads; requests that are not
  valid HTTP get the JSON error body, not gunicorn's HTML page.
- ``workers`` x engine threads never exceed the cores (``Settings.threads`` divides the cores by workers).
- no ``preload_app``: every worker loads its own models after the fork (CTranslate2 and torch thread pools do
  not survive a fork).
- ``timeout`` bounds a stuck request; ``graceful_timeout`` lets in-flight requests finish on SIGTERM.
- ``max_requests`` with jitter recycles workers now and then, staggered, to bound any slow leak.
- metrics: every worker writes to ``PROMETHEUS_MULTIPROC_DIR`` (a private temporary folder unless set), so
  ``/metrics`` sums all workers, including those recycled; a dead worker's live gauges are removed.
- the access log never shows an ``api_key`` from a query string, nor the credential headers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from service.config import load_settings

_settings = load_settings()

bind = os.environ.get("ASEAN_MT_BIND", "127.0.0.1:8000")
workers = max(1, _settings.workers)
worker_class = "service.serving.worker.BufferingWorker"
threads = max(1, _settings.server_threads)
worker_connections = max(threads + 1, _settings.max_connections)
timeout = _settings.request_timeout_s
graceful_timeout = _settings.graceful_timeout_s
keepalive = 5
max_requests = max(0, _settings.max_requests)
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
logger_class = "service.serving.logs.RedactingLogger"
loglevel = os.environ.get("ASEAN_MT_LOG_LEVEL", "info")
# The body limit is enforced by the app (413 with the JSON error body); these bound the request line/headers.
limit_request_line = 8190
limit_request_fields = 100

_READY = "ASEAN_MT_METRICS_DIR_READY"  # this server prepared the folder (the config is read again on HUP)


def _metrics_dir() -> str:
    """The folder every worker writes its metrics to: set before any worker imports prometheus_client."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if os.environ.get(_READY) == path and path:
        return path
    if path:  # the operator's own folder: last run's files would be counted again
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()
    else:
        path = tempfile.mkdtemp(prefix="asean-mt-metrics-")
        os.environ["ASEAN_MT_METRICS_DIR_OWNED"] = path
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_READY] = path
    return path


_metrics_dir()


def child_exit(server, worker) -> None:
    """A worker ended (recycled, crashed, killed): its counters stay counted, its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


_embedded: list = []  # the local job worker that when_ready starts (a Popen), for on_exit to stop


def on_starting(server) -> None:
    """Embedded mode: create the job store and broker tables before any process uses them. Never fatal: a job
    store that cannot be reached leaves the server translating, with job routes answering 503 until it is back."""
    if not (_settings.embedded_broker and _settings.embedded_worker):
        return
    from service.jobs.worker import prepare_embedded

    try:
        prepare_embedded(_settings)
    except Exception:  # logged; the web workers and the job worker connect on their own when they can
        server.log.exception("preparing the embedded job store failed; starting without it")


def when_ready(server) -> None:
    """Embedded mode: with no broker configured, start one local job worker next to the web workers, so that
    batch jobs run with nothing else installed. Started once the port is bound (a ``serve`` that cannot bind
    exits without leaving a worker behind); it stops when this master dies, even by SIGKILL (``--parent``),
    and first re-queues unfinished documents from the job store."""
    if not (_settings.embedded_broker and _settings.embedded_worker):
        return
    import subprocess
    import sys

    server.log.info("starting the embedded job worker (broker: SQLite in %s)", _settings.data_dir)
    _embedded.append(subprocess.Popen([sys.executable, "-m", "service", "worker", "--requeue", "--concurrency",
                                       "1", "--parent", str(os.getpid())]))


def on_exit(server) -> None:
    for proc in _embedded:
        proc.terminate()  # SIGTERM: Celery finishes its current task, then exits
        try:
            proc.wait(_settings.graceful_timeout_s)
        except Exception:
            proc.kill()
    owned = os.environ.get("ASEAN_MT_METRICS_DIR_OWNED")
    if owned:
        shutil.rmtree(owned, ignore_errors=True)


def post_fork(server, worker) -> None:
    """Route the service's own log records (logging, never print) to gunicorn's stderr."""
    import logging

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: "
                        "%(message)s")
