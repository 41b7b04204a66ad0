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

**Protected spans** (URLs, e-mail addresses, @mentions, #hashtags, file names, numbers with units, money, numeric
dates, times, inline code: ``service.text.spans``) take the same road as do-not-translate terms: found first,
each replaced by a placeholder and restored byte for byte; glossary terms are never matched inside them. The
report lists them apart from the glossary terms.

**Inline tags** of documents (``service.text.markers``) are protected spans of kind ``tag``, with three extras
(``service.terminology.tags``): spaces around a placeholder glued to a word, tags inside a glossary term carried by
the term, and lost tags put back and reported. They are not listed in the report.

**Case**: for case-insensitive entries the restored form follows the case of the source match: ALL CAPS gives
all caps, a capital first letter (sentence start, title case) capitalises the target form's first letter, and
otherwise the glossary's form is written as it is. Case-sensitive and do-not-translate entries are written
exactly as the glossary says; scripts without case (Thai, Khmer, Lao, Burmese) are left alone.

For engines that follow instructions instead of copying placeholders (LLMs: ``term_handling ==
"instructions"``), :meth:`TermLayer.instruct` finds the same terms and
spans without touching the text; the engine is
given the required forms, and :meth:`TermLayer.verify` reports each term ``instructed`` (present) or
``missing``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from service import languages
from service.terminology import tags
from service.terminology.glossary import Entry, Glossary
from service.terminology.matcher import Match, TermIndex, TermMatcher, bounded
from service.text import markers
from service.text import spans as span_finder

PLACEHOLDER = "ZXQ{}"
#: Tolerant of what engines do to a placeholder: lower-casing it, spacing its letters, gluing it to the
#: letters of a script without spaces (so only Latin letters and digits may not touch it).
_PLACEHOLDER_RE = regex.compile(r"(?<![A-Za-z0-9])Z\s?X\s?Q\s?(\d+)(?![0-9])", regex.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    placeholder: str
    match: Match  # for a protected span: its text and offsets, with no entry
    required: str
    kind: str = "term"  # "term" (a glossary entry) or the span kind ("url", "email", ...)
    #: a tag's placeholder was sent with a space before/after it that the source did not have
    pad: tuple[bool, bool] = (False, False)
    #: inline tags inside a term's match: (offset in the match's text, marker run)
    inner: tuple[tuple[int, str], ...] = ()

    @property
    def entry(self) -> Entry | None:
        return self.match.entry


@dataclass(frozen=True)
class Protected:
    text: str  # the sentence with placeholders, as sent to the engine
    slots: tuple[Slot, ...] = ()

    def placeholders_in(self, part: str) -> list[str]:
        """The placeholders of this sentence that occur in ``part`` (whole tokens: ZXQ1 is not in ZXQ10)."""
        found = placeholder_numbers(part)
        return [s.placeholder for s in self.slots if int(s.placeholder[3:]) in found]


def placeholder_numbers(text: str) -> set[int]:
    return {int(m.group(1)) for m in _PLACEHOLDER_RE.finditer(text)}


def follow_case(form: str, matched: str, entry: Entry, target: str) -> str:
    """The target ``form`` in the case pattern of the source ``matched`` (see the module's docstring)."""
    if entry.case_sensitive or entry.dnt or languages.get(target).no_spaces:
        return form
    letters = [c for c in matched if c.isalpha()]
    if not letters:
        return form
    own = any(v == matched for forms in entry.forms.values() for v in forms)  # written as in the glossary
    if len(letters) > 1 and all(c.isupper() for c in letters) and not own:
        return form.upper()
    if letters[0].isupper():
        first = next((i for i, c in enumerate(form) if c.isalpha()), None)
        if first is not None:
            return form[:first] + form[first].upper() + form[first + 1:]
    return form


@dataclass(frozen=True)
class TermCheck:
    term: str  # the entry's name (its first form)
    source: str  # the text matched in the source
    start: int  # offsets of ``source`` in the source document
    end: int
    required: str  # the form the target must contain
    present: bool
    method: str  # "protected" (restored from a placeholder), "engine" (the engine wrote it), "missing"
    kind: str = "term"  # or the protected span's kind

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"term": self.term, "source": self.source, "start": self.start, "end": self.end,
                                  "required": self.required, "present": self.present, "method": self.method}
        if self.kind != "term":
            out = {"kind": self.kind, **{k: v for k, v in out.items() if k != "term"}}
        return out


