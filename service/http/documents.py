"""Documents over HTTP: ``/v1/documents`` (upload, status, download), LibreTranslate's ``/translate_file``,
``/download_file`` and ``/frontend/settings``, and the web pages of a document translated from the form.

A document is a job (service.documents.jobs): durable, translated in the background, per-target progress, owned by
the API key that sent it (others get 404, as for jobs). ``?wait=SECONDS`` holds the request until the document is
done (at most ``max_document_wait_s``): a small document's translated file comes back in the same request. The
translated file is always served as an attachment, never rendered by this server's pages.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from service import languages
from service.config import Settings
from service.documents import EXTENSIONS
from service.documents import jobs as document_jobs
from service.documents.jobs import PDF_OUTPUTS, Prepared
from service.errors import InvalidInput
from service.http.bodies import MULTIPART, validate
from service.http.errors import ApiError
from service.http.limits import check_glossaries
from service.http.policy import PAGE, body, caller, route
from service.http.state import current_service
from service.jobs.service import JobService
from service.jobs.store import Job, JobNotFound
from service.summaries.options import SummaryOptions
from service.validation import check_text

bp = Blueprint("documents", __name__)
#: Multipart overhead on top of the file's own bytes (boundaries, headers, form fields).
UPLOAD_OVERHEAD = 64 * 1024


class DocumentUpload(BaseModel):
    """A document as a multipart form (curl -F file=@article.docx -F targets=ms)."""

    model_config = ConfigDict(extra="ignore")  # api_key, csrf_token
    file: bytes = Field(description="the document: " + ", ".join(sorted(EXTENSIONS)))
    targets: list[str] = Field(default_factory=list, description="target languages (repeated, or comma-separated)")
    source: str = Field("auto", description="the source language, or auto")
    glossary: str | None = Field(None, description="glossaries, comma-separated; empty for none; absent: the default")
    format: str | None = Field(None, description="the file's format when its name does not say it (html, docx, "
                                                 "markdown, srt, vtt, xliff, po, pdf, text)")
    pdf_output: str = Field("docx", description="a PDF's translation as docx (default) or txt; the layout is "
                                                "not kept")
    summary: str | None = Field(None, description="a number of sentences: also summarise the document")


class DocumentRequest(BaseModel):
    prepared: Any
    targets: list[str]
    source: str
    glossaries: list[str] | None
    pdf_output: str
    summary: int | None = None


def _jobs(state: Any) -> JobService:
    if state.jobs is None:
        raise ApiError(503, "jobs_unavailable", "Documents are translated as jobs, which are not configured on "
                       "this server.")
    return state.jobs


def _visible(jobs: JobService, job_id: str) -> Job:
    """The job, if the caller may see it; otherwise exactly the answer for a job that does not exist."""
    job = jobs.store.get(job_id)
    if not caller().can_see(job.owner):
        raise JobNotFound(f"No document {job_id!r}.", job_id=job_id)
    return job


def max_upload(s: Settings) -> int:
    return s.max_document_bytes + UPLOAD_OVERHEAD


def read_document() -> DocumentRequest:
    """The upload, read as its format at once: a malformed file is refused now, with its reason."""
    s = current_service().settings
    if request.mimetype != MULTIPART:
        raise ApiError(415, "unsupported_media_type", "Send the document as multipart/form-data (a \"file\" field).")
    form = request.form
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("Choose a file to translate (the \"file\" field).")
    fields = validate(DocumentUpload, {"file": b"", **{k: form.getlist(k) if k == "targets" else form.get(k)
                                                       for k in form}})
    try:
        check_text(upload.filename)
    except ValueError as exc:
        raise InvalidInput(f"The file name is not usable: {exc}.") from None
    if fields.pdf_output not in PDF_OUTPUTS:
        raise InvalidInput("pdf_output must be docx or txt.")
    targets = [t.strip() for value in fields.targets for t in value.split(",") if t.strip()]
    if not targets:
        raise InvalidInput("Give at least one target language (the \"targets\" field).")
    if len(targets) > s.max_targets:
        raise ApiError(413, "input_too_large", f"{len(targets)} targets in one request; the limit is "
                       f"{s.max_targets}.", limit=s.max_targets, setting="max_targets")
    glossaries = None if fields.glossary is None else [g for g in fields.glossary.split(",") if g]
    summary = None
    if fields.summary:
        try:
            summary = int(fields.summary)
        except ValueError:
            raise InvalidInput("summary must be a number of sentences.") from None
        if not 1 <= summary <= 20:
            raise InvalidInput("summary must be between 1 and 20 sentences.")
    prepared = document_jobs.prepare(s, upload.filename, upload.read(s.max_document_bytes + 1), fields.format)
    return DocumentRequest(prepared=prepared, targets=languages.parse_list(targets), source=fields.source,
                           glossaries=glossaries, pdf_output=fields.pdf_output, summary=summary)


def document_cost(sent: DocumentRequest, s: Settings) -> int:
    """Characters of the document's text x targets, like any translation."""
    check_glossaries(s, sent.glossaries)
    return sent.prepared.characters * max(1, len(sent.targets))


