"""Document jobs: a file submitted once, translated into each target in the background on the job machinery
(durable, resumable, progress per target), each translated file kept in the job store until it is fetched.

Submitting reads the file first (format, limits, its text), so a malformed or oversized file is refused at once
with its reason, and the rate limit is charged its characters x targets like any translation."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.config import Settings
from service.documents import format_of, get_format
from service.documents.base import Limits
from service.documents.road import UNIT_SEPARATOR, translate_document
from service.engines.base import DecodeOptions
from service.errors import EmptyText
from service.jobs.processing import PERMANENT, _error
from service.jobs.service import JobService
from service.jobs.store import DOC_ID_CHARS, Job, JobFile, JobStore, NewDocument, NewFile, Outcome
from service.pipeline import Pipeline
from service.summaries.options import SummaryOptions

log = logging.getLogger(__name__)
PDF_OUTPUTS = ("docx", "txt")


@dataclass(frozen=True)
class Prepared:
    """A file read and checked: its name, format, bytes and text."""

    name: str
    format: str
    data: bytes
    text: str

    @property
    def characters(self) -> int:
        return len(self.text)


def prepare(settings: Settings, name: str, data: bytes, input_format: str | None = None) -> Prepared:
    """Read the file as its format (raises with the reason when it cannot be), within the document limits."""
    limits = Limits.of(settings)
    name = (name.replace("\\", "/").rsplit("/", 1)[-1] or "document")[-DOC_ID_CHARS:]
    limits.check_size(data, name)
    fmt = format_of(name, input_format)
    loaded = get_format(fmt).load(data, limits)
    limits.check_units(loaded.units, name)
    text = UNIT_SEPARATOR.join(u.plain for u in loaded.units)
    if not text.strip():
        raise EmptyText(f"{name} has no text to translate.")
    return Prepared(name, fmt, data, text)


def submit(jobs: JobService, prepared: Prepared, targets: Sequence[str], source: str = "auto",
           glossaries: Sequence[str] | None = None, summary: SummaryOptions | None = None,
           beam_size: int | None = None, idempotency_key: str | None = None, owner: str | None = None,
           pdf_output: str = "docx") -> tuple[Job, bool]:
    file = NewFile(prepared.name, prepared.format, prepared.data, {"pdf_output": pdf_output})
    return jobs.submit([NewDocument(prepared.name, prepared.text)], targets, source, glossaries, summary, beam_size,
                       idempotency_key, owner, file=file)


def process_file(store: JobStore, pipeline: Pipeline, job: Job, file: JobFile, targets: list[str],
                 summary: SummaryOptions | None) -> bool:
    """Translate a document job's file into its pending targets; returns whether to try again later."""
    options = file.options or {}
    try:
        result = translate_document(pipeline, file.data, file.name, targets, job.source,
                                    DecodeOptions(beam_size=job.beam_size), job.glossaries, summary,
                                    input_format=file.format, pdf_output=options.get("pdf_output", "docx"))
    except PERMANENT as exc:
        for target in targets:
            store.record(job.id, 0, Outcome(target, error=_error(exc)))
        return False
    except Exception as exc:  # transient or unknown: try again later
        log.warning("document job %s failed: %r", job.id, exc)
        store.note_error(job.id, 0, _error(exc))
        return True
    retry = False
    for f in result.files:
        if f.ok:
            extra: dict[str, Any] = {"source": result.source, "flags": f.flags,
                                     "glossary": f.terms.to_dict() if f.terms else None,
                                     "summary": f.summary.to_dict() if f.summary else None,
                                     "name": f.name, "media_type": f.media_type, "note": result.note,
                                     "source_summary": result.summary.to_dict() if result.summary else None}
            store.record(job.id, 0, Outcome(f.target, f.text, f.engine, f.model, extra, file=f.data))
        elif isinstance(f.error, PERMANENT):
            store.record(job.id, 0, Outcome(f.target, error=_error(f.error)))  # type: ignore[arg-type]
        else:
            store.note_error(job.id, 0, _error(f.error))  # type: ignore[arg-type]
            retry = True
    return retry


def status(jobs: JobService, job_id: str) -> dict[str, Any]:
    """A document job's status: the job's, plus the file and, per target, its state, file name and report."""
    out = jobs.status(job_id)
    file = jobs.store.job_file(job_id)
    out["document"] = {"name": file.name, "format": file.format} if file is not None else None
    files = {}
    for target, state, extra, error in jobs.store.target_states(job_id):
        extra = extra or {}
        files[target] = {"state": state, "name": extra.get("name"), "media_type": extra.get("media_type"),
                         "flags": extra.get("flags"), "glossary": extra.get("glossary"),
                         "summary": extra.get("summary"), "error": error if state == "failed" else None}
        if extra.get("note"):
            out["note"] = extra["note"]
        if extra.get("source_summary"):
            out["summary"] = extra["source_summary"]
    out["files"] = files
    return out


def wait(jobs: JobService, job_id: str, seconds: float) -> dict[str, Any]:
    """The status once the job has finished, or after ``seconds``."""
    deadline = time.monotonic() + max(0.0, seconds)
    current = jobs.status(job_id)
    while current["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        current = jobs.status(job_id)
    return current
