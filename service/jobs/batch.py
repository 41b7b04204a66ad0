"""``python -m service batch``: a job run in this process, with a progress bar, resumable.

The job lives in ``OUT/.batch.sqlite``; its idempotency key is the hash of the documents and options, so
running the same command again finds the same job and only does what is still pending (after Ctrl-C, a
crash, or failures). Processing is ``run_chunk`` over chunks of ``job_chunk_documents`` documents translated
together, the same code the Celery workers run.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from service.config import Settings
from service.engines.router import EngineRouter
from service.errors import InvalidInput
from service.jobs.inputs import from_paths
from service.jobs.processing import run_chunk
from service.jobs.service import JobService
from service.jobs.store import JobSpec, JobStore
from service.pipeline import Pipeline
from service.summaries.options import SummaryOptions

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^\w.-]+")


def _document_files(inputs: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(document files: HTML, DOCX, Markdown, subtitles, XLIFF, PO, PDF, also inside folders; the other inputs)."""
    from service.documents import EXTENSIONS

    def is_document(path: Path) -> bool:
        return EXTENSIONS.get(path.suffix.lower()) not in (None, "text")

    found, rest = [], []
    for path in inputs:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and is_document(p))
            if any(p.is_file() and p.suffix.lower() in (".txt", ".jsonl", ".ndjson", ".csv", ".tsv")
                   for p in path.rglob("*")):
                rest.append(path)
        elif is_document(path):
            found.append(path)
        else:
            rest.append(path)
    return found, rest


def _translate_files(settings: Settings, files: list[Path], out: Path, targets: list[str], source: str,
                     glossaries: list[str] | None, summary: SummaryOptions | None) -> int:
    """Document files, each into OUT/<target>/NAME.<target>.<ext>; a file whose every output exists is skipped
    (so the command resumes). Returns the files that failed."""
    from service.documents.jobs import prepare
    from service.documents.road import output_name, translate_document
    from service.errors import ServiceError

    pipeline = Pipeline(settings, EngineRouter(settings))
    failed = 0
    with open(out / "documents.jsonl", "a", encoding="utf-8") as log_file:
        for path in tqdm(files, unit="file", desc="documents", file=sys.stderr):
            try:
                prepared = prepare(settings, path.name, path.read_bytes())
                ext = ".docx" if prepared.format == "pdf" else None
                if all((out / t / output_name(path.name, t, ext)).exists() for t in targets):
                    continue
                result = translate_document(pipeline, prepared.data, path.name, targets, source, None, glossaries,
                                            summary, input_format=prepared.format)
            except ServiceError as exc:
                failed += 1
                print(f"failed: {path}: {exc.message}", file=sys.stderr)
                log_file.write(json.dumps({"file": str(path), "error": exc.to_dict()}, ensure_ascii=False) + "\n")
                continue
            for f in result.files:
                if f.ok:
                    (out / f.target).mkdir(exist_ok=True)
                    (out / f.target / (f.name or path.name)).write_bytes(f.data or b"")
                else:
                    failed += 1
                    print(f"failed: {path} -> {f.target}: {f.error.message}", file=sys.stderr)  # type: ignore[union-attr]
                log_file.write(json.dumps({"file": str(path), "target": f.target, "name": f.name,
                                           "glossary": f.terms.to_dict() if f.terms else None, "flags": f.flags,
                                           "error": f.error.to_dict() if f.error else None}, ensure_ascii=False)
                               + "\n")
    return failed


def run_batch(settings: Settings, inputs: Sequence[Path], out: Path, targets: list[str], source: str,
              glossaries: list[str] | None, summary: SummaryOptions | None) -> int:
    files, inputs = _document_files(inputs)
    if files:
        out.mkdir(parents=True, exist_ok=True)
        failed = _translate_files(settings, files, out, targets, source, glossaries, summary)
        if not inputs:
            print(f"{len(files) - failed} of {len(files)} documents translated into {out}", file=sys.stderr)
            return 0 if failed < len(files) else 1
    documents = from_paths(list(inputs))
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a folder for the results (it is made if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"Cannot make the output folder {out} ({exc.strerror or 'file error'}); give another "
                           "--out.") from None
    store = JobStore(f"sqlite:///{out / '.batch.sqlite'}")
    pipeline = Pipeline(settings, EngineRouter(settings))
    jobs = JobService(settings, store, pipeline, enqueue=lambda job_id, positions: None)
    spec = JobSpec(source, targets, glossaries, summary.__dict__ if summary else None, settings.beam_size)
    key = "batch-" + spec.payload_hash(documents)[:40]
    job, created = jobs.submit(documents, targets, source, glossaries, summary, settings.beam_size, key)
    status = jobs.status(job.id)
    total = job.documents * len(job.targets)
    finished = total - status["counts"]["pending"]
    if not created:
        print(f"resuming job {job.id[:12]}: {finished} of {total} results already done", file=sys.stderr)
    queue = store.pending_positions(job.id)
    segments, started = 0, time.perf_counter()
    try:
        with tqdm(total=total, initial=finished, unit="result", desc="translating", file=sys.stderr) as bar:
            while queue:
                retry = []
                size = max(1, settings.job_chunk_documents)
                for at in range(0, len(queue), size):
                    before = store.counts(job.id)
                    outcome = run_chunk(store, pipeline, job.id, queue[at:at + size], settings.job_max_attempts)
                    after = store.counts(job.id)
                    bar.update(sum(c.get("pending", 0) for c in before.values())
                               - sum(c.get("pending", 0) for c in after.values()))
                    segments += outcome.segments
                    bar.set_postfix_str(f"{segments / (time.perf_counter() - started):.1f} segments/s")
                    retry += outcome.retry
                queue = retry
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished work is saved; run the same command to resume job {job.id[:12]}",
              file=sys.stderr)
        return 130
    return _write_outputs(jobs, job.id, out)


def _write_outputs(jobs: JobService, job_id: str, out: Path) -> int:
    failed = 0
    with open(out / "results.jsonl", "w", encoding="utf-8") as fh:
        for row in jobs.results(job_id):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            if row["state"] == "done":
                target_dir = out / row["target"]
                target_dir.mkdir(exist_ok=True)
                name = _UNSAFE.sub("_", row["id"]).strip("_") or f"doc{row['position']}"
                (target_dir / (name if name.endswith(".txt") else name + ".txt")).write_text(
                    row["text"] or "", encoding="utf-8")
            elif row["state"] == "failed":
                failed += 1
                print(f"failed: {row['id']} -> {row['target']}: {row['error']['message']}", file=sys.stderr)
    status = jobs.status(job_id)
    print(f"job {job_id[:12]}: {status['counts']['done']} done, {failed} failed; results in {out / 'results.jsonl'}",
          file=sys.stderr)
    return 0 if status["counts"]["done"] else 1
