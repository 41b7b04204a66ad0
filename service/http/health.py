"""Liveness, readiness and metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.http.errors import error_response
from service.http.state import current_service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers. Says nothing about models: that is /readyz."""
    return jsonify({"status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    state = current_service()
    if state.ready.is_set():
        return jsonify({"status": "ready"})
    if state.warmup_error:
        return error_response(503, "warmup_failed", f"Start-up failed ({state.warmup_error}); see the server log.")
    return error_response(503, "not_ready", "The engines are still loading.", headers={"Retry-After": "5"})


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(current_service().metrics.registry), mimetype=CONTENT_TYPE_LATEST)
