"""The JSON API, versioned under /v1."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service import languages
from service.config import Settings
from service.engines.base import DecodeOptions
from service.http.bodies import JSON, read_json
from service.http.errors import ApiError, service_error_response
from service.http.limits import characters, check_limits
from service.http.policy import body, route
from service.http.schemas import DetectBody, SummarizeBody, TranslateBody
from service.http.state import ServiceState, current_service
from service.pipeline import TranslationRequest, TranslationResult, require_text

bp = Blueprint("v1", __name__, url_prefix="/v1")


def translate_cost(body: TranslateBody, s: Settings) -> int:
    texts = body.texts()
    targets = len(languages.parse_list(list(body.targets)))  # an unknown language: 400 before any charge
    # a text over max_text_chars is that text's own error (the pipeline says so), not the request's
    check_limits(s, texts, targets, body.glossary, per_text=False)
    return characters(texts, targets)


def text_cost(body: DetectBody | SummarizeBody, s: Settings) -> int:
    check_limits(s, [body.text], 1)
    return characters([body.text], 1)


def record(state: ServiceState, result: TranslationResult, text: str) -> None:
    for r in result.results:
        if r.ok and r.engine:
            state.metrics.segments.labels(r.engine, r.target).inc(r.segments)
            state.metrics.characters.labels(r.engine, r.target).inc(len(text))
            state.metrics.engine_seconds.labels(r.engine).inc(r.engine_seconds)


def translate_texts(state: ServiceState, body: TranslateBody) -> list[TranslationResult]:
    texts = body.texts()
    targets = languages.parse_list(list(body.targets))
    beam = body.beam_size or state.settings.beam_size
    if body.alternatives > beam:
        raise ApiError(422, "validation_error", f"alternatives ({body.alternatives}) cannot exceed beam_size "
                       f"({beam}).", problems=[{"field": "alternatives", "problem": "exceeds beam_size"}])
    options = DecodeOptions(beam_size=beam, n_best=body.alternatives)
    summary = body.summary.options() if body.summary else None
    if body.format == "html":  # each text through the document road's HTML adapter
        if summary is not None:
            raise ApiError(422, "validation_error", "summary is not available with format html.",
                           problems=[{"field": "summary", "problem": "not with format html"}])
        from service.documents.road import translate_html

        results = [translate_html(state.pipeline, text, targets, body.source, options, body.glossary)
                   for text in texts]
    else:
        results = state.pipeline.translate_many([TranslationRequest(text, targets, body.source, options,
                                                                    body.glossary, summary, layout=body.layout)
                                                 for text in texts], max_chars=state.settings.max_text_chars)
    for text, result in zip(texts, results, strict=True):
        record(state, result, text)
    return results


@bp.post("/translate")
@route("Translate one or several texts into one or several languages", read=read_json(TranslateBody),
       bodies={JSON: TranslateBody}, cost=translate_cost, errors=(502, 503),
       description="Per text and target: text, engine and model, glossary report, flags, summary, or that "
                   "target's error (200 when at least one target worked).")
def translate() -> Response:
    state = current_service()
    results = translate_texts(state, body())
    outcomes = [r for result in results for r in result.results]
    if outcomes and not any(r.ok for r in outcomes):  # nothing worked: the first reason decides the status
        error = outcomes[0].error
        assert error is not None
        return service_error_response(error)
    return jsonify({"items": [result.to_dict() for result in results]})


@bp.post("/detect")
@route("Detect the language of a text", read=read_json(DetectBody), bodies={JSON: DetectBody}, cost=text_cost)
def detect() -> Response:
    state = current_service()
    text = body().text
    require_text(text)
    return jsonify(state.pipeline.detector.detect(text).to_dict())


@bp.post("/summarize")
@route("Summarise a text in its own language", read=read_json(SummarizeBody), bodies={JSON: SummarizeBody},
       cost=text_cost, errors=(502, 503))
def summarize() -> Response:
    state = current_service()
    request_body: SummarizeBody = body()
    lang, summary = state.pipeline.summarize(request_body.text, request_body.language, request_body.options())
    return jsonify(summary.to_dict() | {"language": lang})


@bp.get("/languages")
@route("Languages, and every pair with its engine and whether it works now (or what to pull)", group="languages")
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
