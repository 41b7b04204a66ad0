"""Sentence segmentation: ``sentencex`` (a maintained, rule-based multilingual segmenter) with an
abbreviation repair for Indonesian and Malay, where it ends sentences after ``dll.``, ``Jl.`` and the like.

Segments keep their trailing whitespace, so joining them gives back the input exactly.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from sentencex import segment as _sentencex

_ABBREVIATIONS_FILE = Path(__file__).with_name("abbreviations.toml")
_LAST_WORD = re.compile(r"(\S+)\.\s*$")


def _split_keep(pattern: re.Pattern[str], text: str) -> list[str]:
    """Split after each match of ``pattern``, keeping the matched whitespace with the left part."""
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(text[last:m.end()])
        last = m.end()
    out.append(text[last:])
    return [p for p in out if p]


class Segmenter:
    def __init__(self, abbreviations_file: Path = _ABBREVIATIONS_FILE):
        data = tomllib.loads(abbreviations_file.read_text(encoding="utf-8"))
        self._always = {lang: set(v.get("always", [])) for lang, v in data.items()}
        self._before_lower = {lang: set(v.get("before_lowercase", [])) for lang, v in data.items()}
        self._terminators = {lang: re.compile("(?<=[" + re.escape("".join(v["terminators"])) + r"])(?=\s*\S)\s*")
                             for lang, v in data.items() if v.get("terminators")}

    def _continues(self, lang: str, sentence: str, following: str) -> bool:
        match = _LAST_WORD.search(sentence)
        if not match:
            return False
        word = match.group(1).lstrip("([\"'“")
        if word in self._always.get(lang, ()):
            return True
        nxt = following.lstrip()[:1]
        return word in self._before_lower.get(lang, ()) and bool(nxt) and not nxt.isupper()

    def split(self, text: str, lang: str) -> list[str]:
        """Sentences of one line of text; ``"".join(result) == text``."""
        if not text.strip():
            return [text] if text else []
        parts = [p for p in _sentencex(lang, text) if p]
        if lang in self._terminators:
            parts = [piece for p in parts for piece in _split_keep(self._terminators[lang], p)]
        merged: list[str] = []
        for part in parts:
            if merged and self._continues(lang, merged[-1], part):
                merged[-1] += part
            else:
                merged.append(part)
        if "".join(merged) != text:  # never lose characters, whatever the library does
            return [text]
        return merged