@dataclass
class TermReport:
    glossaries: list[str]
    #: name -> the version of each glossary used (a file's content hash, a managed glossary's version number)
    versions: dict[str, str] = field(default_factory=dict)
    checks: list[TermCheck] = field(default_factory=list)  # glossary terms
    spans: list[TermCheck] = field(default_factory=list)  # protected spans (URLs, e-mail addresses, ...)

    def add(self, check: TermCheck) -> None:
        if check.kind == "tag":  # inline tags are markup, not content: a repaired one is a flag instead
            return
        (self.checks if check.kind == "term" else self.spans).append(check)

    @property
    def spans_present(self) -> int:
        return sum(c.present for c in self.spans)

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
        return {"glossaries": self.glossaries, "versions": self.versions, "terms_found": self.found,
                "terms_present": self.present, "compliance": self.compliance,
                "terms": [c.to_dict() for c in self.checks],
                "spans_found": len(self.spans), "spans_present": self.spans_present,
                "spans": [c.to_dict() for c in self.spans]}


def contains(text: str, form: str, target: str, case_sensitive: bool) -> bool:
    """Whether ``form`` occurs in ``text``: as a whole word, or anywhere for scripts without spaces."""
    flags = regex.V1 if case_sensitive else regex.V1 | regex.IGNORECASE | regex.FULLCASE
    pattern = bounded(regex.escape(form), languages.get(target).no_spaces)
    return regex.search(pattern, text, flags) is not None


