"""DeepL API v2, compatible enough for DeepL's official clients (``deepl.Translator(key, server_url=...)``) and the
tools built on them: ``/v2/translate``, ``/v2/languages``, ``/v2/usage``, ``/v2/glossaries`` (on the managed
glossaries), ``/v2/glossary-language-pairs`` and ``/v2/document`` (on the document jobs).

Only request and response shapes are translated here; the work is the /v1 services' (the pipeline, the managed
glossaries, the document jobs), under the same route policies: ``Authorization: DeepL-Auth-Key KEY`` is this
service's API key (read by ``service.http.security``), the key's rate limit is its DeepL quota, glossary writes need
an admin key. Errors come in DeepL's shape (``{"message": ...}``) with DeepL's status codes: 403 for a missing or bad
key, 456 when the key's character limit is used up, 400 for what the request asks that cannot be done here,
including a model that is not installed (never 503: DeepL's clients retry 5xx answers), 503 only for what passes by
itself (a database that is away).

Languages are DeepL's codes (``ID``, ``EN``, ``EN-GB``, ``EN-US``, ``MS``, ``TH``, ``VI``, ``TL``, ``KM``, ``LO``,
``MY``) or this service's (``id``, ``zsm``, ``tha_Thai``...); a regional variant is its language. What DeepL offers
and this service does not (formality control, style rules, DeepL's own translation memories, custom instructions)
is a 400 naming the parameter, never silently dropped; parameters that change nothing here
(``context``, ``split_sentences``, ``preserve_formatting``, ``model_type``, ``outline_detection``, splitting tags,
``formality=default/prefer_*``) are accepted.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import uuid
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from service import languages
from service.config import Settings
from service.documents import jobs as document_jobs
from service.engines.base import DecodeOptions
from service.errors import InvalidInput, UnsupportedLanguage, UnsupportedPair
from service.http.api import record
from service.http.bodies import FORM, JSON, MULTIPART, parse_json, validate
from service.http.documents import DocumentRequest, _document, _file, _jobs, document_cost, max_upload
from service.http.errors import ApiError
from service.http.glossaries import _changed, managed, registry
from service.http.limits import characters, check_limits
from service.http.policy import body, caller, route
from service.http.state import current_service
from service.pipeline import TranslationRequest
from service.terminology.glossary import Entry
from service.validation import CleanText, check_text

bp = Blueprint("deepl", __name__, url_prefix="/v2")
TAGS = ("deepl",)
#: What DeepL's usage endpoint reports for an account without a character limit.
NO_LIMIT = 1_000_000_000_000
#: Error codes of this service that pass by themselves: 503, which DeepL's clients retry. Every other 503 (a model
#: that is not installed) is a 400 here.
TRANSIENT = frozenset({"jobs_unavailable", "glossaries_unavailable", "corrections_unavailable",
                       "rate_limit_unavailable", "document_not_ready"})
#: Parameters of DeepL's API for features this service does not have: refused with their name.
UNSUPPORTED = ("style_id", "translation_memory_id", "translation_memory_threshold", "custom_instructions")
FORMALITIES = ("default", "prefer_less", "prefer_more", "less", "more")
#: DeepL's target codes for English (both are English here)
ENGLISH_TARGETS = (("EN-GB", "English (British)"), ("EN-US", "English (American)"))
LIST_FIELDS = ("text", "ignore_tags", "non_splitting_tags", "splitting_tags", "glossary_ids")
#: An attribute that marks the elements of ``ignore_tags`` while an HTML text goes through the document road.
IGNORED = "data-asean-mt-ignore"


def deepl_error(status: int, code: str, message: str) -> Response:
    """Any error of a /v2 route, in DeepL's shape and with DeepL's status codes."""
    if status == 401:
        status = 403  # DeepL: a missing or wrong key is 403 ("Authorization failure")
    elif code == "rate_limited":
        status = 456  # DeepL: the key's character quota is used up (clients do not retry it); a key's req_limit
        # (too_many_requests) stays 429, which clients retry with back-off
    elif code in TRANSIENT:
        status = 503
    elif status in (409, 422) or (status >= 500 and status != 502):
        status = 400  # a model that is not installed, a bad value: clients must not retry
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _params() -> dict[str, Any]:
    """The request's parameters: a JSON object, or form fields (lists repeated), and the query string."""
    data: dict[str, Any] = {k: request.args.getlist(k) if k in LIST_FIELDS else request.args.get(k)
                            for k in request.args}
    if request.is_json:
        parsed = parse_json(current_service().settings.max_json_depth)
        if not isinstance(parsed, dict):
            raise ApiError(400, "invalid_request", "The JSON body must be an object.")
        return data | parsed
    if request.mimetype in (FORM, MULTIPART):
        form = request.form
        data |= {k: form.getlist(k) if k in LIST_FIELDS else form.get(k) for k in form}
    return data


