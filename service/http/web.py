"""The translator page: the source on the left (text or file, languages, glossary), one card per target on the
right, with glossary terms marked (their source term on hover and focus), the term report folded to one line,
and a form per sentence to correct it. The target choices say which languages the server can translate into
now (the operator's hint folded away), and the defaults are those. Server-rendered, autoescaped,
CSRF-protected; model output and glossary text are untrusted and only ever reach the page escaped. Every page
works without JavaScript; ``static/app.js`` adds in-place results, copy/download and self-updating job pages.

When the server requires API keys, the pages ask for one once (``/login``) and keep its hash in the signed
session cookie; every page then acts as that key (its rate limit, its jobs). A revoked key signs the visitor
out at the next request. Without required keys the pages are open, and signing in is optional (to see one's
own jobs)."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import regex
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException

from service import languages
from service.config import Settings
from service.engines.base import DecodeOptions
from service.flags import describe_flag
from service.http.api import record
from service.http.bodies import FORM, MULTIPART, validate
from service.http.documents import (
    DocumentRequest,
    document_cost,
    is_document,
    max_upload,
    prepare_upload,
    web_submit,
)
from service.http.errors import ApiError
from service.http.i18n import language_name
from service.http.limits import characters, check_limits
from service.http.policy import PAGE, PUBLIC, body, route
from service.http.security import SESSION_KEY
from service.http.state import current_service
from service.keys import hash_key
from service.pipeline import TranslationRequest, TranslationResult
from service.summaries.options import SummaryOptions
from service.terminology.enforce import TermReport
from service.terminology.matcher import bounded
from service.validation import check_text

bp = Blueprint("web", __name__)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise ApiError(400, "csrf_failed", _("The form's security token is missing or expired; reload the page."))


@bp.app_context_processor
def _signed_in() -> dict[str, Any]:
    """Every page's header: who is signed in, and whether signing in means anything here."""
    who = g.get("caller")
    state = current_service()
    return {"signed_in": who.key.name if who is not None and who.key is not None else None,
            "keys_configured": state.keys.configured, "csrf_token": csrf_token()}


@dataclass(frozen=True)
class Part:
    text: str
    term: bool
    #: the glossary's source term this part translates (shown on hover and focus)
    source: str = ""


def highlight(text: str, report: TermReport | None, target: str) -> list[Part]:
    """Split ``text`` into plain parts and glossary-term parts (for <mark>), without touching the text."""
    if not text or report is None:
        return [Part(text or "", False)]
    spans: list[tuple[int, int, str]] = []
    no_spaces = languages.get(target).no_spaces
    sources: dict[str, str] = {}
    for check in report.checks:
        if check.present:
            sources.setdefault(check.required, check.source)
    for form, source in sources.items():
        pattern = bounded(regex.escape(form), no_spaces)
        spans += [(m.start(), m.end(), source) for m in regex.finditer(pattern, text, regex.V1 | regex.IGNORECASE)]
    parts, last = [], 0
    for start, end, source in sorted(spans):
        if start < last:
            continue
        parts += [Part(text[last:start], False), Part(text[start:end], True, source)]
        last = end
    parts.append(Part(text[last:], False))
    return [p for p in parts if p.text]


@dataclass(frozen=True)
class TargetChoice:
    """A target language in the form: whether it can be translated into now, and, if not, what the operator
    would do about it (kept for the operator's note, never in the visitor's face)."""

    code: str
    available: bool
    needs: str = ""
    #: the source language itself (listed, hidden: the page's script shows it when another source is chosen)
    is_source: bool = False


def _source_for_choices(source: str) -> str:
    s = current_service().settings
    if source in languages.LANGUAGES:
        return source
    return s.source_prior if s.source_prior in languages.LANGUAGES else "id"


