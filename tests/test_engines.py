"""Every engine through the same interface: the tiny random models on CTranslate2 and transformers, and real
Apertium. Random weights give structurally valid output only, so these tests assert structure."""

from __future__ import annotations

import pytest

from service.catalog import Candidate
from service.config import Settings, available_cores
from service.engines.base import DecodeOptions, Engine
from service.engines.router import EngineRouter
from service.errors import ModelMissing

NEURAL = [
    ("ctranslate2", "tiny/marian-id-en", "id", "en"),
    ("transformers", "tiny/marian-id-en", "id", "en"),
    ("ctranslate2", "tiny/marian-multi", "id", "tl"),
    ("transformers", "tiny/marian-multi", "id", "tl"),
    ("ctranslate2", "tiny/nllb", "id", "th"),
    ("transformers", "tiny/nllb", "id", "th"),
    ("ctranslate2", "tiny/t5", "en", "id"),
    ("transformers", "tiny/t5", "en", "id"),
]
SEGMENTS = ["Kementerian Dalam Negeri memimpin delegasi Indonesia.", "Pertemuan tahunan ASCN ke-8.", "Bali"]


def _engine(router: EngineRouter, engine: str, model: str) -> Engine:
    return router.build(Candidate(engine, router.catalog.models[model]))


@pytest.mark.parametrize(("engine", "model", "src", "tgt"), NEURAL)
def test_neural_engine_contract(router: EngineRouter, engine: str, model: str, src: str, tgt: str) -> None:
    e = _engine(router, engine, model)
    assert isinstance(e, Engine)
    assert (e.name, e.model) == (engine, model)
    out = e.translate(SEGMENTS, src, tgt, DecodeOptions(beam_size=2, n_best=2, max_output_tokens=8))
    assert len(out) == len(SEGMENTS)
    for seg, tr in zip(SEGMENTS, out, strict=True):
        assert len(tr.hypotheses) == 2
        assert all(isinstance(h.text, str) for h in tr.hypotheses)
        assert tr.input_tokens == e.count_tokens(seg, src, tgt) > 0
        assert 0 <= tr.output_tokens <= 8
        # language tokens and special tokens never leak into the text
        assert "tha_Thai" not in tr.text and "</s>" not in tr.text and ">>" not in tr.text
    assert e.translate([], src, tgt, DecodeOptions()) == []


@pytest.mark.parametrize(("engine", "model", "src", "tgt"), NEURAL)
def test_fixed_output_length(router: EngineRouter, engine: str, model: str, src: str, tgt: str) -> None:
    """min = max output tokens gives exactly that many tokens: what the benchmark relies on."""
    e = _engine(router, engine, model)
    out = e.translate(SEGMENTS[:2], src, tgt, DecodeOptions(beam_size=1, max_output_tokens=6, min_output_tokens=6))
    assert [t.output_tokens for t in out] == [6, 6]


def test_language_signalling(router: EngineRouter) -> None:
    multi = _engine(router, "ctranslate2", "tiny/marian-multi")
    ids = multi.adapter.encode(["Bali"], "id", "tl")[0]
    assert multi.adapter.tokenizer.convert_ids_to_tokens(ids)[0] == ">>tgl<<"
    nllb = _engine(router, "transformers", "tiny/nllb")
    first = nllb.adapter.tokenizer.convert_ids_to_tokens(nllb.adapter.encode(["Bali"], "ms", "th")[0])[0]
    assert first == "zsm_Latn"
    assert nllb.adapter.target_token("km") == "khm_Khmr"
    t5 = _engine(router, "transformers", "tiny/t5")
    assert t5.adapter._source_text("Halo", "en", "id") == "translate English to Indonesian: Halo"


def test_ctranslate2_uses_int8_on_cpu(router: EngineRouter) -> None:
    e = _engine(router, "ctranslate2", "tiny/nllb")
    assert (e.device, e.compute_type) == ("cpu", "int8")


