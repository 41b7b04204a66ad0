"""Cross-request micro-batching: a layer around any engine.

A CPU runs a seq2seq model efficiently only on full batches, but HTTP clients send one sentence at a time.
Concurrent calls with the same language pair and options are gathered for at most ``max_wait_s`` (a few
milliseconds) into one engine batch whose padded size (longest segment x segments) stays within
``max_batch_tokens``; each caller gets its own results back. While the engine is busy, new calls queue up,
so under load batches fill without any waiting at all.

The wait is only paid under load: when the engine has been idle for longer than ``max_wait_s`` (a lone
request), the call goes to the engine at once, so a single client sees no added latency. Under load it ends as
soon as as many calls are queued as the previous batch held (those callers tend to come back together, but
spread out by the time each takes to parse its request), or the budget is full, or ``max_wait_s`` has passed.

A failing batch is retried call by call, so one bad request never fails its batch-mates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.engines.base import DecodeOptions, Engine, SegmentTranslation
from service.errors import EngineFailed


@dataclass
class _Call:
    segments: Sequence[str]
    lengths: list[int]
    done: threading.Event = field(default_factory=threading.Event)
    result: list[SegmentTranslation] | None = None
    error: BaseException | None = None

    @property
    def longest(self) -> int:
        return max(self.lengths)


@dataclass
class BatchStats:
    calls: int = 0
    batches: int = 0
    segments: int = 0


class _Lane:
    """The queue and dispatcher thread of one (source, target, options) combination."""

    def __init__(self, owner: BatchingEngine, source: str, target: str, options: DecodeOptions):
        self.owner, self.source, self.target, self.options = owner, source, target, options
        self.queue: list[_Call] = []
        self.cond = threading.Condition()
        self.last_busy = 0.0  # when the engine last finished a batch of this lane
        self.last_calls = 1  # how many calls that batch held
        self.thread = threading.Thread(target=self._run, name=f"batch-{source}-{target}", daemon=True)
        self.thread.start()

    def submit(self, call: _Call) -> None:
        with self.cond:
            self.queue.append(call)
            self.cond.notify()

    def _take(self) -> list[_Call]:
        """Wait for a first call, then up to max_wait for more; return calls that fit the budget."""
        budget = self.owner.max_batch_tokens
        with self.cond:
            while not self.queue:
                self.cond.wait()
            idle = time.monotonic() - self.last_busy > self.owner.max_wait_s
            deadline = time.monotonic() + (0.0 if idle and len(self.queue) == 1 else self.owner.max_wait_s)
            expected = 1 if idle else self.last_calls
            while True:
                longest = max(c.longest for c in self.queue)
                size = longest * sum(len(c.segments) for c in self.queue)
                left = deadline - time.monotonic()
                if size >= budget or left <= 0 or (len(self.queue) >= expected > 1):
                    break
                self.cond.wait(left)
            batch: list[_Call] = []
            longest, count = 0, 0
            while self.queue:
                call = self.queue[0]
                new_longest = max(longest, call.longest)
                if batch and new_longest * (count + len(call.segments)) > budget:
                    break
                batch.append(self.queue.pop(0))
                longest, count = new_longest, count + len(call.segments)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            stats = self.owner.stats
            stats.batches += 1
            stats.segments += sum(len(c.segments) for c in batch)
            segments = [s for c in batch for s in c.segments]
            try:
                results = self.owner.inner.translate(segments, self.source, self.target, self.options)
                at = 0
                for call in batch:
                    call.result = results[at:at + len(call.segments)]
                    at += len(call.segments)
            except BaseException as exc:  # isolate: each call alone, so only the bad one fails
                if len(batch) == 1:
                    batch[0].error = exc
                else:
                    for call in batch:
                        try:
                            call.result = self.owner.inner.translate(call.segments, self.source, self.target,
                                                                     self.options)
                        except BaseException as single:
                            call.error = single
            self.last_busy = time.monotonic()
            self.last_calls = len(batch)
            for call in batch:
                call.done.set()


class BatchingEngine:
    """Engine wrapper; everything but ``translate`` is the inner engine's."""

    def __init__(self, inner: Engine, max_wait_s: float, max_batch_tokens: int, timeout_s: float = 600):
        self.inner = inner
        self.max_wait_s = max_wait_s
        self.max_batch_tokens = max_batch_tokens
        self.timeout_s = timeout_s
        self.stats = BatchStats()
        self._lanes: dict[tuple[str, str, DecodeOptions], _Lane] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str):  # name, model, max_input_tokens, count_tokens, adapter, generate...
        return getattr(self.inner, name)

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        if not segments:
            return []
        key = (source, target, options)
        with self._lock:
            lane = self._lanes.get(key) or self._lanes.setdefault(key, _Lane(self, source, target, options))
        self.stats.calls += 1
        call = _Call(segments, [max(1, self.inner.count_tokens(s, source, target)) for s in segments])
        lane.submit(call)
        if not call.done.wait(self.timeout_s):
            raise EngineFailed(f"{self.inner.name} did not answer within {self.timeout_s:.0f} s.")
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result
