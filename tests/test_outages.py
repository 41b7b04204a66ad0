"""A failure stays where it happened: outages of the services around the core, tested for real (a private Redis
and a private PostgreSQL started here and stopped mid-test)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from service.config import Settings
from service.engines.router import EngineRouter
from service.http import create_app
from service.jobs.service import HEALTH_TTL_S
from service.jobs.worker import celery_job_service
from service.pipeline import Pipeline
from tests.services import PrivatePostgres, PrivateRedis


def metric(client, name: str) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    return float(next(line for line in text.splitlines() if line.startswith(name + " ")).split()[1])


@pytest.mark.slow
def test_translation_memory_on_redis_down_or_slow_is_a_miss(settings: Settings,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    redis = PrivateRedis().start()
    try:
        s = settings.replace(secret_key="x", memory="redis", redis_url=redis.url, memory_retry_s=0.3)
        client = create_app(s, Pipeline(s, EngineRouter(s)), warm="none").test_client()

        def translate(text: str) -> str:
            r = client.post("/v1/translate", json={"text": text, "source": "id", "targets": ["ms"]})
            assert r.status_code == 200, r.get_json()
            return r.get_json()["items"][0]["translations"][0]["text"]

        assert translate("Pertemuan tahunan di Bali.") == translate("Pertemuan tahunan di Bali.")
        assert metric(client, "translation_memory_hits_total") == 1
        caplog.set_level(logging.INFO, logger="service.memory")

        redis.stop()  # gone: connection refused
        for i in range(4):
            assert translate(f"Pertemuan tahunan ke-{i}.") == f"Mesyuarat tahunan ke-{i}."
            time.sleep(0.2)
        assert metric(client, "translation_memory_errors_total") >= 2
        warnings = [r for r in caplog.records if r.name == "service.memory" and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "does not answer" in warnings[0].getMessage()

        redis.start()  # back (empty): after memory_retry_s the memory is used again
        time.sleep(0.4)
        translate("Kota cerdas.")
        hits = metric(client, "translation_memory_hits_total")
        translate("Kota cerdas.")
        assert metric(client, "translation_memory_hits_total") == hits + 1
        assert any("answers again" in r.getMessage() for r in caplog.records if r.name == "service.memory")

        redis.freeze()  # slow: accepts connections, never answers; the socket timeout bounds the wait
        errors = metric(client, "translation_memory_errors_total")
        outcome: list[str] = []
        worker = threading.Thread(target=lambda: outcome.append(translate("Kementerian Dalam Negeri.")))
        worker.start()
        worker.join(60)  # a hang would be caught here; the real bound is memory_redis_timeout_s (0.25 s)
        assert outcome == ["Kementerian Dalam Negeri."]
        assert metric(client, "translation_memory_errors_total") > errors
        redis.thaw()
    finally:
        redis.stop()


@pytest.fixture
def postgres():
    pg = PrivatePostgres().start()
    yield pg
    pg.remove()


def test_job_routes_answer_503_while_postgresql_is_down_then_recover(settings: Settings, tmp_path: Path,
                                                                     postgres: PrivatePostgres) -> None:
    s = settings.replace(secret_key="x", jobs_database_url=postgres.url, data_dir=tmp_path)
    postgres.stop()  # down before the app exists: start-up must not need it
    client = create_app(s, Pipeline(s, EngineRouter(s)), warm="none").test_client()
    body = {"documents": [{"id": "a", "text": "Pertemuan tahunan."}], "targets": ["ms"], "source": "id"}

    down = client.post("/v1/jobs", json=body)
    assert down.status_code == 503 and down.get_json()["code"] == "jobs_unavailable"
    assert down.headers["Retry-After"].isdigit() and "Traceback" not in down.get_data(as_text=True)
    assert client.get("/v1/jobs/" + "0" * 32).status_code == 503
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {
        "status": "degraded", "checks": {"engines": "ok", "job_store": "unavailable", "broker": "ok"}}
    translated = client.post("/v1/translate", json={"text": "Pertemuan tahunan.", "source": "id", "targets": ["ms"]})
    assert translated.status_code == 200  # translation does not need the job store

    postgres.start()  # back: the same app works again, schema made on first use
    created = client.post("/v1/jobs", json=body)
    assert created.status_code == 201, created.get_json()
    job_id = created.get_json()["id"]
    time.sleep(HEALTH_TTL_S + 0.1)
    assert client.get("/readyz").get_json()["status"] == "ready"

    postgres.stop()  # gone mid-life (its pooled connections die with it)
    assert client.get(f"/v1/jobs/{job_id}").status_code == 503
    assert client.get(f"/v1/jobs/{job_id}/results").status_code == 503
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 503
    postgres.start()
    assert client.get(f"/v1/jobs/{job_id}").get_json()["state"] == "queued"


def test_job_submission_with_the_broker_down_stores_nothing(settings: Settings, tmp_path: Path) -> None:
    redis = PrivateRedis().start()
    try:
        s = settings.replace(secret_key="x", broker_url=redis.url, data_dir=tmp_path)
        jobs = celery_job_service(s, Pipeline(s, EngineRouter(s)))
        client = create_app(s, jobs.pipeline, warm="none", jobs=jobs).test_client()
        body = {"documents": [{"id": "a", "text": "Bali."}], "targets": ["ms"], "source": "id"}
        redis.stop()
        r = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert r.status_code == 503 and r.get_json()["code"] == "jobs_unavailable" and "Retry-After" in r.headers
        assert jobs.store.list_jobs() == []  # undone: the client's retry makes the job anew
        assert client.get("/readyz").get_json()["checks"]["broker"] == "unavailable"
        redis.start()
        again = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "k1"})
        assert again.status_code == 201 and len(jobs.store.list_jobs()) == 1
    finally:
        redis.stop()
