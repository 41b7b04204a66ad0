"""XLIFF 1.2 and 2.x, the CAT tools' exchange format (lxml with entities, DTDs and the network off; a file with
a DOCTYPE is refused before parsing).

Each unit's source is translated into its target, with the inline codes of the source in the target (the same
elements and ids: 1.2's ``g``, ``x``, ``bx``, ``ex``, ``ph``, ``bpt``, ``ept``, ``it``, ``mrk``; 2.x's ``pc``,
``ph``, ``sc``, ``ec``, ``cp``, ``mrk``, ``sm``, ``em``): paired codes are tags around their words, the others stand
alone. Left alone: units with ``translate="no"``, 1.2 units with ``approved="yes"`` or a target that is not new,
and 2.x segments that are reviewed or final or already have a target. Machine output is marked as the standards
say: 1.2 ``state="needs-review-translation" state-qualifier="mt-suggestion"``, 2.x ``state="translated"`` with
``subState="asean-mt:mt"``. The target language is set on the file (``target-language``, ``trgLang``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from service import languages
from service.documents.base import DocumentInvalid, Limits, refuse_dtd
from service.documents.inline import EMPTY, Empty, Literal, Node, Unit, UnitBuilder, decode
from service.errors import ServiceError

NS12 = "urn:oasis:names:tc:xliff:document:1.2"
NS20 = "urn:oasis:names:tc:xliff:document:2.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PAIRED = {NS12: frozenset({"g", "mrk"}), NS20: frozenset({"pc", "mrk"})}
#: 1.2 target states that mean nobody has translated the unit yet
NEW_STATES = frozenset({"", "new", "needs-translation"})


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False)


@dataclass
class XliffDocument:
    data: bytes
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        refuse_dtd(self.data, "The XLIFF file")
        try:
            self.tree = etree.ElementTree(etree.fromstring(self.data, _parser()))
        except etree.XMLSyntaxError as exc:
            line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
            raise DocumentInvalid(f"The XLIFF file is not well-formed XML{line}.") from None
        root = self.tree.getroot()
        self.ns = etree.QName(root).namespace
        if etree.QName(root).localname != "xliff" or self.ns not in (NS12, NS20):
            raise DocumentInvalid("The file is not XLIFF 1.2 or 2.x (its root must be <xliff> in the XLIFF "
                                  "namespace).")
        declared = root.get("srcLang") if self.ns == NS20 else next(
            (f.get("source-language") for f in root.iter(self._q("file"))), None)
        if declared:
            try:
                self.declared_source = languages.normalize(declared.split("-")[0].split("_")[0])
            except ServiceError:
                self.declared_source = None
        if self.ns == NS12:
            self._read12(root)
        else:
            self._read20(root)

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def _read12(self, root: Any) -> None:
        for tu in root.iter(self._q("trans-unit")):
            if tu.get("translate", "yes") == "no" or tu.get("approved") == "yes":
                continue
            source = tu.find(self._q("source"))
            target = tu.find(self._q("target"))
            if source is None:
                continue
            if target is not None and (target.get("state") or "") not in NEW_STATES and "".join(target.itertext()):
                continue
            self._unit(source, tu)

    def _read20(self, root: Any) -> None:
        for unit in root.iter(self._q("unit")):
            if unit.get("translate", "yes") == "no":
                continue
            for segment in unit.iter(self._q("segment")):
                if segment.get("state") in ("reviewed", "final"):
                    continue
                source = segment.find(self._q("source"))
                target = segment.find(self._q("target"))
                if source is None or (target is not None and "".join(target.itertext()).strip()):
                    continue
                self._unit(source, segment)

    def _unit(self, source: Any, holder: Any) -> None:
        b = UnitBuilder()
        b.text(source.text or "")
        for child in source:
            self._inline(b, child)
            b.text(child.tail or "")
        if b.has_text():
            self.units.append(b.unit((source, holder)))

    def _inline(self, b: UnitBuilder, el: Any) -> None:
        if not isinstance(el.tag, str) or etree.QName(el).localname not in PAIRED[self.ns]:
            b.empty(el)
            return
        n = b.open(el)
        b.text(el.text or "")
        for child in el:
            self._inline(b, child)
            b.text(child.tail or "")
        b.close(n)

    def write(self, translations: list[str], target: str) -> bytes:
        root = self.tree.getroot()
        if self.ns == NS20:
            root.set("trgLang", target)
        else:
            for f in root.iter(self._q("file")):
                f.set("target-language", target)
        for unit, text in zip(self.units, translations, strict=True):
            source, holder = unit.ref
            element = holder.find(self._q("target"))
            if element is None:
                element = etree.Element(self._q("target"))
                element.tail = source.tail
                source.addnext(element)
            element.text = None
            for child in list(element):
                element.remove(child)
            _render(element, decode(text, unit.tags), unit)
            if self.ns == NS12:
                element.set("state", "needs-review-translation")
                element.set("state-qualifier", "mt-suggestion")
                element.set(XML_LANG, target)
            else:
                holder.set("state", "translated")
                holder.set("subState", "asean-mt:mt")
        return etree.tostring(self.tree, xml_declaration=True, encoding="UTF-8")


def _render(parent: Any, nodes: list[Node | str | Empty], unit: Unit) -> None:
    last = None
    for node in nodes:
        if isinstance(node, str):
            if last is None:
                parent.text = (parent.text or "") + node
            else:
                last.tail = (last.tail or "") + node
            continue
        payload = unit.tags[node.tag].payload
        if isinstance(payload, Literal):
            if last is None:
                parent.text = (parent.text or "") + payload.char
            else:
                last.tail = (last.tail or "") + payload.char
            continue
        if isinstance(node, Empty) or unit.tags[node.tag].kind == EMPTY:
            element = copy.deepcopy(payload)  # the source keeps its own
        else:
            element = etree.Element(payload.tag, dict(payload.attrib))
            _render(element, node.children, unit)
        element.tail = None
        parent.append(element)
        last = element


class XliffFormat:
    name = "xliff"
    extensions = (".xlf", ".xliff")
    media_type = "application/xliff+xml"
    output_extension = None
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> XliffDocument:
        return XliffDocument(data)
