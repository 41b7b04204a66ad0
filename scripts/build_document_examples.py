"""Build the example article as a web page and a Word file (examples/ascn-shepherd-2025.id.{html,docx}) from
examples/ascn-shepherd-2025.id.txt: a headline, paragraphs, links on names, bold and italic words, a table of the
pilot cities, a header and a footer. Run again after the article changes: python scripts/build_document_examples.py
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SOURCE = EXAMPLES / "ascn-shepherd-2025.id.txt"
#: words marked up in the article: (text, kind, target) with kind "link", "b" or "i"
MARKUP = [("ASEAN Smart City Network (ASCN)", "link", "https://asean.org/our-communities/asean-smart-cities-network/"),
          ("Kementerian Dalam Negeri", "link", "https://www.kemendagri.go.id"),
          ("Indonesia kembali dipilih", "b", None), ("Asta Cita", "i", None), ("Kota Banyuwangi", "b", None),
          ("Sekretariat ASEAN", "link", "https://asean.org")]
CITIES = [("Kota", "Layanan"), ("Jakarta", "aplikasi JAKI dan integrasi transportasi Jaklingko"),
          ("Makasar", "layanan telemedicine dan Smart E-Tax"),
          ("Banyuwangi", "Jagoan Banyuwangi dan Mal Pelayanan Publik Digital"),
          ("Sumedang", "Village E-Office SuperApp")]


def paragraphs() -> tuple[str, list[str]]:
    text = SOURCE.read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return blocks[0], blocks[1:]


def pieces(paragraph: str) -> list[tuple[str, str | None, str | None]]:
    """The paragraph as (text, kind, target) pieces, marking the first occurrence of each MARKUP phrase."""
    out: list[tuple[str, str | None, str | None]] = [(paragraph, None, None)]
    for phrase, kind, target in MARKUP:
        for i, (text, k, _) in enumerate(out):
            if k is None and phrase in text:
                before, _, after = text.partition(phrase)
                out[i:i + 1] = [p for p in ((before, None, None), (phrase, kind, target), (after, None, None)) if p[0]]
                break
    return out


def build_html() -> str:
    title, body = paragraphs()
    parts = []
    for n, paragraph in enumerate(body):
        inner = "".join(html.escape(t) if k is None else f'<a href="{target}">{html.escape(t)}</a>' if k == "link"
                        else f"<{k}>{html.escape(t)}</{k}>" for t, k, target in pieces(paragraph))
        parts.append(f"    <p>{inner}</p>")
        if n == 2:
            rows = "\n".join(f"      <tr><{'th' if i == 0 else 'td'}>{html.escape(a)}</{'th' if i == 0 else 'td'}>"
                             f"<{'th' if i == 0 else 'td'}>{html.escape(b)}</{'th' if i == 0 else 'td'}></tr>"
                             for i, (a, b) in enumerate(CITIES))
            parts.append(f"    <table>\n{rows}\n    </table>")
    return ("<!DOCTYPE html>\n<html lang=\"id\">\n<head>\n  <meta charset=\"utf-8\">\n"
            f"  <title>{html.escape(title)}</title>\n"
            "  <meta name=\"description\" content=\"Indonesia kembali terpilih sebagai Shepherd ASCN.\">\n"
            "  <style>body { font-family: sans-serif; max-width: 40em; }</style>\n</head>\n<body>\n  <article>\n"
            f"    <h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n  </article>\n"
            "  <footer><p>Sumber: <a href=\"https://www.kemendagri.go.id\">Kementerian Dalam Negeri</a></p></footer>\n"
            "</body>\n</html>\n")


def _link(paragraph, url: str, text: str) -> None:
    r_id = paragraph.part.relate_to(url, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                         "hyperlink", is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    colour = OxmlElement("w:color")
    colour.set(qn("w:val"), "0563C1")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.extend([colour, underline])
    run.append(props)
    t = OxmlElement("w:t")
    t.text = text
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def build_docx(path: Path) -> None:
    title, body = paragraphs()
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Siaran Pers Kementerian Dalam Negeri"
    document.sections[0].footer.paragraphs[0].text = "Pusat Penerangan Kementerian Dalam Negeri"
    document.add_heading(title, 1)
    for n, paragraph in enumerate(body):
        p = document.add_paragraph()
        for text, kind, target in pieces(paragraph):
            if kind == "link":
                _link(p, target, text)
            else:
                run = p.add_run(text)
                run.bold = kind == "b" or None
                run.italic = kind == "i" or None
        if n == 2:
            table = document.add_table(rows=len(CITIES), cols=2)
            table.style = "Table Grid"
            for i, (a, b) in enumerate(CITIES):
                table.cell(i, 0).text, table.cell(i, 1).text = a, b
                if i == 0:
                    for cell in table.rows[0].cells:
                        cell.paragraphs[0].runs[0].bold = True
    document.core_properties.language = "id"
    document.save(path)


if __name__ == "__main__":
    (EXAMPLES / "ascn-shepherd-2025.id.html").write_text(build_html(), encoding="utf-8")
    build_docx(EXAMPLES / "ascn-shepherd-2025.id.docx")
    print("wrote", EXAMPLES / "ascn-shepherd-2025.id.html", EXAMPLES / "ascn-shepherd-2025.id.docx")
