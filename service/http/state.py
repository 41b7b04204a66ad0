"""What one server process holds: the pipeline (built once, handed to every view), readiness, metrics,
keys and limits. Stored on the app (``app.extensions``), never in a module global."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service import languages
from service.config import Settings
from service.errors import ServiceError
from service.http.security import ApiKeys, CharacterRateLimit
from service.jobs.service import JobService
from service.pipeline import Pipeline

log = logging.getLogger(__name__)
EXTENSION = "asean_mt"


class Metrics:
    """Prometheus metrics of one app. Labels are bounded: route rules, status codes, engines, languages."""

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
        self.ready = Gauge("service_ready", "1 once the engines are loaded", registry=r)


class EngineLayersCollector:
    """Reads the translation memory's and the micro-batchers' counters at scrape time."""

    def __init__(self, router: object):
        self.router = router

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from service.engines.base import layers
        from service.engines.batching import BatchingEngine

        memory = getattr(self.router, "memory", None)
        if memory is not None:
            yield CounterMetricFamily("translation_memory_hits", "Segments found in the translation memory",
                                      value=memory.hits)
            yield CounterMetricFamily("translation_memory_misses", "Segments not in the translation memory",
                                      value=memory.misses)
            yield CounterMetricFamily("translation_memory_errors", "Failed translation memory calls (answered as "
                                      "misses; e.g. Redis down)", value=memory.errors)
        calls = CounterMetricFamily("micro_batch_calls", "Engine calls entering the micro-batcher", labels=["engine"])
        batches = CounterMetricFamily("micro_batch_batches", "Engine batches run by the micro-batcher",
                                      labels=["engine"])
        lanes = GaugeMetricFamily("micro_batch_lanes", "Language pair and option combinations queued or recently "
                                  "used", labels=["engine"])
        totals: dict[str, list[int]] = {}  # per engine kind (a closed set), summed over its models
        for name, engine in getattr(self.router, "engines", dict)().items():
            batcher = next((layer for layer in layers(engine) if isinstance(layer, BatchingEngine)), None)
            if batcher is not None:
                total = totals.setdefault(name.split(":")[0], [0, 0, 0])
                total[0] += batcher.stats.calls
                total[1] += batcher.stats.batches
                total[2] += batcher.lanes
        for kind, (n_calls, n_batches, n_lanes) in totals.items():
            calls.add_metric([kind], n_calls)
            batches.add_metric([kind], n_batches)
            lanes.add_metric([kind], n_lanes)
        yield calls
        yield batches
        yield lanes


@dataclass
class ServiceState:
    settings: Settings
    pipeline: Pipeline
    keys: ApiKeys
    rate_limit: CharacterRateLimit
    jobs: JobService | None = None
    metrics: Metrics = field(default_factory=Metrics)
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
