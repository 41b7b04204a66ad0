"""Engine throughput: CTranslate2 int8 vs transformers generate() on the same weights.

The model has the real ``Helsinki-NLP/opus-mt-id-en`` shape (d_model 512, 6+6 layers, 8 heads, FFN 2048,
54,796-entry vocabulary) with random weights, so the output length is fixed (min = max new tokens) and both
engines do the same work. Configurations are alternated A/B within each round, and medians are reported.
A second section measures the pipeline's own overhead (segmentation, dedupe, batching, reassembly) as the
share of wall time spent outside the engine, on the same sentences.

    python bench/engines.py [--rounds 3] [--out-tokens 32] [--device cpu|cuda] [--output FILE]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from bench.common import machine_header, median  # noqa: E402
from service.catalog import Candidate, Catalog  # noqa: E402
from service.config import Settings  # noqa: E402
from service.engines.base import DecodeOptions  # noqa: E402
from service.engines.router import EngineRouter  # noqa: E402
from service.model_store import ModelStore  # noqa: E402
from service.pipeline import Pipeline, TranslationRequest  # noqa: E402
from tests.model_factory import OPUS_MT_ID_EN, build_marian  # noqa: E402

MODEL = "bench/opus-mt-id-en-shape"
CATALOG = f"""
[models."{MODEL}"]
family = "marian"
pairs = ["id-en"]
[routes]
"id-en" = ["ctranslate2:{MODEL}", "transformers:{MODEL}"]
"""


def sentences(n: int) -> list[str]:
    seed = (REPO / "examples" / "ascn-shepherd-2025.id.txt").read_text(encoding="utf-8")
    from service.text.segment import Segmenter

    pieces = [s.strip() for line in seed.splitlines() if line.strip() for s in Segmenter().split(line, "id")]
    out = []
    while len(out) < n:
        out.extend(pieces)
    return out[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-tokens", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache", type=Path, default=REPO / "bench" / ".cache", help="where the model is built")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "engines-cpu.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    store = ModelStore(args.cache / "models")
    if not store.has_ct2(MODEL):
        with tempfile.TemporaryDirectory() as tmp:
            store.add(build_marian(Path(tmp) / "m", OPUS_MT_ID_EN), MODEL)
    catalog_file = args.cache / "catalog.toml"
    catalog_file.write_text(CATALOG, encoding="utf-8")
    settings = Settings(models_dir=store.root, catalog_path=catalog_file, device=args.device)
    router = EngineRouter(settings, Catalog.load(catalog_file), store)
    info = router.catalog.models[MODEL]
    engines = {name: router.build(Candidate(name, info)) for name in ("ctranslate2", "transformers")}
    intra, inter = settings.threads

    n = args.out_tokens
    configs = [(beam, batch) for beam in (1, 4) for batch in (1, 16)]
    times: dict[tuple[str, int, int], list[float]] = {}
    tokens: dict[tuple[str, int, int], int] = {}
    for engine in engines.values():  # warm-up: first calls allocate
        engine.translate(sentences(2), "id", "en", DecodeOptions(beam_size=1, max_output_tokens=4))
    for _ in range(args.rounds):
        for beam, batch in configs:
            segs = sentences(batch)
            opts = DecodeOptions(beam_size=beam, max_output_tokens=n, min_output_tokens=n)
            for name, engine in engines.items():  # A then B, every round
                t0 = time.perf_counter()
                out = engine.translate(segs, "id", "en", opts)
                times.setdefault((name, beam, batch), []).append(time.perf_counter() - t0)
                tokens[(name, beam, batch)] = sum(t.output_tokens for t in out)

    # Pipeline overhead: the full path (segmentation, dedupe, batching, reassembly) vs the engine alone.
    doc_sentences = sentences(64)
    doc = "\n".join(" ".join(doc_sentences[i:i + 4]) for i in range(0, 64, 4))
    pipeline = Pipeline(settings, router)
    opts = DecodeOptions(beam_size=1, max_output_tokens=n, min_output_tokens=n)
    overhead = []
    for _ in range(args.rounds):
        result = pipeline.translate(TranslationRequest(doc, ["en"], "id", opts)).results[0]
        assert result.ok, result.error
        overhead.append((result.seconds - result.engine_seconds) / result.engine_seconds)

    lines = ["# Engine throughput: CTranslate2 int8 vs transformers generate()", "",
             machine_header(["ctranslate2", "torch", "transformers"]).rstrip(),
             f"- model: random weights, opus-mt-id-en shape (d_model 512, 6+6 layers, 8 heads, FFN 2048, "
             f"vocabulary {len(engines['ctranslate2'].adapter.tokenizer)}); output fixed at {n} tokens per sentence",
             f"- device {args.device}; CTranslate2 compute type {engines['ctranslate2'].compute_type}, "
             f"intra_threads {intra}, inter_threads {inter}; torch threads {intra}, float32",
             f"- {args.rounds} rounds, configurations alternated A/B within each round; medians",
             f"- command: `python bench/engines.py --rounds {args.rounds} --out-tokens {n} --device {args.device}`",
             "", "| beam | batch | CTranslate2 tok/s | transformers tok/s | ratio |", "| --- | --- | --- | --- | --- |"]
    for beam, batch in configs:
        rates = {name: tokens[(name, beam, batch)] / median(times[(name, beam, batch)]) for name in engines}
        lines.append(f"| {beam} | {batch} | {rates['ctranslate2']:.0f} | {rates['transformers']:.0f} | "
                     f"{rates['ctranslate2'] / rates['transformers']:.1f}x |")
    lines += ["", f"Pipeline overhead (time outside the engine / engine time, 64 sentences in 16 lines, CTranslate2 "
                  f"greedy): median {100 * median(overhead):.1f}% (rounds: "
                  f"{', '.join(f'{100 * o:.1f}%' for o in overhead)})", ""]
    report = "\n".join(lines)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
