"""Detection accuracy on text of a known language: each non-empty line is one item (a sentence), or
``paragraphs`` consecutive lines joined make one item. Used by ``eval-detect`` and ``bench/detect.py``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from service.text.detect import LanguageDetector


@dataclass
class DetectAccuracy:
    language: str
    items: int = 0
    right: int = 0  # the language used is the right one
    uncertain: int = 0  # reported uncertain (the language used may still be right: the source prior)
    confident_wrong: int = 0  # a confident call for another language: the errors that matter most
    got: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str, float]] = field(default_factory=list)  # (text, language used, confidence)

    @property
    def accuracy(self) -> float:
        return self.right / self.items if self.items else 0.0

    def row(self, name: str) -> str:
        share = (lambda n: f"{100 * n / self.items:.2f}%") if self.items else (lambda n: "-")
        sure = self.items - self.uncertain
        when_sure = f"{100 * (sure - self.confident_wrong) / sure:.2f}%" if sure else "-"
        return (f"| {name} | {self.language} | {self.items} | {share(self.right)} | {share(self.uncertain)} | "
                f"{when_sure} | {self.confident_wrong} | "
                f"{', '.join(f'{k} {v}' for k, v in self.got.most_common())} |")

    def format(self, examples: int = 5) -> str:
        lines = [f"{self.language}: {self.items} items, {self.right} right ({100 * self.accuracy:.2f}%), "
                 f"{self.uncertain} uncertain, {self.confident_wrong} confidently wrong; detected as "
                 + ", ".join(f"{k} {v}" for k, v in self.got.most_common())]
        for text, lang, conf in self.errors[:examples]:
            lines.append(f"  {lang} {conf:.2f}: {text[:100]}")
        return "\n".join(lines)


TABLE_HEADER = ("| data | language | items | right | uncertain | right when sure | confidently wrong | detected as |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- |")


def items_of(lines: list[str], paragraphs: int = 1) -> list[str]:
    lines = [line.strip() for line in lines if line.strip()]
    if paragraphs <= 1:
        return lines
    return [" ".join(lines[i:i + paragraphs]) for i in range(0, len(lines) - paragraphs + 1, paragraphs)]


def evaluate(detector: LanguageDetector, language: str, items: list[str]) -> DetectAccuracy:
    result = DetectAccuracy(language)
    for text in items:
        found = detector.detect(text)
        result.items += 1
        result.got[found.language] += 1
        result.right += found.language == language
        result.uncertain += found.uncertain
        if found.language != language:
            result.confident_wrong += not found.uncertain
            result.errors.append((text, found.language, found.confidence))
    return result
