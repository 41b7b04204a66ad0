"""Glossary files and their validation.

The model (:class:`Entry`, :class:`Glossary`) and the table formats; TBX and XLSX are read (and CSV and TBX
written) by ``service.terminology.formats``, into the same model. Tables:

- **Multi-column CSV** (this project's own): a header of language codes (``id,en,ms,th,vi,tl,km,lo,my``;
  the first is the glossary's source side and must be filled on every row) plus optional ``dnt`` (keep the
  source form in every target), ``case`` (``sensitive`` or ``insensitive``, the default) and ``note``.
  A cell may hold variants separated by ``|``; the first form is the one produced.
  Every language column can be a source, so one file serves all directions. A column ``LANG:deprecated``
  (``id:deprecated``) holds forms that are matched in source text but never produced.
- **Two-column CSV/TSV** as Google, AWS and DeepL users have them: either a header of two language codes
  (AWS), or no header (Google, DeepL) with the languages in the file name: ``name.id-en.csv`` / ``.tsv``.

Problems (empty term, duplicate source variant in the first language column, unknown language column, bad
flag, wrong cell count) are collected with file and line number; a file with any problem is not used.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import logging
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import regex

from service import languages
from service.errors import GlossaryInvalid, GlossaryNotFound, UnsupportedLanguage, counted

log = logging.getLogger(__name__)

FLAG_COLUMNS = ("dnt", "case", "note")
_TRUE = {"1", "yes", "y", "true", "x", "keep"}
_FALSE = {"", "0", "no", "n", "false"}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """While millions of small objects are made at once (a large glossary's entries, its index): Python's cyclic
    garbage collector would scan them again and again as they pile up, doubling the time, and they hold no
    cycles. Measured at 1,000,000 entries: index 16 s -> 8 s."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def nfc(text: str) -> str:
    text = text.strip()
    return text if text.isascii() else unicodedata.normalize("NFC", text)


#: The shared empty mapping of entries without deprecated forms or extra information (read-only, so sharing it
#: is safe, and 100,000 entries do not hold 200,000 empty dicts).
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Entry:
    #: language -> forms; the first form is the one produced in that language
    forms: dict[str, tuple[str, ...]]
    dnt: bool = False
    case_sensitive: bool = False
    note: str = ""
    origin: str = ""  # "file:line" (or "file:sheet:row", "file:line" of a TBX entry)
    #: language -> forms matched in source text but never produced (TBX deprecatedTerm, supersededTerm)
    deprecated: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: EMPTY)
    #: what else the file said, kept for export (TBX: subject field, definitions, part of speech per term...)
    info: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    #: the entry's id in a managed glossary (stable across versions); None for files
    id: int | None = None

    @property
    def key(self) -> str:
        """A readable identifier: the first form of the first language that has one."""
        for forms in self.forms.values():
            return forms[0]
        for forms in self.deprecated.values():
            return forms[0]
        return self.origin

    def source_forms(self, language: str) -> tuple[str, ...]:
        """Every form matched in text of ``language``: the usable ones, then the deprecated ones."""
        forms = self.forms.get(language, ())
        avoid = self.deprecated.get(language)
        return forms + avoid if avoid else forms

    def target_form(self, target: str, matched: str) -> str | None:
        """What ``target`` must say for this term; the matched source text itself for do-not-translate."""
        if self.dnt:
            return matched
        forms = self.forms.get(target)
        return forms[0] if forms else None

    def usable_for(self, target: str | None) -> bool:
        """Whether this entry says what ``target`` must contain (a form there, or do-not-translate)."""
        return target is None or self.dnt or target in self.forms


@dataclass(frozen=True)
class Glossary:
    name: str
    entries: tuple[Entry, ...]
    path: Path | None = None
    #: a file's content hash, or a managed glossary's version number: changes whenever the content does
    version: str = ""
    languages: tuple[str, ...] = field(default=())
    description: str = ""
    #: kept in the service's database (edited over the API), not a read-only file in glossary_dir
    managed: bool = False


