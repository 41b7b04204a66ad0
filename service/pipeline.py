"""The one road from every front end to the engines.

    request -> normalise -> detect source -> split into lines and sentences -> dedupe
            -> split over-long sentences (flagged) -> length-sorted batches under a token budget
            -> engine -> reassemble in the original layout -> result per target

This is the only module that composes the parts. Nothing here knows about a command line, HTTP or jobs,
and nothing here knows which engine it talks to.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from service import languages
from service.config import Settings
from service.engines.base import DecodeOptions, Engine, SegmentTranslation
from service.engines.router import EngineRouter
from service.errors import InputTooLarge, InvalidInput, ServiceError, UnsupportedPair
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

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class TranslationResult:
    source: str
    detected: bool
    results: list[TargetResult]

    def for_target(self, target: str) -> TargetResult:
        return next(r for r in self.results if r.target == target)


class Pipeline:
    def __init__(self, settings: Settings, router: EngineRouter, segmenter: Segmenter | None = None,
                 detector: LanguageDetector | None = None):
        self.settings = settings
        self.router = router
        self.segmenter = segmenter or Segmenter()
        self._detector = detector

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
        detected = request.source in ("", "auto")
        if not text.strip():
            source = "und" if detected else languages.normalize(request.source)
            return TranslationResult(source, detected, [TargetResult(t, text=text) for t in targets])
        source = self.detector.detect(text).language if detected else languages.normalize(request.source)
        pieces = document.parse(text, source, self.segmenter)
        return TranslationResult(source, detected, [self._translate_target(pieces, source, t, options)
                                                    for t in targets])

    def _translate_target(self, pieces: list[document.Piece], source: str, target: str,
                          options: DecodeOptions) -> TargetResult:
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
            translated = self._translate_unique(engine, unique, source, target, options, result)
            result.text = "".join(translated[p.text] if p.translate else p.text for p in pieces)
        except ServiceError as exc:
            result.error = exc
        result.seconds = time.perf_counter() - started
        return result

    def _translate_unique(self, engine: Engine, unique: list[str], source: str, target: str,
                          options: DecodeOptions, result: TargetResult) -> dict[str, str]:
        """Translate distinct sentences; over-long ones are split, translated in parts and flagged."""
        joiner = "" if languages.get(target).no_spaces else " "

        def count(s: str) -> int:
            return engine.count_tokens(s, source, target)

        parts_of: dict[str, list[str]] = {}
        lengths: dict[str, int] = {}
        for sentence in unique:
            n = count(sentence)
            if n > engine.max_input_tokens:
                parts = document.split_long(sentence, engine.max_input_tokens, count)
                result.flags.append({"flag": "split", "segment": sentence[:80], "parts": len(parts),
                                     "tokens": n, "limit": engine.max_input_tokens})
                parts_of[sentence] = parts
                for part in parts:
                    lengths[part] = count(part)
            else:
                parts_of[sentence] = [sentence]
                lengths[sentence] = n
        done = self._run_batches(engine, lengths, source, target, options, result)
        if options.n_best > 1:
            result.alternatives = {s: [h.text for h in done[s].hypotheses] for s in unique if s in done}
        return {s: joiner.join(done[p].text for p in parts_of[s]) for s in unique}

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
        return out
