"""Text as people paste it (issue 11 sections 2-4, and the text items of issue 10 section 4): terms in the case
of the sentence, protected spans, hard-wrapped paragraphs, headlines in summaries, placeholders, clusters."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from service.config import Settings
from service.errors import ConfigError
from service.pipeline import Pipeline, TranslationRequest
from service.summaries.options import SummaryOptions, render
from service.terminology.enforce import Protected, Slot, TermLayer
from service.terminology.evaluation import score
from service.terminology.glossary import load_glossary, parse_glossary, warnings
from service.terminology.matcher import Match
from service.text import layout, spans
from service.text.document import split_long
from tests.conftest import REPO
from tests.fakes import FixedRouter, RecordingEngine

GLOSSARY = REPO / "glossary" / "asean-smart-cities.csv"
SOCIAL = ("Ikuti @kemendagri dan #KotaCerdas di https://www.kemendagri.go.id/berita/kemendagri.html atau tulis ke "
          "humas@kemendagri.go.id.")


class Identity(RecordingEngine):
    """Returns its input unchanged: shows exactly what the layers did around the engine."""

    def translate(self, segments, source, target, options):
        out = super().translate(segments, source, target, options)
        for tr, s in zip(out, segments, strict=True):
            tr.hypotheses[0] = type(tr.hypotheses[0])(s)
        return out


def _pipeline(engine=None, **settings) -> Pipeline:
    return Pipeline(Settings(**settings), FixedRouter(engine or Identity()))


def _ms(pipeline: Pipeline, text: str, target: str = "ms"):
    return pipeline.translate(TranslationRequest(text, [target], "id")).for_target(target)


# -- 2. terms keep the case of the sentence ----------------------------------------------------------------------
@pytest.mark.parametrize(("source", "expected"), [
    ("Kota cerdas menjadi prioritas.", "Bandar pintar menjadi prioritas."),  # sentence-initial
    ("Program Kota Cerdas berjalan.", "Program Bandar pintar berjalan."),  # title case: first letter
    ("PROGRAM KOTA CERDAS.", "PROGRAM BANDAR PINTAR."),  # all caps
    ("Ada kota cerdas di sini.", "Ada bandar pintar di sini."),  # lower case: the glossary's form
    ("Kota-kota cerdas di ASEAN berkembang.", "Bandar-bandar pintar di ASEAN berkembang."),
])
def test_terms_follow_the_case_of_the_source(source: str, expected: str) -> None:
    assert _ms(_pipeline(), source).text == expected


def test_case_sensitive_and_dnt_entries_are_written_as_the_glossary_says(tmp_path: Path) -> None:
    (tmp_path / "g.csv").write_text("id,ms,th,dnt,case\nkbri,Kedutaan RI,สถานทูต,,sensitive\n"
                                    "Asta Cita,,,yes,\nkota cerdas,bandar pintar,เมืองอัจฉริยะ,,\n", encoding="utf-8")
    p = _pipeline(glossary_dir=tmp_path, default_glossaries="g")
    assert _ms(p, "kbri hadir.").text == "Kedutaan RI hadir."  # case-sensitive: exactly the glossary form
    assert _ms(p, "ASTA CITA dan Asta Cita.").text == "ASTA CITA dan Asta Cita."  # dnt: the source as it is
    assert _ms(p, "Kota cerdas.", "th").text == "เมืองอัจฉริยะ."  # Thai has no case


def test_ldkpi_says_indonesia_once_in_malay(pipeline: Pipeline, seed_text: str) -> None:
    ms = pipeline.translate(TranslationRequest(seed_text, ["ms"], "id")).for_target("ms").text
    assert "Agensi Pembangunan Antarabangsa (LDKPI) Indonesia." in ms
    assert "Indonesia (LDKPI) Indonesia" not in ms


def test_glossary_check_warns_about_a_target_form_that_adds_a_name(tmp_path: Path) -> None:
    text = ("id,ms\nIndonesia,Indonesia\nLembaga Dana,Agensi Dana Indonesia\nKBRI,Kedutaan Indonesia\n"
            "Pemerintah Lokal Indonesia|Kerajaan Tempatan,Kerajaan Tempatan Indonesia\n"
            "Jabatan|Jabatan Indonesia,Jabatan Indonesia\nSheperd|Shepherd,Shepherd\n")
    glossary, problems = parse_glossary(text, tmp_path / "g.csv")
    assert problems == []
    found = warnings(glossary)
    assert len(found) == 2 and all(w.startswith("g.csv:") for w in found)
    assert "'Agensi Dana Indonesia' adds 'Indonesia'" in found[0] and "'Lembaga Dana' lacks" in found[0]
    assert "'Kerajaan Tempatan' lacks" in found[1]  # a variant without the name, and no longer one with it
    assert warnings(load_glossary(GLOSSARY)) == []  # the shipped glossary is clean


# -- 3. protected spans ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "text", "span"), [
    ("url", "Lihat https://www.kemendagri.go.id/berita?id=5, lalu", "https://www.kemendagri.go.id/berita?id=5"),
    ("url", "Buka (www.bps.go.id).", "www.bps.go.id"),
    ("url", "Kunjungi kemendagri.go.id/berita atau asean.org.", "kemendagri.go.id/berita"),
    ("email", "Tulis ke humas@kemendagri.go.id.", "humas@kemendagri.go.id"),
    ("mention", "Ikuti @kemendagri hari ini", "@kemendagri"),
    ("hashtag", "Pakai #KotaCerdas2025 ya", "#KotaCerdas2025"),
    ("file", "Unduh laporan_akhir-2025.pdf sekarang", "laporan_akhir-2025.pdf"),
    ("number", "Jaraknya 25 km dan naik 3,5% tahun ini", "25 km"),
    ("money", "Biaya Rp 1.500.000 per orang", "Rp 1.500.000"),
    ("date", "Pada 9-11 September 2025 di sana", "9-11"),
    ("date", "Tanggal 12/09/2025 dan", "12/09/2025"),
    ("time", "Mulai pukul 10.30 WIB tepat", "10.30 WIB"),
    ("time", "Mulai 08:15 pagi", "08:15"),
    ("code", "Jalankan `pip install asean-mt` dulu", "`pip install asean-mt`"),
])
def test_span_kinds_are_found(kind: str, text: str, span: str) -> None:
    assert (kind, span) in [(s.kind, s.text) for s in spans.find(text)]
    assert span not in [s.text for s in spans.find(text, tuple(k for k in spans.KINDS if k != kind))]


def test_a_decimal_is_not_a_time_and_plain_words_are_not_spans() -> None:
    assert spans.find("Angka 1.50 naik dan tahun 2025 ke-8 di kota cerdas.") == []


def test_spans_come_out_byte_for_byte_and_glossary_terms_never_inside(tmp_path: Path) -> None:
    result = _ms(_pipeline(RecordingEngine()), SOCIAL)  # the engine upper-cases everything it is given
    assert "@kemendagri" in result.text and "#KotaCerdas" in result.text
    assert "https://www.kemendagri.go.id/berita/kemendagri.html" in result.text
    assert "humas@kemendagri.go.id" in result.text and "Kementerian" not in result.text
    report = result.terms
    assert report.checks == []  # "kemendagri" only occurs inside spans: no glossary term matched
    assert [(c.kind, c.source, c.present, c.method) for c in report.spans] == [
        ("mention", "@kemendagri", True, "protected"), ("hashtag", "#KotaCerdas", True, "protected"),
        ("url", "https://www.kemendagri.go.id/berita/kemendagri.html", True, "protected"),
        ("email", "humas@kemendagri.go.id", True, "protected")]
    assert SOCIAL[report.spans[2].start:report.spans[2].end] == report.spans[2].source
    assert _ms(_pipeline(RecordingEngine()), "Lihat kemendagri.go.id sekarang.").text == \
        "LIHAT kemendagri.go.id SEKARANG."  # a bare domain too
    as_json = report.to_dict()
    assert as_json["spans_found"] == 4 and as_json["terms_found"] == 0 and as_json["spans"][0]["kind"] == "mention"


def test_each_kind_can_be_switched_off_by_the_setting() -> None:
    off = _ms(_pipeline(RecordingEngine(), protected_spans="url,email,hashtag"), SOCIAL)
    assert "@Kementerian Dalam Negeri" in off.text and "#KotaCerdas" in off.text  # mentions: glossary applies
    none = _ms(_pipeline(RecordingEngine(), protected_spans="none", default_glossaries=""), "Lihat www.bps.go.id")
    assert none.text == "LIHAT WWW.BPS.GO.ID" and none.terms is None
    with pytest.raises(ConfigError, match="unknown span kind"):
        _pipeline(protected_spans="url,phone")
    with pytest.raises(ConfigError, match="layout must be one of"):
        _pipeline(layout="wrap")
    with pytest.raises(ConfigError, match="Unknown language code 'xx'"):
        _pipeline(source_prior="xx")


def test_real_apertium_keeps_social_spans_and_the_article_dates(pipeline: Pipeline) -> None:
    text = SOCIAL + " Acara pada 9-11 September 2025 pukul 10.30 WIB, biaya Rp 1.500.000."
    ms = _ms(pipeline, text)
    for span in ("@kemendagri", "#KotaCerdas", "https://www.kemendagri.go.id/berita/kemendagri.html",
                 "humas@kemendagri.go.id", "9-11", "10.30 WIB", "Rp 1.500.000"):
        assert span in ms.text
    assert ms.terms.spans_present == len(ms.terms.spans) == 7


def test_noncharacters_no_longer_cut_apertium_short(pipeline: Pipeline) -> None:
    ms = _ms(pipeline, "Saya \uffff makan nasi. Dia \ufdd0 bisa datang.")
    assert ms.text == "Saya \uffff makan nasi. Dia \ufdd0 boleh datang."


def test_eval_terms_counts_spans() -> None:
    layer = TermLayer([load_glossary(GLOSSARY)], spans.KINDS)
    src = ["Ikuti @kemendagri di www.kemendagri.go.id."]
    right = score(layer, src, ["Follow @kemendagri at www.kemendagri.go.id."],
                  ["Follow @kemendagri at www.kemendagri.go.id."], "id", "en")
    wrong = score(layer, src, ["Follow @kemendagri at www.kemendagri.go.id."], ["Follow kemendagri at the site."],
                  "id", "en")
    assert (right.spans, right.spans_right) == (2, 2)
    assert (wrong.spans, wrong.spans_right) == (2, 0) and "protected spans 0/2 kept exactly" in wrong.format()


# -- issue 10: placeholders are whole tokens; clusters are never cut ----------------------------------------------
def test_placeholder_one_is_not_found_inside_placeholder_ten() -> None:
    slots = tuple(Slot(f"ZXQ{i}", Match(0, 1, "x", None), "x") for i in range(11))  # type: ignore[arg-type]
    protected = Protected(" ".join(s.placeholder for s in slots), slots)
    assert protected.placeholders_in("ZXQ10 dan ZXQ2") == ["ZXQ2", "ZXQ10"]
    assert TermLayer.choose(["ZXQ10 saja", "ZXQ1 dan ZXQ10"], ["ZXQ1", "ZXQ10"]) == "ZXQ1 dan ZXQ10"


def test_last_resort_split_keeps_khmer_clusters_whole() -> None:
    import regex

    text = "ក្រសួងមហាផ្ទៃនៃសាធារណរដ្ឋឥណ្ឌូនេស៊ី"
    parts = split_long(text, 3, len)
    assert "".join(parts) == text and len(parts) > 1
    clusters = regex.findall(r"\X", text)
    boundaries = {sum(len(c) for c in clusters[:i]) for i in range(len(clusters) + 1)}
    offset = 0
    for part in parts:
        offset += len(part)
        assert offset in boundaries  # every cut falls between two clusters


# -- 4. text as people paste it ----------------------------------------------------------------------------------
def _wrapped(text: str, width: int = 72) -> str:
    return "\n".join("\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) if line.strip() else line
                     for line in text.split("\n"))


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n")]


def test_hard_wrapped_article_translates_as_the_unwrapped_one(pipeline: Pipeline, seed_text: str) -> None:
    wrapped = _wrapped(seed_text)
    assert wrapped.count("\n") > seed_text.count("\n") + 20
    assert _lines(layout.unwrap(wrapped, "auto")) == _lines(seed_text)
    plain = pipeline.translate(TranslationRequest(seed_text, ["ms"], "id")).for_target("ms")
    flowed = pipeline.translate(TranslationRequest(wrapped, ["ms"], "id")).for_target("ms")
    assert _lines(flowed.text) == _lines(plain.text)
    kept = pipeline.translate(TranslationRequest(wrapped, ["ms"], "id", layout="keep")).for_target("ms")
    assert kept.text.count("\n") == wrapped.count("\n")


@pytest.mark.parametrize("text", [
    "Jl. Medan Merdeka Utara No. 7\nJakarta Pusat 10110\nIndonesia\n",  # an address
    "Daftar hadir:\n- Kementerian Dalam Negeri dan seluruh jajarannya di pusat dan daerah\n- Kemlu\n",  # a list
    "Angin malam berbisik pelan\ndi antara daun yang gugur\n",  # short lines: a poem
    "Indonesia Kembali Terpilih sebagai ASCN Shepherd pada Pertemuan Tahunan ASCN ke-8 di Malaysia\n"
    "Indonesia kembali dipilih untuk menjalankan perannya.\n",  # a headline over its first sentence
])
def test_auto_layout_keeps_real_lines(text: str) -> None:
    assert layout.unwrap(text, "auto") == text


def test_layouts_join_wrapped_lines_and_keep_offsets() -> None:
    text = ("Dalam pertemuan tahunan tersebut, delegasi Indonesia dipimpin oleh\r\n"
            "Direktur Kawasan Perkotaan dan Batas Negara.\r\n\r\nBaris baru.\nlanjutan")
    auto = layout.unwrap(text, "auto")
    assert len(auto) == len(text) and "dipimpin oleh  Direktur" in auto and "\r\n\r\nBaris baru.\nlanjutan" in auto
    assert layout.unwrap(text, "reflow").endswith("Baris baru. lanjutan")
    assert layout.unwrap(text, "keep") == text
    result = _ms(_pipeline(default_glossaries=""), "Kota itu ramai sekali dan orang-orang dari desa\nberjalan ke "
                                                     "pasar setiap pagi.")
    assert result.text == "Kota itu ramai sekali dan orang-orang dari desa berjalan ke pasar setiap pagi."
    assert result.segments == 1


def test_summary_never_glues_the_headline_to_the_next_sentence(pipeline: Pipeline, seed_text: str) -> None:
    _, summary = pipeline.summarize(seed_text, "id", SummaryOptions(sentences=2, include_headline=True))
    assert summary.text.startswith("Indonesia Kembali Terpilih sebagai ASCN Shepherd pada Pertemuan Tahunan ASCN "
                                   "ke-8 di Malaysia\nIndonesia kembali dipilih")
    assert render(["Satu.", "Dua tanpa titik", "Tiga."], "paragraph") == "Satu. Dua tanpa titik\nTiga."
