from __future__ import annotations

import pytest

from service import languages
from service.config import Settings
from service.engines.base import DecodeOptions
from service.errors import DetectionFailed, EmptyText, InputTooLarge, InvalidInput, ModelMissing, UnsupportedLanguage
from service.pipeline import Pipeline, TranslationRequest
from service.summaries.options import SummaryOptions
from service.text.document import split_long
from service.text.segment import Segmenter
from tests.fakes import FixedRouter, RecordingEngine

DOC = "Judul Berita\n\n  Kalimat pertama. Kalimat kedua!\nBaris baru di sini.\n\n\nKalimat pertama.\n"


def _pipeline(engine: RecordingEngine, **settings) -> Pipeline:
    return Pipeline(Settings(**settings), FixedRouter(engine))


def test_layout_and_order_are_kept() -> None:
    result = _pipeline(RecordingEngine()).translate(TranslationRequest(DOC, ["en"], "id"))
    assert result.for_target("en").text == DOC.upper()


def test_identical_sentences_are_translated_once() -> None:
    engine = RecordingEngine()
    result = _pipeline(engine).translate(TranslationRequest(DOC, ["en"], "id")).for_target("en")
    sent = [s for batch in engine.batches for s in batch]
    assert sorted(sent) == sorted(set(sent))
    assert (result.segments, result.unique_segments) == (5, 4)


def test_batches_are_length_sorted_and_within_budget() -> None:
    engine = RecordingEngine()
    text = " ".join(f"Kalimat nomor {i} {'kata ' * (i % 7)}selesai." for i in range(60))
    _pipeline(engine, max_batch_tokens=40).translate(TranslationRequest(text, ["en"], "id"))
    assert len(engine.batches) > 1
    for batch in engine.batches:
        assert max(engine.count_tokens(s, "id") for s in batch) * len(batch) <= 40
    lengths = [engine.count_tokens(s, "id") for batch in engine.batches for s in batch]
    assert lengths == sorted(lengths)


def test_overlong_sentence_is_split_and_flagged_never_truncated() -> None:
    engine = RecordingEngine(max_input_tokens=5)
    sentence = "Satu dua tiga, empat lima enam tujuh; delapan sembilan sepuluh sebelas dua belas."
    result = _pipeline(engine).translate(TranslationRequest(sentence, ["en"], "id")).for_target("en")
    assert result.flags and result.flags[0]["flag"] == "split" and result.flags[0]["parts"] >= 3
    assert all(len(s.split()) <= 5 for batch in engine.batches for s in batch)
    assert result.text.split() == sentence.upper().split()  # every word is still there, in order


def test_no_space_targets_join_split_parts_without_spaces() -> None:
    engine = RecordingEngine(max_input_tokens=2)
    result = _pipeline(engine).translate(TranslationRequest("satu dua tiga empat lima", ["th"], "id")).for_target("th")
    assert result.text == "SATU DUATIGA EMPATLIMA"  # parts "satu dua" | "tiga empat" | "lima"


def test_split_long_without_spaces_splits_characters() -> None:
    parts = split_long("ก" * 10, 3, len)
    assert "".join(parts) == "ก" * 10 and all(len(p) <= 3 for p in parts)


@pytest.mark.parametrize("text", ["", "   ", "\n\n \t\n"])
@pytest.mark.parametrize("source", ["auto", "id"])
def test_empty_and_whitespace_input_is_one_clear_error(text: str, source: str) -> None:
    engine = RecordingEngine()
    with pytest.raises(EmptyText, match="The text is empty"):
        _pipeline(engine).translate(TranslationRequest(text, ["en", "ms"], source))
    with pytest.raises(EmptyText):
        _pipeline(engine).summarize(text, source, SummaryOptions())
    assert engine.batches == []


def test_auto_detection(seed_text: str) -> None:
    engine = RecordingEngine()
    result = _pipeline(engine).translate(TranslationRequest(seed_text, ["en"], "auto"))
    assert (result.source, result.detected) == ("id", True)
    thai = _pipeline(engine).translate(TranslationRequest("ประเทศอินโดนีเซียได้รับเลือกอีกครั้ง", ["en"]))
    assert thai.source == "th"
    with pytest.raises(DetectionFailed):
        _pipeline(engine).translate(TranslationRequest("12345 !!!", ["en"]))


def test_errors_are_per_target_and_typed(pipeline: Pipeline, tmp_path) -> None:
    missing = Pipeline(pipeline.settings.replace(models_dir=tmp_path),
                       type(pipeline.router)(pipeline.settings.replace(models_dir=tmp_path)))
    result = missing.translate(TranslationRequest("Pertemuan tahunan ASCN.", ["ms", "en", "id"], "id"))
    assert result.for_target("ms").ok
    assert isinstance(result.for_target("en").error, ModelMissing)
    assert "models pull" in result.for_target("en").error.message
    assert isinstance(result.for_target("id").error, InvalidInput)


