"""Glossaries at national scale: load, index and term-finding time and memory for 10,000 to 1,000,000 entries.

The glossary is synthetic but made of real Indonesian: every distinct 1- to 4-word n-gram of TICO-19's Indonesian
side and of the seed article (lower-cased), then the words of wordfreq's Indonesian list, then pairs of those
words (seeded), until there are N entries; columns id, en, ms (the target forms are the source n-gram with a
marker: their content does not change the matching work). Written once to bench/.cache/.

Each size runs in a fresh process (its memory is that process's RSS growth):
- load: parse the CSV file into entries (what a worker does with a built-in glossary file);
- index: build what finds terms for one source language. With this code: one automaton for id, serving en and ms
  alike (built once); before (regex alternation per pair): the id->ms matcher, and id->en costs as much again;
- find: every term of the example article, median of repeats (the whole article at once, and sentence by
  sentence through TermLayer.protect, as the pipeline does), beside the same with the 63-entry built-in glossary;
- with this code also: a TBX file of the same entries parsed, the entries imported into a managed glossary in
  SQLite, and loaded back (what every worker does when a managed glossary changes).

    python bench/glossary_scale.py [--sizes 10000,100000,1000000] [--out bench/results/glossary-scale.md]
    python bench/glossary_scale.py --label before --sizes 10000,100000   # run from a checkout of the old code
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from common import CACHE, REPO, machine_header

TICO = next((p for p in (REPO.parent / "shared", Path("/work/shared")) if p.is_dir()), REPO.parent / "shared"
            ) / "eval" / "tico19" / "tico19-test.ind"
SEED = REPO / "examples" / "ascn-shepherd-2025.id.txt"
WORD = r"[^\W\d_]+(?:-[^\W\d_]+)*"


def ngrams(max_n: int = 4) -> list[str]:
    import regex

    out: dict[str, None] = {}
    for path in (SEED, TICO):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = regex.findall(WORD, line.lower())
            for n in range(1, max_n + 1):
                for i in range(len(words) - n + 1):
                    out[" ".join(words[i:i + n])] = None
    return list(out)


def glossary_file(size: int) -> Path:
    path = CACHE / f"glossary-{size}.csv"
    if path.exists():
        return path
    import csv

    import wordfreq

    terms = dict.fromkeys(ngrams())
    words = [w for w in wordfreq.top_n_list("id", 100_000) if w.isalpha()]
    terms.update(dict.fromkeys(words))
    rng = random.Random(13)
    while len(terms) < size:
        terms[f"{rng.choice(words)} {rng.choice(words)}"] = None
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "en", "ms"])
        for term in list(terms)[:size]:
            w.writerow([term, f"{term} [en]", f"{term} [ms]"])
    tmp.rename(path)
    return path


CHILD = r"""
import json, os, sys, time, statistics, tempfile
from pathlib import Path

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

path, seed, small = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
from service.terminology.glossary import load_glossary, parse_glossary
from service.terminology.matcher import TermMatcher
from service.terminology.enforce import TermLayer
article = seed.read_text(encoding="utf-8")
out = {}
base = rss()
t = time.perf_counter()
g, problems = parse_glossary(path.read_text(encoding="utf-8"), path)
out["load_s"] = time.perf_counter() - t
out["entries"] = len(g.entries)
out["problems"] = len(problems)
t = time.perf_counter()
layer = TermLayer([g])
new = hasattr(layer, "index")
if new:
    index = layer.index("id")
    find = lambda text, target: index.find(text, target)
    out["targets_per_index"] = "en, ms (one index)"
else:
    matcher = layer.matcher("id", "ms")
    find = lambda text, target: layer.matcher("id", target).find(text)
    out["targets_per_index"] = "ms (one per pair)"
out["index_s"] = time.perf_counter() - t
out["rss_mib"] = rss() - base
found = find(article, "ms")
out["terms_in_article"] = len(found)

def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)

repeats = 21 if new else 3
out["find_ms"] = 1000 * timed(lambda: find(article, "ms"), repeats)
from service.text import document
from service.text.segment import Segmenter
sentences = [p.text for p in document.parse(article, "id", Segmenter()) if p.translate]
small_layer = TermLayer([load_glossary(small)], ("url", "email"))
big_layer = TermLayer([g], ("url", "email"))
for s in sentences:  # build before timing
    small_layer.protect(s, "id", "ms")
    big_layer.protect(s, "id", "ms")
