"""An archive with realistic repetition, translated with the translation memory on vs off.

Documents of 10 sentences from TICO-19 (../shared/eval): each sentence is, with probability 0.3, a sentence
that already appeared in an earlier document (boilerplate recurs across an archive: press-release footers,
standard phrases), else the next unseen TICO-19 sentence. So 30% of the archive's sentences are repeats
(within one document the pipeline already translates a sentence once, so repeats are only across
documents). The archive is translated document by document through the pipeline (opus-mt-id-en-shape random
model on CTranslate2, output fixed at 24 tokens per sentence) with the memory off, then on (emptied first),
alternated over rounds; medians.

    python bench/archive.py [--documents 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from common import CACHE, OPUS, REPO, SHARED, ensure_model, machine_header, median, write_catalog

from service.catalog import Catalog
from service.config import Settings
from service.engines.base import DecodeOptions
from service.engines.router import EngineRouter
from service.pipeline import Pipeline, TranslationRequest
from tests.model_factory import OPUS_MT_ID_EN

TICO = SHARED / "eval" / "tico19" / "tico19-test.ind"


def archive(documents: int, repeat: float, seed: int = 1) -> tuple[list[str], float]:
    rng = random.Random(seed)
    unique = iter(dict.fromkeys(TICO.read_text(encoding="utf-8").splitlines()))
    earlier: list[str] = []  # sentences of the documents before this one
    docs, repeated, total = [], 0, 0
    for _ in range(documents):
        sentences: list[str] = []
        for _ in range(10):
            candidates = [s for s in earlier if s not in sentences]
            if candidates and rng.random() < repeat:
                sentences.append(rng.choice(candidates))
                repeated += 1
            else:
                sentences.append(next(unique))
            total += 1
        earlier.extend(s for s in sentences if s not in earlier)
        docs.append("\n".join(sentences))  # a sentence a line: each is one segment, as in a TICO-19 file
    return docs, repeated / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=60)
    parser.add_argument("--repeat", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "archive-cpu.md")
    args = parser.parse_args()
    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({"id-en": OPUS})
    settings = Settings(models_dir=models_dir, catalog_path=catalog, memory="lru", data_dir=CACHE / "data")
    router = EngineRouter(settings, Catalog.load(catalog))
    pipeline = Pipeline(settings, router)
    docs, share = archive(args.documents, args.repeat)
    times: dict[str, list[float]] = {"off": [], "on": []}
    hit_rates = []
    pipeline.translate(TranslationRequest("Pemanasan.", ["en"], "id"))  # load the engine
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            router.memory.clear()
            hits, misses = router.memory.hits, router.memory.misses
            opts = DecodeOptions(beam_size=1, max_output_tokens=24, min_output_tokens=24, use_memory=mode == "on")
            t0 = time.perf_counter()
            for doc in docs:
                result = pipeline.translate(TranslationRequest(doc, ["en"], "id", opts)).results[0]
                assert result.ok, result.error
            times[mode].append(time.perf_counter() - t0)
            if mode == "on":
                h, m = router.memory.hits - hits, router.memory.misses - misses
                hit_rates.append(h / (h + m))
    off, on = median(times["off"]), median(times["on"])
    lines = ["# Archive translation: translation memory on vs off", "",
             machine_header(["ctranslate2"]).rstrip(),
             f"- archive: {args.documents} documents x 10 TICO-19 sentences; {100 * share:.0f}% of the sentences "
             "repeat a sentence of an earlier document, the rest are distinct",
             "- engine: opus-mt-id-en-shape random model, CTranslate2 int8, greedy, 24 output tokens per sentence; "
             "default glossary on; the memory is emptied before every 'on' run",
             f"- {args.rounds} rounds, off/on alternated; medians",
             f"- command: `python bench/archive.py --documents {args.documents} --rounds {args.rounds}`", "",
             "| memory | seconds | documents/s |", "| --- | --- | --- |",
             f"| off | {off:.1f} | {args.documents / off:.2f} |",
             f"| on | {on:.1f} | {args.documents / on:.2f} |", "",
             f"- speed-up with the memory: **{off / on:.2f}x** (target: at least 1.3x); memory hit rate "
             f"{100 * median(hit_rates):.0f}% of segments", ""]
    report = "\n".join(lines)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