def test_engines_are_built_once(router: EngineRouter) -> None:
    assert router.engine_for("id", "en") is router.engine_for("id", "en")


def test_apertium_real_translation(router: EngineRouter, seed_text: str) -> None:
    e = router.engine_for("id", "ms")
    assert e.name == "apertium"
    lines = [line for line in seed_text.splitlines() if line.strip()]
    out = e.translate(lines, "id", "ms", DecodeOptions())
    text = "\n".join(t.text for t in out)
    assert len(out) == len(lines)
    assert "Kementerian Dalam Negeri" in text
    assert "mesyuarat tahunan" in text.lower() and "pertemuan tahunan" not in text.lower()
    assert "*" not in text and "#" not in text


def test_route_falls_back_and_reports_missing(settings: Settings, tmp_path) -> None:
    empty = EngineRouter(settings.replace(models_dir=tmp_path))
    assert str(empty.status("id", "ms").available) == "apertium:ind-zlm"
    with pytest.raises(ModelMissing) as err:
        empty.engine_for("id", "en")
    assert err.value.details["command"] == "python -m service models pull tiny/marian-id-en"


def test_thread_counts_never_exceed_cores() -> None:
    cores = available_cores()
    intra, inter = Settings(intra_threads=64, inter_threads=64).threads
    assert intra * inter <= cores
    assert Settings().threads[0] * Settings().threads[1] <= cores


def test_loading_one_model_does_not_hold_up_the_others(settings: Settings) -> None:
    """A model that takes long to load holds its own lock only: other pairs are served meanwhile."""
    import threading

    from service.engines import apertium

    release = threading.Event()

    class SlowLoadingRouter(EngineRouter):
        def _build(self, candidate: Candidate) -> Engine:
            if candidate.model.id == "tiny/nllb":
                release.wait(60)  # the "load" of this model lasts until the test has seen the others served
            return super()._build(candidate)

    router = SlowLoadingRouter(settings.replace(memory="off"))
    slow = threading.Thread(target=router.engine_for, args=("id", "th"))
    slow.start()
    try:
        served: list[str] = []
        other = threading.Thread(target=lambda: served.append(router.engine_for("id", "ms").name))
        other.start()
        other.join(60)
        assert served == ["apertium"] and apertium.is_installed("ind-zlm", settings.apertium_modes_dir)
        assert slow.is_alive()  # still loading
    finally:
        release.set()
        slow.join(60)
    assert router.engine_for("id", "th").model == "tiny/nllb"


