"""The one road from every front end to the engines.

    request -> normalise -> detect source -> split into lines and sentences -> dedupe
            -> human corrections (exact: returned as they are, no engine; similar: offered as suggestions)
            -> glossary: protect terms -> split over-long sentences (flagged)
            -> length-sorted batches under a token budget -> engine (n-best when terms are protected)
            -> glossary: choose, restore, verify -> reassemble in the original layout
            -> result per target, with its term report

Several texts of one request go through it together (:meth:`Pipeline.translate_many`): their sentences are
deduplicated and batched as one document per target, then reassembled and reported per text. A failure stays
where it happened: a problem with one text (too long, language not detected) is that text's error, a problem
with one target (missing model, engine failure, or anything unexpected, which gets an incident id in the log)
is that target's error, and the rest is still translated.

This is the only module that composes the parts. Nothing here knows about a command line, HTTP or jobs,
and nothing here knows which engine it talks to.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from service import languages
from service.config import Settings
from service.corrections import Correction, CorrectionStore
from service.engines.base import (
    TERMS_BY_INSTRUCTION,
    DecodeOptions,
    Engine,
    SegmentTranslation,
    term_handling,
    with_terms,
)
from service.errors import (
    ConfigError,
    EmptyText,
    InputTooLarge,
    InvalidInput,
    ServiceError,
    UnsupportedPair,
    internal_error,
)
from service.summaries.options import SummaryOptions, render
from service.summaries.summarizer import Summarizer, Summary
from service.terminology.enforce import Protected, TermCheck, TermLayer, TermReport
from service.terminology.glossary import GlossaryStore
from service.terminology.registry import GlossaryRegistry
from service.text import document, layout, spans
from service.text.detect import Detection, LanguageDetector
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
    #: "keep", "reflow" or "auto" (hard-wrapped lines joined: service.text.layout); None = the setting
    layout: str | None = None


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
    #: where the translation came from: "engine", "memory:human" (every sentence an approved human correction)
    #: or "mixed" (some sentences)
    origin: str = "engine"
    #: the human corrections used: {"source": sentence, "id": correction id}
    memory: list[dict[str, object]] = field(default_factory=list)
    #: pending corrections (waiting for approval) and similar corrections (fuzzy matches) of sentences that had no
    #: approved one: offered, never substituted
    suggestions: list[dict[str, object]] = field(default_factory=list)
    #: (source sentence, its translation) of each distinct sentence: what a person corrects (not in to_dict)
    sentences: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, stats: bool = False) -> dict[str, object]:
        """The one JSON shape of a target's result (the HTTP API's, and the CLI's and jobs' too); ``stats``
        adds the counts and timings."""
        out: dict[str, object] = {
            "target": self.target, "text": self.text, "engine": self.engine, "model": self.model,
            "flags": self.flags, "glossary": self.terms.to_dict() if self.terms else None,
            "alternatives": [{"source": s, "alternatives": alts} for s, alts in self.alternatives.items()] or None,
            "summary": self.summary.to_dict() if self.summary else None,
            "error": error_dict(self.error) if self.error else None,
            "origin": self.origin if self.error is None else None,
            "memory": self.memory or None,
            "suggestions": self.suggestions or None,
        }
        if stats:
            out["stats"] = {"segments": self.segments, "unique_segments": self.unique_segments,
                            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                            "seconds": round(self.seconds, 3), "engine_seconds": round(self.engine_seconds, 3)}
        return out


def error_dict(error: ServiceError) -> dict[str, object]:
    """An error in a result: the same fields as an HTTP error body (``error`` is the sentence for people)."""
    return {"error": error.message, "code": error.code, **error.details}


@dataclass
class TranslationResult:
    source: str
    detected: bool
    results: list[TargetResult]
    summary: Summary | None = None  # of the source text
    #: the text itself could not be translated (too long, language not detected...); every target carries it too
    error: ServiceError | None = None
    #: how the source was detected (None when the request named it)
    detection: Detection | None = None

    def for_target(self, target: str) -> TargetResult:
        return next(r for r in self.results if r.target == target)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, stats: bool = False) -> dict[str, object]:
        """One text's result: source, detection, source summary, one entry per target, and the text's error."""
        return {"source": self.source, "detected": self.detected,
                "detection": self.detection.to_dict() if self.detection else None,
                "summary": self.summary.to_dict() if self.summary else None,
                "translations": [r.to_dict(stats) for r in self.results],
                "error": error_dict(self.error) if self.error else None}


@dataclass
class _Unique:
    """What translating a set of distinct sentences produced, per sentence."""

    text: dict[str, tuple[str, list[TermCheck]]] = field(default_factory=dict)  # translation, term checks
    flags: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    alternatives: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)  # input, output
    engine_seconds: float = 0.0


@dataclass
class _Text:
    """One text of a request, prepared: its source language and pieces, or its error."""

    request: TranslationRequest
    text: str = ""
    source: str = "und"
    detected: bool = False
    detection: Detection | None = None
    pieces: list[document.Piece] = field(default_factory=list)
    error: ServiceError | None = None


class EngineSource(Protocol):
    def engine_for(self, source: str, target: str) -> Engine: ...


class Pipeline:
    def __init__(self, settings: Settings, router: EngineSource, segmenter: Segmenter | None = None,
                 detector: LanguageDetector | None = None,
                 glossaries: GlossaryRegistry | GlossaryStore | None = None,
                 corrections: CorrectionStore | None = None):
        self.settings = settings
        #: human corrections, in the service's database (None: off)
        self.corrections = corrections if corrections is not None or not settings.memory_corrections else \
            CorrectionStore(settings.jobs_db, settings.jobs_lock_timeout_s)
        self.router = router
        self.segmenter = segmenter or Segmenter()
        self._detector = detector
        if isinstance(glossaries, GlossaryStore):
            glossaries = GlossaryRegistry(glossaries)  # built-in glossaries only
        #: built-in glossaries (files) and managed ones (the database), at their current versions
        self.glossaries = glossaries if glossaries is not None else GlossaryRegistry.from_settings(settings)
        #: LRU of glossary_layer_cache layers, keyed by the glossaries' names and versions
        self._layers: OrderedDict[tuple[tuple[str, str], ...], TermLayer] = OrderedDict()
        self._layers_lock = threading.Lock()
        self._summarizer: Summarizer | None = None
        try:
            self.span_kinds = spans.parse_kinds(settings.protected_spans)
            layout.validate(settings.layout)
            if settings.source_prior:
                languages.normalize(settings.source_prior)
        except (ValueError, InvalidInput) as exc:
            raise ConfigError(f"Bad setting: {exc}") from exc

    @property
    def summarizer(self) -> Summarizer:
        if self._summarizer is None:
            self._summarizer = Summarizer(self.router, self.segmenter, self.settings.beam_size,  # type: ignore[arg-type]
                                          self.settings.summary_max_sentences)
        return self._summarizer

    def term_layer(self, names: Sequence[str] | None) -> TermLayer:
        """The glossary layer for these names (the configured default for None), which also keeps the protected
        spans (URLs, e-mail addresses...); with no glossary it keeps the spans alone. An LRU of
        ``glossary_layer_cache`` layers (each holds its term indexes), keyed by the glossaries' versions too: a
        glossary changed over the API gets a new layer, and the old one ages out."""
        chosen = tuple(self.settings.default_glossary_names if names is None else names)
        glossaries = self.glossaries.resolve(chosen)  # unknown/broken: raises; managed: current version
        key = tuple((g.name, g.version) for g in glossaries)
        with self._layers_lock:
            layer = self._layers.get(key)
            if layer is not None:
                self._layers.move_to_end(key)
                return layer
        layer = TermLayer(glossaries, self.span_kinds)
        with self._layers_lock:
            layer = self._layers.setdefault(key, layer)
            while len(self._layers) > max(1, self.settings.glossary_layer_cache):
                self._layers.popitem(last=False)
        return layer

    @property
    def detector(self) -> LanguageDetector:
        if self._detector is None:  # the model takes a moment to load: only when first needed
            s = self.settings
            self._detector = LanguageDetector(s.source_prior, s.detect_min_confidence, s.detect_min_words,
                                              self.span_kinds, s.source_prior_weight)
        return self._detector

    def translate(self, request: TranslationRequest) -> TranslationResult:
        """One text. A problem with the request or the text raises; a target's problem is that target's error."""
        result = self.translate_many([request])[0]
        if result.error is not None:
            raise result.error
        return result

    def translate_many(self, requests: Sequence[TranslationRequest],
                       max_chars: int | None = None) -> list[TranslationResult]:
        """Several texts in one pass, one result per text in order. Per target, the distinct sentences of every
        text go to the engine together (one deduplication, shared length-sorted batches), and are put back
        into each text. A problem with the request (an unknown language, bad options, an unknown glossary)
        raises; a problem with one text (longer than ``max_chars``, the caller's own limit, or than
        ``max_document_chars``; language not detected) is that text's ``error``, set on each of its targets too.
        """
        checked = [self._check(request) for request in requests]  # request-level problems: raise before work
        texts = [self._prepare(request, targets, max_chars) for request, (targets, _) in zip(requests, checked,
                                                                                            strict=True)]
        results: list[TranslationResult | None] = [None] * len(texts)
        for i, (item, (targets, _)) in enumerate(zip(texts, checked, strict=True)):
            if item.error is not None:
                results[i] = TranslationResult(item.source, item.detected, [TargetResult(t, error=item.error)
                                                                            for t in targets], error=item.error,
                                               detection=item.detection)
        # one engine pass per (source, target, options, glossaries) over every text that needs it
        groups: dict[tuple, list[int]] = {}
        for i, (item, (targets, _)) in enumerate(zip(texts, checked, strict=True)):
            if results[i] is None:
                for target in targets:
                    key = (item.source, target, item.request.options, self._layer_key(item.request))
                    groups.setdefault(key, []).append(i)
        done: dict[tuple[int, str], TargetResult] = {}
        for (source, target, options, _), members in groups.items():
            layer = checked[members[0]][1]
            outcomes = self._translate_target([texts[i].pieces for i in members], source, target, options, layer,
                                              [texts[i].detection for i in members])
            for i, outcome in zip(members, outcomes, strict=True):
                done[(i, target)] = outcome
        for i, (item, (targets, layer)) in enumerate(zip(texts, checked, strict=True)):
            if results[i] is not None:
                continue
            result = TranslationResult(item.source, item.detected, [done[(i, t)] for t in targets],
                                       detection=item.detection)
            if item.request.summary is not None:
                try:
                    self._summaries(result, item.text, item.request.options, layer, item.request.summary)
                except Exception as exc:  # the summary's problem is this text's, not the other texts'
                    error = exc if isinstance(exc, ServiceError) else internal_error(exc, "summarising a text", log)
                    result = TranslationResult(item.source, item.detected, [TargetResult(t, error=error)
                                                                            for t in targets], error=error,
                                               detection=item.detection)
            results[i] = result
        return results  # type: ignore[return-value]

    def _layer_key(self, request: TranslationRequest) -> tuple[str, ...]:
        names = request.glossaries
        return tuple(self.settings.default_glossary_names if names is None else names)

    def _check(self, request: TranslationRequest) -> tuple[list[str], TermLayer]:
        """What is wrong with the request whatever its text: raises. Returns (targets, glossary layer)."""
        targets = languages.parse_list(list(request.targets))
        if not targets:
            raise InvalidInput("Give at least one target language.")
        options = request.options
        if options.beam_size < 1 or not 1 <= options.n_best <= max(options.beam_size, 1):
            raise InvalidInput("beam_size must be >= 1 and n_best between 1 and beam_size.")
        if request.source not in ("", "auto"):
            languages.normalize(request.source)
        layer = self.term_layer(request.glossaries)  # unknown or broken glossary: fail before any work
        if request.summary is not None:
            request.summary.validate()
        if request.layout is not None:
            layout.validate(request.layout)
        return targets, layer

    def _prepare(self, request: TranslationRequest, targets: list[str], max_chars: int | None) -> _Text:
        """Normalise, check the length, re-flow hard-wrapped lines, detect the language, split into pieces; a
        problem (empty, too long, language not detected) is the text's error."""
        detected = request.source in ("", "auto")
        item = _Text(request, detected=detected, source="und" if detected else languages.normalize(request.source))
        try:
            item.text = text = unicodedata.normalize("NFC", request.text)
            limit, setting = self.settings.max_document_chars, "max_document_chars"
            if max_chars is not None and max_chars < limit:
                limit, setting = max_chars, "max_text_chars"
            if len(text) > limit:
                hint = " (send larger documents as a batch job)" if setting == "max_document_chars" else ""
                raise InputTooLarge(f"The text has {len(text):,} characters; the limit is {limit:,}{hint}.",
                                    limit=limit, setting=setting)
            require_text(text)
            item.text = text = layout.unwrap(text, request.layout or self.settings.layout)
            if detected:
                item.detection = _settle_by_targets(self.detector.detect(text), targets)
                item.source = item.detection.language
            item.pieces = document.parse(text, item.source, self.segmenter)
        except ServiceError as exc:
            item.error = exc
        except Exception as exc:
            item.error = internal_error(exc, "preparing a text", log)
        return item

    def summarize(self, text: str, source: str, options: SummaryOptions) -> tuple[str, Summary]:
        """Summarise ``text`` in its own language (``source`` may be "auto"); returns (language, summary)."""
        options.validate()
        text = unicodedata.normalize("NFC", text)
        if len(text) > self.settings.max_document_chars:
            raise InputTooLarge(f"The text has {len(text):,} characters; the limit is "
                                f"{self.settings.max_document_chars:,}.", limit=self.settings.max_document_chars)
        require_text(text)
        text = layout.unwrap(text, self.settings.layout)
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
            translated = self._translate_target([document.parse(lines, result.source, self.segmenter)],
                                                result.source, target.target, options, layer)[0]
            if translated.error is not None:
                continue
            sentences = [s for s in (translated.text or "").split("\n") if s.strip()]
            target.summary = Summary(target.target, render(sentences, summary_options.style), source_summary.method,
                                     source_summary.model, sentences, list(source_summary.flags), mode="translate",
                                     terms=translated.terms)

    def _translate_target(self, texts: list[list[document.Piece]], source: str, target: str,
                          options: DecodeOptions, layer: TermLayer | None,
                          detections: Sequence[Detection | None] | None = None) -> list[TargetResult]:
        """One target for several texts (as pieces): one engine pass over their distinct sentences, then one
        result per text. Any failure is every one of these texts' error for this target, and nobody else's."""
        started = time.perf_counter()
        results = [TargetResult(target) for _ in texts]
        if source == target:  # each text says what was detected for it, and how to override it
            for result, detection in zip(results, detections or [None] * len(texts), strict=True):
                result.error = same_language(source, detection)
            return results
        try:
            texts = self._wholes(texts, source, target, options)
            per_text = [[p.text for p in pieces if p.translate] for pieces in texts]
            unique = list(dict.fromkeys(s for sentences in per_text for s in sentences))
            human = self._human(unique, source, target, options)
            rest = [s for s in unique if s not in human]
            engine = self.router.engine_for(source, target) if rest else None  # every sentence corrected: none
            done = self._translate_unique(engine, rest, source, target, options, layer) if engine else _Unique()
            for sentence, correction in human.items():  # exactly as a person wrote it; the terms still checked
                done.text[sentence] = _checked(correction.target, sentence, source, target, layer)
                done.tokens[sentence] = (0, 0)
            suggestions = self._suggestions(rest, source, target, options)
            total_tokens = sum(i for i, _ in done.tokens.values()) or 1
            for result, pieces, sentences in zip(results, texts, per_text, strict=True):
                own = list(dict.fromkeys(sentences))
                used = [s for s in own if s in human]
                result.engine, result.model = (engine.name, engine.model) if engine else ("memory", "human")
                result.origin = "engine" if not used else "memory:human" if len(used) == len(own) else "mixed"
                result.memory = [{"source": s, "id": human[s].id} for s in used]
                result.suggestions = [sg.to_dict() for s in own for sg in suggestions.get(s, ())]
                result.segments, result.unique_segments = len(sentences), len(own)
                result.sentences = [(s, done.text[s][0]) for s in own]
                result.text = "".join(done.text[p.text][0] if p.translate else p.text for p in pieces)
                result.flags = [flag for s in own for flag in done.flags.get(s, ())]
                result.alternatives = {s: done.alternatives[s] for s in own if s in done.alternatives}
                result.input_tokens = sum(done.tokens[s][0] for s in own)
                result.output_tokens = sum(done.tokens[s][1] for s in own)
                result.engine_seconds = done.engine_seconds * result.input_tokens / total_tokens  # its share
                if layer is not None:
                    report = _document_report(layer, pieces, done.text)
                    result.terms = report if layer.names or report.spans else None
        except Exception as exc:
            error = exc if isinstance(exc, ServiceError) else internal_error(exc, f"translating into {target}", log)
            results = [TargetResult(target, error=error) for _ in texts]
        elapsed = time.perf_counter() - started
        for result in results:
            result.seconds = elapsed  # until this target was ready (shared by the texts translated together)
        return results

    def _wholes(self, texts: list[list[document.Piece]], source: str, target: str,
                options: DecodeOptions) -> list[list[document.Piece]]:
        """Texts of several sentences whose whole has a human correction become one piece each (so that the
        correction, stored for the whole text, is found); the others are left as they are. One lookup for all."""
        if self.corrections is None or not options.use_memory:
            return texts
        cores = {i: "".join(p.text for p in pieces).strip() for i, pieces in enumerate(texts)
                 if sum(p.translate for p in pieces) > 1}
        found = self.corrections.exact(source, target, list(dict.fromkeys(cores.values()))) if cores else {}
        out = list(texts)
        for i, core in cores.items():
            if core in found:
                whole = "".join(p.text for p in texts[i])
                start = whole.index(core)
                out[i] = [p for p in (document.Piece(whole[:start], False), document.Piece(core, True),
                                      document.Piece(whole[start + len(core):], False)) if p.text]
        return out

    def _human(self, sentences: list[str], source: str, target: str, options: DecodeOptions) -> dict[str, Correction]:
        """sentence -> its approved human correction (none when corrections are off or the database is away)."""
        if self.corrections is None or not options.use_memory or not sentences:
            return {}
        return self.corrections.exact(source, target, sentences)

    def _suggestions(self, sentences: list[str], source: str, target: str, options: DecodeOptions) -> dict:
        """sentence -> its pending human correction (waiting for approval), then similar corrections: offered,
        never substituted."""
        s = self.settings
        if self.corrections is None or not options.use_memory or not sentences:
            return {}
        out = self.corrections.pending(source, target, sentences)
        if s.memory_fuzzy_threshold <= 0:
            return out
        for sentence, similar in self.corrections.fuzzy(source, target, sentences, s.memory_fuzzy_threshold,
                                                        s.memory_fuzzy_candidates).items():
            ids = {sg.correction.id for sg in out.get(sentence, ())}
            out[sentence] = out.get(sentence, []) + [sg for sg in similar if sg.correction.id not in ids]
        return out

    def _translate_unique(self, engine: Engine, unique: list[str], source: str, target: str,
                          options: DecodeOptions, layer: TermLayer | None) -> _Unique:
        """Translate distinct sentences (with their terms protected); over-long ones are split, translated
        in parts and flagged. Returns, per sentence, the translation with its term checks (sentence offsets),
        its flag, its alternatives and its tokens."""
        joiner = "" if languages.get(target).no_spaces else " "
        out = _Unique()

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
                out.flags.setdefault(sentence, []).append(
                    {"flag": "split", "segment": sentence[:80], "parts": len(parts), "tokens": n,
                     "limit": engine.max_input_tokens})
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
        done, out.engine_seconds = self._run_batches(engine, lengths, source, target, engine_options)

        for sentence in unique:
            prot = protected[sentence]
            chosen = []
            for part in parts_of[sentence]:
                hyps = [h.text for h in done[part].hypotheses]
                placeholders = prot.slots and not instructed
                chosen.append(TermLayer.choose(hyps, prot.placeholders_in(part)) if placeholders else hyps[0])
            joined = joiner.join(chosen)
            if layer is None:
                out.text[sentence] = (joined, [])
            else:
                out.text[sentence] = (layer.verify(joined, prot, target) if instructed
                                      else layer.restore(joined, prot, target))
            repaired = sum(c.kind == "tag" for c in out.text[sentence][1])
            if repaired:  # the engine lost inline tags; they were put back by position
                out.flags.setdefault(sentence, []).append({"flag": "tags_repaired", "segment": sentence[:80],
                                                           "tags": repaired})
            out.tokens[sentence] = (sum(done[p].input_tokens for p in parts_of[sentence]),
                                    sum(done[p].output_tokens for p in parts_of[sentence]))
            for part in parts_of[sentence]:  # the engine's post-checks (LLM engines)
                for flag in done[part].metadata.get("flags") or ():
                    out.flags.setdefault(sentence, []).append({**flag, "segment": sentence[:80]})
            if options.n_best > 1 and len(parts_of[sentence]) == 1:
                hyps = [h.text for h in done[parts_of[sentence][0]].hypotheses][: options.n_best]
                out.alternatives[sentence] = [layer.restore(h, prot, target)[0] if layer and not instructed else h
                                              for h in hyps]
        return out

    def _run_batches(self, engine: Engine, lengths: dict[str, int], source: str, target: str,
                     options: DecodeOptions) -> tuple[dict[str, SegmentTranslation], float]:
        """Length-sorted batches whose padded size (longest x count) stays under ``max_batch_tokens``.
        Returns the translations and the seconds spent in the engine."""
        budget = self.settings.max_batch_tokens
        ordered = sorted(lengths, key=lambda s: lengths[s])
        batches: list[list[str]] = []
        for s in ordered:
            if batches and lengths[s] * (len(batches[-1]) + 1) <= budget:
                batches[-1].append(s)
            else:
                batches.append([s])
        out: dict[str, SegmentTranslation] = {}
        seconds = 0.0
        for batch in batches:
            t0 = time.perf_counter()
            translations = engine.translate(batch, source, target, options)
            seconds += time.perf_counter() - t0
            out.update(zip(batch, translations, strict=True))
        return out, seconds


