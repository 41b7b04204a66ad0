"""How time and peak memory grow with the work: document length, targets, concurrency, glossary size, job size.

Five curves, each point in a fresh process (so its peak RSS, VmHWM, is that point's own), on the
opus-mt-id-en-shape random model (CTranslate2 int8, default threads). To show the service's own costs rather than
the model's, decoding is greedy with a fixed output of 8 tokens per sentence (random weights never stop by
themselves); translation memory off. The time is that of the work alone (the model is loaded and warmed first).

- document length: one document of N paragraphs (a distinct TICO-19 sentence each), 1 to 1,000;
- targets: a 20-paragraph document into 1 to 8 target languages (every pair routed to the bench model);
- concurrency: N clients (threads) each sending one single-sentence request through the micro-batcher, 1 to 64;
- glossary size: the 20-paragraph document with a glossary of 63 (the built-in one) to 100,000 entries
  (bench/glossary_scale.py's synthetic Indonesian terms); the time is translating with the glossary in use, the
  load and index time is reported beside it;
- job size: a batch job of N one-sentence documents processed chunk by chunk (run_chunk, SQLite job store),
  10 to ``--max-job`` (3,000 by default: 10,000 takes many minutes on 2 cores and grows the same way).

Points are kept in bench/.cache/scaling-points.json as they are measured, so an interrupted run resumes;
``--remeasure document,jobs`` (or ``all``) measures those curves again.

Writes bench/results/scaling.md, one PNG per curve (scaling-<curve>.png) and scaling.png (all five, for the
README). The growth exponent is the slope of log(time) against log(size) over the last two points: 1 is linear.

    python bench/scaling.py [--quick] [--max-job 3000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import CACHE, OPUS, REPO, SHARED, ensure_model, machine_header, write_catalog

TICO = SHARED / "eval" / "tico19" / "tico19-test.ind"
TARGETS = ["en", "ms", "th", "vi", "tl", "km", "lo", "my"]
CURVES = {
    "document": ("paragraphs in one document", [1, 10, 100, 1000]),
    "targets": ("target languages", [1, 2, 4, 8]),
    "concurrency": ("concurrent requests", [1, 4, 16, 64]),
    "glossary": ("glossary entries", [63, 1000, 10_000, 100_000]),
    "jobs": ("documents in a job", [10, 100, 1000, 3000]),
}
QUICK = {"document": [1, 10, 100], "targets": [1, 2, 4], "concurrency": [1, 4, 16], "glossary": [63, 1000, 10_000],
         "jobs": [10, 100, 300]}


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sentences(n: int) -> list[str]:
    unique = [s for s in dict.fromkeys(TICO.read_text(encoding="utf-8").splitlines()) if s.strip()]
    return [unique[i % len(unique)] for i in range(n)]


def point(curve: str, size: int) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    from service.config import Settings
    from service.engines.base import DecodeOptions
    from service.engines.router import EngineRouter
    from service.pipeline import Pipeline, TranslationRequest
    from tests.model_factory import OPUS_MT_ID_EN

    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({f"id-{t}": OPUS for t in TARGETS})
    settings = Settings(models_dir=models_dir, catalog_path=catalog, memory="off", default_glossaries="",
                        beam_size=1, data_dir=CACHE / "data")
    router = EngineRouter(settings)
    pipeline = Pipeline(settings, router)
    options = DecodeOptions(beam_size=1, max_output_tokens=8, min_output_tokens=8, use_memory=False)
    pipeline.translate(TranslationRequest("Pemanasan mesin.", ["en"], "id", options))  # load and warm
    extra: dict[str, float] = {}
    doc20 = "\n\n".join(sentences(20))
    if curve == "document":
        text = "\n\n".join(sentences(size))
        t0 = time.perf_counter()
        assert pipeline.translate(TranslationRequest(text, ["en"], "id", options)).ok
    elif curve == "targets":
        for t in TARGETS[:size]:
            pipeline.translate(TranslationRequest("Pemanasan mesin.", [t], "id", options))
        t0 = time.perf_counter()
        assert pipeline.translate(TranslationRequest(doc20, TARGETS[:size], "id", options)).ok
    elif curve == "concurrency":
        texts = sentences(size)
        barrier = threading.Barrier(size + 1)
        failures: list[BaseException] = []

        def client(i: int) -> None:
            barrier.wait()
            try:
                pipeline.translate(TranslationRequest(texts[i], ["en"], "id", options))
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(size)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        assert not failures, failures
    elif curve == "glossary":
        from glossary_scale import glossary_file

        from service.terminology.glossary import GlossaryStore

        folder = Path(tempfile.mkdtemp(dir=CACHE))
        name = "asean-smart-cities"
        source = REPO / "glossary" / f"{name}.csv" if size == 63 else glossary_file(size)
        (folder / f"{name}.csv").write_bytes(source.read_bytes())
        t_load = time.perf_counter()
        pipeline = Pipeline(settings, router, glossaries=GlossaryStore(folder))
        pipeline.translate(TranslationRequest("Pemanasan mesin.", ["en"], "id", options, glossaries=[name]))
        extra["load_s"] = time.perf_counter() - t_load
        t0 = time.perf_counter()
        assert pipeline.translate(TranslationRequest(doc20, ["en"], "id", options, glossaries=[name])).ok
    elif curve == "jobs":
        from service.jobs.processing import run_chunk
        from service.jobs.service import JobService
        from service.jobs.store import JobStore, NewDocument

        folder = Path(tempfile.mkdtemp(dir=CACHE))
        store = JobStore(f"sqlite:///{folder / 'jobs.sqlite'}")
        jobs = JobService(settings, store, pipeline, enqueue=lambda job_id, positions: None)
        docs = [NewDocument(f"d{i}", s) for i, s in enumerate(sentences(size))]
        t0 = time.perf_counter()
        job, _ = jobs.submit(docs, ["en"], "id", [], None, 1, None)
        positions = store.pending_positions(job.id)
        chunk = settings.job_chunk_documents
        for at in range(0, len(positions), chunk):
            run_chunk(store, pipeline, job.id, positions[at:at + chunk], settings.job_max_attempts)
        assert jobs.status(job.id)["counts"]["done"] == size
    else:
        raise SystemExit(f"unknown curve {curve}")
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib(), **extra}


#: measured points, kept so that an interrupted run goes on where it stopped (--remeasure drops curves)
POINTS = CACHE / "scaling-points.json"


def measure(curve: str, size: int) -> dict[str, float]:
    done = json.loads(POINTS.read_text()) if POINTS.exists() else {}
    key = f"{curve}:{size}"
    if key not in done:
        out = subprocess.run([sys.executable, __file__, "--point", curve, str(size)], check=True,
                             capture_output=True, text=True, cwd=REPO / "bench").stdout
        done[key] = json.loads(out.strip().splitlines()[-1])
        POINTS.write_text(json.dumps(done, indent=1))
    return done[key]


def exponent(rows: list[tuple[int, dict[str, float]]]) -> float:
    (a, ra), (b, rb) = rows[-2], rows[-1]
    return math.log(rb["seconds"] / ra["seconds"]) / math.log(b / a)


def input_tokens(curve: str, size: int) -> int:
    """Source tokens the point translates (TICO-19's first lines are short, later ones longer: 10 tokens on
    average over the first 100, 32 over the first 1,000), so that growth can be read per token too."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(CACHE / "models" / OPUS.replace("/", "--") / "hf" / "source.spm"))
    if curve in ("document", "concurrency", "jobs"):
        return sum(len(sp.encode(s)) for s in sentences(size))
    per_doc = sum(len(sp.encode(s)) for s in sentences(20))
    return per_doc * size if curve == "targets" else per_doc


