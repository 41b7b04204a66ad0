"""Glossary files of every format people have, read into one model (:class:`~service.terminology.glossary.Glossary`)
and written back out.

Read: CSV and TSV (``service.terminology.glossary``), **TBX** (ISO 30042, the termbase exchange standard: TBX v3
``<tbx>``/``conceptEntry``/``langSec``/``termSec`` and TBX v2 ``<martif>``/``termEntry``/``langSet``/``tig``
or ``ntig``, TBX-Basic and TBX-Core alike) and **XLSX** spreadsheets (the first sheet, laid out like the CSV).
Written: CSV and TBX (TBX-Basic v3).

TBX, per concept: each language's terms; a term's ``administrativeStatus`` (or ``normativeAuthorization``)
orders them: ``preferredTerm`` first (the form produced), then ``admittedTerm`` and terms without a status;
``deprecatedTerm`` and ``supersededTerm`` forms are matched in source text but never produced. Part of speech,
subject field, definitions and other notes are kept (``Entry.info``) and written back on export. Two extensions
carry this service's flags: ``<descrip type="doNotTranslate">yes</descrip>`` and ``<descrip
type="caseSensitive">yes</descrip>`` on the concept; a ``<note>`` on the concept is the entry's note.

XML is read with defusedxml's parser, streaming (memory stays flat for files of any size) and with entity
declarations and external references refused: a "billion laughs" file or one that points at
``file:///etc/passwd`` is a problem in the file, never expanded nor fetched. Every problem names its place:
``file:line: what`` (``file:sheet:row: what`` for spreadsheets).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from service import languages
from service.errors import UnsupportedLanguage
from service.terminology.glossary import (
    DEPRECATED_SUFFIX,
    Entry,
    Glossary,
    gc_paused,
    nfc,
    parse_glossary,
    parse_rows,
)

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
TBX_SUFFIXES = (".tbx", ".xml")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
#: Every file suffix a glossary may have.
SUFFIXES = (*TABLE_SUFFIXES, *TBX_SUFFIXES, *XLSX_SUFFIXES)
FORMATS = ("csv", "tbx")

#: TBX statuses -> order among a language's forms (lower first); None: deprecated (matched, never produced).
_STATUS_RANK: dict[str, int | None] = {"preferredterm": 0, "admittedterm": 1, "": 1, "deprecatedterm": None,
                                       "supersededterm": None, "notrecommended": None, "obsolete": None}
_STATUS_TYPES = ("administrativestatus", "normativeauthorization")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_YES = {"yes", "true", "1", "y", "x"}
_READ_CHUNK = 1 << 16


def read_glossary(data: bytes, file_name: str, name: str | None = None) -> tuple[Glossary, list[str]]:
    """Any supported file, by its suffix (or its first bytes when the suffix says nothing); returns the glossary
    (its version is the file's content hash) and every problem found (``file:line: what``)."""
    glossary_name = name or file_name.split(".")[0]
    suffix = Path(file_name).suffix.lower()
    if suffix in (".xls", ".ods"):
        return Glossary(glossary_name, ()), [f"{file_name}:1: {suffix} spreadsheets are not read: save the sheet "
                                             "as .xlsx (or CSV) and send that"]
    if suffix in XLSX_SUFFIXES or (suffix not in SUFFIXES and data[:4] == b"PK\x03\x04"):
        glossary, problems = read_xlsx(data, file_name, glossary_name)
    elif suffix in TBX_SUFFIXES or (suffix not in SUFFIXES and data.lstrip()[:1] == b"<"):
        glossary, problems = read_tbx(data, file_name, glossary_name)
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Glossary(glossary_name, ()), [f"{file_name}:1: not UTF-8 text: save the file as UTF-8"]
        glossary, problems = parse_glossary(text, Path(file_name), glossary_name)
    version = hashlib.sha256(data).hexdigest()[:12]
    return replace(glossary, version=version, path=None), problems


# -- XLSX ---------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _trimmed(row: list[str]) -> list[str]:
    """A sheet's rows are as wide as its widest one: empty cells at the end are no columns."""
    while row and not row[-1].strip():
        row.pop()
    return row


def read_xlsx(data: bytes, file_name: str, name: str) -> tuple[Glossary, list[str]]:
    """The first sheet of a workbook, laid out like the CSV (a header of language codes and flag columns)."""
    import openpyxl  # uses defusedxml for the workbook's XML when it is installed (it is: a dependency)

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError, DefusedXmlException):
        return Glossary(name, ()), [f"{file_name}:1: not an XLSX workbook (or a damaged one): save the sheet again "
                                    "as .xlsx, or as CSV"]
    try:
        if not book.worksheets:
            return Glossary(name, ()), [f"{file_name}:1: the workbook has no sheets"]
        sheet = book.worksheets[0]
        rows = ((f"{file_name}:{sheet.title}:{n}", _trimmed([_cell(v) for v in row]))
                for n, row in enumerate(sheet.iter_rows(values_only=True), 1))
        glossary, problems = parse_rows(rows, file_name, name)
    finally:
        book.close()
    if problems and problems[0].endswith("the file has no rows"):
        problems[0] = f"{file_name}:{sheet.title}:1: the sheet has no rows"
    return glossary, problems