def _split_forms(cell: str) -> tuple[str, ...]:
    """A cell's variants, NFC, without repeats; an empty variant stays (as "") for the caller to report."""
    if "|" not in cell:
        return (nfc(cell),)
    return tuple(dict.fromkeys(nfc(v) for v in cell.split("|")))


def _sniff_dialect(text: str, path: Path) -> type[csv.Dialect] | csv.Dialect:
    if path.suffix.lower() == ".tsv":
        return csv.excel_tab
    first = text.splitlines()[0] if text else ""
    return csv.excel_tab if "\t" in first and "," not in first else csv.excel


#: A header cell naming the deprecated forms of a language: ``id:deprecated`` (matched, never produced).
DEPRECATED_SUFFIX = ":deprecated"


def _header_languages(row: list[str]) -> list[str] | None:
    """The row's columns if it is a header row (all cells language codes, ``LANG:deprecated`` or flag
    columns); None otherwise."""
    out = []
    for cell in row:
        name = cell.strip().lower()
        if name in FLAG_COLUMNS:
            out.append(name)
            continue
        suffix = DEPRECATED_SUFFIX if name.endswith(DEPRECATED_SUFFIX) else ""
        try:
            out.append(languages.normalize(name.removesuffix(suffix)) + suffix)
        except UnsupportedLanguage:
            return None
    return out if any(c not in FLAG_COLUMNS and not c.endswith(DEPRECATED_SUFFIX) for c in out) else None


def parse_glossary(text: str, path: Path, name: str | None = None) -> tuple[Glossary, list[str]]:
    """Parse one CSV/TSV file's text; returns the glossary and its problems ('file:line: what')."""
    text = text.lstrip("\ufeff")
    rows = csv.reader(io.StringIO(text), dialect=_sniff_dialect(text, path))
    numbered = ((f"{path.name}:{i}", r) for i, r in enumerate(rows, 1))
    glossary, problems = parse_rows(numbered, path.name, name or path.name.split(".")[0])
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Glossary(glossary.name, glossary.entries, path, version, glossary.languages), problems


def pair_from_name(file_name: str) -> list[str] | None:
    """``google.id-en.csv`` -> ["id", "en"]: the languages of a two-column file without a header."""
    parts = file_name.split(".")
    pair = parts[1] if len(parts) >= 3 else ""
    try:
        src, tgt = pair.split("-")
        return [languages.normalize(src), languages.normalize(tgt)]
    except (ValueError, UnsupportedLanguage):
        return None


def parse_rows(rows: Iterable[tuple[str, list[str]]], file_name: str, glossary_name: str
               ) -> tuple[Glossary, list[str]]:
    """A table of terms (CSV, TSV, a spreadsheet's sheet): rows with where they are ('file:line'); returns the
    glossary (no version) and its problems ('where: what')."""
    with gc_paused():
        return _parse_rows(rows, file_name, glossary_name)


