"""Pair -> the first available engine from the catalog; builds each engine once and keeps it."""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import threading
from dataclasses import dataclass, field

from service.catalog import POLICIES, Candidate, Catalog, license_allowed, license_class, license_label
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
    #: candidates the license_policy skipped, with their licence
    excluded: list[tuple[Candidate, str]] = field(default_factory=list)
    #: the licence of the available model
    license: str = ""
    policy: str = "any"

    @property
    def needs(self) -> str:
        """What to do to make the pair work (empty when it works)."""
        if self.available:
            return ""
        if not self.missing:
            return f"needs a model, but {excluded_note(self.excluded, self.policy)}; set license_policy = \"any\" " \
                   "if your use is allowed by their licences"
        hint = missing_hint(self.missing)
        return f"{hint} ({excluded_note(self.excluded, self.policy)})" if self.excluded else hint


def excluded_note(excluded: list[tuple[Candidate, str]], policy: str) -> str:
    models = list(dict.fromkeys(f"{c.model.id}: {license_label(lic)}" for c, lic in excluded))
    return f"license_policy = {policy} skips {'; '.join(models)}"


def pull_command(candidate: Candidate) -> str:
    if candidate.engine == "apertium":
        return f"apt-get install apertium {candidate.model.package or 'apertium-' + candidate.model.id}"
    if candidate.engine == "llamacpp":
        return f"python -m service models add FILE.gguf --name {candidate.model.id}"
    if candidate.engine == "openai":
        return f"set openai_base_url to an OpenAI-compatible server that serves {served_name(candidate)}"
    return f"python -m service models pull {candidate.model.id}"


def served_name(candidate: Candidate) -> str:
    return candidate.model.served_name or candidate.model.id


