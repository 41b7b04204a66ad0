"""The texts of one request go to the engine together: 64 one-sentence texts vs the same sentences as one text.

Three ways to translate the same 64 TICO-19 sentences through the pipeline (opus-mt-id-en-shape random model on
CTranslate2 int8, greedy, output fixed at 24 tokens a sentence, translation memory off, default glossary on):

- ``texts``: 64 texts in one call of ``Pipeline.translate_many`` (what ``POST /v1/translate`` with a list of
  texts and the LibreTranslate ``/translate`` with ``q`` as a list now do);
- ``one text``: the 64 sentences as one text (one line each);
- ``one by one``: 64 calls of ``Pipeline.translate``, one per text (what both endpoints did before).

The three are alternated in every round; medians. The multi-text request should cost about what one text costs.

    python bench/multitext.py [--texts 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "multitext-cpu.md")
    args = parser.parse_args()
    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({"id-en": OPUS})
    settings = Settings(models_dir=models_dir, catalog_path=catalog, memory="off", data_dir=CACHE / "data")
    pipeline = Pipeline(settings, EngineRouter(settings, Catalog.load(catalog)))
    sentences = list(dict.fromkeys(TICO.read_text(encoding="utf-8").splitlines()))[: args.texts]
    opts = DecodeOptions(beam_size=1, max_output_tokens=24, min_output_tokens=24)

    def request(text: str) -> TranslationRequest:
        return TranslationRequest(text, ["en"], "id", opts)

    def texts() -> None:
        assert all(r.ok and r.results[0].ok for r in pipeline.translate_many([request(s) for s in sentences]))

    def one_text() -> None:
        assert pipeline.translate(request("\n".join(sentences))).results[0].ok

    def one_by_one() -> None:
        for s in sentences:
            assert pipeline.translate(request(s)).results[0].ok

    ways = {"texts": texts, "one text": one_text, "one by one": one_by_one}
    pipeline.translate(request("Pemanasan."))  # load the engine
    times: dict[str, list[float]] = {name: [] for name in ways}
    ratios: dict[str, list[float]] = {"texts": [], "one by one": []}
    for _ in range(args.rounds):
        for name, way in ways.items():
            t0 = time.perf_counter()
            way()
            times[name].append(time.perf_counter() - t0)
        for name in ratios:  # ratios within the round: both sides ran seconds apart on the same machine state
            ratios[name].append(times[name][-1] / times["one text"][-1])
    lines = ["# Several texts in one request vs the same sentences as one text", "",
             machine_header(["ctranslate2"]).rstrip(),
             f"- input: {len(sentences)} distinct TICO-19 sentences (Indonesian), {sum(map(len, sentences)):,} "
             "characters",
             "- engine: opus-mt-id-en-shape random model, CTranslate2 int8, greedy, 24 output tokens per sentence; "
             "translation memory off; default glossary on; micro-batching on (the server's default)",
             f"- {args.rounds} rounds, the three ways alternated in each; medians; ratios per round, then their median",
             f"- command: `python bench/multitext.py --texts {args.texts} --rounds {args.rounds}`", "",
             "| way | seconds | cost vs one text |", "| --- | --- | --- |"]
    for name in ways:
        ratio = "1.00x" if name == "one text" else f"{median(ratios[name]):.2f}x"
        lines.append(f"| {name} | {median(times[name]):.2f} | {ratio} |")
    lines += ["", f"- {len(sentences)} texts in one request cost **{median(ratios['texts']):.2f}x** the same "
              f"sentences as one text (target: about 1x); one call per text, as before, cost "
              f"{median(ratios['one by one']):.2f}x.", ""]
    report = "\n".join(lines)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
