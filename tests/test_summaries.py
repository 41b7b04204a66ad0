from __future__ import annotations

from pathlib import Path

import pytest

from service.catalog import Candidate, Catalog
from service.config import Settings
from service.engines.router import EngineRouter
from service.errors import ConfigError, InvalidInput, ModelMissing
from service.pipeline import Pipeline, TranslationRequest
from service.prompts import load_prompt
from service.summaries import abstractive
from service.summaries.options import SummaryOptions, count_words
from service.summaries.summarizer import Summarizer
from service.text.segment import Segmenter

LEAD = ("Indonesia kembali dipilih untuk menjalankan perannya sebagai Shepherd ASEAN Smart City Network (ASCN) "
        "pada pertemuan tahun ASCN ke-8 di Kualalumpur, Malaysia pada 9-11 September 2025.")
HEADLINE = "Indonesia Kembali Terpilih sebagai ASCN Shepherd pada Pertemuan Tahunan ASCN ke-8 di Malaysia"


def summarize(pipeline: Pipeline, text: str, **options) -> str:
    return pipeline.summarize(text, "id", SummaryOptions(**options))[1].text


def test_seed_summary_leads_with_the_news(pipeline: Pipeline, seed_text: str) -> None:
    assert summarize(pipeline, seed_text, sentences=1) == LEAD
    two = pipeline.summarize(seed_text, "id", SummaryOptions(sentences=2))[1]
    assert LEAD in two.text and len(two.sentences) == 2
    assert HEADLINE not in two.text
    assert HEADLINE in summarize(pipeline, seed_text, sentences=1, include_headline=True)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_sentence_limits(pipeline: Pipeline, seed_text: str, n: int) -> None:
    summary = pipeline.summarize(seed_text, "id", SummaryOptions(sentences=n))[1]
    assert len(summary.sentences) == n
    order = [seed_text.index(s) for s in summary.sentences]
    assert order == sorted(order)  # in document order


@pytest.mark.parametrize("words", [10, 40, 80])
def test_word_limits(pipeline: Pipeline, seed_text: str, words: int) -> None:
    summary = pipeline.summarize(seed_text, "id", SummaryOptions(words=words))[1]
    assert 0 < count_words(summary.text.rstrip("…"), "id") <= words
    if words == 10:  # no sentence of the article is that short: the best one is cut, and flagged
        assert summary.flags == [{"flag": "truncated", "reason": "no whole sentence fits the word limit"}]


def test_ratio_bullets_and_determinism(pipeline: Pipeline, seed_text: str) -> None:
    first = pipeline.summarize(seed_text, "id", SummaryOptions(ratio=0.2, style="bullets"))[1]
    assert first.text.count("\n- ") == len(first.sentences) - 1 and first.text.startswith("- ")
    assert len(first.sentences) == round(0.2 * 22)  # 22 sentences besides the headline
    again = pipeline.summarize(seed_text, "id", SummaryOptions(ratio=0.2, style="bullets"))[1]
    assert again.text == first.text


def test_near_duplicates_are_skipped(pipeline: Pipeline) -> None:
    text = ("Kementerian Dalam Negeri memimpin delegasi ke pertemuan ASCN di Malaysia.\n"
            "Kementerian Dalam Negeri memimpin delegasi ke pertemuan ASCN di Malaysia!\n"
            "Pertemuan itu membahas kota cerdas dan sektor swasta.\n")
    summary = pipeline.summarize(text, "id", SummaryOptions(sentences=2))[1]
    assert summary.sentences[1] == "Pertemuan itu membahas kota cerdas dan sektor swasta."


def test_scripts_without_spaces(pipeline: Pipeline) -> None:
    text = "ឥណ្ឌូនេស៊ីត្រូវបានជ្រើសរើសម្តងទៀត។ កិច្ចប្រជុំប្រចាំឆ្នាំលើកទី៨នៅម៉ាឡេស៊ី។ ទីក្រុងឆ្លាតវៃ។"
    summary = pipeline.summarize(text, "km", SummaryOptions(sentences=2))[1]
    assert len(summary.sentences) == 2 and summary.text.startswith("ឥណ្ឌូនេស៊ី")
    assert count_words("ក" * 8, "km") == 2


