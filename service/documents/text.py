"""Plain text, as the pipeline has always translated it: one unit, its lines and hard-wrapped paragraphs handled by
the ``layout`` setting (``service.text.layout``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.documents.base import Limits, decode_text
from service.documents.inline import Unit, UnitBuilder, decode, plain_text


@dataclass
class TextDocument:
    text: str
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        b = UnitBuilder()
        b.text(self.text)
        if b.has_text():
            self.units.append(b.unit())

    def write(self, translations: list[str], target: str) -> bytes:
        return "".join(plain_text(decode(t, u.tags)) for u, t in zip(self.units, translations, strict=True)
                       ).encode("utf-8")


class TextFormat:
    name = "text"
    extensions = (".txt",)
    media_type = "text/plain; charset=utf-8"
    output_extension = None
    output_media_type = None
    note = None
    #: the whole text is one unit: its line layout is the pipeline's (the layout setting), not "keep"
    layout = None

    def load(self, data: bytes, limits: Limits) -> TextDocument:
        return TextDocument(decode_text(data, "The text file"))