_SIZE = re.compile(r"([\d.]+)\s*([KMGT]?B)", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def size_bytes(size: str) -> float:
    """"1.9 GB" -> 1.9e9; unknown sizes sort last."""
    m = _SIZE.search(size or "")
    return float(m.group(1)) * _UNITS[m.group(2).upper()] if m else float("inf")


def suggestion(missing: list[Candidate]) -> Candidate:
    """What to suggest installing: the smallest model that can be pulled or installed here (a server's model
    only when nothing else would do); the route's order decides among equals."""
    local = [c for c in missing if c.engine != "openai"] or missing
    return min(local, key=lambda c: size_bytes(c.model.size))


def missing_hint(missing: list[Candidate]) -> str:
    first = suggestion(missing)
    size = f", {first.model.size}" if first.model.size else ""
    lic = f", {license_label(first.model.license)}"
    if first.engine == "openai":
        return f"needs LLM {first.model.id}{lic}: {pull_command(first)}"
    return f"needs model {first.model.id}{size}{lic}: run `{pull_command(first)}`"


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
        self._language_detector = None
        self._lock = threading.Lock()  # held only to find the lock of one model (below)
        self._model_locks: dict[str, threading.Lock] = {}
        self.memory = make_memory(settings)  # one per process, shared by every engine
        if settings.license_policy not in POLICIES:
            raise ConfigError(f"license_policy must be one of {', '.join(POLICIES)}, not {settings.license_policy!r}.")
        from service.engines.llm import check_prompts

        for model in self.catalog.models.values():
            if model.family == "llm":
                check_prompts(model)

    def is_available(self, candidate: Candidate) -> bool:
        if candidate.engine == "apertium":
            return apertium.is_installed(candidate.model.id, self.settings.apertium_modes_dir)
        if candidate.engine == "ctranslate2":
            return self.store.has_ct2(candidate.model.id)
        if candidate.engine == "llamacpp":
            return self.store.has_gguf(candidate.model.id)
        if candidate.engine == "openai":
            return self._server_has(served_name(candidate))
        # transformers runs models on torch, which the runtime install (and image) leaves out
        return self.store.has_hf(candidate.model.id) and torch_installed()

    def _server_has(self, name: str) -> bool:
        if not self.settings.openai_base_url:
            return False
        from service.engines.openai import server_models

        return name in server_models(self.settings)

    def license_of(self, candidate: Candidate) -> str:
        """The licence recorded next to the installed weights (from their model card), else the catalog's."""
        if candidate.engine in ("ctranslate2", "transformers", "llamacpp"):
            recorded = self.store.license(candidate.model.id)
            if license_class(recorded) != "unknown":
                return recorded
        return candidate.model.license

    def _resolve(self, source: str, target: str, candidates: list[Candidate]) -> RouteStatus:
        """The first candidate that is present and allowed by the licence policy; what is missing or skipped."""
        policy = self.settings.license_policy
        missing: list[Candidate] = []
        excluded: list[tuple[Candidate, str]] = []
        for c in candidates:
            lic = self.license_of(c)
            if not license_allowed(lic, policy):
                excluded.append((c, lic))
            elif self.is_available(c):
                return RouteStatus(source, target, c, [], excluded, lic, policy)
            else:
                missing.append(c)
        return RouteStatus(source, target, None, missing, excluded, "", policy)

    def status(self, source: str, target: str) -> RouteStatus:
        return self._resolve(source, target, self.catalog.candidates(source, target))

    def summarizer_status(self, lang: str) -> RouteStatus:
        return self._resolve(lang, lang, self.catalog.summarizer_candidates(lang))

    def summarizer_for(self, lang: str) -> Engine:
        """The abstractive summarisation model for ``lang``, built once (ModelMissing when none is here)."""
        status = self.summarizer_status(lang)
        if status.available is None:
            if not status.missing and not status.excluded:
                raise ModelMissing(f"No abstractive summariser in the catalog covers {lang}; "
                                   "use the extractive method.", language=lang)
            raise ModelMissing(f"Abstractive summaries in {lang} {status.needs}.", language=lang,
                               **_missing_details(status))
        return self.build(status.available)

    def engine_for(self, source: str, target: str) -> Engine:
        status = self.status(source, target)
        if status.available is None:
            raise ModelMissing(f"{source} -> {target} {status.needs}.", source=source, target=target,
                               **_missing_details(status))
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

    def _detector(self):  # -> LanguageDetector, shared by the LLM engines' output-language check
        from service.text.detect import LanguageDetector

        if self._language_detector is None:
            self._language_detector = LanguageDetector()
        return self._language_detector

    def _layers(self, candidate: Candidate, engine: Engine) -> Engine:
        """memory(batching(engine)): memory hits skip the queue; misses are batched across requests."""
        s = self.settings
        if s.micro_batch_wait_ms > 0:  # as many dispatchers as batches the engine runs in parallel
            engine = BatchingEngine(engine, s.micro_batch_wait_ms / 1000, s.max_batch_tokens, s.request_timeout_s,
                                    dispatchers=getattr(engine, "parallel_batches", 1))
        if self.memory is not None:
            if candidate.engine == "apertium":
                revision = apertium.revision(candidate.model.id, s.apertium_modes_dir)
            elif candidate.engine == "openai":  # the server's model may change under the same name
                revision = f"{s.openai_base_url}|{served_name(candidate)}|{getattr(engine, 'revision', '')}"
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
        if candidate.engine == "openai":
            from service.engines.openai import OpenAIEngine

            return OpenAIEngine(candidate.model, s, self._detector())
        if candidate.engine == "llamacpp":
            from service.engines.llamacpp import LlamaCppEngine

            gguf = self.store.gguf_file(candidate.model.id)
            assert gguf is not None  # is_available() said so
            return LlamaCppEngine(candidate.model, gguf, s, self._detector())
        if candidate.engine == "ctranslate2":
            from service.engines.ctranslate2 import CTranslate2Engine

            return CTranslate2Engine(self._adapter(candidate), self.store.ct2_dir(candidate.model.id),
                                     s.device, s.compute_type, s.threads, (s.max_output_ratio, s.max_output_extra),
                                     s.length_penalty, s.max_batch_decode_tokens)
        from service.engines.transformers import TransformersEngine

        # torch runs one batch at a time on every core the engine has
        return TransformersEngine(self._adapter(candidate), self.store.hf_dir(candidate.model.id), s.device,
                                  (s.engine_cores, 1), (s.max_output_ratio, s.max_output_extra),
                                  s.max_batch_decode_tokens)


def _missing_details(status: RouteStatus) -> dict[str, object]:
    """The model and command of the suggestion, and the models the licence policy skipped."""
    details: dict[str, object] = {}
    if status.missing:
        first = suggestion(status.missing)
        details.update(model=first.model.id, command=pull_command(first), license=first.model.license)
    if status.excluded:
        details["excluded_by_license_policy"] = sorted({c.model.id for c, _ in status.excluded})
    return details
