"""Broker restarts under a job load: Redis is stopped and started again and again while jobs keep coming; does the
job worker stay, and is every document translated exactly once?

Starts, on loopback only, what ``bench/soak.py`` starts (a private ``redis-server`` with an append-only file as
the Celery broker, ``python -m service serve``, one ``python -m service worker`` of 2 threads, SQLite job store,
Apertium id->ms), then ``--submitters`` clients submit three-document jobs while Redis is restarted ``--restarts``
times (stopped, ``--down`` seconds away, started; ``--every`` seconds apart; ``--kill`` stops it with SIGKILL
instead of SIGTERM). Afterwards it waits for the jobs as the soak does, and reports jobs, documents, lost and
duplicated documents, and how often the worker stopped on an error and started itself again
(``service/jobs/worker.py: keep_running``). Writes ``bench/results/broker-restarts.md``.

    python bench/broker_restarts.py [--restarts 25] [--kill]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from soak import REPO, Redis, add_key, check_jobs, free_port, start_server, wait_ready

TEXT = "Kementerian Dalam Negeri memimpin delegasi Indonesia ke pertemuan tahunan ASEAN Smart City Network."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=25)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between restarts")
    parser.add_argument("--down", type=float, default=2.0, help="seconds Redis stays away")
    parser.add_argument("--kill", action="store_true", help="stop Redis with SIGKILL (default SIGTERM)")
    parser.add_argument("--submitters", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "broker-restarts.md"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="asean-mt-broker-"))
    redis = Redis(root)
    redis.start()
    keys_file = root / "keys"
    key = add_key(keys_file, "load")[0]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(root / "models"),
           "ASEAN_MT_DATA_DIR": str(root / "data"), "ASEAN_MT_SECRET_KEY": "broker-restarts",
           "ASEAN_MT_API_KEYS_FILE": str(keys_file), "ASEAN_MT_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
           "ASEAN_MT_MEMORY": "off", "ASEAN_MT_BROKER_URL": f"redis://127.0.0.1:{redis.port}/1",
           "ASEAN_MT_JOBS_VISIBILITY_TIMEOUT_S": "30", "ASEAN_MT_PRELOAD": "id-ms", "ASEAN_MT_LOG_LEVEL": "warning"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, root / "server.log")
    worker_log = root / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "service", "worker", "--concurrency", "2"], cwd=REPO, env=env,
                              stdout=worker_log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    jobs: list[str] = []
    stop = threading.Event()

    def submit() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.post(base + "/v1/jobs", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                 json={"documents": [{"id": f"d{i}", "text": TEXT} for i in range(3)],
                                       "targets": ["ms"], "source": "id"})
                if r.status_code == 201:
                    jobs.append(r.json()["id"])
            except requests.RequestException:
                pass
            time.sleep(0.15)

    try:
        wait_ready(base, server)
        threads = [threading.Thread(target=submit) for _ in range(args.submitters)]
        for t in threads:
            t.start()
        for n in range(args.restarts):
            time.sleep(args.every)
            assert redis.proc is not None
            if args.kill:
                redis.proc.kill()
                redis.proc.wait()
            else:
                redis.stop()
            time.sleep(args.down)
            redis.start()
            print(f"restart {n + 1}: {len(jobs)} jobs submitted", flush=True)
        stop.set()
        for t in threads:
            t.join()
        count, documents, lost, duplicated, waited = check_jobs(base, key, jobs, 90, 900)
        log = worker_log.read_text(encoding="utf-8", errors="replace")
    finally:
        stop.set()
        for proc in (server, worker):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        redis.stop()
    lost_connection = log.count("Connection to broker lost")
    stopped, restarted = log.count("Unrecoverable error"), log.count("starts again once the task queue answers")
    passed = lost == 0 and duplicated == 0 and worker.poll() in (None, -signal.SIGTERM, 0)
    text = "\n".join([
        "# Broker restarts under a job load",
        "",
        f"`python bench/broker_restarts.py --restarts {args.restarts}{' --kill' if args.kill else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}: Redis (the Celery broker, append-only) stopped with "
        f"{'SIGKILL' if args.kill else 'SIGTERM'} every {args.every:g} s, {args.down:g} s away, while "
        f"{args.submitters} clients submitted three-document jobs; one worker of 2 threads, SQLite job store, "
        "Apertium id->ms.",
        "",
        f"**Result: {'PASS' if passed else 'FAIL'}** — {count:,} jobs / {documents:,} documents: {lost} lost, "
        f"{duplicated} duplicated (all finished {waited} s after the last restart); the worker lost its broker "
        f"connection {lost_connection} times, stopped on an error {stopped} times and started itself again "
        f"{restarted} times.",
        "",
    ])
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    print(f"logs: {root}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
