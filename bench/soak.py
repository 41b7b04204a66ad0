"""Soak: a bounded mixed load against a real server while things go wrong, and what it leaves behind.

Starts, on loopback only: a private ``redis-server`` (append-only file, so a restart keeps the task queue) for the
rate limits, the shared translation memory and the Celery broker; ``python -m service serve`` with two gunicorn
workers; one ``python -m service worker``. The job store is SQLite in a temporary folder (or ``--jobs-database``),
the engine Apertium id->ms (real, no model to download). Then ``--concurrency`` clients send, for ``--minutes``, a
mix of: translations (one text, several texts, a pair whose model is missing), summaries, detection, the
LibreTranslate endpoints, job submission and polling, and bad inputs (malformed JSON, wrong content type, NUL,
over-long text, unknown language, wrong types, unknown routes). One client key has a small character limit, so 429
answers occur. Along the way one web worker is killed with SIGKILL (at 40% of the time) and Redis is stopped for 5 s
and started again (at 60%).

Reports: requests by endpoint kind and status (2xx, 4xx, 429 and 503 are allowed; any other 5xx, a
non-JSON error body or a connection error counts against the run; connections that were in flight on the
killed worker are counted apart), p50/p99 latency, RSS of every process after the first minute and at the end,
and every job's documents: lost (missing or never finished) or duplicated results must be 0.

    python bench/soak.py [--minutes 10] [--concurrency 64] [--out bench/results/soak.md]

Exit status 0 when the run meets the bar (no 5xx other than 503, no lost or duplicated document, every
long-lived process's RSS grew by less than 10% after the first minute), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.jobs.worker import redact  # noqa: E402
from service.keys import add_key  # noqa: E402

SEED = REPO / "examples" / "ascn-shepherd-2025.id.txt"
ALLOWED = {200, 201, 303, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 503}
#: RSS growth allowed per long-lived process. A leak grows with the requests served; warming up (caches
#: filling, the allocator's arenas for 64 threads' worth of requests) levels off. So each process is judged on
#: the second half of the time it was measured: from halfway between its first minute and the end, to the end.
RSS_GROWTH_LIMIT = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


class Redis:
    def __init__(self, root: Path):
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not answers(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)
    dropped: int = 0  # connection errors while a worker was being killed or restarted
    jobs: list[str] = field(default_factory=list)

    def add(self, kind: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[(kind, status)] += 1
            self.latencies[kind].append(seconds)


class Load:
    def __init__(self, base: str, keys: dict[str, str], sentences: list[str], tally: Tally):
        self.base, self.keys, self.sentences, self.tally = base, keys, sentences, tally
        self.disruption = threading.Event()  # set while a worker is killed or Redis restarts
        self.kinds = [  # (weight, kind)
            (24, "translate"), (4, "translate_many"), (3, "missing_model"), (8, "summarize"), (8, "detect"),
            (8, "lt_translate"), (4, "lt_detect"), (5, "job_submit"), (10, "job_poll"), (12, "bad_input"),
            (4, "limited_key"), (2, "health"),
        ]

    def sentence(self) -> str:
        return random.choice(self.sentences)

    def request(self, session: requests.Session, kind: str) -> requests.Response | None:
        b, key = self.base, {"Authorization": f"Bearer {self.keys['load']}"}
        if kind == "translate":
            return session.post(b + "/v1/translate", json={"text": self.sentence(), "source": "id",
                                                           "targets": ["ms"]}, headers=key)
        if kind == "translate_many":
            return session.post(b + "/v1/translate", json={"text": [self.sentence() for _ in range(8)],
                                                           "source": "id", "targets": ["ms"]}, headers=key)
        if kind == "missing_model":
            return session.post(b + "/v1/translate", json={"text": self.sentence(), "source": "id",
                                                           "targets": ["en"]}, headers=key)
        if kind == "summarize":
            text = " ".join(random.sample(self.sentences, 6))
            return session.post(b + "/v1/summarize", json={"text": text, "sentences": 2}, headers=key)
        if kind == "detect":
            return session.post(b + "/v1/detect", json={"text": self.sentence()}, headers=key)
        if kind == "lt_translate":
            return session.post(b + "/translate", data={"q": self.sentence(), "source": "auto", "target": "ms",
                                                        "api_key": self.keys["load"]})
        if kind == "lt_detect":
            return session.post(b + "/detect", data={"q": self.sentence(), "api_key": self.keys["load"]})
        if kind == "job_submit":
            docs = [{"id": f"d{i}", "text": self.sentence()} for i in range(3)]
            response = session.post(b + "/v1/jobs", json={"documents": docs, "targets": ["ms"], "source": "id"},
                                    headers=key)
            if response.status_code == 201:
                with self.tally.lock:
                    self.tally.jobs.append(response.json()["id"])
            return response
        if kind == "job_poll":
            with self.tally.lock:
                job = random.choice(self.tally.jobs) if self.tally.jobs else "0" * 32
            return session.get(b + f"/v1/jobs/{job}", headers=key)
        if kind == "limited_key":
            return session.post(b + "/v1/translate", json={"text": self.sentence(), "source": "id",
                                                           "targets": ["ms"]},
                                headers={"Authorization": f"Bearer {self.keys['limited']}"})
        if kind == "health":
            return session.get(b + random.choice(["/healthz", "/readyz", "/metrics", "/v1/languages"]))
        bad = random.choice([
            lambda: session.post(b + "/v1/translate", data=b'{"text": "a", ', headers={
                **key, "Content-Type": "application/json"}),
            lambda: session.post(b + "/v1/translate", data="text=a", headers={
                **key, "Content-Type": "text/plain"}),
            lambda: session.post(b + "/v1/translate", json={"text": "a\x00b", "source": "id", "targets": ["ms"]},
                                 headers=key),
            lambda: session.post(b + "/v1/translate", json={"text": "kota " * 5000, "source": "id",
                                                            "targets": ["ms"]}, headers=key),
            lambda: session.post(b + "/v1/translate", json={"text": "a", "source": "id", "targets": ["xx"]},
                                 headers=key),
            lambda: session.post(b + "/v1/translate", json={"text": "a", "targets": ["ms"], "beam_size": "abc"},
                                 headers=key),
            lambda: session.post(b + "/v1/detect", data="[" * 5000 + "]" * 5000, headers={
                **key, "Content-Type": "application/json"}),
            lambda: session.get(b + "/nowhere", headers=key),
            lambda: session.post(b + "/v1/jobs", files={"files": ("x.jsonl", b'{"id": 1, "text": "a\\ud800b"}')},
                                 headers=key),
            lambda: session.post(b + "/translate", data={"q": "", "target": "zz"}),
        ])
        return bad()

    def client(self, deadline: float) -> None:
        session = requests.Session()
        weights, kinds = zip(*self.kinds, strict=True)
        while time.monotonic() < deadline:
            kind = random.choices(kinds, weights)[0]
            started = time.perf_counter()
            try:
                response = self.request(session, kind)
            except requests.RequestException as exc:
                if self.disruption.is_set():
                    with self.tally.lock:
                        self.tally.dropped += 1
                else:
                    self.tally.add(kind, "connection_error", time.perf_counter() - started)
                    with self.tally.lock:
                        self.tally.problems.append(f"{kind}: {exc.__class__.__name__}")
                session = requests.Session()
                continue
            seconds = time.perf_counter() - started
            assert response is not None
            self.tally.add(kind, response.status_code, seconds)
            if response.status_code >= 400:
                try:
                    body = response.json()
                    ok_shape = isinstance(body, dict) and isinstance(body.get("error"), str) and "code" in body
                except ValueError:
                    ok_shape = False
                if not ok_shape:
                    with self.tally.lock:
                        self.tally.problems.append(f"{kind}: {response.status_code} without the JSON error body")
            if response.status_code not in ALLOWED:
                with self.tally.lock:
                    self.tally.problems.append(f"{kind}: status {response.status_code}: {response.text[:200]}")


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", "2"],
                            cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server stopped during start-up; see its log")
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready")


def check_jobs(base: str, key: str, jobs: list[str], stall_s: float, cap_s: float) -> tuple[int, int, int, int, int]:
    """(jobs, documents expected, lost, duplicated, seconds waited), after waiting for every job to finish.

    The worker may still have a backlog when the load stops (a job is three documents, submitted faster than one
    worker of two threads translates them on a loaded machine): the wait goes on as long as jobs keep finishing,
    and ends ``stall_s`` after the last one finished (longer than the worker's sweep needs to queue a lost task
    again) or after ``cap_s``. What is still unfinished then is lost."""
    headers = {"Authorization": f"Bearer {key}"}
    started = last_progress = time.monotonic()
    pending = set(jobs)
    while pending and time.monotonic() - last_progress < stall_s and time.monotonic() - started < cap_s:
        for job in list(pending):
            try:
                status = requests.get(f"{base}/v1/jobs/{job}", headers=headers, timeout=30).json()
            except (requests.RequestException, ValueError):
                continue
            if status.get("state") in ("completed", "cancelled"):
                pending.discard(job)
                last_progress = time.monotonic()
        time.sleep(1)
    waited = time.monotonic() - started
    expected = lost = duplicated = 0
    for job in jobs:
        rows = [json.loads(line) for line in requests.get(f"{base}/v1/jobs/{job}/results", headers=headers,
                                                          timeout=60).text.splitlines() if line.strip()]
        seen = Counter((r["id"], r["target"]) for r in rows)
        expected += 3
        lost += sum(1 for doc in ("d0", "d1", "d2") if seen[(doc, "ms")] == 0
                    or any(r["state"] == "pending" for r in rows if r["id"] == doc))
        duplicated += sum(n - 1 for n in seen.values() if n > 1)
    return len(jobs), expected, lost, duplicated, round(waited)


def rss_at(series: list[tuple[float, int]], t: float) -> int:
    """The first sample taken at or after ``t`` seconds."""
    return next(v for at, v in series if at >= t)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "soak.md"))
    parser.add_argument("--jobs-database", default=os.environ.get("ASEAN_MT_JOBS_DATABASE_URL", ""),
                        help="job store URL (e.g. postgresql+psycopg://...); default SQLite in a temporary folder")
    args = parser.parse_args()
    duration = args.minutes * 60

    root = Path(tempfile.mkdtemp(prefix="asean-mt-soak-"))
    redis = Redis(root)
    redis.start()
    keys_file = root / "keys"
    keys = {"load": add_key(keys_file, "load")[0], "limited": add_key(keys_file, "limited", limit="3000/minute")[0]}
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(root / "models"),
           "ASEAN_MT_DATA_DIR": str(root / "data"), "ASEAN_MT_SECRET_KEY": "soak",
           "ASEAN_MT_API_KEYS_FILE": str(keys_file), "ASEAN_MT_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
           "ASEAN_MT_MEMORY": "redis", "ASEAN_MT_BROKER_URL": f"redis://127.0.0.1:{redis.port}/1",
           "ASEAN_MT_JOBS_VISIBILITY_TIMEOUT_S": "60", "ASEAN_MT_PRELOAD": "id-ms", "ASEAN_MT_LOG_LEVEL": "warning",
           # no recycling of web workers: it would hide a leak (the killed worker's replacement is measured apart)
           "ASEAN_MT_MAX_REQUESTS": "0", "ASEAN_MT_JOBS_DATABASE_URL": args.jobs_database}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, root / "server.log")
    worker = subprocess.Popen([sys.executable, "-m", "service", "worker", "--concurrency", "2"], cwd=REPO, env=env,
                              stdout=(root / "worker.log").open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    tally = Tally()
    sentences = [s.strip() for s in SEED.read_text(encoding="utf-8").replace("\n", " ").split(". ") if len(s) > 30]
    sentences = [s if s.endswith(".") else s + "." for s in sentences]
    load = Load(base, keys, sentences, tally)
    events: list[str] = []
    samples: dict[str, list[tuple[float, int]]] = defaultdict(list)  # process -> (seconds, RSS KiB), every 5 s
    try:
        wait_ready(base, server)

        def roles() -> dict[str, int]:
            out = {"gunicorn master": server.pid, "job worker": worker.pid}
            for pid in sorted(children(server.pid)):
                out[f"web worker (pid {pid})"] = pid
            if redis.proc is not None:
                out[f"redis-server (pid {redis.proc.pid})"] = redis.proc.pid
            return out

        started = time.monotonic()
        deadline = started + duration
        threads = [threading.Thread(target=load.client, args=(deadline,), daemon=True)
                   for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        killed = restarted = False
        while time.monotonic() < deadline:
            elapsed = time.monotonic() - started
            if not samples or elapsed - max(t for v in samples.values() for t, _ in v) >= 5:
                for name, pid in roles().items():  # a replaced process is measured from its own start
                    if (rss := rss_kib(pid)):
                        samples[name].append((elapsed, rss))
            if not killed and elapsed >= 0.4 * duration:
                victim = sorted(children(server.pid))[0]
                load.disruption.set()
                os.kill(victim, signal.SIGKILL)
                events.append(f"{elapsed:.0f} s: web worker {victim} killed (SIGKILL)")
                time.sleep(5)
                load.disruption.clear()
                killed = True
            if not restarted and elapsed >= 0.6 * duration:
                events.append(f"{elapsed:.0f} s: Redis stopped")
                redis.stop()
                time.sleep(5)
                redis.start()
                events.append(f"{time.monotonic() - started:.0f} s: Redis started again")
                restarted = True
            time.sleep(1)
        for t in threads:
            t.join(120)
        for name, pid in roles().items():
            if (rss := rss_kib(pid)):
                samples[name].append((time.monotonic() - started, rss))
        jobs, documents, lost, duplicated, drained = check_jobs(base, keys["load"], tally.jobs, stall_s=150,
                                                                 cap_s=1800)
    finally:
        for proc in (worker, server):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, server):
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        redis.stop()

    # -- the report ---------------------------------------------------------------------------------------
    by_status: Counter = Counter()
    for (_, status), n in tally.statuses.items():
        by_status[status] += n
    bad_5xx = sum(n for s, n in by_status.items() if isinstance(s, int) and s >= 500 and s != 503)
    total = sum(by_status.values())
    rss = {}  # process -> (after its first minute, halfway from there, at the end), KiB; only those alive at the end
    for name, series in samples.items():
        begin, end = series[0][0], series[-1][0]
        if end < duration or end - begin < 2 * min(60, duration / 5):
            continue  # gone before the end (the killed worker, the stopped Redis) or too short-lived to judge
        warm = begin + min(60, duration / 5)
        rss[name] = (rss_at(series, warm), rss_at(series, (warm + end) / 2), series[-1][1])
    growth = {name: (last - half) / half for name, (_, half, last) in rss.items()}
    too_much = {n: g for n, g in growth.items() if g > RSS_GROWTH_LIMIT and not n.startswith("redis")}
    passed = (bad_5xx == 0 and not tally.problems and lost == 0 and duplicated == 0 and not too_much
              and by_status.get("connection_error", 0) == 0)
    all_latencies = [x for v in tally.latencies.values() for x in v]
    store = "PostgreSQL" if args.jobs_database.startswith("postgres") else "SQLite"
    database = f" --jobs-database {redact(args.jobs_database)}" if args.jobs_database else ""
    lines = [
        "# Soak: mixed load with a worker killed and Redis restarted",
        "",
        f"`python bench/soak.py --minutes {args.minutes:g} --concurrency {args.concurrency}{database}` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores; load average at the end "
        f"{os.getloadavg()[0]:.1f} (other work was running on the machine: latencies are not the point here).",
        "",
        "RSS: each process sampled every 5 s from its own start (a replaced process too); web workers are not recycled "
        "(`max_requests=0`), so a leak would show. Judged on the second half of the time each was measured (from "
        f"halfway between its first minute and the end, to the end: at most {RSS_GROWTH_LIMIT:.0%}): a leak keeps "
        "growing with the requests served, warming up levels off.",
        "",
        "Server: `serve` with 2 gunicorn workers, a separate `worker` (Celery, 2 threads), private Redis (append-only)"
        f" as rate-limit store, translation memory and broker; job store {store}; Apertium id->ms.",
        "",
        f"**Result: {'PASS' if passed else 'FAIL'}** — {total:,} requests, {bad_5xx} 5xx other than 503, "
        f"{len(tally.problems)} problems, {jobs} jobs / {documents} documents: {lost} lost, {duplicated} duplicated; "
        f"{tally.dropped} connections dropped with the killed worker (in flight on it when it died); the worker's "
        f"backlog of jobs drained {drained} s after the load stopped.",
        "",
        "Events: " + "; ".join(events) + ".",
        "",
        "| status | requests |",
        "| --- | ---: |",
        *[f"| {s} | {n:,} |" for s, n in sorted(by_status.items(), key=lambda kv: str(kv[0]))],
        "",
        "| kind | requests | statuses | p50 ms | p99 ms |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for kind in sorted(tally.latencies):
        statuses = Counter({s: n for (k, s), n in tally.statuses.items() if k == kind})
        values = tally.latencies[kind]
        counts = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items(), key=str))
        lines.append(f"| {kind} | {len(values):,} | {counts} | {1000 * statistics.median(values):.0f} | "
                     f"{1000 * percentile(values, 0.99):.0f} |")
    lines += [f"| all | {len(all_latencies):,} | | {1000 * statistics.median(all_latencies or [0]):.0f} | "
              f"{1000 * percentile(all_latencies, 0.99):.0f} |", "",
              "| process | RSS after its first minute (MiB) | halfway from there (MiB) | at the end (MiB) | "
              "growth over the second half | whole run |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in sorted(rss):
        first, half, last = rss[name]
        lines.append(f"| {name} | {first / 1024:.0f} | {half / 1024:.0f} | {last / 1024:.0f} | "
                     f"{100 * growth[name]:+.1f}% | {100 * (last - first) / first:+.1f}% |")
    if tally.problems:
        lines += ["", "Problems (first 20):", *[f"- {p}" for p in tally.problems[:20]]]
    report = "\n".join(lines) + "\n"
    Path(args.out).write_text(report, encoding="utf-8")
    print(report)
    print(f"logs: {root}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
