"""Documents: one small adapter per format, one road through the pipeline (:mod:`service.documents.road`).

Formats and the libraries that read them: HTML (lxml), DOCX (python-docx), Markdown (markdown-it-py), SRT and
WebVTT subtitles (webvtt-py), XLIFF 1.2 and 2.x (lxml, no DTDs), gettext PO (polib), PDF in (pypdf; out as DOCX
or text: the layout is not kept), plain text.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import PurePath

from service.documents.base import DocumentInvalid, Format, UnsupportedFormat

#: format name -> "module:class" (imported when first used: a text request never loads python-docx)
_ADAPTERS = {
    "html": "service.documents.html:HtmlFormat",
    "docx": "service.documents.docx:DocxFormat",
    "markdown": "service.documents.markdown:MarkdownFormat",
    "srt": "service.documents.subtitles:SrtFormat",
    "vtt": "service.documents.subtitles:VttFormat",
    "xliff": "service.documents.xliff:XliffFormat",
    "po": "service.documents.po:PoFormat",
    "pdf": "service.documents.pdf:PdfFormat",
    "text": "service.documents.text:TextFormat",
}
#: file name ending -> format
EXTENSIONS = {".html": "html", ".htm": "html", ".docx": "docx", ".md": "markdown", ".markdown": "markdown",
              ".srt": "srt", ".vtt": "vtt", ".xlf": "xliff", ".xliff": "xliff", ".xlf2": "xliff", ".po": "po",
              ".pot": "po", ".pdf": "pdf", ".txt": "text"}
FORMATS = tuple(_ADAPTERS)
_loaded: dict[str, Format] = {}

__all__ = ["EXTENSIONS", "FORMATS", "DocumentInvalid", "UnsupportedFormat", "format_of", "get_format"]


def get_format(name: str) -> Format:
    if name not in _ADAPTERS:
        raise UnsupportedFormat(f"Unknown document format {name!r}; the formats are {', '.join(FORMATS)}.")
    if name not in _loaded:
        module, _, cls = _ADAPTERS[name].partition(":")
        _loaded[name] = getattr(import_module(module), cls)()
    return _loaded[name]


def format_of(file_name: str, given: str | None = None) -> str:
    """The format of a file: ``given`` (``--input-format``, the API's ``format``) or its name's ending."""
    if given:
        given = given.lower().lstrip(".")
        given = {"htm": "html", "md": "markdown", "xlf": "xliff", "txt": "text", "webvtt": "vtt"}.get(given, given)
        get_format(given)
        return given
    suffix = PurePath(file_name).suffix.lower()
    if suffix not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UnsupportedFormat(f"{file_name}: file type not supported; use one of {known} (or name the format).")
    return EXTENSIONS[suffix]
