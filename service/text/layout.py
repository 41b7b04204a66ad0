"""Hard-wrapped text (copied from PDFs and e-mails: one sentence broken over several lines) made whole again.

Layouts:

- ``keep``: every line is its own block (lists, addresses, poems, subtitles);
- ``reflow``: the lines of a paragraph (between blank lines) are one block, except list items, which start
  a block of their own;
- ``auto`` (the default): a line break is a soft wrap, and is re-flowed, when the line ends without sentence
  punctuation, the next line is not blank and not a list item, and the line looks wrapped: it is long (at
  least ``WRAPPED_MIN_CHARS`` and ``WRAPPED_SHARE`` of the longest line around it) or the next line goes on in
  lower case. Headings, addresses and short poetry-like lines are kept.

A re-flowed line break becomes a space (``\\r\\n`` two), so the text keeps its length and every offset into it
(the glossary report's) still points at the input; real line breaks come back in the output where they were.
"""

from __future__ import annotations

import regex

from service.errors import InvalidInput

LAYOUTS = ("keep", "reflow", "auto")
#: A line at least this long (and WRAPPED_SHARE of the longest line of its paragraph) looks hard-wrapped;
#: addresses and poetry lines are shorter, wrapped prose is usually 60-80 characters a line.
WRAPPED_MIN_CHARS = 40
WRAPPED_SHARE = 0.6
_SENTENCE_END = regex.compile(r"[.!?…:;。។៕။][\"'”’»)\]]*\s*$")
_LIST_ITEM = regex.compile(r"^\s*(?:[-*•◦▪–·]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,3}\))\s+")


#: A line whose longer words are mostly capitalised is a heading (title case), never run into the next line.
HEADING_CAPITALISED = 0.75
_LONGER_WORD = regex.compile(r"\p{L}{4,}")
_INNER_SENTENCE_END = regex.compile(r"[.!?]\s+\p{Lu}")


def is_heading(line: str) -> bool:
    if _INNER_SENTENCE_END.search(line):
        return False
    longer = _LONGER_WORD.findall(line)
    return len(longer) >= 2 and sum(w[0].isupper() for w in longer) >= HEADING_CAPITALISED * len(longer)


def validate(layout: str) -> str:
    if layout not in LAYOUTS:
        raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}.")
    return layout


def _paragraph_width(lines: list[str], i: int) -> int:
    """The longest line of the paragraph (run of non-blank lines) around line ``i``."""
    start = i
    while start > 0 and lines[start - 1].strip():
        start -= 1
    end = i
    while end + 1 < len(lines) and lines[end + 1].strip():
        end += 1
    return max(len(line.rstrip()) for line in lines[start:end + 1])


def _soft_break(lines: list[str], i: int, layout: str) -> bool:
    line, following = lines[i].rstrip(), lines[i + 1]
    if not line.strip() or not following.strip() or _LIST_ITEM.match(following):
        return False
    if layout == "reflow":
        return True
    heading = (i == 0 or not lines[i - 1].strip()) and is_heading(line)  # the first line of its paragraph
    if _SENTENCE_END.search(line) or (heading and not is_heading(following)):
        return False  # a heading stays apart from its text (a heading wrapped over two lines is joined)
    return len(line.strip()) >= WRAPPED_MIN_CHARS and len(line) >= WRAPPED_SHARE * _paragraph_width(lines, i)


def unwrap(text: str, layout: str) -> str:
    """``text`` with its soft line breaks (per ``layout``) turned into spaces; same length as ``text``."""
    validate(layout)
    if layout == "keep" or "\n" not in text:
        return text
    lines = text.split("\n")
    bodies = [line.rstrip("\r") for line in lines]
    out = []
    for i, line in enumerate(lines[:-1]):
        if _soft_break(bodies, i, layout):
            out.append(line[:-1] + " " if line.endswith("\r") else line)
            out.append(" ")
        else:
            out.append(line)
            out.append("\n")
    out.append(lines[-1])
    return "".join(out)
