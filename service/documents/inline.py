"""A translatable unit's inline markup: tags in, marker characters through the pipeline, a well-nested tree out.

An adapter builds a unit with :class:`UnitBuilder` (text, ``open``/``close`` pairs, ``empty`` tags that stand
alone), each tag carrying whatever the adapter needs to write it back (an lxml element, a Markdown string...).
After translation, :func:`decode` turns the translated text into a tree of :class:`Node` that is always well
nested and has every tag exactly once:

- a tag the engine repeated is kept once (its first place);
- a tag lost anyway (the terminology layer already puts lost tags back by position) is put back around the
  nearest word (pairs) or at the end (a tag that stands alone): a link is never dropped;
- a closing tag before its opening tag is swapped with it;
- tags that cross (``<b>..<i>..</b>..</i>``) are split the way browsers and DeepL do: the inner element is closed
  and opened again (``continued``), so a link may come out as two links around the same words.

Private-use characters already in the source text are kept as tags of their own (they would read as markers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import regex

from service.text import markers

OPEN, CLOSE, EMPTY = "open", "close", "empty"
_WORD_END = regex.compile(r"\S+\s*$")


@dataclass
class Tag:
    kind: str  # OPEN, CLOSE or EMPTY
    payload: Any = None
    partner: int | None = None  # the index of the other half of a pair


@dataclass
class Literal:
    """A private-use character of the source text, kept as it was."""

    char: str


@dataclass
class Unit:
    """A translatable unit: text with marker characters, its tags, and the adapter's handle on where it lives."""

    text: str
    tags: list[Tag]
    ref: Any = None

    @property
    def plain(self) -> str:
        return markers.strip(self.text)


class UnitBuilder:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self.tags: list[Tag] = []

    def _add(self, tag: Tag) -> int:
        self.tags.append(tag)
        n = len(self.tags) - 1
        self._parts.append(markers.marker(n))
        return n

    def text(self, text: str) -> None:
        if not text:
            return
        if not markers.has_markers(text):
            self._parts.append(text)
            return
        for ch in text:
            if markers.is_marker(ch):
                self._add(Tag(EMPTY, Literal(ch)))
            else:
                self._parts.append(ch)

    def open(self, payload: Any) -> int:
        return self._add(Tag(OPEN, payload))

    def close(self, opened: int, payload: Any = None) -> int:
        n = self._add(Tag(CLOSE, payload, opened))
        self.tags[opened].partner = n
        return n

    def empty(self, payload: Any) -> int:
        return self._add(Tag(EMPTY, payload))

    @property
    def value(self) -> str:
        return "".join(self._parts)

    def unit(self, ref: Any = None) -> Unit:
        return Unit(self.value, self.tags, ref)

    def has_text(self) -> bool:
        return bool(markers.strip(self.value).strip())


@dataclass
class Node:
    """An element of the decoded tree: an opening tag's index and what it encloses (``continued``: a second
    part of an element split where tags crossed)."""

    tag: int
    children: list[Node | str | Empty] = field(default_factory=list)
    continued: bool = False


@dataclass
class Empty:
    tag: int


_SPLIT = regex.compile("(" + markers.CLASS + ")")


def _tokens(text: str, count: int) -> list[str | int]:
    out: list[str | int] = []
    for i, piece in enumerate(_SPLIT.split(text)):
        if i % 2:  # a marker; one that is no tag of this unit is dropped
            n = markers.index(piece)
            if n < count:
                out.append(n)
        elif piece:
            if out and isinstance(out[-1], str):
                out[-1] += piece
            else:
                out.append(piece)
    return out


def _insert_around_word(tokens: list[str | int], index: int, before: bool, tag: int) -> None:
    """Insert ``tag`` at the start of the word that ends just before ``tokens[index]`` (before=True), or at the end
    of the word that starts just after it."""
    if before:
        for i in range(index - 1, -1, -1):
            if isinstance(tokens[i], str) and tokens[i].strip():
                text = tokens[i]
                m = _WORD_END.search(text.rstrip())
                cut = m.start() if m else 0
                tokens[i:i + 1] = [t for t in (text[:cut], tag, text[cut:]) if t != ""]
                return
        tokens.insert(0, tag)
        return
    for i in range(index + 1, len(tokens)):
        if isinstance(tokens[i], str) and tokens[i].strip():
            text = tokens[i]
            m = regex.match(r"\s*\S+", text)
            cut = m.end() if m else len(text)
            tokens[i:i + 1] = [t for t in (text[:cut], tag, text[cut:]) if t != ""]
            return
    tokens.append(tag)


def decode(text: str, tags: list[Tag]) -> list[Node | str | Empty]:
    """The translated ``text`` of a unit with ``tags`` as a well-nested tree (see the module's docstring)."""
    tokens = _tokens(text, len(tags))
    seen: set[int] = set()
    deduped: list[str | int] = []
    for t in tokens:
        if isinstance(t, int):
            if t in seen:
                continue
            seen.add(t)
        deduped.append(t)
    tokens = deduped
    for n, tag in enumerate(tags):  # lost anyway: put back (pairs around the nearest word)
        if n in seen:
            continue
        if tag.kind == EMPTY:
            tokens.append(n)
        elif tag.kind == OPEN and tag.partner is not None:
            if tag.partner in seen:
                _insert_around_word(tokens, tokens.index(tag.partner), True, n)
            else:  # both halves lost: around the last word (the closing half follows it below)
                _insert_around_word(tokens, len(tokens), True, n)
        elif tag.kind == CLOSE and tag.partner is not None:
            _insert_around_word(tokens, tokens.index(tag.partner), False, n)
        seen.add(n)
    for n, tag in enumerate(tags):  # a closing tag before its opening tag: swap them
        if tag.kind == OPEN and tag.partner is not None:
            i, j = tokens.index(n), tokens.index(tag.partner)
            if j < i:
                tokens[i], tokens[j] = tokens[j], tokens[i]
    root: list[Node | str | Empty] = []
    stack: list[Node] = []

    def here() -> list[Node | str | Empty]:
        return stack[-1].children if stack else root

    for t in tokens:
        if isinstance(t, str):
            here().append(t)
            continue
        tag = tags[t]
        if tag.kind == EMPTY or tag.partner is None:
            here().append(Empty(t))
        elif tag.kind == OPEN:
            node = Node(t)
            here().append(node)
            stack.append(node)
        else:  # CLOSE: close its element, splitting the elements opened inside it
            opened = tag.partner
            if not any(node.tag == opened for node in stack):
                continue
            reopen = []
            while stack[-1].tag != opened:
                reopen.append(stack.pop())
            stack.pop()
            for inner in reversed(reopen):
                node = Node(inner.tag, continued=True)
                here().append(node)
                stack.append(node)
    return root


def plain_text(tree: list[Node | str | Empty]) -> str:
    """The text of a decoded tree, without any tag."""
    return "".join(plain_text(n.children) if isinstance(n, Node) else n if isinstance(n, str) else "" for n in tree)
