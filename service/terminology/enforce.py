"""Glossary enforcement around any engine: protect, translate, restore, verify, report.

1. **Protect**: each matched source term is replaced by a placeholder ``ZXQ<n>``: a capitalised nonsense
   token with no meaning in any of the languages, which SentencePiece splits into pieces that neural models copy
   like a product code, and which Apertium passes through untouched as an unknown word. Terms without a form in
   the target language (and not do-not-translate) are left to the engine.
2. **Choose**: when the engine returns n-best hypotheses, the first one that kept every placeholder wins.
3. **Restore**: placeholders become the glossary's target form (the source text itself for do-not-translate
   terms), in place, adding no spaces (Thai, Khmer, Lao and Burmese have none between words). Placeholder
   look-alikes the engine invented are removed: no placeholder ever reaches the output.
4. **Verify**: every term is checked in the final text (whole words for scripts with spaces, characters for
   the others). A placeholder the engine dropped is reported ``missing`` unless the engine wrote the required
   form itself (``engine``).

For engines that follow instructions instead of copying placeholders (LLMs: ``term_handling ==
"instructions"``), :meth:`TermLayer.instruct` finds the same terms without touching the text; the engine is
given the required forms, and :meth:`TermLayer.verify` reports each term ``instructed`` (present) or
``missing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from service import languages
from service.terminology.glossary import Glossary
from service.terminology.matcher import Match, TermMatcher, bounded

PLACEHOLDER = "ZXQ{}"
#: Tolerant of what engines do to a placeholder: lower-casing it, spacing its letters, gluing it to the
#: letters of a script without spaces (so only Latin letters and digits may not touch it).
_PLACEHOLDER_RE = regex.compile(r"(?<![A-Za-z0-9])Z\s?X\s?Q\s?(\d+)(?![0-9])", regex.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    placeholder: str
    match: Match
    required: str


@dataclass(frozen=True)
class Protected:
    text: str  # the sentence with placeholders, as sent to the engine
    slots: tuple[Slot, ...] = ()

    def placeholders_in(self, part: str) -> list[str]:
        return [s.placeholder for s in self.slots if s.placeholder in part]


@dataclass(frozen=True)
class TermCheck:
    term: str  # the entry's name (its first form)
    source: str  # the text matched in the source
    start: int  # offsets of ``source`` in the source document
    end: int
    required: str  # the form the target must contain
    present: bool
    method: str  # "protected" (restored from a placeholder), "engine" (the engine wrote it), "missing"

    def to_dict(self) -> dict[str, object]:
        return {"term": self.term, "source": self.source, "start": self.start, "end": self.end,
                "required": self.required, "present": self.present, "method": self.method}


@dataclass
class TermReport:
    glossaries: list[str]
    checks: list[TermCheck] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.checks)

    @property
    def present(self) -> int:
        return sum(c.present for c in self.checks)

    @property
    def compliance(self) -> float | None:
        """Share of source terms whose required form is in the output; None when no term occurred."""
        return self.present / self.found if self.checks else None

    def to_dict(self) -> dict[str, object]:
        return {"glossaries": self.glossaries, "terms_found": self.found, "terms_present": self.present,
                "compliance": self.compliance, "terms": [c.to_dict() for c in self.checks]}


def contains(text: str, form: str, target: str, case_sensitive: bool) -> bool:
    """Whether ``form`` occurs in ``text``: as a whole word, or anywhere for scripts without spaces."""
    flags = regex.V1 if case_sensitive else regex.V1 | regex.IGNORECASE | regex.FULLCASE
    pattern = bounded(regex.escape(form), languages.get(target).no_spaces)
    return regex.search(pattern, text, flags) is not None


class TermLayer:
    """The glossary layer for one set of glossaries (later ones win). Stateless per call: thread-safe."""

    def __init__(self, glossaries: Sequence[Glossary]):
        self.glossaries = list(glossaries)
        self.names = [g.name for g in self.glossaries]
        self._matchers: dict[tuple[str, str], TermMatcher] = {}

    def matcher(self, source: str, target: str) -> TermMatcher:
        key = (source, target)
        if key not in self._matchers:  # racing threads build the same thing twice at worst
            self._matchers[key] = TermMatcher(self.glossaries, source, target)
        return self._matchers[key]

    def protect(self, sentence: str, source: str, target: str) -> Protected:
        slots: list[Slot] = []
        pieces: list[str] = []
        last = 0
        for match in self.matcher(source, target).find(sentence):
            required = match.entry.target_form(target, match.text)
            if required is None:
                continue
            placeholder = PLACEHOLDER.format(len(slots))
            slots.append(Slot(placeholder, match, required))
            pieces += [sentence[last:match.start], placeholder]
            last = match.end
        pieces.append(sentence[last:])
        return Protected("".join(pieces), tuple(slots))

    def instruct(self, sentence: str, source: str, target: str) -> Protected:
        """The sentence unchanged, with the terms the engine must be told about (slots without placeholders)."""
        slots = []
        for match in self.matcher(source, target).find(sentence):
            required = match.entry.target_form(target, match.text)
            if required is not None:
                slots.append(Slot("", match, required))
        return Protected(sentence, tuple(slots))

    @staticmethod
    def instructions(protected: Protected, part: str) -> list[tuple[str, str]]:
        """(source form, required target form) of the terms in ``part`` of an instructed sentence."""
        return [(s.match.text, s.required) for s in protected.slots if s.match.text in part]

    def verify(self, translated: str, protected: Protected, target: str) -> tuple[str, list[TermCheck]]:
        """Check every instructed term in the engine's output (offsets are sentence-relative)."""
        checks = []
        for slot in protected.slots:
            sensitive = slot.match.entry.case_sensitive or slot.match.entry.dnt
            present = contains(translated, slot.required, target, sensitive)
            checks.append(TermCheck(slot.match.entry.key, slot.match.text, slot.match.start, slot.match.end,
                                    slot.required, present, "instructed" if present else "missing"))
        return translated, checks

    @staticmethod
    def choose(hypotheses: Sequence[str], expected: Sequence[str]) -> str:
        """The first hypothesis that kept every expected placeholder (else the engine's best)."""
        for hyp in hypotheses:
            found = {f"ZXQ{m.group(1)}" for m in _PLACEHOLDER_RE.finditer(hyp)}
            if all(p in found for p in expected):
                return hyp
        return hypotheses[0]

    def restore(self, translated: str, protected: Protected, target: str) -> tuple[str, list[TermCheck]]:
        """Replace placeholders, drop invented ones, and check every term. Offsets are sentence-relative."""
        by_number = {str(i): slot for i, slot in enumerate(protected.slots)}
        restored: set[str] = set()
        invented = 0

        def replace(m: regex.Match) -> str:
            nonlocal invented
            slot = by_number.get(str(int(m.group(1))))
            if slot is None:
                invented += 1
                return ""
            restored.add(slot.placeholder)
            return slot.required

        text = _PLACEHOLDER_RE.sub(replace, translated)
        if invented:  # close the gap a removed look-alike left
            text = regex.sub(r" +([,.;:!?)])", r"\1", regex.sub(r"[ \t]{2,}", " ", text)).strip()
        checks = []
        for slot in protected.slots:
            sensitive = slot.match.entry.case_sensitive or slot.match.entry.dnt
            present = contains(text, slot.required, target, sensitive)
            method = "protected" if slot.placeholder in restored else ("engine" if present else "missing")
            checks.append(TermCheck(slot.match.entry.key, slot.match.text, slot.match.start, slot.match.end,
                                    slot.required, present, method))
        return text, checks
