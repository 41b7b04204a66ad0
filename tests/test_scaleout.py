"""The scale-out stack of compose.yaml as plain processes on this machine: two web servers (`python -m service
serve` on two ports) and two job workers (`python -m service worker`) sharing Redis (broker, rate limits,
translation memory) and PostgreSQL (job store). One scenario:

1. the rate limit is shared: a client's characters are counted across both servers;
2. the translation memory is shared: a sentence translated through one server is a memory hit on the other;
3. a job submitted through one server is read, to the end, through the other;
4. one server is killed (SIGKILL, its whole process group, like a lost machine) under load while that job
   runs: the other keeps answering every request, and the job completes, each result exactly once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.keys import new_key
from tests.conftest import REPO
from tests.test_jobs_celery import Worker, pg_url, redis_url  # noqa: F401  (fixtures)
from tests.test_serving import free_port, wait_ready

pytestmark = pytest.mark.scenario

#: characters a client (an API key) may send per hour here: three 15,000-character requests pass, a fourth not
RATE_LIMIT = "50000/hour"
BIG = ("Pertemuan tahunan ASCN ke-8 diselenggarakan di Kuala Lumpur, Malaysia. " * 250)[:15000]


def call(base: str, path: str, body: dict | None = None, key: str | None = None,
         timeout: float = 60) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method="POST" if body is not None else "GET", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def memory_hits(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        found = re.search(r"^translation_memory_hits_total (\S+)$", r.read().decode(), re.M)
    assert found, "no translation_memory_hits_total in /metrics"
    return float(found.group(1))


class Web:
    """One `python -m service serve` in its own process group (killed whole, like a lost machine)."""

    def __init__(self, env: dict[str, str], data_dir: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(self.port)], cwd=REPO,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_DATA_DIR": str(data_dir), **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def stack(models_dir: Path, catalog_path: Path, pg_url: str, redis_url: str,  # noqa: F811
          tmp_path: Path) -> Iterator[tuple[list[Web], list[Worker], list[str]]]:
    keys = [new_key() for _ in range(3)]  # one client each for the rate limit, the job, the load
    keys_file = tmp_path / "api_keys"
    keys_file.write_text("".join(f"{digest} client{i}\n" for i, (_, digest) in enumerate(keys)), encoding="utf-8")
    env = {"ASEAN_MT_MODELS_DIR": str(models_dir), "ASEAN_MT_CATALOG_PATH": str(catalog_path),
           "ASEAN_MT_JOBS_DATABASE_URL": pg_url, "ASEAN_MT_BROKER_URL": redis_url, "ASEAN_MT_REDIS_URL": redis_url,
           "ASEAN_MT_MEMORY": "redis", "ASEAN_MT_RATE_LIMIT": RATE_LIMIT, "ASEAN_MT_API_KEYS_FILE": str(keys_file),
           "ASEAN_MT_SECRET_KEY": "scenario", "ASEAN_MT_PRELOAD": "id-ms,id-en", "ASEAN_MT_INTRA_THREADS": "1",
           "ASEAN_MT_JOBS_VISIBILITY_TIMEOUT_S": "8"}
    webs = [Web(env, tmp_path / f"web{i}") for i in range(2)]
    workers: list[Worker] = []
    try:
        workers = [Worker(env, concurrency=1) for _ in range(2)]
        for web in webs:
            wait_ready(web.port, web.proc, timeout=300)
        yield webs, workers, [k for k, _ in keys]
    finally:
        for web in webs:
            web.stop()
        for worker in workers:
            worker.stop()


def test_two_servers_two_workers_redis_postgresql(stack: tuple[list[Web], list[Worker], list[str]]) -> None:
    (a, b), workers, (limited, submitter, loader) = stack

    # 1. the rate limit is shared: 3 x 15,000 characters pass (two on A, one on B), the fourth, on B, is refused
    answers = [call(web.base, "/v1/translate", {"text": BIG, "source": "id", "targets": ["ms"]}, key=limited)[0]
               for web in (a, b, a, b)]
    assert answers == [200, 200, 200, 429], answers

    # 2. the translation memory is shared: what A translated is a memory hit on B
    sentence = f"Kota cerdas nomor {time.time_ns()} di wilayah ASEAN."
    assert call(a.base, "/v1/translate", {"text": sentence, "source": "id", "targets": ["ms"]})[0] == 200
    hits = memory_hits(b.base)
    status, _ = call(b.base, "/v1/translate", {"text": sentence, "source": "id", "targets": ["ms"]})
    assert status == 200 and memory_hits(b.base) > hits

    # 3. a job submitted through A ...
    docs = [{"id": f"d{i:03}", "text": f"Pertemuan tahunan ASCN ke-{i} di Kualalumpur. Kota cerdas nomor {i}."}
            for i in range(120)]
    status, job = call(a.base, "/v1/jobs", {"documents": docs, "targets": ["ms", "en"], "source": "id"},
                       key=submitter)
    assert status in (200, 201, 202), job

    # 4. ... then A dies under load; B answers every request throughout
    outcomes: dict[str, list] = {"a": [], "b": []}
    stop = threading.Event()

    def load(name: str, web: Web) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                status, _ = call(web.base, "/v1/translate", {"text": f"Rapat ke-{n}.", "source": "id",
                                                             "targets": ["ms"]}, key=loader, timeout=60)
            except OSError as exc:  # connection refused or reset: the server is gone
                status = type(exc).__name__
            outcomes[name].append((time.monotonic(), status))
            time.sleep(0.1)

    threads = [threading.Thread(target=load, args=(n, w), daemon=True) for n, w in (("a", a), ("b", b))
               for _ in range(2)]
    for t in threads:
        t.start()
    state = None
    try:
        time.sleep(3)
        killed_at = time.monotonic()
        a.kill()
        time.sleep(5)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status, state = call(b.base, f"/v1/jobs/{job['id']}", key=submitter)  # the job is the submitter's
            assert status == 200, state
            if state["state"] == "completed":
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(90)

    assert state is not None and state["state"] == "completed", state
    assert state["counts"] == {"done": 240, "failed": 0, "pending": 0, "cancelled": 0}
    results = urllib.request.Request(f"{b.base}/v1/jobs/{job['id']}/results",
                                     headers={"Authorization": f"Bearer {submitter}"})
    with urllib.request.urlopen(results, timeout=30) as r:
        rows = [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]
    pairs = [(row["id"], row["target"]) for row in rows]
    assert len(pairs) == len(set(pairs)) == 240 and all(row["state"] == "done" for row in rows)

    a_after = [s for t, s in outcomes["a"] if t > killed_at + 1]
    b_before = [s for t, s in outcomes["b"] if t <= killed_at]
    b_after = [s for t, s in outcomes["b"] if t > killed_at]
    assert a_after and all(s != 200 for s in a_after)  # A is really gone
    assert b_before and b_after and all(s == 200 for _, s in outcomes["b"]), outcomes["b"][-5:]
    assert all(w.proc.poll() is None for w in workers)  # the workers never depended on A
