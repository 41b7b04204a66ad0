"""Human corrections over HTTP: ``/v1/memory`` (add, search, read, delete). LibreTranslate's ``/suggest``
(``service.http.compat``) and the web form's ``/corrections`` (``service.http.web``) store through
:func:`store_correction` too, so every entry point records the same provenance: human, the API key's name, the
time, and the versions of the glossaries in force.

Any key may add a correction (translators); whether it is used at once or waits for review (``pending``) is the
setting ``corrections_approval`` (:func:`approves`). Approving and deleting (rejecting) one need the admin role
(route policy ``admin=True``). An approved correction is used by every worker from the next request on: it is in
the database, not in a worker's memory.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import Field

from service import languages
from service.corrections import APPROVED, MAX_SEGMENT_CHARS, PENDING, Correction, CorrectionStore, NewCorrection
from service.errors import ServiceError
from service.http.bodies import JSON, read_json
from service.http.errors import ApiError
from service.http.policy import body, caller, route
from service.http.schemas import GlossaryName, LanguageCode, Strict
from service.http.state import ServiceState, current_service
from service.validation import CleanText

bp = Blueprint("memory", __name__)
#: Entries per page of a search (and the most a request may ask for).
PAGE_SIZE, MAX_PAGE = 50, 500
TAGS = ("memory",)


class CorrectionBody(Strict):
    source: CleanText = Field(min_length=1, max_length=MAX_SEGMENT_CHARS, description="the source sentence (or text)",
                              examples=["Kota cerdas itu bagus."])
    source_lang: LanguageCode = Field(examples=["id"])
    target_lang: LanguageCode = Field(examples=["ms"])
    text: CleanText = Field(min_length=1, max_length=MAX_SEGMENT_CHARS, description="the corrected translation",
                            examples=["Bandar pintar itu bagus."])
    glossary: list[GlossaryName] | None = Field(
        None, description="the glossaries the translation follows (their versions are recorded); omitted: the "
                          "default")
    note: CleanText = Field("", max_length=2000)


def store() -> CorrectionStore:
    corrections = current_service().pipeline.corrections
    if corrections is None:
        raise ApiError(409, "corrections_off", "Human corrections are turned off on this server (setting "
                       "memory_corrections).")
    return corrections


def author() -> str:
    who = caller()
    return who.key.name if who.key is not None else "anonymous"


def approves(state: ServiceState) -> bool:
    """Whether this caller's correction is used at once (approved) rather than waiting for review (pending)."""
    rule = state.settings.corrections_approval
    if rule == "any" or (rule == "auto" and not state.settings.require_api_key):
        return True
    return caller().admin


def store_correction(state: ServiceState, source: str, source_lang: str, target_lang: str, text: str,
                     glossaries: list[str] | None = None, note: str = "") -> tuple[Correction, bool]:
    """Store a human correction with its provenance, approved or pending as :func:`approves` says; returns it and
    whether it is new."""
    try:
        versions = dict(state.pipeline.term_layer(glossaries).versions)
    except ServiceError:
        if glossaries is not None:  # named by the caller: an unknown glossary is their mistake (400)
            raise
        versions = {}  # the default glossaries' trouble does not stop a correction
    key = caller().key
    return store().add(NewCorrection(source_lang, target_lang, source, text, approved=approves(state),
                                     glossaries=versions, note=note),
                       author(), key.digest[:16] if key is not None else None)


def _paging() -> tuple[int, int]:
    try:
        offset = min(2**31 - 1, max(0, int(request.args.get("offset", "0"))))
        limit = min(MAX_PAGE, max(1, int(request.args.get("limit", str(PAGE_SIZE)))))
    except ValueError:
        raise ApiError(400, "invalid_request", "offset and limit must be whole numbers.") from None
    return offset, limit


def _arg(name: str) -> str:
    value = request.args.get(name, "")
    if len(value) > 1000 or "\x00" in value:
        raise ApiError(400, "invalid_request", f"{name} is text to look for (at most 1,000 characters).")
    return value


@bp.post("/v1/memory")
@route("Store a human correction: this sentence in this pair is translated so from now on", read=read_json(
    CorrectionBody), bodies={JSON: CorrectionBody}, status=201, errors=(409, 503), tags=TAGS,
       description="status approved: every worker returns the correction exactly for the same sentence (before any "
                   "engine), with origin memory:human. status pending (setting corrections_approval): it is offered "
                   "as a suggestion until a key with the admin role approves it. A second correction of the same "
                   "sentence and pair replaces the first; a pending one never replaces an approved one (409).")
def add_correction() -> Response:
    sent: CorrectionBody = body()
    correction, created = store_correction(current_service(), sent.source, sent.source_lang, sent.target_lang,
                                           sent.text, sent.glossary, sent.note)
    response = jsonify(correction.to_dict() | {"created": created})
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("memory.get_correction", correction_id=correction.id)
    return response


@bp.get("/v1/memory")
@route("Search the corrections by source text (and translation), newest first", errors=(409, 503), tags=TAGS,
       query={"source": ({"type": "string"}, "text the source contains (any case)"),
              "text": ({"type": "string"}, "text the translation contains (any case)"),
              "source_lang": ({"type": "string"}, "only this source language"),
              "target_lang": ({"type": "string"}, "only this target language"),
              "status": ({"type": "string", "enum": [APPROVED, PENDING]},
                         "only approved ones, or only pending ones (the review queue)"),
              "offset": ({"type": "integer", "minimum": 0}, "entries to skip"),
              "limit": ({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"entries per page ({PAGE_SIZE})")})
def search_corrections() -> Response:
    offset, limit = _paging()
    source, text = _arg("source"), _arg("text")
    source_lang = languages.normalize(_arg("source_lang")) if request.args.get("source_lang") else None
    target_lang = languages.normalize(_arg("target_lang")) if request.args.get("target_lang") else None
    status = request.args.get("status") or None
    if status not in (None, APPROVED, PENDING):
        raise ApiError(400, "invalid_request", f"status is {APPROVED} or {PENDING}.")
    total, found = store().search(source, text, source_lang, target_lang, offset, limit, status)
    out: dict[str, Any] = {"total": total, "offset": offset, "limit": limit, "items": [c.to_dict() for c in found]}
    if offset + limit < total:
        out["next"] = url_for("memory.search_corrections", **{k: v for k, v in request.args.items() if k not in (
            "offset", "limit")}, offset=offset + limit, limit=limit)
    return jsonify(out)


@bp.get("/v1/memory/<int:correction_id>")
@route("One correction with its provenance", errors=(404, 409, 503), tags=TAGS)
def get_correction(correction_id: int) -> Response:
    return jsonify(store().get(correction_id).to_dict())


@bp.post("/v1/memory/<int:correction_id>/approve")
@route("Approve a pending correction: used exactly for its sentence from the next request on", admin=True,
       errors=(404, 409, 503), tags=TAGS, description="To reject one, delete it.")
def approve_correction(correction_id: int) -> Response:
    return jsonify(store().approve(correction_id, author()).to_dict())


@bp.delete("/v1/memory/<int:correction_id>")
@route("Delete (or reject) a correction (the sentence goes back to the engine)", admin=True, errors=(404, 409, 503),
       tags=TAGS)
def delete_correction(correction_id: int) -> Response:
    store().delete(correction_id)
    return jsonify({"id": correction_id, "deleted": True})
