"""Glossary files and their validation.

Two formats are read:

- **Multi-column CSV** (this project's own): a header of language codes (``id,en,ms,th,vi,tl,km,lo,my``;
  the first is the glossary's source side and must be filled on every row) plus optional ``dnt`` (keep the
  source form in every target), ``case`` (``sensitive`` or ``insensitive``, the default) and ``note``.
  A cell may hold variants separated by ``|``; the first form is the one produced.
  Every language column can be a source, so one file serves all directions.
- **Two-column CSV/TSV** as Google, AWS and DeepL users have them: either a header of two language codes
  (AWS), or no header (Google, DeepL) with the languages in the file name: ``name.id-en.csv`` / ``.tsv``.

Problems (empty term, duplicate source variant in the first language column, unknown language column, bad
flag, wrong cell count) are collected with file and line number; a file with any problem is not used.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import regex

from service import languages
from service.errors import GlossaryInvalid, GlossaryNotFound, UnsupportedLanguage, counted

log = logging.getLogger(__name__)

FLAG_COLUMNS = ("dnt", "case", "note")
_TRUE = {"1", "yes", "y", "true", "x", "keep"}
_FALSE = {"", "0", "no", "n", "false"}


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


@dataclass(frozen=True)
class Entry:
    #: language -> forms; the first form is the one produced in that language
    forms: dict[str, tuple[str, ...]]
    dnt: bool = False
    case_sensitive: bool = False
    note: str = ""
    origin: str = ""  # "file:line"

    @property
    def key(self) -> str:
        """A readable identifier: the first form of the first language that has one."""
        for forms in self.forms.values():
            return forms[0]
        return self.origin

    def target_form(self, target: str, matched: str) -> str | None:
        """What ``target`` must say for this term; the matched source text itself for do-not-translate."""
        if self.dnt:
            return matched
        forms = self.forms.get(target)
        return forms[0] if forms else None


@dataclass(frozen=True)
class Glossary:
    name: str
    entries: tuple[Entry, ...]
    path: Path | None = None
    version: str = ""  # content hash: changes whenever the file does (cache keys use it)
    languages: tuple[str, ...] = field(default=())


def _split_forms(cell: str) -> list[str]:
    return [nfc(v) for v in cell.split("|")]


def _sniff_dialect(text: str, path: Path) -> type[csv.Dialect] | csv.Dialect:
    if path.suffix.lower() == ".tsv":
        return csv.excel_tab
    first = text.splitlines()[0] if text else ""
    return csv.excel_tab if "\t" in first and "," not in first else csv.excel


def _header_languages(row: list[str]) -> list[str] | None:
    """The row's language codes if it is a header row (all cells language codes or flag columns)."""
    out = []
    for cell in row:
        name = cell.strip().lower()
        if name in FLAG_COLUMNS:
            out.append(name)
            continue
        try:
            out.append(languages.normalize(name))
        except UnsupportedLanguage:
            return None
    return out if any(c not in FLAG_COLUMNS for c in out) else None


def parse_glossary(text: str, path: Path, name: str | None = None) -> tuple[Glossary, list[str]]:
    """Parse one file's text; returns the glossary and its problems ('file:line: what')."""
    problems: list[str] = []
    text = text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), dialect=_sniff_dialect(text, path)))
    numbered = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    glossary_name = name or path.name.split(".")[0]

    def problem(line: int, what: str) -> None:
        problems.append(f"{path.name}:{line}: {what}")

    if not numbered:
        problem(1, "the file has no rows")
        return Glossary(glossary_name, (), path), problems
    first_line, first = numbered[0]
    columns = _header_languages(first)
    if columns is not None:
        body = numbered[1:]
        seen_cols: set[str] = set()
        for col in columns:
            if col in seen_cols:
                problem(first_line, f"column {col!r} appears twice")
            seen_cols.add(col)
    else:
        parts = path.name.split(".")
        pair = parts[1] if len(parts) >= 3 else ""
        try:
            src, tgt = pair.split("-")
            columns = [languages.normalize(src), languages.normalize(tgt)]
        except (ValueError, UnsupportedLanguage):
            unknown = [c for c in first if c.strip()]
            noun = "column" if len(unknown) == 1 else "columns"
            problem(first_line, f"unknown language {noun} {', '.join(map(repr, unknown))}: the header must be "
                                "language codes (id,en,ms,...) plus dnt/case/note, or a two-column file must be "
                                "named NAME.SRC-TGT.csv")
            return Glossary(glossary_name, (), path), problems
        body = numbered
    lang_cols = [c for c in columns if c not in FLAG_COLUMNS]

    entries: list[Entry] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in body:
        if len(row) > len(columns):
            problem(line, f"{len(row)} cells but the header has {len(columns)} columns")
            continue
        cells = dict(zip(columns, [*row, *[""] * (len(columns) - len(row))], strict=True))
        dnt_raw, case_raw = cells.get("dnt", "").strip().lower(), cells.get("case", "").strip().lower()
        if dnt_raw not in _TRUE | _FALSE:
            problem(line, f"dnt must be yes or no, not {dnt_raw!r}")
            continue
        if case_raw not in ("", "sensitive", "insensitive"):
            problem(line, f"case must be sensitive or insensitive, not {case_raw!r}")
            continue
        case_sensitive = case_raw == "sensitive"
        forms: dict[str, tuple[str, ...]] = {}
        bad = False
        for lang in lang_cols:
            cell = cells.get(lang, "")
            if not cell.strip():
                continue
            variants = _split_forms(cell)
            if any(not v for v in variants):
                problem(line, f"empty term in column {lang!r} ({cell!r})")
                bad = True
                continue
            forms[lang] = tuple(dict.fromkeys(variants))
        if bad:
            continue
        if lang_cols[0] not in forms:
            problem(line, f"empty term: no form in the first language column {lang_cols[0]!r}")
            continue
        # The first language column is the glossary's source side: a variant there must name one entry.
        # Other columns may repeat a form (Thai has one word for 'smart city' and 'smart cities'); when such
        # a column is used as the source, the later row wins, as later glossaries do.
        for lang, variants in forms.items():
            if lang != lang_cols[0]:
                continue
            for v in variants:
                k = (lang, v if case_sensitive else v.casefold())
                if k in seen and seen[k] != line:
                    problem(line, f"duplicate source variant {v!r} ({lang}), already on line {seen[k]}")
                    bad = True
                seen[k] = line
        if bad:
            continue
        entries.append(Entry(forms, dnt_raw in _TRUE, case_sensitive, cells.get("note", "").strip(),
                             f"{path.name}:{line}"))
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Glossary(glossary_name, tuple(entries), path, version, tuple(lang_cols)), problems


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
    """Load and validate one file; raises GlossaryInvalid listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GlossaryInvalid(f"{path.name} is not UTF-8 text.", problems=[f"{path.name}:1: not UTF-8"]) from exc
    except OSError as exc:
        raise GlossaryNotFound(f"Cannot read the glossary file {path}.") from exc
    glossary, problems = parse_glossary(text, path)
    if problems:
        raise GlossaryInvalid(f"{path.name} has {counted(len(problems), 'problem')}: {problems[0]}", problems=problems,
                              path=str(path))
    return glossary


class GlossaryStore:
    """Every glossary in a folder, loaded once. A broken file is kept out and reported, never fatal."""

    SUFFIXES = (".csv", ".tsv")

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
