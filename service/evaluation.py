"""Corpus evaluation: BLEU and chrF++ (sacrebleu) plus throughput, through the same pipeline users get."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from service import languages
from service.engines.base import DecodeOptions
from service.errors import InvalidInput
from service.pipeline import Pipeline, TranslationRequest


@dataclass(frozen=True)
class EvalReport:
    source: str
    target: str
    engine: str
    model: str
    lines: int
    bleu: float | None  # None for scripts without spaces: word BLEU is meaningless there
    chrf: float
    chrf_word_order: int
    seconds: float
    output_tokens: int

    def format(self) -> str:
        metric = f"chrF++ {self.chrf:.2f}" if self.chrf_word_order else f"chrF {self.chrf:.2f}"
        bleu = f"BLEU {self.bleu:.2f}  " if self.bleu is not None else ""
        return (f"{self.source}->{self.target}  {self.engine}: {self.model}  lines {self.lines}\n"
                f"{bleu}{metric}\n"
                f"throughput {self.lines / self.seconds:.2f} lines/s, {self.output_tokens / self.seconds:.1f} "
                f"output tokens/s ({self.seconds:.1f} s)")


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    """The lines of a UTF-8 text file (the first ``limit`` of them), or a clear InvalidInput."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read {path} as UTF-8 text.") from exc
    return lines[:limit] if limit else lines


def evaluate(pipeline: Pipeline, src: Path, ref: Path, source: str, target: str, limit: int | None = None,
             options: DecodeOptions | None = None) -> EvalReport:
    import sacrebleu

    sources, refs = read_lines(src, limit), read_lines(ref, limit)
    if len(sources) != len(refs):
        raise InvalidInput(f"{src} has {len(sources)} lines but {ref} has {len(refs)}; they must be aligned.")
    if not sources:
        raise InvalidInput(f"{src} is empty.")
    # Lines are documents of one line each: the pipeline keeps line breaks (layout "keep": never re-flowed, so
    # line n of the output is line n of the input), so one call does them all.
    started = time.perf_counter()
    result = pipeline.translate(TranslationRequest("\n".join(sources), [target], source,
                                                   options or DecodeOptions(), layout="keep")).results[0]
    seconds = time.perf_counter() - started
    if result.error:
        raise result.error
    hyps = (result.text or "").split("\n")
    no_spaces = languages.get(target).no_spaces
    word_order = 0 if no_spaces else 2
    chrf = sacrebleu.corpus_chrf(hyps, [refs], word_order=word_order).score
    bleu = None if no_spaces else sacrebleu.corpus_bleu(hyps, [refs]).score
    return EvalReport(source, target, result.engine or "", result.model or "", len(sources), bleu, chrf,
                      word_order, seconds, result.output_tokens)