def test_models_add_over_an_installed_model_keeps_it_until_the_new_one_is_in(
        models_dir, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from service import model_store
    from service.errors import ModelInvalid
    from service.model_store import ModelStore

    store = ModelStore(tmp_path / "models")
    source = models_dir / "tiny--t5" / "hf"
    store.add(source, "someone/t5", convert=False)
    before = store.revision("someone/t5")

    def broken_convert(hf_dir, out_dir, quantization="int8"):
        assert store.has_hf("someone/t5")  # the old model is still in place while the new one is built
        raise ModelInvalid("conversion failed")

    monkeypatch.setattr(model_store, "convert_to_ctranslate2", broken_convert)
    with pytest.raises(ModelInvalid):
        store.add(source, "someone/t5")
    assert store.has_hf("someone/t5") and store.revision("someone/t5") == before
    monkeypatch.undo()

    real_replace = os.replace

    def replace(src, dst):  # the swap itself fails (e.g. a disk error) after the old model was moved aside
        if ".partial-" in str(src):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(model_store.os, "replace", replace)
    with pytest.raises(ModelInvalid, match="any model installed before is unchanged"):
        store.add(source, "someone/t5")
    monkeypatch.undo()
    assert store.has_hf("someone/t5") and store.revision("someone/t5") == before
    assert [p.name for p in store.root.iterdir()] == ["someone--t5"]  # nothing half-done left

    store.add(source, "someone/t5")  # and a swap that works replaces it
    assert store.has_ct2("someone/t5") and [p.name for p in store.root.iterdir()] == ["someone--t5"]


def test_threads_default_to_one_core_per_batch_and_a_batch_per_core() -> None:
    """Throughput by default (a translator replica per core, one thread each); latency on request."""
    cores = available_cores()
    assert Settings().threads == (1, cores)
    assert Settings(intra_threads=0, inter_threads=1).threads == (cores, 1)
    assert Settings(intra_threads=2, inter_threads=0).threads == (min(2, cores), max(1, cores // min(2, cores)))
    assert Settings(workers=cores).threads == (1, 1)  # each worker gets its share of the cores
    assert Settings(intra_threads=1, inter_threads=2).engine_cores == min(2, cores)


@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_a_batch_over_the_decoding_budget_runs_in_sub_batches(settings: Settings, engine: str) -> None:
    """max_batch_decode_tokens bounds segments x beam x output bound per engine batch: a longer call is run
    in sub-batches, with every result back in its caller's place (sub-batches go longest first)."""
    from service.engines.router import EngineRouter

    options = DecodeOptions(beam_size=2, max_output_tokens=6, min_output_tokens=6)  # 12 hypothesis tokens each
    segments = [*SEGMENTS, "Kota", *SEGMENTS[::-1]]
    unbounded = EngineRouter(settings.replace(memory="off", micro_batch_wait_ms=0, max_batch_decode_tokens=0))
    free = _engine(unbounded, engine, "tiny/marian-id-en")
    assert free.batch_limit(options, 20) == 0
    alone = [free.translate([s], "id", "en", options)[0].text for s in segments]
    bounded = EngineRouter(settings.replace(memory="off", micro_batch_wait_ms=0, max_batch_decode_tokens=12))
    e = _engine(bounded, engine, "tiny/marian-id-en")
    assert e.batch_limit(options, 20) == 1 and e.batch_limit(DecodeOptions(beam_size=1, max_output_tokens=4), 9) == 3
    if engine == "ctranslate2":
        assert e.sub_batch(options, len(segments), 20) == 1
    out = e.translate(segments, "id", "en", options)
    assert [t.text for t in out] == alone
    assert [t.input_tokens for t in out] == [e.count_tokens(s, "id", "en") for s in segments]


def test_ctranslate2_replicas_each_get_a_batch(settings: Settings) -> None:
    """inter_threads replicas: the micro-batcher keeps as many batches in flight, and a lone multi-sentence call
    is spread over the idle replicas; the results come back in order either way."""
    from service.engines.batching import BatchingEngine
    from service.engines.ctranslate2 import CTranslate2Engine
    from service.engines.router import EngineRouter

    router = EngineRouter(settings.replace(intra_threads=1, inter_threads=2, memory="off", length_penalty=0.2))
    if router.settings.threads[1] < 2:
        pytest.skip("one core: a single replica")
    built = router.engine_for("id", "en")
    assert isinstance(built, BatchingEngine) and built.dispatchers == 2
    bare = built.inner
    assert isinstance(bare, CTranslate2Engine) and bare.translator.num_translators == 2
    assert bare.length_penalty == 0.2  # the setting reaches the beam search
    assert bare.replica_share(8) == 4 and bare.replica_share(1) == 0
    options = DecodeOptions(beam_size=1, max_output_tokens=6, min_output_tokens=6)
    split = bare.translate(SEGMENTS * 3, "id", "en", options)
    assert [t.input_tokens for t in split] == [bare.count_tokens(s, "id", "en") for s in SEGMENTS * 3]
    alone = [bare.translate([s], "id", "en", options)[0].text for s in SEGMENTS]
    assert [t.text for t in split] == alone * 3
    single = EngineRouter(settings.replace(intra_threads=1, inter_threads=1, memory="off")).engine_for("id", "en")
    assert single.dispatchers == 1 and single.inner.replica_share(8) == 0
