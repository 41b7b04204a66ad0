"""The per-request limits (named settings, reasons in ``service.config``) and the characters a request costs
against the rate limit: texts x targets, the one currency of translation, detection, summaries and jobs.
Route policies call these as their ``cost``, before any work is done."""

from __future__ import annotations

from collections.abc import Sequence

from service.config import Settings
from service.http.errors import ApiError


def check_limits(s: Settings, texts: Sequence[str], targets: int, glossaries: Sequence[str] | None = None,
                 per_text: bool = True) -> None:
    """``per_text=False``: a text over max_text_chars is left to the pipeline, as that text's own error."""
    if len(texts) > s.max_texts:
        raise ApiError(413, "input_too_large", f"{len(texts)} texts in one request; the limit is {s.max_texts}.",
                       limit=s.max_texts, setting="max_texts")
    if targets > s.max_targets:
        raise ApiError(413, "input_too_large", f"{targets} targets in one request; the limit is {s.max_targets}.",
                       limit=s.max_targets, setting="max_targets")
    check_glossaries(s, glossaries)
    for i, text in enumerate(texts if per_text else []):
        if len(text) > s.max_text_chars:
            which = "The text" if len(texts) == 1 else f"Text {i + 1}"  # people count from one
            raise ApiError(413, "input_too_large", f"{which} has {len(text):,} characters; the limit is "
                           f"{s.max_text_chars:,} per text.", limit=s.max_text_chars, setting="max_text_chars")
    total = sum(len(t) for t in texts)
    if total > s.max_total_chars:
        raise ApiError(413, "input_too_large", f"The texts have {total:,} characters together; the limit is "
                       f"{s.max_total_chars:,}.", limit=s.max_total_chars, setting="max_total_chars")


def check_glossaries(s: Settings, glossaries: Sequence[str] | None) -> None:
    if glossaries is not None and len(glossaries) > s.max_glossaries:
        raise ApiError(413, "input_too_large", f"{len(glossaries)} glossaries in one request; the limit is "
                       f"{s.max_glossaries}.", limit=s.max_glossaries, setting="max_glossaries")


def characters(texts: Sequence[str], targets: int) -> int:
    """What a request is charged: every character, once per target language."""
    return sum(len(t) for t in texts) * max(1, targets)