# -- TBX ----------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rpartition("}")[2].rpartition(":")[2]


def _status(value: str) -> str:
    return value.strip().lower().removesuffix("-admn-sts")


class _Term:
    __slots__ = ("line", "notes", "status", "text")

    def __init__(self, line: int):
        self.line = line
        self.text = ""
        self.status = ""
        self.notes: dict[str, str] = {}


class _Concept:
    __slots__ = ("descrips", "id", "line", "notes", "terms")

    def __init__(self, line: int, concept_id: str | None):
        self.line = line
        self.id = concept_id
        self.terms: list[tuple[str, _Term]] = []  # (language, term)
        self.descrips: dict[str, str] = {}
        self.notes: list[str] = []


class _TbxReader:
    """The target of a streaming, defused XML parse: keeps one concept at a time and turns it into an Entry."""

    def __init__(self, file_name: str):
        self.file_name = file_name
        self.parser = DefusedXMLParser(target=self)  # entities and external references refused
        self.entries: list[Entry] = []
        self.problems: list[str] = []
        self.languages: dict[str, None] = {}
        self.root: str | None = None
        self._stack: list[str] = []
        self._concept: _Concept | None = None
        self._lang: str | None = None
        self._bad_lang = False
        self._term: _Term | None = None
        self._text: list[str] | None = None  # collecting the text of the element being read
        self._field: tuple[str, str] | None = None  # (element, type) of a descrip/termNote/note being read
        self._seen: dict[str, tuple[int, int]] = {}  # source form (folded unless case-sensitive) -> (entry, line)

    @property
    def line(self) -> int:
        return self.parser.parser.CurrentLineNumber

    def problem(self, line: int, what: str) -> None:
        self.problems.append(f"{self.file_name}:{line}: {what}")

    # parser target interface
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        self._stack.append(name)
        if self.root is None:
            self.root = name
            if name not in ("tbx", "martif"):
                self.problem(self.line, f"not a TBX file: its root element is <{name}>, not <tbx> (TBX v3) or "
                                        "<martif> (TBX v2)")
            return
        if name in ("conceptEntry", "termEntry"):
            self._concept = _Concept(self.line, attrib.get("id"))
        elif self._concept is None:
            return
        elif name in ("langSec", "langSet"):
            raw = attrib.get(_XML_LANG) or attrib.get("lang") or ""
            self._lang, self._bad_lang = None, False
            try:
                self._lang = languages.normalize(raw.strip())
            except UnsupportedLanguage:
                self._bad_lang = True
                self.problem(self.line, f"unknown language {raw!r} (xml:lang); the languages are "
                                        f"{', '.join(languages.LANGUAGES)} (or their FLORES-200 codes)")
        elif name in ("termSec", "tig", "ntig"):
            self._term = _Term(self.line)
        elif name == "term":
            self._text = []
        elif name in ("termNote", "descrip", "note", "admin"):
            self._field = (name, attrib.get("type", ""))
            self._text = []

    def data(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)

    def end(self, tag: str) -> None:
        name = self._stack.pop() if self._stack else _local(tag)
        concept = self._concept
        if concept is None:
            return
        if name == "term" and self._text is not None:
            if self._term is not None:
                self._term.text = "".join(self._text)
            self._text = None
        elif name in ("termNote", "descrip", "note", "admin") and self._field is not None and self._text is not None:
            value = " ".join("".join(self._text).split())
            element, kind = self._field
            self._field, self._text = None, None
            if self._term is not None:
                if element == "termNote" and kind.lower() in _STATUS_TYPES:
                    self._term.status = _status(value)
                elif value:
                    self._term.notes[kind or element] = value
            elif element == "note":
                if value:
                    concept.notes.append(value)
            elif value and self._lang is None:
                concept.descrips[kind or element] = value
        elif name in ("termSec", "tig", "ntig") and self._term is not None:
            if not self._bad_lang:
                if self._lang is None:
                    self.problem(self._term.line, "a term outside a language section (langSec/langSet with "
                                                  "xml:lang)")
                else:
                    concept.terms.append((self._lang, self._term))
            self._term = None
        elif name in ("langSec", "langSet"):
            self._lang, self._bad_lang = None, False
        elif name in ("conceptEntry", "termEntry"):
            self._finish(concept)
            self._concept = None

    def close(self) -> None:
        return None

    def _finish(self, concept: _Concept) -> None:
        ranked: dict[str, list[tuple[int, int, str]]] = {}
        avoid: dict[str, list[str]] = {}
        terms_info: dict[str, dict[str, dict[str, str]]] = {}
        bad = False
        for order, (lang, term) in enumerate(concept.terms):
            text = nfc(term.text)
            if not text:
                self.problem(term.line, f"empty term ({lang})")
                bad = True
                continue
            if "|" in text:
                self.problem(term.line, f"a term may not contain '|' ({text!r}): give each variant its own term")
                bad = True
                continue
            rank = _STATUS_RANK.get(term.status, 1)
            if term.status not in _STATUS_RANK:
                self.problem(term.line, f"unknown administrative status {term.status!r}: use preferredTerm, "
                                        "admittedTerm or deprecatedTerm (with or without -admn-sts)")
                bad = True
                continue
            if rank is None:
                if text not in avoid.setdefault(lang, []):
                    avoid[lang].append(text)
            else:
                ranked.setdefault(lang, []).append((rank, order, text))
            if term.notes:  # the status is in the forms' order and the deprecated forms
                terms_info.setdefault(lang, {})[text] = dict(term.notes)
        if not concept.terms:
            self.problem(concept.line, "an entry without terms")
            return
        if bad:
            return
        forms = {lang: tuple(dict.fromkeys(text for _, _, text in sorted(items))) for lang, items in ranked.items()}
        deprecated = {lang: tuple(texts) for lang, texts in avoid.items()}
        for lang in (*forms, *deprecated):
            self.languages.setdefault(lang, None)
        flags = {k.lower(): v for k, v in concept.descrips.items()}
        dnt = flags.pop("donottranslate", "").lower() in _YES
        case_sensitive = flags.pop("casesensitive", "").lower() in _YES
        descrips = {k: v for k, v in concept.descrips.items() if k.lower() not in ("donottranslate", "casesensitive")}
        info: dict[str, Any] = {}
        if concept.id:
            info["id"] = concept.id
        if descrips:
            info["descrip"] = descrips
        if terms_info:
            info["terms"] = terms_info
        entry = Entry(forms, dnt, case_sensitive, " ".join(concept.notes), f"{self.file_name}:{concept.line}",
                      deprecated, info)
        source = next(iter(self.languages))
        number = len(self.entries)
        for form in entry.source_forms(source):
            key = form if case_sensitive else "\0" + form.casefold()
            earlier = self._seen.get(key)
            if earlier is not None and earlier[0] != number:
                self.problem(concept.line, f"duplicate source term {form!r} ({source}), already in the entry on line "
                                           f"{earlier[1]}: merge the two entries, or mark one form deprecated")
                return
            self._seen[key] = (number, concept.line)
        self.entries.append(entry)


