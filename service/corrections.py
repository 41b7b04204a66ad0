"""Human corrections: the translation memory as an asset, kept in the service's database (the job store's: SQLite
embedded, PostgreSQL scaled out) beside jobs and managed glossaries, shared by every worker and machine, never
evicted (unlike the engine cache in ``service.memory``, which is an optimisation).

Each entry is a source segment (a sentence, or a whole short text) in one language with its approved translation
into another, and its provenance: ``human`` or ``machine``, who (the API key's name, ``cli`` or ``anonymous``),
when, and the versions of the glossaries in force when it was made. The pipeline asks the store for every sentence
before any engine runs: an approved human translation is returned exactly (``origin: memory:human``). Machine
entries (e.g. imported from a TMX file made by another MT system) are kept and offered as suggestions only.

A correction is ``approved`` (used) or ``pending`` (waiting for a reviewer with the admin role, or the operator on
the command line): who may have theirs used at once is the setting ``corrections_approval``, decided by the front
end (``service.http.memory``). A pending correction is never substituted: it is offered as a suggestion of its
exact sentence (``status: pending``), and it never replaces an approved human one of the same sentence
(:class:`~service.errors.CorrectionConflict`), so no key holder can take a reviewed translation out of use.

Segments are matched on their normalised form (Unicode NFC, runs of white space as one space, trimmed), through a
SHA-256 of it (an indexable key on every database). A second entry for the same segment and pair replaces the
first, except that a machine entry never replaces a human one.

Fuzzy matches (``rapidfuzz``, similarity at least ``memory_fuzzy_threshold``) are suggestions, never substituted.

Like the other stores it connects lazily and has its own schema version (``correction_schema_info``). An
unreachable database is :class:`~service.errors.CorrectionsUnavailable` (HTTP 503) from the management methods;
the pipeline's lookups treat it as "no corrections" (translation goes on) and leave the database alone for
``DOWN_RETRY_S`` seconds, so an outage costs one connection timeout per interval, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import regex
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service import languages
from service.database import DatabaseStore, now
from service.database import reachable as _reachable
from service.errors import CorrectionConflict, CorrectionNotFound, CorrectionsUnavailable, InvalidInput

log = logging.getLogger(__name__)

#: 1: corrections with provenance.
#: 2: corrections.author_key (the key's hash prefix beside its name).
#: 3: corrections.reviewed_by and reviewed_at (who approved a pending correction, and when).
SCHEMA_VERSION = 3
HUMAN, MACHINE = "human", "machine"
ORIGINS = (HUMAN, MACHINE)
APPROVED, PENDING = "approved", "pending"
#: Seconds the pipeline leaves an unreachable database alone before asking again.
DOWN_RETRY_S = 10.0
#: Hashes per lookup query (bound parameters; SQLite allows 32,766).
LOOKUP_BATCH = 500
#: Characters of one segment or its translation: a correction is a sentence or a short text, and a key this long is
#: still cheap to hash; longer texts go through the engine (or are split into sentences by the client).
MAX_SEGMENT_CHARS = 10_000
T = TypeVar("T")
_SPACE = regex.compile(r"\s+")


def normalize(text: str) -> str:
    """The form segments are matched on: NFC, runs of white space as one space, trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def key_of(text: str) -> str:
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


class Base(DeclarativeBase):
    pass


