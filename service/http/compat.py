"""LibreTranslate-compatible endpoints, so existing LibreTranslate clients and plugins work unchanged:
``POST /translate``, ``GET /languages``, ``POST /detect`` with the same field names, form or JSON bodies,
``q`` as a string or a list, ``api_key``, and ``{"error": "..."}`` errors (our one error body has that field).
Only request and response shapes are translated here; the work is the /v1 services'."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from service import languages
from service.config import Settings
from service.engines.base import DecodeOptions
from service.errors import DetectionFailed
from service.http.api import record
from service.http.bodies import FORM, JSON, MULTIPART, parse_json, validate
from service.http.errors import ApiError, service_error_response
from service.http.limits import characters, check_limits
from service.http.policy import body, route
from service.http.state import current_service
from service.pipeline import TranslationRequest
from service.validation import CleanText

bp = Blueprint("libretranslate", __name__)
M = TypeVar("M", bound=BaseModel)


class LtTranslate(BaseModel):
    model_config = ConfigDict(extra="ignore")  # LibreTranslate clients send extra fields (secret, ...)
    q: CleanText | list[CleanText]
    source: str = "auto"
    target: str
    format: str = "text"
    api_key: str | None = None
    alternatives: int = Field(0, ge=0, le=8)

    def texts(self) -> list[str]:
        return [self.q] if isinstance(self.q, str) else list(self.q)


class LtSuggest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    q: CleanText | None = Field(None, description="the original text")
    s: CleanText | None = Field(None, description="the suggested translation")
    source: str | None = None
    target: str | None = None
    api_key: str | None = None


class LtDetect(BaseModel):
    model_config = ConfigDict(extra="ignore")
    q: CleanText
    api_key: str | None = None


def _params() -> dict[str, Any]:
    if request.is_json:
        data = parse_json(current_service().settings.max_json_depth)
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_request", "The JSON body must be an object.")
        return data
    if request.mimetype in (FORM, MULTIPART) or not request.data:
        form = request.form
        return {k: (form.getlist(k) if k == "q" and len(form.getlist(k)) > 1 else form.get(k)) for k in form}
    raise ApiError(415, "unsupported_media_type", "Send a form or application/json.")


def read_params(model: type[M]) -> Callable[[], M]:
    return lambda: validate(model, _params())


def translate_cost(body: LtTranslate, s: Settings) -> int:
    check_limits(s, body.texts(), 1)
    return characters(body.texts(), 1)


def detect_cost(body: LtDetect, s: Settings) -> int:
    check_limits(s, [body.q], 1)
    return characters([body.q], 1)


@bp.post("/translate")
@route("LibreTranslate: translate q (a text or a list) into target", read=read_params(LtTranslate),
       bodies={JSON: LtTranslate, FORM: LtTranslate, MULTIPART: LtTranslate}, cost=translate_cost,
       errors=(502, 503), tags=("libretranslate",), origin_rule=True)
def translate() -> Response:
    state = current_service()
    request_body: LtTranslate = body()
    if request_body.format not in ("text", "html"):
        raise ApiError(400, "invalid_request", "format must be text or html.")
    texts = request_body.texts()
    target = languages.normalize(request_body.target)
    n_best = max(1, request_body.alternatives + 1)
    options = DecodeOptions(beam_size=max(state.settings.beam_size, n_best), n_best=n_best)
    auto = request_body.source in ("", "auto")
    translated, alternatives, detected, sources = [], [], [], []
    for text in texts:
        source = request_body.source
        if auto and text.strip():  # each text's own language and confidence, as LibreTranslate reports them
            found = state.pipeline.detector.detect(unicodedata.normalize("NFC", text))
            source = found.language
            detected.append({"language": found.language, "confidence": round(100 * found.confidence, 1)})
        elif auto:
            detected.append({"language": "und", "confidence": 0.0})
        sources.append(source)
    if request_body.format == "html":  # the document road's HTML adapter: tags kept
        from service.documents.road import translate_html

        results = [translate_html(state.pipeline, text, [target], source, options)
                   for text, source in zip(texts, sources, strict=True)]
    else:
        results = state.pipeline.translate_many([TranslationRequest(text, [target], source, options)
                                                 for text, source in zip(texts, sources, strict=True)])
    for text, result in zip(texts, results, strict=True):
        record(state, result, text)
        r = result.results[0]
        if r.error is not None:
            return service_error_response(r.error)
        translated.append(r.text)
        alternatives.append(whole_alternatives(r.text or "", r.alternatives, request_body.alternatives))
    single = isinstance(request_body.q, str)
    out: dict[str, Any] = {"translatedText": translated[0] if single else translated}
    if auto:
        out["detectedLanguage"] = detected[0] if single else detected
    if request_body.alternatives:
        out["alternatives"] = alternatives[0] if single else alternatives
    return jsonify(out)


def whole_alternatives(text: str, per_sentence: dict[str, list[str]], wanted: int) -> list[str]:
    """Alternatives of a whole text, as LibreTranslate gives them: the k-th puts each sentence's k-th other
    hypothesis in place of the one chosen (a sentence with fewer keeps its own). Engines that give one output
    (Apertium, LLM engines) and human corrections have no hypotheses, so their texts have none."""
    choices = []
    for hyps in per_sentence.values():
        chosen = next((h for h in hyps if h and h in text), None)
        if chosen is not None:
            choices.append((chosen, [h for h in dict.fromkeys(hyps) if h != chosen]))
    out: list[str] = []
    for k in range(wanted):
        if not any(len(others) > k for _, others in choices):
            break
        alternative = text
        for chosen, others in sorted(choices, key=lambda c: -len(c[0])):
            if len(others) > k:
                alternative = alternative.replace(chosen, others[k])
        if alternative != text and alternative not in out:
            out.append(alternative)
    return out


@bp.post("/suggest")
@route("LibreTranslate: suggest a better translation of q (stored as a human correction, used from now on or "
       "once approved)",
       read=read_params(LtSuggest), bodies={JSON: LtSuggest, FORM: LtSuggest, MULTIPART: LtSuggest},
       errors=(409, 503), tags=("libretranslate",), origin_rule=True,
       description="Answers {\"success\": true, \"status\": ...}: approved, the next translation of the same "
                   "sentence from source to target is s, exactly (origin memory:human in /v1/translate); pending "
                   "(setting corrections_approval), it is offered as a suggestion until an admin approves it.")
def suggest() -> Response:
    from service.http.memory import store_correction

    sent: LtSuggest = body()
    if current_service().pipeline.corrections is None:  # LibreTranslate without --suggestions
        raise ApiError(403, "suggestions_disabled", "Suggestions are disabled on this server.")
    for name in ("q", "s", "source", "target"):
        if not (getattr(sent, name) or "").strip():
            raise ApiError(400, "invalid_request", f"Invalid request: missing {name} parameter")
    state = current_service()
    assert sent.q is not None and sent.s is not None and sent.source is not None and sent.target is not None
    source = sent.source
    if source == "auto":
        try:
            source = state.pipeline.detector.detect(unicodedata.normalize("NFC", sent.q)).language
        except DetectionFailed:
            raise ApiError(400, "invalid_request", "Invalid request: the language of q was not detected; give "
                           "source") from None
    correction, _ = store_correction(state, sent.q, source, sent.target, sent.s)
    return jsonify({"success": True, "status": correction.status})


@bp.get("/languages")
@route("LibreTranslate: the languages and the targets each can be translated into", group="languages",
       tags=("libretranslate",))
def list_languages() -> Response:
    router = current_service().pipeline.router
    pairs = router.catalog.pairs()
    return jsonify([
        {"code": lang.code, "name": lang.name,
         "targets": [t for s, t in pairs if s == lang.code and router.status(s, t).available]}
        for lang in languages.LANGUAGES.values()
    ])


@bp.post("/detect")
@route("LibreTranslate: detect the language of q, with its confidence (0-100)", read=read_params(LtDetect),
       bodies={JSON: LtDetect, FORM: LtDetect, MULTIPART: LtDetect}, cost=detect_cost, tags=("libretranslate",),
       origin_rule=True)
def detect() -> Response:
    state = current_service()
    try:
        found = state.pipeline.detector.detect(body().q)
    except DetectionFailed:
        return jsonify([])
    return jsonify([{"language": found.language, "confidence": round(100 * found.confidence, 1)}])
