"""Batch jobs in-process: the job API, idempotency, limits, cancel, poison documents, the web pages and the
command line. Tasks run inline here (same processing code); tests/test_jobs_celery.py runs real workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.config import Settings
from service.http import create_app
from service.jobs.processing import process_chunk
from service.jobs.service import JobService
from service.jobs.store import JobStore, NewDocument
from service.pipeline import Pipeline
from tests.conftest import REPO
from tests.fakes import FixedRouter, RecordingEngine


def inline_service(settings: Settings, pipeline: Pipeline, tmp_path: Path, run: bool = True) -> JobService:
    """Jobs executed at once in this process, re-queuing retries like the Celery task does."""
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")

    def enqueue(job_id: str, positions: list[int]) -> None:
        while run and positions:
            positions = process_chunk(store, pipeline, job_id, positions, settings.job_max_attempts)

    return JobService(settings, store, pipeline, enqueue)


@pytest.fixture
def jobs(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> JobService:
    return inline_service(settings, pipeline, tmp_path)


@pytest.fixture
def client(settings: Settings, pipeline: Pipeline, jobs: JobService) -> FlaskClient:
    s = settings.replace(secret_key="jobs")
    return create_app(s, pipeline, warm="none", jobs=jobs).test_client()


DOCS = [{"id": f"doc-{i}", "text": f"Pertemuan tahunan ASCN ke-{i} di Kualalumpur."} for i in range(5)]


def test_job_api_end_to_end(client: FlaskClient) -> None:
    r = client.post("/v1/jobs", json={"documents": DOCS, "targets": ["ms", "en"], "source": "id"})
    assert r.status_code == 201, r.get_json()
    job = r.get_json()
    assert job["state"] == "completed" and job["progress"] == 1.0
    assert job["counts"] == {"done": 10, "failed": 0, "pending": 0, "cancelled": 0}
    assert job["per_target"]["ms"]["done"] == 5 and r.headers["Location"].endswith(job["id"])
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["state"] == "completed"
    results = client.get(f"/v1/jobs/{job['id']}/results")
    assert results.mimetype == "application/x-ndjson"
    rows = [json.loads(line) for line in results.get_data(as_text=True).splitlines()]
    assert sorted((row["id"], row["target"]) for row in rows) == sorted(
        (d["id"], t) for d in DOCS for t in ("ms", "en"))
    ms = next(row for row in rows if (row["id"], row["target"]) == ("doc-3", "ms"))
    assert ms["text"] == "Mesyuarat Tahunan ASCN ke-3 di Kuala Lumpur." and ms["glossary"]["compliance"] == 1.0
    download = client.get(f"/v1/jobs/{job['id']}/results?download=1")
    assert "attachment" in download.headers["Content-Disposition"]


def test_idempotency_key(client: FlaskClient) -> None:
    body = {"documents": DOCS[:2], "targets": ["ms"], "source": "id"}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    other = client.post("/v1/jobs", json={**body, "targets": ["en"]}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.get_json()["code"] == "idempotency_conflict"


def test_concurrent_identical_submissions_make_one_job(settings: Settings, pipeline: Pipeline,
                                                       tmp_path: Path) -> None:
    service = inline_service(settings, pipeline, tmp_path, run=False)
    ids: list[str] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        barrier.wait()
        job, _ = service.submit([NewDocument("a", "Bali")], ["ms"], "id", idempotency_key="same")
        ids.append(job.id)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert len(service.store.list_jobs()) == 1


def test_multipart_upload_of_jsonl_csv_and_txt(client: FlaskClient) -> None:
    from io import BytesIO

    files = [
        (BytesIO(b'{"id": "j1", "text": "Pertemuan tahunan."}\n{"id": "j2", "text": "Bali."}\n'), "a.jsonl"),
        (BytesIO(b"id,text\nc1,Kota cerdas.\n"), "b.csv"),
        (BytesIO(b"Kementerian Dalam Negeri."), "berita.txt"),
    ]
    r = client.post("/v1/jobs", data={"files": files, "targets": "ms", "source": "id"},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    rows = [json.loads(x) for x in client.get(f"/v1/jobs/{r.get_json()['id']}/results").get_data(True).splitlines()]
    assert [row["id"] for row in rows] == ["j1", "j2", "c1", "berita.txt"]
    bad = client.post("/v1/jobs", data={"files": [(BytesIO(b"\xff\xfe"), "x.txt")], "targets": "ms"},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "not UTF-8" in bad.get_json()["error"]


def test_limits_and_bad_requests(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", max_job_documents=5, max_job_bytes=500)
    c = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path)).test_client()
    six = [{"id": str(i), "text": "Bali"} for i in range(6)]
    assert c.post("/v1/jobs", json={"documents": six, "targets": ["ms"]}).status_code == 413
    assert c.post("/v1/jobs", json={"documents": six[:5], "targets": ["ms"], "source": "id"}).status_code == 201
    big = [{"id": "1", "text": "a" * 501}]
    assert c.post("/v1/jobs", json={"documents": big, "targets": ["ms"]}).get_json()["code"] == "input_too_large"
    assert c.post("/v1/jobs", json={"documents": [], "targets": ["ms"]}).status_code == 422
    dup = [{"id": "1", "text": "a"}, {"id": "1", "text": "b"}]
    assert c.post("/v1/jobs", json={"documents": dup, "targets": ["ms"]}).status_code == 400
    assert c.post("/v1/jobs", json={"documents": six[:1], "targets": ["xx"]}).status_code == 400
    assert c.post("/v1/jobs", json={"documents": six[:1], "targets": ["ms"], "glossary": ["nope"]}).status_code == 400
    assert c.get("/v1/jobs/nope").status_code == 404
    assert c.delete("/v1/jobs/" + "0" * 32).status_code == 404
    assert c.get("/v1/jobs/" + "f" * 40 + "/results").status_code == 404


def test_cancel(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> None:
    service = inline_service(settings, pipeline, tmp_path, run=False)
    c = create_app(settings.replace(secret_key="x"), pipeline, warm="none", jobs=service).test_client()
    job = c.post("/v1/jobs", json={"documents": DOCS, "targets": ["ms"], "source": "id"}).get_json()
    assert job["state"] == "queued"
    cancelled = c.delete(f"/v1/jobs/{job['id']}").get_json()
    assert cancelled["state"] == "cancelled" and cancelled["counts"]["cancelled"] == 5
    assert process_chunk(service.store, pipeline, job["id"], [0, 1], 3) == []  # a late task does nothing
    assert service.status(job["id"])["counts"]["done"] == 0


def test_poison_document_is_retried_then_failed_and_the_rest_completes(settings: Settings,
                                                                       tmp_path: Path) -> None:
    engine = RecordingEngine(fail_on="rusak")
    pipeline = Pipeline(settings.replace(default_glossaries=""), FixedRouter(engine))
    service = inline_service(settings, pipeline, tmp_path)
    docs = [NewDocument("a", "Ini baik."), NewDocument("b", "Ini rusak."), NewDocument("c", "Ini juga baik."),
            NewDocument("d", "12345 !!!"), NewDocument("e", " \n\t ")]
    job, _ = service.submit(docs, ["en"], "auto")
    rows = {row["id"]: row for row in service.results(job.id)}
    assert rows["a"]["state"] == rows["c"]["state"] == "done"
    assert rows["b"]["state"] == "failed" and rows["b"]["attempts"] == settings.job_max_attempts + 1
    assert rows["b"]["error"]["code"] == "gave_up" and "fake engine failure" in rows["b"]["error"]["message"]
    # once in its chunk's pass, then alone on each attempt
    assert sum("rusak" in s for batch in engine.batches for s in batch) == settings.job_max_attempts + 1
    # an input that no retry can fix fails at once, with its reason
    assert rows["d"]["state"] == "failed" and rows["d"]["attempts"] == 1
    assert rows["d"]["error"]["code"] == "detection_failed"
    assert rows["e"]["state"] == "failed" and rows["e"]["attempts"] == 1  # empty: the same clear error everywhere
    assert rows["e"]["error"]["code"] == "empty_text" and rows["e"]["error"]["message"].startswith("The text is empty")
    assert service.status(job.id)["state"] == "completed"


def test_jobs_web_pages(client: FlaskClient) -> None:
    from io import BytesIO

    page = client.get("/jobs")
    assert page.status_code == 200 and "Start job" in page.get_data(as_text=True)
    refused = client.post("/jobs", data={"targets": "ms"}, content_type="multipart/form-data")
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/jobs", data={"csrf_token": token, "targets": "ms", "source": "id",
                                   "files": [(BytesIO(b"Pertemuan tahunan."), "a.txt")]},
                    content_type="multipart/form-data")
    assert r.status_code == 303
    job_page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'id="state" class="state">completed<' in job_page and "Download the results" in job_page
    empty = client.post("/jobs", data={"csrf_token": token, "targets": "ms"}, content_type="multipart/form-data")
    assert empty.status_code == 400 and "Choose at least one file" in empty.get_data(as_text=True)


def _batch(args: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(tmp_path / "no-models")}
    return subprocess.Popen([sys.executable, "-m", "service", "batch", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cli_batch_translates_a_folder_and_resumes_after_interruption(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        (folder / f"berita-{i:02}.txt").write_text(f"Pertemuan tahunan ASCN ke-{i} di Kualalumpur.\n\n"
                                                   "Kementerian Dalam Negeri hadir.", encoding="utf-8")
    out = tmp_path / "out"
    args = [str(folder), "--to", "ms", "--from", "id", "--out", str(out)]
    proc = _batch(args, tmp_path)
    store_file = out / ".batch.sqlite"
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:  # interrupt once some documents are done
        if store_file.exists():
            try:
                store = JobStore(f"sqlite:///{store_file}")
                jobs = store.list_jobs()
                done = store.counts(jobs[0].id).get("ms", {}).get("done", 0) if jobs else 0
            except Exception:
                done = 0
            if done >= 3:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command to resume" in err
    store = JobStore(f"sqlite:///{store_file}")
    job_id = store.list_jobs()[0].id
    done_before = store.counts(job_id)["ms"].get("done", 0)
    assert 0 < done_before < 40
    again = _batch(args, tmp_path)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert f"resuming job {job_id[:12]}: {done_before} of 40 results already done" in err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 40 and all(row["state"] == "done" for row in rows)
    assert max(row["attempts"] for row in rows) <= 2  # finished documents were not redone
    assert (out / "ms" / "berita-07.txt").read_text(encoding="utf-8") == (
        "Mesyuarat Tahunan ASCN ke-7 di Kuala Lumpur.\n\nKementerian Dalam Negeri hadir.")


def test_many_processes_opening_a_new_store_at_once(tmp_path: Path) -> None:
    """Workers starting together against a fresh store must not trip over each other's schema creation."""
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    code = f"from service.jobs.store import JobStore; JobStore({url!r}); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(6)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outs]
    assert JobStore(url).list_jobs() == []


