"""Inline tags (``service.text.markers``) through the placeholder machinery: what :class:`TermLayer` does for them
beyond what it does for any protected span.

- **Spacing**: a tag glued to a word (``<b>kota</b>``) is sent as a placeholder with spaces around it, so the
  engine sees the word itself; the spaces it added are taken away again when the tag is restored.
- **Tags inside a term**: glossary terms are matched on the text without its tags; the tags inside a matched term
  are carried by the term's slot and put back into the glossary's target form (around the same words when the
  target form has them, such as a name; else around the whole term).
- **Lost tags**: when the engine drops a tag's placeholder, the tag is put back next to the term or span it
  touched in the source, else at the same relative place in the sentence, on a word boundary, and the repair is
  reported (a ``tag`` check with method ``repaired``, which the pipeline turns into a flag). A tag is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import regex

if TYPE_CHECKING:
    from service.terminology.enforce import Protected, Slot

_PLACEHOLDER_AT = regex.compile(r"ZXQ(\d+)")


def padding(protected_so_far: str, sentence: str, end: int) -> tuple[bool, bool]:
    """Whether a tag placeholder needs a space before it (glued to the text written so far) and after it (glued to
    the sentence's next character)."""
    left = bool(protected_so_far) and not protected_so_far[-1].isspace()
    right = end < len(sentence) and not sentence[end].isspace()
    return left, right


def place_inner(form: str, matched: str, inner: Sequence[tuple[int, str]]) -> str:
    """The target ``form`` of a term with the tags that were inside its source match (``inner``: offset in the
    matched text without tags, marker run). A tag goes before/after the same words in the form when the form has
    them (names, acronyms), else at the start (tags in the first half of the term) or the end."""
    cuts = [0, *[k for k, _ in inner], len(matched)]
    inserts: list[tuple[int, int, str]] = []
    for n, (k, run) in enumerate(inner):
        after = matched[k:cuts[n + 2]].strip()
        before = matched[cuts[n]:k].strip()
        pos = None
        if after:
            found = form.casefold().find(after.casefold())
            pos = found if found >= 0 else None
        if pos is None and before:
            found = form.casefold().find(before.casefold())
            pos = found + len(before) if found >= 0 else None
        if pos is None:
            pos = 0 if k <= len(matched) / 2 else len(form)
        inserts.append((pos, n, run))
    out = form
    for pos, _, run in sorted(inserts, reverse=True):
        out = out[:pos] + run + out[pos:]
    return out


def _snap(text: str, pos: int, glued_left: bool, floor: int) -> int:
    """The word boundary nearest ``pos`` (at or after ``floor``): a word's end for a tag glued to the word before
    it (a closing tag), else a word's start."""
    def ok(p: int) -> bool:
        if glued_left:
            return p > 0 and not text[p - 1].isspace() and (p == len(text) or text[p].isspace())
        return (p == 0 or text[p - 1].isspace()) and p < len(text) and not text[p].isspace()

    candidates = [p for p in range(floor, len(text) + 1) if ok(p)]
    if not candidates:
        return len(text) if glued_left or floor >= len(text) else max(floor, 0)
    return min(candidates, key=lambda p: abs(p - pos))


def repair(text: str, protected: Protected, restored: set[str], rendered: dict[str, str]) -> tuple[str, list[Slot]]:
    """Put back the tags whose placeholders the engine lost. ``rendered``: placeholder -> what it became in
    ``text``. Returns the text and the slots repaired."""
    lost = [s for s in protected.slots if s.kind == "tag" and s.placeholder not in restored]
    if not lost:
        return text, []
    source = protected.text
    at = {int(m.group(1)): m for m in _PLACEHOLDER_AT.finditer(source)}
    plain_len = len(_PLACEHOLDER_AT.sub("", source)) or 1
    floor = 0
    for slot in lost:
        number = int(slot.placeholder[3:])
        m = at.get(number)
        if m is None:
            continue
        pos = None
        nxt = _PLACEHOLDER_AT.match(source, m.end() + (len(source[m.end():]) - len(source[m.end():].lstrip())))
        prev = regex.search(r"ZXQ(\d+)\s*$", source[:m.start()])
        if nxt is not None and f"ZXQ{nxt.group(1)}" in restored:  # before the term or span it touched
            found = text.find(rendered[f"ZXQ{nxt.group(1)}"], floor)
            pos = found if found >= 0 else None
        if pos is None and prev is not None and f"ZXQ{prev.group(1)}" in restored:  # after it
            what = rendered[f"ZXQ{prev.group(1)}"]
            found = text.find(what, floor)
            pos = found + len(what) if found >= 0 else None
        if pos is None:  # the same relative place, on a word boundary
            before = len(_PLACEHOLDER_AT.sub("", source[:m.start()]))
            glued_left = slot.pad[0] or (m.start() > 0 and not source[m.start() - 1].isspace())
            pos = _snap(text, round(len(text) * before / plain_len), glued_left and not slot.pad[1], floor)
        pos = max(pos, floor)
        text = text[:pos] + slot.required + text[pos:]
        floor = pos + len(slot.required)
    return text, lost