def target_choices(source: str) -> list[TargetChoice]:
    """Every language, with whether the server can translate ``source`` into it now."""
    router = current_service().pipeline.router
    source = _source_for_choices(source)
    out = []
    for code in languages.LANGUAGES:
        if code == source:
            out.append(TargetChoice(code, False, is_source=True))
            continue
        if not router.catalog.candidates(source, code):
            out.append(TargetChoice(code, False, "no model in the catalog covers this pair"))
            continue
        status = router.status(source, code)
        out.append(TargetChoice(code, status.available is not None, status.needs))
    return out


def availability() -> dict[str, list[str]]:
    """source -> the targets that work now (the page's script updates the choices when the source changes)."""
    router = current_service().pipeline.router
    return {source: [t for t in languages.LANGUAGES if t != source and router.catalog.candidates(source, t)
                     and router.status(source, t).available is not None] for source in languages.LANGUAGES}


def default_targets(choices: list[TargetChoice]) -> list[str]:
    """What works, in the ASEAN order, up to the request limit."""
    working = [c.code for c in choices if c.available]
    ordered = [t for t in languages.ASEAN_TARGETS if t in working] + [t for t in working
                                                                       if t not in languages.ASEAN_TARGETS]
    return ordered[:current_service().settings.max_targets]


def target_error(error: Any, target: str) -> str:
    """A target's error for a visitor: a missing model is "not installed here", never the operator's command."""
    code = error.get("code") if isinstance(error, dict) else getattr(error, "code", None)
    details = error if isinstance(error, dict) else getattr(error, "details", {})
    if code == "model_missing":
        return _("%(language)s is not installed on this server.", language=language_name(target))
    if code == "unsupported_pair" and details.get("source") == details.get("target") == target:
        return _("The text is already in %(language)s; choose another target, or the text's language under "
                 "From.", language=language_name(target))
    message = error.get("error") if isinstance(error, dict) else getattr(error, "message", "")
    return str(message or _("This translation failed."))


def _page(status: int = 200, **context: Any) -> Response:
    state = current_service()
    s = state.settings
    store = state.pipeline.glossaries
    values = context.pop("values", {})
    choices = target_choices(values.get("source", "auto"))
    defaults = {"text": "", "source": "auto", "targets": default_targets(choices), "glossary": ",".join(
        s.default_glossary_names), "summary": False, "sentences": 2, "layout": s.layout}
    response = make_response(render_template(
        "index.html", languages=list(languages.LANGUAGES.values()), choices=choices,
        availability=json.dumps(availability()), prior=_source_for_choices("auto"), glossaries=store.usable(),
        values=defaults | values,
        limits={"text": s.max_text_chars, "body": s.max_body_bytes}, highlight=highlight, describe_flag=describe_flag,
        target_error=target_error, default_layout=s.layout, **context), status)
    return response


class TranslateForm(BaseModel):
    """The web form's fields (multipart: the text may come as a .txt file)."""

    model_config = ConfigDict(extra="ignore")  # csrf_token
    text: str = ""
    file: bytes | None = Field(None, description="a .txt file (UTF-8) instead of the text, or a document (.html, "
                                                 ".docx, .md, .srt, .vtt, .xlf, .po, .pdf) translated as a file")
    source: str = "auto"
    targets: list[str] = Field(default_factory=list)
    glossary: str = ""
    summary: str | None = Field(None, description="\"on\" for a summary")
    sentences: str = "2"
    layout: str = Field("", description="keep, reflow or auto (empty: the server's setting)")


@dataclass(frozen=True)
class WebRequest:
    text: str
    targets: list[str]
    source: str
    glossaries: list[str]
    summary: SummaryOptions | None
    layout: str | None = None


def _values() -> dict[str, Any]:
    """What the visitor sent, to show the form again as it was (nothing when the form itself was refused)."""
    try:
        form = request.form
    except HTTPException:  # e.g. the body was over max_body_bytes
        return {}
    return {"text": form.get("text", ""), "source": form.get("source", "auto"), "targets": form.getlist("targets"),
            "glossary": form.get("glossary", ""), "summary": form.get("summary") == "on",
            "sentences": form.get("sentences", "2"),
            "layout": form.get("layout") or current_service().settings.layout}


