"""What a caller may ask of a summary, validated in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service import languages
from service.errors import InvalidInput

METHODS = ("extractive", "abstractive", "auto")
MODES = ("translate", "summarise_target")
STYLES = ("paragraph", "bullets")
#: Characters per word, to count "words" in scripts written without spaces (Thai, Khmer, Lao, Burmese):
#: an approximation (their words average 3-6 characters), so word limits there are approximate.
CHARS_PER_WORD_NO_SPACES = 4
#: A summary is short: past 20 sentences or 500 words it is an abridgement, not a summary.
MAX_SENTENCES = 20
MAX_WORDS = 500


@dataclass(frozen=True)
class SummaryOptions:
    sentences: int | None = None  # default 3 when no length is given
    words: int | None = None
    ratio: float | None = None  # share of the document's sentences
    style: str = "paragraph"
    method: str = "extractive"
    #: for translations: summarise the source then translate the summary with the glossary ("translate", the
    #: default and cheapest), or summarise each translation ("summarise_target")
    mode: str = "translate"
    include_headline: bool = False

    def validate(self) -> SummaryOptions:
        given = [x for x in (self.sentences, self.words, self.ratio) if x is not None]
        if len(given) > 1:
            raise InvalidInput("Give one summary length: sentences, words or ratio.")
        if self.sentences is not None and not 1 <= self.sentences <= MAX_SENTENCES:
            raise InvalidInput(f"Summary sentences must be between 1 and {MAX_SENTENCES}.")
        if self.words is not None and not 1 <= self.words <= MAX_WORDS:
            raise InvalidInput(f"Summary words must be between 1 and {MAX_WORDS}.")
        if self.ratio is not None and not (0 < self.ratio <= 1 and math.isfinite(self.ratio)):
            raise InvalidInput("Summary ratio must be above 0 and at most 1.")
        for name, value, allowed in (("style", self.style, STYLES), ("method", self.method, METHODS),
                                     ("mode", self.mode, MODES)):
            if value not in allowed:
                raise InvalidInput(f"Summary {name} must be one of {', '.join(allowed)}, not {value!r}.")
        return self

    def sentence_budget(self, available: int) -> int | None:
        if self.ratio is not None:
            return max(1, round(self.ratio * available))
        if self.words is not None:
            return None
        return self.sentences or 3


def count_words(text: str, lang: str) -> int:
    if languages.get(lang).no_spaces:
        return math.ceil(sum(1 for c in text if not c.isspace()) / CHARS_PER_WORD_NO_SPACES)
    return len(text.split())


#: Characters that end a sentence; a line without one (a headline) is never run into the next sentence.
FINAL_PUNCTUATION = tuple(".!?…。។៕။\"”'»")


def render(sentences: list[str], style: str) -> str:
    if style == "bullets":
        return "\n".join(f"- {s}" for s in sentences)
    out = ""
    for sentence in sentences:
        if out:  # a headline keeps a line of its own: "...di Malaysia\nIndonesia kembali..."
            out += " " if out.rstrip().endswith(FINAL_PUNCTUATION) else "\n"
        out += sentence
    return out