def _language(value: str | None, name: str) -> str:
    raw = (value or "").strip()
    for candidate in (raw, raw.split("-")[0], raw.split("_")[0]):
        try:
            return languages.normalize(candidate.lower() if len(candidate) <= 3 else candidate)
        except (UnsupportedLanguage, InvalidInput):
            continue
    raise ApiError(400, "unsupported_language", f"Value for '{name}' not supported: {raw!r} (this server has "
                   f"{', '.join(c.upper() for c in languages.LANGUAGES)}).")


def _tags(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [t.strip() for item in items for t in str(item).split(",") if t.strip()]


class DeeplTranslate(BaseModel):
    model_config = ConfigDict(extra="allow")  # DeepL's clients send parameters added over the years
    text: list[CleanText] = Field(min_length=1, description="the texts (repeated in a form, a list in JSON)")
    target_lang: str = Field(description="DeepL or ISO code: EN-GB, EN-US, ID, MS, TH, VI, TL, KM, LO, MY")
    source_lang: str | None = Field(None, description="omitted: detected")
    split_sentences: str | int | None = Field(None, description="accepted: 0, 1, nonewlines (joins wrapped lines)")
    preserve_formatting: str | bool | int | None = Field(None, description="accepted (formatting is always kept)")
    tag_handling: str | None = Field(None, description="html or xml: tags kept (HTML: the document road's adapter; "
                                                        "XML: every element inline, splitting_tags their own units)")
    tag_handling_version: str | None = None
    ignore_tags: list[str] | str | None = Field(None, description="elements whose content is not translated")
    non_splitting_tags: list[str] | str | None = Field(None, description="accepted")
    splitting_tags: list[str] | str | None = Field(None, description="xml: elements translated as units of "
                                                                     "their own; html: accepted")
    outline_detection: str | bool | int | None = Field(None, description="accepted")
    glossary_id: str | None = Field(None, description="a glossary of /v2/glossaries (any managed glossary's name)")
    glossary_ids: list[str] | None = None
    context: str | None = Field(None, description="accepted, not used and not billed")
    formality: str | None = Field(None, description="default, prefer_less, prefer_more (no effect); less and "
                                                    "more are not supported")
    model_type: str | None = Field(None, description="accepted")
    show_billed_characters: str | bool | int | None = None

    def glossaries(self) -> list[str]:
        return [g for g in [self.glossary_id, *(self.glossary_ids or [])] if g]


def read_translate() -> DeeplTranslate:
    data = _params()
    if isinstance(data.get("text"), str):
        data["text"] = [data["text"]]
    if "text" not in data or data.get("text") in ([], None):
        raise ApiError(400, "invalid_request", "Parameter 'text' not specified.")
    if not data.get("target_lang"):
        raise ApiError(400, "invalid_request", "Value for 'target_lang' not specified.")
    sent = validate(DeeplTranslate, data)
    for name in UNSUPPORTED:
        if getattr(sent, "model_extra", {}).get(name) not in (None, "", []):
            raise ApiError(400, "not_supported", f"Parameter '{name}' is not supported by this server.")
    if sent.formality is not None and sent.formality not in FORMALITIES:
        raise ApiError(400, "invalid_request", f"Value for 'formality' not supported: {sent.formality!r}.")
    if sent.formality in ("less", "more"):
        raise ApiError(400, "not_supported", f"formality={sent.formality} is not supported by this server (its "
                       "engines have no formality control); use prefer_less or prefer_more, which are accepted.")
    if sent.tag_handling not in (None, "", "html", "xml"):
        raise ApiError(400, "invalid_request", "Value for 'tag_handling' not supported: use html or xml.")
    if str(sent.split_sentences or "1") not in ("0", "1", "nonewlines"):
        raise ApiError(400, "invalid_request", "Value for 'split_sentences' not supported: use 0, 1 or nonewlines.")
    return sent


def translate_cost(sent: DeeplTranslate, s: Settings) -> int:
    defaults = s.default_glossary_names
    check_limits(s, list(sent.text), 1, [*defaults, *sent.glossaries()] if sent.glossaries() else None)
    return characters(list(sent.text), 1)


def _ignoring(html: str, tags: list[str]) -> str:
    """The HTML with the elements of ``ignore_tags`` marked ``translate="no"`` (the HTML adapter keeps them)."""
    if not tags:
        return html
    import lxml.html

    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter(*tags):
        if el.get("translate") is None:
            el.set("translate", "no")
            el.set(IGNORED, "")
    return (root.text or "") + "".join(lxml.html.tostring(child, encoding="unicode") for child in root)


def _unmark(html: str) -> str:
    if IGNORED not in html:
        return html
    import lxml.html

    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter():
        if isinstance(el.tag, str) and el.get(IGNORED) is not None:
            del el.attrib[IGNORED]
            del el.attrib["translate"]
    return (root.text or "") + "".join(lxml.html.tostring(child, encoding="unicode") for child in root)


@bp.post("/translate")
@route("DeepL: translate text (form or JSON)", read=read_translate,
       bodies={JSON: DeeplTranslate, FORM: DeeplTranslate}, cost=translate_cost, errors=(403, 456),
       errors_as=deepl_error, tags=TAGS,
       description="Answers translations[].text, detected_source_language and billed_characters, like DeepL.")
def translate() -> Response:
    state = current_service()
    s = state.settings
    sent: DeeplTranslate = body()
    target = _language(sent.target_lang, "target_lang")
    source = _language(sent.source_lang, "source_lang") if sent.source_lang else "auto"
    chosen = sent.glossaries()
    glossaries = [*s.default_glossary_names, *chosen] if chosen else None
    options = DecodeOptions(beam_size=s.beam_size)
    texts = list(sent.text)
    if sent.tag_handling == "xml":
        return jsonify({"translations": [_translate_xml(text, source, target, options, glossaries, sent)
                                         for text in texts]})
    if sent.tag_handling == "html":
        from service.documents.road import translate_html

        ignore = _tags(sent.ignore_tags)
        results = [translate_html(state.pipeline, _ignoring(t, ignore), [target], source, options, glossaries)
                   for t in texts]
    else:
        layout = "reflow" if str(sent.split_sentences) == "nonewlines" else None
        results = state.pipeline.translate_many([TranslationRequest(t, [target], source, options, glossaries,
                                                                    layout=layout) for t in texts],
                                                max_chars=s.max_text_chars)
    out = []
    for text, result in zip(texts, results, strict=True):
        record(state, result, text)
        r = result.results[0]
        translated = r.text
        if isinstance(r.error, UnsupportedPair) and result.source == target:
            translated = text  # already in the target language: DeepL gives it back as it is
        elif r.error is not None:
            raise r.error  # answered in DeepL's shape by the route's errors_as
        if sent.tag_handling == "html" and translated is not None:
            translated = _unmark(translated)
        out.append({"detected_source_language": result.source.upper(), "text": translated,
                    "billed_characters": len(text)})
    return jsonify({"translations": out})


def _translate_xml(text: str, source: str, target: str, options: DecodeOptions, glossaries: list[str] | None,
                   sent: DeeplTranslate) -> dict[str, Any]:
    """One text with tag_handling=xml: its elements kept as inline tags (splitting_tags: units of their own,
    ignore_tags: kept whole)."""
    from service.documents.xmltext import XmlText

    state = current_service()
    doc = XmlText(text, _tags(sent.splitting_tags), _tags(sent.ignore_tags))
    if not doc.units:
        return {"detected_source_language": (source if source != "auto" else target).upper(), "text": text,
                "billed_characters": len(text)}
    if source == "auto":
        source = state.pipeline.detector.detect(" ".join(u.plain for u in doc.units)).language
    results = state.pipeline.translate_many([TranslationRequest(u.text, [target], source, options, glossaries,
                                                                layout="keep") for u in doc.units])
    out = []
    for unit, result in zip(doc.units, results, strict=True):
        record(state, result, unit.plain)
        r = result.results[0]
        if isinstance(r.error, UnsupportedPair) and result.source == target:
            out.append(unit.text)  # already in the target language
        elif r.error is not None:
            raise r.error
        else:
            out.append(r.text or "")
    return {"detected_source_language": source.upper(), "text": doc.write(out), "billed_characters": len(text)}


def _available() -> tuple[list[str], list[str]]:
    """(source languages, target languages) of the pairs that can be translated here now."""
    router = current_service().pipeline.router
    catalog = getattr(router, "catalog", None)
    if catalog is None:  # a router without a catalog serves every pair
        codes = list(languages.LANGUAGES)
        return codes, codes
    pairs = [(a, b) for a, b in catalog.pairs() if router.status(a, b).available]
    return list(dict.fromkeys(a for a, _ in pairs)), list(dict.fromkeys(b for _, b in pairs))


@bp.route("/languages", methods=["GET", "POST"])
@route("DeepL: the source or target languages (type=source|target)", group="languages", errors=(403,),
       errors_as=deepl_error, tags=TAGS,
       query={"type": ({"type": "string", "enum": ["source", "target"]}, "source (default) or target")})
def list_languages() -> Response:
    kind = _params().get("type") or "source"
    if kind not in ("source", "target"):
        raise ApiError(400, "invalid_request", "Value for 'type' not supported: use source or target.")
    sources, targets = _available()
    if kind == "source":
        return jsonify([{"language": c.upper(), "name": languages.get(c).name} for c in sources])
    out: list[dict[str, Any]] = []
    for code in targets:
        variants = ENGLISH_TARGETS if code == "en" else ((code.upper(), languages.get(code).name),)
        out += [{"language": c, "name": n, "supports_formality": False} for c, n in variants]
    return jsonify(out)


@bp.route("/usage", methods=["GET", "POST"])
@route("DeepL: characters used against the key's character limit", errors=(403,), errors_as=deepl_error,
       tags=TAGS)
def usage() -> Response:
    used, limit = current_service().rate_limit.usage(caller())
    return jsonify({"character_count": used, "character_limit": limit if limit is not None else NO_LIMIT})


# -- glossaries ----------------------------------------------------------------------------------------------
class DeeplGlossary(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: CleanText = Field(min_length=1, max_length=200)
    source_lang: str
    target_lang: str
    entries: CleanText = Field(min_length=1, description="the entries as TSV (source<TAB>target a line) or CSV")
    entries_format: str = Field("tsv", description="tsv or csv")


def read_glossary() -> DeeplGlossary:
    return validate(DeeplGlossary, _params())


def _entries(sent: DeeplGlossary, source: str, target: str) -> list[Entry]:
    if sent.entries_format not in ("tsv", "csv"):
        raise ApiError(400, "invalid_request", "Value for 'entries_format' not supported: use tsv or csv.")
    rows = csv.reader(io.StringIO(sent.entries), delimiter="\t" if sent.entries_format == "tsv" else ",")
    entries: list[Entry] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (2, 4) or not row[0].strip() or not row[1].strip():
            raise ApiError(400, "invalid_request", f"Invalid glossary entries: line {n} needs a source and a "
                           "target term.")
        if len(row) == 4 and (_language(row[2], "source_lang") != source or _language(row[3], "target_lang")
                              != target):
            raise ApiError(400, "invalid_request", f"Invalid glossary entries: line {n} has other languages than "
                           "the glossary.")
        term = " ".join(row[0].split())
        if term.casefold() in seen:
            raise ApiError(400, "invalid_request", f"Invalid glossary entries: line {n} repeats the source term "
                           f"{term!r}.")
        seen.add(term.casefold())
        entries.append(Entry({source: (term,), target: (" ".join(row[1].split()),)}))
    if not entries:
        raise ApiError(400, "invalid_request", "Invalid glossary entries: there are none.")
    return entries


def _info(name: str, description: str, langs: list[str], entries: int, created: datetime) -> dict[str, Any]:
    return {"glossary_id": name, "name": description or name, "ready": True,
            "source_lang": langs[0] if langs else "", "target_lang": langs[1] if len(langs) > 1 else "",
            "creation_time": created.isoformat(timespec="milliseconds") + "Z", "entry_count": entries}


@bp.post("/glossaries")
@route("DeepL: create a glossary (a managed glossary of two languages)", admin=True, read=read_glossary,
       bodies={JSON: DeeplGlossary, FORM: DeeplGlossary}, status=201, errors=(403, 503), errors_as=deepl_error,
       tags=TAGS)
def create_glossary() -> Response:
    sent: DeeplGlossary = body()
    source, target = _language(sent.source_lang, "source_lang"), _language(sent.target_lang, "target_lang")
    if source == target:
        raise ApiError(400, "invalid_request", "A glossary's source and target languages must differ.")
    entries = _entries(sent, source, target)
    s = current_service().settings
    if len(entries) > s.max_glossary_entries:
        raise ApiError(413, "input_too_large", f"The glossary has {len(entries):,} entries; the limit is "
                       f"{s.max_glossary_entries:,}.")
    name = f"deepl-{uuid.uuid4().hex[:16]}"
    from service.http.glossaries import author

    info = managed().create(name, entries, [source, target], author(), sent.name, action="created over DeepL's API")
    _changed(name, info.version)
    response = jsonify(_info(name, info.description, info.languages, info.entries, info.created_at))
    response.status_code = 201
    return response


@bp.get("/glossaries")
@route("DeepL: every glossary (the managed glossaries)", group="glossaries", errors=(403, 503),
       errors_as=deepl_error, tags=TAGS)
def list_glossaries() -> Response:
    return jsonify({"glossaries": [_info(g.name, g.description, g.languages, g.entries, g.created_at)
                                   for g in managed().list()]})


def _managed_info(glossary_id: str) -> Any:
    from service.errors import GlossaryNotFound

    if registry().is_builtin(glossary_id):
        raise ApiError(404, "glossary_not_found", "Glossary not found (built-in glossaries are read with "
                       "/v1/glossaries).")
    try:
        return managed().info(glossary_id)
    except GlossaryNotFound:
        raise ApiError(404, "glossary_not_found", "Glossary not found.") from None


@bp.get("/glossaries/<glossary_id>")
@route("DeepL: one glossary's details", group="glossaries", errors=(403, 404, 503), errors_as=deepl_error,
       tags=TAGS)
def get_glossary(glossary_id: str) -> Response:
    g = _managed_info(glossary_id)
    return jsonify(_info(g.name, g.description, g.languages, g.entries, g.created_at))


@bp.get("/glossaries/<glossary_id>/entries")
@route("DeepL: a glossary's entries as TSV (source and target form a line)", group="glossaries",
       produces="text/tab-separated-values", errors=(403, 404, 503), errors_as=deepl_error, tags=TAGS)
def glossary_entries(glossary_id: str) -> Response:
    info = _managed_info(glossary_id)
    source, target = [*info.languages, "", ""][:2]
    lines = []
    for entry in managed().load(glossary_id).entries:
        s, t = entry.forms.get(source), entry.forms.get(target)
        if s and t:
            lines.append(f"{s[0]}\t{t[0]}")
    return Response("\n".join(lines), mimetype="text/tab-separated-values")


@bp.delete("/glossaries/<glossary_id>")
@route("DeepL: delete a glossary", admin=True, status=204, errors=(403, 404, 503), errors_as=deepl_error,
       tags=TAGS)
def delete_glossary(glossary_id: str) -> Response:
    _managed_info(glossary_id)
    managed().delete(glossary_id)
    _changed(glossary_id, None)
    return Response(status=204)


@bp.get("/glossary-language-pairs")
@route("DeepL: the language pairs a glossary may have", group="glossaries", errors=(403,), errors_as=deepl_error,
       tags=TAGS)
def glossary_pairs() -> Response:
    codes = list(languages.LANGUAGES)
    return jsonify({"supported_languages": [{"source_lang": a, "target_lang": b} for a in codes for b in codes
                                            if a != b]})


# -- documents -----------------------------------------------------------------------------------------------
class DeeplDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")
    file: bytes = Field(description="the document (HTML, DOCX, Markdown, SRT, WebVTT, XLIFF, PO, PDF, text)")
    target_lang: str
    source_lang: str | None = None
    filename: str | None = None
    glossary_id: str | None = None
    formality: str | None = None
    output_format: str | None = Field(None, description="docx for a PDF (the default), txt")


def read_document() -> DocumentRequest:
    s = current_service().settings
    if request.mimetype != MULTIPART:
        raise ApiError(400, "invalid_request", "Send the document as multipart/form-data (a \"file\" field).")
    form = request.form
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "invalid_request", "Parameter 'file' not specified.")
    if not form.get("target_lang"):
        raise ApiError(400, "invalid_request", "Value for 'target_lang' not specified.")
    name = form.get("filename") or upload.filename or ""
    try:
        check_text(name)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", f"The file name is not usable: {exc}.") from None
    if not name:
        raise ApiError(400, "invalid_request", "Parameter 'filename' not specified (the file has no name).")
    if form.get("formality") in ("less", "more"):
        raise ApiError(400, "not_supported", f"formality={form['formality']} is not supported by this server.")
    output = (form.get("output_format") or "docx").lower()
    if output not in ("docx", "txt"):
        raise ApiError(400, "not_supported", f"output_format={output} is not supported: a document comes back in "
                       "its own format (a PDF as docx or txt).")
    target = _language(form["target_lang"], "target_lang")
    source = _language(form["source_lang"], "source_lang") if form.get("source_lang") else "auto"
    prepared = document_jobs.prepare(s, name, upload.read(s.max_document_bytes + 1))
    glossary = form.get("glossary_id")
    return DocumentRequest(prepared=prepared, targets=[target], source=source,
                           glossaries=[*s.default_glossary_names, glossary] if glossary else None, pdf_output=output)


def document_key(job_id: str) -> str:
    """The key DeepL's clients send back with a document's id: a MAC of the id, so nothing is stored for it."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"deepl-document:{job_id}".encode(), hashlib.sha256).hexdigest()[:48]


def _checked_document(document_id: str) -> Any:
    jobs = _jobs(current_service())
    sent = str(_params().get("document_key") or "")
    if not hmac.compare_digest(sent, document_key(document_id)):
        raise ApiError(404, "not_found", "Document not found (or the document_key does not match).")
    _document(jobs, document_id)
    return jobs


@bp.post("/document")
@route("DeepL: upload a document to translate (a document job); answers its id and key", read=read_document,
       bodies={MULTIPART: DeeplDocument}, cost=document_cost, max_bytes=max_upload, errors=(403, 456, 503),
       errors_as=deepl_error, tags=TAGS)
def upload_document() -> Response:
    from service.http.documents import _submit

    jobs = _jobs(current_service())
    job, _ = _submit(jobs, body())
    return jsonify({"document_id": job.id, "document_key": document_key(job.id)})


@bp.route("/document/<document_id>", methods=["GET", "POST"])
@route("DeepL: a document's status (queued, translating, done, error)", errors=(403, 404, 503),
       errors_as=deepl_error, tags=TAGS)
def document_status(document_id: str) -> Response:
    jobs = _checked_document(document_id)
    status = document_jobs.status(jobs, document_id)
    info = next(iter(status["files"].values()), {})
    state = {"queued": "queued", "running": "translating"}.get(status["state"])
    if state is None:
        state = "done" if info.get("state") == "done" else "error"
    out: dict[str, Any] = {"document_id": document_id, "status": state}
    if state == "translating" and status.get("eta_seconds") is not None:
        out["seconds_remaining"] = int(status["eta_seconds"])
    if state == "error":
        out["error_message"] = (info.get("error") or {}).get("message") or f"The document was {status['state']}."
    return jsonify(out)


@bp.route("/document/<document_id>/result", methods=["GET", "POST"])
@route("DeepL: download a translated document", produces="application/octet-stream", errors=(403, 404, 503),
       errors_as=deepl_error, tags=TAGS)
def document_result(document_id: str) -> Response:
    jobs = _checked_document(document_id)
    job = jobs.store.get(document_id)
    return _file(jobs, document_id, job.targets[0])