def read_form() -> WebRequest | DocumentRequest:
    fields = validate(TranslateForm, {k: request.form.getlist(k) if k == "targets" else request.form.get(k)
                                      for k in request.form})
    text = fields.text.replace("\r\n", "\n")  # browsers send CRLF; the offsets in the term report count LF
    upload = request.files.get("file")
    if upload is not None and is_document(upload.filename):  # a web page, Word file, subtitles...: a document job
        targets = languages.parse_list(fields.targets)
        if not targets:
            raise ApiError(400, "invalid_input", _("Choose at least one target language."))
        try:
            sentences = int(fields.sentences) if fields.summary == "on" else None
        except ValueError:
            raise ApiError(400, "invalid_input", _("Summary sentences must be a number.")) from None
        s = current_service().settings
        prepared = prepare_upload(s, upload.filename or "document", upload.read(s.max_document_bytes + 1))
        return DocumentRequest(prepared=prepared, targets=targets, source=fields.source,
                               glossaries=[g for g in fields.glossary.split(",") if g], pdf_output="docx",
                               summary=sentences)
    if upload is not None and upload.filename:
        try:
            raw = upload.read(current_service().settings.max_text_chars * 4 + 1)
            text = raw.decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_utf8", _("The uploaded file is not UTF-8 text.")) from None
    try:
        check_text(text)
    except ValueError as exc:
        raise ApiError(400, "invalid_input", f"The {exc}.") from None
    if not text.strip():
        raise ApiError(400, "invalid_input", _("Paste a text or choose a file."))
    targets = languages.parse_list(fields.targets)
    if not targets:
        raise ApiError(400, "invalid_input", _("Choose at least one target language."))
    summary = None
    if fields.summary == "on":
        try:
            summary = SummaryOptions(sentences=int(fields.sentences))
        except ValueError:
            raise ApiError(400, "invalid_input", _("Summary sentences must be a number.")) from None
    if fields.layout and fields.layout not in ("keep", "reflow", "auto"):
        raise ApiError(400, "invalid_input", _("Line breaks must be keep, reflow or auto."))
    return WebRequest(text, targets, fields.source, [g for g in fields.glossary.split(",") if g], summary,
                      fields.layout or None)


def form_cost(form: WebRequest | DocumentRequest, s: Settings) -> int:
    if isinstance(form, DocumentRequest):
        return document_cost(form, s)
    check_limits(s, [form.text], len(form.targets), form.glossaries)
    return characters([form.text], len(form.targets))


@bp.get("/")
@route("Web page: the translation form", access=PAGE, produces="text/html", tags=("web",))
def form() -> Response:
    return _page()


@bp.post("/")
@route("Web page: translate the form's text (or a document: to its page) and show the results", access=PAGE,
       csrf=True, read=read_form, bodies={MULTIPART: TranslateForm, FORM: TranslateForm}, cost=form_cost,
       max_bytes=lambda s: max_upload(s) if request.mimetype == MULTIPART else s.max_body_bytes, produces="text/html",
       page=lambda message, status: _page(status, values=_values(), error=message), tags=("web",))
def submit() -> Response:
    state = current_service()
    sent: WebRequest | DocumentRequest = body()
    if isinstance(sent, DocumentRequest):
        return web_submit(sent)
    result: TranslationResult = state.pipeline.translate(TranslationRequest(
        sent.text, sent.targets, sent.source, DecodeOptions(beam_size=state.settings.beam_size), sent.glossaries,
        sent.summary, layout=sent.layout))
    record(state, result, sent.text)
    return _page(values=_values() | {"text": sent.text}, result=result, source_text=sent.text)


