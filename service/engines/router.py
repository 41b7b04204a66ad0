"""Pair -> the first available engine from the catalog; builds each engine once and keeps it."""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from dataclasses import dataclass

from service.catalog import Candidate, Catalog
from service.config import Settings
from service.engines import apertium
from service.engines.base import Engine
from service.engines.batching import BatchingEngine
from service.errors import ConfigError, ModelMissing
from service.memory import CachingEngine, LruMemory, MemoryStore, RedisMemory
from service.model_store import ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteStatus:
    source: str
    target: str
    available: Candidate | None
    missing: list[Candidate]

    @property
    def needs(self) -> str:
        """What to do to make the pair work (empty when it works)."""
        if self.available:
            return ""
        return missing_hint(self.missing)


def pull_command(candidate: Candidate) -> str:
    if candidate.engine == "apertium":
        return f"apt-get install apertium {candidate.model.package or 'apertium-' + candidate.model.id}"
    return f"python -m service models pull {candidate.model.id}"


def missing_hint(missing: list[Candidate]) -> str:
    first = missing[0]
    size = f", {first.model.size}" if first.model.size else ""
    return f"needs model {first.model.id}{size}: run `{pull_command(first)}`"


@functools.cache
def torch_installed() -> bool:
    """torch is an optional extra (``asean-mt[full]``): without it the transformers engine is unavailable."""
    return importlib.util.find_spec("torch") is not None


def make_memory(settings: Settings) -> MemoryStore | None:
    if settings.memory == "off":
        return None
    if settings.memory == "redis":
        if not settings.redis_url:
            raise ConfigError("memory = redis needs redis_url.")
        return RedisMemory(settings.redis_url, settings.memory_ttl_s, settings.memory_redis_timeout_s,
                           settings.memory_retry_s)
    if settings.memory != "lru":
        raise ConfigError(f"memory must be lru, redis or off, not {settings.memory!r}.")
    return LruMemory(settings.memory_max_bytes)


class EngineRouter:
    """Owns the engines of one process. Engines are built on first use (loading a model takes seconds)."""

    def __init__(self, settings: Settings, catalog: Catalog | None = None, store: ModelStore | None = None):
        self.settings = settings
        self.catalog = catalog or Catalog.load(settings.catalog_path)
        self.store = store or ModelStore(settings.models_dir)
        self._engines: dict[str, Engine] = {}
        self._adapters: dict[str, object] = {}
        self._lock = threading.Lock()  # held only to find the lock of one model (below)
        self._model_locks: dict[str, threading.Lock] = {}
        self.memory = make_memory(settings)  # one per process, shared by every engine

    def is_available(self, candidate: Candidate) -> bool:
        if candidate.engine == "apertium":
            return apertium.is_installed(candidate.model.id, self.settings.apertium_modes_dir)
        if candidate.engine == "ctranslate2":
            return self.store.has_ct2(candidate.model.id)
        # transformers runs models on torch, which the runtime install (and image) leaves out
        return self.store.has_hf(candidate.model.id) and torch_installed()

    def status(self, source: str, target: str) -> RouteStatus:
        candidates = self.catalog.candidates(source, target)
        for c in candidates:
            if self.is_available(c):
                return RouteStatus(source, target, c, [])
        return RouteStatus(source, target, None, candidates)

    def summarizer_status(self, lang: str) -> RouteStatus:
        candidates = self.catalog.summarizer_candidates(lang)
        for c in candidates:
            if self.is_available(c):
                return RouteStatus(lang, lang, c, [])
        return RouteStatus(lang, lang, None, candidates)

    def summarizer_for(self, lang: str) -> Engine:
        """The abstractive summarisation model for ``lang``, built once (ModelMissing when none is here)."""
        status = self.summarizer_status(lang)
        if status.available is None:
            if not status.missing:
                raise ModelMissing(f"No abstractive summariser in the catalog covers {lang}; "
                                   "use the extractive method.", language=lang)
            raise ModelMissing(f"Abstractive summaries in {lang} {status.needs}.", language=lang,
                               model=status.missing[0].model.id, command=pull_command(status.missing[0]))
        return self.build(status.available)

    def engine_for(self, source: str, target: str) -> Engine:
        status = self.status(source, target)
        if status.available is None:
            raise ModelMissing(f"{source} -> {target} {status.needs}.", source=source, target=target,
                               model=status.missing[0].model.id, command=pull_command(status.missing[0]))
        return self.build(status.available)

    def _model_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._model_locks.setdefault(key, threading.Lock())

    def build(self, candidate: Candidate) -> Engine:
        """The engine for ``candidate``, loaded once. Loading (seconds) holds the lock of this model alone:
        requests for engines already loaded, or loading, of other models never wait for it."""
        key = str(candidate)
        engine = self._engines.get(key)
        if engine is not None:
            return engine
        with self._model_lock(key):
            if key not in self._engines:
                log.info("loading engine %s", key)
                self._engines[key] = self._layers(candidate, self._build(candidate))
            return self._engines[key]

    def _layers(self, candidate: Candidate, engine: Engine) -> Engine:
        """memory(batching(engine)): memory hits skip the queue; misses are batched across requests."""
        s = self.settings
        if s.micro_batch_wait_ms > 0:  # as many dispatchers as batches the engine runs in parallel
            engine = BatchingEngine(engine, s.micro_batch_wait_ms / 1000, s.max_batch_tokens, s.request_timeout_s,
                                    dispatchers=s.threads[1])
        if self.memory is not None:
            if candidate.engine == "apertium":
                revision = apertium.revision(candidate.model.id, s.apertium_modes_dir)
            else:
                revision = self.store.revision(candidate.model.id)
            engine = CachingEngine(engine, self.memory, revision)
        return engine

    def engines(self) -> dict[str, Engine]:
        return dict(self._engines)

    def _adapter(self, candidate: Candidate):  # -> HFAdapter, imported lazily (pulls in transformers)
        from service.engines.hf import HFAdapter

        model_id = candidate.model.id
        with self._model_lock("tokenizer:" + model_id):  # shared by the CTranslate2 and transformers engines
            if model_id not in self._adapters:
                self._adapters[model_id] = HFAdapter(candidate.model, self.store.hf_dir(model_id),
                                                     self.settings.default_max_input_tokens)
            return self._adapters[model_id]

    def _build(self, candidate: Candidate) -> Engine:
        s = self.settings
        if candidate.engine == "apertium":
            return apertium.ApertiumEngine(candidate.model.id, s.apertium_modes_dir, s.apertium_timeout_s)
        if candidate.engine == "ctranslate2":
            from service.engines.ctranslate2 import CTranslate2Engine

            return CTranslate2Engine(self._adapter(candidate), self.store.ct2_dir(candidate.model.id),
                                     s.device, s.compute_type, s.threads, (s.max_output_ratio, s.max_output_extra))
        from service.engines.transformers import TransformersEngine

        return TransformersEngine(self._adapter(candidate), self.store.hf_dir(candidate.model.id), s.device,
                                  s.threads, (s.max_output_ratio, s.max_output_extra))
