"""Find glossary terms in source text: longest match first, overlaps resolved, per-entry case rules,
Unicode NFC, word boundaries for scripts written with spaces (character level for Thai, Khmer, Lao, Burmese).

One :class:`TermIndex` per source language and set of glossaries serves every target language: an Aho-Corasick
automaton (``pyahocorasick``) over the case-folded forms finds every candidate in one pass over the text,
whatever the glossary's size (100,000 entries: ~1 s to build, a few milliseconds per article:
``bench/results/glossary-scale.md``). Then, per candidate:

- offsets are mapped back from the case-folded text to the text (folding may change lengths: "ß" -> "ss"; a
  match that starts or ends inside one character's folding is no match);
- case-sensitive forms must equal the text exactly, case-insensitive ones match in any case;
- scripts with spaces need word boundaries (no letter, digit or mark glued on either side);
- of the entries that share a form, the first usable one wins: case-sensitive before insensitive, a later
  glossary before an earlier one, and only an entry that says something about the target (a form there, or
  do-not-translate), so an entry without a rendering never hides a shorter term that has one;
- the longest candidates are taken first (then the leftmost), and a candidate overlapping one already taken
  is dropped.
"""

from __future__ import annotations

import unicodedata
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick
import regex

from service import languages
from service.terminology.glossary import Entry, Glossary, gc_paused

#: Runs of characters that count as part of a word (what ``\w`` means in :func:`bounded`).
_WORDS = regex.compile(r"\w+", regex.V1)

#: The candidates of one case-folded form, in the order they are tried: (case sensitive, the form as written,
#: the entries that have it, later glossaries first).
Candidates = tuple[tuple[bool, str, tuple[Entry, ...]], ...]


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    text: str
    entry: Entry


def bounded(body: str, no_spaces: bool) -> str:
    """``body`` as a whole word: not glued to letters/digits on either side (unless the script has no spaces)."""
    return f"(?:{body})" if no_spaces else rf"(?<![\w])(?:{body})(?![\w])"


def _fold(text: str) -> tuple[str, list[int] | None, bytearray | None]:
    """The case-folded text and, when folding changed any length, per folded character: the index of the
    character it comes from, and 1 where that character's folding starts / 2 where it ends (both: 3)."""
    folded = text.casefold()
    if len(folded) == len(text):  # no character folded to several (casefold never folds to nothing)
        return folded, None, None
    origin: list[int] = []
    edges = bytearray()
    for i, ch in enumerate(text):
        f = ch.casefold()
        origin.extend([i] * len(f))
        if len(f) == 1:
            edges.append(3)
        else:
            edges.extend([1, *[0] * (len(f) - 2), 2])
    return folded, origin, edges


