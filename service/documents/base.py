"""What every document format has in common: its errors, its limits, and the adapter interface.

An adapter reads a file into translatable :class:`~service.documents.inline.Unit` s (text with its inline markup as
markers) and writes translated units back into a copy of the file. It knows nothing of engines or glossaries; the
pipeline knows nothing of formats.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Protocol

import regex

from service.config import Settings
from service.documents.inline import Unit
from service.errors import InputTooLarge, InvalidInput


class DocumentInvalid(InvalidInput):
    """The file cannot be read as the format it claims to be (malformed, truncated, unsafe)."""

    code = "document_invalid"


class UnsupportedFormat(InvalidInput):
    code = "unsupported_format"


@dataclass(frozen=True)
class Limits:
    """The document limits of the settings (reasons in ``service.config``)."""

    max_bytes: int
    max_units: int
    max_chars: int
    max_pages: int
    max_zip_entries: int
    max_zip_bytes: int

    @classmethod
    def of(cls, s: Settings) -> Limits:
        return cls(s.max_document_bytes, s.max_document_units, s.max_document_chars, s.max_document_pages,
                   s.max_zip_entries, s.max_zip_bytes)

    def check_size(self, data: bytes, name: str) -> None:
        if len(data) > self.max_bytes:
            raise InputTooLarge(f"{name} has {len(data):,} bytes; the limit is {self.max_bytes:,} "
                                "(max_document_bytes).", limit=self.max_bytes, setting="max_document_bytes")

    def check_units(self, units: list[Unit], name: str) -> None:
        if len(units) > self.max_units:
            raise InputTooLarge(f"{name} has {len(units):,} paragraphs or other text units; the limit is "
                                f"{self.max_units:,} (max_document_units).", limit=self.max_units,
                                setting="max_document_units")
        chars = sum(len(u.plain) for u in units)
        if chars > self.max_chars:
            raise InputTooLarge(f"{name} has {chars:,} characters of text; the limit is {self.max_chars:,} "
                                "(max_document_chars).", limit=self.max_chars, setting="max_document_chars")


class Loaded(Protocol):
    """A document read by an adapter: its units, and how to write translations of them."""

    units: list[Unit]
    #: the source language the file declares (XLIFF srcLang, <html lang>), if any
    declared_source: str | None

    def write(self, translations: list[str], target: str) -> bytes:
        """A copy of the file with ``translations`` (one per unit, in order, with markers) in place."""
        ...


class Format(Protocol):
    name: str
    #: file name endings, first one is the usual one
    extensions: tuple[str, ...]
    media_type: str
    #: what the translated file is, when it is not the same format (PDF in, DOCX out)
    output_extension: str | None
    output_media_type: str | None
    #: a sentence the result carries (PDF: the layout is not kept)
    note: str | None

    def load(self, data: bytes, limits: Limits) -> Loaded: ...


def decode_text(data: bytes, name: str) -> str:
    """Text files are UTF-8 (a byte-order mark is allowed and kept out of the text)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentInvalid(f"{name} is not UTF-8 text; save it as UTF-8 and try again.") from None


_DOCTYPE = regex.compile(rb"<!DOCTYPE|<!ENTITY", regex.IGNORECASE)


def refuse_dtd(data: bytes, name: str) -> None:
    """XML with a document type declaration is refused before any parser sees it: entity definitions are how
    billion-laughs and external-entity attacks work, and no format read here needs one."""
    if _DOCTYPE.search(data):
        raise DocumentInvalid(f"{name} declares a DTD or entities, which are not accepted in uploaded XML; "
                              "remove the <!DOCTYPE ...> declaration.")


def open_zip(data: bytes, name: str, limits: Limits) -> zipfile.ZipFile:
    """A ZIP container (DOCX), checked before anything is decompressed: the number of parts and their declared
    uncompressed size (which bounds what reading them can produce) are limited, so a zip bomb is refused."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise DocumentInvalid(f"{name} is not a valid Word file (it is not a ZIP archive, or it is damaged)."
                              ) from None
    if len(infos) > limits.max_zip_entries:
        raise InputTooLarge(f"{name} has {len(infos):,} parts; the limit is {limits.max_zip_entries:,} "
                            "(max_zip_entries).", limit=limits.max_zip_entries, setting="max_zip_entries")
    total = sum(i.file_size for i in infos)
    if total > limits.max_zip_bytes:
        raise InputTooLarge(f"{name} unpacks to {total:,} bytes; the limit is {limits.max_zip_bytes:,} "
                            "(max_zip_bytes).", limit=limits.max_zip_bytes, setting="max_zip_bytes")
    return archive
