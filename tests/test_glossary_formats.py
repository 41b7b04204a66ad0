"""Glossary files in every format people have: TBX (v3 and v2, statuses, notes), XLSX, CSV; exports that read
back the same; XML attacks refused; every problem with its place; `glossary check` on each format."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from service import cli
from service.config import Settings
from service.pipeline import Pipeline, TranslationRequest
from service.terminology import formats
from service.terminology.glossary import load_glossary
from service.terminology.store import entry_data
from tests.conftest import REPO
from tests.fakes import FixedRouter, ScriptedEngine

SMART_CITIES = REPO / "glossary" / "asean-smart-cities.csv"

TBX3 = """<?xml version="1.0" encoding="UTF-8"?>
<tbx style="dca" type="TBX-Basic" xml:lang="en" xmlns="urn:iso:std:iso:30042:ed-2">
<tbxHeader><fileDesc><sourceDesc><p>test</p></sourceDesc></fileDesc></tbxHeader>
<text><body>
<conceptEntry id="c1">
  <descrip type="subjectField">urban planning</descrip>
  <langSec xml:lang="id">
    <termSec><term>kota pintar</term><termNote type="administrativeStatus">admittedTerm-admn-sts</termNote></termSec>
    <termSec><term>kota cerdas</term><termNote type="partOfSpeech">noun</termNote>
      <termNote type="administrativeStatus">preferredTerm-admn-sts</termNote></termSec>
    <termSec><term>kota sakti</term><termNote type="administrativeStatus">deprecatedTerm-admn-sts</termNote></termSec>
  </langSec>
  <langSec xml:lang="ms">
    <termSec><term>bandar bijak</term><termNote type="administrativeStatus">deprecatedTerm-admn-sts</termNote></termSec>
    <termSec><term>bandar pintar</term></termSec>
  </langSec>
</conceptEntry>
<conceptEntry id="c2">
  <descrip type="doNotTranslate">yes</descrip><descrip type="caseSensitive">yes</descrip>
  <note>acronym</note>
  <langSec xml:lang="id"><termSec><term>ASCN</term></termSec></langSec>
