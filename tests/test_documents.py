"""Documents: every format round-trips through real Apertium (id -> ms) with its structure identical, its text
Malay, the glossary's terms right and nothing outside the text changed; inline tags survive engines that lose
them; unsafe and malformed files get a 4xx with one sentence; every front end (CLI, /v1/documents, /v1/translate
format html, LibreTranslate, the web form) takes the same road."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import lxml.html
import pytest
import webvtt
from docx.enum.text import WD_UNDERLINE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from flask.testing import FlaskClient
from lxml import etree

from service.config import Settings
from service.documents.base import DocumentInvalid
from service.documents.inline import UnitBuilder, decode
from service.documents.road import translate_document
from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.errors import InputTooLarge, InvalidInput
from service.http import create_app
from service.jobs.store import JobStore
from service.pipeline import Pipeline
from service.text import markers
from tests.conftest import REPO, SEED
from tests.fakes import FixedRouter
from tests.test_jobs import inline_service

# -- documents the tests build --------------------------------------------------------------------------------
HTML_PAGE = """<!DOCTYPE html>
<html lang="id">
<head><meta charset="utf-8"><title>Kota cerdas di Indonesia</title>
<meta name="description" content="Indonesia terpilih kembali sebagai Shepherd.">
<style>p { color: red; } /* Kota cerdas */</style>
<script>var kota = "Kota cerdas di Indonesia";</script></head>
<body>
<h1 class="title">Indonesia terpilih kembali sebagai <em>Shepherd</em> ASCN</h1>
<p id="p1">Kementerian Dalam Negeri menyampaikan bahwa <b>Indonesia terpilih kembali. Ini <i>pertemuan</i>
  ke-8</b> di <a href="https://kl.gov.my/acara">Kuala Lumpur</a>. Lihat
  <a href="https://asean.org/ascn" title="Jaringan Kota Cerdas ASEAN">Jaringan Kota Cerdas ASEAN</a> dan
  <a href="https://www.kemendagri.go.id">Kementerian</a> Dalam Negeri.</p>