@pytest.mark.parametrize("options", [
    {"sentences": 0}, {"sentences": 2, "words": 10}, {"ratio": 1.5}, {"words": 10_000}, {"style": "poem"},
    {"method": "magic"}, {"mode": "both"}, {"ratio": float("nan")},
])
def test_invalid_options(options: dict) -> None:
    with pytest.raises(InvalidInput):
        SummaryOptions(**options).validate()


def test_abstractive_runs_end_to_end_with_chunking(pipeline: Pipeline, router: EngineRouter,
                                                   seed_text: str) -> None:
    engine = router.summarizer_for("id")
    assert engine.model == "tiny/t5"
    long_text = "\n".join([seed_text] * 3)  # longer than the tiny model's input window
    assert engine.count_raw_tokens(long_text) > engine.max_input_tokens
    summary = pipeline.summarize(long_text, "id", SummaryOptions(sentences=2, method="abstractive"))[1]
    assert summary.method == "abstractive" and summary.model == "tiny/t5"
    chunked = summary.flags[0]
    assert chunked["flag"] == "chunked" and chunked["chunks"] > 1 and chunked["rounds"] >= 2
    assert isinstance(summary.text, str)
    auto = pipeline.summarize(seed_text, "id", SummaryOptions(method="auto"))[1]
    assert auto.method == "abstractive"


def test_chunks_always_fit_and_lose_nothing() -> None:
    sentences = ["satu dua tiga.", "empat lima enam tujuh delapan sembilan sepuluh sebelas.", "dua belas."]

    def fits(text: str) -> bool:
        return len(text.split()) <= 4

    chunks = abstractive.chunk_sentences(sentences, fits)
    assert all(fits(c) for c in chunks)
    assert " ".join(chunks).split() == " ".join(sentences).split()


def test_abstractive_without_a_model_says_what_to_pull(settings: Settings, tmp_path: Path) -> None:
    p = Pipeline(settings.replace(models_dir=tmp_path), EngineRouter(settings.replace(models_dir=tmp_path)))
    with pytest.raises(ModelMissing) as err:
        p.summarize("Kalimat satu. Kalimat dua.", "id", SummaryOptions(method="abstractive"))
    assert "models pull tiny/t5" in err.value.message
    auto = p.summarize("Kalimat satu. Kalimat dua.", "id", SummaryOptions(method="auto"))[1]
    assert auto.method == "extractive"
    with pytest.raises(ModelMissing, match="No abstractive summariser in the catalog covers km"):
        p.summarize("ក។ ខ។", "km", SummaryOptions(method="abstractive"))


def test_prompt_templates_are_checked_at_load(tmp_path: Path) -> None:
    assert load_prompt("summarize.t5").render(text="X") == "summarize: X"
    with pytest.raises(ConfigError, match="Unknown prompt template 'nope'"):
        load_prompt("nope")
    (tmp_path / "bad.txt").write_text("# variables: text, lang\nsummarize: {text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must match"):
        load_prompt("bad", tmp_path)
    (tmp_path / "worse.txt").write_text("# variables: text\n{text} in {lang}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must match"):
        load_prompt("worse", tmp_path)


def test_summarizer_refuses_a_catalog_with_a_missing_prompt(settings: Settings, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."x/t5"]\nfamily = "t5"\nlanguages = ["id"]\nprompt = "summarize.nothing"\n')
    router = EngineRouter(settings.replace(catalog_path=catalog), Catalog.load(catalog))
    with pytest.raises(ConfigError, match=r"summarize\.nothing"):
        Summarizer(router, Segmenter())
    assert Candidate  # imported for the type of catalog entries


