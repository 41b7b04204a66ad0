"""Word files (python-docx), checked as ZIPs first (parts, unpacked size, no DTDs).

Every paragraph of the body, tables (nested too), headers and footers, footnotes and text boxes is a unit: all
``w:p`` elements of the document's XML parts. Inside a paragraph, run formatting travels as tags: the formatting
most of the paragraph's text has is the paragraph's own, and runs formatted otherwise (bold, italic, underline,
a font, a colour...) are tags around their words; hyperlinks, insertions and simple fields are tags too. Whatever
is not text (pictures, tabs, breaks, fields' codes, bookmarks, footnote references, math) stays whole, as a tag
that stands alone. Paragraph properties, styles, numbering, section and page layout, pictures and every other
part are not touched; spell-check marks (``w:proofErr``) and layout caches (``w:lastRenderedPageBreak``) are
dropped (Word recomputes them). Macros and embedded objects are never run or read (python-docx also refuses
macro-enabled files).
"""

from __future__ import annotations

import copy
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from service.documents.base import DocumentInvalid, Limits, open_zip, refuse_dtd
from service.documents.inline import EMPTY, Empty, Literal, Node, Unit, UnitBuilder, decode

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


P, R, T, RPR, PPR = w("p"), w("r"), w("t"), w("rPr"), w("pPr")
#: paragraph children that hold runs: tags around their content
CONTAINERS = frozenset({w("hyperlink"), w("ins"), w("smartTag"), w("fldSimple"), w("customXml"), w("moveTo")})
#: dropped: Word recomputes them
DROPPED = frozenset({w("proofErr"), w("lastRenderedPageBreak")})
#: parts whose paragraphs are translated
PART_TYPES = frozenset(f"application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}+xml" for kind in (
    "document.main", "header", "footer", "footnotes", "endnotes", "comments"))


@dataclass
class Format:
    """Run properties (None: none) around some words."""

    rpr: Any


@dataclass
class Container:
    element: Any


@dataclass
class Piece:
    """A run's non-text child (picture, tab, break, field code...), written back in a run of its own."""

    rpr: Any
    child: Any


def _key(rpr: Any) -> bytes:
    return b"" if rpr is None else etree.tostring(rpr)


def _texts(container: Any) -> list[tuple[Any, str]]:
    """(rPr, text) of the runs of a paragraph or container, in order (not entering text boxes)."""
    out = []
    for child in container:
        if child.tag == R:
            rpr = child.find(RPR)
            out += [(rpr, t.text or "") for t in child if t.tag == T]
        elif child.tag in CONTAINERS:
            out += _texts(child)
    return out


@dataclass
class DocxDocument:
    data: bytes
    limits: Limits
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        archive = open_zip(self.data, "The Word file", self.limits)
        try:
            for info in archive.infolist():
                if info.filename.lower().endswith((".xml", ".rels")):
                    refuse_dtd(archive.read(info), "The Word file")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):  # also a corrupt deflate stream
            raise DocumentInvalid("The Word file is damaged: one of its parts cannot be unpacked.") from None
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        try:
            self.document = docx.Document(io.BytesIO(self.data))
        except (PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError, zipfile.BadZipFile, OSError,
                AttributeError, TypeError, IndexError):  # python-docx on a package that is not a Word document
            raise DocumentInvalid("The file is not a Word document that can be read (.docx; macro-enabled .docm "
                                  "files are not accepted).") from None
        for part in self.document.part.package.iter_parts():
            if part.content_type in PART_TYPES and hasattr(part, "element"):
                for p in list(part.element.iter(P)):
                    unit = self._paragraph(p)
                    if unit is not None:
                        self.units.append(unit)

    def _paragraph(self, p: Any) -> Unit | None:
        weights: Counter[bytes] = Counter()
        props: dict[bytes, Any] = {}
        for rpr, text in _texts(p):
            weights[_key(rpr)] += len(text)
            props.setdefault(_key(rpr), rpr)
        if not weights or not any(text.strip() for _, text in _texts(p)):
            return None
        base = weights.most_common(1)[0][0]
        b = UnitBuilder()
        self._content(p, b, base)
        return b.unit((p, props[base])) if b.has_text() else None

    def _content(self, container: Any, b: UnitBuilder, base: bytes) -> None:
        span: tuple[bytes, int] | None = None  # the open formatting tag: its key and index
        for child in container:
            tag = child.tag
            if tag == PPR or tag in DROPPED:
                continue
            if tag == R:
                rpr = child.find(RPR)
                key = _key(rpr)
                for part in child:
                    if part.tag == RPR or part.tag in DROPPED:
                        continue
                    if part.tag != T:
                        b.empty(Piece(rpr, part))
                        continue
                    if span is not None and span[0] != key:
                        b.close(span[1])
                        span = None
                    if span is None and key != base:
                        span = (key, b.open(Format(rpr)))
                    b.text(part.text or "")
            elif tag in CONTAINERS:
                if span is not None:
                    b.close(span[1])
                    span = None
                n = b.open(Container(child))
                self._content(child, b, base)
                b.close(n)
            else:  # bookmarks, deletions, math, content controls...: kept whole
                b.empty(child)
        if span is not None:
            b.close(span[1])

    def write(self, translations: list[str], target: str) -> bytes:
        for unit, text in zip(self.units, translations, strict=True):
            p, base_rpr = unit.ref
            tree = decode(text, unit.tags)
            for tag in unit.tags:
                if isinstance(tag.payload, Container):
                    for child in list(tag.payload.element):
                        tag.payload.element.remove(child)
            for child in list(p):
                if child.tag != PPR:
                    p.remove(child)
            _render(p, tree, unit, base_rpr)
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def _run(parent: Any, rpr: Any, child: Any = None, text: str | None = None) -> Any:
    run = parent.makeelement(R, {})
    if rpr is not None:
        run.append(copy.deepcopy(rpr))
    if text is not None:
        t = etree.SubElement(run, T)
        t.text = text
        t.set(XML_SPACE, "preserve")
    if child is not None:
        run.append(child)
    return run


def _render(parent: Any, nodes: list[Node | str | Empty], unit: Unit, rpr: Any) -> None:
    for node in nodes:
        if isinstance(node, str):
            if node:
                parent.append(_run(parent, rpr, text=node))
            continue
        payload = unit.tags[node.tag].payload
        if isinstance(node, Empty) or unit.tags[node.tag].kind == EMPTY:
            if isinstance(payload, Literal):
                parent.append(_run(parent, rpr, text=payload.char))
            elif isinstance(payload, Piece):
                parent.append(_run(parent, payload.rpr, child=payload.child))
            else:
                parent.append(payload)
        elif isinstance(payload, Format):
            _render(parent, node.children, unit, payload.rpr)
        else:  # a container: the hyperlink (or insertion, field) itself, or a copy where tags crossed
            element = payload.element if not node.continued else parent.makeelement(
                payload.element.tag, dict(payload.element.attrib))
            parent.append(element)
            _render(element, node.children, unit, rpr)


class DocxFormat:
    name = "docx"
    extensions = (".docx",)
    media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    output_extension = None
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> DocxDocument:
        return DocxDocument(data, limits)
