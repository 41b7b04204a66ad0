"""Managed glossaries: kept in the service's database (the job store's: SQLite embedded, PostgreSQL when scaled
out), versioned, edited over the API, the web pages and the command line, shared by every worker and machine.

Every change makes a new version of its glossary, recorded with who made it (the API key's name) and when.
Entries are rows valid over a range of versions (``valid_from`` <= v < ``valid_to``): an edit closes the entry's
row and adds one from the new version on, so any version can be read back, compared (``diff``) or restored
(``rollback`` makes a new version with an old one's content), and a 100,000-entry glossary costs one row per entry
plus one per change. An entry keeps its id across versions (re-importing a file keeps the ids of entries whose
source term is the same).

The tables have their own schema version (``glossary_schema_info``), apart from the job store's, so the two
evolve without stepping on each other. Like the job store, this store connects lazily: it is built without
touching the database, makes its tables on first use, and an unreachable database is
:class:`~service.errors.GlossariesUnavailable` (HTTP 503) from every method.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from service import languages
from service.database import DatabaseStore, now
from service.database import reachable as _reachable
from service.errors import GlossariesUnavailable, GlossaryConflict, GlossaryNotFound, InvalidInput
from service.terminology.glossary import EMPTY, Entry, Glossary, gc_paused

log = logging.getLogger(__name__)

#: 1: glossaries, their versions, and entry rows valid over a range of versions.
SCHEMA_VERSION = 1
#: Rows written per statement when a large glossary is imported.
INSERT_BATCH = 5000
T = TypeVar("T")


class Base(DeclarativeBase):
    pass


class GlossarySchemaInfo(Base):
    __tablename__ = "glossary_schema_info"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)


class GlossaryRow(Base):
    __tablename__ = "glossaries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: the next entry id to hand out (entry ids are per glossary and never reused)
    next_entry: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class VersionRow(Base):
    __tablename__ = "glossary_versions"
    glossary_id: Mapped[int] = mapped_column(ForeignKey("glossaries.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    #: the API key's name ("cli" from the command line, "anonymous" on a server without keys)
    author: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(300))
    entries: Mapped[int] = mapped_column(Integer)


class EntryRow(Base):
    __tablename__ = "glossary_entries"
    __table_args__ = (Index("ix_glossary_entries_current", "glossary_id", "valid_to", "entry_id"),
                      Index("ix_glossary_entries_entry", "glossary_id", "entry_id"))
    row: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    glossary_id: Mapped[int] = mapped_column(ForeignKey("glossaries.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[int] = mapped_column(Integer)
    valid_to: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: forms, deprecated forms, flags, note, extra information (:func:`entry_data`)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: every form in every language, case-folded, one a line: what a search looks in
    terms: Mapped[str] = mapped_column(Text)
    dnt: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class GlossaryInfo:
    name: str
    description: str
    languages: list[str]
    version: int
    entries: int
    created_at: datetime
    updated_at: datetime
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "languages": self.languages,
                "version": str(self.version), "entries": self.entries, "managed": True,
                "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
                "updated_by": self.updated_by}


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    author: str
    action: str
    entries: int

    def to_dict(self) -> dict[str, Any]:
        return {"version": str(self.version), "created_at": _iso(self.created_at), "author": self.author,
                "action": self.action, "entries": self.entries}


@dataclass(frozen=True)
class Diff:
    name: str
    old: int
    new: int
    added: list[Entry]
    removed: list[Entry]
    changed: list[tuple[Entry, Entry]]  # (old, new)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from": str(self.old), "to": str(self.new),
                "added": [entry_json(e) for e in self.added], "removed": [entry_json(e) for e in self.removed],
                "changed": [{"old": entry_json(a), "new": entry_json(b)} for a, b in self.changed]}


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds") + "Z"


# -- entries as data -----------------------------------------------------------------------------------
def entry_data(entry: Entry) -> dict[str, Any]:
    data: dict[str, Any] = {"forms": {k: list(v) for k, v in entry.forms.items()}}
    if entry.deprecated:
        data["deprecated"] = {k: list(v) for k, v in entry.deprecated.items()}
    if entry.dnt:
        data["dnt"] = True
    if entry.case_sensitive:
        data["case_sensitive"] = True
    if entry.note:
        data["note"] = entry.note
    if entry.info:
        data["info"] = dict(entry.info)
    return data


def entry_from_data(data: dict[str, Any], entry_id: int | None, origin: str) -> Entry:
    forms = data["forms"]
    for k, v in forms.items():
        forms[k] = tuple(v)
    deprecated = data.get("deprecated")
    if deprecated:
        for k, v in deprecated.items():
            deprecated[k] = tuple(v)
    return Entry(forms, data.get("dnt", False), data.get("case_sensitive", False), data.get("note", ""), origin,
                 deprecated or EMPTY, data.get("info") or EMPTY, entry_id)


def entry_json(entry: Entry) -> dict[str, Any]:
    """An entry as the API shows it."""
    out: dict[str, Any] = {"id": entry.id, "forms": {k: list(v) for k, v in entry.forms.items()},
                           "deprecated": {k: list(v) for k, v in entry.deprecated.items()},
                           "dnt": entry.dnt, "case_sensitive": entry.case_sensitive, "note": entry.note}
    if entry.info:
        out["info"] = dict(entry.info)
    return out


def _terms(entry: Entry) -> str:
    forms = [f for v in entry.forms.values() for f in v] + [f for v in entry.deprecated.values() for f in v]
    return "\n".join(f.casefold() for f in forms)


def _source_keys(entry: Entry, source: str) -> list[str]:
    return [f if entry.case_sensitive else f.casefold() for f in entry.source_forms(source)]


def check_entry(entry: Entry) -> None:
    """An entry a person typed (over the API or the web page): every form non-empty, known languages, one
    form somewhere."""
    for group in (entry.forms, entry.deprecated):
        for lang, forms in group.items():
            if lang not in languages.LANGUAGES:
                raise InvalidInput(f"Unknown language {lang!r} in an entry; the languages are "
                                   f"{', '.join(languages.LANGUAGES)}.")
            if not forms or any(not f.strip() or "|" in f or "\n" in f for f in forms):
                raise InvalidInput(f"Every {lang} form must be non-empty text without '|' or line breaks.")
    if not any(entry.forms.values()) and not any(entry.deprecated.values()):
        raise InvalidInput("An entry needs at least one form.")


# -- the store -----------------------------------------------------------------------------------------
class ManagedGlossaries(DatabaseStore):
    label = "managed glossaries"
    metadata = Base.metadata
    schema_info = GlossarySchemaInfo
    schema_version = SCHEMA_VERSION
    newer_schema = "The glossary tables were written"

    # -- reachability (as the job store) --
    def _unavailable(self, exc: BaseException) -> GlossariesUnavailable:
        if not self._down:
            self._down = True
            log.warning("managed glossaries: database unreachable (%s); built-in glossaries and those already "
                        "loaded keep working", str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300])
        return GlossariesUnavailable("The glossary database cannot be reached right now; built-in glossaries and "
                                     "glossaries already in use keep working. Try again in a minute.")

    # -- reading --
    @_reachable
    def versions_now(self) -> dict[str, int]:
        """name -> current version of every managed glossary: one small query (what workers poll)."""
        with self.sessions() as s:
            return {name: version for name, version in s.execute(select(GlossaryRow.name, GlossaryRow.version))}

    def _row(self, s: Any, name: str) -> GlossaryRow:
        row = s.scalar(select(GlossaryRow).where(GlossaryRow.name == name))
        if row is None:
            raise GlossaryNotFound(f"No managed glossary named {name!r}.", glossary=name)
        return row

    def _info(self, s: Any, row: GlossaryRow) -> GlossaryInfo:
        last = s.execute(select(VersionRow.author, VersionRow.entries).where(
            VersionRow.glossary_id == row.id, VersionRow.version == row.version)).first()
        author, count = last if last is not None else ("", 0)
        return GlossaryInfo(row.name, row.description, list(row.languages), row.version, count, row.created_at,
                            row.updated_at, author)

    @_reachable
    def list(self) -> list[GlossaryInfo]:
        with self.sessions() as s:
            return [self._info(s, row) for row in s.scalars(select(GlossaryRow).order_by(GlossaryRow.name))]

    @_reachable
    def info(self, name: str) -> GlossaryInfo:
        with self.sessions() as s:
            return self._info(s, self._row(s, name))

    @staticmethod
    def _at(glossary_id: int, version: int | None) -> Any:
        where = EntryRow.glossary_id == glossary_id
        if version is None:
            return where & EntryRow.valid_to.is_(None)
        return where & (EntryRow.valid_from <= version) & or_(EntryRow.valid_to.is_(None), EntryRow.valid_to > version)

    def _entries(self, s: Any, row: GlossaryRow, version: int | None) -> list[Entry]:
        """The entries at ``version``, in id order. Read as JSON text and parsed in one call: 100,000 rows load
        in about a second (one json.loads per row took twice as long)."""
        rows = s.connection().execute(select(EntryRow.entry_id, cast(EntryRow.data, Text)).where(
            self._at(row.id, version)).order_by(EntryRow.entry_id)).all()
        if not rows:
            return []
        origin = f"{row.name}:"
        with gc_paused():
            datas = json.loads("[" + ",".join(data for _, data in rows) + "]")
            return [entry_from_data(data, entry_id, f"{origin}{entry_id}")
                    for (entry_id, _), data in zip(rows, datas, strict=True)]

    @_reachable
    def load(self, name: str, version: int | None = None) -> Glossary:
        """The glossary at ``version`` (the current one by default), ready for the term index."""
        with self.sessions() as s:
            row = self._row(s, name)
            if version is not None and not 1 <= version <= row.version:
                raise InvalidInput(f"{name} has versions 1 to {row.version}, not {version}.")
            entries = self._entries(s, row, version)
            at = row.version if version is None else version
        return Glossary(name, tuple(entries), None, str(at), tuple(row.languages), row.description, managed=True)

    @_reachable
    def entries(self, name: str, query: str = "", offset: int = 0, limit: int = 100) -> tuple[int, list[Entry]]:
        """(how many match, one page of them): the current entries whose forms contain ``query`` (any language,
        any case), in id order."""
        with self.sessions() as s:
            row = self._row(s, name)
            where = self._at(row.id, None)
            if query.strip():
                where = where & EntryRow.terms.like("%" + _escape_like(query.strip().casefold()) + "%", escape="\\")
            total = s.scalar(select(func.count()).select_from(EntryRow).where(where)) or 0
            rows = s.execute(select(EntryRow.entry_id, EntryRow.data).where(where).order_by(EntryRow.entry_id)
                             .offset(offset).limit(limit))
            return total, [entry_from_data(data, entry_id, f"{name}:{entry_id}") for entry_id, data in rows]

    @_reachable
    def entry(self, name: str, entry_id: int) -> Entry:
        with self.sessions() as s:
            row = self._row(s, name)
            return self._current_entry(s, row, entry_id)

    def _current_entry(self, s: Any, row: GlossaryRow, entry_id: int) -> Entry:
        if not 0 < entry_id < 2**31:
            raise GlossaryNotFound(f"{row.name} has no entry {entry_id}.", glossary=row.name, entry=entry_id)
        data = s.scalar(select(EntryRow.data).where(self._at(row.id, None), EntryRow.entry_id == entry_id))
        if data is None:
            raise GlossaryNotFound(f"{row.name} has no entry {entry_id}.", glossary=row.name, entry=entry_id)
        return entry_from_data(data, entry_id, f"{row.name}:{entry_id}")

    @_reachable
    def history(self, name: str) -> list[VersionInfo]:
        with self.sessions() as s:
            row = self._row(s, name)
            return [VersionInfo(v.version, v.created_at, v.author, v.action, v.entries) for v in s.scalars(
                select(VersionRow).where(VersionRow.glossary_id == row.id).order_by(VersionRow.version.desc()))]

    @_reachable
    def diff(self, name: str, old: int, new: int) -> Diff:
        with self.sessions() as s:
            row = self._row(s, name)
            for v in (old, new):
                if not 1 <= v <= row.version:
                    raise InvalidInput(f"{name} has versions 1 to {row.version}, not {v}.")
            before = {e.id: e for e in self._entries(s, row, old)}
            after = {e.id: e for e in self._entries(s, row, new)}
        return Diff(name, old, new, [e for i, e in after.items() if i not in before],
                    [e for i, e in before.items() if i not in after],
                    [(before[i], e) for i, e in after.items()
                     if i in before and entry_data(before[i]) != entry_data(e)])

    # -- writing --
    def _bump(self, s: Any, row: GlossaryRow) -> int:
        """The new version number (the row is locked for the rest of the transaction)."""
        s.execute(update(GlossaryRow).where(GlossaryRow.id == row.id).values(
            version=GlossaryRow.version + 1, updated_at=now()))
        version = s.scalar(select(GlossaryRow.version).where(GlossaryRow.id == row.id))
        s.flush()
        return version

    def _record(self, s: Any, row: GlossaryRow, version: int, author: str, action: str) -> None:
        count = s.scalar(select(func.count()).select_from(EntryRow).where(self._at(row.id, None))) or 0
        s.add(VersionRow(glossary_id=row.id, version=version, created_at=now(), author=author[:64],
                         action=action[:300], entries=count))

    def _insert(self, s: Any, glossary_id: int, version: int, items: Iterable[tuple[int, Entry]]) -> None:
        batch: list[dict[str, Any]] = []
        for entry_id, entry in items:
            batch.append({"glossary_id": glossary_id, "entry_id": entry_id, "valid_from": version,
                          "valid_to": None, "data": entry_data(entry), "terms": _terms(entry), "dnt": entry.dnt})
            if len(batch) >= INSERT_BATCH:
                s.execute(insert(EntryRow), batch)
                batch = []
        if batch:
            s.execute(insert(EntryRow), batch)

    def _close(self, s: Any, glossary_id: int, version: int, entry_ids: Sequence[int]) -> None:
        for start in range(0, len(entry_ids), INSERT_BATCH):
            s.execute(update(EntryRow).where(EntryRow.glossary_id == glossary_id, EntryRow.valid_to.is_(None),
                                             EntryRow.entry_id.in_(entry_ids[start:start + INSERT_BATCH]))
                      .values(valid_to=version))

    @_reachable
    def create(self, name: str, entries: Sequence[Entry], langs: Sequence[str], author: str,
               description: str = "", action: str = "created") -> GlossaryInfo:
        """A new glossary at version 1; GlossaryConflict when the name is taken."""
        try:
            with self.sessions.begin() as s:
                row = GlossaryRow(name=name, description=description, languages=list(langs), version=1,
                                  next_entry=len(entries) + 1, created_at=now(), updated_at=now())
                s.add(row)
                s.flush()
                self._insert(s, row.id, 1, enumerate(entries, 1))
                self._record(s, row, 1, author, action)
        except IntegrityError:
            raise GlossaryConflict(f"A glossary named {name!r} exists already: send its new content with PUT "
                                   f"/v1/glossaries/{name} (a new version), or choose another name.",
                                   glossary=name) from None
        return self.info(name)

    @_reachable
    def replace(self, name: str, entries: Sequence[Entry], langs: Sequence[str], author: str,
                description: str | None = None, action: str = "replaced") -> GlossaryInfo:
        """New content for a glossary, as a new version: entries whose source forms match an existing entry keep
        its id (and its row, when nothing changed); the others are added; the missing ones removed."""
        with self.sessions.begin() as s:
            row = self._row(s, name)
            current = self._entries(s, row, None)
            source = row.languages[0] if row.languages else (langs[0] if langs else "")
            by_key: dict[str, Entry] = {}
            for old in current:
                for key in _source_keys(old, source):
                    by_key.setdefault(key, old)
            version = self._bump(s, row)
            keep: set[int] = set()
            new_rows: list[tuple[int, Entry]] = []
            next_id = row.next_entry
            for entry in entries:
                match = next((by_key[k] for k in _source_keys(entry, source) if k in by_key), None)
                if match is not None and match.id not in keep:
                    keep.add(match.id)  # type: ignore[arg-type]
                    if entry_data(match) == entry_data(entry):
                        continue
                    new_rows.append((match.id, entry))  # type: ignore[arg-type]
                else:
                    new_rows.append((next_id, entry))
                    next_id += 1
            changed = [i for i, _ in new_rows if i in keep]
            gone = [e.id for e in current if e.id not in keep]
            self._close(s, row.id, version, [*changed, *gone])  # type: ignore[list-item]
            self._insert(s, row.id, version, new_rows)
            values: dict[str, Any] = {"next_entry": next_id, "languages": list(dict.fromkeys([*row.languages,
                                                                                              *langs]))}
            if description is not None:
                values["description"] = description
            s.execute(update(GlossaryRow).where(GlossaryRow.id == row.id).values(**values))
            self._record(s, row, version, author, action)
        return self.info(name)

    def _check_unique(self, s: Any, row: GlossaryRow, entry: Entry, entry_id: int | None) -> None:
        """An entry's source forms (the glossary's first language) must not be another entry's."""
        if not row.languages:
            return
        source = row.languages[0]
        keys = set(_source_keys(entry, source))
        if not keys:
            raise InvalidInput(f"The entry needs a form in {source} (the glossary's first language).")
        like = [EntryRow.terms.like("%" + _escape_like(k.casefold()) + "%", escape="\\") for k in keys]
        rows = s.execute(select(EntryRow.entry_id, EntryRow.data).where(self._at(row.id, None), or_(*like)))
        for other_id, data in rows:
            other = entry_from_data(data, other_id, "")
            clash = keys & set(_source_keys(other, source))
            if other_id != entry_id and clash:
                raise GlossaryConflict(f"Entry {other_id} has the {source} form {sorted(clash)[0]!r} already: edit "
                                       "that entry instead, or use another form.", entry=other_id)

    @_reachable
    def add_entry(self, name: str, entry: Entry, author: str) -> tuple[Entry, int]:
        check_entry(entry)
        with self.sessions.begin() as s:
            row = self._row(s, name)
            self._check_unique(s, row, entry, None)
            entry_id = row.next_entry
            version = self._bump(s, row)
            self._insert(s, row.id, version, [(entry_id, entry)])
            s.execute(update(GlossaryRow).where(GlossaryRow.id == row.id).values(
                next_entry=entry_id + 1, languages=_languages_with(row.languages, entry)))
            self._record(s, row, version, author, f"added entry {entry_id}")
        return self.entry(name, entry_id), version

    @_reachable
    def update_entry(self, name: str, entry_id: int, entry: Entry, author: str) -> tuple[Entry, int]:
        check_entry(entry)
        with self.sessions.begin() as s:
            row = self._row(s, name)
            old = self._current_entry(s, row, entry_id)
            if entry_data(old) == entry_data(entry):
                return old, row.version
            self._check_unique(s, row, entry, entry_id)
            version = self._bump(s, row)
            self._close(s, row.id, version, [entry_id])
            self._insert(s, row.id, version, [(entry_id, entry)])
            s.execute(update(GlossaryRow).where(GlossaryRow.id == row.id).values(
                languages=_languages_with(row.languages, entry)))
            self._record(s, row, version, author, f"edited entry {entry_id}")
        return self.entry(name, entry_id), version

    @_reachable
    def delete_entry(self, name: str, entry_id: int, author: str) -> int:
        with self.sessions.begin() as s:
            row = self._row(s, name)
            self._current_entry(s, row, entry_id)
            version = self._bump(s, row)
            self._close(s, row.id, version, [entry_id])
            self._record(s, row, version, author, f"deleted entry {entry_id}")
        return version

    @_reachable
    def rollback(self, name: str, to: int, author: str) -> GlossaryInfo:
        """A new version whose entries are those of version ``to``."""
        with self.sessions.begin() as s:
            row = self._row(s, name)
            if not 1 <= to <= row.version:
                raise InvalidInput(f"{name} has versions 1 to {row.version}, not {to}.")
            then = {e.id: e for e in self._entries(s, row, to)}
            current = {e.id: e for e in self._entries(s, row, None)}
            version = self._bump(s, row)
            differ = [i for i, e in current.items() if i not in then or entry_data(then[i]) != entry_data(e)]
            self._close(s, row.id, version, differ)  # type: ignore[arg-type]
            restore = [(i, e) for i, e in then.items() if i not in current or i in differ]
            self._insert(s, row.id, version, restore)  # type: ignore[arg-type]
            self._record(s, row, version, author, f"rolled back to version {to}")
        return self.info(name)

    @_reachable
    def delete(self, name: str) -> None:
        """The glossary and its whole history."""
        with self.sessions.begin() as s:
            row = self._row(s, name)
            s.execute(EntryRow.__table__.delete().where(EntryRow.glossary_id == row.id))
            s.execute(VersionRow.__table__.delete().where(VersionRow.glossary_id == row.id))
            s.delete(row)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _languages_with(known: Sequence[str], entry: Entry) -> list[str]:
    return list(dict.fromkeys([*known, *entry.forms, *entry.deprecated]))
