"""The job service used by the HTTP API, the web form and the command line: validate and submit, report
progress, stream results, cancel, and say whether its job store and task queue can be reached.

An unreachable store or queue is :class:`~service.errors.JobsUnavailable` (HTTP 503 with Retry-After) from
every method; nothing here ever needs a restart to recover from it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from service import languages
from service.config import Settings
from service.errors import InputTooLarge, InvalidInput, JobsUnavailable
from service.jobs.store import CANCELLED, DONE, FAILED, PENDING, Job, JobSpec, JobStore, NewDocument, NewFile
from service.pipeline import Pipeline
from service.summaries.options import SummaryOptions

Enqueue = Callable[[str, list[int]], None]
log = logging.getLogger(__name__)
#: Seconds a health answer is reused: /readyz may be polled often, and each check opens a connection.
HEALTH_TTL_S = 2.0
__all__ = ["JobService", "JobsUnavailable"]


class JobService:
    def __init__(self, settings: Settings, store: JobStore, pipeline: Pipeline, enqueue: Enqueue,
                 broker_check: Callable[[], None] | None = None):
        """``broker_check`` raises when the task queue cannot be reached (None: nothing to check)."""
        self.settings = settings
        self.store = store
        self.pipeline = pipeline
        self._enqueue = enqueue
        self._broker_check = broker_check
        self._health: tuple[float, dict[str, str]] | None = None
        self._health_lock = threading.Lock()

    def health(self) -> dict[str, str]:
        """``{"job_store": "ok"|"unavailable", "broker": "ok"|"unavailable"}``, reused for HEALTH_TTL_S."""
        with self._health_lock:
            if self._health is not None and time.monotonic() - self._health[0] < HEALTH_TTL_S:
                return self._health[1]
            checks = {"job_store": "ok", "broker": "ok"}
            try:
                self.store.ping()
            except JobsUnavailable:
                checks["job_store"] = "unavailable"
            if self._broker_check is not None:
                try:
                    self._broker_check()
                except Exception as exc:  # the transport's own errors: the reason is logged, not shown
                    log.warning("task queue unreachable: %s", str(exc).splitlines()[0][:300] if str(exc) else "")
                    checks["broker"] = "unavailable"
            self._health = (time.monotonic(), checks)
            return checks

    def submit(self, documents: Sequence[NewDocument], targets: Sequence[str], source: str = "auto",
               glossaries: Sequence[str] | None = None, summary: SummaryOptions | None = None,
               beam_size: int | None = None, idempotency_key: str | None = None,
               owner: str | None = None, file: NewFile | None = None) -> tuple[Job, bool]:
        """``owner``: the hash of the API key submitting the job (None without a key). ``file``: a document job's
        file (its one document is the file's text, for progress and limits)."""
        s = self.settings
        if not documents:
            raise InvalidInput("A job needs at least one document.")
        if len(documents) > s.max_job_documents:
            raise InputTooLarge(f"{len(documents):,} documents in one job; the limit is {s.max_job_documents:,}.",
                                limit=s.max_job_documents, setting="max_job_documents")
        size = sum(len(d.text.encode("utf-8")) for d in documents)
        if size > s.max_job_bytes:
            raise InputTooLarge(f"The documents have {size:,} bytes; the limit is {s.max_job_bytes:,} per job.",
                                limit=s.max_job_bytes, setting="max_job_bytes")
        too_long = next((d for d in documents if len(d.text) > s.max_document_chars), None)
        if too_long is not None:
            raise InputTooLarge(f"Document {too_long.id!r} has {len(too_long.text):,} characters; the limit is "
                                f"{s.max_document_chars:,}.", limit=s.max_document_chars)
        ids = [d.id for d in documents]
        if len(set(ids)) != len(ids):
            raise InvalidInput("Document ids must be unique within a job.")
        codes = languages.parse_list(list(targets))
        if not codes:
            raise InvalidInput("Give at least one target language.")
        src = "auto" if source in ("", "auto") else languages.normalize(source)
        for name in glossaries or []:
            self.pipeline.glossaries.get(name)  # unknown or broken: refuse now, not per document
        if summary is not None:
            summary.validate()
        spec = JobSpec(src, codes, list(glossaries) if glossaries is not None else None,
                       summary.__dict__ if summary else None, beam_size or s.beam_size)
        job, created = self.store.create(spec, documents, idempotency_key, owner, file)
        if created:
            try:
                self._enqueue(job.id, list(range(len(documents))))
            except Exception as exc:  # the broker is down: undo, so that the client's retry makes the job anew
                log.warning("job %s not queued, task queue unreachable: %s", job.id,
                            str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__)
                try:
                    self.store.delete(job.id)
                except JobsUnavailable:  # the store went too: the job stays, a worker's --requeue queues it
                    log.warning("job %s stays stored, unqueued, until a worker starts with --requeue", job.id)
                raise JobsUnavailable("The task queue cannot be reached right now, so the job was not started; "
                                      "try again in a minute (translation is not affected).") from None
        return job, created

    def status(self, job_id: str) -> dict[str, Any]:
        job = self.store.get(job_id)
        counts = self.store.counts(job_id)
        per_target = {t: {state: counts.get(t, {}).get(state, 0) for state in (DONE, FAILED, PENDING, CANCELLED)}
                      for t in job.targets}
        totals = {state: sum(c[state] for c in per_target.values()) for state in (DONE, FAILED, PENDING, CANCELLED)}
        total = job.documents * len(job.targets)
        finished = total - totals[PENDING]
        if job.cancelled:
            state = "cancelled"
        elif totals[PENDING] == 0:
            state = "completed"
        else:
            state = "running" if finished else "queued"
        first, last = self.store.timing(job_id)
        eta = None
        if state == "running" and first and last and last > first:
            rate = finished / (last - first).total_seconds()
            eta = round(totals[PENDING] / rate, 1) if rate > 0 else None
        return {
            "id": job.id, "state": state, "created_at": job.created_at.isoformat() + "Z",
            "documents": job.documents, "targets": job.targets, "source": job.source,
            "glossaries": job.glossaries, "counts": totals, "progress": round(finished / total, 4) if total else 1.0,
            "per_target": {t: c | {"progress": round((job.documents - c[PENDING]) / job.documents, 4)}
                           for t, c in per_target.items()},
            "eta_seconds": eta,
        }

    def results(self, job_id: str) -> Iterator[dict[str, Any]]:
        self.store.get(job_id)
        for doc, res in self.store.results(job_id):
            extra = res.extra or {}
            yield {"id": doc.doc_id, "position": doc.position, "target": res.target, "state": res.state,
                   "text": res.text, "engine": res.engine, "model": res.model, "source": extra.get("source"),
                   "glossary": extra.get("glossary"), "summary": extra.get("summary"), "flags": extra.get("flags"),
                   "error": res.error if res.state == FAILED else None, "attempts": res.attempts}

    def cancel(self, job_id: str) -> dict[str, Any]:
        self.store.cancel(job_id)
        return self.status(job_id)