def _document_report(layer: TermLayer, pieces: list[document.Piece],
                     translated: dict[str, tuple[str, list[TermCheck]]]) -> TermReport:
    """Per-sentence checks -> one report with offsets into the whole source document."""
    report = TermReport(layer.names, layer.versions)
    offset = 0
    for piece in pieces:
        if piece.translate:
            for check in translated[piece.text][1]:
                report.add(replace(check, start=check.start + offset, end=check.end + offset))
        offset += len(piece.text)
    return report


def _checked(text: str, sentence: str, source: str, target: str,
             layer: TermLayer | None) -> tuple[str, list[TermCheck]]:
    """A human correction with its term checks (its terms and protected spans verified, never changed)."""
    if layer is None:
        return text, []
    _, checks = layer.verify(text, layer.instruct(sentence, source, target), target)
    return text, [replace(c, method="memory") if c.present else c for c in checks]


def require_text(text: str) -> None:
    if not text.strip():
        raise EmptyText("The text is empty: give some text to work on.")


def _settle_by_targets(detection: Detection, targets: list[str]) -> Detection:
    """An uncertain call between a target and another language is settled for the other: nobody asks for a
    translation into the language the text is already in ("Saya pergi ke pasar." to Malay is Indonesian)."""
    if not detection.uncertain or detection.language not in targets:
        return detection
    other = next((c for c in detection.candidates if c.language != detection.language), None)
    if other is None or other.language in targets:
        return detection
    return replace(detection, language=other.language, confidence=other.confidence, by="target")


def same_language(source: str, detection: Detection | None) -> UnsupportedPair:
    """The error for a target that is the source language, saying what was detected and how to override it."""
    name = languages.get(source).name
    if detection is None:
        return UnsupportedPair(f"The source and target are both {name} ({source}); choose another target.",
                               source=source, target=source)
    return UnsupportedPair(
        f"The text was detected as {detection.describe()}, the same as the target {name}; if it is in another "
        f"language, give the source language (From in the web form, --from id on the command line, "
        f"\"source\": \"id\" in the API).",
        source=source, target=source, detection=detection.to_dict())
