"""The job store: jobs, their documents, and one result row per document and target.

Result rows exist from submission on (state ``pending``), so progress is a count, and a result is written by
moving its row from ``pending`` to ``done`` or ``failed``: a document processed twice (a task redelivered after
a worker died) still has exactly one result. SQLite by default, PostgreSQL for several machines; the schema
is created and versioned by the store itself (``SCHEMA_VERSION``).

The store connects lazily: it is built without touching the database, the schema is made on the first call that
reaches it, and a database that cannot be reached (refused, gone, locked past its timeout) is
:class:`JobsUnavailable` from every method, so a server starts and translates while its job database is down,
and its job routes work again as soon as the database is back, without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service.database import UNREACHABLE, DatabaseStore, now
from service.database import reachable as _reachable
from service.errors import JobsUnavailable, ServiceError

log = logging.getLogger(__name__)

#: 2: jobs.owner (the hash of the API key that created the job; NULL for jobs created without a key).
#: 3: document jobs: job_files (the uploaded file: name, format, bytes, options) and job_results.file (the
#:    translated file per target).
SCHEMA_VERSION = 3
#: Characters of a document id (the column's size, and what requests may send).
DOC_ID_CHARS = 500
PENDING, DONE, FAILED, CANCELLED = "pending", "done", "failed", "cancelled"
#: ``list_jobs(owner=ANY)``: every owner's jobs
ANY = object()


class JobNotFound(ServiceError):
    code = "job_not_found"


class IdempotencyConflict(ServiceError):
    code = "idempotency_conflict"


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    __tablename__ = "schema_info"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    cancelled: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[str]] = mapped_column(JSON)
    glossaries: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    beam_size: Mapped[int] = mapped_column(Integer)
    documents: Mapped[int] = mapped_column(Integer)
    payload_hash: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    #: the SHA-256 hex of the API key that created the job; None without a key (visible to every keyless caller)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class Document(Base):
    __tablename__ = "job_documents"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(DOC_ID_CHARS))
    text: Mapped[str] = mapped_column(Text)


class JobFile(Base):
    """The file of a document job (one per job): translated as a whole into each target (service.documents)."""

    __tablename__ = "job_files"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(DOC_ID_CHARS))
    format: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: document options: pdf_output ("docx" or "txt")
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Result(Base):
    __tablename__ = "job_results"
    __table_args__ = (UniqueConstraint("job_id", "position", "target"),)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # glossary, summary, flags
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: a document job's translated file (its name and media type are in ``extra``)
    file: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


@dataclass(frozen=True)
class NewDocument:
    id: str
    text: str


@dataclass(frozen=True)
class NewFile:
    """The uploaded file of a document job."""

    name: str
    format: str
    data: bytes
    options: dict[str, Any] | None = None


@dataclass(frozen=True)
class JobSpec:
    source: str
    targets: list[str]
    glossaries: list[str] | None
    summary: dict[str, Any] | None
    beam_size: int

    def payload_hash(self, documents: Sequence[NewDocument]) -> str:
        h = hashlib.sha256()
        h.update(json.dumps([self.source, self.targets, self.glossaries, self.summary, self.beam_size],
                            sort_keys=True).encode())
        for d in documents:
            h.update(json.dumps([d.id, d.text]).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What processing one document for one target produced."""

    target: str
    text: str | None = None
    engine: str | None = None
    model: str | None = None
    extra: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    #: a document job's translated file
    file: bytes | None = None


