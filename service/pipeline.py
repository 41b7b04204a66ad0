"""The one road from every front end to the engines.

    request -> normalise -> detect source -> split into lines and sentences -> dedupe
            -> glossary: protect terms -> split over-long sentences (flagged)
            -> length-sorted batches under a token budget -> engine (n-best when terms are protected)
            -> glossary: choose, restore, verify -> reassemble in the original layout
            -> result per target, with its term report

This is the only module that composes the parts. Nothing here knows about a command line, HTTP or jobs,
and nothing here knows which engine it talks to.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from service import languages
from service.config import Settings
from service.engines.base import (
    TERMS_BY_INSTRUCTION,
    DecodeOptions,
    Engine,
    SegmentTranslation,
    split_terms,
    term_handling,
    with_terms,
)
from service.errors import InputTooLarge, InvalidInput, ServiceError, UnsupportedPair
from service.summaries.options import SummaryOptions, render
from service.summaries.summarizer import Summarizer, Summary
from service.terminology.enforce import Protected, TermCheck, TermLayer, TermReport
from service.terminology.glossary import GlossaryStore
from service.text import document
from service.text.detect import LanguageDetector
from service.text.segment import Segmenter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslationRequest:
    text: str
    targets: Sequence[str]
    source: str = "auto"
    options: DecodeOptions = field(default_factory=DecodeOptions)
    #: glossary names, later ones win; None = the configured default, () = no glossary
    glossaries: Sequence[str] | None = None
    #: also summarise (the source and every target); None = no summary
    summary: SummaryOptions | None = None


@dataclass
class TargetResult:
    target: str
    text: str | None = None
    engine: str | None = None
    model: str | None = None
    error: ServiceError | None = None
    #: per-segment notes, e.g. {"flag": "split", "segment": "...", "parts": 3}
    flags: list[dict[str, object]] = field(default_factory=list)
    segments: int = 0
    unique_segments: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    engine_seconds: float = 0.0
    seconds: float = 0.0
    #: n-best alternatives per unique segment, when asked for (``options.n_best > 1``)
    alternatives: dict[str, list[str]] = field(default_factory=dict)
    #: the glossary report (None when no glossary was applied)
    terms: TermReport | None = None
    summary: Summary | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class TranslationResult:
    source: str
    detected: bool
    results: list[TargetResult]
    summary: Summary | None = None  # of the source text

    def for_target(self, target: str) -> TargetResult:
        return next(r for r in self.results if r.target == target)


class EngineSource(Protocol):
    def engine_for(self, source: str, target: str) -> Engine: ...


class Pipeline:
    def __init__(self, settings: Settings, router: EngineSource, segmenter: Segmenter | None = None,
                 detector: LanguageDetector | None = None, glossaries: GlossaryStore | None = None):
        self.settings = settings
        self.router = router
        self.segmenter = segmenter or Segmenter()
        self._detector = detector
        self.glossaries = glossaries if glossaries is not None else GlossaryStore(settings.glossary_dir)
        self._layers: dict[tuple[str, ...], TermLayer] = {}
        self._summarizer: Summarizer | None = None

    @property
    def summarizer(self) -> Summarizer:
        if self._summarizer is None:
            self._summarizer = Summarizer(self.router, self.segmenter, self.settings.beam_size)  # type: ignore[arg-type]
        return self._summarizer

    def term_layer(self, names: Sequence[str] | None) -> TermLayer | None:
        """The glossary layer for these names (the configured default for None); None for no glossary."""
        chosen = tuple(self.settings.default_glossary_names if names is None else names)
        if not chosen:
            return None
        if chosen not in self._layers:
            self._layers[chosen] = TermLayer([self.glossaries.get(n) for n in chosen])
        return self._layers[chosen]

    @property
    def detector(self) -> LanguageDetector:
        if self._detector is None:  # lingua's models take a moment to load: only when first needed
            self._detector = LanguageDetector()
        return self._detector

    def translate(self, request: TranslationRequest) -> TranslationResult:
        text = unicodedata.normalize("NFC", request.text)
        if len(text) > self.settings.max_document_chars:
            raise InputTooLarge(f"The text has {len(text):,} characters; the limit is "
                                f"{self.settings.max_document_chars:,} (send larger documents as a batch job).",
                                limit=self.settings.max_document_chars)
        targets = languages.parse_list(list(request.targets))
        if not targets:
            raise InvalidInput("Give at least one target language.")
        options = request.options
        if options.beam_size < 1 or not 1 <= options.n_best <= max(options.beam_size, 1):
            raise InvalidInput("beam_size must be >= 1 and n_best between 1 and beam_size.")
        layer = self.term_layer(request.glossaries)  # unknown or broken glossary: fail before any work
        if request.summary is not None:
            request.summary.validate()
        detected = request.source in ("", "auto")
        if not text.strip():
            source = "und" if detected else languages.normalize(request.source)
            return TranslationResult(source, detected, [TargetResult(t, text=text) for t in targets])
        source = self.detector.detect(text).language if detected else languages.normalize(request.source)
        pieces = document.parse(text, source, self.segmenter)
        result = TranslationResult(source, detected, [self._translate_target(pieces, source, t, options, layer)
                                                      for t in targets])
        if request.summary is not None:
            self._summaries(result, text, options, layer, request.summary)
        return result

    def summarize(self, text: str, source: str, options: SummaryOptions) -> tuple[str, Summary]:
        """Summarise ``text`` in its own language (``source`` may be "auto"); returns (language, summary)."""
        options.validate()
        text = unicodedata.normalize("NFC", text)
        if len(text) > self.settings.max_document_chars:
            raise InputTooLarge(f"The text has {len(text):,} characters; the limit is "
                                f"{self.settings.max_document_chars:,}.", limit=self.settings.max_document_chars)
        if not text.strip():
            return ("und" if source in ("", "auto") else languages.normalize(source)), Summary("und", "", "extractive")
        lang = self.detector.detect(text).language if source in ("", "auto") else languages.normalize(source)
        return lang, self.summarizer.summarize(text, lang, options)

    def _summaries(self, result: TranslationResult, text: str, options: DecodeOptions, layer: TermLayer | None,
                   summary_options: SummaryOptions) -> None:
        """The source summary, then one per translated target: translated (with the glossary), or made anew."""
        source_summary = self.summarizer.summarize(text, result.source, summary_options)
        result.summary = source_summary
        for target in result.results:
            if not target.ok or target.text is None:
                continue
            if summary_options.mode == "summarise_target":
                target.summary = replace(self.summarizer.summarize(target.text, target.target, summary_options),
                                         mode="summarise_target")
                continue
            lines = "\n".join(source_summary.sentences)  # one sentence a line: the style is applied after
            translated = self._translate_target(document.parse(lines, result.source, self.segmenter),
                                                result.source, target.target, options, layer)
            if translated.error is not None:
                continue
            sentences = [s for s in (translated.text or "").split("\n") if s.strip()]
            target.summary = Summary(target.target, render(sentences, summary_options.style), source_summary.method,
                                     source_summary.model, sentences, list(source_summary.flags), mode="translate",
                                     terms=translated.terms)

    def _translate_target(self, pieces: list[document.Piece], source: str, target: str,
                          options: DecodeOptions, layer: TermLayer | None) -> TargetResult:
        started = time.perf_counter()
        result = TargetResult(target)
        try:
            if source == target:
                raise UnsupportedPair(f"The source and target are both {source}.", source=source, target=target)
            engine = self.router.engine_for(source, target)
            result.engine, result.model = engine.name, engine.model
            sentences = [p.text for p in pieces if p.translate]
            unique = list(dict.fromkeys(sentences))
            result.segments, result.unique_segments = len(sentences), len(unique)
            translated = self._translate_unique(engine, unique, source, target, options, result, layer)
            result.text = "".join(translated[p.text][0] if p.translate else p.text for p in pieces)
            if layer is not None:
                result.terms = _document_report(layer, pieces, translated)
        except ServiceError as exc:
            result.error = exc
        result.seconds = time.perf_counter() - started
        return result

    def _translate_unique(self, engine: Engine, unique: list[str], source: str, target: str,
                          options: DecodeOptions, result: TargetResult,
                          layer: TermLayer | None) -> dict[str, tuple[str, list[TermCheck]]]:
        """Translate distinct sentences (with their terms protected); over-long ones are split, translated
        in parts and flagged. Returns sentence -> (translation, term checks with sentence offsets)."""
        joiner = "" if languages.get(target).no_spaces else " "

        def count(s: str) -> int:
            return engine.count_tokens(s, source, target)

        # The engine says how it keeps terms: placeholders it copies, or instructions it follows.
        instructed = layer is not None and term_handling(engine) == TERMS_BY_INSTRUCTION
        if layer is None:
            protected = {s: Protected(s) for s in unique}
        else:
            mark = layer.instruct if instructed else layer.protect
            protected = {s: mark(s, source, target) for s in unique}
        parts_of: dict[str, list[str]] = {}
        lengths: dict[str, int] = {}
        for sentence in unique:
            prot = protected[sentence]
            n = count(prot.text)
            parts = [prot.text]
            if n > engine.max_input_tokens:
                parts = document.split_long(prot.text, engine.max_input_tokens, count)
                result.flags.append({"flag": "split", "segment": sentence[:80], "parts": len(parts),
                                     "tokens": n, "limit": engine.max_input_tokens})
            if instructed:  # each part carries the required forms of its own terms
                parts = [with_terms(part, TermLayer.instructions(prot, part)) for part in parts]
            parts_of[sentence] = parts
            for part in parts:
                lengths[part] = n if len(parts) == 1 else count(part)
        # With protected terms, ask for the whole beam so that a hypothesis keeping every term can be chosen.
        if not instructed and any(p.slots for p in protected.values()) and options.beam_size > options.n_best:
            engine_options = replace(options, n_best=options.beam_size)
        else:
            engine_options = options
        done = self._run_batches(engine, lengths, source, target, engine_options, result)

        out: dict[str, tuple[str, list[TermCheck]]] = {}
        for sentence in unique:
            prot = protected[sentence]
            chosen = []
            for part in parts_of[sentence]:
                hyps = [h.text for h in done[part].hypotheses]
                placeholders = prot.slots and not instructed
                chosen.append(TermLayer.choose(hyps, prot.placeholders_in(part)) if placeholders else hyps[0])
            joined = joiner.join(chosen)
            if layer is None:
                out[sentence] = (joined, [])
            else:
                out[sentence] = layer.verify(joined, prot, target) if instructed else layer.restore(joined, prot,
                                                                                                    target)
            if options.n_best > 1 and len(parts_of[sentence]) == 1:
                hyps = [h.text for h in done[parts_of[sentence][0]].hypotheses][: options.n_best]
                result.alternatives[sentence] = [layer.restore(h, prot, target)[0] if layer and not instructed else h
                                                 for h in hyps]
        return out

    def _run_batches(self, engine: Engine, lengths: dict[str, int], source: str, target: str,
                     options: DecodeOptions, result: TargetResult) -> dict[str, SegmentTranslation]:
        """Length-sorted batches whose padded size (longest x count) stays under ``max_batch_tokens``."""
        budget = self.settings.max_batch_tokens
        ordered = sorted(lengths, key=lambda s: lengths[s])
        batches: list[list[str]] = []
        for s in ordered:
            if batches and lengths[s] * (len(batches[-1]) + 1) <= budget:
                batches[-1].append(s)
            else:
                batches.append([s])
        out: dict[str, SegmentTranslation] = {}
        for batch in batches:
            t0 = time.perf_counter()
            translations = engine.translate(batch, source, target, options)
            result.engine_seconds += time.perf_counter() - t0
            for s, tr in zip(batch, translations, strict=True):
                out[s] = tr
                result.input_tokens += tr.input_tokens
                result.output_tokens += tr.output_tokens
                for flag in tr.metadata.get("flags") or ():  # the engine's post-checks (LLM engines)
                    result.flags.append({**flag, "segment": split_terms(s)[0][:80]})
        return out


def flag_note(flag: dict[str, object]) -> str:
    """One sentence for a user about a segment flag (the CLI and the web form show these)."""
    kind = flag.get("flag")
    segment = f": {flag['segment']}..." if flag.get("segment") else ""
    if kind == "split":
        return (f"a sentence of {flag['tokens']} tokens was longer than the model's limit of {flag['limit']} and was "
                f"translated in {flag['parts']} parts{segment}")
    if kind == "wrong_language":
        return f"the engine answered in {flag['detected']}, not {flag['expected']}{segment}"
    if kind == "truncated":
        return f"the engine's output was cut at the length limit{segment}"
    if kind == "untranslated":
        return f"the engine gave no translation ({flag.get('reason', 'no answer')}); the source is kept{segment}"
    return f"{kind}{segment}"


def _document_report(layer: TermLayer, pieces: list[document.Piece],
                     translated: dict[str, tuple[str, list[TermCheck]]]) -> TermReport:
    """Per-sentence checks -> one report with offsets into the whole source document."""
    report = TermReport(layer.names)
    offset = 0
    for piece in pieces:
        if piece.translate:
            for check in translated[piece.text][1]:
                report.checks.append(replace(check, start=check.start + offset, end=check.end + offset))
        offset += len(piece.text)
    return report