class CorrectionSchemaInfo(Base):
    __tablename__ = "correction_schema_info"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class CorrectionRow(Base):
    __tablename__ = "corrections"
    __table_args__ = (UniqueConstraint("source_lang", "target_lang", "source_key"),
                      Index("ix_corrections_pair_length", "source_lang", "target_lang", "length"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_lang: Mapped[str] = mapped_column(String(16))
    target_lang: Mapped[str] = mapped_column(String(16))
    #: SHA-256 hex of the normalised source segment
    source_key: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    target_text: Mapped[str] = mapped_column(Text)
    #: characters of the normalised source (fuzzy candidates are read by length)
    length: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(16), default=HUMAN)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    #: the API key's name ("cli" from the command line, "anonymous" on a server without keys)
    author: Mapped[str] = mapped_column(String(64))
    #: the first 16 hex digits of the API key's hash (a key's name may be reused after it is revoked); None without
    author_key: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    #: glossary name -> version in force when the correction was made
    glossaries: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    #: who approved it after it waited (a key's name or "cli"); None: approved when made, or still pending
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass(frozen=True)
class Correction:
    id: int
    source_lang: str
    target_lang: str
    source: str
    target: str
    origin: str = HUMAN
    approved: bool = True
    author: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    glossaries: dict[str, str] = field(default_factory=dict)
    note: str = ""
    author_key: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    @property
    def status(self) -> str:
        """``approved`` (used when it is human) or ``pending`` (offered as a suggestion until a reviewer approves)."""
        return APPROVED if self.approved else PENDING

    @property
    def substitutes(self) -> bool:
        """An approved human translation: returned exactly, before any engine runs."""
        return self.origin == HUMAN and self.approved

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "source_lang": self.source_lang, "target_lang": self.target_lang,
                "source": self.source, "text": self.target, "origin": self.origin, "approved": self.approved,
                "status": self.status, "author": self.author, "author_key": self.author_key,
                "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
                "glossaries": self.glossaries, "note": self.note,
                "reviewed_by": self.reviewed_by, "reviewed_at": _iso(self.reviewed_at)}


