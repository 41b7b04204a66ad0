"""A document as a flat list of pieces: sentences to translate and the layout between them.

Every line is its own block (headings, list items and paragraphs keep their place); blank lines,
indentation and the spaces between sentences are kept verbatim, so ``"".join(piece.text)`` is the input
and a translation is reassembled by replacing the sentences alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import regex

from service.text import markers
from service.text.segment import Segmenter

_TRAILING_SPACE = re.compile(r"\s*$")
_LEADING_SPACE = re.compile(r"^\s*")
_GRAPHEME = regex.compile(r"\X", regex.V1)


@dataclass(frozen=True)
class Piece:
    text: str
    translate: bool  # False for layout (whitespace, line breaks)


def parse(text: str, lang: str, segmenter: Segmenter) -> list[Piece]:
    pieces: list[Piece] = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        lead = _LEADING_SPACE.match(body).group(0)  # type: ignore[union-attr]
        if lead:
            pieces.append(Piece(lead, False))
        for sentence in segmenter.split(body[len(lead):], lang):
            tail = _TRAILING_SPACE.search(sentence).group(0)  # type: ignore[union-attr]
            core = sentence[: len(sentence) - len(tail)]
            head, core, end = markers.peel(core) if markers.has_markers(core) else ("", core, "")
            if head:  # inline tags at a sentence's edges need no engine
                pieces.append(Piece(head, False))
            if core:
                pieces.append(Piece(core, True))
            if end:
                pieces.append(Piece(end, False))
            if tail:
                pieces.append(Piece(tail, False))
        if ending:
            pieces.append(Piece(ending, False))
    return pieces


def split_long(text: str, limit: int, count) -> list[str]:  # count: Callable[[str], int]
    """Split ``text`` into parts of at most ``limit`` tokens, at the safest points available:
    after clause punctuation, then between words, then (scripts without spaces) between grapheme clusters."""
    if count(text) <= limit:
        return [text]
    for pattern in (r"(?<=[;:,])\s+", r"\s+"):
        words = [w for w in re.split(pattern, text) if w]
        if len(words) > 1:
            parts: list[str] = []
            current = ""
            for word in words:
                trial = f"{current} {word}" if current else word
                if current and count(trial) > limit:
                    parts.append(current)
                    current = word
                else:
                    current = trial
            parts.append(current)
            if len(parts) > 1:
                return [p for part in parts for p in split_long(part, limit, count)]
    clusters = _GRAPHEME.findall(text)  # never cut a character cluster (a Khmer consonant and its signs) apart
    if len(clusters) <= 1:
        return [text]
    middle = sum(len(c) for c in clusters[: len(clusters) // 2])
    return split_long(text[:middle], limit, count) + split_long(text[middle:], limit, count)
