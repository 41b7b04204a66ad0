"""What a result's flags say, in one sentence each: for the command line's notes and the web pages alike."""

from __future__ import annotations

from collections.abc import Mapping

from service.text import markers


def describe_flag(flag: Mapping[str, object]) -> str:
    """One sentence for a flag: a sentence split for the model, inline tags put back, a layout not kept..."""
    segment = markers.strip(str(flag.get("segment", "")))
    if flag.get("flag") == "split":
        return (f"a sentence of {flag['tokens']} tokens was longer than the model's limit of {flag['limit']} and "
                f"was translated in {flag['parts']} parts: {segment}...")
    if flag.get("flag") == "tags_repaired":
        return (f"the engine lost {flag['tags']} inline tag(s) in a sentence; they were put back by position, "
                f"check them: {segment}...")
    return str(flag.get("message") or flag.get("flag"))
