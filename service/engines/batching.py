"""Cross-request micro-batching: a layer around any engine.

A CPU runs a seq2seq model efficiently only on full batches, but HTTP clients send one sentence at a time.
Concurrent calls with the same language pair and options are gathered for at most ``max_wait_s`` (a few
milliseconds) into one engine batch whose padded size (longest segment x segments) stays within
``max_batch_tokens``, and whose decoding work (segments x beam x output bound) within the engine's
``batch_limit`` (setting ``max_batch_decode_tokens``); each caller gets its own results back. While the
engine is busy, new calls queue up, so under load batches fill without any waiting at all.

The wait is only paid under load: when the engine has been idle for longer than ``max_wait_s`` (a lone
request), the call goes to the engine at once, so a single client sees no added latency. Under load it ends as
soon as as many calls are queued as the previous batch held (those callers tend to come back together, but
spread out by the time each takes to parse its request), or the budget is full, or ``max_wait_s`` has passed.

A failing batch is retried call by call, so one bad request never fails its batch-mates.

Several batches are kept in flight, one per dispatcher (``dispatchers``: the batches the engine runs in
parallel, e.g. CTranslate2's translator replicas, one core each), not one big batch at a time: under load every
core decodes a batch of its own, and callers whose batch is done come back while the others still run. A batch
takes at most its share of the lane's calls (those queued and those in flight, divided by the dispatchers), so
the batches in flight stay about the same size and no caller waits behind one oversized batch; within a few
batches an uneven start evens out. Only one dispatcher gathers a lane at a time.

Threads are bounded per engine: the dispatchers serve every lane, i.e. every (source, target, options)
combination, taking the lane whose first call has waited longest. A lane is only a queue; an idle one is dropped
after ``LANE_IDLE_S``, so no combination of beam sizes and alternatives leaves threads or memory behind.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.engines.base import DecodeOptions, Engine, EngineLayer, SegmentTranslation
from service.errors import EngineFailed

#: Seconds after which an empty lane is forgotten (its only state is the size of its last batch).
LANE_IDLE_S = 60.0

LaneKey = tuple[str, str, DecodeOptions]


@dataclass
class _Call:
    segments: Sequence[str]
    lengths: list[int]
    queued_at: float = field(default_factory=time.monotonic)
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


@dataclass
class _Lane:
    """The queue of one (source, target, options) combination."""

    queue: deque[_Call] = field(default_factory=deque)
    gathering: bool = False  # a dispatcher is gathering a batch of this lane
    running: int = 0  # batches of this lane in the engine
    in_flight: int = 0  # calls in those batches
    last_busy: float = 0.0  # when the engine last finished a batch of this lane
    last_calls: int = 1  # how many calls that batch held


class BatchingEngine(EngineLayer):
    """Engine layer; everything but ``translate`` is the inner engine's."""

    def __init__(self, inner: Engine, max_wait_s: float, max_batch_tokens: int, timeout_s: float = 600,
                 dispatchers: int = 1):
        super().__init__(inner)
        self.max_wait_s = max_wait_s
        self.max_batch_tokens = max_batch_tokens
        self.timeout_s = timeout_s
        self.dispatchers = max(1, dispatchers)
        self.stats = BatchStats()
        self._lanes: dict[LaneKey, _Lane] = {}
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        if not segments:
            return []
        call = _Call(segments, [max(1, self.inner.count_tokens(s, source, target)) for s in segments])
        with self._cond:
            self.stats.calls += 1
            lane = self._lanes.get((source, target, options))
            if lane is None:
                lane = self._lanes[(source, target, options)] = _Lane()
            lane.queue.append(call)
            if len(self._threads) < self.dispatchers:
                thread = threading.Thread(target=self._run, name=f"batch-{self.inner.name}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify_all()
        if not call.done.wait(self.timeout_s):
            raise EngineFailed(f"{self.inner.name} did not answer within {self.timeout_s:.0f} s.")
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    @property
    def lanes(self) -> int:
        """Lanes currently known (for tests and metrics)."""
        return len(self._lanes)

    def _next_lane(self) -> tuple[LaneKey, _Lane] | None:
        """The free lane whose first call has waited longest; forgets lanes idle for LANE_IDLE_S."""
        now = time.monotonic()
        best: tuple[LaneKey, _Lane] | None = None
        for key, lane in list(self._lanes.items()):
            if lane.gathering:
                continue
            if not lane.queue:
                if not lane.running and now - lane.last_busy > LANE_IDLE_S:
                    del self._lanes[key]
                continue
            if best is None or lane.queue[0].queued_at < best[1].queue[0].queued_at:
                best = key, lane
        return best

    def _share(self, lane: _Lane) -> int:
        """Calls one batch of ``lane`` may take: its share of the lane's calls queued and in flight."""
        return max(1, math.ceil((len(lane.queue) + lane.in_flight) / self.dispatchers))

    def _limit(self, options: DecodeOptions, longest: int) -> float:
        """Segments a batch may hold within the engine's decoding budget (``batch_limit``; engines without
        one, such as Apertium, have no such limit)."""
        batch_limit = getattr(self.inner, "batch_limit", None)
        limit = batch_limit(options, longest) if batch_limit is not None else 0
        return limit or math.inf

    def _take(self) -> tuple[LaneKey, _Lane, list[_Call]]:
        """Wait for a lane with calls, then up to max_wait for more of its calls; return its share of them
        within budget."""
        budget = self.max_batch_tokens
        with self._cond:
            chosen = self._next_lane()
            while chosen is None:
                self._cond.wait()
                chosen = self._next_lane()
            key, lane = chosen
            lane.gathering = True
            idle = not lane.running and time.monotonic() - lane.last_busy > self.max_wait_s
            deadline = time.monotonic() + (0.0 if idle and len(lane.queue) == 1 else self.max_wait_s)
            expected = 1 if idle else lane.last_calls
            options = key[2]
            while True:
                longest = max(c.longest for c in lane.queue)
                count = sum(len(c.segments) for c in lane.queue)
                left = deadline - time.monotonic()
                if (longest * count >= budget or count >= self._limit(options, longest) or left <= 0
                        or len(lane.queue) >= min(expected, self._share(lane)) > 1):
                    break
                self._cond.wait(left)
            share = self._share(lane)
            batch: list[_Call] = []
            longest, count = 0, 0
            while lane.queue and len(batch) < share:
                call = lane.queue[0]
                new_longest = max(longest, call.longest)
                new_count = count + len(call.segments)
                if batch and (new_longest * new_count > budget or new_count > self._limit(options, new_longest)):
                    break
                batch.append(lane.queue.popleft())
                longest, count = new_longest, count + len(call.segments)
            lane.gathering = False
            lane.running += 1
            lane.in_flight += len(batch)
            self._cond.notify_all()  # calls left over are another dispatcher's
            return key, lane, batch

    def _run(self) -> None:
        while True:
            (source, target, options), lane, batch = self._take()
            self._translate(batch, source, target, options)
            with self._cond:
                self.stats.batches += 1
                self.stats.segments += sum(len(c.segments) for c in batch)
                lane.running -= 1
                lane.in_flight -= len(batch)
                lane.last_busy = time.monotonic()
                lane.last_calls = len(batch)
                self._cond.notify_all()  # the lane may have more calls for this or another dispatcher
            for call in batch:
                call.done.set()

    def _translate(self, batch: list[_Call], source: str, target: str, options: DecodeOptions) -> None:
        segments = [s for c in batch for s in c.segments]
        try:
            results = self.inner.translate(segments, source, target, options)
            at = 0
            for call in batch:
                call.result = results[at:at + len(call.segments)]
                at += len(call.segments)
        except BaseException as exc:  # isolate: each call alone, so only the bad one fails
            if len(batch) == 1:
                batch[0].error = exc
                return
            for call in batch:
                try:
                    call.result = self.inner.translate(call.segments, source, target, options)
                except BaseException as single:
                    call.error = single