<ul><li>Kota cerdas <code>kota_cerdas = 1</code> dan <span class="notranslate">Kota cerdas tetap</span></li>
<li>Daftar: <ul><li>Kota cerdas satu</li></ul></li></ul>
<table><tr><th>Kota</th><td>Kota <img src="kota.png" alt="Gambar kota cerdas"> besar</td></tr></table>
<pre>Kota cerdas di pre</pre>
<p translate="no">Saya pergi ke pasar.</p>
<!-- Kota cerdas dalam komentar -->
<p>Tulisan &lt;b&gt;bukan tag&lt;/b&gt; di sini.</p>
</body></html>
"""
SKIPPED = ["var kota = \"Kota cerdas di Indonesia\";", "p { color: red; } /* Kota cerdas */", "kota_cerdas = 1",
           "Kota cerdas tetap", "Kota cerdas di pre", "Saya pergi ke pasar.", " Kota cerdas dalam komentar "]
TRANSLATED_ATTRIBUTES = {"alt", "title", "content"}


def translate(pipeline: Pipeline, data: bytes, name: str, **kwargs) -> tuple[bytes, object]:
    result = translate_document(pipeline, data, name, ["ms"], kwargs.pop("source", "id"), **kwargs)
    file = result.files[0]
    assert file.ok, file.error
    return file.data, file


def skeleton(element) -> list[tuple]:
    """An element tree without its text and translated attributes: what must not change."""
    return [(e.tag if isinstance(e.tag, str) else "comment",
             tuple(sorted((k, v) for k, v in e.attrib.items() if k not in TRANSLATED_ATTRIBUTES | {"lang"})))
            for e in element.iter()]


def test_html_page_round_trip_through_apertium(pipeline: Pipeline) -> None:
    data, file = translate(pipeline, HTML_PAGE.encode(), "siaran.id.html")
    assert file.name == "siaran.ms.html" and file.media_type.startswith("text/html")
    before, after = lxml.html.document_fromstring(HTML_PAGE), lxml.html.document_fromstring(data.decode())
    assert skeleton(before) == skeleton(after)  # same elements, same attributes, same order
    out = data.decode()
    assert out.startswith("<!DOCTYPE html>") and after.get("lang") == "ms"
    for kept in SKIPPED:
        assert kept in out, kept
    assert "&lt;b&gt;bukan tag&lt;/b&gt;" in out  # entity-encoded markup stays text
    assert after.findtext(".//title") == "Bandar pintar di Indonesia"
    assert after.find(".//img").get("alt") == "Gambar bandar pintar"
    assert after.find(".//img").get("src") == "kota.png"
    p1 = after.get_element_by_id("p1")
    assert "menyampaikan bahawa" in p1.text_content()  # Malay
    # inline tags spanning a sentence boundary, nested, in place
    bold = p1.find("b")
    assert bold.text_content().startswith("Indonesia terpilih kembali.") and bold.find("i") is not None
    links = {a.get("href"): a for a in after.iter("a")}
    assert set(links) == {"https://kl.gov.my/acara", "https://asean.org/ascn", "https://www.kemendagri.go.id"}
    assert links["https://kl.gov.my/acara"].text == "Kuala Lumpur"
    # a term inside a link, and a link inside a term: the term is right and the link is there
    assert links["https://asean.org/ascn"].text == "Rangkaian Bandar pintar ASEAN"
    assert links["https://asean.org/ascn"].get("title") == "Rangkaian Bandar pintar ASEAN"
    assert "Kementerian Dalam Negeri" in p1.text_content() and links["https://www.kemendagri.go.id"].text
    assert file.terms.present == file.terms.found > 5
    assert not any(markers.has_markers(t) for t in after.itertext())


def test_html_fragment_and_the_v1_and_libretranslate_html_formats(pipeline: Pipeline, settings: Settings,
                                                                  tmp_path: Path) -> None:
    fragment = 'Kota cerdas <b>menjadi</b> <a href="https://asean.org">pusat</a> kegiatan.'
    data, _ = translate(pipeline, fragment.encode(), "x.html")
    assert data.decode() == 'Bandar pintar <b>menjadi</b> <a href="https://asean.org">pusat</a> kegiatan.'
    client = create_app(settings.replace(secret_key="d", data_dir=tmp_path), pipeline, warm="none").test_client()
    v1 = client.post("/v1/translate", json={"text": [fragment, "<p>Kota cerdas.</p>"], "source": "id",
                                            "targets": ["ms"], "format": "html"})
    assert v1.status_code == 200, v1.get_json()
    texts = [item["translations"][0]["text"] for item in v1.get_json()["items"]]
    assert texts == [data.decode(), "<p>Bandar pintar.</p>"]
    assert v1.get_json()["items"][0]["translations"][0]["glossary"]["terms_found"] == 1
    lt = client.post("/translate", data={"q": fragment, "source": "id", "target": "ms", "format": "html"})
    assert lt.status_code == 200 and lt.get_json()["translatedText"] == data.decode()
    bad = client.post("/v1/translate", json={"text": "<p>x</p>", "source": "id", "targets": ["ms"],
                                             "format": "html", "summary": {"sentences": 1}})
    assert bad.status_code == 422


# -- tags through engines that lose them --------------------------------------------------------------------
class DroppingEngine:
    """Translates by upper-casing and drops every placeholder: the worst engine for tags."""

    name, model, max_input_tokens = "dropper", "drops", 512

    def count_tokens(self, text: str, source: str, target: str = "") -> int:
        return len(text.split())

    def translate(self, segments, source, target, options: DecodeOptions):
        out = [re.sub(r"\s*ZXQ\d+\s*", " ", s).strip().upper() for s in segments]
        return [SegmentTranslation([Hypothesis(t)], 1, 1) for t in out]


def test_tags_lost_by_the_engine_are_put_back_and_flagged(settings: Settings) -> None:
    pipeline = Pipeline(settings.replace(default_glossaries=""), FixedRouter(DroppingEngine()))
    html = '<p>Saya <b>pergi</b> ke <a href="https://pasar.id">pasar besar</a> hari ini.</p>'
    result = translate_document(pipeline, html.encode(), "x.html", ["ms"], "id")
    file = result.files[0]
    out = lxml.html.fragment_fromstring(file.data.decode())
    assert out.find(".//a").get("href") == "https://pasar.id" and out.find(".//a").text  # never an empty link
    assert out.find(".//b").text and out.text_content().split() == "SAYA PERGI KE PASAR BESAR HARI INI.".split()
    assert [f["flag"] for f in file.flags] == ["tags_repaired"]


def test_decoding_fixes_duplicated_missing_and_crossed_tags() -> None:
    b = UnitBuilder()
    outer = b.open("b")
    b.text("satu ")
    inner = b.open("i")
    b.text("dua")
    b.close(inner, "/i")
    b.close(outer, "/b")
    b.empty("img")
    unit = b.unit()
    m = [markers.marker(i) for i in range(len(unit.tags))]
    crossed = f"{m[0]}one {m[1]}two{m[3]} three{m[2]}"  # </b> before </i>: the i is split
    tree = decode(crossed, unit.tags)
    tops = [n for n in tree if not isinstance(n, str)]
    assert [n.tag for n in tops] == [0, 1, 4] and tops[1].continued  # i closed with b, opened again; img put back
    again = decode(f"{m[0]}{m[0]}one two{m[3]}{m[4]}{m[4]}", unit.tags)  # duplicates dropped, i put back
    assert sum(1 for n in again if not isinstance(n, str) and n.tag == 4) == 1


# -- DOCX -----------------------------------------------------------------------------------------------------
def _hyperlink(paragraph, url: str, text: str) -> None:
    r_id = paragraph.part.relate_to(url, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                         "hyperlink", is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    rpr.append(style)
    run.append(rpr)
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def build_docx() -> bytes:
    d = docx.Document()
    d.add_heading("Indonesia terpilih kembali sebagai Shepherd ASCN", 1)
    p = d.add_paragraph("Kementerian Dalam Negeri menyampaikan bahwa ")
    p.add_run("Indonesia terpilih kembali").bold = True
    p.add_run(" sebagai Shepherd ")
    _hyperlink(p, "https://asean.org/ascn", "Jaringan Kota Cerdas ASEAN")
    p.add_run(". ")
    p.add_run("Ini pertemuan ke-8.").italic = True
    under = d.add_paragraph("Kota cerdas ")
    run = under.add_run("menjadi pusat")
    run.font.underline = WD_UNDERLINE.SINGLE
    run.font.name = "Arial"
    d.add_paragraph("Kota cerdas satu", style="List Bullet")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Kota"
    table.cell(0, 1).text = "Pertemuan ke-8 di Kuala Lumpur"
    table.cell(1, 0).text = "Negara"
    d.sections[0].header.paragraphs[0].text = "Siaran pers Kementerian Dalam Negeri"
    d.sections[0].footer.paragraphs[0].text = "Halaman satu"
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def formats(paragraph) -> list[tuple]:
    return [(r.bold, r.italic, r.underline, r.font.name, r.style.name if r.style else None)
            for r in paragraph.runs if r.text.strip()]


def test_docx_round_trip_keeps_runs_links_tables_headers(pipeline: Pipeline) -> None:
    source = build_docx()
    data, file = translate(pipeline, source, "siaran.docx")
    assert file.name == "siaran.ms.docx"
    before, after = docx.Document(io.BytesIO(source)), docx.Document(io.BytesIO(data))
    assert [p.style.name for p in before.paragraphs] == [p.style.name for p in after.paragraphs]
    for a, b in zip(before.paragraphs, after.paragraphs, strict=True):
        assert formats(a) == formats(b), b.text
    body = after.paragraphs[1]
    assert "menyampaikan bahawa" in body.text and "Rangkaian Bandar pintar ASEAN" in body.text
    assert [r.text for r in body.runs if r.bold] == ["Indonesia terpilih kembali"]
    links = body._p.findall(qn("w:hyperlink"))
    assert len(links) == 1 and links[0].get(qn("r:id")) == before.paragraphs[1]._p.find(qn("w:hyperlink")).get(
        qn("r:id"))
    assert "".join(t.text for t in links[0].iter(qn("w:t"))) == "Rangkaian Bandar pintar ASEAN"
    assert after.paragraphs[2].runs[-1].underline and after.paragraphs[2].runs[-1].font.name == "Arial"
    assert [c.text for c in after.tables[0]._cells] == ["Bandar", "Mesyuarat ke-8 di Kuala Lumpur", "Negara", ""]
    assert after.sections[0].header.paragraphs[0].text == "Siaran akhbar Kementerian Dalam Negeri"
    assert after.sections[0].footer.paragraphs[0].text == "Halaman satu"
    # every part but the translated ones is byte for byte the same (styles, numbering, settings, relationships)
    zin, zout = zipfile.ZipFile(io.BytesIO(source)), zipfile.ZipFile(io.BytesIO(data))
    changed = {n for n in zin.namelist() if zin.read(n) != zout.read(n)}
    assert changed <= {"word/document.xml", "word/header1.xml", "word/footer1.xml", "docProps/core.xml"}
    assert file.terms.present == file.terms.found > 3


# -- Markdown -------------------------------------------------------------------------------------------------
MARKDOWN = """---
title: Kota cerdas
tags: [kota, cerdas]
---
# Indonesia terpilih kembali sebagai Shepherd ASCN

