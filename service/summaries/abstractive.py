"""Abstractive summaries with a seq2seq model (mT5 XL-Sum, T5, BART...) on CTranslate2 or transformers.

Input longer than the model's window is never cut: the sentences are grouped into chunks that fit, each chunk
is summarised, and the joined chunk summaries are summarised again (at most ``MAX_ROUNDS`` rounds) until they
fit in one window. The result says how many chunks and rounds it took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service import languages
from service.engines.base import DecodeOptions, TextGenerator
from service.prompts import Prompt
from service.summaries.options import CHARS_PER_WORD_NO_SPACES, SummaryOptions
from service.text.document import split_long

MAX_ROUNDS = 3
#: Output tokens per requested sentence / word (SentencePiece splits a word into ~1.5-2 pieces).
TOKENS_PER_SENTENCE = 48
TOKENS_PER_WORD = 2


@dataclass(frozen=True)
class AbstractiveResult:
    text: str
    chunks: int
    rounds: int
    #: the engine's flags on its outputs (an LLM's post-checks), and the languages it was detected writing in
    flags: list[dict[str, object]] = field(default_factory=list)
    detected: list[str] = field(default_factory=list)


def length_phrase(options: SummaryOptions, sentences_available: int) -> str:
    """The length asked of an instruction-following model, e.g. "in at most 3 sentences"."""
    if options.words is not None:
        return f"in at most {options.words} words"
    n = options.sentence_budget(sentences_available) or 3
    return f"in at most {n} sentence{'s' if n > 1 else ''}"


def output_budget(options: SummaryOptions, sentences_available: int) -> int:
    if options.words is not None:
        return options.words * TOKENS_PER_WORD
    return (options.sentence_budget(sentences_available) or 3) * TOKENS_PER_SENTENCE


def chunk_sentences(sentences: list[str], fits) -> list[str]:  # fits: Callable[[str], bool]
    """Group consecutive sentences into the fewest chunks that fit; a sentence too long alone is split."""
    chunks: list[str] = []
    current = ""
    for sentence in sentences:
        trial = f"{current} {sentence}".strip()
        if fits(trial):
            current = trial
            continue
        if current:
            chunks.append(current)
        if fits(sentence):
            current = sentence
        else:  # split the sentence itself at safe points (never truncate)
            parts = split_long(sentence, 1, lambda s: 0 if fits(s) else 2)
            chunks.extend(parts[:-1])
            current = parts[-1]
    if current:
        chunks.append(current)
    return chunks


def summarize(engine: TextGenerator, prompt: Prompt, sentences: list[str], options: SummaryOptions,
              beam_size: int = 4, no_spaces: bool = False, lang: str = "en") -> AbstractiveResult:
    """``lang``: the summary's language, for prompts that ask for one (``{language}``, ``{length}``)."""
    limit = engine.max_input_tokens
    values = {"language": languages.get(lang).name, "length": length_phrase(options, len(sentences))}

    def render(text: str) -> str:
        return prompt.render(text=text, **values)

    def fits(text: str) -> bool:
        return engine.count_raw_tokens(render(text)) <= limit

    budget = output_budget(options, len(sentences))
    decode = DecodeOptions(beam_size=beam_size, max_output_tokens=budget)
    pieces = sentences
    chunks_first = 0
    flags: list[dict[str, object]] = []
    detected: list[str] = []
    for round_number in range(1, MAX_ROUNDS + 1):
        chunks = chunk_sentences(pieces, fits)
        chunks_first = chunks_first or len(chunks)
        outputs = engine.generate([render(c) for c in chunks], decode)
        for o in outputs:
            flags.extend(f for f in o.metadata.get("flags") or () if f not in flags)
            if o.metadata.get("language"):
                detected.append(str(o.metadata["language"]))
        texts = [o.text.strip() for o in outputs if o.text.strip()]
        joined = ("" if no_spaces else " ").join(texts)
        if len(chunks) == 1 or round_number == MAX_ROUNDS:
            return AbstractiveResult(_trim_words(joined, options, no_spaces), chunks_first, round_number, flags,
                                     detected)
        pieces = texts
    raise AssertionError("unreachable")


def _trim_words(text: str, options: SummaryOptions, no_spaces: bool) -> str:
    """Honour a word limit exactly (the token budget only approximates it)."""
    if options.words is None:
        return text
    if no_spaces:
        limit = options.words * CHARS_PER_WORD_NO_SPACES
        return text if len(text) <= limit else text[:limit].rstrip() + "…"
    words = text.split()
    return text if len(words) <= options.words else " ".join(words[: options.words]) + "…"
