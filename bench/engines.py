"""Engine throughput and the share of the machine's peak it reaches.

1. CTranslate2 int8 vs transformers generate() on the same weights, at the real opus-mt-id-en shape
   (d_model 512, 6+6 layers, FFN 2048, 54,796-entry vocabulary), greedy and beam 4, batch 1 and 16.
2. CTranslate2 at the NLLB-200-distilled-600M shape (d_model 1024, 12+12 layers, FFN 4096, 256,206-entry
   vocabulary; built as a Marian model with those dimensions: the same computation per token).
3. The full translation path (segmentation, glossary, length-sorted batching, micro-batcher, reassembly)
   against raw CTranslate2 ``translate_batch`` on the same sentences, at the opus shape.

Weights are random, so the output length is fixed (min = max new tokens) and every engine does the same work.
Configurations are alternated within each round; medians are reported. Share of peak = useful FLOP/s
(encoder FLOPs x input tokens + decoder FLOPs x output tokens, per second) / the FLOP/s of a 2048x2048 float32
matrix product on the same cores. Beam search does beam-size times the decoder work for the same output, so its
share is lower by construction.

    python bench/engines.py [--rounds 3] [--out-tokens 32] [--device cpu|cuda] [--skip-nllb]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

from common import (
    CACHE,
    NLLB,
    OPUS,
    REPO,
    ensure_model,
    machine_header,
    marian_flops,
    matmul_peak_gflops,
    median,
    seed_sentences,
    write_catalog,
)

from service.catalog import Candidate, Catalog
from service.config import Settings
from service.engines.base import DecodeOptions
from service.engines.router import EngineRouter
from service.pipeline import Pipeline, TranslationRequest
from tests.model_factory import OPUS_MT_ID_EN, Shape

NLLB_600M = Shape(d_model=1024, layers=12, heads=16, ffn=4096, vocab_size=8000, marian_vocab=256206,
                  max_positions=1024)


def rss_in_fresh_process(engine: str, model: str, settings: Settings) -> float:
    """RSS growth from building one engine (and translating one sentence), in a new process: what a worker
    pays for holding that model."""
    code = (
        "import sys; sys.path.insert(0, 'bench'); from common import rss_mib\n"
        "from service.catalog import Candidate, Catalog; from service.config import Settings\n"
        "from service.engines.router import EngineRouter; from service.engines.base import DecodeOptions\n"
        f"s = Settings(models_dir={str(settings.models_dir)!r}, catalog_path={str(settings.catalog_path)!r}, "
        "memory='off')\n"
        "import ctranslate2, torch, transformers; from transformers import AutoTokenizer\n"
        "r = EngineRouter(s, Catalog.load(s.catalog_path)); base = rss_mib()\n"
        f"e = r.build(Candidate({engine!r}, r.catalog.models[{model!r}]))\n"
        "e.translate(['Pertemuan tahunan.'], 'id', 'en', DecodeOptions(beam_size=1, max_output_tokens=8))\n"
        "print(rss_mib() - base)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure(engine, configs, rounds: int, n: int) -> tuple[dict, dict]:
    times: dict = {}
    tokens: dict = {}
    for _ in range(rounds):
        for beam, batch in configs:
            segs = seed_sentences(batch)
            opts = DecodeOptions(beam_size=beam, max_output_tokens=n, min_output_tokens=n, use_memory=False)
            t0 = time.perf_counter()
            out = engine.translate(segs, "id", "en", opts)
            times.setdefault((beam, batch), []).append(time.perf_counter() - t0)
            tokens[(beam, batch)] = (sum(t.input_tokens for t in out), sum(t.output_tokens for t in out))
    return times, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-nllb", action="store_true")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "engines-cpu.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n, rounds = args.out_tokens, args.rounds

    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    pairs = {"id-en": OPUS}
    if not args.skip_nllb:
        ensure_model(NLLB, NLLB_600M)
        pairs["id-ms"] = NLLB
    catalog_file = write_catalog(pairs)
    settings = Settings(models_dir=models_dir, catalog_path=catalog_file, device=args.device, memory="off",
                        data_dir=CACHE / "data")
    router = EngineRouter(settings, Catalog.load(catalog_file))
    memory: list[str] = []

    def load(engine_name: str, model: str):
        memory.append(f"| {model} | {engine_name} | {rss_in_fresh_process(engine_name, model, settings):.0f} MiB |")
        return router.build(Candidate(engine_name, router.catalog.models[model]))

    ct2, hf = load("ctranslate2", OPUS), load("transformers", OPUS)
    peak = matmul_peak_gflops()
    configs = [(beam, batch) for beam in (1, 4) for batch in (1, 16)]
    for engine in (ct2, hf):  # warm-up
        engine.translate(seed_sentences(2), "id", "en", DecodeOptions(beam_size=1, max_output_tokens=4,
                                                                        use_memory=False))
    times_a: dict = {}
    tokens_a: dict = {}
    times_b: dict = {}
    tokens_b: dict = {}
    for _ in range(rounds):  # A/B alternated: one round of each engine, then again
        ta, ka = measure(ct2, configs, 1, n)
        tb, kb = measure(hf, configs, 1, n)
        for key in configs:
            times_a.setdefault(key, []).extend(ta[key])
            times_b.setdefault(key, []).extend(tb[key])
        tokens_a, tokens_b = ka, kb

    enc, dec = marian_flops(OPUS_MT_ID_EN, 40)

    def share(tokens: tuple[int, int], seconds: float) -> float:
        return (tokens[0] * enc + tokens[1] * dec) / seconds / (peak * 1e9)

    intra, inter = settings.threads
    lines = ["# Engine throughput and share of the machine's peak", "",
             machine_header(["ctranslate2", "torch", "transformers"]).rstrip(),
             f"- peak: float32 2048x2048 matrix product (torch, {intra} threads): {peak:.1f} GFLOP/s",
             f"- output fixed at {n} tokens per sentence; {rounds} rounds, engines alternated within each round; "
             "medians",
             f"- device {args.device}; CTranslate2 compute type {ct2.compute_type}, intra_threads {intra}, "
             f"inter_threads {inter}; transformers float32, torch threads {intra}",
             f"- command: `python bench/engines.py --rounds {rounds} --out-tokens {n}`", "",
             "## opus-mt-id-en shape (d_model 512, 6+6 layers, FFN 2048, vocabulary 54,796)", "",
             f"FLOPs: {enc / 1e6:.0f} M per source token (encoder), {dec / 1e6:.0f} M per output token (decoder "
             "with output projection)", "",
             "| beam | batch | CTranslate2 int8 tok/s | share of peak | transformers tok/s | share of peak | ratio |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for key in configs:
        ta, tb = median(times_a[key]), median(times_b[key])
        ra, rb = tokens_a[key][1] / ta, tokens_b[key][1] / tb
        lines.append(f"| {key[0]} | {key[1]} | {ra:.0f} | {100 * share(tokens_a[key], ta):.1f}% | {rb:.0f} | "
                     f"{100 * share(tokens_b[key], tb):.1f}% | {ra / rb:.1f}x |")

    if not args.skip_nllb:
        big = load("ctranslate2", NLLB)
        big.translate(seed_sentences(2), "id", "ms", DecodeOptions(beam_size=1, max_output_tokens=4,
                                                                     use_memory=False))
        enc_b, dec_b = marian_flops(NLLB_600M, 40)
        lines += ["", "## NLLB-200-distilled-600M shape (d_model 1024, 12+12 layers, FFN 4096, vocabulary 256,206)",
                  "", f"FLOPs: {enc_b / 1e6:.0f} M per source token, {dec_b / 1e6:.0f} M per output token", "",
                  "| beam | batch | CTranslate2 int8 tok/s | share of peak |", "| --- | --- | --- | --- |"]
        for beam, batch in configs:
            segs = seed_sentences(batch)
            opts = DecodeOptions(beam_size=beam, max_output_tokens=n, min_output_tokens=n, use_memory=False)
            runs = []
            for _ in range(max(1, rounds - 1)):
                t0 = time.perf_counter()
                out = big.translate(segs, "id", "ms", opts)
                runs.append(time.perf_counter() - t0)
            t = median(runs)
            toks = (sum(o.input_tokens for o in out), sum(o.output_tokens for o in out))
            useful = (toks[0] * enc_b + toks[1] * dec_b) / t / (peak * 1e9)
            lines.append(f"| {beam} | {batch} | {toks[1] / t:.0f} | {100 * useful:.1f}% |")

    # The full path vs raw CTranslate2 on the same 64 sentences (greedy, fixed output length).
    sentences = seed_sentences(64)
    doc = "\n".join(" ".join(sentences[i:i + 4]) for i in range(0, 64, 4))
    pipeline = Pipeline(settings, router)
    translator = ct2.inner.translator if hasattr(ct2, "inner") else ct2.translator
    tok = ct2.adapter.tokenizer
    raw_tokens = [tok.convert_ids_to_tokens(ids) for ids in ct2.adapter.encode(sentences, "id", "en")]
    opts = DecodeOptions(beam_size=1, max_output_tokens=n, min_output_tokens=n, use_memory=False)
    raw_rates, full_rates, overhead = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = translator.translate_batch(raw_tokens, max_batch_size=16, beam_size=1, max_decoding_length=n,
                                         min_decoding_length=n)
        raw_rates.append(sum(len(r.hypotheses[0]) for r in out) / (time.perf_counter() - t0))
        result = pipeline.translate(TranslationRequest(doc, ["en"], "id", opts)).results[0]
        assert result.ok, result.error
        full_rates.append(result.output_tokens / result.seconds)
        overhead.append((result.seconds - result.engine_seconds) / result.engine_seconds)
    lines += ["", "## The full translation path vs raw CTranslate2 (opus shape, greedy, 64 sentences)", "",
              "Raw: `translate_batch` on pre-tokenized sentences, batches of 16. Full: `Pipeline.translate` on the "
              "same sentences as a 16-line document: segmentation, the default glossary (terms protected and "
              "restored), length-sorted batches, the micro-batcher (5 ms wait), reassembly.", "",
              f"- raw CTranslate2: {median(raw_rates):.0f} output tok/s",
              f"- full path: {median(full_rates):.0f} output tok/s = "
              f"**{100 * median(full_rates) / median(raw_rates):.0f}%"
              f"** of raw",
              f"- time outside the engine: {100 * median(overhead):.1f}% of engine time", "",
              "## Resident memory per model", "",
              "RSS growth of a fresh process from building the engine and translating one sentence, after "
              "importing torch, transformers and CTranslate2 (what each worker pays per model it holds). The "
              "libraries come on top, once per process: about 300 MiB for torch + transformers.", "",
              "| model | engine | RSS |", "| --- | --- | --- |",
              *memory, ""]
    report = "\n".join(lines)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
