"""TMX 1.4 (Translation Memory eXchange, the CAT tools' format for translation memories): read into corrections,
written from them. lxml, streaming both ways (``iterparse`` one ``<tu>`` at a time, ``xmlfile`` to write), with
entities, DTD loading and the network off; a file that declares entities is refused before it is parsed (the usual
``<!DOCTYPE tmx SYSTEM "tmx14.dtd">`` is fine: it is never loaded).

Reading: each ``<tu>`` pairs its source variant (the unit's ``srclang``, else the header's, else its first
``<tuv>``) with every other variant. Region subtags are dropped (``ms-MY`` -> ``ms``); units in languages this
service does not know are counted and skipped. Inline codes (``bpt``, ``ept``, ``ph``, ``it``, ``ut``) are left
out of the text, ``<hi>`` and ``<sub>`` keep theirs. Provenance comes from the unit: ``creationid``,
``creationdate``, and this service's properties ``x-origin`` (human/machine), ``x-approved`` and
``x-glossaries``; a unit without them is an approved human translation (what a TM exchanged between translators
holds).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from lxml import etree

from service import languages
from service.corrections import HUMAN, ORIGINS, Correction, NewCorrection
from service.errors import InvalidInput, UnsupportedLanguage

log = logging.getLogger(__name__)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: elements of a <seg> whose content is markup, not text
CODES = frozenset({"bpt", "ept", "ph", "it", "ut"})
DATE = "%Y%m%dT%H%M%SZ"
#: bytes read before the root element to look for entity declarations
PROLOG_BYTES = 1 << 20


@dataclass
class TmxRead:
    """What reading a file found: the corrections, and what was skipped (with why, for the first few)."""

    corrections: list[NewCorrection] = field(default_factory=list)
    units: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(f"{where}: {why}")


def _lang(code: str | None) -> str | None:
    if not code:
        return None
    for candidate in (code, code.split("-")[0], code.split("_")[0]):
        try:
            return languages.normalize(candidate)
        except (UnsupportedLanguage, InvalidInput):
            continue
    return None


def _text(seg: Any) -> str:
    parts = [seg.text or ""]
    for child in seg:
        if isinstance(child.tag, str) and etree.QName(child).localname not in CODES:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, DATE)
    except ValueError:
        return None


def _refuse_entities(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(PROLOG_BYTES)
    prolog = head.split(b"<tmx", 1)[0]
    if b"<!ENTITY" in prolog.upper():
        raise InvalidInput(f"{path.name} declares entities, which are not accepted in a TMX file; remove them.")


def read(path: Path) -> TmxRead:
    """Every translation pair of a TMX file. A file that is not TMX (or not well-formed XML) is InvalidInput."""
    _refuse_entities(path)
    out = TmxRead()
    header_src: str | None = None
    seen_root = False
    try:
        for event, elem in etree.iterparse(str(path), events=("start", "end"), resolve_entities=False,
                                           no_network=True, load_dtd=False, huge_tree=False, remove_comments=True):
            name = etree.QName(elem).localname if isinstance(elem.tag, str) else ""
            if event == "start":
                if not seen_root:
                    if name != "tmx":
                        raise InvalidInput(f"{path.name} is not a TMX file (its root element is <{name}>).")
                    seen_root = True
                continue
            if name == "header":
                header_src = elem.get("srclang")
            elif name == "tu":
                out.units += 1
                _unit(elem, header_src, out, f"{path.name}:{elem.sourceline}")
                elem.clear(keep_tail=False)
                while elem.getprevious() is not None:  # keep memory flat on large files
                    del elem.getparent()[0]
    except etree.XMLSyntaxError as exc:
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise InvalidInput(f"{path.name} is not well-formed XML{line}; check that it is a TMX file.") from None
    if not seen_root:
        raise InvalidInput(f"{path.name} is empty; give a TMX file.")
    return out


def _unit(tu: Any, header_src: str | None, out: TmxRead, where: str) -> None:
    props = {p.get("type"): (p.text or "").strip() for p in tu if isinstance(p.tag, str)
             and etree.QName(p).localname == "prop"}
    variants = []
    for tuv in tu:
        if not isinstance(tuv.tag, str) or etree.QName(tuv).localname != "tuv":
            continue
        seg = next((c for c in tuv if isinstance(c.tag, str) and etree.QName(c).localname == "seg"), None)
        code = tuv.get(XML_LANG) or tuv.get("lang")
        if seg is not None:
            variants.append((code, _lang(code), _text(seg)))
    if len(variants) < 2:
        out.skip(where, "a unit needs at least two language variants")
        return
    wanted = tu.get("srclang") or header_src
    wanted = None if wanted in (None, "*all*") else _lang(wanted)
    source = next((v for v in variants if v[1] is not None and v[1] == wanted), variants[0])
    if source[1] is None:
        out.skip(where, f"unknown source language {source[0]!r}")
        return
    origin = props.get("x-origin", HUMAN)
    if origin not in ORIGINS:
        origin = HUMAN
    try:
        glossaries = json.loads(props["x-glossaries"]) if props.get("x-glossaries") else None
        if not isinstance(glossaries, dict):
            glossaries = None
    except ValueError:
        glossaries = None
    note = " ".join((n.text or "").strip() for n in tu if isinstance(n.tag, str)
                    and etree.QName(n).localname == "note").strip()
    for variant in variants:
        code, lang, text = variant
        if variant is source or lang == source[1]:
            continue
        if lang is None:
            out.skip(where, f"unknown language {code!r}")
            continue
        if not text.strip() or not source[2].strip():
            out.skip(where, "an empty segment")
            continue
        out.corrections.append(NewCorrection(
            source[1], lang, source[2], text, origin, props.get("x-approved", "yes").lower() not in ("no", "false"),
            glossaries, note, _date(tu.get("creationdate")), tu.get("creationid") or None))


def write(corrections: Iterable[Correction], out: IO[bytes], tool_version: str = "0.1.0") -> int:
    """A TMX 1.4 file of these corrections (one unit each); returns how many were written."""
    written = 0
    items: Iterator[Correction] = iter(corrections)
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element("tmx", version="1.4"):
            xf.write(etree.Element("header", creationtool="asean-mt", creationtoolversion=tool_version,
                                   segtype="sentence", **{"o-tmf": "asean-mt", "adminlang": "en",
                                                          "srclang": "*all*", "datatype": "plaintext"}))
            with xf.element("body"):
                for c in items:
                    xf.write(_tu(c))
                    written += 1
    return written


def _tu(c: Correction) -> Any:
    attrs = {"tuid": str(c.id), "srclang": c.source_lang}
    if c.created_at:
        attrs["creationdate"] = c.created_at.strftime(DATE)
    if c.updated_at:
        attrs["changedate"] = c.updated_at.strftime(DATE)
    if c.author:
        attrs["creationid"] = c.author
    tu = etree.Element("tu", **attrs)
    for kind, value in (("x-origin", c.origin), ("x-approved", "yes" if c.approved else "no"),
                        ("x-glossaries", json.dumps(c.glossaries, ensure_ascii=False) if c.glossaries else "")):
        if value:
            etree.SubElement(tu, "prop", type=kind).text = value
    if c.note:
        etree.SubElement(tu, "note").text = c.note
    for lang, text in ((c.source_lang, c.source), (c.target_lang, c.target)):
        tuv = etree.SubElement(tu, "tuv", {XML_LANG: lang})
        etree.SubElement(tuv, "seg").text = text
    return tu