small_ms, big_ms = [], []
for _ in range(repeats):  # alternated
    for layer_, times in ((small_layer, small_ms), (big_layer, big_ms)):
        t = time.perf_counter()
        for s in sentences:
            layer_.protect(s, "id", "ms")
        times.append(time.perf_counter() - t)
out["protect_small_ms"] = 1000 * statistics.median(small_ms)
out["protect_big_ms"] = 1000 * statistics.median(big_ms)
out["sentences"] = len(sentences)
if new and len(sys.argv) > 4:
    from service.terminology import formats
    from service.terminology.store import ManagedGlossaries
    tbx = Path(sys.argv[4])
    if not tbx.exists():
        tbx.write_bytes(formats.export_tbx(g))
    out["tbx_mib"] = tbx.stat().st_size / 2**20
    t = time.perf_counter()
    parsed, problems = formats.read_glossary(tbx.read_bytes(), tbx.name)
    out["tbx_parse_s"] = time.perf_counter() - t
    assert not problems and len(parsed.entries) == len(g.entries), problems[:3]
    with tempfile.TemporaryDirectory() as tmp:
        store = ManagedGlossaries(f"sqlite:///{tmp}/g.sqlite")
        t = time.perf_counter()
        store.create("scale", list(g.entries), list(g.languages), author="bench")
        out["db_import_s"] = time.perf_counter() - t
        t = time.perf_counter()
        loaded = store.load("scale")
        out["db_load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        TermLayer([loaded]).index("id")
        out["db_load_index_s"] = out["db_load_s"] + time.perf_counter() - t
print(json.dumps(out))
"""


def run(size: int) -> dict:
    path = glossary_file(size)
    args = [sys.executable, "-c", CHILD, str(path), str(SEED), str(REPO / "glossary" / "asean-smart-cities.csv")]
    if size <= 100_000:
        args.append(str(CACHE / f"glossary-{size}.tbx"))
    done = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO),
                                                                               "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "glossary-scale.md"))
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = run(size)
        rows.append(result)
        print(json.dumps({"size": size, **result}), flush=True)

    def cell(r: dict, key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "-"

    lines = [f"## {args.label}", "", machine_header(["pyahocorasick", "regex"] if args.label == "after"
                                                    else ["regex"]), "",
             "| entries | load (CSV) | index | load + index | find in the article | protect 23 sentences: 63 "
             "entries -> this size (added) | RSS growth | terms found | index serves |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        added = r["protect_big_ms"] - r["protect_small_ms"]
        lines.append(f"| {r['entries']:,} | {r['load_s']:.2f} s | {r['index_s']:.2f} s | "
                     f"{r['load_s'] + r['index_s']:.2f} s | {r['find_ms']:.1f} ms | {r['protect_small_ms']:.1f} -> "
                     f"{r['protect_big_ms']:.1f} ms (+{added:.1f} ms) | {r['rss_mib']:.0f} MiB | "
                     f"{r['terms_in_article']} | {r['targets_per_index']} |")
    if any("tbx_parse_s" in r for r in rows):
        lines += ["", "| entries | TBX file | TBX parse | import into SQLite (managed) | load from SQLite | "
                      "load from SQLite + index |", "| --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            if "tbx_parse_s" in r:
                lines.append(f"| {r['entries']:,} | {r['tbx_mib']:.1f} MiB | {r['tbx_parse_s']:.2f} s | "
                             f"{r['db_import_s']:.2f} s | {r['db_load_s']:.2f} s | {r['db_load_index_s']:.2f} s |")
    section = "\n".join(lines) + "\n"
    out = Path(args.out)
    previous = out.read_text(encoding="utf-8") if out.exists() else ""
    kept = [part for part in previous.split("\n## ") if part and not part.startswith(f"{args.label}\n")
            and not part.startswith(f"## {args.label}\n") and not part.startswith("# ")]
    head = "# Glossaries at scale (bench/glossary_scale.py)\n\n" + (__doc__ or "").split("\n\n", 1)[1]
    body = "\n".join("## " + part.removeprefix("## ") for part in kept)
    out.write_text(head + "\n" + (body + "\n" if body else "") + section, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
