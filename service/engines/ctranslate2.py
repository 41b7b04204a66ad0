"""CTranslate2: the fast inference path (int8 on CPU, float16 on CUDA) for converted HF weights."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.engines.hf import AdapterEngine, HFAdapter
from service.errors import EngineFailed, ModelInvalid

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class CTranslate2Engine(AdapterEngine):
    name = "ctranslate2"

    def __init__(self, adapter: HFAdapter, ct2_dir: Path, device: str = "auto", compute_type: str = "auto",
                 threads: tuple[int, int] = (1, 1), output_bound: tuple[float, int] = (2.0, 10),
                 length_penalty: float = 1.0, decode_budget: int = 0):
        import ctranslate2

        self.device = resolve_device(device)
        super().__init__(adapter, output_bound, decode_budget if self.device == "cpu" else 0)
        if compute_type == "auto":
            compute_type = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type
        self.length_penalty = length_penalty
        intra, inter = threads
        #: translator replicas (inter_threads): the micro-batcher keeps one batch in flight per replica
        self.parallel_batches = inter
        try:
            self.translator = ctranslate2.Translator(
                str(ct2_dir), device=self.device, compute_type=compute_type,
                intra_threads=intra, inter_threads=inter,
            )
        except (RuntimeError, ValueError) as exc:
            log.warning("loading the CTranslate2 model in %s failed: %s", ct2_dir, exc)
            raise ModelInvalid(f"The CTranslate2 model in {ct2_dir} cannot be loaded; pull or add {self.model} "
                               "again.") from exc

    def replica_share(self, segments: int) -> int:
        """Segments per sub-batch of one call: a call that finds every replica idle (a lone document, a job's
        chunk) is spread over all of them, so that its batch uses every core; under load each replica already
        has a batch of its own (the micro-batcher's), and splitting would only shrink them (0 = no split)."""
        replicas = self.parallel_batches
        if replicas < 2 or segments < 2 or self.translator.num_active_batches or self.translator.num_queued_batches:
            return 0
        return math.ceil(segments / replicas)

    def sub_batch(self, options: DecodeOptions, segments: int, longest_input: int) -> int:
        """CTranslate2's ``max_batch_size`` for one call (0 = one batch): the replicas' share, and never more
        than the decoding budget allows (sub-batches queue for the replicas, which take them as they free up)."""
        sizes = [self.replica_share(segments)]
        limit = self.batch_limit(options, longest_input)
        if limit and limit < segments:
            sizes.append(limit)
        return min((s for s in sizes if s), default=0)

    def _run(self, ids: list[list[int]], prefix_token: str | None,
             options: DecodeOptions) -> list[SegmentTranslation]:
        tok = self.adapter.tokenizer
        tokens = [tok.convert_ids_to_tokens(i) for i in ids]
        longest = max(len(t) for t in tokens)
        max_len = self.max_output(options, longest)
        try:
            results = self.translator.translate_batch(
                tokens,
                max_batch_size=self.sub_batch(options, len(tokens), longest),
                target_prefix=[[prefix_token]] * len(tokens) if prefix_token else None,
                beam_size=max(options.beam_size, options.n_best),
                num_hypotheses=options.n_best,
                max_decoding_length=max_len + (1 if prefix_token else 0),
                min_decoding_length=options.min_output_tokens,
                length_penalty=self.length_penalty,
                return_scores=True,
            )
        except RuntimeError as exc:
            log.warning("CTranslate2 failed on %s: %s", self.model, exc)
            raise EngineFailed(f"CTranslate2 failed on {self.model}; the server log has the details.") from exc
        out = []
        for src_tokens, result in zip(tokens, results, strict=True):
            hyps = []
            produced = 0
            for hyp_tokens, score in zip(result.hypotheses, result.scores, strict=True):
                if prefix_token and hyp_tokens and hyp_tokens[0] == prefix_token:
                    hyp_tokens = hyp_tokens[1:]
                produced = produced or len(hyp_tokens)
                text = self.adapter.decode(tok.convert_tokens_to_ids(hyp_tokens))
                hyps.append(Hypothesis(text, score))
            out.append(SegmentTranslation(hyps, input_tokens=len(src_tokens), output_tokens=produced))
        return out
