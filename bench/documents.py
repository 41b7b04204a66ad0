"""The document road's cost: a 50-page Word file and a long web page against the same text as plain text.

The documents are built here from TICO-19's Indonesian sentences (three a paragraph, six paragraphs a page, a bold
run, an italic run and a link in every paragraph, a table every five pages; the web page has the same paragraphs
with the same markup). Each variant runs in a fresh process (peak RSS is the process's own, ru_maxrss), through
real Apertium id -> ms with the default glossary and the translation memory off, and the variants are alternated
in every round; medians. "plain" is the documents' text (their units joined by blank lines) as one text through
``Pipeline.translate_many``: the ratio is what reading, tagging and writing the document adds.

    python bench/documents.py [--pages 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, SHARED, machine_header, median

TICO = SHARED / "eval" / "tico19" / "tico19-test.ind"
CACHE = REPO / "bench" / ".cache" / "documents"


def sentences() -> list[str]:
    if TICO.exists():
        return [s.strip() for s in TICO.read_text(encoding="utf-8").splitlines() if s.strip()]
    seed = (REPO / "examples" / "ascn-shepherd-2025.id.txt").read_text(encoding="utf-8")
    return [s.strip() + "." for s in seed.replace("\n", " ").split(". ") if s.strip()]


def paragraphs(pages: int) -> list[str]:
    pool = sentences()
    count = pages * 6
    return [" ".join(pool[(3 * i + k) % len(pool)] for k in range(3)) for i in range(count)]


def build(pages: int) -> tuple[Path, Path]:
    import docx

    CACHE.mkdir(parents=True, exist_ok=True)
    docx_path, html_path = CACHE / f"report-{pages}p.docx", CACHE / f"report-{pages}p.html"
    if docx_path.exists() and html_path.exists():
        return docx_path, html_path
    paras = paragraphs(pages)
    document = docx.Document()
    html = ["<!DOCTYPE html><html lang=\"id\"><head><meta charset=\"utf-8\"><title>Laporan</title></head><body>"]
    for n, text in enumerate(paras):
        words = text.split(" ")
        a, b, c = " ".join(words[:3]), " ".join(words[3:6]), " ".join(words[6:])
        if n % 6 == 0:
            document.add_heading(f"Bagian {n // 6 + 1}", 2)
            html.append(f"<h2>Bagian {n // 6 + 1}</h2>")
        p = document.add_paragraph()
        p.add_run(a).bold = True
        p.add_run(" ")
        p.add_run(b).italic = True
        p.add_run(" " + c)
        html.append(f"<p><b>{a}</b> <i>{b}</i> <a href=\"https://example.org/{n}\">{c.split(' ')[0]}</a> "
                    f"{' '.join(c.split(' ')[1:])}</p>")
        if n % 30 == 29:
            table = document.add_table(rows=2, cols=2)
            for cell, value in zip(table._cells, words[:4], strict=False):
                cell.text = value
            html.append("<table>" + "".join(f"<tr><td>{w}</td><td>{w}</td></tr>" for w in words[:2]) + "</table>")
        if n % 6 == 5:
            document.add_page_break()
    html.append("</body></html>")
    document.save(docx_path)
    html_path.write_text("\n".join(html), encoding="utf-8")
    return docx_path, html_path


def run_one(kind: str, path: str) -> dict[str, float]:
    """In this (fresh) process: translate one variant, return seconds and peak RSS."""
    sys.path.insert(0, str(REPO))
    from service.config import Settings
    from service.documents import format_of, get_format
    from service.documents.base import Limits
    from service.documents.road import UNIT_SEPARATOR, translate_document
    from service.engines.router import EngineRouter
    from service.pipeline import Pipeline, TranslationRequest

    settings = Settings(models_dir=CACHE / "no-models", memory="off", max_document_chars=250_000)
    pipeline = Pipeline(settings, EngineRouter(settings))
    data = Path(path).read_bytes()
    pipeline.translate(TranslationRequest("Kota cerdas.", ["ms"], "id"))  # engine and glossary loaded first
    if kind == "plain":
        loaded = get_format(format_of(path)).load(data, Limits.of(settings))
        text = UNIT_SEPARATOR.join(u.plain for u in loaded.units)
        started = time.perf_counter()
        result = pipeline.translate_many([TranslationRequest(text, ["ms"], "id", layout="keep")])[0]
        seconds = time.perf_counter() - started
        assert result.results[0].ok
        chars = len(text)
    else:
        started = time.perf_counter()
        result = translate_document(pipeline, data, path, ["ms"], "id")
        seconds = time.perf_counter() - started
        assert result.files[0].ok, result.files[0].error
        chars = result.characters
    return {"seconds": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "characters": chars}


def measure(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(path)], capture_output=True, text=True,
                         check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "documents-cpu.md")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one)))
        return
    docx_path, html_path = build(args.pages)
    variants = {"docx": ("docx", docx_path), "docx as plain text": ("plain", docx_path),
                "html": ("html", html_path), "html as plain text": ("plain", html_path)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, (kind, path) in variants.items():
            runs[name].append(measure(kind, path))
            print(f"round {r + 1} {name}: {runs[name][-1]}", file=sys.stderr)
    rows = {name: (median([x["seconds"] for x in v]), median([x["rss_mib"] for x in v]), v[0]["characters"])
            for name, v in runs.items()}
    lines = [f"# Documents vs the same text as plain text ({args.pages}-page Word file, long web page)", "",
             machine_header(["python-docx", "lxml", "ctranslate2"]) + f"- engine: Apertium ind-zlm (real), default "
             f"glossary, translation memory off; {args.rounds} rounds, variants alternated, each in a fresh process; "
             "medians", "", "| variant | characters | seconds | peak RSS (MiB) |", "| --- | --- | --- | --- |"]
    for name, (seconds, rss, chars) in rows.items():
        lines.append(f"| {name} | {chars:,.0f} | {seconds:.2f} | {rss:.0f} |")
    lines += ["", "| document | time vs plain text | peak RSS vs plain text |", "| --- | --- | --- |"]
    for doc in ("docx", "html"):
        d, p = rows[doc], rows[f"{doc} as plain text"]
        lines.append(f"| {doc} | {d[0] / p[0]:.2f}x | {d[1] / p[1]:.2f}x |")
    lines += ["", f"Command: `python bench/documents.py --pages {args.pages} --rounds {args.rounds}`", ""]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
