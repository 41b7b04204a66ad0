"""Batch jobs over HTTP: ``/v1/jobs`` (JSON API) and ``/jobs`` (web pages)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, stream_with_context, url_for
from pydantic import Field, field_validator

from service import languages
from service.errors import InvalidInput, ServiceError
from service.http.bodies import parse_json, validate
from service.http.errors import ApiError, status_for
from service.http.schemas import GlossaryName, LanguageCode, Strict, SummaryParams, clean_text
from service.http.state import ServiceState, current_service
from service.http.web import check_csrf, csrf_token
from service.jobs.inputs import parse_file
from service.jobs.service import JobService
from service.jobs.store import NewDocument

bp = Blueprint("jobs", __name__)
#: Multipart overhead on top of the documents' own bytes (boundaries, headers, form fields).
UPLOAD_OVERHEAD = 64 * 1024


class JobDocument(Strict):
    id: str = Field(min_length=1, max_length=500)
    text: str

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return clean_text(value)


class JobBody(Strict):
    documents: list[JobDocument] = Field(min_length=1)
    targets: list[LanguageCode] = Field(min_length=1)
    source: LanguageCode = "auto"
    glossary: list[GlossaryName] | None = None
    summary: SummaryParams | None = None
    beam_size: int | None = Field(None, ge=1, le=8)


def _jobs(state: ServiceState) -> JobService:
    if state.jobs is None:
        raise ApiError(503, "jobs_unavailable", "Batch jobs are not configured on this server.")
    return state.jobs


def _key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(400, "invalid_request", "Idempotency-Key must have 1 to 200 characters.")
    return key


def _from_form() -> tuple[list[NewDocument], dict[str, Any]]:
    docs: list[NewDocument] = []
    for upload in request.files.getlist("files"):
        if upload.filename:
            docs.extend(parse_file(upload.filename, upload.read()))
    text = request.form.get("text", "")
    if text.strip():
        docs.append(NewDocument("text", clean_text(text)))
    targets = [t for value in request.form.getlist("targets") for t in value.split(",") if t.strip()]
    glossary = request.form.get("glossary")
    options = {"targets": targets, "source": request.form.get("source", "auto"),
               "glossaries": None if glossary is None else [g for g in glossary.split(",") if g]}
    return docs, options


@bp.post("/v1/jobs")
def create_job() -> Response:
    state = current_service()
    jobs = _jobs(state)
    request.max_content_length = state.settings.max_job_bytes + UPLOAD_OVERHEAD
    state.keys.identify()
    key = _key()
    if request.mimetype == "multipart/form-data":
        docs, options = _from_form()
        job, created = jobs.submit(docs, options["targets"], options["source"], options["glossaries"],
                                   idempotency_key=key)
    else:
        body = validate(JobBody, parse_json(state.settings.max_json_depth))
        docs = [NewDocument(d.id, d.text) for d in body.documents]
        job, created = jobs.submit(docs, body.targets, body.source, body.glossary,
                                   body.summary.options() if body.summary else None, body.beam_size, key)
    response = jsonify(jobs.status(job.id))
    response.status_code = 201 if created else 200
    response.headers["Location"] = url_for("jobs.get_job", job_id=job.id)
    return response


@bp.get("/v1/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    state = current_service()
    state.keys.identify()
    return jsonify(_jobs(state).status(job_id))


@bp.get("/v1/jobs/<job_id>/results")
def job_results(job_id: str) -> Response:
    state = current_service()
    state.keys.identify()
    jobs = _jobs(state)
    rows = jobs.results(job_id)
    first = next(rows, None)  # raises JobNotFound before the response starts

    def lines():
        if first is not None:
            yield json.dumps(first, ensure_ascii=False) + "\n"
        for row in rows:
            yield json.dumps(row, ensure_ascii=False) + "\n"

    response = Response(stream_with_context(lines()), mimetype="application/x-ndjson")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f'attachment; filename="job-{job_id}.jsonl"'
    return response


@bp.delete("/v1/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    state = current_service()
    state.keys.identify()
    return jsonify(_jobs(state).cancel(job_id))


# -- web pages -----------------------------------------------------------------------------------------
def _jobs_page(state: ServiceState, error: str | None = None) -> str:
    jobs = _jobs(state)
    return render_template("jobs.html", jobs=[jobs.status(j.id) for j in jobs.store.list_jobs()],
                           csrf_token=csrf_token(), languages=list(languages.LANGUAGES.values()),
                           glossaries=state.pipeline.glossaries.usable(), error=error)


@bp.get("/jobs")
def jobs_page() -> str:
    return _jobs_page(current_service())


@bp.post("/jobs")
def jobs_submit() -> Response | tuple[str, int]:
    state = current_service()
    jobs = _jobs(state)
    request.max_content_length = state.settings.max_job_bytes + UPLOAD_OVERHEAD
    check_csrf()
    try:
        docs, options = _from_form()
        if not docs:
            raise InvalidInput("Choose at least one file (.txt, .jsonl, .csv).")
        job, _ = jobs.submit(docs, options["targets"], options["source"], options["glossaries"])
    except ServiceError as exc:
        return _jobs_page(state, exc.message), status_for(exc)
    return redirect(url_for("jobs.job_page", job_id=job.id), code=303)


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> str:
    state = current_service()
    return render_template("job.html", job=_jobs(state).status(job_id))