def token_exponent(curve: str, rows: list[tuple[int, dict[str, float]]]) -> float:
    (a, ra), (b, rb) = rows[-2], rows[-1]
    ta, tb = input_tokens(curve, a), input_tokens(curve, b)
    return math.log(rb["seconds"] / ra["seconds"]) / math.log(tb / ta) if tb != ta else float("nan")


def plot(curve: str, label: str, rows: list[tuple[int, dict[str, float]]], ax) -> None:
    xs = [x for x, _ in rows]
    ys = [r["seconds"] for _, r in rows]
    ax.loglog(xs, ys, "o-", label="measured")
    ax.loglog(xs, [ys[-1] * x / xs[-1] for x in xs], "--", color="grey", label="linear (through the last point)")
    ax.set_xlabel(label)
    ax.set_ylabel("seconds")
    per_token = token_exponent(curve, rows)
    tokens = f", per input token ^{per_token:.2f}" if not math.isnan(per_token) else ""
    ax.set_title(f"{curve}: growth ^{exponent(rows):.2f}{tokens}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--point", nargs=2, metavar=("CURVE", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="smaller grids (a few minutes)")
    parser.add_argument("--max-job", type=int, default=3000, help="largest job of the job-size curve")
    parser.add_argument("--remeasure", default="", help="curves to measure again (comma-separated; 'all')")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "scaling.md")
    args = parser.parse_args()
    if args.point:
        print(json.dumps(point(args.point[0], int(args.point[1]))))
        return
    if args.remeasure and POINTS.exists():
        drop = set(CURVES) if args.remeasure == "all" else set(args.remeasure.split(","))
        kept = {k: v for k, v in json.loads(POINTS.read_text()).items() if k.split(":")[0] not in drop}
        POINTS.write_text(json.dumps(kept, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for curve, (_, sizes) in CURVES.items():
        if args.quick:
            sizes = QUICK[curve]
        elif curve == "jobs":
            sizes = sorted({*(s for s in sizes if s < args.max_job), args.max_job})
        results[curve] = []
        for size in sizes:
            r = measure(curve, size)
            print(f"{curve} {size}: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB "
                  f"{json.dumps(r)}", flush=True)
            results[curve].append((size, r))
    out_dir = args.output.parent
    fig, axes = plt.subplots(1, len(CURVES), figsize=(4 * len(CURVES), 3.6))
    for ax, (curve, rows) in zip(axes, results.items(), strict=True):
        plot(curve, CURVES[curve][0], rows, ax)
        single, one = plt.subplots(figsize=(5, 3.8))
        plot(curve, CURVES[curve][0], rows, one)
        single.tight_layout()
        single.savefig(out_dir / f"scaling-{curve}.png", dpi=110)
        plt.close(single)
    fig.suptitle("asean-mt: time as the work grows (log-log; dashed = linear)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_dir / "scaling.png", dpi=110)
    lines = ["# Scaling: time and peak memory as the work grows", "",
             machine_header(["ctranslate2"]).rstrip(),
             "- opus-mt-id-en-shape random model, CTranslate2 int8, default threads; greedy, 8 output tokens per "
             "sentence (the service's own costs, not the model's), translation memory off; each point in a fresh "
             "process (peak RSS = its VmHWM, model included); times of the work alone",
             "- growth exponent: slope of log(time) vs log(size) over the last two points (1 = linear, < 1 better); "
             "the documents, requests and job documents are TICO-19's first N lines, which get longer with N "
             "(10 tokens on average over the first 100, 32 over the first 1,000), so the exponent against input "
             "tokens is given too",
             "- one run on a 2-core machine shared with other work: small times are noisy",
             f"- command: `python bench/scaling.py{' --quick' if args.quick else ''}"
             f"{f' --max-job {args.max_job}' if args.max_job != 3000 else ''}`", ""]
    for curve, rows in results.items():
        label = CURVES[curve][0]
        extra = "load + index s | " if curve == "glossary" else ""
        lines += [f"## {curve}: {label}", "", f"![{curve}](scaling-{curve}.png)", "",
                  f"| {label} | input tokens | seconds | seconds per unit | ms per input token | {extra}peak RSS |",
                  f"| --- | --- | --- | --- | --- | {'--- | ' if extra else ''}--- |"]
        for size, r in rows:
            load = (f"{r['load_s']:.2f} | " if "load_s" in r else "n/a | ") if curve == "glossary" else ""
            tokens = input_tokens(curve, size)
            lines.append(f"| {size:,} | {tokens:,} | {r['seconds']:.2f} | {r['seconds'] / size:.4f} | "
                         f"{1000 * r['seconds'] / tokens:.2f} | {load}{r['peak_rss_mib']:.0f} MiB |")
        per_token = token_exponent(curve, rows)
        by_tokens = f"; against input tokens **{per_token:.2f}**" if not math.isnan(per_token) else ""
        lines += ["", f"- growth exponent against {label} **{exponent(rows):.2f}**{by_tokens}", ""]
    text = "\n".join(lines)
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
