"""LibreTranslate-compatible endpoints, so existing LibreTranslate clients and plugins work unchanged:
``POST /translate``, ``GET /languages``, ``POST /detect`` with the same field names, form or JSON bodies,
``q`` as a string or a list, ``api_key``, and ``{"error": "..."}`` errors (our one error body has that field)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service import languages
from service.engines.base import DecodeOptions
from service.errors import DetectionFailed
from service.http.api import check_limits, record
from service.http.bodies import parse_json, validate
from service.http.errors import ApiError, service_error_response
from service.http.schemas import clean_text
from service.http.security import client_id
from service.http.state import current_service
from service.pipeline import TranslationRequest

bp = Blueprint("libretranslate", __name__)


class LtTranslate(BaseModel):
    model_config = ConfigDict(extra="ignore")  # LibreTranslate clients send extra fields (secret, ...)
    q: str | list[str]
    source: str = "auto"
    target: str
    format: str = "text"
    api_key: str | None = None
    alternatives: int = Field(0, ge=0, le=8)

    @field_validator("q")
    @classmethod
    def _q(cls, value: str | list[str]) -> str | list[str]:
        for item in [value] if isinstance(value, str) else value:
            clean_text(item)
        return value


class LtDetect(BaseModel):
    model_config = ConfigDict(extra="ignore")
    q: str
    api_key: str | None = None

    @field_validator("q")
    @classmethod
    def _q(cls, value: str) -> str:
        return clean_text(value)


def _params() -> dict[str, Any]:
    if request.is_json:
        data = parse_json(current_service().settings.max_json_depth)
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_request", "The JSON body must be an object.")
        return data
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") or not request.data:
        form = request.form
        data = {k: (form.getlist(k) if k == "q" and len(form.getlist(k)) > 1 else form.get(k)) for k in form}
        return data
    raise ApiError(415, "unsupported_media_type", "Send a form or application/json.")


@bp.post("/translate")
def translate() -> Response:
    state = current_service()
    body = validate(LtTranslate, _params())
    if body.format not in ("text", "html"):
        raise ApiError(400, "invalid_request", "format must be text or html.")
    if body.format == "html":
        raise ApiError(400, "unsupported_format", "HTML input is not supported yet; send format=text.")
    texts = [body.q] if isinstance(body.q, str) else list(body.q)
    check_limits(state, texts, 1)
    state.rate_limit.charge(client_id(state.keys.identify()), sum(len(t) for t in texts))
    target = languages.normalize(body.target)
    n_best = max(1, body.alternatives + 1)
    options = DecodeOptions(beam_size=max(state.settings.beam_size, n_best), n_best=n_best)
    translated, alternatives, detected = [], [], None
    results = state.pipeline.translate_many([TranslationRequest(text, [target], body.source, options)
                                             for text in texts])
    for text, result in zip(texts, results, strict=True):
        record(state, result, text)
        r = result.results[0]
        if r.error is not None:
            return service_error_response(r.error)
        translated.append(r.text)
        alts = [a for hyps in r.alternatives.values() for a in hyps[1:]] if len(r.alternatives) == 1 else []
        alternatives.append(alts[: body.alternatives])
        if result.detected and detected is None:
            detected = {"language": result.source, "confidence": 90.0}
    out: dict[str, Any] = {"translatedText": translated[0] if isinstance(body.q, str) else translated}
    if detected is not None:
        out["detectedLanguage"] = detected if isinstance(body.q, str) else [detected] * len(texts)
    if body.alternatives:
        out["alternatives"] = alternatives[0] if isinstance(body.q, str) else alternatives
    return jsonify(out)


@bp.get("/languages")
def list_languages() -> Response:
    router = current_service().pipeline.router
    pairs = router.catalog.pairs()
    return jsonify([
        {"code": lang.code, "name": lang.name,
         "targets": [t for s, t in pairs if s == lang.code and router.status(s, t).available]}
        for lang in languages.LANGUAGES.values()
    ])


@bp.post("/detect")
def detect() -> Response:
    state = current_service()
    body = validate(LtDetect, _params())
    check_limits(state, [body.q], 1)
    state.rate_limit.charge(client_id(state.keys.identify()), len(body.q))
    try:
        found = state.pipeline.detector.detect(body.q)
    except DetectionFailed:
        return jsonify([])
    return jsonify([{"language": found.language, "confidence": round(100 * found.confidence, 1)}])
