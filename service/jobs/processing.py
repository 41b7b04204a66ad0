"""Processing one chunk of a job: the one code path shared by Celery tasks and the command line.

Per document: count an attempt (committed first, so a worker that dies mid-document still used it up),
translate the pending targets, write each result once. Errors that retrying cannot fix (bad input, missing
model, unknown glossary) fail the document at once with their reason; others (engine failures, anything
unexpected) leave it pending for another attempt, up to ``max_attempts``, after which it is failed with the
last reason. The rest of the job is never held up by one document.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from service.engines.base import DecodeOptions
from service.errors import (
    ConfigError,
    GlossaryInvalid,
    InvalidInput,
    ModelInvalid,
    ModelMissing,
    ServiceError,
    internal_error,
)
from service.jobs.store import JobStore, Outcome
from service.pipeline import Pipeline, TranslationRequest
from service.summaries.options import SummaryOptions

log = logging.getLogger(__name__)

#: Retrying cannot help these: the document or the installation must change first.
PERMANENT = (InvalidInput, ModelMissing, ModelInvalid, GlossaryInvalid, ConfigError)


def _error(exc: BaseException) -> dict[str, object]:
    if not isinstance(exc, ServiceError):
        exc = internal_error(exc, "translating a job's document", log)
    return {"code": exc.code, "message": exc.message}


@dataclass(frozen=True)
class DocumentOutcome:
    retry: bool  # try again later
    segments: int = 0  # sentences translated (all targets)


def process_document(store: JobStore, pipeline: Pipeline, job_id: str, position: int,
                     max_attempts: int) -> DocumentOutcome:
    """Process one document's pending targets."""
    claimed = store.claim(job_id, position)
    if claimed is None:
        return DocumentOutcome(False)
    job, doc, targets, attempt = claimed
    if attempt > max_attempts:
        last = store.last_error(job_id, position) or {
            "code": "worker_lost", "message": "the worker stopped while translating this document"}
        error = {"code": "gave_up", "message": f"failed {max_attempts} times; last: {last.get('message')}",
                 "last_error": last}
        for target in targets:
            store.record(job_id, position, Outcome(target, error=error))
        return DocumentOutcome(False)
    summary = SummaryOptions(**job.summary) if job.summary else None
    document = store.job_file(job_id)
    if document is not None:  # a document job: the file is translated as a whole (service.documents)
        from service.documents.jobs import process_file

        return DocumentOutcome(process_file(store, pipeline, job, document, targets, summary))
    request = TranslationRequest(doc.text, targets, job.source, DecodeOptions(beam_size=job.beam_size),
                                 job.glossaries, summary)
    try:
        result = pipeline.translate(request)
    except PERMANENT as exc:
        for target in targets:
            store.record(job_id, position, Outcome(target, error=_error(exc)))
        return DocumentOutcome(False)
    except Exception as exc:  # transient or unknown: try again later
        log.warning("job %s document %s attempt %s failed: %r", job_id, position, attempt, exc)
        store.note_error(job_id, position, _error(exc))
        return DocumentOutcome(True)
    retry = False
    for r in result.results:
        if r.error is None:
            as_json = r.to_dict()
            extra = {"source": result.source, "flags": as_json["flags"], "glossary": as_json["glossary"],
                     "summary": as_json["summary"]}
            store.record(job_id, position, Outcome(r.target, r.text, r.engine, r.model, extra))
        elif isinstance(r.error, PERMANENT):
            store.record(job_id, position, Outcome(r.target, error=_error(r.error)))
        else:
            store.note_error(job_id, position, _error(r.error))
            retry = True
    return DocumentOutcome(retry, sum(r.segments for r in result.results))


def process_chunk(store: JobStore, pipeline: Pipeline, job_id: str, positions: Sequence[int],
                  max_attempts: int) -> list[int]:
    """Process documents in order; returns those to try again later."""
    return [p for p in positions if process_document(store, pipeline, job_id, p, max_attempts).retry]