</conceptEntry>
</body></text></tbx>
"""

TBX2 = """<?xml version="1.0"?>
<!DOCTYPE martif SYSTEM "TBXcoreStructV02.dtd">
<martif type="TBX-Basic" xml:lang="en"><martifHeader><fileDesc><sourceDesc><p>v2</p></sourceDesc></fileDesc>
</martifHeader><text><body>
<termEntry id="t1"><langSet xml:lang="ind"><tig><term>Kementerian Dalam Negeri</term>
<termNote type="administrativeStatus">preferredTerm-admn-sts</termNote></tig>
<ntig><termGrp><term>Depdagri</term><termNote type="administrativeStatus">supersededTerm-admn-sts</termNote>
</termGrp></ntig></langSet>
<langSet xml:lang="en"><tig><term>Ministry of Home Affairs</term></tig></langSet></termEntry>
</body></text></martif>
"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE tbx [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<tbx><text><body><conceptEntry><langSec xml:lang="id"><termSec><term>&lol3;</term></termSec></langSec>
</conceptEntry></body></text></tbx>
"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE tbx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<tbx><text><body><conceptEntry><langSec xml:lang="id"><termSec><term>&secret;</term></termSec></langSec>
</conceptEntry></body></text></tbx>
"""


def read(text: str | bytes, name: str):
    return formats.read_glossary(text.encode("utf-8") if isinstance(text, str) else text, name)


def test_tbx3_statuses_notes_and_flags() -> None:
    g, problems = read(TBX3, "city.tbx")
    assert problems == [] and g.languages == ("id", "ms") and len(g.entries) == 2
    city, ascn = g.entries
    assert city.forms == {"id": ("kota cerdas", "kota pintar"), "ms": ("bandar pintar",)}  # preferred first
    assert city.deprecated == {"id": ("kota sakti",), "ms": ("bandar bijak",)}
    assert city.info["descrip"] == {"subjectField": "urban planning"} and city.origin == "city.tbx:5"
    assert city.info["terms"]["id"]["kota cerdas"]["partOfSpeech"] == "noun"
    assert (ascn.dnt, ascn.case_sensitive, ascn.note) == (True, True, "acronym")


def test_tbx2_martif_tig_and_ntig_with_a_dtd_reference() -> None:
    g, problems = read(TBX2, "v2.tbx")
    assert problems == []
    (e,) = g.entries
    assert e.forms == {"id": ("Kementerian Dalam Negeri",), "en": ("Ministry of Home Affairs",)}
    assert e.deprecated == {"id": ("Depdagri",)}


def test_deprecated_forms_are_matched_in_the_source_but_never_produced(tmp_path: Path) -> None:
    (tmp_path / "city.tbx").write_text(TBX3, encoding="utf-8")
    engine = ScriptedEngine(lambda s: [s])
    p = Pipeline(Settings(glossary_dir=tmp_path, default_glossaries="city", data_dir=tmp_path),
                 FixedRouter(engine))
    ms = p.translate(TranslationRequest("kota sakti dan kota pintar", ["ms"], "id")).results[0]
    assert ms.text == "bandar pintar dan bandar pintar"  # never "bandar bijak", never "kota sakti"
    assert [c.source for c in ms.terms.checks] == ["kota sakti", "kota pintar"]
    assert ms.terms.versions == {"city": formats.read_glossary(TBX3.encode(), "city.tbx")[0].version}


@pytest.mark.parametrize(("text", "expected"), [
    (LAUGHS, "bad.tbx:2: the file declares XML entities"),
    (EXTERNAL, "bad.tbx:2: the file declares XML entities"),
    ("<tbx><text><body><conceptEntry>\n<langSec xml:lang='id'><termSec><term>a</term></termSec>\n</tbx>",
     "bad.tbx:3: the XML is not well-formed (mismatched tag"),
    ("<html><body/></html>", "bad.tbx:1: not a TBX file: its root element is <html>"),
    ("<tbx><text><body>\n<conceptEntry><langSec xml:lang='xx'><termSec><term>a</term></termSec></langSec>"
     "</conceptEntry></body></text></tbx>", "bad.tbx:2: unknown language 'xx'"),
    ("<tbx><text><body>\n<conceptEntry><langSec xml:lang='id'><termSec><term> </term></termSec></langSec>"
     "</conceptEntry></body></text></tbx>", "bad.tbx:2: empty term (id)"),
    ("<tbx><text><body>\n<conceptEntry><langSec xml:lang='id'><termSec><term>kota</term></termSec></langSec>"
     "</conceptEntry>\n<conceptEntry><langSec xml:lang='id'><termSec><term>Kota</term></termSec></langSec>"
     "</conceptEntry></body></text></tbx>", "bad.tbx:3: duplicate source term 'Kota' (id), already in the entry on "
                                            "line 2"),
    ("<tbx><text><body></body></text></tbx>", "bad.tbx:1: no entries"),
    ("<tbx><text><body>\n<conceptEntry><langSec xml:lang='id'><termSec><term>kota</term><termNote "
     "type='administrativeStatus'>bestTerm</termNote></termSec></langSec></conceptEntry></body></text></tbx>",
     "bad.tbx:2: unknown administrative status 'bestterm'"),
])
def test_bad_tbx_files_say_where_and_what(text: str, expected: str) -> None:
    g, problems = read(text, "bad.tbx")
    assert problems and problems[0].startswith(expected), problems
    assert "lollol" not in str(g) and "root:" not in str(g)  # nothing expanded, nothing read from the disk


def xlsx(rows: list[list[object]], sheet: str = "Terms") -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_reads_like_csv_and_problems_name_sheet_and_row() -> None:
    g, problems = read(xlsx([["id", "en", "dnt", "case"], ["kota cerdas|kota pintar", "smart city", None, None],
                             ["KBRI", "Indonesian Embassy", "", "sensitive"], [None, None], [2025, "2025", "yes", ""]]),
                       "terms.xlsx")
    assert problems == [] and [e.forms["id"] for e in g.entries] == [("kota cerdas", "kota pintar"), ("KBRI",),
                                                                      ("2025",)]
    assert g.entries[1].case_sensitive and g.entries[2].dnt and g.entries[0].origin == "terms.xlsx:Terms:2"
    _, problems = read(xlsx([["id", "en"], ["kota", "city"], ["Kota", "town"], ["", "x"], ["a", "b", "c"]]), "t.xlsx")
    assert problems == ["t.xlsx:Terms:3: duplicate source variant 'Kota' (id), already on line 2",
                        "t.xlsx:Terms:4: empty term: no form in the first language column 'id'",
                        "t.xlsx:Terms:5: 3 cells but the header has 2 columns"]
    _, problems = read(xlsx([["term", "translation"], ["kota", "city"]]), "t.xlsx")
    assert problems[0].startswith("t.xlsx:Terms:1: unknown language columns 'term', 'translation'")
    assert read(xlsx([]), "t.xlsx")[1] == ["t.xlsx:Terms:1: the sheet has no rows"]
    assert read(b"PK\x03\x04 not really a zip", "t.xlsx")[1][0].startswith("t.xlsx:1: not an XLSX workbook")
    assert read(b"\xff\xfe\x00bad", "t.csv")[1] == ["t.csv:1: not UTF-8 text: save the file as UTF-8"]
    assert read(b"id,en\n", "t.csv")[0].entries == ()  # a header alone: zero entries (refused when uploaded)


def test_exports_read_back_the_same_entries() -> None:
    original = load_glossary(SMART_CITIES)
    for fmt in formats.FORMATS:
        data, _, suffix = formats.export(original, fmt)
        again, problems = formats.read_glossary(data, "again" + suffix)
        assert problems == [], (fmt, problems[:3])
        assert [entry_data(e) for e in again.entries] == [entry_data(e) | ({"info": {"id": f"c{n}"}} if fmt == "tbx"
                                                          else {}) for n, e in enumerate(original.entries, 1)], fmt
    tbx, _ = read(TBX3, "city.tbx")
    for fmt in formats.FORMATS:
        data, _, suffix = formats.export(tbx, fmt)
        again, problems = formats.read_glossary(data, "again" + suffix)
        assert problems == [] and [e.deprecated for e in again.entries] == [e.deprecated for e in tbx.entries]
        if fmt == "tbx":  # notes and statuses travel in TBX
            assert [entry_data(e) for e in again.entries] == [entry_data(e) for e in tbx.entries]


def test_glossary_check_works_on_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.tbx").write_text(TBX3, encoding="utf-8")
    (tmp_path / "good.xlsx").write_bytes(xlsx([["id", "en"], ["kota", "city"]]))
    (tmp_path / "bad.tbx").write_text(LAUGHS, encoding="utf-8")
    (tmp_path / "bad.xlsx").write_bytes(xlsx([["id", "en"], ["kota", "city"], ["KOTA", "town"]], "Sheet1"))
    for name in ("good.tbx", "good.xlsx"):
        assert cli.main(["glossary", "check", str(tmp_path / name)]) == 0
        assert "no problems" in capsys.readouterr().out
    assert cli.main(["glossary", "check", str(tmp_path / "bad.tbx")]) == 6
    assert capsys.readouterr().out.startswith("bad.tbx:2: the file declares XML entities")
    assert cli.main(["glossary", "check", str(tmp_path / "bad.xlsx")]) == 6
    assert capsys.readouterr().out.startswith("bad.xlsx:Sheet1:3: duplicate source variant 'KOTA'")