class TermLayer:
    """The glossary layer for one set of glossaries (later ones win) and the kinds of protected spans.
    One term index per source language, built on first use, serves every target. Thread-safe."""

    def __init__(self, glossaries: Sequence[Glossary], span_kinds: Sequence[str] = ()):
        self.glossaries = list(glossaries)
        self.names = [g.name for g in self.glossaries]
        #: name -> version of each glossary in this layer (what a report names)
        self.versions = {g.name: g.version for g in self.glossaries}
        self.span_kinds = tuple(span_kinds)
        self._indexes: dict[str, TermIndex] = {}
        self._lock = threading.Lock()

    def index(self, source: str) -> TermIndex:
        """The term index of ``source`` (built once; a large glossary takes a second, so threads wait for it)."""
        found = self._indexes.get(source)
        if found is None:
            with self._lock:
                found = self._indexes.get(source)
                if found is None:
                    found = self._indexes[source] = TermIndex(self.glossaries, source)
        return found

    def matcher(self, source: str, target: str | None) -> TermMatcher:
        return TermMatcher(index=self.index(source), target=target)

    def protect(self, sentence: str, source: str, target: str) -> Protected:
        found = span_finder.find(sentence, self.span_kinds)
        kept = [(Match(sp.start, sp.end, sp.text, None), sp.text, sp.kind)  # type: ignore[arg-type]
                for sp in found if sp.kind != "tag"]
        tag_spans = [sp for sp in found if sp.kind == "tag"]
        terms = []
        inner: dict[int, tuple[tuple[int, str], ...]] = {}
        if self.glossaries:
            # terms are matched on the text without its inline tags: a link inside a term still lets it match
            plain, where = markers.strip_with_map(sentence) if tag_spans else (sentence, None)
            for match in self.matcher(source, target).find(plain):
                if where is not None:
                    match = Match(where[match.start], where[match.end - 1] + 1, match.text, match.entry)
                if any(match.start < m.end and m.start < match.end for m, _, _ in kept):
                    continue  # never inside a URL, an address, a mention...
                required = match.entry.target_form(target, match.text)
                if required is not None:
                    terms.append((match, follow_case(required, match.text, match.entry, target), "term"))
                    inside = [sp for sp in tag_spans if match.start < sp.start and sp.end < match.end]
                    if inside:
                        inner[match.start] = tuple((len(markers.strip(sentence[match.start:sp.start])), sp.text)
                                                   for sp in inside)
        taken = [(m.start, m.end) for m, _, _ in terms]
        tagged = [(Match(sp.start, sp.end, sp.text, None), sp.text, "tag")  # type: ignore[arg-type]
                  for sp in tag_spans if not any(a < sp.start and sp.end < b for a, b in taken)]
        slots: list[Slot] = []
        pieces: list[str] = []
        last = 0
        for match, required, kind in sorted([*kept, *terms, *tagged], key=lambda t: t[0].start):
            placeholder = PLACEHOLDER.format(len(slots))
            pieces.append(sentence[last:match.start])
            pad = tags.padding("".join(pieces), sentence, match.end) if kind == "tag" else (False, False)
            slots.append(Slot(placeholder, match, required, kind, pad, inner.get(match.start, ())))
            pieces.append((" " if pad[0] else "") + placeholder + (" " if pad[1] else ""))
            last = match.end
        pieces.append(sentence[last:])
        return Protected("".join(pieces), tuple(slots))

    def instruct(self, sentence: str, source: str, target: str) -> Protected:
        """The sentence unchanged, with what the engine must be told: each term's required form (in the case of
        the source) and each protected span, to be kept exactly (slots without placeholders)."""
        kept = [(Match(sp.start, sp.end, sp.text, None), sp.text, sp.kind)  # type: ignore[arg-type]
                for sp in span_finder.find(sentence, self.span_kinds)]
        terms = []
        if self.glossaries:
            for match in self.index(source).find(sentence, target):
                if any(match.start < m.end and m.start < match.end for m, _, _ in kept):
                    continue  # never inside a URL, an address, a mention...
                required = match.entry.target_form(target, match.text)
                if required is not None:
                    terms.append((match, follow_case(required, match.text, match.entry, target), "term"))
        return Protected(sentence, tuple(Slot("", match, required, kind)
                                         for match, required, kind in sorted([*kept, *terms],
                                                                             key=lambda t: t[0].start)))

    @staticmethod
    def instructions(protected: Protected, part: str) -> list[tuple[str, str]]:
        """(source form, required target form) of the terms in ``part`` of an instructed sentence."""
        return [(s.match.text, s.required) for s in protected.slots if s.match.text in part]

    def verify(self, translated: str, protected: Protected, target: str) -> tuple[str, list[TermCheck]]:
        """Check every instructed term and span in the engine's output (offsets are sentence-relative)."""
        checks = []
        for slot in protected.slots:
            if slot.entry is None:  # a protected span: byte for byte
                present, name = slot.required in translated, slot.kind
            else:
                present = contains(translated, slot.required, target, slot.entry.case_sensitive or slot.entry.dnt)
                name = slot.entry.key
            checks.append(TermCheck(name, slot.match.text, slot.match.start, slot.match.end, slot.required, present,
                                    "instructed" if present else "missing", slot.kind))
        return translated, checks

    @staticmethod
    def choose(hypotheses: Sequence[str], expected: Sequence[str]) -> str:
        """The first hypothesis that kept every expected placeholder (else the engine's best)."""
        wanted = {int(p[3:]) for p in expected}
        for hyp in hypotheses:
            if wanted <= placeholder_numbers(hyp):
                return hyp
        return hypotheses[0]

    def restore(self, translated: str, protected: Protected, target: str) -> tuple[str, list[TermCheck]]:
        """Replace placeholders, drop invented ones, and check every term. Offsets are sentence-relative."""
        by_number = {i: slot for i, slot in enumerate(protected.slots)}
        restored: set[str] = set()
        rendered: dict[str, str] = {}
        invented = 0
        out: list[str] = []
        last, eat_space = 0, False
        for m in _PLACEHOLDER_RE.finditer(translated):
            before = translated[last:m.start()]
            last = m.end()
            if eat_space and before.startswith(" "):
                before = before[1:]
            eat_space = False
            slot = by_number.get(int(m.group(1)))
            if slot is None or (slot.placeholder in restored and slot.kind == "tag"):  # invented, or a tag twice
                invented += 1
                out.append(before)
                continue
            restored.add(slot.placeholder)
            value = tags.place_inner(slot.required, slot.match.text, slot.inner) if slot.inner else slot.required
            if slot.pad[0] and before.endswith(" "):  # the space added before a glued tag
                before = before[:-1]
            eat_space = slot.pad[1]
            rendered[slot.placeholder] = value
            out += [before, value]
        tail = translated[last:]
        out.append(tail[1:] if eat_space and tail.startswith(" ") else tail)
        text = "".join(out)
        if invented:  # close the gap a removed look-alike left
            text = regex.sub(r" +([,.;:!?)])", r"\1", regex.sub(r"[ \t]{2,}", " ", text)).strip()
        text, repaired = tags.repair(text, protected, restored, rendered)
        plain = markers.strip(text) if any(s.kind == "tag" or s.inner for s in protected.slots) else text
        checks = []
        for slot in protected.slots:
            if slot.kind == "tag":
                if slot in repaired:
                    checks.append(TermCheck("tag", slot.match.text, slot.match.start, slot.match.end, slot.required,
                                            True, "repaired", "tag"))
                continue
            if slot.entry is None:  # a protected span: byte for byte
                present = slot.required in plain
                name = slot.kind
            else:
                present = contains(plain, slot.required, target, slot.entry.case_sensitive or slot.entry.dnt)
                name = slot.entry.key
            method = "protected" if slot.placeholder in restored else ("engine" if present else "missing")
            checks.append(TermCheck(name, slot.match.text, slot.match.start, slot.match.end, slot.required, present,
                                    method, slot.kind))
        return text, checks
