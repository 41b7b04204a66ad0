"""The summariser: picks extractive or abstractive, and returns one result shape for both."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from service import languages
from service.engines.router import EngineRouter
from service.errors import ConfigError, ModelMissing
from service.prompts import Prompt, load_prompt
from service.summaries import abstractive, extractive
from service.summaries.options import SummaryOptions, render
from service.terminology.enforce import TermReport
from service.text.segment import Segmenter

log = logging.getLogger(__name__)


@dataclass
class Summary:
    language: str
    text: str
    method: str  # "extractive" or "abstractive"
    model: str | None = None
    sentences: list[str] = field(default_factory=list)
    flags: list[dict[str, object]] = field(default_factory=list)
    #: for a target language: "translate" (the source summary, translated) or "summarise_target"
    mode: str | None = None
    #: the glossary report of the translated summary ("translate" mode with a glossary)
    terms: TermReport | None = None

    def to_dict(self) -> dict[str, object]:
        return {"language": self.language, "text": self.text, "method": self.method, "model": self.model,
                "mode": self.mode, "flags": self.flags, "glossary": self.terms.to_dict() if self.terms else None}


class Summarizer:
    """Built once per process. Every prompt template the catalog names is loaded (and checked) here."""

    def __init__(self, router: EngineRouter, segmenter: Segmenter, beam_size: int = 4,
                 max_sentences: int = extractive.MAX_SENTENCES):
        self.router = router
        self.segmenter = segmenter
        self.beam_size = beam_size
        self.max_sentences = max_sentences
        self.prompts: dict[str, Prompt] = {}
        for model in router.catalog.models.values():
            if model.prompt:
                prompt = load_prompt(model.prompt)
                if "text" not in prompt.variables:
                    raise ConfigError(f"Prompt {model.prompt} (for {model.id}) must use {{text}}.")
                self.prompts[model.id] = prompt

    def summarize(self, text: str, lang: str, options: SummaryOptions) -> Summary:
        options.validate()
        sentences = extractive.candidate_sentences(text, lang, self.segmenter, options.include_headline)
        if not sentences:
            return Summary(lang, "", "extractive")
        method = options.method
        if method == "auto":
            method = "abstractive" if self.router.summarizer_status(lang).available else "extractive"
        if method == "abstractive":
            return self._abstractive(sentences, lang, options)
        chosen, cut = extractive.select(sentences, lang, options, self.max_sentences)
        flags: list[dict[str, object]] = []
        if len(sentences) > self.max_sentences:
            flags.append({"flag": "long_document", "sentences": len(sentences), "considered": self.max_sentences,
                          "reason": "only the first sentences were candidates (setting summary_max_sentences)"})
        if cut:
            flags.append({"flag": "truncated", "reason": "no whole sentence fits the word limit"})
        return Summary(lang, render(chosen, options.style), "extractive", None, chosen, flags)

    def _abstractive(self, sentences: list[str], lang: str, options: SummaryOptions) -> Summary:
        engine = self.router.summarizer_for(lang)
        prompt = self.prompts.get(engine.model)
        if prompt is None:
            raise ModelMissing(f"{engine.model} has no prompt template in the catalog.")
        result = abstractive.summarize(engine, prompt, sentences, options, self.beam_size,
                                       languages.get(lang).no_spaces, lang)
        parts = [s.strip() for s in self.segmenter.split(result.text, lang) if s.strip()]
        flags: list[dict[str, object]] = list(result.flags)
        if result.chunks > 1:
            flags.append({"flag": "chunked", "chunks": result.chunks, "rounds": result.rounds})
        wrong = sorted({d for d in result.detected if not languages.same_language(d, lang)})
        if wrong:  # an LLM engine reported the language it wrote in
            flags.append({"flag": "wrong_language", "expected": lang, "detected": wrong[0]})
        return Summary(lang, render(parts, options.style) if parts else "", "abstractive", engine.model, parts,
                       flags)