def _submit(jobs: JobService, sent: DocumentRequest) -> tuple[Any, bool]:
    summary = SummaryOptions(sentences=sent.summary) if sent.summary else None
    return document_jobs.submit(jobs, sent.prepared, sent.targets, sent.source, sent.glossaries, summary,
                                owner=caller().owner, pdf_output=sent.pdf_output)


def _wait_seconds() -> float:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", "wait must be a number of seconds.") from None
    if not 0 <= seconds <= 3600:
        raise ApiError(400, "invalid_request", "wait must be between 0 and 3600 seconds.")
    return min(seconds, current_service().settings.max_document_wait_s)


def _with_urls(status: dict[str, Any], page: bool = False) -> dict[str, Any]:
    endpoint = "documents.document_page_file" if page else "documents.get_document_file"
    for target, info in status.get("files", {}).items():
        info["url"] = url_for(endpoint, job_id=status["id"], target=target) if info["state"] == "done" else None
    return status


def _document(jobs: JobService, job_id: str) -> None:
    """The job, if it is the caller's and a document job; else the answer for one that does not exist."""
    _visible(jobs, job_id)
    if jobs.store.job_file(job_id) is None:
        raise JobNotFound(f"No document {job_id!r}.", job_id=job_id)


def _file(jobs: JobService, job_id: str, target: str) -> Response:
    try:
        code = languages.normalize(target)
    except Exception:
        code = target
    row = jobs.store.result_file(job_id, code)
    if row is None:
        raise ApiError(404, "not_found", f"The document was not translated into {target!r}.")
    if row.state != "done" or row.file is None:
        state = "failed" if row.state == "failed" else row.state
        message = (row.error or {}).get("message") if row.state == "failed" else None
        raise ApiError(409, "document_not_ready", f"The {target} translation is {state}"
                       + (f": {message}" if message else "; ask again when the document's state is completed."),
                       state=state)
    extra = row.extra or {}
    name = extra.get("name") or f"document.{code}"
    response = Response(row.file, mimetype=None, content_type=extra.get("media_type") or "application/octet-stream")
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    response.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.post("/v1/documents")
@route("Translate a document (HTML, DOCX, Markdown, SRT, WebVTT, XLIFF, PO, PDF, text) with its markup kept",
       read=read_document, bodies={MULTIPART: DocumentUpload}, cost=document_cost, max_bytes=max_upload, status=201,
       errors=(503,), tags=("documents",),
       query={"wait": ({"type": "number", "minimum": 0, "maximum": 3600},
                       "seconds to wait for the translation (at most max_document_wait_s); with one target and the "
                       "document done in time, the translated file itself is the answer (200)")},
       description="Answers 201 with the document's id and state; GET /v1/documents/{id} for progress, "
                   "/v1/documents/{id}/{target} for each translated file.")
def create_document() -> Response:
    jobs = _jobs(current_service())
    sent: DocumentRequest = body()
    job, _ = _submit(jobs, sent)
    seconds = _wait_seconds()
    if seconds:
        done = document_jobs.wait(jobs, job.id, seconds)
        if done["state"] == "completed" and len(job.targets) == 1:
            row = jobs.store.result_file(job.id, job.targets[0])
            if row is not None and row.state == "done":
                response = _file(jobs, job.id, job.targets[0])
                response.headers["Location"] = url_for("documents.get_document", job_id=job.id)
                return response
    response = jsonify(_with_urls(document_jobs.status(jobs, job.id)))
    response.status_code = 201
    response.headers["Location"] = url_for("documents.get_document", job_id=job.id)
    return response


@bp.get("/v1/documents/<job_id>")
@route("A document's state, progress per target, and each translated file's name, report and URL",
       tags=("documents",))
def get_document(job_id: str) -> Response:
    jobs = _jobs(current_service())
    _document(jobs, job_id)
    return jsonify(_with_urls(document_jobs.status(jobs, job_id)))


@bp.get("/v1/documents/<job_id>/<target>")
@route("A translated document (as an attachment, with its file name)", produces="application/octet-stream",
       errors=(409,), tags=("documents",),
       query={"wait": ({"type": "number", "minimum": 0, "maximum": 3600},
                       "seconds to wait for it (at most max_document_wait_s)")})
def get_document_file(job_id: str, target: str) -> Response:
    jobs = _jobs(current_service())
    _document(jobs, job_id)
    seconds = _wait_seconds()
    if seconds:
        document_jobs.wait(jobs, job_id, seconds)
    return _file(jobs, job_id, target)


# -- LibreTranslate ------------------------------------------------------------------------------------------
class LtFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    file: bytes = Field(description="the document")
    source: str = "auto"
    target: str
    api_key: str | None = None