class TermIndex:
    """Every source form of some glossaries (later ones win) in one source language; serves every target."""

    def __init__(self, glossaries: Sequence[Glossary], source: str):
        with gc_paused():
            self._build(glossaries, source)

    def _build(self, glossaries: Sequence[Glossary], source: str) -> None:
        self.source = source
        self.no_spaces = languages.get(source).no_spaces
        found: dict[str, Any] = {}  # case-folded form -> its (first) candidate, or a list of them
        many: set[str] = set()
        for glossary in glossaries:
            for entry in glossary.entries:
                forms = entry.forms.get(source)
                if entry.deprecated:
                    forms = entry.source_forms(source)
                if not forms:
                    continue
                sensitive = entry.case_sensitive
                for form in forms:
                    key = form.casefold()
                    item = (sensitive, form, entry)
                    same = found.get(key)
                    if same is None:
                        found[key] = item
                    elif key in many:
                        same.append(item)
                    else:
                        found[key] = [same, item]
                        many.add(key)
        self.size = len(found)
        # The automaton holds a number per form (no Python object: 1,000,000 forms build in seconds); that number
        # indexes the form's length and its candidates: the entry itself for the usual single case-insensitive
        # one, else the tuple of candidates in the order they are tried.
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS, ahocorasick.KEY_STRING)
        self._lengths = array("I")
        self._candidates: list[Entry | Candidates] = []
        add, lengths, candidates = self._automaton.add_word, self._lengths, self._candidates
        for number, (key, item) in enumerate(found.items()):
            add(key, number)
            lengths.append(len(key))
            if key in many:
                candidates.append(_candidates(item))
            elif item[0]:  # one case-sensitive form
                candidates.append(((True, item[1], (item[2],)),))
            else:
                candidates.append(item[2])
        if found:
            self._automaton.make_automaton()

    def __bool__(self) -> bool:
        return self.size > 0

    def find(self, text: str, target: str | None = None) -> list[Match]:
        """Non-overlapping matches in text order; where candidates overlap the longest wins. With a ``target``,
        only entries that say something about it take part."""
        if not self.size or not text:
            return []
        text = unicodedata.normalize("NFC", text)
        folded, origin, edges = _fold(text)
        n = len(text)
        word = None
        if not self.no_spaces:  # word[i]: text[i] is part of a word (no term may start or end glued to one)
            word = bytearray(n + 2)
            for m in _WORDS.finditer(text):
                word[m.start() + 1:m.end() + 1] = b"\x01" * (m.end() - m.start())
        found: list[tuple[int, int, Entry]] = []
        lengths, all_candidates = self._lengths, self._candidates
        for last, number in self._automaton.iter(folded):
            first = last - lengths[number] + 1
            if origin is None:
                start, end = first, last + 1
            else:
                assert edges is not None
                if not edges[first] & 1 or not edges[last] & 2:
                    continue  # starts or ends inside one character's folding
                start, end = origin[first], origin[last] + 1
            if word is not None and (word[start] or word[end + 1]):  # the characters before and after
                continue
            candidates = all_candidates[number]
            if type(candidates) is Entry:
                entry = candidates if target is None or candidates.dnt or target in candidates.forms else None
            else:
                entry = _choose(candidates, text, start, end, target)  # type: ignore[arg-type]
            if entry is not None:
                found.append((start, end, entry))
        if not found:
            return []
        found.sort(key=lambda c: (c[0] - c[1], c[0]))  # longest first, then leftmost
        taken = bytearray(n)
        chosen: list[Match] = []
        for start, end, entry in found:
            if taken.find(1, start, end) == -1:
                taken[start:end] = b"\x01" * (end - start)
                chosen.append(Match(start, end, text[start:end], entry))
        chosen.sort(key=lambda m: m.start)
        return chosen


def _candidates(items: list[tuple[bool, str, Entry]]) -> Candidates:
    """Group by (sensitive, form); order: case-sensitive first, later glossaries (and later rows) first."""
    grouped: dict[tuple[bool, str], list[Entry]] = {}
    for sensitive, form, entry in reversed(items):
        grouped.setdefault((sensitive, form if sensitive else ""), []).append(entry)
    ordered = sorted(grouped.items(), key=lambda kv: not kv[0][0])  # stable: keeps later-first within each
    return tuple((sensitive, form, tuple(entries)) for (sensitive, form), entries in ordered)


def _choose(candidates: Candidates, text: str, start: int, end: int, target: str | None) -> Entry | None:
    for sensitive, form, entries in candidates:
        if sensitive and text[start:end] != form:
            continue
        for entry in entries:
            if target is None or entry.dnt or target in entry.forms:
                return entry
    return None


class TermMatcher:
    """The terms of some glossaries for one language pair (an index bound to a target). With a ``target``,
    only entries that say something about it (a form there, or do-not-translate) take part."""

    def __init__(self, glossaries: Sequence[Glossary] = (), source: str = "", target: str | None = None,
                 index: TermIndex | None = None):
        self.index = index if index is not None else TermIndex(glossaries, source)
        self.source = self.index.source
        self.target = target

    def __bool__(self) -> bool:
        return bool(self.index)

    def find(self, text: str) -> list[Match]:
        return self.index.find(text, self.target)
