"""What one server process holds: the pipeline (built once, handed to every view), readiness, metrics,
keys and limits. Stored on the app (``app.extensions``), never in a module global."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service import languages
from service.config import Settings
from service.errors import ServiceError
from service.http.security import ApiKeys, CharacterRateLimit
from service.jobs.service import JobService
from service.pipeline import Pipeline

log = logging.getLogger(__name__)
EXTENSION = "asean_mt"


#: HTTP methods counted under their own name in /metrics; any other method is counted as "other", so that a
#: client sending made-up methods cannot grow the metrics without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess_dir() -> str | None:
    """Set by the gunicorn configuration: every worker writes its metrics there (prometheus_client's
    multiprocess mode), so /metrics covers all workers and survives a worker's recycling."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Prometheus metrics of one app. Every label comes from a closed set: route rules (or "unmatched"),
    KNOWN_METHODS (or "other"), status codes, engines, languages."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("http_request_seconds", "HTTP request latency", ["endpoint"], registry=r,
                                 buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.segments = Counter("translation_segments_total", "Sentences translated", ["engine", "target"],
                                registry=r)
        self.characters = Counter("translation_characters_total", "Source characters translated",
                                  ["engine", "target"], registry=r)
        self.engine_seconds = Counter("translation_engine_seconds_total", "Time spent in engines", ["engine"],
                                      registry=r)
        self.ready = Gauge("service_ready", "1 once the engines are loaded (the lowest of the live workers)",
                           registry=r, multiprocess_mode="livemin")
        self.rate_limit_errors = Counter("rate_limit_errors_total", "Requests the rate limiter could not count "
                                         "because its storage failed (let through or refused: "
                                         "rate_limit_failure_mode)", registry=r)
        self.memory_hits = Counter("translation_memory_hits", "Segments found in the translation memory",
                                   registry=r)
        self.memory_misses = Counter("translation_memory_misses", "Segments not in the translation memory",
                                     registry=r)
        self.batch_calls = Counter("micro_batch_calls", "Engine calls entering the micro-batcher", ["engine"],
                                   registry=r)
        self.batch_batches = Counter("micro_batch_batches", "Engine batches run by the micro-batcher", ["engine"],
                                     registry=r)
        self.memory_errors = Counter("translation_memory_errors", "Failed translation memory calls (answered as "
                                     "misses; e.g. Redis down)", registry=r)
        self.batch_lanes = Gauge("micro_batch_lanes", "Language pair and option combinations queued or recently "
                                 "used", ["engine"], registry=r, multiprocess_mode="livesum")

    def count_request(self, rule: str | None, method: str, status: int, seconds: float | None) -> None:
        endpoint = rule or "unmatched"
        self.requests.labels(endpoint, method if method in KNOWN_METHODS else "other", str(status)).inc()
        if seconds is not None:
            self.latency.labels(endpoint).observe(seconds)

    def exposition(self) -> bytes:
        if multiprocess_dir():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


class EngineLayersCollector:
    """Carries the translation memory's and the micro-batchers' own counters into the metrics: what grew
    since the last call is added to real Counters (so that they are summed over workers and survive a
    worker's recycling like the others). Called after every request and before /metrics answers."""

    def __init__(self, router: object, metrics: Metrics):
        self.router = router
        self.metrics = metrics
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], int] = {}

    def _add(self, counter: Counter, key: tuple[str, str], value: int, *labels: str) -> None:
        delta = value - self._seen.get(key, 0)
        if delta < 0:  # the source was reset (a new engine object): count it from zero again
            delta = value
        if delta:
            (counter.labels(*labels) if labels else counter).inc(delta)
        self._seen[key] = value

    def sync(self) -> None:
        from service.engines.base import layers
        from service.engines.batching import BatchingEngine

        with self._lock:
            memory = getattr(self.router, "memory", None)
            if memory is not None:
                self._add(self.metrics.memory_hits, ("memory", "hits"), memory.hits)
                self._add(self.metrics.memory_misses, ("memory", "misses"), memory.misses)
                self._add(self.metrics.memory_errors, ("memory", "errors"), getattr(memory, "errors", 0))
            lanes: dict[str, int] = {}  # per engine kind (a closed set), summed over its models
            for name, engine in getattr(self.router, "engines", dict)().items():
                batcher = next((layer for layer in layers(engine) if isinstance(layer, BatchingEngine)), None)
                if batcher is not None:
                    kind = name.split(":")[0]
                    self._add(self.metrics.batch_calls, (name, "calls"), batcher.stats.calls, kind)
                    self._add(self.metrics.batch_batches, (name, "batches"), batcher.stats.batches, kind)
                    lanes[kind] = lanes.get(kind, 0) + batcher.lanes
            for kind, n in lanes.items():
                self.metrics.batch_lanes.labels(kind).set(n)


@dataclass
class ServiceState:
    settings: Settings
    pipeline: Pipeline
    keys: ApiKeys
    rate_limit: CharacterRateLimit
    jobs: JobService | None = None
    metrics: Metrics = field(default_factory=Metrics)
    layers: EngineLayersCollector | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    warmup_error: str | None = None

    def warm_up(self, hook: Callable[[ServiceState], None] | None = None) -> None:
        """Load the engines of the preloaded pairs (and the language detector), then become ready."""
        try:
            if hook is not None:
                hook(self)
            else:
                for source, target in self.preload_pairs():
                    try:
                        self.pipeline.router.engine_for(source, target)
                    except ServiceError as exc:  # a missing model is not fatal: that pair answers 503
                        log.info("not preloaded %s-%s: %s", source, target, exc.message)
                self.pipeline.detector  # noqa: B018 - loads lingua's models now rather than on a request
        except Exception as exc:
            self.warmup_error = str(exc) or "failed"  # for the log and tests; /readyz shows no library text
            log.exception("warm-up failed")
            return
        self.ready.set()
        self.metrics.ready.set(1)
        log.info("ready")

    def preload_pairs(self) -> list[tuple[str, str]]:
        spec = self.settings.preload.strip()
        if not spec:
            return []
        if spec == "auto":
            return [("id", t) for t in languages.ASEAN_TARGETS]
        pairs = []
        for item in spec.split(","):
            src, _, tgt = item.strip().partition("-")
            pairs.append((languages.normalize(src), languages.normalize(tgt)))
        return pairs


def current_service() -> ServiceState:
    return current_app.extensions[EXTENSION]