def test_a_chunk_is_translated_in_one_pass(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """The documents of a chunk go through the pipeline together: one translate_many call per chunk, one engine
    batch for their sentences, and a sentence repeated across documents is translated once."""
    engine = RecordingEngine()
    pipeline = Pipeline(settings.replace(default_glossaries=""), FixedRouter(engine))
    calls: list[int] = []
    many = pipeline.translate_many
    monkeypatch.setattr(pipeline, "translate_many", lambda requests, *a, **k: calls.append(len(requests))
                        or many(requests, *a, **k))
    service = inline_service(settings, pipeline, tmp_path, run=False)
    docs = [NewDocument(f"d{i}", f"Kalimat nomor {i}.\nSiaran pers ini berakhir.") for i in range(8)]
    job, _ = service.submit(docs, ["en"], "id")
    for chunk in ([0, 1, 2, 3], [4, 5, 6, 7]):  # as the worker's tasks get them
        assert process_chunk(service.store, pipeline, job.id, chunk, settings.job_max_attempts) == []
    assert calls == [4, 4]  # two chunks of four documents, each one pass
    assert len(engine.batches) == 2  # one batch per chunk (the budget holds all of its sentences)
    assert [s for b in engine.batches for s in b].count("Siaran pers ini berakhir.") == 2  # once per chunk
    rows = {row["id"]: row for row in service.results(job.id)}
    assert rows["d5"]["text"] == "KALIMAT NOMOR 5.\nSIARAN PERS INI BERAKHIR." and rows["d5"]["attempts"] == 1


def test_a_bad_document_costs_its_chunk_mates_no_attempt(settings: Settings, tmp_path: Path) -> None:
    """A failing pass over a chunk is retried document by document at once: the others are done on their first
    attempt, and only the bad one is tried again later."""
    engine = RecordingEngine(fail_on="rusak")
    pipeline = Pipeline(settings.replace(default_glossaries=""), FixedRouter(engine))
    service = inline_service(settings, pipeline, tmp_path)
    docs = [NewDocument(f"d{i}", "Ini rusak." if i == 2 else f"Ini baik {i}.") for i in range(6)]
    job, _ = service.submit(docs, ["en"], "id")
    rows = {row["id"]: row for row in service.results(job.id)}
    assert all(rows[f"d{i}"]["state"] == "done" and rows[f"d{i}"]["attempts"] == 1 for i in range(6) if i != 2)
    assert rows["d2"]["state"] == "failed" and rows["d2"]["attempts"] == settings.job_max_attempts + 1