def read_tbx(data: bytes, file_name: str, name: str) -> tuple[Glossary, list[str]]:
    reader = _TbxReader(file_name)
    with gc_paused():
        return _read_tbx(reader, data, file_name, name)


def _read_tbx(reader: _TbxReader, data: bytes, file_name: str, name: str) -> tuple[Glossary, list[str]]:
    try:
        for start in range(0, len(data), _READ_CHUNK):
            reader.parser.feed(data[start:start + _READ_CHUNK])
        reader.parser.close()
    except ParseError as exc:
        line, column = getattr(exc, "position", (reader.line, 0))
        what = expat.ErrorString(exc.code) if getattr(exc, "code", None) else "broken XML"
        return Glossary(name, ()), [*reader.problems, f"{file_name}:{line}: the XML is not well-formed ({what}, "
                                                      f"column {column + 1}): fix the file and send it again"]
    except DefusedXmlException:
        return Glossary(name, ()), [*reader.problems, f"{file_name}:{reader.line}: the file declares XML entities or "
                                                      "refers to external ones; these are refused (they can expand "
                                                      "a small file to gigabytes or read files on the server): "
                                                      "remove them from the DOCTYPE"]
    problems = reader.problems
    if not reader.entries and not problems:
        problems.append(f"{file_name}:1: no entries (conceptEntry or termEntry elements with terms)")
    return Glossary(name, tuple(reader.entries), languages=tuple(reader.languages)), problems


