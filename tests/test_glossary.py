from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.config import Settings
from service.engines.base import DecodeOptions
from service.errors import GlossaryInvalid, GlossaryNotFound
from service.pipeline import Pipeline, TranslationRequest
from service.terminology.enforce import TermLayer, contains
from service.terminology.evaluation import score
from service.terminology.glossary import GlossaryStore, load_glossary, parse_glossary
from service.terminology.matcher import TermMatcher
from tests.conftest import REPO
from tests.fakes import FixedRouter, ScriptedEngine

SMART_CITIES = REPO / "glossary" / "asean-smart-cities.csv"
PLACEHOLDER = re.compile(r"Z\s?X\s?Q", re.IGNORECASE)


def glossary(tmp_path: Path, text: str, name: str = "g.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_glossary(path)


@pytest.fixture
def small(tmp_path: Path):
    return glossary(tmp_path, "\n".join([
        "id,en,th,km,dnt,case,note",
        "Kementerian Dalam Negeri|Kemendagri,Ministry of Home Affairs,กระทรวงมหาดไทย,ក្រសួងមហាផ្ទៃ,,,",
        "Kementerian Dalam Negeri Republik Indonesia,Ministry of Home Affairs of the Republic of Indonesia,,,,,",
        "Dalam Negeri,Home Affairs,มหาดไทย,,,,",
        "ASCN,,,,yes,sensitive,acronym",
        "kota cerdas,smart city,เมืองอัจฉริยะ,ទីក្រុងឆ្លាតវៃ,,,",
        "cerdas (AI),smart (AI),,,,,regex metacharacters",
        "Asta Cita,,,,yes,,",
        "ASEAN Smart City Network,ASEAN Smart Cities Network,,,,,",
        "Smart City,smart city (EN),,,,,overlaps the one above",
    ]) + "\n")


def _find(g, text: str, source: str = "id", target: str | None = None) -> list[str]:
    return [m.text for m in TermMatcher([g], source, target).find(text)]


def test_variants_longest_match_and_overlaps(small) -> None:
    assert _find(small, "Kemendagri dan Kementerian Dalam Negeri") == ["Kemendagri", "Kementerian Dalam Negeri"]
    assert _find(small, "oleh Kementerian Dalam Negeri Republik Indonesia.") == [
        "Kementerian Dalam Negeri Republik Indonesia"]
    # overlapping candidates: "ASEAN Smart City Network" (longer) beats "Smart City"
    assert _find(small, "Jaringan ASEAN Smart City Network kuat") == ["ASEAN Smart City Network"]
    # an entry with no form for the target never hides the shorter term that has one
    assert _find(small, "Kementerian Dalam Negeri Republik Indonesia", target="th") == ["Kementerian Dalam Negeri"]


def test_case_rules_boundaries_and_punctuation(small) -> None:
    assert _find(small, "ASCN (ASCN), ascn; Ascn.") == ["ASCN", "ASCN"]  # case-sensitive entry
    assert _find(small, "KOTA CERDAS dan Kota Cerdas") == ["KOTA CERDAS", "Kota Cerdas"]  # insensitive
    assert _find(small, "(ASCN)") == ["ASCN"]
    assert _find(small, "ASCN") == ["ASCN"]  # whole text
    assert _find(small, "kotacerdas, ASCNX, XASCN") == []  # not inside words
    assert _find(small, "sistem cerdas (AI) baru") == ["cerdas (AI)"]  # metacharacters are literal
    assert _find(small, "sistem cerdas AI baru") == []


def test_unicode_nfc(tmp_path: Path) -> None:
    g = glossary(tmp_path, "vi,en\nThành phố,city\n")
    decomposed = "Tha\u0300nh pho\u0302\u0301 lớn"
    assert [m.entry.key for m in TermMatcher([g], "vi").find(decomposed)] == ["Thành phố"]


def test_no_space_targets_are_matched_by_character() -> None:
    assert contains("ประชุมกับกระทรวงมหาดไทยวันนี้", "กระทรวงมหาดไทย", "th", False)
    assert contains("ជាមួយក្រសួងមហាផ្ទៃ", "ក្រសួងមហាផ្ទៃ", "km", False)
    assert not contains("Ministry of Home Affairsx", "Ministry of Home Affairs", "en", False)


def _pipeline(engine, glossary_dir: Path, **settings) -> Pipeline:
    s = Settings(glossary_dir=glossary_dir, default_glossaries="g", **settings)
    return Pipeline(s, FixedRouter(engine))


def test_protect_restore_with_a_copying_engine_no_spaces_added(small, tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda s: [s.replace("oleh", "โดย").replace(" ", "")])
    r = _pipeline(engine, tmp_path).translate(TranslationRequest("oleh Kementerian Dalam Negeri.", ["th"], "id"))
    res = r.for_target("th")
    assert res.text == "โดยกระทรวงมหาดไทย."  # restored in place, no spaces inserted
    assert res.terms.compliance == 1.0
    assert [(c.source, c.start, c.end, c.method) for c in res.terms.checks] == [
        ("Kementerian Dalam Negeri", 5, 29, "protected")]


def test_dnt_keeps_the_source_form(small, tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda s: [s.upper()])
    res = _pipeline(engine, tmp_path).translate(TranslationRequest("visi Asta Cita", ["en"], "id")).results[0]
    assert res.text == "VISI Asta Cita"
    assert res.terms.checks[0].required == "Asta Cita" and res.terms.checks[0].present


def test_lost_placeholder_is_reported_and_never_shown(small, tmp_path: Path) -> None:
    def drop(s: str) -> list[str]:
        return [re.sub(r"ZXQ\d+", "", s) + " ZXQ7"]  # drops the real one, invents another

    res = _pipeline(drop and ScriptedEngine(drop), tmp_path).translate(
        TranslationRequest("Rapat kota cerdas di sini.", ["en"], "id")).results[0]
    assert not PLACEHOLDER.search(res.text)
    assert res.terms.checks[0].method == "missing" and not res.terms.checks[0].present
    assert res.terms.compliance == 0.0


def test_engine_written_term_counts_as_present(small, tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda s: ["the smart city is here"])
    res = _pipeline(engine, tmp_path).translate(TranslationRequest("kota cerdas di sini", ["en"], "id")).results[0]
    assert res.terms.checks[0].method == "engine" and res.terms.compliance == 1.0


def test_n_best_prefers_the_hypothesis_that_keeps_every_term(small, tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda s: ["no terms here", re.sub(r"kota", "city", s), "third"])
    res = _pipeline(engine, tmp_path).translate(
        TranslationRequest("kota ASCN dan kota cerdas", ["en"], "id", DecodeOptions(beam_size=3))).results[0]
    assert engine.options[0].n_best == 3  # the whole beam was asked for
    assert res.text == "city ASCN dan smart city"
    assert res.terms.compliance == 1.0


def test_spaced_or_lowercased_placeholders_are_restored(small, tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda s: [s.replace("ZXQ0", "zxq 0")])
    res = _pipeline(engine, tmp_path).translate(TranslationRequest("kota cerdas", ["en"], "id")).results[0]
    assert res.text == "smart city" and res.terms.compliance == 1.0


def test_glossary_selection_later_wins_and_none(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,en\nkota cerdas,smart city\nKemlu,MOFA\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,en\nkota cerdas,intelligent city\n", encoding="utf-8")
    engine = ScriptedEngine(lambda s: [s])
    p = Pipeline(Settings(glossary_dir=tmp_path, default_glossaries="a"), FixedRouter(engine))
    text = "kota cerdas dan Kemlu"
    assert p.translate(TranslationRequest(text, ["en"], "id")).results[0].text == "smart city dan MOFA"
    assert p.translate(TranslationRequest(text, ["en"], "id", glossaries=["a", "b"])).results[0].text == \
        "intelligent city dan MOFA"
    none = p.translate(TranslationRequest(text, ["en"], "id", glossaries=[])).results[0]
    assert none.text == text and none.terms is None
    with pytest.raises(GlossaryNotFound):
        p.translate(TranslationRequest(text, ["en"], "id", glossaries=["nope"]))


def test_broken_glossary_is_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.csv").write_text("id,en\nkota cerdas,smart city\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("id,en\n,smart city\n", encoding="utf-8")
    store = GlossaryStore(tmp_path)
    assert store.names() == ["bad", "good"] and list(store.glossaries) == ["good"]
    with pytest.raises(GlossaryInvalid) as err:
        store.get("bad")
    assert err.value.details["problems"] == ["bad.csv:2: empty term: no form in the first language column 'id'"]


@pytest.mark.parametrize(("text", "problem"), [
    ("id,en\n,smart city\n", "g.csv:2: empty term: no form in the first language column 'id'"),
    ("id,en\nkota||cerdas,x\n", "g.csv:2: empty term in column 'id' ('kota||cerdas')"),
    ("id,en\nkota,city\n\nKota,town\n", "g.csv:4: duplicate source variant 'Kota' (id), already on line 2"),
    ("id,xx\nkota,city\n", "g.csv:1: unknown language columns 'id', 'xx'"),
    ("id,en,dnt\nkota,city,maybe\n", "g.csv:2: dnt must be yes or no, not 'maybe'"),
    ("id,en,case\nkota,city,upper\n", "g.csv:2: case must be sensitive or insensitive, not 'upper'"),
    ("id,en\nkota,city,extra\n", "g.csv:2: 3 cells but the header has 2 columns"),
    ("id,en,en\nkota,city,town\n", "g.csv:1: column 'en' appears twice"),
])
def test_malformed_glossaries_report_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    _, problems = parse_glossary(text, tmp_path / "g.csv")
    assert problems and problems[0].startswith(problem)


def test_case_sensitive_duplicates_are_distinct(tmp_path: Path) -> None:
    _, problems = parse_glossary("id,en,case\nKota,Town,sensitive\nkota,city,sensitive\n", tmp_path / "g.csv")
    assert problems == []


def test_two_column_formats(tmp_path: Path) -> None:
    aws = glossary(tmp_path, "id,en\nkota cerdas,smart city\n", "aws.csv")  # AWS: header of language codes
    google = glossary(tmp_path, "kota cerdas,smart city\n", "google.id-en.csv")  # no header, pair in name
    deepl = glossary(tmp_path, "kota cerdas\tsmart city\n", "deepl.id-en.tsv")
    for g in (aws, google, deepl):
        assert g.languages == ("id", "en")
        assert g.entries[0].forms == {"id": ("kota cerdas",), "en": ("smart city",)}
    flores = glossary(tmp_path, "ind_Latn,tha_Thai\nkota cerdas,เมืองอัจฉริยะ\n", "flores.csv")
    assert flores.languages == ("id", "th")


def test_the_asean_glossary_is_valid_and_covers_the_domain() -> None:
    g = load_glossary(SMART_CITIES)
    assert len(g.entries) >= 40
    assert g.languages == ("id", "en", "ms", "th", "vi", "tl", "km", "lo", "my")
    keys = {form for e in g.entries for form in e.forms.get("id", ())}
    for term in ("ASEAN Smart City Network", "ASCN", "Shepherd", "Sekretariat ASEAN", "Kemendagri",
                 "Ditjen Bina Adwil", "Kemlu", "KBRI", "LDKPI", "Asta Cita", "JAKI", "JakLingko",
                 "Mal Pelayanan Publik", "kota cerdas", "pilot cities", "capacity building", "National Representative"):
        assert term in keys, term


def test_real_apertium_on_the_seed_article_gets_every_term_right(pipeline: Pipeline, seed_text: str) -> None:
    result = pipeline.translate(TranslationRequest(seed_text, ["ms"], "id", glossaries=["asean-smart-cities"]))
    ms = result.for_target("ms")
    assert ms.engine == "apertium"
    assert ms.terms.found > 50 and ms.terms.compliance == 1.0
    assert all(c.method == "protected" for c in ms.terms.checks)
    for expected in ("Rangkaian Bandar Pintar ASEAN (ASCN)", "Kuala Lumpur", "Kemboja", "bandar-bandar pintar",
                     "Shepherd ASCN", "Makassar", "JakLingko", "Kementerian Dalam Negeri"):
        assert expected in ms.text, expected
    assert not PLACEHOLDER.search(ms.text)
    for check in ms.terms.checks:  # offsets point at the source text
        assert seed_text[check.start:check.end] == check.source


@pytest.mark.parametrize("target", ["en", "th", "tl", "km"])
def test_tiny_models_report_is_truthful(pipeline: Pipeline, seed_text: str, target: str) -> None:
    """Random weights lose placeholders: the report must say so, and no placeholder may reach the text.
    Terms are checked in their own sentence's translation, so each sentence is translated on its own here."""
    doc = pipeline.translate(TranslationRequest(seed_text, [target], "id")).for_target(target)
    assert doc.ok and doc.engine == "ctranslate2", doc.error
    assert not PLACEHOLDER.search(doc.text) and doc.terms.found > 50
    for sentence in ("Delegasi Indonesia juga menegaskan kesesuaian visi smart city dengan Asta Cita.",
                     "Pertemuan tahunan ASCN ke-8 di Kualalumpur, Malaysia bersama Sekretariat ASEAN."):
        res = pipeline.translate(TranslationRequest(sentence, [target], "id")).for_target(target)
        assert res.terms.found >= 3 and not PLACEHOLDER.search(res.text)
        for check in res.terms.checks:
            if check.present:
                assert contains(res.text, check.required, target, False), check
            else:
                assert not contains(res.text, check.required, target, True), check
            assert (check.method == "missing") == (not check.present)


def test_eval_terms_scores_exact_matches(tmp_path: Path) -> None:
    layer = TermLayer([load_glossary(SMART_CITIES)])
    src = ["Kemlu dan Kemendagri hadir.", "Kota cerdas di Bali.", "Tidak ada istilah."]
    ref = ["The Ministry of Foreign Affairs and the Ministry of Home Affairs came.",
           "Smart city in the island of Bali.", "No term."]
    hyp = ["The Ministry of Foreign Affairs and the Home Ministry came.", "A smart city in Bali.", "None."]
    acc = score(layer, src, ref, hyp, "id", "en")
    assert (acc.terms, acc.right) == (4, 3)
    assert acc.misses == [(1, "Kemendagri", "Ministry of Home Affairs")]
    assert "75.0%" in acc.format()
