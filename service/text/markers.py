"""Inline markup inside a text, as marker characters: the format-blind way documents reach the pipeline.

A document adapter (``service.documents``) turns each inline tag of a translatable unit (``<b>``, ``</a>``, a Word
run's formatting, a Markdown ``**``, an XLIFF ``<x/>``...) into one character of Unicode's private use areas. The
pipeline treats a run of markers as a protected span of kind ``tag``: it is replaced by a placeholder like a
do-not-translate term, so every engine carries it, and it comes back in place; glossary terms are matched on the
text without its markers, so a term with a link inside it is still found. The adapter then maps each marker back
to its markup. Markers are numbered per unit, so identical units share their translation (and the memory).
"""

from __future__ import annotations

import regex

#: 6,400 markers in the Basic Multilingual Plane's private use area, then 65,534 in plane 15's.
_BMP_FIRST, _BMP_COUNT = 0xE000, 6400
_PLANE15_FIRST, _PLANE15_COUNT = 0xF0000, 65534
MAX_MARKERS = _BMP_COUNT + _PLANE15_COUNT
#: A character class matching one marker (for use inside other patterns).
CLASS = r"[\uE000-\uF8FF\U000F0000-\U000FFFFD]"
_MARKER = regex.compile(CLASS)
_RUN = regex.compile(CLASS + "+")


def marker(index: int) -> str:
    """The marker character for the ``index``-th tag of a unit."""
    if index < _BMP_COUNT:
        return chr(_BMP_FIRST + index)
    if index < MAX_MARKERS:
        return chr(_PLANE15_FIRST + index - _BMP_COUNT)
    raise ValueError(f"more than {MAX_MARKERS} inline tags in one unit")


def index(char: str) -> int:
    """The tag number of a marker character (inverse of :func:`marker`)."""
    code = ord(char)
    return code - _BMP_FIRST if code < _PLANE15_FIRST else code - _PLANE15_FIRST + _BMP_COUNT


def is_marker(char: str) -> bool:
    return len(char) == 1 and _MARKER.match(char) is not None


def has_markers(text: str) -> bool:
    return _MARKER.search(text) is not None


def strip(text: str) -> str:
    """``text`` without its markers."""
    return _MARKER.sub("", text)


def strip_with_map(text: str) -> tuple[str, list[int]]:
    """``text`` without markers, and for each of its characters (plus one past the end) the offset in ``text``."""
    plain, where = [], []
    for i, ch in enumerate(text):
        if not _MARKER.match(ch):
            plain.append(ch)
            where.append(i)
    where.append(len(text))
    return "".join(plain), where


def runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each run of adjacent markers."""
    return [(m.start(), m.end()) for m in _RUN.finditer(text)]


_EDGE_LEAD = regex.compile(r"^(?:\s*" + CLASS + r")+\s*")
_EDGE_TAIL = regex.compile(r"\s*(?:" + CLASS + r"\s*)+$")


def peel(sentence: str) -> tuple[str, str, str]:
    """(leading markers, the sentence, trailing markers): markers at a sentence's edges need no engine, so they
    stay outside it (with the whitespace around them)."""
    lead = _EDGE_LEAD.match(sentence)
    head = lead.group(0) if lead else ""
    rest = sentence[len(head):]
    tail_match = _EDGE_TAIL.search(rest)
    tail = tail_match.group(0) if tail_match and rest else ""
    return head, rest[: len(rest) - len(tail)], tail
