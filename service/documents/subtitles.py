"""Subtitles: SRT and WebVTT (webvtt-py reads and validates both).

Only the cues' text lines change: cue numbers, identifiers, timings and their settings, the WEBVTT header, NOTE,
STYLE and REGION blocks and the line endings are written back byte for byte. A sentence that runs over several
cues is translated as one sentence (a unit ends at a cue whose text ends a sentence, or after ``MAX_CUES`` cues),
and the translation is spread over the same cues again in proportion to their source length, each cue keeping
its number of lines where it has words enough. Cue markup (``<i>``, ``<b>``, ``<v Name>``, ``<c.class>``, SRT's
``{\\an8}``) travels as tags; formatting that crosses into another cue is closed at the cue's end and opened again
in the next, so every cue stays well formed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import regex
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from service.documents.base import DocumentInvalid, Limits, decode_text
from service.documents.inline import EMPTY, Empty, Literal, Node, Unit, UnitBuilder, decode

#: A unit never spans more cues than this, punctuation or not (songs, lists of names).
MAX_CUES = 6
_TAG = regex.compile(r"<(/?)([A-Za-z0-9]*)[^>\n]*>|\{\\[^}\n]*\}")
_SENTENCE_END = regex.compile(r"[.!?…。؟][\"'”’»)\]]*$")
_TIMING = regex.compile(r"-->")


@dataclass
class Cue:
    line: int  # the index of its first text line in the file
    lines: list[str]  # its text lines as in the file


@dataclass
class SubtitleDocument:
    text: str
    kind: str  # "srt" or "vtt"
    units: list[Unit] = field(default_factory=list)
    declared_source: str | None = None

    def __post_init__(self) -> None:
        try:
            parsed = webvtt.WebVTT.from_buffer(io.StringIO(self.text), format=self.kind)
        except (MalformedFileError, MalformedCaptionError, ValueError, IndexError):
            what = "an SRT" if self.kind == "srt" else "a WebVTT"
            raise DocumentInvalid(f"The file is not {what} subtitle file that can be read (check its timings and "
                                  "blank lines between cues).") from None
        self.file_lines = self.text.splitlines(keepends=True)
        self.cues = self._cues()
        if len(self.cues) != len(parsed.captions):
            raise DocumentInvalid("The subtitle file's cues cannot be told apart; check the blank lines between "
                                  "them.")
        group: list[int] = []
        for i, cue in enumerate(self.cues):
            group.append(i)
            plain = _TAG.sub("", " ".join(cue.lines)).strip()
            if _SENTENCE_END.search(plain) or len(group) >= MAX_CUES or i == len(self.cues) - 1:
                unit = self._unit(group)
                if unit is not None:
                    self.units.append(unit)
                group = []

    def _cues(self) -> list[Cue]:
        bodies = [line.rstrip("\r\n") for line in self.file_lines]
        cues = []
        i = 0
        while i < len(bodies):
            if _TIMING.search(bodies[i]):  # a timing line: the cue's text follows, up to a blank line
                start = i + 1
                end = start
                while end < len(bodies) and bodies[end].strip():
                    end += 1
                cues.append(Cue(start, bodies[start:end]))
                i = end
            i += 1
        return cues

    def _unit(self, group: list[int]) -> Unit | None:
        b = UnitBuilder()
        opened: list[tuple[str, int]] = []
        for n, i in enumerate(group):
            if n:
                b.text(" ")
            text = " ".join(line.strip() for line in self.cues[i].lines)
            last = 0
            for m in _TAG.finditer(text):
                b.text(text[last:m.start()])
                last = m.end()
                closing, name = m.group(1), (m.group(2) or "").lower()
                if m.group(0).startswith("{") or not name:
                    b.empty(m.group(0))
                elif not closing:
                    opened.append((name, b.open(m.group(0))))
                elif opened and opened[-1][0] == name:
                    b.close(opened.pop()[1], m.group(0))
                else:
                    b.empty(m.group(0))
            b.text(text[last:])
        return b.unit(group) if b.has_text() else None

    def write(self, translations: list[str], target: str) -> bytes:
        lines = list(self.file_lines)
        replaced: dict[int, tuple[int, list[str]]] = {}
        for unit, text in zip(self.units, translations, strict=True):
            group: list[int] = unit.ref
            words = _words(decode(text, unit.tags), unit)
            shares = [len(_TAG.sub("", " ".join(self.cues[i].lines)).strip()) or 1 for i in group]
            for i, cue_words in zip(group, _distribute(words, shares), strict=True):
                cue = self.cues[i]
                replaced[cue.line] = (len(cue.lines), _cue_lines(cue_words, len(cue.lines), unit))
        out = []
        n = 0
        while n < len(lines):
            if n in replaced:
                count, new = replaced[n]
                ending = lines[n][len(lines[n].rstrip("\r\n")):] or "\n"
                out += [line + ending for line in new]
                last = lines[n + count - 1]
                if not last.endswith(("\n", "\r")):  # the file's last line had no line ending: nor does ours
                    out[-1] = out[-1].rstrip("\r\n")
                n += count
                continue
            out.append(lines[n])
            n += 1
        return "".join(out).encode("utf-8")


def _words(nodes: list[Node | str | Empty], unit: Unit, stack: tuple[int, ...] = ()) -> list[list[Any]]:
    """The decoded translation as words, each a list of (kind, value, open tags) items: text pieces and tags that
    stand alone, with the formatting open around them."""
    words: list[list[Any]] = [[]]

    def add(item: Any, space: bool = False) -> None:
        if space:
            if words[-1]:
                words.append([])
            return
        words[-1].append(item)

    def walk(items: list[Node | str | Empty], stack: tuple[int, ...]) -> None:
        for node in items:
            if isinstance(node, str):
                for piece in regex.split(r"(\s+)", node):
                    if piece:
                        add(("text", piece, stack), space=piece.isspace())
            elif isinstance(node, Empty) or unit.tags[node.tag].kind == EMPTY:
                payload = unit.tags[node.tag].payload
                add(("text", payload.char, stack) if isinstance(payload, Literal) else ("tag", payload, stack))
            else:
                walk(node.children, (*stack, node.tag))

    walk(nodes, stack)
    return [w for w in words if w]


def _distribute(words: list[list[Any]], shares: list[int]) -> list[list[list[Any]]]:
    """Words over cues in proportion to ``shares`` (each cue gets a word while there are words enough)."""
    n, k, total = len(words), len(shares), sum(shares)
    bounds, cumulative = [], 0
    for j in range(k - 1):
        cumulative += shares[j]
        low = (bounds[-1] if bounds else 0) + (1 if n >= k else 0)
        high = n - (k - 1 - j) if n >= k else n
        bounds.append(min(max(round(n * cumulative / total), low), high))
    edges = [0, *bounds, n]
    return [words[edges[j]:edges[j + 1]] for j in range(k)]


def _cue_lines(words: list[list[Any]], count: int, unit: Unit) -> list[str]:
    """One cue's words as text lines (as many as the source cue had, balanced), tags opened and closed inside."""
    if not words:
        return ["…"]
    texts = _render(words, unit)
    if count <= 1 or len(texts) < 2:
        return [" ".join(texts)]
    total = sum(len(t) for t in texts) + len(texts) - 1
    lines, current, size = [], [], 0
    for t in texts:
        if current and size >= total * (len(lines) + 1) / count and len(lines) < count - 1:
            lines.append(" ".join(current))
            current = []
        current.append(t)
        size += len(t) + 1
    lines.append(" ".join(current))
    return lines


