"""Find glossary terms in source text: longest match first, overlaps resolved, per-entry case rules,
Unicode NFC, word boundaries for scripts written with spaces (character level for Thai, Khmer, Lao, Burmese)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from service import languages
from service.terminology.glossary import Entry, Glossary


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    text: str
    entry: Entry


def _alternation(variants: list[str]) -> str:
    # Longest first, so the alternation prefers the longest variant at any one position.
    return "|".join(regex.escape(v) for v in sorted(set(variants), key=lambda v: (-len(v), v)))


def bounded(body: str, no_spaces: bool) -> str:
    """``body`` as a whole word: not glued to letters/digits on either side (unless the script has no spaces)."""
    return f"(?:{body})" if no_spaces else rf"(?<![\w])(?:{body})(?![\w])"


class TermMatcher:
    """The terms of some glossaries for one language pair. Later glossaries win over earlier ones.

    With a ``target``, only entries that say something about it (a form there, or do-not-translate) take
    part, so an entry without a rendering never hides a shorter term that has one."""

    def __init__(self, glossaries: Sequence[Glossary], source: str, target: str | None = None):
        self.source = source
        by_variant: dict[tuple[bool, str], tuple[str, Entry]] = {}
        for glossary in glossaries:
            for entry in glossary.entries:
                if target is not None and not entry.dnt and target not in entry.forms:
                    continue
                for variant in entry.forms.get(source, ()):
                    key = (entry.case_sensitive, variant if entry.case_sensitive else variant.casefold())
                    by_variant[key] = (variant, entry)
        self._entries = {(cs, k): e for (cs, k), (_, e) in by_variant.items()}
        no_spaces = languages.get(source).no_spaces
        self._patterns = []
        for sensitive in (True, False):
            variants = [v for (cs, _), (v, _) in by_variant.items() if cs == sensitive]
            if variants:
                flags = regex.V1 if sensitive else regex.V1 | regex.IGNORECASE | regex.FULLCASE
                self._patterns.append((sensitive, regex.compile(bounded(_alternation(variants), no_spaces), flags)))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def find(self, text: str) -> list[Match]:
        """Non-overlapping matches in text order; where candidates overlap the longest wins."""
        text = unicodedata.normalize("NFC", text)
        candidates: list[Match] = []
        for sensitive, pattern in self._patterns:
            for m in pattern.finditer(text, overlapped=True):
                key = (sensitive, m.group() if sensitive else m.group().casefold())
                entry = self._entries.get(key)
                if entry is not None:
                    candidates.append(Match(m.start(), m.end(), m.group(), entry))
        chosen: list[Match] = []
        for cand in sorted(candidates, key=lambda c: (-(c.end - c.start), c.start)):
            if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
                chosen.append(cand)
        return sorted(chosen, key=lambda c: c.start)
