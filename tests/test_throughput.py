"""Micro-batching and the translation memory: routing under concurrency, isolation of errors and time-outs,
batch budgets, key separation, eviction, Redis. No timing assertions: speed lives in bench/."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

import pytest

from service.config import Settings
from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.engines.batching import BatchingEngine
from service.errors import EngineFailed
from service.memory import CachingEngine, LruMemory, RedisMemory, make_key
from service.pipeline import Pipeline, TranslationRequest
from tests.fakes import FixedRouter


class Echo:
    """Translates s -> "s@target"; records batches; fails on "bad"; sleeps if asked."""

    name = "echo"
    model = "echo-1"
    max_input_tokens = 512

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def count_tokens(self, text: str, source: str, target: str = "") -> int:
        return len(text.split())

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        with self.lock:
            self.batches.append(list(segments))
        if self.delay:
            time.sleep(self.delay)
        if any("bad" in s for s in segments):
            raise EngineFailed("bad input in batch")
        return [SegmentTranslation([Hypothesis(f"{s}@{target}")], 1, 1) for s in segments]


def run_threads(n: int, fn) -> list:
    out: list = [None] * n
    barrier = threading.Barrier(n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_results_are_routed_to_the_right_caller_under_concurrency() -> None:
    inner = Echo(delay=0.01)
    engine = BatchingEngine(inner, max_wait_s=0.02, max_batch_tokens=400)
    rng = random.Random(7)
    inputs = [[f"t{i} s{j} " + "w " * rng.randrange(1, 12) for j in range(rng.randrange(1, 4))] for i in range(64)]
    results = run_threads(64, lambda i: engine.translate(inputs[i], "id", "en" if i % 2 else "ms", DecodeOptions()))
    for i, result in enumerate(results):
        target = "en" if i % 2 else "ms"
        assert [t.text for t in result] == [f"{s}@{target}" for s in inputs[i]]
    assert len(inner.batches) < 64  # calls were merged
    assert engine.stats.calls == 64 and engine.stats.segments == sum(len(x) for x in inputs)


def test_a_batch_never_exceeds_its_budget() -> None:
    inner = Echo(delay=0.005)
    engine = BatchingEngine(inner, max_wait_s=0.05, max_batch_tokens=60)
    rng = random.Random(3)
    inputs = [["x " * rng.randrange(1, 15)] * rng.randrange(1, 3) for _ in range(40)]
    run_threads(40, lambda i: engine.translate(inputs[i], "id", "en", DecodeOptions()))
    for batch in inner.batches:
        assert max(inner.count_tokens(s, "id") for s in batch) * len(batch) <= 60
    assert any(len(b) > 2 for b in inner.batches)


class Bounded(Echo):
    """An engine with a decoding budget: three segments a batch at beam 4, one at beam 12."""

    def batch_limit(self, options: DecodeOptions, longest_input: int) -> int:
        return 12 // options.beam_size


def test_a_batch_stays_within_the_engines_decoding_budget() -> None:
    inner = Bounded(delay=0.01)
    engine = BatchingEngine(inner, max_wait_s=0.05, max_batch_tokens=10_000, dispatchers=2)
    results = run_threads(24, lambda i: engine.translate([f"s{i}"], "id", "en", DecodeOptions()))
    assert [r[0].text for r in results] == [f"s{i}@en" for i in range(24)]
    assert max(len(b) for b in inner.batches) == 3  # batched, never past the budget
    inner.batches.clear()
    run_threads(6, lambda i: engine.translate([f"w{i}"], "id", "en", DecodeOptions(beam_size=12)))
    assert {len(b) for b in inner.batches} == {1}
    # one call over the budget still goes whole: the engine splits it (CTranslate2's sub-batches)
    assert len(engine.translate([f"x{i}" for i in range(5)], "id", "en", DecodeOptions())) == 5


def test_one_bad_request_does_not_fail_its_batch_mates() -> None:
    inner = Echo(delay=0.01)
    engine = BatchingEngine(inner, max_wait_s=0.05, max_batch_tokens=1000)
    results = run_threads(12, lambda i: engine.translate(["bad one"] if i == 5 else [f"good {i}"], "id", "en",
                                                         DecodeOptions()))
    assert isinstance(results[5], EngineFailed)
    assert all(r[0].text == f"good {i}@en" for i, r in enumerate(results) if i != 5)


def test_a_stuck_engine_times_out_per_request() -> None:
    engine = BatchingEngine(Echo(delay=1.0), max_wait_s=0.0, max_batch_tokens=100, timeout_s=0.2)
    with pytest.raises(EngineFailed, match="did not answer"):
        engine.translate(["x"], "id", "en", DecodeOptions())


def test_options_never_share_a_batch() -> None:
    inner = Echo(delay=0.01)
    engine = BatchingEngine(inner, max_wait_s=0.05, max_batch_tokens=1000)
    run_threads(8, lambda i: engine.translate([f"s{i}"], "id", "en", DecodeOptions(beam_size=1 + i % 2)))
    for batch in inner.batches:
        assert len({int(s[1:]) % 2 for s in batch}) == 1


def test_memory_keys_are_structured_and_separate_everything_that_matters() -> None:
    base = dict(engine="e", model="m", revision="r", source="id", target="en", options=DecodeOptions())
    key = make_key(segment="a|b", **base)
    assert key != make_key(segment="a", **base) and key != make_key(segment="a\", \"b", **base)
    for change in ({"model": "m2"}, {"revision": "r2"}, {"target": "ms"}, {"source": "ms"}, {"engine": "x"},
                   {"options": DecodeOptions(beam_size=2)}):
        assert make_key(segment="a|b", **{**base, **change}) != key
    assert make_key(segment="a|b", **{**base, "options": DecodeOptions(use_memory=False)}) == key


def test_caching_engine_hits_misses_and_per_request_off() -> None:
    inner = Echo()
    memory = LruMemory(10_000)
    engine = CachingEngine(inner, memory, "rev1")
    assert [t.text for t in engine.translate(["a", "b"], "id", "en", DecodeOptions())] == ["a@en", "b@en"]
    assert [t.text for t in engine.translate(["b", "c", "a"], "id", "en", DecodeOptions())] == [
        "b@en", "c@en", "a@en"]
    assert inner.batches == [["a", "b"], ["c"]]
    assert (memory.hits, memory.misses) == (2, 3)
    engine.translate(["a"], "id", "en", DecodeOptions(use_memory=False))
    assert inner.batches[-1] == ["a"]
    assert CachingEngine(inner, memory, "rev2").translate(["a"], "id", "en", DecodeOptions())[0].text == "a@en"
    assert inner.batches[-1] == ["a"] and len(inner.batches) == 4  # another model revision: a miss


def test_lru_eviction_by_size() -> None:
    memory = LruMemory(max_bytes=1000)
    for i in range(100):
        memory.put_many({f"k{i:03}": b"v" * 46})  # 50 bytes each
    assert memory.size <= 1000 and len(memory) == 20
    assert memory.get_many(["k000", "k099"]) == [None, b"v" * 46]
    memory.get_many(["k080"])  # recently used: survives the next insertions
    memory.put_many({f"n{i}": b"v" * 46 for i in range(19)})
    assert memory.get_many(["k080", "k081"])[0] is not None and memory.get_many(["k081"])[0] is None
    memory.put_many({"huge": b"x" * 2000})  # larger than the whole memory: not stored
    assert memory.get_many(["huge"]) == [None]


def test_glossary_change_is_honoured_with_the_memory_on(settings: Settings, tmp_path) -> None:
    (tmp_path / "a.csv").write_text("id,en\nkota cerdas,smart city\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,en\nkota cerdas,intelligent city\n", encoding="utf-8")
    inner = Echo()
    engine = CachingEngine(inner, LruMemory(10_000), "r")
    s = settings.replace(glossary_dir=tmp_path)
    pipeline = Pipeline(s, FixedRouter(engine))
    first = pipeline.translate(TranslationRequest("kota cerdas", ["en"], "id", glossaries=["a"])).results[0]
    second = pipeline.translate(TranslationRequest("kota cerdas", ["en"], "id", glossaries=["b"])).results[0]
    assert (first.text, second.text) == ("smart city@en", "intelligent city@en")
    assert len(inner.batches) == 1  # the same protected segment: one engine call, two correct outputs


def test_redis_memory_is_shared() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    import uuid

    a, b = RedisMemory("redis://127.0.0.1:6379/0", 60), RedisMemory("redis://127.0.0.1:6379/0", 60)
    inner = Echo()
    revision = uuid.uuid4().hex  # keeps runs apart
    CachingEngine(inner, a, revision).translate(["x", "y"], "id", "en", DecodeOptions())
    out = CachingEngine(inner, b, revision).translate(["y", "x"], "id", "en", DecodeOptions())
    assert [t.text for t in out] == ["y@en", "x@en"] and len(inner.batches) == 1
    assert (b.hits, b.misses) == (2, 0)
    assert 0 < a.client.ttl(RedisMemory.PREFIX + make_key("echo", "echo-1", revision, "id", "en",
                                                          DecodeOptions(), "x")) <= 60


def test_metrics_count_memory_hits(settings: Settings, router) -> None:
    from service.http import create_app

    c = create_app(settings.replace(secret_key="x"), Pipeline(settings, router), warm="none").test_client()
    body = {"text": "Pertemuan tahunan ASCN di Bali.", "source": "id", "targets": ["ms"]}
    c.post("/v1/translate", json=body)
    c.post("/v1/translate", json=body)
    metrics = c.get("/metrics").get_data(as_text=True)
    hits = float(next(line for line in metrics.splitlines()
                      if line.startswith("translation_memory_hits_total ")).split()[1])
    assert hits >= 1
    assert 'micro_batch_batches_total{engine="apertium"}' in metrics


def test_threads_are_bounded_per_engine_whatever_the_options() -> None:
    """One dispatcher per engine serves every pair and option combination (not one thread per combination)."""
    before = {t.ident for t in threading.enumerate()}
    inner = Echo()
    engine = BatchingEngine(inner, max_wait_s=0.001, max_batch_tokens=100)
    combos = [(target, DecodeOptions(beam_size=beam, n_best=n)) for target in ("en", "ms", "th")
              for beam in range(1, 9) for n in range(1, beam + 1)]
    results = run_threads(24, lambda i: [engine.translate([f"s{i}-{j}"], "id", target, options)[0].text
                                         for j, (target, options) in enumerate(combos) if j % 24 == i])
    assert all(isinstance(r, list) for r in results), results
    assert sum(len(r) for r in results) == len(combos) == 108
    started = [t for t in threading.enumerate() if t.ident not in before]
    assert len(started) == 1 and started[0].name == "batch-echo"
    assert engine.lanes <= len(combos)


def test_an_idle_lane_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.engines import batching

    monkeypatch.setattr(batching, "LANE_IDLE_S", 0.0)
    engine = BatchingEngine(Echo(), max_wait_s=0.001, max_batch_tokens=100)
    for beam in range(1, 6):
        engine.translate(["x"], "id", "en", DecodeOptions(beam_size=beam))
    time.sleep(0.01)
    engine.translate(["y"], "id", "ms", DecodeOptions())
    assert engine.lanes <= 2  # the idle lanes were dropped when the dispatcher looked for work


class Gate(Echo):
    """An engine whose batches stay in it until released: shows how many run at once and what each held."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.active = 0
        self.most_active = 0

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        with self.lock:
            self.batches.append(list(segments))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.release.wait(10)
        with self.lock:
            self.active -= 1
        return [SegmentTranslation([Hypothesis(f"{s}@{target}")], 1, 1) for s in segments]


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("dispatchers", [1, 2, 3])
def test_n_dispatchers_keep_n_batches_of_one_lane_in_flight(dispatchers: int) -> None:
    """Concurrent calls of one language pair run as `dispatchers` batches at once (one per translator replica),
    each at most its share of the calls, not as one big batch with the other replicas idle."""
    inner = Gate()
    engine = BatchingEngine(inner, max_wait_s=0.02, max_batch_tokens=1000, dispatchers=dispatchers)
    calls = 12
    out: list = []
    threads = [threading.Thread(target=lambda i=i: out.append(engine.translate([f"s{i}"], "id", "en",
                                                                                DecodeOptions())))
               for i in range(calls)]
    for t in threads:
        t.start()
    _wait_for(lambda: inner.active >= dispatchers)
    time.sleep(0.1)  # time enough for a dispatcher that should not exist to start another batch
    assert inner.active == dispatchers
    first = list(inner.batches)
    inner.release.set()
    for t in threads:
        t.join(10)
    assert sorted(r[0].text for r in out) == sorted(f"s{i}@en" for i in range(calls))
    assert inner.most_active == dispatchers
    # the first call went alone (an idle engine takes a lone call at once); then each batch took its share
    assert all(len(batch) <= -(-calls // dispatchers) for batch in first)
    assert sum(len(b) for b in inner.batches) == calls


def test_uneven_batches_even_out() -> None:
    """After an uneven start (a lone first call, then the rest), the batches in flight are about equal."""
    inner = Echo(delay=0.05)
    engine = BatchingEngine(inner, max_wait_s=0.02, max_batch_tokens=1000, dispatchers=2)
    stop = time.monotonic() + 1.5

    def client(i: int) -> int:
        n = 0
        while time.monotonic() < stop:
            engine.translate([f"c{i}-{n}"], "id", "en", DecodeOptions())
            n += 1
        return n

    run_threads(8, client)
    late = inner.batches[len(inner.batches) // 2:]
    assert late and max(len(b) for b in late) <= 5  # 8 callers over 2 batches: 4 each, give or take one