def _parse_rows(rows: Iterable[tuple[str, list[str]]], file_name: str, glossary_name: str
                ) -> tuple[Glossary, list[str]]:
    problems: list[str] = []
    numbered = [(where, r) for where, r in rows if "".join(r).strip()]

    def problem(where: str, what: str) -> None:
        problems.append(f"{where}: {what}")

    if not numbered:
        problem(f"{file_name}:1", "the file has no rows")
        return Glossary(glossary_name, ()), problems
    first_where, first = numbered[0]
    columns = _header_languages(first)
    if columns is not None:
        body = numbered[1:]
        seen_cols: set[str] = set()
        for col in columns:
            if col in seen_cols:
                problem(first_where, f"column {col!r} appears twice")
            seen_cols.add(col)
    else:
        columns = pair_from_name(file_name)
        if columns is None:
            unknown = [c for c in first if c.strip()]
            noun = "column" if len(unknown) == 1 else "columns"
            problem(first_where, f"unknown language {noun} {', '.join(map(repr, unknown))}: the header must be "
                                 "language codes (id,en,ms,...) plus dnt/case/note, or a two-column file must be "
                                 "named NAME.SRC-TGT.csv")
            return Glossary(glossary_name, ()), problems
        body = numbered
    lang_cols = [c for c in columns if c not in FLAG_COLUMNS and not c.endswith(DEPRECATED_SUFFIX)]
    first_lang = lang_cols[0]
    index = {c: i for i, c in enumerate(columns)}
    dnt_at, case_at, note_at = index.get("dnt"), index.get("case"), index.get("note")
    lang_at = [(c, i) for c, i in index.items() if c in lang_cols]
    avoid_at = [(c.removesuffix(DEPRECATED_SUFFIX), i) for c, i in index.items() if c.endswith(DEPRECATED_SUFFIX)]

    entries = _entries(body, problem, columns, lang_at, avoid_at, (dnt_at, case_at, note_at), first_lang)
    return Glossary(glossary_name, tuple(entries), languages=tuple(lang_cols)), problems


def _entries(body: list[tuple[str, list[str]]], problem: Any, columns: list[str], lang_at: list[tuple[str, int]],
             avoid_at: list[tuple[str, int]], flags_at: tuple[int | None, int | None, int | None], first_lang: str
             ) -> list[Entry]:
    dnt_at, case_at, note_at = flags_at
    width = len(columns)
    entries: list[Entry] = []
    seen: dict[str, str] = {}  # a source variant (case-folded unless case-sensitive) -> where it was
    flags_known = _TRUE | _FALSE
    for where, row in body:
        if len(row) != width:
            if len(row) > width:
                problem(where, f"{len(row)} cells but the header has {width} columns")
                continue
            row = [*row, *[""] * (width - len(row))]
        dnt_raw = row[dnt_at].strip().lower() if dnt_at is not None else ""
        case_raw = row[case_at].strip().lower() if case_at is not None else ""
        if dnt_raw not in flags_known:
            problem(where, f"dnt must be yes or no, not {dnt_raw!r}")
            continue
        if case_raw not in ("", "sensitive", "insensitive"):
            problem(where, f"case must be sensitive or insensitive, not {case_raw!r}")
            continue
        case_sensitive = case_raw == "sensitive"
        forms: dict[str, tuple[str, ...]] = {}
        avoid: dict[str, tuple[str, ...]] = {}
        bad = False
        for lang, at in lang_at:
            cell = row[at]
            if cell and not cell.isspace():
                variants = _split_forms(cell)
                if "" in variants:
                    problem(where, f"empty term in column {columns[at]!r} ({cell!r})")
                    bad = True
                else:
                    forms[lang] = variants
        for lang, at in avoid_at:
            cell = row[at]
            if cell and not cell.isspace():
                variants = _split_forms(cell)
                if "" in variants:
                    problem(where, f"empty term in column {columns[at]!r} ({cell!r})")
                    bad = True
                else:
                    avoid[lang] = variants
        if bad:
            continue
        source_forms = forms.get(first_lang, ()) + avoid.get(first_lang, ())
        if not source_forms:
            problem(where, f"empty term: no form in the first language column {first_lang!r}")
            continue
        # The first language column is the glossary's source side: a variant there must name one entry.
        # Other columns may repeat a form (Thai has one word for 'smart city' and 'smart cities'); when such
        # a column is used as the source, the later row wins, as later glossaries do.
        for v in source_forms:
            k = v if case_sensitive else v.casefold()
            if case_sensitive:
                k = "\0" + k  # case-sensitive and insensitive forms are distinct entries
            earlier = seen.get(k)
            if earlier is not None and earlier != where:
                problem(where, f"duplicate source variant {v!r} ({first_lang}), already on line "
                               f"{earlier.rpartition(':')[2]}")
                bad = True
            seen[k] = where
        if bad:
            continue
        entries.append(Entry(forms, dnt_raw in _TRUE, case_sensitive,
                             row[note_at].strip() if note_at is not None else "", where, avoid or EMPTY))
    return entries


