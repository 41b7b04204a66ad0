"""What the large-language-model engines share (``openai``: an OpenAI-compatible server; ``llamacpp``: a local
GGUF file): prompts, glossary instructions, concurrency, output post-checks and token usage.

One chat request per segment (translation) or per text (summaries). The prompt comes from ``prompts/``
(``translate.llm``, ``glossary.llm``, ``summarize.llm``, or the catalog model's own templates), checked when the
engine is built. Glossary terms are given as instructions (``term_handling = "instructions"``): a model that
rewrites placeholder codes is told the required target forms instead, and the pipeline's per-term report
verifies them in the output like for any engine.

Every reply is post-checked before it becomes a translation:

- **chatter** ("Here is the translation:", code fences, wrapping quotes, trailing notes) is removed;
- a **refusal** ("I'm sorry, I cannot translate...") or an empty reply is never shown as a translation: the
  source sentence is kept in its place and the segment is flagged ``untranslated``;
- a reply cut by the output bound is flagged ``truncated``;
- a reply in another language than the target (the language detector, on replies with enough letters) is
  flagged ``wrong_language``; Indonesian and Malay are not told apart here (the detector confuses them).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import regex

from service import languages
from service.catalog import ModelInfo
from service.config import Settings
from service.engines.base import TERMS_BY_INSTRUCTION, DecodeOptions, Hypothesis, SegmentTranslation, split_terms
from service.errors import ConfigError, ServiceError
from service.prompts import Prompt, load_prompt

log = logging.getLogger(__name__)

#: Tokens of the context kept for the prompt's instructions and glossary lines.
PROMPT_RESERVE_TOKENS = 256
#: UTF-8 bytes per token when a server gives no tokenizer: an over-estimate for Latin scripts (~4 characters a
#: token) and about right for Thai, Khmer, Lao and Burmese (3 bytes a character, ~1 character a token), so
#: segments are split early rather than too late.
BYTES_PER_TOKEN = 3
#: Replies with fewer letters are not language-checked (detection is unreliable on a few words).
MIN_LETTERS_TO_CHECK = 20

_LEAD_IN = regex.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok)[,.!]?\s*)?(?:here(?:'s| is| are)|below is|this is)\b[^\n:]*:\s*",
    regex.IGNORECASE)
_LABEL = regex.compile(r"^\s*(?:\*\*)?(?:translation|terjemahan|summary|ringkasan)(?:\s*\([^)]*\))?(?:\*\*)?\s*:\s*",
                       regex.IGNORECASE)
_TRAILING_NOTE = regex.compile(r"\n+\s*(?:\(?\s*note\b|\*\*note|catatan\s*:)[\s\S]*$", regex.IGNORECASE)
_FENCE = regex.compile(r"^\s*```[^\n]*\n([\s\S]*?)\n?```\s*$")
_ONE_LINE = regex.compile(r"\s*\n\s*")
#: a glossary instruction line as glossary.llm renders it: - "source" -> "target"
_GLOSSARY_LINE = regex.compile(r'"[^"\n]{1,200}"\s*->\s*"')
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("«", "»"), ("「", "」"))
_REFUSAL = regex.compile(
    r"^\s*(?:i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i can not|i'?m unable|i am unable|as an ai\b|"
    r"i won'?t|maaf, saya tidak dapat)[\s\S]{0,200}?\b(?:translat|terjemah|request|assist|help|provide|summar|"
    r"comply|content)", regex.IGNORECASE)


@dataclass(frozen=True)
class ChatReply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: "stop" (the model ended), "length" (cut at max_tokens), or what the server said
    finish_reason: str = "stop"


@dataclass
class Usage:
    """Token usage of one engine, read by /metrics. Thread-safe."""

    requests: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, reply: ChatReply | None) -> None:
        with self._lock:
            self.requests += 1
            if reply is None:
                self.failures += 1
            else:
                self.prompt_tokens += reply.prompt_tokens
                self.completion_tokens += reply.completion_tokens


def clean_reply(text: str, source: str) -> str:
    """The reply without the chatter models add around a translation."""
    out = text.strip()
    fence = _FENCE.match(out)
    if fence:
        out = fence.group(1).strip()
    out = _LEAD_IN.sub("", out, count=1)
    out = _LABEL.sub("", out, count=1).strip()
    out = _TRAILING_NOTE.sub("", out).strip()
    for left, right in _QUOTES:
        if len(out) > 1 and out.startswith(left) and out.endswith(right) and not source.strip().startswith(left):
            out = out[len(left):-len(right)].strip()
            break
    return out


def echoes_prompt(reply: str, prompt: str) -> bool:
    """Whether the reply repeats the instruction (the prompt's first line) or a glossary instruction line:
    small models do, and such a reply is not a translation."""
    instruction = prompt.strip().split("\n", 1)[0][:48]
    return (len(instruction) >= 20 and instruction in reply) or _GLOSSARY_LINE.search(reply) is not None


def is_refusal(text: str) -> bool:
    return _REFUSAL.match(text) is not None


def approx_tokens(text: str) -> int:
    return max(1, math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN))


#: The variables each LLM template must use.
TRANSLATE_VARIABLES = {"source_name", "target_name", "glossary", "text"}
GLOSSARY_VARIABLES = {"target_name", "terms"}


def check_prompts(info: ModelInfo) -> None:
    """Load and check an LLM model's templates (at start-up: a broken template fails there, not on a request)."""
    load_llm_prompt(info.translate_prompt or "translate.llm", TRANSLATE_VARIABLES)
    load_llm_prompt("glossary.llm", GLOSSARY_VARIABLES)


def load_llm_prompt(name: str, required: set[str]) -> Prompt:
    prompt = load_prompt(name)
    if prompt.variables != required:
        raise ConfigError(f"Prompt {name} must use exactly {{{', '.join(sorted(required))}}}; it uses "
                          f"{{{', '.join(sorted(prompt.variables))}}}.")
    return prompt


class LLMEngine:
    """The engine interface over a chat model. Subclasses implement :meth:`_chat` (one prompt in, one reply
    out, raising :class:`EngineFailed` on any failure) and may override :meth:`count_raw_tokens`."""

    name = "llm"
    term_handling = TERMS_BY_INSTRUCTION
    #: concurrent requests of one call (the local engine runs one at a time)
    concurrency = 1

    def __init__(self, info: ModelInfo, settings: Settings, detector: object | None):
        self.info = info
        self.model = info.id
        self.detector = detector
        self.temperature = settings.llm_temperature
        self.context_tokens = settings.llm_context_tokens
        self.output_bound = (settings.max_output_ratio, settings.max_output_extra)
        #: a translation may be twice its input: the input gets a third of what the prompt leaves
        self.max_input_tokens = max(16, (self.context_tokens - PROMPT_RESERVE_TOKENS) // 3)
        self.translate_prompt = load_llm_prompt(info.translate_prompt or "translate.llm", TRANSLATE_VARIABLES)
        self.glossary_prompt = load_llm_prompt("glossary.llm", GLOSSARY_VARIABLES)
        self.usage = Usage()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- the engine interface ------------------------------------------------------------------------------
    def count_tokens(self, text: str, source: str, target: str) -> int:
        return self.count_raw_tokens(split_terms(text)[0])

    def count_raw_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        return self._map(lambda seg: self._translate_one(seg, source, target, options), segments)

    def generate(self, texts: Sequence[str], options: DecodeOptions) -> list[SegmentTranslation]:
        """Raw prompts (summaries): the reply cleaned and flagged; ``metadata["language"]`` is the detected
        language of the reply (None when too short to tell), for the caller to compare."""
        return self._map(lambda text: self._generate_one(text, options), texts)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals --------------------------------------------------------------------------------------------
    def _chat(self, prompt: str, max_tokens: int) -> ChatReply:
        raise NotImplementedError

    def _ask(self, prompt: str, max_tokens: int) -> ChatReply:
        log.debug("%s %s prompt (max %d tokens): %s", self.name, self.model, max_tokens, prompt)
        try:
            reply = self._chat(prompt, max_tokens)
        except ServiceError:
            self.usage.add(None)
            raise
        self.usage.add(reply)
        return reply

    def _map(self, work: Callable[[str], SegmentTranslation], items: Sequence[str]) -> list[SegmentTranslation]:
        if not items:
            return []
        if self.concurrency <= 1 or len(items) == 1:
            return [work(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-requests")
        return list(self._pool.map(work, items))  # the first failure is raised; the others still finish

    def _max_tokens(self, options: DecodeOptions, input_tokens: int) -> int:
        ratio, extra = self.output_bound
        wanted = options.max_output_tokens or int(ratio * input_tokens) + extra
        return max(1, min(wanted, self.context_tokens - input_tokens - PROMPT_RESERVE_TOKENS))

    def render_glossary(self, terms: Sequence[tuple[str, str]], target: str) -> str:
        if not terms:
            return ""
        lines = "\n".join(f'- "{src}" -> "{required}"' for src, required in dict.fromkeys(terms))
        return self.glossary_prompt.render(target_name=languages.get(target).name, terms=lines)

    def translation_prompt(self, text: str, terms: Sequence[tuple[str, str]], source: str, target: str) -> str:
        return self.translate_prompt.render(source_name=languages.get(source).name,
                                            target_name=languages.get(target).name,
                                            glossary=self.render_glossary(terms, target), text=text)

    def _translate_one(self, segment: str, source: str, target: str, options: DecodeOptions) -> SegmentTranslation:
        text, terms = split_terms(segment)
        prompt = self.translation_prompt(text, terms, source, target)
        reply = self._ask(prompt, self._max_tokens(options, self.count_raw_tokens(text)))
        out = _ONE_LINE.sub(" ", clean_reply(reply.text, text))  # a sentence in, one line out: the layout holds
        flags: list[dict[str, object]] = []
        problem = "empty reply" if not out else "refusal" if is_refusal(out) else \
            "prompt echoed" if echoes_prompt(reply.text, prompt) else None
        if problem:
            flags.append({"flag": "untranslated", "reason": problem, "engine": self.name})
            out = text  # nothing is lost, and nothing that is not a translation is shown as one
        else:
            if reply.finish_reason == "length":
                flags.append({"flag": "truncated", "engine": self.name})
            detected = self._language(out)
            if detected is not None and not languages.same_language(detected, target):
                flags.append({"flag": "wrong_language", "expected": target, "detected": detected})
        return SegmentTranslation([Hypothesis(out)], input_tokens=reply.prompt_tokens,
                                  output_tokens=reply.completion_tokens,
                                  metadata={"flags": flags})

    def _generate_one(self, text: str, options: DecodeOptions) -> SegmentTranslation:
        reply = self._ask(text, self._max_tokens(options, self.count_raw_tokens(text)))
        out = _ONE_LINE.sub(" ", clean_reply(reply.text, ""))
        flags: list[dict[str, object]] = []
        if is_refusal(out) or echoes_prompt(reply.text, text):
            flags.append({"flag": "untranslated", "reason": "refusal" if is_refusal(out) else "prompt echoed",
                          "engine": self.name})
            out = ""
        if reply.finish_reason == "length":
            flags.append({"flag": "truncated", "engine": self.name})
        return SegmentTranslation([Hypothesis(out)], input_tokens=reply.prompt_tokens,
                                  output_tokens=reply.completion_tokens,
                                  metadata={"flags": flags, "language": self._language(out)})

    def _language(self, text: str) -> str | None:
        if self.detector is None or sum(c.isalpha() for c in text) < MIN_LETTERS_TO_CHECK:
            return None
        try:
            return self.detector.detect(text).language  # type: ignore[attr-defined]
        except ServiceError:  # no letters it knows: nothing to compare
            return None