def test_engine_failure_is_reported_not_raised() -> None:
    result = _pipeline(RecordingEngine(fail_on="rusak")).translate(TranslationRequest("Ini rusak.", ["en"], "id"))
    assert result.for_target("en").error.code == "engine_failed"


def test_request_validation() -> None:
    p = _pipeline(RecordingEngine(), max_document_chars=10)
    with pytest.raises(InputTooLarge):
        p.translate(TranslationRequest("x" * 11, ["en"], "id"))
    p.translate(TranslationRequest("x" * 10, ["en"], "id"))  # exactly at the limit is fine
    with pytest.raises(UnsupportedLanguage):
        p.translate(TranslationRequest("abc", ["xx"], "id"))
    with pytest.raises(InvalidInput):
        p.translate(TranslationRequest("abc", [], "id"))
    with pytest.raises(InvalidInput):
        p.translate(TranslationRequest("abc", ["en"], "id", DecodeOptions(beam_size=2, n_best=3)))


def test_pipeline_with_real_models(pipeline: Pipeline, seed_text: str) -> None:
    result = pipeline.translate(TranslationRequest(seed_text, ["ms", "en", "th", "tl"], "id"))
    assert all(r.ok for r in result.results), [r.error for r in result.results]
    engines = {r.target: (r.engine, r.model) for r in result.results}
    assert engines == {"ms": ("apertium", "ind-zlm"), "en": ("ctranslate2", "tiny/marian-id-en"),
                       "th": ("ctranslate2", "tiny/nllb"), "tl": ("ctranslate2", "tiny/marian-multi")}
    for r in result.results:  # one output line per input line, blank lines where they were
        assert [bool(x.strip()) for x in r.text.split("\n")] == [bool(x.strip()) for x in seed_text.split("\n")]


def test_n_best_alternatives(pipeline: Pipeline) -> None:
    r = pipeline.translate(TranslationRequest("Kementerian Dalam Negeri.", ["en"], "id",
                                              DecodeOptions(beam_size=3, n_best=3))).for_target("en")
    assert len(r.alternatives["Kementerian Dalam Negeri."]) == 3


@pytest.mark.parametrize(("text", "expected"), [
    ("Ia tinggal di Jl. Sudirman No. 5 Jakarta. Ia bekerja.", ["Ia tinggal di Jl. Sudirman No. 5 Jakarta. ",
                                                                 "Ia bekerja."]),
    ("Ada buah, sayur, dll. untuk keluarga. Dr. Budi datang.", ["Ada buah, sayur, dll. untuk keluarga. ",
                                                                 "Dr. Budi datang."]),
    ("Makasar, Banyuwangi dll. Kota lain menyusul.", ["Makasar, Banyuwangi dll. ", "Kota lain menyusul."]),
])
def test_indonesian_abbreviations(text: str, expected: list[str]) -> None:
    assert Segmenter().split(text, "id") == expected


def test_language_codes() -> None:
    assert languages.parse_list("en, tha_Thai,fil,zsm_Latn,EN") == ["en", "th", "tl", "ms"]
    assert languages.normalize("khm_Khmr") == "km"
    with pytest.raises(UnsupportedLanguage):
        languages.normalize("klingon")


# -- several texts in one pass ----------------------------------------------------------------------------
def test_texts_of_one_request_go_to_the_engine_together() -> None:
    """64 one-sentence texts cost the engine what one text of the 64 sentences costs: one batch, not 64 calls."""
    sentences = [f"Kalimat nomor {i} tentang kota cerdas." for i in range(64)]
    engine = RecordingEngine()
    p = _pipeline(engine, default_glossaries="")
    results = p.translate_many([TranslationRequest(s, ["en", "ms"], "id") for s in sentences])
    assert len(engine.batches) == 2  # one per target
    assert [r.for_target("en").text for r in results] == [s.upper() for s in sentences]
    engine.batches.clear()
    p.translate(TranslationRequest(" ".join(sentences), ["en", "ms"], "id"))
    assert len(engine.batches) == 2  # the same as one text


