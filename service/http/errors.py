"""HTTP errors: one JSON body for every failure, status codes mapped from the core's errors in one place.

Body: ``{"error": "<one sentence for people>", "code": "<machine-readable>", ...details}``. ``error`` is a
string, as LibreTranslate clients expect, so the same body serves every endpoint. HTML is never returned,
and exception text from libraries never reaches a client (it is logged instead).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

from service import errors
from service.jobs.service import JobsUnavailable
from service.jobs.store import IdempotencyConflict, JobNotFound

log = logging.getLogger(__name__)

#: Core error -> HTTP status; the first matching class wins, so subclasses come first.
STATUS: list[tuple[type[errors.ServiceError], int]] = [
    (JobNotFound, 404),
    (errors.CorrectionNotFound, 404),
    (errors.CorrectionsUnavailable, 503),
    (JobsUnavailable, 503),
    (errors.GlossariesUnavailable, 503),
    (errors.GlossaryConflict, 409),
    (errors.CorrectionConflict, 409),
    (IdempotencyConflict, 409),
    (errors.InputTooLarge, 413),
    (errors.GlossaryNotFound, 400),
    (errors.InvalidInput, 400),
    (errors.ModelMissing, 503),
    (errors.ModelInvalid, 503),
    (errors.GlossaryInvalid, 503),
    (errors.ModelDownloadFailed, 502),
    (errors.EngineFailed, 502),
    (errors.ConfigError, 500),
    (errors.ServiceError, 500),
]


#: Core errors that pass by themselves -> seconds for the Retry-After header.
RETRY_AFTER: dict[type[errors.ServiceError], int] = {JobsUnavailable: 30, errors.GlossariesUnavailable: 30,
                                                   errors.CorrectionsUnavailable: 30}


class ApiError(Exception):
    """An HTTP-level failure raised by the HTTP layer itself (validation, auth, limits, content type)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **details: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.details = status, code, message, headers, details


class MalformedBody(BadRequest):
    """The server could not decode the body (broken chunked framing): raised while the body is read."""


def status_for(error: errors.ServiceError) -> int:
    return next(status for cls, status in STATUS if isinstance(error, cls))


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
                   **details: Any) -> Response:
    response = jsonify({"error": message, "code": code, **details})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def retry_headers(error: errors.ServiceError) -> dict[str, str] | None:
    retry = next((seconds for cls, seconds in RETRY_AFTER.items() if isinstance(error, cls)), None)
    return {"Retry-After": str(retry)} if retry is not None else None


def service_error_response(error: errors.ServiceError) -> Response:
    return error_response(status_for(error), error.code, error.message, retry_headers(error), **error.details)


#: Errors answered with the JSON body even on web pages: they are not about what the visitor typed.
NOT_INLINE = frozenset({"csrf_failed", "cross_site_request", "invalid_api_key"})


def _respond(status: int, code: str, message: str, headers: dict[str, str] | None = None,
             **details: Any) -> Response:
    """The JSON error body; on a web page (its route policy renders errors inline), the page with the message."""
    policy = g.get("policy")
    shape = getattr(policy, "errors_as", None)
    if shape is not None:  # another API's clients (DeepL's) read its own error shape and status codes
        response = shape(status, code, message)
        for key, value in (headers or {}).items():
            response.headers.setdefault(key, value)
        return response
    page = getattr(policy, "page", None)
    if page is not None and code not in NOT_INLINE:
        try:
            response = page(for_visitors(code, message, details), status)
        except Exception:  # the page cannot be drawn for this request: the JSON body says it all the same
            log.exception("error page failed")
        else:
            for key, value in (headers or {}).items():
                response.headers[key] = value
            return response
    return error_response(status, code, message, headers, **details)


def for_visitors(code: str, message: str, details: dict[str, Any]) -> str:
    """An error as a web page says it: what is missing on the server, not the operator's command to fix it."""
    if code != "model_missing":
        return message
    from flask_babel import gettext

    from service.http.i18n import language_name

    language = details.get("target") or details.get("language")
    if isinstance(language, str) and language:
        return gettext("%(language)s is not installed on this server.", language=language_name(language))
    return gettext("A language this needs is not installed on this server.")


#: For a blueprint's own error handlers: the same answer as the app's (the page, or the JSON body).
respond = _respond


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return _respond(error.status, error.code, error.message, error.headers, **error.details)

    @app.errorhandler(errors.ServiceError)
    def _service_error(error: errors.ServiceError) -> Response:
        return _respond(status_for(error), error.code, error.message, retry_headers(error), **error.details)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        if error.code == 413:
            limit = request.max_content_length
            return _respond(413, "input_too_large", f"The request body is larger than this route accepts ("
                            f"{limit:,} bytes)." if limit else "The request body is too large.", limit=limit)
        if isinstance(error, MalformedBody):
            return _respond(400, "malformed_body", "The request body is malformed (its chunked encoding is broken).")
        code = (error.name or "error").lower().replace(" ", "_")
        response = error_response(error.code or 500, code, error.description or error.name)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        internal = errors.internal_error(error, f"handling {request.method} {request.path}", log)
        return error_response(500, internal.code, internal.message, **internal.details)
