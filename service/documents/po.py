"""gettext PO files (polib).

Untranslated entries are translated (plural entries: the singular into ``msgstr[0]``, the plural into the other
forms) and marked ``fuzzy``, gettext's standard mark for a translation a person has not confirmed; entries that are
already translated (and not fuzzy) and obsolete entries are left alone. Placeholders and markup inside messages
(``%s``, ``%(name)s``, ``%1$d``, ``{name}``, ``<b>``...) travel as tags. The header's ``Language`` becomes the
target. polib writes the file back (its own line wrapping).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import polib
import regex

from service.documents.base import DocumentInvalid, Limits, decode_text
from service.documents.inline import Unit, UnitBuilder, decode

#: printf-style and brace placeholders, and markup, inside a message
_CODE = regex.compile(r"%(?:\d+\$)?(?:\([^)\s]+\))?[-+ #0]*\d*(?:\.\d+)?[hlLqjzt]*[diouxXeEfFgGcrsa%]"
                      r"|\{[A-Za-z0-9_.\[\]]*(?:![rsa])?(?::[^{}]*)?\}|<[^<>\n]+>")


def _message(text: str, ref: Any) -> Unit | None:
    b = UnitBuilder()
    last = 0
    for m in _CODE.finditer(text):
        b.text(text[last:m.start()])
        b.empty(m.group(0))
        last = m.end()
    b.text(text[last:])
    return b.unit(ref) if b.has_text() else None


def _plain(nodes: list[Any], unit: Unit) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        else:
            payload = unit.tags[node.tag].payload
            out.append(getattr(payload, "char", payload))
            out.append(_plain(getattr(node, "children", []), unit))
    return "".join(out)


@dataclass
class PoDocument:
    text: str
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        # from a file of its own: polib would take a text that happens to name an existing file for that file
        with tempfile.NamedTemporaryFile("w", suffix=".po", encoding="utf-8", delete=False) as handle:
            handle.write(self.text)
        try:
            self.po = polib.pofile(handle.name, encoding="utf-8", wrapwidth=78)
        except (OSError, ValueError, UnicodeError):
            raise DocumentInvalid("The PO file cannot be read; check it with msgfmt --check.") from None
        finally:
            os.unlink(handle.name)
        for entry in self.po:
            if entry.obsolete or (entry.translated() and "fuzzy" not in entry.flags):
                continue
            if entry.msgid_plural:
                for key, message in (("singular", entry.msgid), ("plural", entry.msgid_plural)):
                    unit = _message(message, (entry, key))
                    if unit is not None:
                        self.units.append(unit)
            else:
                unit = _message(entry.msgid, (entry, "msgstr"))
                if unit is not None:
                    self.units.append(unit)

    def write(self, translations: list[str], target: str) -> bytes:
        plurals: dict[int, dict[str, str]] = {}
        for unit, text in zip(self.units, translations, strict=True):
            entry, key = unit.ref
            value = _plain(decode(text, unit.tags), unit)
            if key == "msgstr":
                entry.msgstr = value
            else:
                plurals.setdefault(id(entry), {"entry": entry})[key] = value  # type: ignore[dict-item]
            if "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        for forms in plurals.values():
            entry = forms["entry"]
            count = max(2, len(entry.msgstr_plural) or 2)
            entry.msgstr_plural = {i: forms.get("singular" if i == 0 else "plural", "") for i in range(count)}
        self.po.metadata["Language"] = target
        return self.po.__unicode__().encode("utf-8")


class PoFormat:
    name = "po"
    extensions = (".po", ".pot")
    media_type = "text/x-gettext-translation; charset=utf-8"
    output_extension = ".po"
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> PoDocument:
        return PoDocument(decode_text(data, "The PO file"))  # its Language header names the target, not the source