> Kementerian Dalam Negeri menyampaikan bahwa **Indonesia terpilih
> kembali** sebagai Shepherd [Jaringan Kota Cerdas ASEAN](https://asean.org/ascn "Kota cerdas"). Ini baik.\\
> Pertemuan ke-8 di Kuala Lumpur.

```python
kota = "Kota cerdas"
```

    kode berindentasi Kota cerdas

| Kota | Negara |
|------|--------|
| Kota cerdas | `kota_cerdas` |

- Kota cerdas satu <b>dua</b>
- Lihat [tautan][ref] dan https://asean.org/ascn sekarang.

<div>Kota cerdas dalam HTML</div>

[ref]: https://example.org/kota-cerdas
"""


def test_markdown_changes_nothing_but_the_text(pipeline: Pipeline) -> None:
    data, file = translate(pipeline, MARKDOWN.encode(), "siaran.md")
    out = data.decode()
    kept = ["---\ntitle: Kota cerdas\ntags: [kota, cerdas]\n---\n", '```python\nkota = "Kota cerdas"\n```\n',
            "    kode berindentasi Kota cerdas\n", "|------|--------|\n", "`kota_cerdas`",
            "<div>Kota cerdas dalam HTML</div>\n", "[ref]: https://example.org/kota-cerdas\n",
            '(https://asean.org/ascn "Kota cerdas")', "<b>dua</b>", "https://asean.org/ascn sekarang"]
    for piece in kept:
        assert piece in out, piece
    assert "**Indonesia terpilih kembali**" in out.replace("\n> ", " ")
    assert "[Rangkaian Bandar pintar ASEAN]" in out and "| Bandar pintar |" in out
    assert out.count("\n") == MARKDOWN.count("\n")  # the same lines, blockquote marks and all
    assert [line[:2] for line in out.splitlines()] == [line[:2] for line in MARKDOWN.splitlines()]
    assert "\\\n> Mesyuarat ke-8" in out  # the hard break where it was
    assert file.terms.present == file.terms.found


# -- subtitles ------------------------------------------------------------------------------------------------
SRT = ("1\r\n00:00:01,000 --> 00:00:03,500\r\nKementerian Dalam Negeri menyampaikan\r\nbahwa Indonesia\r\n\r\n"
       "2\r\n00:00:03,600 --> 00:00:06,000\r\n<i>terpilih kembali</i> sebagai Shepherd.\r\n\r\n"
       "3\r\n00:00:06,100 --> 00:00:08,000\r\n{\\an8}Kota cerdas itu <b>baik\r\nsekali</b>.\r\n")
VTT = ("WEBVTT\n\nNOTE Kota cerdas\n\n00:01.000 --> 00:03.000 align:start\n<v Budi>Kota cerdas menjadi\n\n"
       "id2\n00:03.100 --> 00:05.000\npusat kegiatan.\n")


@pytest.mark.parametrize(("name", "text"), [("siaran.srt", SRT), ("siaran.vtt", VTT)])
def test_subtitles_keep_their_timings_and_cues(pipeline: Pipeline, name: str, text: str) -> None:
    data, _ = translate(pipeline, text.encode(), name)
    out = data.decode()
    timing = re.compile(r"^.*-->.*$|^\d+$|^WEBVTT$|^NOTE .*$|^id2$", re.M)
    assert timing.findall(out) == timing.findall(text)  # numbers, identifiers, timings, notes: as they were
    kind = "srt" if name.endswith(".srt") else "vtt"
    before = webvtt.WebVTT.from_buffer(io.StringIO(text), format=kind).captions
    after = webvtt.WebVTT.from_buffer(io.StringIO(out), format=kind).captions
    assert [(c.start, c.end) for c in before] == [(c.start, c.end) for c in after]
    assert "Bandar pintar" in out and ("\r\n" in out) == ("\r\n" in text)
    if kind == "srt":  # the sentence over cues 1-2 was translated whole and spread over the same two cues
        assert "bahawa" in after[0].text and after[1].text.startswith("terpilih kembali")
        cues = out.split("\r\n\r\n")
        assert "<i>terpilih kembali</i>" in cues[1] and "{\\an8}" in cues[2] and "<b>baik" in cues[2]


# -- XLIFF and PO --------------------------------------------------------------------------------------------
XLIFF12 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
  <file source-language="id" target-language="en" datatype="plaintext" original="siaran.txt">
    <body>
      <trans-unit id="1"><source>Pertemuan <g id="1">tahunan</g> di <x id="2"/> Kuala Lumpur.</source></trans-unit>
      <trans-unit id="2" approved="yes"><source>Saya pergi.</source>
        <target state="final">Aku pergi.</target></trans-unit>
      <trans-unit id="3" translate="no"><source>Kota cerdas</source></trans-unit>
      <trans-unit id="4"><source>Jaringan Kota Cerdas ASEAN.</source><target state="new"/></trans-unit>
    </body>
  </file>
</xliff>
"""
XLIFF20 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="id">
 <file id="f1">
  <unit id="u1"><segment>
    <source>Pertemuan <pc id="1">tahunan</pc> di <ph id="2"/> Kuala Lumpur.</source></segment></unit>
  <unit id="u2"><segment state="final"><source>Saya pergi.</source><target>Aku pergi.</target></segment></unit>
 </file>
</xliff>
"""


def test_xliff_targets_are_filled_for_a_cat_tool(pipeline: Pipeline) -> None:
    data, _ = translate(pipeline, XLIFF12.encode(), "siaran.xlf", source="auto")  # the file says id
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    root = etree.fromstring(data)
    units = {u.get("id"): u for u in root.iterfind(".//x:trans-unit", ns)}
    assert list(units) == ["1", "2", "3", "4"] and root.find("x:file", ns).get("target-language") == "ms"
    first = units["1"].find("x:target", ns)
    assert first.get("state") == "needs-review-translation" and first.get("state-qualifier") == "mt-suggestion"
    assert [c.tag.split("}")[1] for c in first] == ["g", "x"] and first.find("x:g", ns).get("id") == "1"
    assert "Mesyuarat" in "".join(first.itertext())
    assert units["2"].find("x:target", ns).text == "Aku pergi." and units["3"].find("x:target", ns) is None
    assert "".join(units["4"].find("x:target", ns).itertext()) == "Rangkaian Bandar pintar ASEAN."
    # the sources are untouched
    assert [etree.tostring(s) for s in etree.fromstring(XLIFF12.encode()).iterfind(".//x:source", ns)] == [
        etree.tostring(s) for s in root.iterfind(".//x:source", ns)]
    data2, _ = translate(pipeline, XLIFF20.encode(), "siaran.xlf")
    root2 = etree.fromstring(data2)
    ns2 = {"x": "urn:oasis:names:tc:xliff:document:2.0"}
    seg = root2.find(".//x:unit[@id='u1']/x:segment", ns2)
    assert seg.get("state") == "translated" and root2.get("trgLang") == "ms"
    assert [c.tag.split("}")[1] for c in seg.find("x:target", ns2)] == ["pc", "ph"]
    assert root2.find(".//x:unit[@id='u2']//x:target", ns2).text == "Aku pergi."


def test_po_untranslated_entries_filled_and_marked_fuzzy(pipeline: Pipeline) -> None:
    import polib

    po = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: en\\n"\n\n'
          '#: a.py:1\nmsgid "Kota cerdas %(kota)s menjadi pusat."\nmsgstr ""\n\n'
          'msgid "Saya pergi."\nmsgstr "Aku pergi."\n\n'
          'msgid "%d kota cerdas"\nmsgid_plural "%d kota cerdas"\nmsgstr[0] ""\nmsgstr[1] ""\n')
    data, _ = translate(pipeline, po.encode(), "app.po")
    out = polib.pofile(data.decode())
    first = out.find("Kota cerdas %(kota)s menjadi pusat.")
    assert first.msgstr == "Bandar pintar %(kota)s menjadi pusat." and "fuzzy" in first.flags
    assert first.occurrences == [("a.py", "1")]
    assert out.find("Saya pergi.").msgstr == "Aku pergi." and "fuzzy" not in out.find("Saya pergi.").flags
    assert out.find("%d kota cerdas").msgstr_plural[0] == "%d bandar pintar"
    assert out.metadata["Language"] == "ms"


# -- PDF ------------------------------------------------------------------------------------------------------
def make_pdf(pages: list[list[str]]) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                                                NameObject("/Subtype"): NameObject("/Type1"),
                                                NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        ops += [f"({line}) Tj T*" for line in lines] + ["ET"]
        stream = StreamObject()
        stream.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): font})})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_in_comes_out_as_word_or_text_saying_the_layout_is_not_kept(pipeline: Pipeline) -> None:
    pdf = make_pdf([["Kota cerdas menjadi pusat kegiatan ekonomi dan sosial yang",
                     "penting bagi masyarakat Indonesia pada masa kini."], ["Pertemuan tahunan di Kuala Lumpur."]])
    result = translate_document(pipeline, pdf, "siaran.pdf", ["ms"], "id")
    file = result.files[0]
    assert file.name == "siaran.ms.docx" and "layout is not kept" in result.note
    paragraphs = [p.text for p in docx.Document(io.BytesIO(file.data)).paragraphs]
    assert paragraphs[0].startswith("Bandar pintar menjadi pusat kegiatan") and "masa kini" in paragraphs[0]
    assert paragraphs[1] == "Mesyuarat tahunan di Kuala Lumpur."
    text = translate_document(pipeline, pdf, "siaran.pdf", ["ms"], "id", pdf_output="txt").files[0]
    assert text.name == "siaran.ms.txt" and text.data.decode().startswith("Bandar pintar")


# -- safety and limits ------------------------------------------------------------------------------------------
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file source-language="id" datatype="x"
original="x"><body><trans-unit id="1"><source>&lol3;</source></trans-unit></body></file></xliff>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file source-language="id" datatype="x"
original="x"><body><trans-unit id="1"><source>&xxe;</source></trans-unit></body></file></xliff>"""


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("word/document.xml", b"\0" * (50 * 1024 * 1024))  # 50 MB of zeros in ~50 KB
    return out.getvalue()


def test_unsafe_and_malformed_files_are_refused_with_one_sentence(pipeline: Pipeline, settings: Settings) -> None:
    small = Pipeline(settings.replace(max_zip_bytes=10 * 1024 * 1024), pipeline.router)
    cases = [("laughs.xlf", BILLION_LAUGHS, DocumentInvalid, "DTD"), ("xxe.xlf", EXTERNAL, DocumentInvalid, "DTD"),
             ("laughs.html", b'<!DOCTYPE html [<!ENTITY a "aaaa">]><p>&a;&a;</p>', DocumentInvalid, "entities"),
             ("bomb.docx", zip_bomb(), InputTooLarge, "max_zip_bytes"),
             ("broken.docx", b"PK\x03\x04 not really a zip", DocumentInvalid, "not a valid Word file"),
             ("plain.docx", b"just text", DocumentInvalid, "not a valid Word file"),
             ("notword.docx", _zip({"[Content_Types].xml": b"<Types/>"}), DocumentInvalid, "not a Word document"),
             ("broken.xlf", b"<xliff><unclosed>", DocumentInvalid, "well-formed"),
             ("other.xlf", b"<root/>", DocumentInvalid, "not XLIFF"),
             ("broken.pdf", b"%PDF-1.4 nothing", DocumentInvalid, "PDF"),
             ("broken.srt", b"1\nnot a timing\nhello\n", DocumentInvalid, "subtitle"),
             ("latin1.html", "<p>Caf\xe9</p>".encode("latin-1"), DocumentInvalid, "UTF-8"),
             ("program.exe", b"MZ\x90", InvalidInput, "not supported"),
             ("empty.html", b"<p>   </p>", InvalidInput, "no text")]
    for name, data, error, says in cases:
        with pytest.raises(error) as caught:
            translate_document(small, data, name, ["ms"], "id")
        assert says in caught.value.message and caught.value.message.count(". ") <= 1, (name, caught.value.message)


def test_document_limits_are_settings(pipeline: Pipeline, settings: Settings) -> None:
    def tiny(**limits) -> Pipeline:
        return Pipeline(settings.replace(**limits), pipeline.router)

    page = HTML_PAGE.encode()
    for limits, says in (({"max_document_bytes": 100}, "max_document_bytes"),
                         ({"max_document_units": 3}, "max_document_units"),
                         ({"max_document_chars": 50}, "max_document_chars"),
                         ({"max_zip_entries": 3}, "max_zip_entries")):
        data, name = (build_docx(), "a.docx") if "zip" in next(iter(limits)) else (page, "a.html")
        with pytest.raises(InputTooLarge) as caught:
            translate_document(tiny(**limits), data, name, ["ms"], "id")
        assert says in caught.value.message
    with pytest.raises(InputTooLarge, match="max_document_pages"):
        translate_document(tiny(max_document_pages=1), make_pdf([["Satu."], ["Dua."]]), "a.pdf", ["ms"], "id")


# -- front ends ----------------------------------------------------------------------------------------------
@pytest.fixture
def doc_client(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> FlaskClient:
    s = settings.replace(secret_key="docs", max_document_wait_s=5.0, max_zip_bytes=10 * 1024 * 1024)
    return create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path)).test_client()