class JobStore(DatabaseStore):
    label = "job store"
    metadata = Base.metadata
    schema_info = SchemaInfo
    schema_version = SCHEMA_VERSION
    newer_schema = "The job store was written"

    def _unavailable(self, exc: BaseException) -> JobsUnavailable:
        if not self._down:  # once per outage; the reason is for the operator's log only
            self._down = True
            log.warning("job store %s unreachable: %s; job routes answer 503 until it is back",
                        self.where, str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300])
        return JobsUnavailable("The job store cannot be reached right now; batch jobs are paused until it is back "
                               "(translation is not affected). Try again in a minute.")

    @_reachable
    def ping(self) -> None:
        """Raises JobsUnavailable unless the database answers (and has the schema)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def reachable(self) -> bool:
        """Whether the database answers (and has the schema); quiet: for a caller that reports it itself."""
        try:
            self._ensure_schema()
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except UNREACHABLE:
            return False
        return True

    def _upgrade(self, s: Any, version: int) -> None:
        """Each step from the stored version on, in order."""
        if version < 2:
            self._to_v2(s)
        if version < 3:
            self._to_v3(s)

    @staticmethod
    def _to_v2(s: Any) -> None:
        """v1 -> v2: jobs get an owner column. Existing jobs keep no owner: without keys they stay visible to
        everyone, as before; once keys are required, to admin keys only."""
        columns = {c["name"] for c in inspect(s.connection()).get_columns("jobs")}
        if "owner" not in columns:
            s.execute(sql("ALTER TABLE jobs ADD COLUMN owner VARCHAR(64)"))
        s.execute(sql("CREATE INDEX IF NOT EXISTS ix_jobs_owner ON jobs (owner)"))
        s.execute(update(SchemaInfo).values(version=2))

    @staticmethod
    def _to_v3(s: Any) -> None:
        """v2 -> v3: document jobs. The job_files table is made by create_all; results get a file column."""
        columns = {c["name"] for c in inspect(s.connection()).get_columns("job_results")}
        if "file" not in columns:
            kind = LargeBinary().compile(dialect=s.connection().dialect)
            s.execute(sql(f"ALTER TABLE job_results ADD COLUMN file {kind}"))
        s.execute(update(SchemaInfo).values(version=3))

    # -- submission ----------------------------------------------------------------------------------
    @_reachable
    def create(self, spec: JobSpec, documents: Sequence[NewDocument], idempotency_key: str | None = None,
               owner: str | None = None, file: NewFile | None = None) -> tuple[Job, bool]:
        """The new job and True; or, for a known idempotency key with the same payload, that job and False.
        Idempotency keys are the owner's own: another key's job is never found (nor a conflict) by them."""
        payload = spec.payload_hash(documents)
        if file is not None:  # a document job: the file and its options are part of the payload
            payload = hashlib.sha256((payload + file.format + json.dumps(file.options, sort_keys=True)).encode()
                                     + hashlib.sha256(file.data).digest()).hexdigest()
        if idempotency_key and owner:
            idempotency_key = "o:" + hashlib.sha256(f"{owner}\n{idempotency_key}".encode()).hexdigest()
        if idempotency_key:
            existing = self._by_key(idempotency_key, payload)
            if existing is not None:
                return existing, False
        job = Job(id=uuid.uuid4().hex, source=spec.source, targets=list(spec.targets), glossaries=spec.glossaries,
                  summary=spec.summary, beam_size=spec.beam_size, documents=len(documents), payload_hash=payload,
                  idempotency_key=idempotency_key, owner=owner)
        try:
            with self.sessions.begin() as s:
                s.add(job)
                s.flush()
                s.add_all(Document(job_id=job.id, position=i, doc_id=d.id, text=d.text)
                          for i, d in enumerate(documents))
                s.add_all(Result(job_id=job.id, position=i, target=t)
                          for i in range(len(documents)) for t in spec.targets)
                if file is not None:
                    s.add(JobFile(job_id=job.id, name=file.name, format=file.format, data=file.data,
                                  options=file.options))
        except IntegrityError:  # a concurrent submission with the same key won the race
            existing = self._by_key(idempotency_key, payload) if idempotency_key else None
            if existing is None:
                raise
            return existing, False
        return job, True

    def _by_key(self, key: str, payload: str) -> Job | None:
        with self.sessions() as s:
            job = s.scalar(select(Job).where(Job.idempotency_key == key))
        if job is not None and job.payload_hash != payload:
            raise IdempotencyConflict("This Idempotency-Key was used for a different job; use a new key.",
                                      job_id=job.id)
        return job

    # -- reading ---------------------------------------------------------------------------------------
    @_reachable
    def get(self, job_id: str) -> Job:
        with self.sessions() as s:
            job = s.get(Job, job_id) if len(job_id) <= 32 else None
        if job is None:
            raise JobNotFound(f"No job {job_id!r}.", job_id=job_id)
        return job

    @_reachable
    def counts(self, job_id: str) -> dict[str, dict[str, int]]:
        """target -> state -> rows."""
        with self.sessions() as s:
            rows = s.execute(select(Result.target, Result.state, func.count()).where(Result.job_id == job_id)
                             .group_by(Result.target, Result.state)).all()
        out: dict[str, dict[str, int]] = {}
        for target, state, n in rows:
            out.setdefault(target, {})[state] = n
        return out

    @_reachable
    def timing(self, job_id: str) -> tuple[datetime | None, datetime | None]:
        with self.sessions() as s:
            return s.execute(select(func.min(Result.updated_at), func.max(Result.updated_at))
                             .where(Result.job_id == job_id, Result.state != PENDING)).one()  # type: ignore[return-value]

    def results(self, job_id: str, batch: int = 500) -> Iterator[tuple[Document, Result]]:
        """Rows in document order, read in batches (streamable for big jobs)."""
        last = (-1, "")
        while True:
            rows = self._results_batch(job_id, last, batch)
            if not rows:
                return
            yield from ((doc, res) for doc, res in rows)
            last = (rows[-1][1].position, rows[-1][1].target)

    @_reachable
    def _results_batch(self, job_id: str, last: tuple[int, str], batch: int) -> list[Any]:
        with self.sessions() as s:
            return list(s.execute(
                select(Document, Result).join(Result, (Result.job_id == Document.job_id)
                                              & (Result.position == Document.position))
                .where(Document.job_id == job_id)
                .where((Result.position > last[0]) | ((Result.position == last[0]) & (Result.target > last[1])))
                .order_by(Result.position, Result.target).limit(batch)).all())

    @_reachable
    def failures(self, job_id: str, limit: int = 50) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(document id, target, error) of the first ``limit`` failed results, in document order."""
        with self.sessions() as s:
            return [tuple(row) for row in s.execute(  # type: ignore[misc]
                select(Document.doc_id, Result.target, Result.error)
                .join(Result, (Result.job_id == Document.job_id) & (Result.position == Document.position))
                .where(Document.job_id == job_id, Result.state == FAILED)
                .order_by(Result.position, Result.target).limit(limit)).all()]

    @_reachable
    def job_file(self, job_id: str) -> JobFile | None:
        """The file of a document job (None for a job of texts)."""
        with self.sessions() as s:
            return s.get(JobFile, job_id)

    @_reachable
    def result_file(self, job_id: str, target: str) -> Result | None:
        """The result row of a document job's target (its ``file``, and name and media type in ``extra``)."""
        with self.sessions() as s:
            return s.scalar(select(Result).where(Result.job_id == job_id, Result.position == 0,
                                                 Result.target == target))

    @_reachable
    def target_states(self, job_id: str) -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]]:
        """(target, state, extra, error) of a document job's results, without their files."""
        with self.sessions() as s:
            return [tuple(row) for row in s.execute(  # type: ignore[misc]
                select(Result.target, Result.state, Result.extra, Result.error)
                .where(Result.job_id == job_id, Result.position == 0).order_by(Result.target)).all()]

    @_reachable
    def list_jobs(self, limit: int = 20, owner: str | object | None = ANY) -> list[Job]:
        """The newest jobs: all of them, or those of ``owner`` (None: the jobs created without a key)."""
        query = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if owner is not ANY:
            query = query.where(Job.owner.is_(None) if owner is None else Job.owner == owner)
        with self.sessions() as s:
            return list(s.scalars(query))

    @_reachable
    def pending_positions(self, job_id: str) -> list[int]:
        with self.sessions() as s:
            return list(s.scalars(select(Result.position).where(Result.job_id == job_id, Result.state == PENDING)
                                  .distinct().order_by(Result.position)))

    @_reachable
    def unfinished_jobs(self) -> list[str]:
        with self.sessions() as s:
            return list(s.scalars(select(Result.job_id).join(Job, Job.id == Result.job_id)
                                  .where(Result.state == PENDING, Job.cancelled.is_(False)).distinct()))

    @_reachable
    def stalled_jobs(self, idle_s: float) -> list[str]:
        """Unfinished jobs without progress for ``idle_s`` seconds: none of their results was written since (or
        none yet, and the job is that old). With an empty task queue, their tasks were lost (see worker.sweep)."""
        cutoff = now() - timedelta(seconds=idle_s)
        with self.sessions() as s:
            rows = s.execute(
                select(Result.job_id).join(Job, Job.id == Result.job_id).where(Job.cancelled.is_(False))
                .group_by(Result.job_id, Job.created_at)
                .having(func.sum(case((Result.state == PENDING, 1), else_=0)) > 0)
                .having(func.coalesce(func.max(Result.updated_at), Job.created_at) < cutoff)).all()
        return [job_id for (job_id,) in rows]

    # -- processing ------------------------------------------------------------------------------------
    @_reachable
    def claim(self, job_id: str, position: int) -> tuple[Job, Document, list[str], int] | None:
        """Count one more attempt at a document and return what is left to do: (job, document, pending
        targets, attempt number). None when nothing is pending (done, failed or cancelled)."""
        with self.sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is None or job.cancelled:
                return None
            s.execute(update(Result).where(Result.job_id == job_id, Result.position == position,
                                           Result.state == PENDING).values(attempts=Result.attempts + 1))
            rows = s.execute(select(Result.target, Result.attempts).where(
                Result.job_id == job_id, Result.position == position, Result.state == PENDING)).all()
            if not rows:
                return None
            doc = s.get(Document, (job_id, position))
            assert doc is not None
            return job, doc, [t for t, _ in rows], max(a for _, a in rows)

    @_reachable
    def record(self, job_id: str, position: int, outcome: Outcome) -> bool:
        """Write one result, once: only a pending row changes. Returns whether this call wrote it."""
        with self.sessions.begin() as s:
            changed = s.execute(update(Result).where(
                Result.job_id == job_id, Result.position == position, Result.target == outcome.target,
                Result.state == PENDING).values(
                state=DONE if outcome.error is None else FAILED, text=outcome.text, engine=outcome.engine,
                model=outcome.model, extra=outcome.extra, error=outcome.error, file=outcome.file,
                updated_at=now()))
            return changed.rowcount == 1

    @_reachable
    def note_error(self, job_id: str, position: int, error: dict[str, Any]) -> None:
        """Keep the last transient error on the pending rows (shown if the document finally fails)."""
        with self.sessions.begin() as s:
            s.execute(update(Result).where(Result.job_id == job_id, Result.position == position,
                                           Result.state == PENDING).values(error=error))

    @_reachable
    def last_error(self, job_id: str, position: int) -> dict[str, Any] | None:
        with self.sessions() as s:
            return s.scalar(select(Result.error).where(Result.job_id == job_id, Result.position == position,
                                                       Result.error.is_not(None)).limit(1))

    @_reachable
    def cancel(self, job_id: str) -> Job:
        with self.sessions.begin() as s:
            job = s.get(Job, job_id) if len(job_id) <= 32 else None
            if job is None:
                raise JobNotFound(f"No job {job_id!r}.", job_id=job_id)
            job.cancelled = True
            s.execute(update(Result).where(Result.job_id == job_id, Result.state == PENDING)
                      .values(state=CANCELLED, updated_at=now()))
        return job

    @_reachable
    def delete(self, job_id: str) -> None:
        """Remove a job that was never queued (its submission is answered 503; a retry makes it anew)."""
        with self.sessions.begin() as s:
            job = s.get(Job, job_id)
            if job is not None:
                s.execute(Result.__table__.delete().where(Result.job_id == job_id))
                s.execute(Document.__table__.delete().where(Document.job_id == job_id))
                s.execute(JobFile.__table__.delete().where(JobFile.job_id == job_id))
                s.delete(job)