@dataclass(frozen=True)
class NewCorrection:
    """A correction to store (from the API, the web form, /suggest or a TMX file)."""

    source_lang: str
    target_lang: str
    source: str
    target: str
    origin: str = HUMAN
    approved: bool = True
    glossaries: dict[str, str] | None = None
    note: str = ""
    #: when it was made, if known (TMX files carry it); now otherwise
    created_at: datetime | None = None
    #: who made it, if known (TMX files carry it); the storing caller otherwise
    author: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A fuzzy match, or a pending correction of the very sentence (score 100): offered, never substituted."""

    segment: str
    correction: Correction
    score: float

    def to_dict(self) -> dict[str, Any]:
        c = self.correction
        return {"source": self.segment, "match": c.source, "text": c.target, "score": round(self.score, 1),
                "id": c.id, "origin": f"memory:{c.origin}", "status": c.status}


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds") + "Z"


def _correction(row: CorrectionRow) -> Correction:
    return Correction(row.id, row.source_lang, row.target_lang, row.source_text, row.target_text, row.origin,
                      row.approved, row.author, row.created_at, row.updated_at, dict(row.glossaries or {}), row.note,
                      row.author_key, row.reviewed_by, row.reviewed_at)


def check(item: NewCorrection) -> NewCorrection:
    """A correction as people send it: known languages, different ones, non-empty texts within bounds; returns it
    with the languages as codes."""
    source_lang, target_lang = languages.normalize(item.source_lang), languages.normalize(item.target_lang)
    if source_lang == target_lang:
        raise InvalidInput("The source and target languages of a correction must differ.")
    for name, text in (("source", item.source), ("translation", item.target)):
        if not normalize(text):
            raise InvalidInput(f"The {name} text of a correction is empty: give the sentence and its translation.")
        if len(text) > MAX_SEGMENT_CHARS:
            raise InvalidInput(f"The {name} text has {len(text):,} characters; a correction holds at most "
                               f"{MAX_SEGMENT_CHARS:,} (send it sentence by sentence).")
    if item.origin not in ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(ORIGINS)}.")
    return NewCorrection(source_lang, target_lang, item.source.strip(), item.target.strip(), item.origin,
                         item.approved, item.glossaries, item.note, item.created_at, item.author)


class CorrectionStore(DatabaseStore):
    label = "corrections"
    metadata = Base.metadata
    schema_info = CorrectionSchemaInfo
    schema_version = SCHEMA_VERSION
    newer_schema = "The corrections table was written"

    def __init__(self, url: str, lock_timeout_s: float = 30.0):
        super().__init__(url, lock_timeout_s)
        self._down_until = float("-inf")

    # -- reachability (as the job store) --
    def _unavailable(self, exc: BaseException) -> CorrectionsUnavailable:
        self._down_until = time.monotonic() + DOWN_RETRY_S
        if not self._down:
            self._down = True
            log.warning("corrections: database unreachable (%s); translating without human corrections until it "
                        "is back", str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300])
        return CorrectionsUnavailable("The translation memory's database cannot be reached right now; translation "
                                      "goes on without it. Try again in a minute.")

    def _upgrade(self, s: Any, version: int) -> None:
        """In place: v1 -> v2, corrections get the author's key hash prefix (NULL for the entries made before);
        v2 -> v3, who approved a pending one and when (NULL: the entries made before were approved as they were
        stored, and stay so)."""
        columns = {c["name"] for c in inspect(s.connection()).get_columns("corrections")}
        for name, kind in (("author_key", "VARCHAR(16)"), ("reviewed_by", "VARCHAR(64)"),
                           ("reviewed_at", "TIMESTAMP")):
            if name not in columns:
                s.execute(sql(f"ALTER TABLE corrections ADD COLUMN {name} {kind}"))
        s.execute(update(CorrectionSchemaInfo).values(version=SCHEMA_VERSION))

    # -- the pipeline's side: never fails a translation --
    def exact(self, source_lang: str, target_lang: str, segments: Sequence[str]) -> dict[str, Correction]:
        """segment -> its approved human correction, for the segments that have one. An unreachable database is
        no corrections (logged once per outage)."""
        return self._human(source_lang, target_lang, segments, True, lambda segment, row: _correction(row))

    def pending(self, source_lang: str, target_lang: str, segments: Sequence[str]) -> dict[str, list[Suggestion]]:
        """segment -> its pending human correction as a suggestion (score 100, never substituted). Never fails: an
        unreachable database is no suggestions."""
        return self._human(source_lang, target_lang, segments, False,
                           lambda segment, row: [Suggestion(segment, _correction(row), 100.0)])

    def _human(self, source_lang: str, target_lang: str, segments: Sequence[str], approved: bool,
               convert: Callable[[str, CorrectionRow], T]) -> dict[str, T]:
        """segment -> ``convert(segment, row)`` for the human corrections (approved or pending) of the segments;
        never fails: an unreachable database is none."""
        if not segments or time.monotonic() < self._down_until:
            return {}
        try:
            return self._human_rows(source_lang, target_lang, segments, approved, convert)
        except CorrectionsUnavailable:
            return {}

    @_reachable
    def _human_rows(self, source_lang: str, target_lang: str, segments: Sequence[str], approved: bool,
                    convert: Callable[[str, CorrectionRow], T]) -> dict[str, T]:
        by_key: dict[str, list[str]] = {}
        for s in segments:
            by_key.setdefault(key_of(s), []).append(s)
        keys = list(by_key)
        out: dict[str, T] = {}
        with self.sessions() as s:
            for start in range(0, len(keys), LOOKUP_BATCH):
                rows = s.scalars(select(CorrectionRow).where(
                    CorrectionRow.source_lang == source_lang, CorrectionRow.target_lang == target_lang,
                    CorrectionRow.origin == HUMAN, CorrectionRow.approved.is_(approved),
                    CorrectionRow.source_key.in_(keys[start:start + LOOKUP_BATCH])))
                for row in rows:
                    for segment in by_key.get(row.source_key, ()):
                        out[segment] = convert(segment, row)
        return out

    def fuzzy(self, source_lang: str, target_lang: str, segments: Sequence[str], threshold: float,
              candidates: int, per_segment: int = 3) -> dict[str, list[Suggestion]]:
        """segment -> up to ``per_segment`` entries at least ``threshold`` similar (rapidfuzz's normalised
        Indel similarity, 0-100), best first, among at most ``candidates`` entries of the pair whose length could
        reach the threshold. Never fails: an unreachable database is no suggestions."""
        if not segments or threshold <= 0 or time.monotonic() < self._down_until:
            return {}
        try:
            return self._fuzzy(source_lang, target_lang, segments, threshold, candidates, per_segment)
        except CorrectionsUnavailable:
            return {}

    @_reachable
    def _fuzzy(self, source_lang: str, target_lang: str, segments: Sequence[str], threshold: float,
               candidates: int, per_segment: int) -> dict[str, list[Suggestion]]:
        from rapidfuzz import fuzz, process

        normal = {s: normalize(s) for s in segments}
        lengths = [len(n) for n in normal.values() if n]
        if not lengths:
            return {}
        # ratio = 2*matches/(a+b) >= t  needs  b >= a*t/(2-t) and b <= a*(2-t)/t
        t = min(threshold, 100.0) / 100.0
        low, high = int(min(lengths) * t / (2 - t)), int(max(lengths) * (2 - t) / t) + 1
        with self.sessions() as s:
            rows = list(s.scalars(select(CorrectionRow).where(
                CorrectionRow.source_lang == source_lang, CorrectionRow.target_lang == target_lang,
                CorrectionRow.length >= low, CorrectionRow.length <= high).order_by(CorrectionRow.id.desc())
                .limit(candidates)))
        if not rows:
            return {}
        choices = [normalize(r.source_text) for r in rows]
        out: dict[str, list[Suggestion]] = {}
        for segment, text in normal.items():
            found = process.extract(text, choices, scorer=fuzz.ratio, score_cutoff=threshold, limit=per_segment + 1)
            suggestions = [Suggestion(segment, _correction(rows[i]), score) for _, score, i in found
                           if choices[i] != text or not rows[i].approved or rows[i].origin != HUMAN]
            if suggestions:
                out[segment] = suggestions[:per_segment]
        return out

    # -- managing --
    @_reachable
    def add(self, item: NewCorrection, author: str, author_key: str | None = None) -> tuple[Correction, bool]:
        """Store a correction (checked first) made by ``author`` (a key's name; ``author_key`` its hash's first 16
        hex digits); returns it and whether it is new (False: it replaced the entry for the same segment and pair,
        or a machine entry met a human one and was not stored)."""
        item = check(item)
        with self.sessions.begin() as s:
            row, created = self._upsert(s, item, author, author_key)
        assert row is not None
        return _correction(row), created

    def _upsert(self, s: Any, item: NewCorrection, author: str,
                author_key: str | None = None) -> tuple[CorrectionRow | None, bool]:
        key = key_of(item.source)
        row = s.scalar(select(CorrectionRow).where(CorrectionRow.source_lang == item.source_lang,
                                                   CorrectionRow.target_lang == item.target_lang,
                                                   CorrectionRow.source_key == key))
        when = item.created_at or now()
        who = (item.author or author)[:64]
        if row is None:
            row = CorrectionRow(source_lang=item.source_lang, target_lang=item.target_lang, source_key=key,
                                source_text=item.source, target_text=item.target, length=len(normalize(item.source)),
                                origin=item.origin, approved=item.approved, author=who, author_key=author_key,
                                created_at=when,
                                updated_at=now(), glossaries=item.glossaries or None, note=item.note)
            s.add(row)
            s.flush()
            return row, True
        if item.origin == MACHINE and row.origin == HUMAN:
            return row, False  # a machine translation never replaces a person's
        if _guarded(row, item):
            raise CorrectionConflict(
                f"This sentence has an approved correction (id {row.id}); yours would wait for approval, so it is "
                "not stored: ask a reviewer with the admin role to change it.", id=row.id)
        row.source_text, row.target_text, row.origin = item.source, item.target, item.origin
        row.approved, row.author, row.author_key, row.updated_at = item.approved, who, author_key, now()
        row.glossaries, row.note, row.reviewed_by, row.reviewed_at = item.glossaries or None, item.note, None, None
        s.flush()
        return row, False

    @_reachable
    def add_many(self, items: Iterable[NewCorrection], author: str) -> tuple[int, int]:
        """Store many (a TMX import) in one transaction, LOOKUP_BATCH at a time; returns (added, updated or kept).
        A segment repeated in ``items`` counts once: the last one wins, as if they were added one by one."""
        added = kept = 0
        with self.sessions.begin() as s:
            batch: list[NewCorrection] = []
            for item in items:
                batch.append(check(item))
                if len(batch) >= LOOKUP_BATCH:
                    a, k = self._add_batch(s, batch, author)
                    added, kept, batch = added + a, kept + k, []
            if batch:
                a, k = self._add_batch(s, batch, author)
                added, kept = added + a, kept + k
        return added, kept

    def _add_batch(self, s: Any, batch: list[NewCorrection], author: str) -> tuple[int, int]:
        keys = {key_of(item.source) for item in batch}
        existing = {(r.source_lang, r.target_lang, r.source_key): r for r in s.scalars(
            select(CorrectionRow).where(CorrectionRow.source_key.in_(list(keys))))}
        added = kept = 0
        for item in batch:
            where = (item.source_lang, item.target_lang, key_of(item.source))
            row = existing.get(where)
            if row is None:
                row = CorrectionRow(source_lang=item.source_lang, target_lang=item.target_lang, source_key=where[2],
                                    source_text=item.source, target_text=item.target,
                                    length=len(normalize(item.source)), origin=item.origin, approved=item.approved,
                                    author=(item.author or author)[:64], created_at=item.created_at or now(),
                                    updated_at=now(), glossaries=item.glossaries or None, note=item.note)
                s.add(row)
                existing[where] = row
                added += 1
                continue
            kept += 1
            if (item.origin == MACHINE and row.origin == HUMAN) or _guarded(row, item):
                continue
            row.source_text, row.target_text, row.origin = item.source, item.target, item.origin
            row.approved, row.author, row.updated_at = item.approved, (item.author or author)[:64], now()
            row.glossaries, row.note, row.reviewed_by, row.reviewed_at = item.glossaries or None, item.note, None, None
        s.flush()
        return added, kept

    @_reachable
    def get(self, correction_id: int) -> Correction:
        with self.sessions() as s:
            row = s.get(CorrectionRow, correction_id) if 0 < correction_id < 2**31 else None
        if row is None:
            raise CorrectionNotFound(f"No correction {correction_id}.", id=correction_id)
        return _correction(row)

    @_reachable
    def approve(self, correction_id: int, reviewer: str) -> Correction:
        """Approve a pending correction (a human one is used from the next request on); approving an approved one
        changes nothing."""
        with self.sessions.begin() as s:
            row = s.get(CorrectionRow, correction_id) if 0 < correction_id < 2**31 else None
            if row is None:
                raise CorrectionNotFound(f"No correction {correction_id}.", id=correction_id)
            if not row.approved:
                row.approved, row.reviewed_by, row.reviewed_at = True, reviewer[:64], now()
            return _correction(row)

    @_reachable
    def delete(self, correction_id: int) -> None:
        with self.sessions.begin() as s:
            row = s.get(CorrectionRow, correction_id) if 0 < correction_id < 2**31 else None
            if row is None:
                raise CorrectionNotFound(f"No correction {correction_id}.", id=correction_id)
            s.delete(row)

    @_reachable
    def search(self, source: str = "", text: str = "", source_lang: str | None = None,
               target_lang: str | None = None, offset: int = 0, limit: int = 100,
               status: str | None = None) -> tuple[int, list[Correction]]:
        """(how many match, one page of them, newest first): entries whose source contains ``source`` and whose
        translation contains ``text`` (case-insensitive), in the given languages (and ``status``: the review queue
        is ``pending``)."""
        where = []
        if status is not None:
            where.append(CorrectionRow.approved.is_(status == APPROVED))
        if source_lang:
            where.append(CorrectionRow.source_lang == source_lang)
        if target_lang:
            where.append(CorrectionRow.target_lang == target_lang)
        for column, wanted in ((CorrectionRow.source_text, source), (CorrectionRow.target_text, text)):
            if normalize(wanted):
                like = "%" + _escape_like(normalize(wanted).lower()) + "%"
                where.append(func.lower(column).like(like, escape="\\"))
        with self.sessions() as s:
            total = s.scalar(select(func.count()).select_from(CorrectionRow).where(*where)) or 0
            rows = s.scalars(select(CorrectionRow).where(*where).order_by(CorrectionRow.id.desc())
                             .offset(offset).limit(limit))
            return total, [_correction(r) for r in rows]

    def export(self, batch: int = 1000) -> Iterator[Correction]:
        """Every entry, in id order, read in batches."""
        last = 0
        while True:
            rows = self._page(last, batch)
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    @_reachable
    def _page(self, after: int, batch: int) -> list[Correction]:
        with self.sessions() as s:
            return [_correction(r) for r in s.scalars(select(CorrectionRow).where(CorrectionRow.id > after)
                                                      .order_by(CorrectionRow.id).limit(batch))]


def _guarded(row: CorrectionRow, item: NewCorrection) -> bool:
    """A pending correction never replaces an approved human one (it would take it out of use unreviewed)."""
    return row.origin == HUMAN and row.approved and not item.approved


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