def test_v1_documents_upload_status_download_and_wait(doc_client: FlaskClient) -> None:
    source = build_docx()
    r = doc_client.post("/v1/documents", data={"file": (io.BytesIO(source), "siaran.docx"), "source": "id",
                                               "targets": "ms,en"}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    status = r.get_json()
    assert status["state"] == "completed" and status["document"] == {"name": "siaran.docx", "format": "docx"}
    assert status["files"]["ms"]["state"] == "done" and status["files"]["ms"]["name"] == "siaran.ms.docx"
    assert status["files"]["ms"]["glossary"]["compliance"] == 1.0 and status["per_target"]["ms"]["done"] == 1
    got = doc_client.get(status["files"]["ms"]["url"])
    assert got.status_code == 200 and got.mimetype == ("application/vnd.openxmlformats-officedocument."
                                                       "wordprocessingml.document")
    assert 'filename="siaran.ms.docx"' in got.headers["Content-Disposition"]
    assert "attachment" in got.headers["Content-Disposition"]
    assert "Bandar" in [c.text for c in docx.Document(io.BytesIO(got.data)).tables[0]._cells]
    assert doc_client.get(f"/v1/documents/{status['id']}").get_json()["state"] == "completed"
    assert doc_client.get(f"/v1/documents/{status['id']}/th").status_code == 404
    # a small document comes back in the same request
    waited = doc_client.post("/v1/documents?wait=5", data={"file": (io.BytesIO(HTML_PAGE.encode()), "a.html"),
                                                           "targets": "ms", "source": "id"})
    assert waited.status_code == 200 and waited.mimetype == "text/html"
    assert "attachment" in waited.headers["Content-Disposition"] and b'lang="ms"' in waited.data
    bad = doc_client.post("/v1/documents", data={"file": (io.BytesIO(BILLION_LAUGHS), "a.xlf"), "targets": "ms"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "document_invalid"
    assert doc_client.post("/v1/documents", data={"targets": "ms"}, content_type="multipart/form-data"
                           ).status_code == 400
    bomb = doc_client.post("/v1/documents", data={"file": (io.BytesIO(zip_bomb()), "a.docx"), "targets": "ms"})
    assert bomb.status_code == 413 and bomb.get_json()["setting"] == "max_zip_bytes"


def test_libretranslate_translate_file_and_frontend_settings(doc_client: FlaskClient) -> None:
    settings = doc_client.get("/frontend/settings").get_json()
    assert settings["filesTranslation"] is True and ".docx" in settings["supportedFilesFormat"]
    assert {"charLimit", "apiKeys", "keyRequired", "suggestions", "language", "frontendTimeout"} <= set(settings)
    r = doc_client.post("/translate_file", data={"file": (io.BytesIO(MARKDOWN.encode()), "siaran.md"),
                                                 "source": "id", "target": "ms"})
    assert r.status_code == 200, r.get_json()
    url = r.get_json()["translatedFileUrl"]
    download = doc_client.get(url[url.index("/download_file"):])
    assert download.status_code == 200 and b"Rangkaian Bandar pintar ASEAN" in download.data
    missing = doc_client.post("/translate_file", data={"file": (io.BytesIO(b"x"), "a.md"), "target": "ms"})
    assert missing.status_code == 400 and missing.get_json()["error"] == "Invalid request: missing source parameter"
    exe = doc_client.post("/translate_file", data={"file": (io.BytesIO(b"MZ"), "a.exe"), "source": "id",
                                                   "target": "ms"})
    assert exe.status_code == 400


def test_web_form_uploads_a_document_and_offers_the_download(doc_client: FlaskClient) -> None:
    page = doc_client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = doc_client.post("/", data={"csrf_token": token, "file": (io.BytesIO(HTML_PAGE.encode()), "siaran.html"),
                                   "source": "id", "targets": ["ms"], "glossary": "asean-smart-cities",
                                   "summary": "on", "sentences": "1"}, content_type="multipart/form-data")
    assert r.status_code == 303 and "/documents/" in r.headers["Location"]
    shown = doc_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "siaran.ms.html" in shown and "terms right" in shown and "Summary" in shown
    assert "<b>Indonesia" not in shown  # the uploaded page is never rendered, only offered as a download
    link = re.search(r'href="(/documents/[^"]+/ms)"', shown).group(1)
    got = doc_client.get(link)
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    assert got.headers["Content-Security-Policy"].startswith("sandbox")


def test_documents_belong_to_the_key_that_sent_them(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> None:
    from service.keys import add_key

    path = tmp_path / "keys"
    alice, bob = add_key(path, "alice")[0], add_key(path, "bob")[0]
    s = settings.replace(secret_key="k", api_keys_file=str(path), require_api_key=True, api_keys_reload_s=0.0)
    client = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path)).test_client()
    sent = client.post("/v1/documents", data={"file": (io.BytesIO(b"<p>Kota cerdas.</p>"), "a.html"),
                                              "targets": "ms", "source": "id"},
                       headers={"Authorization": f"Bearer {alice}"})
    doc = sent.get_json()["id"]
    for url in (f"/v1/documents/{doc}", f"/v1/documents/{doc}/ms"):
        assert client.get(url, headers={"Authorization": f"Bearer {bob}"}).status_code == 404
        assert client.get(url, headers={"Authorization": f"Bearer {alice}"}).status_code == 200


def test_a_version_2_job_store_gets_document_jobs(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, func, select, text

    from service.jobs.store import SCHEMA_VERSION, SchemaInfo

    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    JobStore(url).ping()
    engine = create_engine(url)
    with engine.begin() as conn:  # as version 2 left it
        conn.execute(text("DROP TABLE job_files"))
        conn.execute(text("ALTER TABLE job_results DROP COLUMN file"))
        conn.execute(text("UPDATE schema_info SET version = 2"))
    engine.dispose()
    store = JobStore(url)
    store.ping()
    with store.sessions() as s:
        assert s.scalar(select(func.max(SchemaInfo.version))) == SCHEMA_VERSION == 3
    from sqlalchemy import inspect

    assert "file" in {c["name"] for c in inspect(store.engine).get_columns("job_results")}
    assert "job_files" in inspect(store.engine).get_table_names()


def test_cli_translates_documents_into_the_out_folder(tmp_path: Path) -> None:
    source = tmp_path / "siaran.id.docx"
    source.write_bytes(build_docx())
    (tmp_path / "halaman.html").write_text(HTML_PAGE, encoding="utf-8")
    env = {"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "ASEAN_MT_MODELS_DIR": str(tmp_path / "models"), "ASEAN_MT_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run([sys.executable, "-m", "service", "translate", str(source), "--from", "id", "--to", "ms",
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "terms right" in run.stderr and "wrote" in run.stderr
    assert "Bandar" in [c.text for c in docx.Document(tmp_path / "out" / "siaran.ms.docx").tables[0]._cells]
    html = subprocess.run([sys.executable, "-m", "service", "translate", str(tmp_path / "halaman.html"), "--from",
                           "id", "--to", "ms", "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert html.returncode == 0 and '<html lang="ms">' in html.stdout
    binary = subprocess.run([sys.executable, "-m", "service", "translate", str(source), "--to", "ms"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert binary.returncode == 2 and "--out" in binary.stderr


def test_the_example_article_as_a_web_page_and_a_word_file(pipeline: Pipeline) -> None:
    for name in ("ascn-shepherd-2025.id.html", "ascn-shepherd-2025.id.docx"):
        data = (REPO / "examples" / name).read_bytes()
        result = translate_document(pipeline, data, name, ["ms"], "id")
        file = result.files[0]
        assert file.ok and file.terms.present == file.terms.found > 50, name
        assert "Mesyuarat Tahunan ASCN ke-8" in file.text and "bandar pintar" in file.text
    assert SEED.exists()
    json.dumps(result.to_dict())
