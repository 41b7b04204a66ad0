"""Language detection for ``--from auto``.

Thai, Khmer, Lao and Burmese each have a script of their own, so they are told by script. Among the
Latin-script languages (Indonesian, Malay, English, Vietnamese, Filipino) ``lingua`` decides; it ships its
own models and tells Indonesian from Malay on full sentences.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from service.errors import DetectionFailed

#: Unicode script name prefix (from unicodedata.name) -> language.
_SCRIPTS = {"THAI": "th", "KHMER": "km", "LAO": "lo", "MYANMAR": "my"}


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float


class LanguageDetector:
    def __init__(self) -> None:
        from lingua import Language, LanguageDetectorBuilder

        self._codes = {Language.INDONESIAN: "id", Language.MALAY: "ms", Language.ENGLISH: "en",
                       Language.VIETNAMESE: "vi", Language.TAGALOG: "tl"}
        self._lingua = LanguageDetectorBuilder.from_languages(*self._codes).build()

    def detect(self, text: str) -> Detection:
        letters = [c for c in text if c.isalpha()]
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
            if n / len(letters) > 0.5:
                return Detection(code, n / len(letters))
        values = self._lingua.compute_language_confidence_values(text[:5000])
        if not values or values[0].value == 0:
            raise DetectionFailed("Could not detect the source language; give it explicitly.")
        return Detection(self._codes[values[0].language], float(values[0].value))
