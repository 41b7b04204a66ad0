"""Language detection for ``--from auto``.

Thai, Khmer, Lao and Burmese each have a script of their own, so they are told by script. Among the
Latin-script languages (Indonesian, Malay, English, Filipino, Vietnamese) a small naive Bayes model decides
(``service.text.langmodel``: word frequencies with a character model for unseen words, built by
``scripts/build_detector.py``; figures in ``bench/results/detect.md``), and a pair model trained to tell
Indonesian from Malay re-splits their share. URLs, addresses, mentions, numbers and the like are left out first:
they are no evidence of a language.

The ``source_prior`` (this service's usual source, Indonesian) is ``prior_weight`` times likelier a priori than
any other language, so a close call goes to it. A call is *uncertain* when the most likely language (prior
included) has less than ``min_confidence`` probability, or the text has fewer than ``min_words`` words: then
the two candidates are reported with the language used, and callers can say so.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import regex

from service import languages
from service.errors import DetectionFailed
from service.text import langmodel, spans

#: Unicode script name prefix (from unicodedata.name) -> language.
_SCRIPTS = {"THAI": "th", "KHMER": "km", "LAO": "lo", "MYANMAR": "my"}
#: Share of the letters in a script of its own that makes a text that language: Khmer or Burmese science text
#: carries many Latin terms ("SARS-CoV-2", "aminopeptidase N"), a Latin text seldom a Thai word.
SCRIPT_SHARE = 0.3
_QUOTED = regex.compile(r"“[^”]*”|\"[^\"]*\"|«[^»]*»")
#: Words read at most: detection of a long document needs no more, and the bound keeps it fast.
MAX_WORDS = 2000


@dataclass(frozen=True)
class Candidate:
    language: str
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {"language": self.language, "name": languages.get(self.language).name,
                "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Detection:
    #: the language to use: the most likely one, the source prior counted
    language: str
    #: the probability of ``language``
    confidence: float
    uncertain: bool = False
    #: the most likely languages (two at most), most likely first
    candidates: tuple[Candidate, ...] = field(default=())
    #: how it was decided: "script", "model", "source_prior" (the prior turned a close call), or "target" (an
    #: uncertain call between a requested target and another language, settled for the other)
    by: str = "model"
    words: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"language": "uncertain" if self.uncertain else self.language,
                "name": None if self.uncertain else languages.get(self.language).name,
                "confidence": round(self.confidence, 4), "uncertain": self.uncertain, "used": self.language,
                "by": self.by, "candidates": [c.to_dict() for c in self.candidates]}

    def describe(self) -> str:
        """One phrase for messages: 'Malay (97% sure)' or 'uncertain: Indonesian 55% or Malay 45%'."""
        if self.uncertain and len(self.candidates) > 1:
            return "uncertain: " + " or ".join(f"{languages.get(c.language).name} {c.confidence:.0%}"
                                               for c in self.candidates)
        return f"{languages.get(self.language).name} ({self.confidence:.0%} sure)"


class LanguageDetector:
    def __init__(self, source_prior: str = "id", min_confidence: float = 0.9, min_words: int = 5,
                 span_kinds: tuple[str, ...] = spans.KINDS, prior_weight: float = 1.5):
        self.source_prior = languages.normalize(source_prior) if source_prior else ""
        self.prior_weight = prior_weight
        self.min_confidence = min_confidence
        self.min_words = min_words
        self.span_kinds = span_kinds
        self.models = langmodel.load()

    def detect(self, text: str) -> Detection:
        text = spans.strip(text, self.span_kinds)
        letters = [c for c in text if c.isalpha() or unicodedata.category(c).startswith("M")]  # vowel signs too
        if not letters:
            raise DetectionFailed("Cannot detect the language of a text without letters; give the source language.")
        counts: dict[str, int] = {}
        for c in letters:
            name = unicodedata.name(c, "")
            for prefix, code in _SCRIPTS.items():
                if name.startswith(prefix):
                    counts[code] = counts.get(code, 0) + 1
        if counts:
            code, n = max(counts.items(), key=lambda kv: kv[1])
            if n / len(letters) >= SCRIPT_SHARE:  # among these nine languages the script alone names it
                return Detection(code, 1.0, False, (Candidate(code, 1.0),), "script", len(text.split()))
        words = langmodel.words(text)[:MAX_WORDS]
        unquoted = langmodel.words(_QUOTED.sub(" ", text))[:MAX_WORDS]
        if len(unquoted) >= self.min_words:  # a quoted title is often in another language ("tema “Fostering...”")
            words = unquoted
        plain = self.models.posteriors(words)
        posteriors = dict(plain)
        if self.source_prior in posteriors:  # the prior: this language is prior_weight times likelier a priori
            posteriors[self.source_prior] *= self.prior_weight
            total = sum(posteriors.values())
            posteriors = {lang: p / total for lang, p in posteriors.items()}
        ranked = sorted(posteriors.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
        candidates = tuple(Candidate(lang, p) for lang, p in ranked)
        best = candidates[0]
        uncertain = best.confidence < self.min_confidence or len(words) < self.min_words
        by = "source_prior" if best.language != max(plain, key=plain.__getitem__) else "model"
        return Detection(best.language, best.confidence, uncertain, candidates, by, len(words))
