"""Translation memory: a segment-level cache layer around any engine.

The key holds everything that changes the engine's output: engine, model and its revision, source, target,
decoding options, and the segment exactly as the engine receives it. That is the segment *after* glossary
protection, so the glossary needs no place in the key: a glossary change that protects other spans changes the
segment itself, and a changed target form is applied after the memory, when placeholders are restored. Keys are
structured (a JSON list, hashed), so two different inputs never share an entry (``["a|b"]`` vs ``["a", "b"]``).

Two stores: an in-process LRU bounded in bytes (default), and Redis, shared by every worker, where entries
expire after ``memory_ttl_s`` (bound its size with Redis's own ``maxmemory`` and ``allkeys-lru``).

The memory is an optimisation, never a dependency: with Redis down or slow, a lookup is a miss and a store is
skipped (each Redis call bounded by ``memory_redis_timeout_s``, no retries), the outage is logged once and
counted (``errors``, ``/metrics``), Redis is left alone for ``memory_retry_s``, then tried again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Protocol

from service.engines.base import DecodeOptions, Engine, EngineLayer, Hypothesis, SegmentTranslation

log = logging.getLogger(__name__)

KEY_VERSION = 1


class MemoryStore(Protocol):
    hits: int
    misses: int
    #: failed calls to a shared store (each one answered as a miss)
    errors: int

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put_many(self, items: dict[str, bytes]) -> None: ...


def make_key(engine: str, model: str, revision: str, source: str, target: str, options: DecodeOptions,
             segment: str) -> str:
    opts = asdict(options)
    opts.pop("use_memory", None)
    raw = json.dumps([KEY_VERSION, engine, model, revision, source, target, opts, segment], ensure_ascii=False,
                     sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def encode(t: SegmentTranslation) -> bytes:
    """Hypotheses, token counts and the engine's flags on the segment (an LLM's post-checks)."""
    flags = t.metadata.get("flags") or []
    return json.dumps([[[h.text, h.score] for h in t.hypotheses], t.input_tokens, t.output_tokens, flags],
                      ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> SegmentTranslation:
    hyps, inp, out, *rest = json.loads(data)
    metadata: dict[str, object] = {"memory": True}
    if rest and rest[0]:
        metadata["flags"] = rest[0]
    return SegmentTranslation([Hypothesis(text, score) for text, score in hyps], inp, out, metadata)


class LruMemory:
    """In-process, bounded in bytes (keys and values), least recently used out first. Thread-safe."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = self.misses = self.errors = 0
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = []
        with self._lock:
            for k in keys:
                value = self._data.get(k)
                if value is None:
                    self.misses += 1
                else:
                    self._data.move_to_end(k)
                    self.hits += 1
                out.append(value)
        return out

    def put_many(self, items: dict[str, bytes]) -> None:
        with self._lock:
            for k, v in items.items():
                cost = len(k) + len(v)
                if cost > self.max_bytes:
                    continue
                if k in self._data:
                    self.size -= len(k) + len(self._data.pop(k))
                self._data[k] = v
                self.size += cost
                while self.size > self.max_bytes:
                    old_k, old_v = self._data.popitem(last=False)
                    self.size -= len(old_k) + len(old_v)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.size = 0


class RedisMemory:
    """Shared by every worker of every machine that uses the same Redis; an outage is a miss, never a failure."""

    PREFIX = "asean-mt:tm:"

    def __init__(self, url: str, ttl_s: int, timeout_s: float = 0.25, retry_s: float = 5.0):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # bounded: one attempt per call (redis-py would otherwise retry with back-off), short socket timeouts
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry=Retry(NoBackoff(), 0))
        self._redis_error = redis.RedisError
        self.ttl_s = ttl_s
        self.retry_s = retry_s
        self.hits = self.misses = self.errors = 0
        self._down = False
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """host:port (never the URL: it may hold a password)."""
        kwargs = self.client.connection_pool.connection_kwargs
        return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}".rstrip(":")

    def _skip(self) -> bool:
        return self._down and time.monotonic() < self._retry_at

    def _failed(self) -> None:
        with self._lock:
            self.errors += 1
            first = not self._down
            self._down, self._retry_at = True, time.monotonic() + self.retry_s
        if first:
            log.warning("translation memory: Redis at %s does not answer; translating without the memory and "
                        "trying Redis again every %.0f s", self.where, self.retry_s)

    def _succeeded(self) -> None:
        if self._down:
            with self._lock:
                was_down, self._down = self._down, False
            if was_down:
                log.info("translation memory: Redis at %s answers again", self.where)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        values: list[bytes | None] = [None] * len(keys)
        if not self._skip():
            try:
                values = list(self.client.mget([self.PREFIX + k for k in keys]))
                self._succeeded()
            except self._redis_error:
                self._failed()
        found = sum(v is not None for v in values)
        self.hits += found
        self.misses += len(values) - found
        return values

    def put_many(self, items: dict[str, bytes]) -> None:
        if not items or self._skip():
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for k, v in items.items():
                pipe.set(self.PREFIX + k, v, ex=self.ttl_s)
            pipe.execute()
            self._succeeded()
        except self._redis_error:
            self._failed()


class CachingEngine(EngineLayer):
    """Engine layer: segments found in the memory skip the engine; the rest are translated and stored."""

    def __init__(self, inner: Engine, memory: MemoryStore, revision: str):
        super().__init__(inner)
        self.memory = memory
        self.revision = revision

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        if not segments or not options.use_memory:
            return self.inner.translate(segments, source, target, options)
        keys = [make_key(self.inner.name, self.inner.model, self.revision, source, target, options, s)
                for s in segments]
        found = self.memory.get_many(keys)
        results: list[SegmentTranslation | None] = [decode(v) if v is not None else None for v in found]
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            fresh = self.inner.translate([segments[i] for i in missing], source, target, options)
            for i, t in zip(missing, fresh, strict=True):
                results[i] = t
            self.memory.put_many({keys[i]: encode(t) for i, t in zip(missing, fresh, strict=True)})
        return results  # type: ignore[return-value]
