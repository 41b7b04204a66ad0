"""Exact-match term accuracy, the measure of the WMT21 terminology task.

For every source line, each glossary term found whose required target form also occurs in the reference
line is one term to get right (where the reference says something else, the term is skipped and counted
apart). A term is right when the hypothesis contains the required form; a term occurring k times in the
source needs k occurrences in the hypothesis. Accuracy = right / terms.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import regex

from service import languages
from service.errors import InvalidInput
from service.evaluation import read_lines
from service.terminology.enforce import TermLayer
from service.terminology.matcher import bounded
from service.text import spans as span_finder


@dataclass
class TermAccuracy:
    source: str
    target: str
    lines: int
    terms: int = 0
    right: int = 0
    skipped: int = 0  # found in the source, but the reference renders them otherwise
    spans: int = 0  # protected spans (URLs, e-mail addresses, numbers with units...) in the source
    spans_right: int = 0  # ... found byte for byte in the hypothesis
    misses: list[tuple[int, str, str]] = field(default_factory=list)  # (line, source term, required form)

    @property
    def accuracy(self) -> float | None:
        return self.right / self.terms if self.terms else None

    def format(self) -> str:
        acc = "n/a (no glossary term occurs in both source and reference)" if self.accuracy is None \
            else f"{100 * self.accuracy:.1f}%"
        lines = [f"{self.source}->{self.target}  lines {self.lines}",
                 f"term exact-match accuracy {acc}: {self.right}/{self.terms} terms "
                 f"({self.skipped} more found in the source but rendered otherwise in the reference)"]
        if self.spans:
            lines.append(f"protected spans {self.spans_right}/{self.spans} kept exactly")
        if self.misses:
            lines.append("misses:")
            for line, term, required in self.misses:
                lines.append(f"  line {line}: {term} -> {required}")
        return "\n".join(lines)


def _count(text: str, form: str, target: str, case_sensitive: bool) -> int:
    flags = regex.V1 if case_sensitive else regex.V1 | regex.IGNORECASE | regex.FULLCASE
    return len(regex.findall(bounded(regex.escape(form), languages.get(target).no_spaces), text, flags))


def score(layer: TermLayer, sources: list[str], refs: list[str], hyps: list[str], source: str,
          target: str) -> TermAccuracy:
    if not len(sources) == len(refs) == len(hyps):
        raise InvalidInput(f"Source, reference and hypothesis must have the same number of lines "
                           f"({len(sources)}, {len(refs)}, {len(hyps)}).")
    result = TermAccuracy(source, target, len(sources))
    matcher = layer.matcher(source, target)
    for n, (src, ref, hyp) in enumerate(zip(sources, refs, hyps, strict=True), start=1):
        wanted: Counter[tuple[str, str, bool]] = Counter()
        for match in matcher.find(src):
            required = match.entry.target_form(target, match.text)
            if required is None:
                continue
            sensitive = match.entry.case_sensitive or match.entry.dnt
            if _count(ref, required, target, sensitive) == 0:
                result.skipped += 1
                continue
            wanted[(match.text, required, sensitive)] += 1
        for text, k in Counter(sp.text for sp in span_finder.find(src, layer.span_kinds)).items():
            result.spans += k
            result.spans_right += min(k, hyp.count(text))
            result.misses.extend((n, text, text) for _ in range(k - min(k, hyp.count(text))))
        for (term, required, sensitive), k in wanted.items():
            got = min(k, _count(hyp, required, target, sensitive))
            result.terms += k
            result.right += got
            result.misses.extend((n, term, required) for _ in range(k - got))
    return result


def evaluate_terms(layer: TermLayer, src: Path, ref: Path, source: str, target: str, hyp: Path | None = None,
                   pipeline=None, limit: int | None = None) -> TermAccuracy:
    """Score ``hyp``, or (without it) the pipeline's translation of ``src`` with this glossary layer."""
    sources, refs = read_lines(src, limit), read_lines(ref, limit)
    if hyp is not None:
        hyps = read_lines(hyp, limit)
    else:
        from service.pipeline import TranslationRequest

        result = pipeline.translate(TranslationRequest("\n".join(sources), [target], source,  # line for line
                                                       glossaries=layer.names, layout="keep")).results[0]
        if result.error:
            raise result.error
        hyps = (result.text or "").split("\n")
    return score(layer, sources, refs, hyps, source, target)