# -- writing ------------------------------------------------------------------------------------------
def _languages(glossary: Glossary) -> list[str]:
    found = dict.fromkeys(glossary.languages)
    for entry in glossary.entries:
        found.update(dict.fromkeys(entry.forms))
        found.update(dict.fromkeys(entry.deprecated))
    return list(found)


def export_csv(glossary: Glossary) -> str:
    """This project's CSV: language columns, ``LANG:deprecated`` columns where needed, dnt, case, note."""
    langs = _languages(glossary)
    avoid = [lang for lang in langs if any(lang in e.deprecated for e in glossary.entries)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*langs, *(f"{lang}{DEPRECATED_SUFFIX}" for lang in avoid), "dnt", "case", "note"])
    for e in glossary.entries:
        writer.writerow([*("|".join(e.forms.get(lang, ())) for lang in langs),
                         *("|".join(e.deprecated.get(lang, ())) for lang in avoid),
                         "yes" if e.dnt else "", "sensitive" if e.case_sensitive else "", e.note])
    return out.getvalue()


def _tbx_concept(entry: Entry, number: int, langs: list[str]) -> Iterator[str]:
    concept_id = str(entry.info.get("id") or (f"e{entry.id}" if entry.id is not None else f"c{number}"))
    yield f"<conceptEntry id={quoteattr(concept_id)}>"
    for kind, value in (entry.info.get("descrip") or {}).items():
        yield f"<descrip type={quoteattr(kind)}>{escape(value)}</descrip>"
    if entry.dnt:
        yield '<descrip type="doNotTranslate">yes</descrip>'
    if entry.case_sensitive:
        yield '<descrip type="caseSensitive">yes</descrip>'
    if entry.note:
        yield f"<note>{escape(entry.note)}</note>"
    notes_by_lang = entry.info.get("terms") or {}
    for lang in langs:
        forms, avoid = entry.forms.get(lang, ()), entry.deprecated.get(lang, ())
        if not forms and not avoid:
            continue
        yield f'<langSec xml:lang="{lang}">'
        for i, form in enumerate((*forms, *avoid)):
            status = "preferredTerm" if i == 0 and forms else ("admittedTerm" if i < len(forms) else "deprecatedTerm")
            yield f"<termSec><term>{escape(form)}</term>"
            for kind, value in (notes_by_lang.get(lang, {}).get(form) or {}).items():
                yield f"<termNote type={quoteattr(kind)}>{escape(value)}</termNote>"
            yield f'<termNote type="administrativeStatus">{status}-admn-sts</termNote></termSec>'
        yield "</langSec>"
    yield "</conceptEntry>\n"


def export_tbx(glossary: Glossary) -> bytes:
    """TBX-Basic (TBX v3, ISO 30042:2019), one conceptEntry per entry."""
    langs = _languages(glossary)
    title = escape(glossary.name + (f": {glossary.description}" if glossary.description else ""))
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<tbx style="dca" type="TBX-Basic" xml:lang="en" xmlns="urn:iso:std:iso:30042:ed-2" '
            'xmlns:basic="http://www.tbxinfo.net/ns/basic">\n'
            f"<tbxHeader><fileDesc><titleStmt><title>{title}</title></titleStmt>"
            f"<sourceDesc><p>asean-mt glossary {escape(glossary.name)}, version {escape(glossary.version)}</p>"
            "</sourceDesc></fileDesc></tbxHeader>\n<text><body>\n")
    parts = [head]
    for number, entry in enumerate(glossary.entries, 1):
        parts.extend(_tbx_concept(entry, number, langs))
    parts.append("</body></text>\n</tbx>\n")
    return "".join(parts).encode("utf-8")


def export(glossary: Glossary, fmt: str) -> tuple[bytes, str, str]:
    """(content, media type, file suffix) of ``glossary`` in ``fmt`` ("csv" or "tbx")."""
    if fmt == "tbx":
        return export_tbx(glossary), "application/x-tbx+xml", ".tbx"
    return export_csv(glossary).encode("utf-8"), "text/csv; charset=utf-8", ".csv"
