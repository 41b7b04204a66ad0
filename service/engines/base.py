"""The Engine protocol and its small result types.

An engine translates a batch of already-segmented sentences from one language to another. It knows
nothing about documents, glossaries, caching or front ends: those are layers above it.

One capability differs between engines and is asked by the pipeline, never inferred from an engine's name:
how glossary terms are kept (:func:`term_handling`). Seq2seq and rule-based engines copy placeholders, so
the pipeline swaps each term for a ``ZXQn`` code and restores the required form afterwards. Large language
models follow instructions but rewrite or drop codes, so an engine whose ``term_handling`` is
``"instructions"`` receives each segment with its terms attached (:func:`with_terms`) and is told to use the
required target forms; the per-term report verifies the output either way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class DecodeOptions:
    beam_size: int = 4
    #: Hypotheses to return per segment (<= beam_size). The glossary layer uses them to prefer one that
    #: keeps every protected term.
    n_best: int = 1
    #: Output length bound; None lets the engine derive one from the input (settings max_output_ratio x the
    #: longest input + max_output_extra, by default 2 x input + 10 tokens).
    max_output_tokens: int | None = None
    #: Lower bound on output tokens; used by benchmarks to fix the output length of random models.
    min_output_tokens: int = 0
    #: Use the translation memory (off for a request that must reach the engine, e.g. a benchmark).
    use_memory: bool = True


@dataclass(frozen=True)
class Hypothesis:
    text: str
    score: float | None = None  # log-probability per token where the engine reports one


@dataclass(frozen=True)
class SegmentTranslation:
    hypotheses: list[Hypothesis]
    input_tokens: int = 0
    output_tokens: int = 0
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.hypotheses[0].text


@runtime_checkable
class Engine(Protocol):
    #: "ctranslate2", "transformers", "apertium", ...
    name: str
    #: the model (hub id, local name or Apertium mode) this engine instance runs
    model: str
    #: segments longer than this (in :meth:`count_tokens` units) must be split by the caller
    max_input_tokens: int

    def count_tokens(self, text: str, source: str, target: str) -> int:
        """Input tokens the model sees for ``text`` (language tokens and prompt included)."""
        ...

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]: ...


@runtime_checkable
class TextGenerator(Protocol):
    """A seq2seq model run on raw input, with no language signalling: for summarisation models."""

    name: str
    model: str
    max_input_tokens: int

    def count_raw_tokens(self, text: str) -> int: ...

    def generate(self, texts: Sequence[str], options: DecodeOptions) -> list[SegmentTranslation]: ...


class EngineLayer:
    """A layer around an engine (translation memory, micro-batching): it overrides ``translate`` and hands every
    other attribute (name, model, max_input_tokens, count_tokens...) to the engine inside, ``inner``."""

    def __init__(self, inner: Engine):
        self.inner = inner

    def __getattr__(self, name: str):
        if name == "inner":  # not set yet (during construction or unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


def layers(engine: object) -> Iterator[object]:
    """The engine as built, then each layer inside it, down to the bare engine (for stats and metrics)."""
    while True:
        yield engine
        if not isinstance(engine, EngineLayer):
            return
        engine = engine.inner


TERMS_BY_PLACEHOLDER = "placeholders"
TERMS_BY_INSTRUCTION = "instructions"
#: Separates a segment from its attached glossary terms (ASCII record separator: never in a sentence the
#: pipeline sends, and split at its last occurrence, so a stray one in the input is harmless).
_TERMS_MARK = "\x1e"


def term_handling(engine: object) -> str:
    """``"placeholders"`` (the default) or ``"instructions"``; layers around an engine pass the attribute on."""
    return getattr(engine, "term_handling", TERMS_BY_PLACEHOLDER)


def with_terms(text: str, terms: Sequence[tuple[str, str]]) -> str:
    """The segment as sent to an instruction-following engine: the text, then its (source form, required target
    form) pairs. The terms are part of the segment string, so the translation memory keys on them and batching
    layers carry them unchanged."""
    if not terms:
        return text
    return text + _TERMS_MARK + json.dumps([list(t) for t in terms], ensure_ascii=False)


def split_terms(segment: str) -> tuple[str, list[tuple[str, str]]]:
    """Inverse of :func:`with_terms`."""
    text, mark, payload = segment.rpartition(_TERMS_MARK)
    if not mark:
        return segment, []
    try:
        return text, [(str(a), str(b)) for a, b in json.loads(payload)]
    except (ValueError, TypeError):
        return segment, []
