"""Liveness, readiness and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from service.http.errors import error_response
from service.http.policy import PUBLIC, route
from service.http.state import current_service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@route("Liveness: the process answers (says nothing about models: that is /readyz)", access=PUBLIC,
       tags=("operations",))
def healthz() -> Response:
    return jsonify({"status": "alive"})


@bp.get("/readyz")
@route("Readiness: 503 until the engines are loaded", access=PUBLIC, errors=(503,), tags=("operations",))
def readyz() -> Response:
    """Ready = the engines are loaded, so the node can translate: 200, even when a batch-job dependency is down
    (then ``"status": "degraded"`` and ``checks`` names it): a load balancer must not take out of service a node
    that still translates. 503 only while the engines load, or when start-up failed."""
    state = current_service()
    if state.ready.is_set():
        checks = {"engines": "ok", **(state.jobs.health() if state.jobs is not None else {})}
        degraded = any(value != "ok" for value in checks.values())
        return jsonify({"status": "degraded" if degraded else "ready", "checks": checks})
    if state.warmup_error:
        return error_response(503, "warmup_failed", "Start-up failed while loading the engines; the server log "
                              "says why.", checks={"engines": "failed"})
    return error_response(503, "not_ready", "The engines are still loading.", headers={"Retry-After": "5"},
                          checks={"engines": "loading"})


@bp.get("/metrics")
@route("Prometheus metrics of every worker of this server", group="metrics", produces="text/plain",
       tags=("operations",))
def metrics() -> Response:
    state = current_service()
    if state.layers is not None:
        state.layers.sync()
    return Response(state.metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
