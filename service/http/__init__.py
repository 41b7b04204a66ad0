"""The Flask app factory. The translation stack is built once here and handed to the views through the app;
no view builds a model, and nothing here is a module global."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, g, request

from service.config import Settings, load_settings
from service.engines.router import EngineRouter
from service.http import api, compat, errors, health, openapi, web
from service.http import jobs as jobs_http
from service.http.security import ApiKeys, CharacterRateLimit, install_headers, load_secret_key
from service.http.state import EXTENSION, EngineLayersCollector, ServiceState
from service.jobs.service import JobService
from service.pipeline import Pipeline

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None, warm: str = "thread",
               warmup_hook: Callable[[ServiceState], None] | None = None, jobs: JobService | None = None) -> Flask:
    """``warm``: "thread" loads the engines in the background (/readyz says 503 until done), "sync" loads them
    before returning, "none" marks the app ready at once (engines then load on first use).
    ``jobs``: the batch-job service; by default one on the configured store and Celery broker."""
    settings = settings or load_settings()
    pipeline = pipeline or Pipeline(settings, EngineRouter(settings))
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes, SECRET_KEY=load_secret_key(settings),
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = ServiceState(settings, pipeline, ApiKeys(settings.api_keys_file, settings.require_api_key),
                         CharacterRateLimit(settings.rate_limit, settings.redis_url),
                         jobs=jobs or _celery_jobs(settings, pipeline))
    app.extensions[EXTENSION] = state
    state.metrics.registry.register(EngineLayersCollector(pipeline.router))

    for blueprint in (api.bp, compat.bp, health.bp, openapi.bp, web.bp, jobs_http.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    install_headers(app)
    _install_metrics(app, state)

    if warm == "sync":
        state.warm_up(warmup_hook)
    elif warm == "thread":
        threading.Thread(target=state.warm_up, args=(warmup_hook,), name="warm-up", daemon=True).start()
    else:
        state.ready.set()
        state.metrics.ready.set(1)
    return app


def _celery_jobs(settings: Settings, pipeline: Pipeline) -> JobService:
    from service.jobs.worker import celery_job_service

    return celery_job_service(settings, pipeline)  # connects on first use: a database that is down is a 503


def _install_metrics(app: Flask, state: ServiceState) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response):  # type: ignore[no-untyped-def]
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        state.metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if "started" in g:
            state.metrics.latency.labels(endpoint).observe(time.perf_counter() - g.started)
        return response
