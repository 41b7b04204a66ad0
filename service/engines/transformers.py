"""Hugging Face transformers ``generate()``: the reference path for every HF seq2seq family."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.engines.hf import AdapterEngine, HFAdapter
from service.errors import EngineFailed, ModelInvalid

log = logging.getLogger(__name__)


class TransformersEngine(AdapterEngine):
    name = "transformers"

    def __init__(self, adapter: HFAdapter, hf_dir: Path, device: str = "auto", threads: tuple[int, int] = (1, 1),
                 output_bound: tuple[float, int] = (2.0, 10), decode_budget: int = 0):
        import torch
        from transformers import AutoModelForSeq2SeqLM

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        super().__init__(adapter, output_bound, decode_budget if device == "cpu" else 0)
        if device == "cpu":
            torch.set_num_threads(threads[0])
        try:
            self.net: Any = AutoModelForSeq2SeqLM.from_pretrained(str(hf_dir)).to(device).eval()
        except (OSError, ValueError) as exc:
            log.warning("loading the model in %s failed: %s", hf_dir, exc)
            raise ModelInvalid(f"The model {self.model} in {hf_dir} cannot be loaded; pull or add it again."
                               ) from exc

    def _run(self, ids: list[list[int]], prefix_token: str | None,
             options: DecodeOptions) -> list[SegmentTranslation]:
        """One ``generate()`` per sub-batch within the decoding budget (longest inputs first, as CTranslate2
        orders its sub-batches), results in the callers' order."""
        limit = self.batch_limit(options, max(len(i) for i in ids))
        if not limit or limit >= len(ids):
            return self._generate(ids, prefix_token, options)
        order = sorted(range(len(ids)), key=lambda k: -len(ids[k]))
        out: list[SegmentTranslation | None] = [None] * len(ids)
        for at in range(0, len(order), limit):
            part = order[at:at + limit]
            for k, result in zip(part, self._generate([ids[k] for k in part], prefix_token, options), strict=True):
                out[k] = result
        return [r for r in out if r is not None]

    def _generate(self, ids: list[list[int]], prefix_token: str | None,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        import torch

        tok = self.adapter.tokenizer
        batch = tok.pad({"input_ids": ids}, return_tensors="pt").to(self.device)
        longest = max(len(i) for i in ids)
        n_best = options.n_best
        beams = max(options.beam_size, n_best)
        extra = 1 if prefix_token else 0  # the forced language token counts as a new token here
        kwargs: dict[str, Any] = {
            "num_beams": beams, "num_return_sequences": n_best, "do_sample": False,
            "max_new_tokens": extra + self.max_output(options, longest),
            "min_new_tokens": (options.min_output_tokens + extra) if options.min_output_tokens else None,
            "return_dict_in_generate": True, "output_scores": True,
            # Like CTranslate2, do not force an end token at the length limit: the text is the same (the
            # end token is never shown) and both engines then count output tokens alike.
            "forced_eos_token_id": None,
        }
        if prefix_token:
            kwargs["forced_bos_token_id"] = tok.convert_tokens_to_ids(prefix_token)
        try:
            with torch.inference_mode():
                generated = self.net.generate(**batch, **kwargs)
        except (RuntimeError, ValueError) as exc:
            log.warning("transformers generate() failed on %s: %s", self.model, exc)
            raise EngineFailed(f"transformers failed on {self.model}; the server log has the details.") from exc
        sequences = generated.sequences.tolist()
        scores = getattr(generated, "sequences_scores", None)
        eos = self.net.generation_config.eos_token_id
        eos_ids = set(eos) if isinstance(eos, list) else {eos}
        out = []
        for i, src_ids in enumerate(ids):
            hyps = []
            for j in range(n_best):
                k = i * n_best + j
                seq = sequences[k]
                score = float(scores[k]) if scores is not None else None
                hyps.append(Hypothesis(self.adapter.decode(seq), score))
            # generated = [decoder start, (forced language token), tokens..., eos, padding...]
            generated_ids = sequences[i * n_best][1 + extra:]
            cut = next((n for n, t in enumerate(generated_ids) if t in eos_ids), len(generated_ids))
            produced = cut
            out.append(SegmentTranslation(hyps, input_tokens=len(src_ids), output_tokens=produced))
        return out
