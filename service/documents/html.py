"""HTML pages and fragments (lxml's HTML parser, no network, comments kept).

Units are blocks: every element with text of its own (``p``, ``li``, ``td``, ``h1``-``h6``, ``figcaption``, a ``div``
with text...), with its inline elements (``b``, ``a href``, ``em``, ``span``...) carried as tags and restored in
place; nested blocks are units of their own. The translatable attributes (``alt``, ``title``, ``placeholder``,
``aria-label``, the page's description and Open Graph/Twitter titles and descriptions, button values) are units
too. Never touched: ``script``, ``style``, ``code``, ``pre``, ``kbd``, ``var``, ``samp``, ``textarea``, ``svg``,
``math``, ``template``, anything with ``translate="no"`` or class ``notranslate`` (with all it contains), URLs
and every other attribute. ``<html lang>`` becomes the target. Line breaks inside a block's text become spaces
(they are not shown either); the whitespace at a block's edges is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lxml.html
import regex
from lxml import etree

from service import languages
from service.documents.base import DocumentInvalid, Limits, decode_text
from service.documents.inline import EMPTY, OPEN, Empty, Literal, Node, Unit, UnitBuilder, decode
from service.errors import ServiceError

#: Elements whose content is never translated (nor any attribute inside them).
SKIP = frozenset({"script", "style", "code", "pre", "kbd", "var", "samp", "textarea", "svg", "math", "template",
                  "noscript", "iframe", "object", "embed", "select", "datalist", "head_script"})
#: Phrasing (inline) elements: inside a block they travel as tags.
INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "br", "cite", "data", "dfn", "em", "i", "img", "label", "mark",
                    "q", "s", "small", "span", "strong", "sub", "sup", "time", "u", "wbr", "font", "big", "tt", "ins",
                    "del", "input", "button", "output", "ruby", "rt", "rp", "picture", "source", "audio", "video",
                    "meter", "progress", "strike", "acronym", "nobr", "code", "kbd", "var", "samp", "svg", "math",
                    "script", "iframe", "object", "embed", "select", "textarea", "noscript", "template"})
#: Inline elements kept whole, as one tag (nothing to translate inside, or never translated).
ATOMIC = frozenset({"br", "img", "wbr", "input", "source", "audio", "video", "picture", "meter", "progress"}) | SKIP
ATTRIBUTES = ("alt", "title", "placeholder", "aria-label", "aria-description")
META_NAMES = frozenset({"description", "og:title", "og:description", "twitter:title", "twitter:description",
                        "og:site_name"})
#: Nesting deeper than this is refused (crafted files; real pages are a few dozen deep).
MAX_DEPTH = 200
_FULL_PAGE = regex.compile(r"<\s*(?:html|head|body)\b|<!doctype", regex.IGNORECASE)
_ENTITY_DECL = regex.compile(r"<!ENTITY", regex.IGNORECASE)
_INNER_BREAKS = regex.compile(r"[ \t\r]*\n\s*")


def _tag(el: Any) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _skipped(el: Any) -> bool:
    if not isinstance(el.tag, str):
        return False
    if _tag(el) in SKIP or (el.get("translate") or "").strip().lower() == "no":
        return True
    return "notranslate" in (el.get("class") or "").split()


def _phrasing(el: Any) -> bool:
    """An inline element all of whose descendants are inline too (else it is laid out as a block)."""
    return all(not isinstance(d.tag, str) or _tag(d) in INLINE for d in el.iter())


def _has_text(el: Any) -> bool:
    return any((t or "").strip() for t in el.itertext())


@dataclass
class AttributeRef:
    element: Any
    name: str


@dataclass
class BlockRef:
    element: Any
    lead: str = ""
    trail: str = ""


@dataclass
class HtmlDocument:
    text: str
    full: bool
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None
    root: Any = None
    doctype: str | None = None

    def __post_init__(self) -> None:
        parser = lxml.html.HTMLParser(no_network=True, remove_comments=False, remove_pis=False, recover=True,
                                      default_doctype=False)
        try:
            if self.full:
                self.root = lxml.html.document_fromstring(self.text, parser=parser)
                self.doctype = self.root.getroottree().docinfo.doctype or None
            else:
                self.root = lxml.html.fragment_fromstring(self.text, create_parent="div", parser=parser)
        except (etree.ParserError, etree.XMLSyntaxError, ValueError):
            raise DocumentInvalid("The HTML cannot be read; check that it is an HTML page or fragment.") from None
        depth = max((sum(1 for _ in e.iterancestors()) for e in self.root.iter()), default=0)
        if depth > MAX_DEPTH:
            raise DocumentInvalid(f"The HTML is nested {depth} elements deep; the limit is {MAX_DEPTH}.")
        lang = (self.root.get("lang") or "").strip() if self.full else ""
        if lang:
            try:
                self.declared_source = languages.normalize(lang.split("-")[0])
            except ServiceError:
                self.declared_source = None
        self._collect(self.root)

    # -- reading -------------------------------------------------------------------------------------------
    def _collect(self, el: Any) -> None:
        if _skipped(el):
            return
        self._attributes(el)
        if self._has_inline_content(el):
            self._block(el)
            return
        for child in el:
            if isinstance(child.tag, str):
                self._collect(child)

    def _attributes(self, el: Any) -> None:
        for name in ATTRIBUTES:
            value = el.get(name)
            if value and value.strip():
                self._attribute_unit(el, name, value)
        tag = _tag(el)
        if tag == "meta" and (el.get("name") or el.get("property") or "").lower() in META_NAMES:
            if (el.get("content") or "").strip():
                self._attribute_unit(el, "content", el.get("content"))
        if tag == "input" and (el.get("type") or "").lower() in ("submit", "button", "reset") and el.get("value"):
            self._attribute_unit(el, "value", el.get("value"))

    def _attribute_unit(self, el: Any, name: str, value: str) -> None:
        b = UnitBuilder()
        b.text(value)
        if b.has_text():
            self.units.append(b.unit(AttributeRef(el, name)))

    def _has_inline_content(self, el: Any) -> bool:
        if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
            return True
        return any(isinstance(c.tag, str) and _tag(c) in INLINE and _tag(c) not in ATOMIC and not _skipped(c)
                   and _phrasing(c) and _has_text(c) for c in el)

    def _block(self, el: Any) -> None:
        b, nested = read_block(el, self._inline)
        value = b.value
        lead = regex.match(r"^\s*", value).group(0)  # type: ignore[union-attr]
        trail = regex.search(r"\s*$", value[len(lead):]).group(0)  # type: ignore[union-attr]
        middle = value[len(lead):len(value) - len(trail)]
        unit = Unit(lead + _INNER_BREAKS.sub(" ", middle) + trail, b.tags, BlockRef(el, lead, trail))
        if b.has_text():
            self.units.append(unit)
        for block in nested:
            self._collect(block)

    def _inline(self, b: UnitBuilder, el: Any, nested: list[Any]) -> None:
        if not isinstance(el.tag, str):  # comment, processing instruction
            b.empty(el)
            return
        tag = _tag(el)
        if _skipped(el) or tag in ATOMIC:  # kept whole (an image's alt and title are still translated)
            b.empty(el)
            if not _skipped(el):
                self._attributes(el)
            return
        if tag not in INLINE or not _phrasing(el):  # a block inside the text (or an inline element laid out as one)
            b.empty(el)
            nested.append(el)
            return
        self._attributes(el)
        n = b.open(el)
        b.text(el.text or "")
        for child in el:
            self._inline(b, child, nested)
            b.text(child.tail or "")
        b.close(n)

    # -- writing -------------------------------------------------------------------------------------------
    def write(self, translations: list[str], target: str) -> bytes:
        for unit, text in zip(self.units, translations, strict=True):
            if isinstance(unit.ref, AttributeRef):
                unit.ref.element.set(unit.ref.name, text)
        for unit, text in zip(self.units, translations, strict=True):
            if isinstance(unit.ref, BlockRef):
                self._write_block(unit, text)
        if self.full:
            self.root.set("lang", target)
            if self.root.get("{http://www.w3.org/XML/1998/namespace}lang") is not None:
                self.root.set("{http://www.w3.org/XML/1998/namespace}lang", target)
            body = lxml.html.tostring(self.root, encoding="unicode", method="html", doctype=self.doctype)
            return body.encode("utf-8")
        parts = [self.root.text or ""] + [lxml.html.tostring(c, encoding="unicode", method="html")
                                          for c in self.root]
        return "".join(parts).encode("utf-8")

    def _write_block(self, unit: Unit, text: str) -> None:
        write_block(unit, text)


def read_block(el: Any, inline: Callable[[UnitBuilder, Any, list[Any]], None]) -> tuple[UnitBuilder, list[Any]]:
    """An element's own text and inline children, read into one builder (``inline`` reads a child, adding the
    block elements it finds inside to the list); returns the builder and those blocks, translated apart."""
    b = UnitBuilder()
    nested: list[Any] = []
    b.text(el.text or "")
    for child in el:
        inline(b, child, nested)
        b.text(child.tail or "")
    return b, nested


def write_block(unit: Unit, text: str) -> None:
    """Put a translated unit back into its element (``unit.ref.element``): its inline elements, which travelled
    as tags, are emptied and re-attached where the translation's tags say (lxml elements: HTML and XML alike)."""
    el = unit.ref.element
    tree = decode(text, unit.tags)
    for tag in unit.tags:
        if tag.kind == OPEN:
            tag.payload.text = None
            for child in list(tag.payload):
                tag.payload.remove(child)
    el.text = None
    for child in list(el):
        el.remove(child)
    _render(el, tree, unit)


