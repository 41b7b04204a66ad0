"""The Flask app factory. The translation stack is built once here and handed to the views through the app;
no view builds a model, and nothing here is a module global."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from flask import Flask, g, request

from service.config import Settings, load_settings
from service.engines.router import EngineRouter
from service.errors import ConfigError
from service.http import api, compat, deepl, documents, errors, health, i18n, openapi, policy, web
from service.http import glossaries as glossaries_http
from service.http import jobs as jobs_http
from service.http import memory as memory_http
from service.http.bodies import ServiceRequest
from service.http.security import ApiKeys, CharacterRateLimit, TrustedProxies, install_headers, load_secret_key
from service.http.state import EXTENSION, EngineLayersCollector, Metrics, ServiceState
from service.jobs.service import JobService
from service.pipeline import Pipeline

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None, warm: str = "thread",
               warmup_hook: Callable[[ServiceState], None] | None = None, jobs: JobService | None = None) -> Flask:
    """``warm``: "thread" loads the engines in the background (/readyz says 503 until done), "sync" loads them
    before returning, "none" marks the app ready at once (engines then load on first use).
    ``jobs``: the batch-job service; by default one on the configured store and Celery broker."""
    settings = settings or load_settings()
    try:
        re.compile(settings.api_key_origin)
    except re.error:
        raise ConfigError(f"api_key_origin {settings.api_key_origin!r} is not a regular expression.") from None
    pipeline = pipeline or Pipeline(settings, EngineRouter(settings))
    app = Flask(__name__)
    app.request_class = ServiceRequest
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes, SECRET_KEY=load_secret_key(settings),
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    metrics = Metrics()
    state = ServiceState(
        settings, pipeline, ApiKeys(settings.api_keys_file, settings.require_api_key, settings.api_keys_reload_s),
        CharacterRateLimit(settings.rate_limit, settings.redis_url, settings.rate_limit_failure_mode,
                           settings.rate_limit_timeout_s, on_error=metrics.rate_limit_errors.inc),
        jobs=jobs or _celery_jobs(settings, pipeline), metrics=metrics)
    state.layers = EngineLayersCollector(pipeline.router, metrics)
    app.extensions[EXTENSION] = state

    _install_metrics(app, state)  # first, so that the latency includes everything below
    app.before_request(policy.enforce)
    i18n.install(app)  # the pages' language: the visitor's choice, else Accept-Language
    for blueprint in (api.bp, compat.bp, health.bp, openapi.bp, web.bp, jobs_http.bp, documents.bp,
                      glossaries_http.bp, memory_http.bp, deepl.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    install_headers(app)
    policy.check_routes(app, settings.public_endpoints)  # every route declares who may call it
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies, settings.proxy_hops)  # type: ignore[method-assign]

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
        started = g.get("started")
        state.metrics.count_request(request.url_rule.rule if request.url_rule else None, request.method,
                                    response.status_code, None if started is None else time.perf_counter() - started)
        if state.layers is not None:
            state.layers.sync()
        return response
