"""PDF in (pypdf): the text of each page is extracted, hard-wrapped lines joined again (``service.text.layout``,
``auto``), and each paragraph translated; the translation comes back as a Word file (a paragraph each, a page
break between pages) or as plain text. **The layout is not kept**: columns, positions, fonts, pictures and tables
of the PDF are not reproduced, and the result says so. Scanned pages without a text layer give no text (no OCR).
Encrypted PDFs are refused; nothing in a PDF is ever run (pypdf reads, it executes no JavaScript or actions).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

from service.documents.base import DocumentInvalid, Limits
from service.documents.inline import Unit, UnitBuilder, decode, plain_text
from service.errors import InputTooLarge
from service.text import layout

log = logging.getLogger(__name__)
NOTE = ("The PDF's layout is not kept: this is its text, translated paragraph by paragraph (no columns, positions, "
        "pictures or tables).")


@dataclass
class PdfDocument:
    data: bytes
    limits: Limits
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd files are not ours to show
        try:
            reader = PdfReader(io.BytesIO(self.data), strict=False)
            if reader.is_encrypted:
                raise DocumentInvalid("The PDF is encrypted; remove its password and try again.")
            pages = len(reader.pages)
            if pages > self.limits.max_pages:
                raise InputTooLarge(f"The PDF has {pages:,} pages; the limit is {self.limits.max_pages:,} "
                                    "(max_document_pages).", limit=self.limits.max_pages, setting="max_document_pages")
            texts = [page.extract_text() or "" for page in reader.pages]
        except (DocumentInvalid, InputTooLarge):
            raise
        except Exception:  # pypdf raises many kinds of error on damaged files
            raise DocumentInvalid("The PDF cannot be read (damaged, or not a PDF).") from None
        self.pages: list[list[int]] = []
        for text in texts:
            indices = []
            for line in layout.unwrap(text.replace("\r\n", "\n"), "auto").split("\n"):
                b = UnitBuilder()
                b.text(line.strip())
                if b.has_text():
                    indices.append(len(self.units))
                    self.units.append(b.unit(len(self.pages)))
            self.pages.append(indices)

    def write(self, translations: list[str], target: str, output: str = "docx") -> bytes:
        paragraphs = [plain_text(decode(t, u.tags)) for u, t in zip(self.units, translations, strict=True)]
        if output == "txt":
            return "\n\n\f".join("\n\n".join(paragraphs[i] for i in page) for page in self.pages).encode("utf-8")
        import docx
        from docx.enum.text import WD_BREAK

        document = docx.Document()
        document.core_properties.comments = NOTE
        document.core_properties.language = target
        for n, page in enumerate(self.pages):
            for i in page:
                document.add_paragraph(paragraphs[i])
            if n < len(self.pages) - 1 and page:
                document.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


class PdfFormat:
    name = "pdf"
    extensions = (".pdf",)
    media_type = "application/pdf"
    output_extension = ".docx"
    output_media_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    note = NOTE

    def load(self, data: bytes, limits: Limits) -> PdfDocument:
        return PdfDocument(data, limits)