def _append_text(parent: Any, last: Any, text: str) -> None:
    if last is None:
        parent.text = (parent.text or "") + text
    else:
        last.tail = (last.tail or "") + text


def _render(parent: Any, nodes: list[Node | str | Empty], unit: Unit) -> None:
    last = None
    for node in nodes:
        if isinstance(node, str):
            _append_text(parent, last, node)
            continue
        payload = unit.tags[node.tag].payload
        if isinstance(node, Empty) or unit.tags[node.tag].kind == EMPTY:
            if isinstance(payload, Literal):
                _append_text(parent, last, payload.char)
                continue
            payload.tail = None
            parent.append(payload)
            last = payload
            continue
        element = payload
        if node.continued:  # a second part of an element split where tags crossed
            element = parent.makeelement(payload.tag, dict(payload.attrib))
        element.tail = None
        parent.append(element)
        _render(element, node.children, unit)
        last = element


class HtmlFormat:
    name = "html"
    extensions = (".html", ".htm")
    media_type = "text/html; charset=utf-8"
    output_extension = None
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> HtmlDocument:
        text = decode_text(data, "The HTML file")
        if _ENTITY_DECL.search(text):
            raise DocumentInvalid("The HTML declares entities (<!ENTITY>), which are not accepted; remove them.")
        if not text.strip():
            raise DocumentInvalid("The HTML file is empty.")
        return HtmlDocument(text, bool(_FULL_PAGE.search(text[:4096])))
