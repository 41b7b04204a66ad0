"""Batch jobs over HTTP: ``/v1/jobs`` (JSON API) and ``/jobs`` (web pages).

A job belongs to the API key that created it: other keys get 404 for it (as for a job that does not exist),
admin keys see every job. Without keys every job is everyone's. JSON and multipart submissions go through the
same model (:class:`JobBody`), so both get the same checks, and both are charged characters x targets.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, redirect, render_template, request, stream_with_context, url_for
from pydantic import BaseModel, ConfigDict, Field

from service import languages
from service.config import Settings
from service.errors import InvalidInput
from service.http.bodies import JSON, MULTIPART, parse_json, validate
from service.http.errors import ApiError
from service.http.limits import check_glossaries
from service.http.policy import PAGE, body, caller, route
from service.http.schemas import GlossaryName, LanguageCode, Strict, SummaryParams
from service.http.state import ServiceState, current_service
from service.http.web import csrf_token, default_targets, target_choices, target_error
from service.jobs.inputs import parse_file
from service.jobs.service import JobService
from service.jobs.store import DOC_ID_CHARS, Job, JobNotFound, NewDocument
from service.validation import CleanText

bp = Blueprint("jobs", __name__)
#: Multipart overhead on top of the documents' own bytes (boundaries, headers, form fields).
UPLOAD_OVERHEAD = 64 * 1024


class JobDocument(Strict):
    id: CleanText = Field(min_length=1, max_length=DOC_ID_CHARS)
    text: CleanText


class JobBody(Strict):
    documents: list[JobDocument] = Field(min_length=1)
    targets: list[LanguageCode] = Field(min_length=1)
    source: LanguageCode = "auto"
    glossary: list[GlossaryName] | None = None
    summary: SummaryParams | None = None
    beam_size: int | None = Field(None, ge=1, le=8)


class JobUpload(BaseModel):
    """A job as a multipart form (the web page, curl -F): files and fields, turned into a :class:`JobBody`."""

    model_config = ConfigDict(extra="ignore")  # api_key, csrf_token
    files: list[bytes] = Field(default_factory=list, description=".txt (one document each), .jsonl "
                               "({\"id\", \"text\"} a line) or .csv (id,text) files")
    text: CleanText | None = Field(None, description="a document typed in (its id is \"text\")")
    targets: list[str] = Field(default_factory=list, description="target languages (repeated, or comma-separated)")
    source: str = "auto"
    glossary: str | None = Field(None, description="glossaries, comma-separated; empty for none; absent: "
                                                   "the default")


def max_upload(s: Settings) -> int:
    return s.max_job_bytes + UPLOAD_OVERHEAD


def read_job() -> JobBody:
    """JSON, or a multipart upload: either way the result is validated as a JobBody."""
    s = current_service().settings
    if request.mimetype != MULTIPART:
        return validate(JobBody, parse_json(s.max_json_depth))
    form = request.form
    upload = validate(JobUpload, {k: form.getlist(k) if k == "targets" else form.get(k) for k in form})
    docs: list[NewDocument] = []
    for file in request.files.getlist("files"):
        if file.filename:
            docs.extend(parse_file(file.filename, file.read(), s.max_json_depth))
    if upload.text and upload.text.strip():
        docs.append(NewDocument("text", upload.text))
    if not docs:
        raise InvalidInput("Choose at least one file (.txt, .jsonl, .csv).")
    return validate(JobBody, {
        "documents": [{"id": d.id, "text": d.text} for d in docs],
        "targets": [t.strip() for value in upload.targets for t in value.split(",") if t.strip()],
        "source": upload.source,
        "glossary": None if upload.glossary is None else [g for g in upload.glossary.split(",") if g],
    })


def job_cost(job: JobBody, s: Settings) -> int:
    """Characters x targets, like a translation request (one rate-limit currency)."""
    check_glossaries(s, job.glossary)
    targets = len(languages.parse_list(list(job.targets)))
    return sum(len(d.text) for d in job.documents) * targets


def _jobs(state: ServiceState) -> JobService:
    if state.jobs is None:
        raise ApiError(503, "jobs_unavailable", "Batch jobs are not configured on this server.")
    return state.jobs


def _visible(jobs: JobService, job_id: str) -> Job:
    """The job, if the caller may see it; otherwise exactly the answer for a job that does not exist."""
    job = jobs.store.get(job_id)
    if not caller().can_see(job.owner):
        raise JobNotFound(f"No job {job_id!r}.", job_id=job_id)
    return job


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(400, "invalid_request", "Idempotency-Key must have 1 to 200 characters.")
    return key


def _submit(jobs: JobService, job: JobBody, idempotency_key: str | None = None) -> tuple[Job, bool]:
    docs = [NewDocument(d.id, d.text) for d in job.documents]
    return jobs.submit(docs, job.targets, job.source, job.glossary, job.summary.options() if job.summary else None,
                       job.beam_size, idempotency_key, owner=caller().owner)


def _results(jobs: JobService, job_id: str, download: bool) -> Response:
    _visible(jobs, job_id)
    rows = jobs.results(job_id)
    first = next(rows, None)  # raises JobNotFound before the response starts

    def lines():
        if first is not None:
            yield json.dumps(first, ensure_ascii=False) + "\n"
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"

    response = Response(stream_with_context(lines()), mimetype="application/x-ndjson")
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.jsonl"'
    return response


@bp.post("/v1/jobs")
@route("Submit a batch job: documents (JSON) or files (multipart), translated in the background",
       read=read_job, bodies={JSON: JobBody, MULTIPART: JobUpload}, cost=job_cost, max_bytes=max_upload,
       status=201, errors=(409, 503), tags=("jobs",),
       description="Optional Idempotency-Key header: the same key and payload give the same job (200), the same "
                   "key with another payload 409. The job belongs to the API key that submits it.")
def create_job() -> Response:
    jobs = _jobs(current_service())
    job, created = _submit(jobs, body(), _idempotency_key())
    response = jsonify(jobs.status(job.id))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    return response


@bp.get("/v1/jobs/<job_id>")
@route("A job's state, counts per state and target, progress and ETA", tags=("jobs",))
def get_job(job_id: str) -> Response:
    jobs = _jobs(current_service())
    _visible(jobs, job_id)
    return jsonify(jobs.status(job_id))


@bp.get("/v1/jobs/<job_id>/results")
@route("A job's results, one JSON line per document and target", produces="application/x-ndjson",
       query={"download": ({"type": "string", "enum": ["1"]}, "1: as a file (Content-Disposition)")},
       tags=("jobs",))
def job_results(job_id: str) -> Response:
    return _results(_jobs(current_service()), job_id, bool(request.args.get("download")))


@bp.delete("/v1/jobs/<job_id>")
@route("Cancel a job: its pending documents are not translated", tags=("jobs",))
def cancel_job(job_id: str) -> Response:
    jobs = _jobs(current_service())
    _visible(jobs, job_id)
    return jsonify(jobs.cancel(job_id))


# -- web pages -----------------------------------------------------------------------------------------
#: Failed documents listed on a job's page (the downloaded results have every one).
FAILURES_SHOWN = 50
LIVE = ("queued", "running")


def _jobs_page(error: str | None = None, status: int = 200) -> Response:
    state = current_service()
    jobs = _jobs(state)
    who = caller()
    mine = jobs.store.list_jobs() if who.admin else jobs.store.list_jobs(owner=who.owner)
    listed = [jobs.status(j.id) for j in mine]
    choices = target_choices("auto")
    page = render_template("jobs.html", jobs=listed, csrf_token=csrf_token(), choices=choices,
                           default_targets=default_targets(choices)[:1],
                           default_glossaries=state.settings.default_glossary_names,
                           languages=list(languages.LANGUAGES.values()), glossaries=state.pipeline.glossaries.usable(),
                           error=error, live=any(j["state"] in LIVE for j in listed))
    return Response(page, status, mimetype="text/html")


@bp.get("/jobs")
@route("Web page: your batch jobs, and a form to start one", access=PAGE, produces="text/html", tags=("web",))
def jobs_page() -> Response:
    return _jobs_page()


@bp.post("/jobs")
@route("Web page: start a batch job from uploaded files", access=PAGE, csrf=True, read=read_job,
       bodies={MULTIPART: JobUpload}, cost=job_cost, max_bytes=max_upload, produces="text/html", status=303,
       page=lambda message, status: _jobs_page(message, status), tags=("web",))
def jobs_submit() -> Response:
    job, _ = _submit(_jobs(current_service()), body())
    return redirect(url_for("jobs.job_page", job_id=job.id), code=303)


@bp.get("/jobs/<job_id>")
@route("Web page: one job's progress per language, its failures and why, and a cancel button", access=PAGE,
       produces="text/html", tags=("web",))
def job_page(job_id: str) -> str:
    jobs = _jobs(current_service())
    _visible(jobs, job_id)
    status = jobs.status(job_id)
    failures = [{"id": doc_id, "target": target, "reason": target_error(error or {}, target)}
                for doc_id, target, error in jobs.store.failures(job_id, FAILURES_SHOWN)] \
        if status["counts"]["failed"] else []
    return render_template("job.html", job=status, failures=failures, live=status["state"] in LIVE)


@bp.post("/jobs/<job_id>/cancel")
@route("Web page: cancel a job (its waiting documents are not translated)", access=PAGE, csrf=True,
       produces="text/html", status=303, tags=("web",))
def job_cancel(job_id: str) -> Response:
    jobs = _jobs(current_service())
    _visible(jobs, job_id)
    jobs.cancel(job_id)
    return redirect(url_for("jobs.job_page", job_id=job_id), code=303)


@bp.get("/jobs/<job_id>/results")
@route("Web page: download one job's results (JSONL)", access=PAGE, produces="application/x-ndjson",
       tags=("web",))
def job_download(job_id: str) -> Response:
    return _results(_jobs(current_service()), job_id, True)

