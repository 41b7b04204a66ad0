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