def test_shared_dedupe_and_per_text_stats_and_flags() -> None:
    engine = RecordingEngine(max_input_tokens=4)
    p = _pipeline(engine, default_glossaries="")
    long = "satu dua tiga empat lima enam tujuh."
    a, b = p.translate_many([TranslationRequest(f"Sama. {long}", ["en"], "id"),
                             TranslationRequest("Sama. Sama. Lain.", ["en"], "id")])
    sent = [s for batch in engine.batches for s in batch]
    assert sorted(sent) == sorted(set(sent)) and sent.count("Sama.") == 1  # across texts too
    ra, rb = a.for_target("en"), b.for_target("en")
    assert (ra.segments, ra.unique_segments, rb.segments, rb.unique_segments) == (2, 2, 3, 2)
    assert [f["flag"] for f in ra.flags] == ["split"] and rb.flags == []
    assert rb.text == "SAMA. SAMA. LAIN." and ra.text.split() == f"Sama. {long}".upper().split()
    assert ra.input_tokens > rb.input_tokens > 0


def test_one_bad_text_is_that_texts_error() -> None:
    engine = RecordingEngine()
    p = _pipeline(engine, default_glossaries="", max_document_chars=100)
    good, undetectable, too_long, empty = p.translate_many([
        TranslationRequest("Kementerian Dalam Negeri hadir di Jakarta hari ini.", ["en", "ms"]),
        TranslationRequest("12345 !!!", ["en", "ms"]),
        TranslationRequest("Kota cerdas. " * 10, ["en", "ms"]),
        TranslationRequest("  ", ["en", "ms"]),
    ])
    assert good.ok and [r.text for r in good.results] == ["KEMENTERIAN DALAM NEGERI HADIR DI JAKARTA HARI INI."] * 2
    assert isinstance(undetectable.error, DetectionFailed) and not undetectable.ok
    assert [r.error for r in undetectable.results] == [undetectable.error] * 2
    assert isinstance(too_long.error, InputTooLarge) and too_long.error.details["setting"] == "max_document_chars"
    assert isinstance(empty.error, EmptyText) and [r.error for r in empty.results] == [empty.error] * 2
    tight = p.translate_many([TranslationRequest("Kota cerdas.", ["en"], "id")], max_chars=5)[0]
    assert tight.error.details == {"limit": 5, "setting": "max_text_chars"}
    with pytest.raises(DetectionFailed):  # one text: its problem is the call's
        p.translate(TranslationRequest("12345 !!!", ["en"]))
    with pytest.raises(UnsupportedLanguage):  # a problem of the request, not of a text: raised, nothing done
        p.translate_many([TranslationRequest("abc", ["xx"], "id"), TranslationRequest("def", ["en"], "id")])


def test_an_unexpected_exception_is_one_targets_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenForThai(RecordingEngine):
        def translate(self, segments, source, target, options):
            if target == "th":
                raise ZeroDivisionError("a bug")
            return super().translate(segments, source, target, options)

    p = _pipeline(BrokenForThai(), default_glossaries="")
    results = p.translate_many([TranslationRequest("Kota cerdas.", ["en", "th", "ms"], "id"),
                                TranslationRequest("Kota lain.", ["en", "th", "ms"], "id")])
    for result in results:
        assert result.ok and [r.ok for r in result.results] == [True, False, True]
        th = result.for_target("th")
        assert th.error.code == "internal_error" and "ZeroDivisionError" not in th.error.message
        incident = th.error.details["incident"]
        assert f"incident {incident}" in th.error.message
        assert th.to_dict()["error"] == {"error": th.error.message, "code": "internal_error", "incident": incident}
    logged = [r for r in caplog.records if "incident" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info and results[0].for_target("th").error.details["incident"] in (
        logged[0].getMessage())


def test_glossary_layers_are_an_lru_of_bounded_size(tmp_path) -> None:
    for name in "abcde":
        (tmp_path / f"{name}.csv").write_text(f"id,en\nkota {name},city {name}\n", encoding="utf-8")
    p = Pipeline(Settings(glossary_dir=tmp_path, glossary_layer_cache=2), FixedRouter(RecordingEngine()))
    for names in (["a"], ["b"], ["a", "b"], ["c"], ["d", "e"], ["b"]):
        assert p.translate(TranslationRequest("kota a", ["en"], "id", glossaries=names)).results[0].ok
    assert [tuple(name for name, _ in key) for key in p._layers] == [("d", "e"), ("b",)]
    assert p.term_layer(["b"]) is p.term_layer(["b"])  # still cached while recently used


def test_result_serializer_is_the_api_shape() -> None:
    r = _pipeline(RecordingEngine(), default_glossaries="").translate(TranslationRequest("Kota.", ["en"], "id"))
    item = r.to_dict()
    assert list(item) == ["source", "detected", "detection", "summary", "translations", "error"]
    assert list(item["translations"][0]) == ["target", "text", "engine", "model", "flags", "glossary",
                                             "alternatives", "summary", "error", "origin", "memory",
                                             "suggestions"]
    assert set(r.results[0].to_dict(stats=True)["stats"]) == {"segments", "unique_segments", "input_tokens",
                                                              "output_tokens", "seconds", "engine_seconds"}
