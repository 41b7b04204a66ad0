"""The JSON API, versioned under /v1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from service import languages
from service.engines.base import DecodeOptions
from service.http.bodies import parse_json, validate
from service.http.errors import ApiError, service_error_response
from service.http.schemas import DetectBody, SummarizeBody, TranslateBody
from service.http.security import client_id
from service.http.state import ServiceState, current_service
from service.pipeline import TargetResult, TranslationRequest, TranslationResult

bp = Blueprint("v1", __name__, url_prefix="/v1")


def authorize(state: ServiceState, characters: int) -> None:
    """API key (if any or if required), then the character rate limit."""
    key = state.keys.identify()
    state.rate_limit.charge(client_id(key), characters)


def check_limits(state: ServiceState, texts: list[str], targets: int) -> None:
    s = state.settings
    if len(texts) > s.max_texts:
        raise ApiError(413, "input_too_large", f"{len(texts)} texts in one request; the limit is {s.max_texts}.",
                       limit=s.max_texts, setting="max_texts")
    if targets > s.max_targets:
        raise ApiError(413, "input_too_large", f"{targets} targets in one request; the limit is {s.max_targets}.",
                       limit=s.max_targets, setting="max_targets")
    for i, text in enumerate(texts):
        if len(text) > s.max_text_chars:
            raise ApiError(413, "input_too_large", f"Text {i} has {len(text):,} characters; the limit is "
                           f"{s.max_text_chars:,} per text.", limit=s.max_text_chars, setting="max_text_chars")
    total = sum(len(t) for t in texts)
    if total > s.max_total_chars:
        raise ApiError(413, "input_too_large", f"The texts have {total:,} characters together; the limit is "
                       f"{s.max_total_chars:,}.", limit=s.max_total_chars, setting="max_total_chars")


def record(state: ServiceState, result: TranslationResult, text: str) -> None:
    for r in result.results:
        if r.ok and r.engine:
            state.metrics.segments.labels(r.engine, r.target).inc(r.segments)
            state.metrics.characters.labels(r.engine, r.target).inc(len(text))
            state.metrics.engine_seconds.labels(r.engine).inc(r.engine_seconds)


def target_json(r: TargetResult) -> dict[str, Any]:
    return {
        "target": r.target, "text": r.text, "engine": r.engine, "model": r.model, "flags": r.flags,
        "glossary": r.terms.to_dict() if r.terms else None,
        "alternatives": [{"source": s, "alternatives": alts} for s, alts in r.alternatives.items()] or None,
        "summary": r.summary.to_dict() if r.summary else None,
        "error": ({"error": r.error.message, "code": r.error.code, **r.error.details} if r.error else None),
    }


def translate_texts(state: ServiceState, body: TranslateBody) -> list[TranslationResult]:
    texts = [body.text] if isinstance(body.text, str) else list(body.text)
    targets = languages.parse_list(list(body.targets))
    check_limits(state, texts, len(targets))
    authorize(state, sum(len(t) for t in texts) * len(targets))
    beam = body.beam_size or state.settings.beam_size
    if body.alternatives > beam:
        raise ApiError(422, "validation_error", f"alternatives ({body.alternatives}) cannot exceed beam_size "
                       f"({beam}).", problems=[{"field": "alternatives", "problem": "exceeds beam_size"}])
    options = DecodeOptions(beam_size=beam, n_best=body.alternatives)
    summary = body.summary.options() if body.summary else None
    results = []
    for text in texts:
        result = state.pipeline.translate(TranslationRequest(text, targets, body.source, options, body.glossary,
                                                             summary))
        record(state, result, text)
        results.append(result)
    return results


@bp.post("/translate")
def translate() -> Response:
    state = current_service()
    body = validate(TranslateBody, parse_json(state.settings.max_json_depth))
    results = translate_texts(state, body)
    outcomes = [r for result in results for r in result.results]
    if outcomes and not any(r.ok for r in outcomes):  # nothing worked: the first reason decides the status
        error = outcomes[0].error
        assert error is not None
        return service_error_response(error)
    return jsonify({"items": [
        {"source": result.source, "detected": result.detected,
         "summary": result.summary.to_dict() if result.summary else None,
         "translations": [target_json(r) for r in result.results]}
        for result in results
    ]})


@bp.post("/detect")
def detect() -> Response:
    state = current_service()
    body = validate(DetectBody, parse_json(state.settings.max_json_depth))
    check_limits(state, [body.text], 1)
    authorize(state, len(body.text))
    found = state.pipeline.detector.detect(body.text)
    return jsonify({"language": found.language, "name": languages.get(found.language).name,
                    "confidence": round(found.confidence, 4)})


@bp.post("/summarize")
def summarize() -> Response:
    state = current_service()
    body = validate(SummarizeBody, parse_json(state.settings.max_json_depth))
    check_limits(state, [body.text], 1)
    authorize(state, len(body.text))
    lang, summary = state.pipeline.summarize(body.text, body.language, body.options())
    return jsonify(summary.to_dict() | {"language": lang})


@bp.get("/languages")
def list_languages() -> Response:
    state = current_service()
    router = state.pipeline.router
    pairs = []
    for source, target in router.catalog.pairs():
        status = router.status(source, target)
        pairs.append({"source": source, "target": target, "available": status.available is not None,
                      "engine": status.available.engine if status.available else None,
                      "model": status.available.model.id if status.available else None,
                      "license": status.license or None,
                      "needs": status.needs or None})
    return jsonify({
        "license_policy": state.settings.license_policy,
        "languages": [{"code": lang.code, "name": lang.name, "flores": lang.flores}
                      for lang in languages.LANGUAGES.values()],
        "pairs": pairs,
    })


@bp.get("/glossaries")
def list_glossaries() -> Response:
    state = current_service()
    store = state.pipeline.glossaries
    defaults = state.settings.default_glossary_names
    out = []
    for name in store.names():
        if name in store.broken:
            out.append({"name": name, "usable": False, "problems": store.broken[name].details.get("problems", [])})
        else:
            g = store.glossaries[name]
            out.append({"name": name, "usable": True, "entries": len(g.entries), "languages": list(g.languages),
                        "version": g.version, "default": name in defaults})
    return jsonify({"glossaries": out})


@bp.get("/glossaries/<name>")
def get_glossary(name: str) -> Response:
    store = current_service().pipeline.glossaries
    if name not in store.names():
        raise ApiError(404, "glossary_not_found", f"No glossary named {name!r}.", available=store.names())
    g = store.get(name)  # a broken glossary raises GlossaryInvalid: 503 with its problems
    return jsonify({"name": g.name, "version": g.version, "languages": list(g.languages), "entries": [
        {"forms": {lang: list(forms) for lang, forms in e.forms.items()}, "dnt": e.dnt,
         "case_sensitive": e.case_sensitive, "note": e.note}
        for e in g.entries
    ]})
