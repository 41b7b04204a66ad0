"""XML text with its tags kept, as DeepL's ``tag_handling=xml`` translates it (``service.http.deepl``): the text is
a fragment of XML whose elements are inline markup (they travel as tags through the pipeline, like HTML's), except
``splitting_tags``, whose content is translated as a unit of its own, and ``ignore_tags``, kept whole and never
translated. Element names keep their case, attributes and namespaces are untouched (lxml's XML parser, entities,
DTDs and the network off; a fragment that declares entities is refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from service.documents.base import DocumentInvalid
from service.documents.html import BlockRef, read_block, write_block
from service.documents.inline import Unit, UnitBuilder

#: The element wrapped around the fragment while it is parsed (a fragment may have several top elements or text).
WRAPPER = "asean-mt-fragment"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False)


def _local(el: Any) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


@dataclass
class XmlText:
    text: str
    splitting: Sequence[str] = ()
    ignore: Sequence[str] = ()
    units: list[Unit] = field(default_factory=list)
    root: Any = None
    declaration: str = ""

    def __post_init__(self) -> None:
        if "<!ENTITY" in self.text.upper() or "<!DOCTYPE" in self.text.upper():
            raise DocumentInvalid("The XML declares a DTD or entities, which are not accepted; remove them.")
        body = self.text
        if body.lstrip().startswith("<?xml") and "?>" in body:
            end = body.index("?>") + 2
            self.declaration, body = body[:end], body[end:]
        try:
            self.root = etree.fromstring(f"<{WRAPPER}>{body}</{WRAPPER}>".encode(), _parser())
        except etree.XMLSyntaxError:
            raise DocumentInvalid("The text is not well-formed XML; check its tags (or send it without "
                                  "tag_handling).") from None
        self._block(self.root)

    def _block(self, el: Any) -> None:
        b, nested = read_block(el, self._inline)
        if b.has_text():
            self.units.append(b.unit(BlockRef(el)))
        for block in nested:
            self._block(block)

    def _inline(self, b: UnitBuilder, el: Any, nested: list[Any]) -> None:
        name = _local(el)
        if not name or name in self.ignore:  # comments, processing instructions, ignored elements: kept whole
            b.empty(el)
            return
        if name in self.splitting:  # its own unit
            b.empty(el)
            nested.append(el)
            return
        n = b.open(el)
        b.text(el.text or "")
        for child in el:
            self._inline(b, child, nested)
            b.text(child.tail or "")
        b.close(n)

    def write(self, translations: list[str]) -> str:
        for unit, text in zip(self.units, translations, strict=True):
            write_block(unit, text)
        return self.declaration + (self.root.text or "") + "".join(etree.tostring(c, encoding="unicode")
                                                                   for c in self.root)