def test_cross_lingual_summary_through_apertium_keeps_terms(pipeline: Pipeline, seed_text: str) -> None:
    result = pipeline.translate(TranslationRequest(seed_text, ["ms"], "id", summary=SummaryOptions(sentences=2)))
    assert result.summary.text.startswith(LEAD)
    ms = result.for_target("ms").summary
    assert ms.mode == "translate" and ms.method == "extractive" and len(ms.sentences) == 2
    assert ms.text.startswith("Indonesia kembali dipilih") and "Rangkaian Bandar Pintar ASEAN" in ms.text
    assert "Kuala Lumpur" in ms.text and ms.terms.compliance == 1.0 and ms.terms.found >= 7
    target_mode = pipeline.translate(TranslationRequest(
        seed_text, ["ms"], "id", summary=SummaryOptions(sentences=2, mode="summarise_target"))).for_target("ms")
    assert target_mode.summary.mode == "summarise_target"
    assert all(s in target_mode.text for s in target_mode.summary.sentences)  # taken from the translation


def _dense_scores(sentences: list[str]) -> list[float]:
    """The former dense LexRank (full graph), as a reference."""
    import math
    from collections import Counter

    import numpy as np

    from service.summaries import extractive

    bags = [Counter(extractive._features(s, "id")) for s in sentences]
    n = len(bags)
    df = Counter(t for bag in bags for t in bag)
    vocab = {t: i for i, t in enumerate(sorted(df))}
    m = np.zeros((n, len(vocab)))
    for r, bag in enumerate(bags):
        for t, tf in bag.items():
            m[r, vocab[t]] = tf * math.log((1 + n) / (1 + df[t]) + 1)
    m /= np.where(np.linalg.norm(m, axis=1, keepdims=True) == 0, 1, np.linalg.norm(m, axis=1, keepdims=True))
    graph = m @ m.T
    np.fill_diagonal(graph, 0)
    rows = graph.sum(axis=1, keepdims=True)
    prior = 1 / (np.arange(n) + 1)
    prior /= prior.sum()
    transition = np.where(rows > 0, graph / np.where(rows == 0, 1, rows), prior)
    scores = np.full(n, 1 / n)
    for _ in range(200):
        scores = 0.15 * prior + 0.85 * transition.T @ scores
    return list(scores)


def test_sparse_lexrank_equals_the_full_graph_for_an_article(seed_text: str) -> None:
    from service.summaries import extractive

    sentences = [*extractive.candidate_sentences(seed_text, "id", Segmenter(), True), "", "Kota."]
    assert len(sentences) <= extractive.NEIGHBOURS + 1
    vectors = extractive._vectors([extractive.Counter(extractive._features(s, "id")) for s in sentences])
    sparse_scores = extractive.lexrank(extractive._graph(vectors))
    assert sparse_scores == pytest.approx(_dense_scores(sentences), abs=1e-9)


def test_long_documents_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The similarity graph keeps NEIGHBOURS edges a sentence (tiny here), and at most max_sentences sentences are
    candidates, flagged; never a dense sentences x sentences matrix."""
    from service.summaries import extractive

    monkeypatch.setattr(extractive, "NEIGHBOURS", 5)
    monkeypatch.setattr(extractive, "BLOCK", 7)
    words = "kota cerdas pertemuan tahunan jaringan kementerian dalam negeri delegasi program aplikasi".split()
    sentences = [" ".join(words[(i * 3 + k) % len(words)] for k in range(6)) + f" nomor {i}." for i in range(60)]
    vectors = extractive._vectors([extractive.Counter(extractive._features(s, "id")) for s in sentences])
    graph = extractive._graph(vectors)
    assert graph.shape == (60, 60) and graph.nnz <= 60 * 5 and graph.diagonal().sum() == 0
    chosen, _ = extractive.select(sentences, "id", SummaryOptions(sentences=2), max_sentences=10)
    assert len(chosen) == 2 and all(s in sentences[:10] for s in chosen)
    from types import SimpleNamespace

    no_models = SimpleNamespace(catalog=SimpleNamespace(models={}))  # extractive: the router is never asked
    summarizer = Summarizer(no_models, Segmenter(), max_sentences=10)  # type: ignore[arg-type]
    summary = summarizer.summarize("\n".join(sentences), "id", SummaryOptions(sentences=2))
    assert summary.flags == [{"flag": "long_document", "sentences": 60, "considered": 10,
                              "reason": "only the first sentences were candidates (setting summary_max_sentences)"}]
