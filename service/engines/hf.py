"""What the two neural engines share: a Hugging Face tokenizer plus the model family's language signalling.

Families signal languages differently:

- Marian (OPUS-MT): one model per pair; multi-target models take a ``>>xxx<<`` token before the source;
- NLLB-200: source language token set on the tokenizer, target language token forced as first output;
- M2M100: like NLLB with ``__xx__`` tokens; mBART-50: like NLLB with ``xx_XX`` tokens;
- MADLAD-400 (T5 architecture): a ``<2xx>`` target-language token before the source text, no source token;
- T5/mT5: an instruction prefix in the source text (``prompts/translate.t5.txt``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service import languages
from service.catalog import ModelInfo
from service.engines.base import DecodeOptions, SegmentTranslation
from service.errors import ModelInvalid, UnsupportedPair
from service.prompts import load_prompt


class HFAdapter:
    """Tokenizer + family rules for one model. Thread-safe (the tokenizer's language is shared state)."""

    def __init__(self, info: ModelInfo, hf_dir: Path, default_max_input_tokens: int = 512):
        from transformers import AutoTokenizer

        self.info = info
        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(str(hf_dir))
        except Exception as exc:  # transformers raises many kinds here
            logging.getLogger(__name__).warning("loading the tokenizer in %s failed: %s", hf_dir, exc)
            raise ModelInvalid(f"The tokenizer of {info.id} in {hf_dir} cannot be loaded; pull or add the model "
                               "again.") from exc
        limit = getattr(self.tokenizer, "model_max_length", None)
        if not (isinstance(limit, int) and 0 < limit < 100_000):
            limit = default_max_input_tokens
        try:
            config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelInvalid(f"{hf_dir}/config.json of {info.id} cannot be read; "
                               "pull or add the model again.") from exc
        # Learned/sinusoidal position tables bound both sides; T5's relative positions bound neither.
        positions = config.get("max_position_embeddings") or config.get("n_positions")
        self.max_input_tokens = min(limit, positions) if positions else limit
        #: longest output the decoder can produce (start and language tokens take positions too)
        self.max_output_tokens = positions - 2 if positions else 1024
        self._lock = threading.Lock()
        self._prompt = load_prompt("translate.t5") if info.family == "t5" else None
        self._known_tokens: set[str] = set()

    # -- source side -------------------------------------------------------------------------------
    def _source_text(self, text: str, source: str, target: str) -> str:
        if self.info.family == "marian" and self.info.target_tokens:
            token = self.info.target_tokens.get(target)
            if token is None:
                raise UnsupportedPair(f"{self.info.id} has no target token for {target}.", source=source,
                                      target=target)
            return f"{token} {text}"
        if self.info.family == "madlad":
            return f"{self.madlad_token(source, target)} {text}"
        if self._prompt is not None:
            return self._prompt.render(source_name=languages.get(source).name,
                                       target_name=languages.get(target).name, text=text)
        return text

    def madlad_token(self, source: str, target: str) -> str:
        """``<2xx>`` for the target (the catalog's target_tokens where MADLAD's code differs, e.g. <2fil>)."""
        token = self.info.target_tokens.get(target) or f"<2{target}>"
        if token not in self._known_tokens:
            if self.tokenizer.convert_tokens_to_ids(token) in (None, self.tokenizer.unk_token_id):
                raise UnsupportedPair(f"{self.info.id} has no target token {token} for {target}.", source=source,
                                      target=target)
            self._known_tokens.add(token)
        return token

    def _set_source_language(self, source: str) -> None:
        family = self.info.family
        if family == "nllb":
            self.tokenizer.src_lang = languages.get(source).flores
        elif family == "m2m100":
            self.tokenizer.src_lang = source
        elif family == "mbart":
            code = languages.get(source).mbart
            if code is None:
                raise UnsupportedPair(f"{self.info.id} (mBART) cannot read {source}.", source=source)
            self.tokenizer.src_lang = code

    def encode(self, texts: list[str], source: str, target: str) -> list[list[int]]:
        prepared = [self._source_text(t, source, target) for t in texts]
        with self._lock:
            self._set_source_language(source)
            return [list(ids) for ids in self.tokenizer(prepared)["input_ids"]]

    def count_tokens(self, text: str, source: str, target: str) -> int:
        return len(self.encode([text], source, target)[0])

    def encode_raw(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            return [list(ids) for ids in self.tokenizer(texts)["input_ids"]]

    # -- target side -------------------------------------------------------------------------------
    def target_token(self, target: str) -> str | None:
        """The token the decoder must start with for ``target`` (None for Marian and T5)."""
        family = self.info.family
        if family == "nllb":
            return languages.get(target).flores
        if family == "m2m100":
            return f"__{target}__"
        if family == "mbart":
            code = languages.get(target).mbart
            if code is None:
                raise UnsupportedPair(f"{self.info.id} (mBART) cannot write {target}.", target=target)
            return code
        return None

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False).strip()


class AdapterEngine:
    """What CTranslate2 and transformers engines share: language signalling through the adapter, the output
    bound, and raw generation for summarisation. Subclasses implement ``_run`` (token ids in, results out)."""

    name = "adapter"

    def __init__(self, adapter: HFAdapter, output_bound: tuple[float, int], decode_budget: int = 0):
        self.adapter = adapter
        self.model = adapter.info.id
        self.max_input_tokens = adapter.max_input_tokens
        self.output_bound = output_bound
        #: hypothesis tokens one batch may decode (segments x beam x output bound; 0 = no bound)
        self.decode_budget = decode_budget

    def max_output(self, options: DecodeOptions, longest_input: int) -> int:
        """The request's bound, or ratio x the longest input + extra; never past the model's positions."""
        ratio, extra = self.output_bound
        return min(options.max_output_tokens or int(ratio * longest_input) + extra, self.adapter.max_output_tokens)

    def batch_limit(self, options: DecodeOptions, longest_input: int) -> int:
        """Segments one batch may hold within the decoding budget (setting ``max_batch_decode_tokens``): the
        micro-batcher gathers no more, and a longer batch is run as sub-batches of this size. 0 = no limit."""
        if not self.decode_budget:
            return 0
        per_segment = max(options.beam_size, options.n_best) * self.max_output(options, longest_input)
        return max(1, self.decode_budget // max(1, per_segment))

    def count_tokens(self, text: str, source: str, target: str) -> int:
        return self.adapter.count_tokens(text, source, target)

    def count_raw_tokens(self, text: str) -> int:
        return len(self.adapter.encode_raw([text])[0])

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        if not segments:
            return []
        ids = self.adapter.encode(list(segments), source, target)
        return self._run(ids, self.adapter.target_token(target), options)

    def generate(self, texts: Sequence[str], options: DecodeOptions) -> list[SegmentTranslation]:
        return self._run(self.adapter.encode_raw(list(texts)), None, options) if texts else []

    def _run(self, ids: list[list[int]], prefix_token: str | None,
             options: DecodeOptions) -> list[SegmentTranslation]:
        raise NotImplementedError
