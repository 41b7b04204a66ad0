"""Processing one chunk of a job: the one code path shared by Celery tasks and the command line.

The documents of a chunk are translated together (:meth:`Pipeline.translate_many`): per target, their distinct
sentences go to the engine in shared length-sorted batches, so a job of many small documents runs batches as
large as one long text does, and a sentence repeated across the chunk's documents is translated once. Per
document: count an attempt (committed first, so a worker that dies mid-chunk still used it up), translate the
pending targets, write each result once. Errors that retrying cannot fix (bad input, missing model, unknown
glossary) fail the document at once with their reason. A transient failure (an engine failure, anything
unexpected) of a pass over several documents is retried document by document at once, so that one bad document
never costs its chunk-mates an attempt; a document that still fails is left pending for another attempt, up to
``max_attempts``, after which it is failed with the last reason. Documents on a later attempt go alone. The
rest of the job is never held up by one document.
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


@dataclass(frozen=True)
class ChunkOutcome:
    retry: list[int]  # positions to try again later
    segments: int = 0  # sentences translated (all documents and targets)


@dataclass(frozen=True)
class _Claimed:
    position: int
    text: str
    targets: list[str]


def _give_up(store: JobStore, job_id: str, position: int, targets: list[str], max_attempts: int) -> None:
    last = store.last_error(job_id, position) or {
        "code": "worker_lost", "message": "the worker stopped while translating this document"}
    error = {"code": "gave_up", "message": f"failed {max_attempts} times; last: {last.get('message')}",
             "last_error": last}
    for target in targets:
        store.record(job_id, position, Outcome(target, error=error))


def run_chunk(store: JobStore, pipeline: Pipeline, job_id: str, positions: Sequence[int],
              max_attempts: int) -> ChunkOutcome:
    """Claim the chunk's documents, then translate those on their first attempt together and the others alone."""
    retry: list[int] = []
    segments = 0
    first: list[_Claimed] = []
    later: list[_Claimed] = []
    job = None
    for position in positions:
        claimed = store.claim(job_id, position)
        if claimed is None:
            continue
        job, doc, targets, attempt = claimed
        if attempt > max_attempts:
            _give_up(store, job_id, position, targets, max_attempts)
            continue
        if not first and not later and (document := store.job_file(job_id)) is not None:
            # a document job: its one file is translated as a whole (service.documents)
            from service.documents.jobs import process_file

            summary = SummaryOptions(**job.summary) if job.summary else None
            segments += process_file(store, pipeline, job, document, targets, summary)
            continue
        (first if attempt == 1 else later).append(_Claimed(position, doc.text, targets))
    if job is None:
        return ChunkOutcome([])
    for group in ([first] if first else []) + [[c] for c in later]:
        failed, done = _translate(store, pipeline, job, group)
        segments += done
        retry += failed
    return ChunkOutcome(sorted(retry), segments)


def _translate(store: JobStore, pipeline: Pipeline, job, group: list[_Claimed]) -> tuple[list[int], int]:
    """Translate ``group`` in one pass and write its results; a transient failure of a pass over several documents
    is retried document by document. Returns (positions to retry later, sentences translated)."""
    summary = SummaryOptions(**job.summary) if job.summary else None
    options = DecodeOptions(beam_size=job.beam_size)
    requests = [TranslationRequest(c.text, c.targets, job.source, options, job.glossaries, summary) for c in group]
    try:
        results = pipeline.translate_many(requests)
    except PERMANENT as exc:  # the job's own options: the same for every document
        for c in group:
            for target in c.targets:
                store.record(job.id, c.position, Outcome(target, error=_error(exc)))
        return [], 0
    except Exception as exc:  # transient or unknown
        if len(group) > 1:
            return _one_by_one(store, pipeline, job, group)
        log.warning("job %s document %s failed: %r", job.id, group[0].position, exc)
        store.note_error(job.id, group[0].position, _error(exc))
        return [group[0].position], 0
    retry: list[int] = []
    again: list[_Claimed] = []  # documents of a failed pass over several: each alone, at once
    segments = 0
    for c, result in zip(group, results, strict=True):
        if result.error is not None:  # this text's own problem (not detected, too long, empty...)
            if isinstance(result.error, PERMANENT):
                for target in c.targets:
                    store.record(job.id, c.position, Outcome(target, error=_error(result.error)))
            else:
                store.note_error(job.id, c.position, _error(result.error))
                retry.append(c.position)
            continue
        transient = []
        for r in result.results:
            if r.error is None:
                as_json = r.to_dict()
                extra = {"source": result.source, "flags": as_json["flags"], "glossary": as_json["glossary"],
                         "summary": as_json["summary"]}
                store.record(job.id, c.position, Outcome(r.target, r.text, r.engine, r.model, extra))
                segments += r.segments
            elif isinstance(r.error, PERMANENT):
                store.record(job.id, c.position, Outcome(r.target, error=_error(r.error)))
            else:
                transient.append(r)
        if transient and len(group) > 1:
            again.append(_Claimed(c.position, c.text, [r.target for r in transient]))
        elif transient:
            log.warning("job %s document %s failed: %s", job.id, c.position, transient[0].error)
            store.note_error(job.id, c.position, _error(transient[0].error))  # type: ignore[arg-type]
            retry.append(c.position)
    if again:
        failed, done = _one_by_one(store, pipeline, job, again)
        retry += failed
        segments += done
    return retry, segments


def _one_by_one(store: JobStore, pipeline: Pipeline, job, group: list[_Claimed]) -> tuple[list[int], int]:
    retry: list[int] = []
    segments = 0
    for c in group:
        failed, done = _translate(store, pipeline, job, [c])
        retry += failed
        segments += done
    return retry, segments


def process_document(store: JobStore, pipeline: Pipeline, job_id: str, position: int,
                     max_attempts: int) -> DocumentOutcome:
    """Process one document's pending targets."""
    outcome = run_chunk(store, pipeline, job_id, [position], max_attempts)
    return DocumentOutcome(bool(outcome.retry), outcome.segments)


def process_chunk(store: JobStore, pipeline: Pipeline, job_id: str, positions: Sequence[int],
                  max_attempts: int) -> list[int]:
    """Process a chunk of documents; returns those to try again later."""
    return run_chunk(store, pipeline, job_id, positions, max_attempts).retry