def read_lt_file() -> DocumentRequest:
    s = current_service().settings
    if request.mimetype != MULTIPART:
        raise ApiError(415, "unsupported_media_type", "Send the file as multipart/form-data.")
    form = request.form
    for field_name in ("source", "target"):
        if not form.get(field_name):
            raise ApiError(400, "invalid_request", f"Invalid request: missing {field_name} parameter")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "invalid_request", "Invalid request: missing file parameter")
    try:
        check_text(upload.filename)
    except ValueError as exc:
        raise InvalidInput(f"The file name is not usable: {exc}.") from None
    prepared = document_jobs.prepare(s, upload.filename, upload.read(s.max_document_bytes + 1))
    return DocumentRequest(prepared=prepared, targets=languages.parse_list([form["target"]]),
                           source=form["source"], glossaries=None, pdf_output="docx")


@bp.post("/translate_file")
@route("LibreTranslate: translate a file; answers the URL of the translated file", read=read_lt_file,
       bodies={MULTIPART: LtFile}, cost=document_cost, max_bytes=max_upload, errors=(502, 503),
       tags=("libretranslate",), origin_rule=True)
def translate_file() -> Response:
    jobs = _jobs(current_service())
    sent: DocumentRequest = body()
    job, _ = _submit(jobs, sent)
    done = document_jobs.wait(jobs, job.id, current_service().settings.max_document_wait_s)
    target = job.targets[0]
    row = next((r for r in jobs.store.target_states(job.id) if r[0] == target), None)
    if done["state"] == "completed" and row is not None and row[1] == "failed":
        error = row[3] or {}
        raise ApiError(400, error.get("code", "translation_failed"), error.get("message", "The file could not be "
                       "translated."))
    name = (row[2] or {}).get("name") if row is not None and row[2] else document_jobs_name(sent.prepared, target)
    url = url_for("documents.download_file", job_id=job.id, target=target, name=name, _external=True)
    return jsonify({"translatedFileUrl": url})


def document_jobs_name(prepared: Prepared, target: str) -> str:
    from service.documents.road import output_name

    return output_name(prepared.name, target, ".docx" if prepared.format == "pdf" else None)


@bp.get("/download_file/<job_id>/<target>/<name>")
@route("LibreTranslate: download a translated file (waits for it, at most max_document_wait_s)",
       produces="application/octet-stream", errors=(409,), tags=("libretranslate",))
def download_file(job_id: str, target: str, name: str) -> Response:
    jobs = _jobs(current_service())
    _document(jobs, job_id)
    document_jobs.wait(jobs, job_id, current_service().settings.max_document_wait_s)
    return _file(jobs, job_id, target)


@bp.get("/frontend/settings")
@route("LibreTranslate: the settings its clients and web front end read (limits, keys, file types)",
       group="languages", tags=("libretranslate",))
def frontend_settings() -> Response:
    s = current_service().settings
    source = languages.get(s.source_prior) if s.source_prior in languages.LANGUAGES else None
    return jsonify({
        "charLimit": s.max_text_chars, "frontendTimeout": 500, "apiKeys": current_service().keys.configured,
        "keyRequired": s.require_api_key, "suggestions": current_service().pipeline.corrections is not None,
        "filesTranslation": True,
        "supportedFilesFormat": sorted(EXTENSIONS),
        "language": {"source": {"code": "auto", "name": "Auto Detect"},
                     "target": {"code": "ms" if source is None or source.code != "ms" else "en",
                                "name": "Malay" if source is None or source.code != "ms" else "English"}},
    })


# -- web pages -------------------------------------------------------------------------------------------------
@bp.get("/documents/<job_id>")
@route("Web page: a document translated from the form (progress, downloads, term report)", access=PAGE,
       produces="text/html", tags=("web",))
def document_page(job_id: str) -> Response:
    jobs = _jobs(current_service())
    _document(jobs, job_id)
    status = _with_urls(document_jobs.status(jobs, job_id), page=True)
    from service.flags import describe_flag
    from service.http.web import target_error

    return Response(render_template("document.html", doc=status, describe_flag=describe_flag,
                                    target_error=target_error, live=status["state"] in ("queued", "running")),
                    200, mimetype="text/html")


@bp.get("/documents/<job_id>/<target>")
@route("Web page: download a translated document", access=PAGE, produces="application/octet-stream",
       errors=(409,), tags=("web",))
def document_page_file(job_id: str, target: str) -> Response:
    jobs = _jobs(current_service())
    _document(jobs, job_id)
    return _file(jobs, job_id, target)


def web_submit(sent: DocumentRequest) -> Response:
    """The translation form with a document: a document job, then its page."""
    job, _ = _submit(_jobs(current_service()), sent)
    return redirect(url_for("documents.document_page", job_id=job.id), code=303)


def is_document(file_name: str | None) -> bool:
    """Whether the form's upload goes the document road (any supported format but plain text)."""
    if not file_name:
        return False
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return EXTENSIONS.get(suffix) not in (None, "text")


def prepare_upload(settings: Settings, name: str, data: bytes) -> Prepared:
    return document_jobs.prepare(settings, name, data)


__all__ = ["DocumentRequest", "bp", "is_document", "prepare_upload", "web_submit"]
