"""A failure stays where it happened: outages of the services around the core, tested for real (a private Redis
and a private PostgreSQL started here and stopped mid-test)."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from service.config import Settings
from service.engines.router import EngineRouter
from service.http import create_app
from service.pipeline import Pipeline
from tests.services import PrivateRedis


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
