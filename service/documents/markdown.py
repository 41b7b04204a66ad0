"""Markdown (markdown-it-py, CommonMark with tables and front matter), translated in place.

Nothing is re-rendered: the parser says where each paragraph's, heading's, list item's and table cell's inline
text lies in the source, and only those stretches of those lines are replaced. Everything else (front matter,
code blocks and fences, HTML blocks, link reference definitions, blank lines, list markers, blockquote marks,
indentation, line endings) is byte for byte what it was.

Inside the inline text, the text itself is translated and every piece of markup between two pieces of text is a
tag carrying its source exactly (``**``, ``[`` and ``](url "title")``, `` `code` ``, inline HTML, a backslash
escape, an entity, a hard break); emphasis and links are pairs. A paragraph written over several lines is
translated as one text and spread over the same lines again (never starting a line with something Markdown would
read as a new block); table cells get ``|`` escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import regex
from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from service.documents.base import DocumentInvalid, Limits, decode_text
from service.documents.inline import EMPTY, Empty, Literal, Node, Unit, UnitBuilder, decode

_PAIRS = {"em_close": "em_open", "strong_close": "strong_open", "link_close": "link_open", "s_close": "s_open"}
#: What a line may not start with after re-wrapping (it would begin another block).
_BLOCK_START = regex.compile(r"^(?:[#>+*=|`~<-]|\d+[.)])")
_SOFT_BREAK = regex.compile(r"^[ \t]*\n[ \t]*$")


@dataclass
class Block:
    """Where an inline text lies: (line, start column, end column) of each of its lines, and whether it is a cell."""

    segments: list[tuple[int, int, int]]
    cell: bool
    gaps: dict[int, str] = field(default_factory=dict)


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").use(front_matter_plugin).disable(
        "text_join")


@dataclass
class MarkdownDocument:
    text: str
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines(keepends=True)
        bodies = [line.rstrip("\r\n") for line in self.lines]
        cursor = [0] * len(bodies)
        try:
            tokens = _parser().parse(self.text)
        except Exception:  # the parser recovers from anything Markdown; this is a safety net
            raise DocumentInvalid("The Markdown file cannot be read.") from None
        cell = False
        for token in tokens:
            if token.type in ("th_open", "td_open"):
                cell = True
            elif token.type in ("th_close", "td_close"):
                cell = False
            if token.type != "inline" or not token.map or not token.content.strip():
                continue
            segments = []
            for i, line in enumerate(token.content.split("\n")):
                n = token.map[0] + i
                if n >= len(bodies):
                    break
                col = bodies[n].find(line, cursor[n])
                if col < 0:
                    segments = []
                    break
                segments.append((n, col, col + len(line)))
                cursor[n] = col + len(line)
            if len(segments) != len(token.content.split("\n")):
                continue  # cannot be placed in the source exactly: left as it is
            unit = self._unit(token, Block(segments, cell))
            if unit is not None:
                self.units.append(unit)

    def _unit(self, token: Any, block: Block) -> Unit | None:
        content = token.content
        b = UnitBuilder()
        pos = 0
        gap: list[Any] = []
        opened: list[tuple[str, int]] = []
        pending_start = 0

        def flush(end: int) -> None:
            nonlocal gap
            source = content[pending_start:end]
            if not source:
                gap = []
                return
            if [t.type for t in gap] == ["softbreak"] and _SOFT_BREAK.match(source):
                b.text(" ")
            elif len(gap) == 1 and gap[0].type in _PAIRS.values():
                opened.append((gap[0].type, b.open(source)))
            elif len(gap) == 1 and gap[0].type in _PAIRS and opened and opened[-1][0] == _PAIRS[gap[0].type]:
                b.close(opened.pop()[1], source)
            else:
                b.empty(source)
            gap = []

        for child in token.children or []:
            if child.type == "text":
                found = content.find(child.content, pos)
                if found < 0:
                    return None
                flush(found)
                b.text(child.content)
                pos = found + len(child.content)
                pending_start = pos
            else:
                gap.append(child)
        flush(len(content))
        return b.unit(block) if b.has_text() else None

    def write(self, translations: list[str], target: str) -> bytes:
        lines = [[line.rstrip("\r\n"), line[len(line.rstrip("\r\n")):]] for line in self.lines]
        edits: dict[int, list[tuple[int, int, str]]] = {}
        dropped: set[int] = set()
        for unit, text in zip(self.units, translations, strict=True):
            block: Block = unit.ref
            rendered = _serialise(decode(text, unit.tags), unit)
            if block.cell:
                rendered = regex.sub(r"(?<!\\)\|", r"\\|", rendered)
            parts = _spread(rendered, [end - start for _, start, end in block.segments])
            for (n, start, end), part in zip(block.segments, parts, strict=False):
                edits.setdefault(n, []).append((start, end, part))
            for n, _, _ in block.segments[len(parts):]:
                dropped.add(n)
        for n, changes in edits.items():
            body = lines[n][0]
            for start, end, part in sorted(changes, reverse=True):
                body = body[:start] + part + body[end:]
            lines[n][0] = body
        return "".join(body + ending for n, (body, ending) in enumerate(lines) if n not in dropped).encode("utf-8")


def _serialise(nodes: list[Node | str | Empty], unit: Unit) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        tag = unit.tags[node.tag]
        payload = tag.payload.char if isinstance(tag.payload, Literal) else tag.payload
        if isinstance(node, Empty) or tag.kind == EMPTY:
            out.append(payload)
        else:
            closing = unit.tags[tag.partner].payload if tag.partner is not None else ""
            out.append(payload + _serialise(node.children, unit) + closing)
    return "".join(out)


def _spread(text: str, widths: list[int]) -> list[str]:
    """``text`` over as many lines as ``widths`` (the source's lines), breaking at spaces near the same
    proportions; never at a place where the next line would start a new Markdown block. Its own line breaks (hard
    breaks) are kept. Fewer lines come back when there are not enough places to break."""
    lines = text.split("\n")
    want = len(widths)
    while len(lines) < want:
        longest = max(range(len(lines)), key=lambda i: len(lines[i]))
        line = lines[longest]
        spaces = [m.start() for m in regex.finditer(r" (?=\S)", line)
                  if m.start() > 0 and not _BLOCK_START.match(line[m.start() + 1:])]
        if not spaces:
            break
        middle = len(line) / 2
        cut = min(spaces, key=lambda i: abs(i - middle))
        lines[longest:longest + 1] = [line[:cut], line[cut + 1:]]
    return lines


class MarkdownFormat:
    name = "markdown"
    extensions = (".md", ".markdown")
    media_type = "text/markdown; charset=utf-8"
    output_extension = None
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> MarkdownDocument:
        return MarkdownDocument(decode_text(data, "The Markdown file"))
