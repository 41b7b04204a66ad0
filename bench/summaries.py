"""Extractive summaries of long documents: time and peak memory, the sparse graph vs the dense matrices it replaced.

Documents of 200,000 characters (the limit max_document_chars) made from TICO-19's Indonesian sentences: one of
news-like prose (TICO-19 lines, ~150 characters a sentence), and one of short sentences (8 words each), which
has ~4,300 sentences; plus 291,000 characters of 6-word sentences (~7,700 sentences, over the cap of 5,000).
Each way runs in a fresh process (its peak RSS is the process's, libraries included), alternated over rounds;
medians. "dense" is the former algorithm (dense TF-IDF and similarity matrices, full LexRank graph), kept here
as the reference.

    python bench/summaries.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import REPO, SHARED, machine_header, median

TICO = SHARED / "eval" / "tico19" / "tico19-test.ind"

CHILD = r"""
import json, math, resource, sys, time
from collections import Counter
import numpy as np
from service.summaries import extractive
from service.summaries.options import SummaryOptions
from service.text.segment import Segmenter

def dense_select(sentences, lang, options):
    bags = [Counter(extractive._features(s, lang)) for s in sentences]
    n = len(bags)
    df = Counter(term for bag in bags for term in bag)
    vocab = {term: i for i, term in enumerate(sorted(df))}
    matrix = np.zeros((n, len(vocab)))
    for row, bag in enumerate(bags):
        for term, tf in bag.items():
            matrix[row, vocab[term]] = tf * math.log((1 + n) / (1 + df[term]) + 1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms == 0, 1, norms)
    similarity = matrix @ matrix.T
    graph = similarity.copy()
    np.fill_diagonal(graph, 0)
    rows = graph.sum(axis=1, keepdims=True)
    prior = 1 / (np.arange(n) + 1)
    prior /= prior.sum()
    transition = np.where(rows > 0, graph / np.where(rows == 0, 1, rows), prior)
    scores = np.full(n, 1 / n)
    for _ in range(200):
        updated = (1 - extractive.DAMPING) * prior + extractive.DAMPING * transition.T @ scores
        if np.abs(updated - scores).sum() < 1e-10:
            break
        scores = updated
    order = sorted(range(n), key=lambda i: (-round(float(updated[i]), 12), i))
    chosen = []
    for i in order:
        if len(chosen) >= options.sentence_budget(n):
            break
        if any(similarity[i, j] > extractive.NEAR_DUPLICATE for j in chosen):
            continue
        chosen.append(i)
    return [sentences[i] for i in sorted(chosen)]

way, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
sentences = extractive.candidate_sentences(text, "id", Segmenter(), False)
t0 = time.perf_counter()
if way == "dense":
    chosen = dense_select(sentences, "id", SummaryOptions(sentences=3))
else:
    chosen, _ = extractive.select(sentences, "id", SummaryOptions(sentences=3))
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sentences": len(sentences), "chosen": chosen}))
"""


def documents(folder: Path) -> dict[str, Path]:
    lines = [line for line in TICO.read_text(encoding="utf-8").splitlines() if line.strip()]
    words = " ".join(lines).split()
    out = {}

    def paragraphs(sentences: list[str], limit: int) -> str:
        text = "\n".join(" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6))
        while len(text) < limit:
            text += "\n" + text
        return text[:limit]

    out["200,000 characters of news prose"] = paragraphs(lines, 200_000)
    short = [" ".join(words[i:i + 8]).rstrip(".") + "." for i in range(0, len(words), 8)]
    out["200,000 characters of 8-word sentences"] = paragraphs(short, 200_000)
    shorter = [" ".join(words[i:i + 6]).rstrip(".") + "." for i in range(0, len(words), 6)]
    out["291,000 characters of 6-word sentences"] = paragraphs(shorter, 291_000)
    paths = {}
    for i, (name, text) in enumerate(out.items()):
        paths[name] = folder / f"doc{i}.txt"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "summaries-cpu.md")
    args = parser.parse_args()
    folder = REPO / "bench" / ".cache" / "summaries"
    folder.mkdir(parents=True, exist_ok=True)
    docs = documents(folder)
    env_path = str(REPO)
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):
        for name, path in docs.items():
            for way in ("dense", "sparse"):
                done = subprocess.run([sys.executable, "-c", CHILD, way, str(path)], capture_output=True, text=True,
                                      env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, check=True)
                results.setdefault((name, way), []).append(json.loads(done.stdout))
    lines = ["# Extractive summaries of long documents: sparse graph vs dense matrices", "",
             machine_header(["numpy", "scipy"]).rstrip(),
             f"- {args.rounds} rounds, each way in a fresh process, alternated; medians; peak RSS of the whole process",
             "- command: `python bench/summaries.py`", "",
             "| document | sentences | dense: seconds | dense: peak MiB | sparse: seconds | sparse: peak MiB | "
             "same summary |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in docs:
        dense, fast = results[(name, "dense")], results[(name, "sparse")]
        same = "yes" if dense[0]["chosen"] == fast[0]["chosen"] else "no"
        lines.append(f"| {name} | {dense[0]['sentences']:,} | {median([r['seconds'] for r in dense]):.1f} | "
                     f"{median([r['peak_mib'] for r in dense]):.0f} | {median([r['seconds'] for r in fast]):.2f} | "
                     f"{median([r['peak_mib'] for r in fast]):.0f} | {same} |")
    lines += ["", "- sparse keeps each sentence's 100 nearest neighbours and at most 5,000 candidate sentences "
              "(summary_max_sentences): a different summary is possible only beyond 101 sentences.", ""]
    report = "\n".join(lines)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
