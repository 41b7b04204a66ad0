"""The one document road, used by the command line, the HTTP API, the LibreTranslate endpoints, the web form and
jobs alike:

    file -> format (name or given) -> adapter: units with inline tags as markers -> limits
         -> source language (given, declared by the file, or detected on the whole text)
         -> Pipeline.translate_many over every unit (one deduplication, shared batches, glossary, protected spans,
            memory) [+ the source summary's sentences, translated with them]
         -> per target: the adapter writes the translated units into a fresh copy of the file
         -> per target: the file, its name and media type, one term report for the document, flags, summary

The pipeline never learns it is translating a document.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath

from service import languages
from service.documents import format_of, get_format
from service.documents.base import Limits
from service.documents.inline import Unit
from service.engines.base import DecodeOptions
from service.errors import (
    EmptyText,
    GlossaryNotFound,
    InvalidInput,
    ServiceError,
    UnsupportedLanguage,
    internal_error,
)
from service.pipeline import Pipeline, TargetResult, TranslationRequest, TranslationResult, error_dict
from service.summaries.options import SummaryOptions, render
from service.summaries.summarizer import Summary
from service.terminology.enforce import TermReport
from service.text import markers
from service.text.detect import Detection

log = logging.getLogger(__name__)
#: Units are joined with this in the document's plain text (detection, summaries, report offsets).
UNIT_SEPARATOR = "\n\n"


@dataclass
class TranslatedFile:
    target: str
    data: bytes | None = None
    name: str | None = None
    media_type: str | None = None
    #: the translation as plain text (units separated by blank lines), for reports and JSON results
    text: str | None = None
    engine: str | None = None
    model: str | None = None
    error: ServiceError | None = None
    flags: list[dict[str, object]] = field(default_factory=list)
    terms: TermReport | None = None
    summary: Summary | None = None
    segments: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, object]:
        return {"target": self.target, "name": self.name, "media_type": self.media_type, "engine": self.engine,
                "model": self.model, "flags": self.flags, "glossary": self.terms.to_dict() if self.terms else None,
                "summary": self.summary.to_dict() if self.summary else None,
                "error": error_dict(self.error) if self.error else None,
                "stats": {"segments": self.segments, "seconds": round(self.seconds, 3)}}


@dataclass
class DocumentResult:
    name: str
    format: str
    source: str
    detected: bool
    units: int
    characters: int
    files: list[TranslatedFile]
    detection: Detection | None = None
    summary: Summary | None = None
    #: what the reader must know about this format (PDF: the layout is not kept)
    note: str | None = None

    def for_target(self, target: str) -> TranslatedFile:
        return next(f for f in self.files if f.target == target)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "format": self.format, "source": self.source, "detected": self.detected,
                "detection": self.detection.to_dict() if self.detection else None, "units": self.units,
                "characters": self.characters, "note": self.note,
                "summary": self.summary.to_dict() if self.summary else None,
                "translations": [f.to_dict() for f in self.files]}


def output_name(file_name: str, target: str, extension: str | None = None) -> str:
    """``article.id.html`` -> ``article.ms.html`` (``extension`` replaces the file's own, e.g. PDF -> .docx)."""
    path = PurePath(PurePath(file_name).name or "document")
    stem, suffix = path.stem, extension or path.suffix
    base, _, lang = stem.rpartition(".")
    if base:
        try:
            languages.normalize(lang)
            stem = base
        except ServiceError:
            pass
    return f"{stem}.{target}{suffix}"


def translate_document(pipeline: Pipeline, data: bytes, name: str, targets: Sequence[str], source: str = "auto",
                       options: DecodeOptions | None = None, glossaries: Sequence[str] | None = None,
                       summary: SummaryOptions | None = None, input_format: str | None = None,
                       pdf_output: str = "docx") -> DocumentResult:
    """Translate one file into each target. A problem with the file or the request raises (InvalidInput and its
    kin: malformed, too large, unsupported); a problem with one target is that file's ``error``."""
    options = options or DecodeOptions(beam_size=pipeline.settings.beam_size)
    limits = Limits.of(pipeline.settings)
    limits.check_size(data, name)
    fmt_name = format_of(name, input_format)
    fmt = get_format(fmt_name)
    loaded = fmt.load(data, limits)
    units = loaded.units
    limits.check_units(units, name)
    plain = UNIT_SEPARATOR.join(u.plain for u in units)
    if not plain.strip():
        raise EmptyText(f"{name} has no text to translate.")
    target_codes = languages.parse_list(list(targets))
    detected = source in ("", "auto")
    detection = None
    if not detected:
        source = languages.normalize(source)
    elif loaded.declared_source:
        source = loaded.declared_source
    else:
        detection = pipeline.detector.detect(plain)
        source = detection.language
    unit_layout = getattr(fmt, "layout", "keep")  # units are blocks; plain text keeps the layout setting
    requests = [TranslationRequest(u.text, target_codes, source, options, glossaries, layout=unit_layout)
                for u in units]
    source_summary = None
    if summary is not None:
        _, source_summary = pipeline.summarize(plain, source, summary)
        requests.append(TranslationRequest("\n".join(source_summary.sentences), target_codes, source, options,
                                           glossaries, layout="keep"))
    started = time.perf_counter()
    results = pipeline.translate_many(requests)
    files = []
    for target in target_codes:
        per_unit = [r.for_target(target) for r in results[:len(units)]]
        out = _file(fmt, loaded if target == target_codes[0] else None, data, limits, name, target, per_unit,
                    pdf_output, units)
        if out.ok and source_summary is not None:
            out.summary = _translated_summary(results[-1].for_target(target), source_summary, summary)
        out.seconds = time.perf_counter() - started
        files.append(out)
    return DocumentResult(PurePath(name).name, fmt_name, source, detected, len(units), len(plain) - len(
        UNIT_SEPARATOR) * (len(units) - 1), files, detection, source_summary, fmt.note)


def _file(fmt, loaded, data: bytes, limits: Limits, name: str, target: str, per_unit: list[TargetResult],
          pdf_output: str, units: list[Unit]) -> TranslatedFile:
    failed = next((r for r in per_unit if not r.ok), None)
    if failed is not None:
        return TranslatedFile(target, error=failed.error)
    translations = [r.text or "" for r in per_unit]
    out = TranslatedFile(target, engine=per_unit[0].engine, model=per_unit[0].model,
                         segments=sum(r.segments for r in per_unit))
    try:
        document = loaded if loaded is not None else fmt.load(data, limits)
        if fmt.name == "pdf":
            out.data = document.write(translations, target, pdf_output)  # type: ignore[call-arg]
            extension = ".txt" if pdf_output == "txt" else ".docx"
            media = "text/plain; charset=utf-8" if pdf_output == "txt" else fmt.output_media_type
        else:
            out.data = document.write(translations, target)
            extension, media = fmt.output_extension, fmt.output_media_type or fmt.media_type
    except ServiceError as exc:
        return TranslatedFile(target, error=exc)
    except Exception as exc:  # an adapter's surprise is this target's error, with an incident id
        return TranslatedFile(target, error=internal_error(exc, f"writing {name} in {target}", log))
    out.name = output_name(name, target, extension)
    out.media_type = media
    out.text = UNIT_SEPARATOR.join(markers.strip(t) for t in translations)
    out.flags = [_clean(f) for r in per_unit for f in r.flags]
    out.terms = _report(per_unit, units)
    return out


def _clean(flag: dict[str, object]) -> dict[str, object]:
    if "segment" in flag:
        return flag | {"segment": markers.strip(str(flag["segment"]))}
    return flag


def _report(per_unit: list[TargetResult], units: list[Unit]) -> TermReport | None:
    """One report for the document: each unit's checks with offsets into the document's plain text (the units'
    text without tags, joined by blank lines)."""
    reports = [r.terms for r in per_unit]
    if all(r is None for r in reports):
        return None
    names = next(r.glossaries for r in reports if r is not None)
    merged = TermReport(list(names))
    offset = 0
    for report, unit in zip(reports, units, strict=True):
        if report is not None:
            for check in [*report.checks, *report.spans]:
                start = offset + len(markers.strip(unit.text[:check.start]))
                merged.add(replace(check, start=start, end=start + len(markers.strip(check.source))))
        offset += len(unit.plain) + len(UNIT_SEPARATOR)
    return merged


def _translated_summary(result: TargetResult, source_summary: Summary, options: SummaryOptions) -> Summary | None:
    if not result.ok:
        return None
    sentences = [s for s in (result.text or "").split("\n") if s.strip()]
    return Summary(result.target, render(sentences, options.style), source_summary.method, source_summary.model,
                   sentences, list(source_summary.flags), mode="translate", terms=result.terms)


def translate_html(pipeline: Pipeline, html: str, targets: Sequence[str], source: str = "auto",
                   options: DecodeOptions | None = None, glossaries: Sequence[str] | None = None
                   ) -> TranslationResult:
    """An HTML string (a page or a fragment) as a text result, for ``"format": "html"`` in the text APIs: the
    translated HTML is each target's text. A problem with the HTML is the text's error."""
    codes = languages.parse_list(list(targets))
    try:
        result = translate_document(pipeline, html.encode("utf-8"), "text.html", codes, source, options,
                                    glossaries, input_format="html")
    except ServiceError as exc:
        if not isinstance(exc, InvalidInput) or isinstance(exc, UnsupportedLanguage | GlossaryNotFound):
            raise
        return TranslationResult(source, source in ("", "auto"), [TargetResult(t, error=exc) for t in codes],
                                 error=exc)
    outcomes = []
    for f in result.files:
        text = f.data.decode("utf-8") if f.data is not None else None
        outcomes.append(TargetResult(f.target, text, f.engine, f.model, f.error, f.flags, f.segments,
                                     terms=f.terms, seconds=f.seconds))
    return TranslationResult(result.source, result.detected, outcomes, detection=result.detection)
