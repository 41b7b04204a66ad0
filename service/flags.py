"""What a result's flags say, in one sentence each: for the command line's notes and the web pages alike."""

from __future__ import annotations

from collections.abc import Mapping

from service.errors import counted
from service.text import markers


def describe_flag(flag: Mapping[str, object]) -> str:
    """One sentence for a flag: a sentence split for the model, inline tags put back, an LLM's post-checks..."""
    kind = flag.get("flag")
    segment = markers.strip(str(flag.get("segment", "")))
    where = f": {segment}..." if segment else ""
    if kind == "split":
        return (f"a sentence of {flag['tokens']} tokens was longer than the model's limit of {flag['limit']} and "
                f"was translated in {flag['parts']} parts{where}")
    if kind == "tags_repaired":
        return (f"the engine lost {counted(int(flag['tags']), 'inline tag')} in a sentence; they were put back by "  # type: ignore[call-overload]
                f"position, check them{where}")
    if kind == "wrong_language":
        return f"the engine answered in {flag['detected']}, not {flag['expected']}{where}"
    if kind == "truncated":
        return f"the engine's output was cut at the length limit{where}"
    if kind == "untranslated":
        return f"the engine gave no translation ({flag.get('reason', 'no answer')}); the source is kept{where}"
    return str(flag.get("message") or kind)
