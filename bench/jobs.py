"""Batch-job throughput against `eval` on the same sentences: a job of many small documents.

The same TICO-19 sentences (distinct) are translated three ways, in one process, alternated over rounds:

- ``eval``: what ``python -m service eval`` does, one pipeline call over every sentence (a line each);
- ``job``: a batch job of documents of ``--sentences`` sentences each, processed chunk by chunk as the workers and
  ``python -m service batch`` do (``run_chunk``: a chunk's ``job_chunk_documents`` documents go through
  ``Pipeline.translate_many`` together), results written to the job store (SQLite);
- ``job, one by one``: the same job with every document a chunk of its own (how jobs were translated before).

Engine: the opus-mt-id-en-shape random model on CTranslate2 int8, beam 4, the default output bound (2 x source +
10 tokens: random weights never emit the end token, so each sentence is decoded to its bound), translation memory
and default glossary off, the default threads (one translator replica per core). Reports sentences/s and the
ratio to eval (medians over rounds).

    python bench/jobs.py [--documents 120] [--sentences 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import CACHE, OPUS, REPO, SHARED, ensure_model, machine_header, median, write_catalog

from service.config import Settings
from service.engines.base import DecodeOptions
from service.engines.router import EngineRouter
from service.jobs.processing import run_chunk
from service.jobs.service import JobService
from service.jobs.store import JobStore, NewDocument
from service.pipeline import Pipeline, TranslationRequest
from tests.model_factory import OPUS_MT_ID_EN

TICO = SHARED / "eval" / "tico19" / "tico19-test.ind"


def run_job(settings: Settings, pipeline: Pipeline, docs: list[str], chunk: int) -> float:
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        store = JobStore(f"sqlite:///{Path(tmp) / 'jobs.sqlite'}")
        jobs = JobService(settings, store, pipeline, enqueue=lambda job_id, positions: None)
        t0 = time.perf_counter()
        job, _ = jobs.submit([NewDocument(f"d{i}", d) for i, d in enumerate(docs)], ["en"], "id", [], None,
                             settings.beam_size, None)
        positions = store.pending_positions(job.id)
        for at in range(0, len(positions), chunk):
            assert not run_chunk(store, pipeline, job.id, positions[at:at + chunk], settings.job_max_attempts).retry
        seconds = time.perf_counter() - t0
        assert jobs.status(job.id)["counts"]["done"] == len(docs)
        return seconds


def run_eval(pipeline: Pipeline, sentences: list[str]) -> float:
    t0 = time.perf_counter()
    result = pipeline.translate(TranslationRequest("\n".join(sentences), ["en"], "id", DecodeOptions(),
                                                   glossaries=[], layout="keep")).results[0]
    assert result.ok and len((result.text or "").split("\n")) == len(sentences)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=120)
    parser.add_argument("--sentences", type=int, default=2, help="sentences per document")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "jobs-cpu.md")
    args = parser.parse_args()
    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({"id-en": OPUS})
    settings = Settings(models_dir=models_dir, catalog_path=catalog, memory="off", default_glossaries="",
                        data_dir=CACHE / "data")
    pipeline = Pipeline(settings, EngineRouter(settings))
    unique = [s for s in dict.fromkeys(TICO.read_text(encoding="utf-8").splitlines()) if s.strip()]
    sentences = unique[:args.documents * args.sentences]
    docs = ["\n".join(sentences[i:i + args.sentences]) for i in range(0, len(sentences), args.sentences)]
    run_eval(pipeline, sentences[:8])  # load the engine
    times: dict[str, list[float]] = {"eval": [], "job": [], "job, one by one": []}
    for _ in range(args.rounds):
        times["eval"].append(run_eval(pipeline, sentences))
        times["job"].append(run_job(settings, pipeline, docs, settings.job_chunk_documents))
        times["job, one by one"].append(run_job(settings, pipeline, docs, 1))
    rate = {mode: len(sentences) / median(t) for mode, t in times.items()}
    lines = ["# Batch jobs: throughput against eval on the same sentences", "",
             machine_header(["ctranslate2"]).rstrip(),
             f"- {len(sentences)} distinct TICO-19 sentences; the job has {len(docs)} documents of {args.sentences} "
             f"sentences, in chunks of {settings.job_chunk_documents} (job_chunk_documents), processed as the "
             "workers do (run_chunk, results in a SQLite job store); one by one = every document its own chunk",
             "- engine: opus-mt-id-en-shape random model, CTranslate2 int8, beam 4, output bound 2 x source + 10, "
             f"threads (intra, inter) = {settings.threads}; memory and default glossary off",
             f"- {args.rounds} rounds, modes alternated in each; medians; one run on a shared 2-core machine: read "
             "the ratios",
             f"- command: `python bench/jobs.py --documents {args.documents} --sentences {args.sentences} "
             f"--rounds {args.rounds}`", "",
             "| mode | seconds | sentences/s | vs eval |", "| --- | --- | --- | --- |"]
    for mode, t in times.items():
        lines.append(f"| {mode} | {median(t):.1f} | {rate[mode]:.2f} | {100 * rate[mode] / rate['eval']:.0f}% |")
    lines += ["", f"- a job of small documents runs at **{100 * rate['job'] / rate['eval']:.0f}%** of eval's "
                  f"throughput (goal: at least 90%); document by document it ran at "
                  f"{100 * rate['job, one by one'] / rate['eval']:.0f}%", ""]
    report = "\n".join(lines)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
