"""The OpenAPI 3 document, generated from the pydantic models that validate the requests, and a docs page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from pydantic.json_schema import models_json_schema

from service import __version__
from service.http.schemas import DetectBody, SummarizeBody, TranslateBody
from service.http.state import current_service

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object", "required": ["error", "code"],
    "properties": {"error": {"type": "string", "description": "one sentence for people"},
                   "code": {"type": "string", "description": "machine-readable reason"}},
    "additionalProperties": True,
}
JSON_OBJECT = {"type": "object", "additionalProperties": True}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad request", 401: "API key missing or invalid", 404: "not found", 413: "a limit was exceeded",
            415: "wrong content type", 422: "validation failed", 429: "rate limited (see Retry-After)",
            502: "engine failure", 503: "a model must be pulled, or not ready"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _post(model: str, summary: str, description: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "description": description,
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}}},
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": JSON_OBJECT}}},
                      **_errors(400, 401, 413, 415, 422, 429, 502, 503)},
    }}


def _get(summary: str, *errors: int) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": JSON_OBJECT}}}, **_errors(*errors)}}}


def build_document() -> dict[str, Any]:
    s = current_service().settings
    _, defs = models_json_schema([(m, "validation") for m in (TranslateBody, DetectBody, SummarizeBody)],
                                 ref_template="#/components/schemas/{model}")
    schemas = {**defs.get("$defs", {}), "Error": ERROR_SCHEMA}
    limits = (f"Limits: {s.max_text_chars:,} characters per text, {s.max_texts} texts and {s.max_targets} targets "
              f"per request, {s.max_total_chars:,} characters in all, {s.max_body_bytes:,} bytes per body.")
    glossary_path = {"get": {
        "summary": "One glossary's entries",
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": JSON_OBJECT}}},
                      **_errors(404, 503)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "asean-mt", "version": __version__,
                 "description": "Translation and summarisation for ASEAN public-sector text. " + limits},
        "paths": {
            "/v1/translate": _post("TranslateBody", "Translate one or several texts into one or several languages",
                                   "Per target: text, engine and model, glossary report, flags, summary. " + limits),
            "/v1/detect": _post("DetectBody", "Detect the language of a text", limits),
            "/v1/summarize": _post("SummarizeBody", "Summarise a text in its own language", limits),
            "/v1/languages": _get("Languages and every pair with its engine and availability"),
            "/v1/glossaries": _get("The glossaries"),
            "/v1/glossaries/{name}": glossary_path,
            "/healthz": _get("Liveness"),
            "/readyz": _get("Readiness: 503 until the engines are loaded", 503),
        },
        "components": {"schemas": schemas},
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_document())


@bp.get("/docs")
def docs() -> str:
    return render_template("docs.html", doc=build_document())
