"""The web form: paste text or upload a .txt file, pick languages and glossary, see the translations side by
side with glossary terms highlighted and the per-term report. Server-rendered, autoescaped, CSRF-protected;
model output and glossary text are untrusted and only ever reach the page escaped."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import regex
from flask import Blueprint, Response, make_response, render_template, request, session

from service import languages
from service.engines.base import DecodeOptions
from service.errors import ServiceError
from service.http.api import authorize, check_limits, record
from service.http.errors import ApiError, status_for
from service.http.schemas import clean_text
from service.http.state import current_service
from service.pipeline import TranslationRequest, TranslationResult, flag_note
from service.summaries.options import SummaryOptions
from service.terminology.enforce import TermReport
from service.terminology.matcher import bounded

bp = Blueprint("web", __name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise ApiError(400, "csrf_failed", "The form's security token is missing or expired; reload the page.")


@dataclass(frozen=True)
class Part:
    text: str
    term: bool


def highlight(text: str, report: TermReport | None, target: str) -> list[Part]:
    """Split ``text`` into plain parts and glossary-term parts (for <mark>), without touching the text."""
    if not text or report is None:
        return [Part(text or "", False)]
    spans: list[tuple[int, int]] = []
    no_spaces = languages.get(target).no_spaces
    for form in {c.required for c in report.checks if c.present}:
        pattern = bounded(regex.escape(form), no_spaces)
        spans += [(m.start(), m.end()) for m in regex.finditer(pattern, text, regex.V1 | regex.IGNORECASE)]
    parts, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        parts += [Part(text[last:start], False), Part(text[start:end], True)]
        last = end
    parts.append(Part(text[last:], False))
    return [p for p in parts if p.text]


def _page(status: int = 200, **context) -> Response:
    state = current_service()
    s = state.settings
    store = state.pipeline.glossaries
    defaults = {"text": "", "source": "auto", "targets": ["en", "ms"], "glossary": ",".join(
        s.default_glossary_names), "summary": False, "sentences": 2}
    response = make_response(render_template(
        "index.html", csrf_token=csrf_token(), languages=list(languages.LANGUAGES.values()),
        glossaries=store.usable(), values=defaults | context.pop("values", {}),
        limits={"text": s.max_text_chars, "body": s.max_body_bytes}, highlight=highlight, flag_note=flag_note,
        language_name=lambda code: languages.get(code).name if code in languages.LANGUAGES else code,
        **context), status)
    return response


@bp.get("/")
def form() -> Response:
    return _page()


@bp.post("/")
def submit() -> Response:
    check_csrf()
    state = current_service()
    values = {
        "text": request.form.get("text", ""), "source": request.form.get("source", "auto"),
        "targets": request.form.getlist("targets"), "glossary": request.form.get("glossary", ""),
        "summary": request.form.get("summary") == "on", "sentences": request.form.get("sentences", "2"),
    }
    try:
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            try:
                values["text"] = upload.read(state.settings.max_text_chars * 4 + 1).decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "invalid_utf8", "The uploaded file is not UTF-8 text.") from None
        text = clean_text(values["text"]) if values["text"] else ""
        if not text.strip():
            raise ApiError(400, "invalid_input", "Paste a text or choose a .txt file.")
        targets = languages.parse_list(values["targets"])
        if not targets:
            raise ApiError(400, "invalid_input", "Choose at least one target language.")
        check_limits(state, [text], len(targets))
        authorize(state, len(text) * len(targets))
        glossaries = [g for g in values["glossary"].split(",") if g]
        summary = None
        if values["summary"]:
            try:
                summary = SummaryOptions(sentences=int(values["sentences"]))
            except ValueError:
                raise ApiError(400, "invalid_input", "Summary sentences must be a number.") from None
        result: TranslationResult = state.pipeline.translate(TranslationRequest(
            text, targets, values["source"], DecodeOptions(beam_size=state.settings.beam_size), glossaries, summary))
        record(state, result, text)
    except ApiError as exc:
        return _page(exc.status, values=values, error=exc.message)
    except (ServiceError, ValueError) as exc:
        if isinstance(exc, ServiceError):
            return _page(status_for(exc), values=values, error=exc.message)
        return _page(400, values=values, error=str(exc))
    return _page(values=values, result=result, source_text=text)