@bp.get("/favicon.ico")
@route("The site's icon (browsers ask for it on every site)", access=PUBLIC, produces="image/svg+xml",
       tags=("web",))
def favicon() -> Response:
    response = current_app.send_static_file("favicon.svg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# -- a correction of a result (the "edit" action under each translation) ---------------------------------------
class CorrectionForm(BaseModel):
    model_config = ConfigDict(extra="ignore")  # csrf_token
    source: str = Field(min_length=1, max_length=20_000, description="the source text that was translated")
    source_lang: str = Field(min_length=2, max_length=16)
    target_lang: str = Field(min_length=2, max_length=16)
    text: str = Field(min_length=1, max_length=20_000, description="the corrected translation")


def _read_correction() -> CorrectionForm:
    sent = validate(CorrectionForm, request.form.to_dict())
    for value in (sent.source, sent.text):
        try:
            check_text(value)
        except ValueError as exc:
            raise ApiError(400, "invalid_input", f"The {exc}.") from None
    return sent


def _wants_json() -> bool:
    """A page script (fetch) asks for JSON; a plain form post is sent back to the page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


@bp.post("/corrections")
@route("Web page: save a corrected translation (used for the same text from now on, on every worker, or once "
       "approved)",
       access=PAGE, csrf=True, read=_read_correction, bodies={FORM: CorrectionForm}, produces="text/html",
       status=303, errors=(409, 503), tags=("web",),
       page=lambda message, status: _page(status, error=message),
       description="Redirects back to the form (303); a script that asks for JSON gets the stored correction (201).")
def save_correction() -> Response:
    from service.http.memory import store_correction

    sent: CorrectionForm = body()
    correction, _created = store_correction(current_service(), sent.source, sent.source_lang, sent.target_lang,
                                            sent.text)  # not "_": that is gettext here
    if _wants_json():
        response = make_response(correction.to_dict(), 201)
        return response
    flash(_("Correction saved: it is used from now on.") if correction.approved else
          _("Correction saved: it waits for a reviewer's approval (shown as a suggestion until then)."))
    return redirect(_local(request.referrer and _path_of(request.referrer)) + "#saved", code=303)


def _path_of(url: str) -> str | None:
    """The path of a referrer on this server (another site's address is never a place to go)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path or "/"


# -- signing in with an API key ------------------------------------------------------------------------
def _local(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("web.form")


def _login_page(error: str | None = None, status: int = 200) -> Response:
    page = render_template("login.html", next=_local(request.values.get("next")), error=error,
                           required=current_service().settings.require_api_key)
    return Response(page, status, mimetype="text/html")


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="ignore")  # csrf_token
    key: str = Field(min_length=1, max_length=200, description="your API key")
    next: str = "/"


@bp.get("/login")
@route("Web page: sign in with an API key", access=PUBLIC, produces="text/html", tags=("web",),
       query={"next": ({"type": "string"}, "the page to go to afterwards")})
def login() -> Response:
    return _login_page()


@bp.post("/login")
@route("Web page: sign in with an API key (kept in the signed session cookie)", access=PUBLIC, csrf=True,
       read=lambda: validate(LoginForm, request.form.to_dict()), bodies={FORM: LoginForm}, produces="text/html",
       status=303, page=lambda message, status: _login_page(message, status), tags=("web",))
def login_submit() -> Response:
    sent: LoginForm = body()
    found = current_service().keys.lookup(hash_key(sent.key.strip()))
    if found is None:
        return _login_page(_("This key is not valid."), 401)
    session.clear()  # a new session for the new identity (and a new CSRF token)
    session[SESSION_KEY] = found.digest
    return redirect(_local(sent.next), code=303)


@bp.post("/logout")
@route("Web page: sign out", access=PAGE, csrf=True, produces="text/html", status=303, tags=("web",))
def logout() -> Response:
    session.clear()
    return redirect(url_for("web.login"), code=303)