def warnings(glossary: Glossary) -> list[str]:
    """Entries that are valid but likely to read badly ('file:line: what'): a target form that adds a name the
    source form lacks ("Lembaga Dana ... Internasional" -> "Agensi Pembangunan Antarabangsa Indonesia"), where
    the source text usually carries that name itself next to the term ("... (LDKPI) Indonesia"), so that the
    translation says it twice."""
    if not glossary.languages:
        return []
    first = glossary.languages[0]
    names = {v for e in glossary.entries for v in e.forms.get(first, ()) if len(_WORD.findall(v)) == 1}
    out = []
    for entry in glossary.entries:
        own = {v for v in entry.forms.get(first, ())}  # the entry's own one-word forms are no other name
        # an acronym variant ("KBRI") stands for the whole name, country included
        variants = [v for v in entry.forms.get(first, ()) if not (v.isupper() and len(_WORD.findall(v)) == 1)]
        if entry.dnt or not variants:
            continue
        for lang, forms in entry.forms.items():
            if lang == first:
                continue
            for variant in variants:
                has = set(_WORD.findall(variant))
                # a longer variant with the name ("... Tempatan Malaysia") is matched first: that case is covered
                covered = {w for v in entry.forms[first] if has <= set(_WORD.findall(v)) for w in _WORD.findall(v)}
                for word in dict.fromkeys(_WORD.findall(forms[0])):
                    if word in names and word not in own and word not in covered:
                        out.append(f"{entry.origin}: the {lang} form {forms[0]!r} adds {word!r}, which the {first} "
                                   f"form {variant!r} lacks: where the source text goes on with {word!r} (as in "
                                   f"'... (ACRONYM) {word}') the translation says it twice; drop it from the "
                                   f"{lang} form, or add a {first} variant that includes it")
    return out


_WORD = regex.compile(r"\w+", regex.V1)


def load_glossary(path: Path) -> Glossary:
    """Load and validate one file of any format (CSV, TSV, TBX, XLSX: ``service.terminology.formats``); raises
    GlossaryInvalid listing every problem."""
    from service.terminology.formats import read_glossary

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GlossaryNotFound(f"Cannot read the glossary file {path}.") from exc
    glossary, problems = read_glossary(data, path.name)
    if problems:
        raise GlossaryInvalid(f"{path.name} has {counted(len(problems), 'problem')}: {problems[0]}", problems=problems,
                              path=str(path))
    return replace(glossary, path=path)


class GlossaryStore:
    """Every glossary in a folder, loaded once. A broken file is kept out and reported, never fatal."""

    SUFFIXES = (".csv", ".tsv", ".tbx", ".xlsx")

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.glossaries: dict[str, Glossary] = {}
        self.broken: dict[str, GlossaryInvalid] = {}
        if not self.directory.is_dir():
            log.warning("glossary folder %s does not exist; no glossaries loaded", self.directory)
            return
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() not in self.SUFFIXES:
                continue
            name = path.name.split(".")[0]
            try:
                self.glossaries[name] = load_glossary(path)
            except GlossaryInvalid as exc:
                self.broken[name] = exc
                log.error("glossary %s is not used: %s", name, "; ".join(exc.details.get("problems", [])))

    def names(self) -> list[str]:
        return sorted({*self.glossaries, *self.broken})

    def usable(self) -> list[str]:
        """Names of the glossaries that loaded without problems."""
        return sorted(self.glossaries)

    def get(self, name: str) -> Glossary:
        if name in self.broken:
            raise self.broken[name]
        if name not in self.glossaries:
            raise GlossaryNotFound(f"No glossary named {name!r}; available: {', '.join(self.names()) or 'none'}.",
                                   glossary=name, available=self.names())
        return self.glossaries[name]