def _render(words: list[list[Any]], unit: Unit) -> list[str]:
    """Words with their tags: the formatting open at each piece is opened and closed as it changes, and everything
    still open is closed at the cue's end (so a line break between words never breaks a tag)."""
    out: list[str] = []
    current: list[int] = []
    for word in words:
        parts: list[str] = []
        for _kind, value, stack in word:
            keep = 0
            while keep < len(current) and keep < len(stack) and current[keep] == stack[keep]:
                keep += 1
            closers = "".join(unit.tags[unit.tags[tag].partner].payload for tag in reversed(current[keep:]))
            if closers and not parts and out:  # a tag closed between words ends with the word before
                out[-1] += closers
            else:
                parts.append(closers)
            for tag in stack[keep:]:
                parts.append(unit.tags[tag].payload)
            current = list(stack)
            parts.append(value)
        out.append("".join(parts))
    if current and out:
        out[-1] += "".join(unit.tags[unit.tags[tag].partner].payload for tag in reversed(current))
    return out


class SrtFormat:
    name = "srt"
    extensions = (".srt",)
    media_type = "application/x-subrip; charset=utf-8"
    output_extension = None
    output_media_type = None
    note = None

    def load(self, data: bytes, limits: Limits) -> SubtitleDocument:
        return SubtitleDocument(decode_text(data, "The subtitle file"), "srt")


class VttFormat(SrtFormat):
    name = "vtt"
    extensions = (".vtt",)
    media_type = "text/vtt; charset=utf-8"

    def load(self, data: bytes, limits: Limits) -> SubtitleDocument:
        return SubtitleDocument(decode_text(data, "The subtitle file"), "vtt")
