"""gunicorn configuration, derived from the service's settings (``ASEAN_MT_*``).

Usable on its own: ``gunicorn -c service/serving/gunicorn_conf.py 'service.http:create_app()'``;
``python -m service serve`` runs exactly that.

- worker class ``gthread``: a worker holds its models in memory once; its threads share them, and requests
  queue inside the engines, which use the cores (CTranslate2 and torch release the GIL while computing).
- ``workers`` x engine threads never exceed the cores (``Settings.threads`` divides the cores by workers).
- no ``preload_app``: every worker loads its own models after the fork (CTranslate2 and torch thread pools do
  not survive a fork).
- ``timeout`` bounds a stuck request; ``graceful_timeout`` lets in-flight requests finish on SIGTERM.
- ``max_requests`` with jitter recycles workers now and then, staggered, to bound any slow leak.
"""

from __future__ import annotations

import os

from service.config import load_settings

_settings = load_settings()

bind = os.environ.get("ASEAN_MT_BIND", "127.0.0.1:8000")
workers = max(1, _settings.workers)
worker_class = "gthread"
threads = max(1, _settings.server_threads)
timeout = _settings.request_timeout_s
graceful_timeout = _settings.graceful_timeout_s
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("ASEAN_MT_LOG_LEVEL", "info")
# The body limit is enforced by the app (413 with the JSON error body); these bound the request line/headers.
limit_request_line = 8190
limit_request_fields = 100


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


def post_fork(server, worker) -> None:
    """Route the service's own log records (logging, never print) to gunicorn's stderr."""
    import logging

    logging.basicConfig(level=loglevel.upper(), format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: "
                        "%(message)s")
