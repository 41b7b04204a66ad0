"""Spans that must come out of translation exactly as they went in: URLs, e-mail addresses, @mentions,
#hashtags, file names, numbers with units, money, numeric dates, times, inline code, and Unicode
noncharacters (U+FFFF and the like, which some engines take for the end of the text).

``find`` returns them without overlaps (the longest wins where two kinds overlap, e.g. a URL that contains an
e-mail address). The terminology layer replaces each one with a placeholder, exactly like a do-not-translate
glossary term, so they travel through every engine the same way, and glossary terms are never matched inside
them. Each kind (except ``noncharacter``) can be switched off with the ``protected_spans`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from service.text import markers

#: Units written after a number (SI and the common ones in ASEAN government text). "%" needs no space.
_UNITS = (r"km|m|cm|mm|kg|g|mg|t|ha|m2|m²|km2|km²|m3|m³|l|ml|L|mL|MW|kW|kWh|MWh|GW|GWh|W|V|A|Hz|MHz|GHz|"
          r"KB|MB|GB|TB|Mbps|Gbps|°C|°F|ppm|mmHg|km/jam|km/h")
_NUMBER = r"\d+(?:[.,]\d+)*"
#: Currency symbols and codes written before an amount.
_CURRENCY = r"Rp\.?|RM|S\$|US\$|USD|IDR|MYR|SGD|THB|VND|PHP|₱|฿|₫|\$|€|£|¥"
#: Time zones written after a time (Indonesia's WIB/WITA/WIT, and the usual ones).
_ZONES = r"WIB|WITA|WIT|UTC|GMT|MYT|SGT|ICT|PHT"
_FILE_EXTENSIONS = (r"pdf|docx?|xlsx?|pptx?|odt|ods|csv|tsv|txt|json|xml|html?|zip|rar|7z|tar|gz|png|jpe?g|gif|"
                    r"svg|mp4|mp3|wav|py|js|ts|sh|md|yaml|yml|toml|ini|log|sql|exe|apk")

#: Domains written without "www." or a scheme ("kemendagri.go.id", "asean.org"): lower case, a known ending.
_DOMAINS = (r"go\.id|co\.id|ac\.id|or\.id|gov\.my|com\.my|edu\.my|gov\.sg|go\.th|gov\.vn|gov\.ph|gov\.kh|"
            r"gov\.la|gov\.mm|com|org|net|int|gov|edu|id|my|sg|th|vn|ph|kh|la|mm|asia|info|io")

PATTERNS: dict[str, str] = {
    "code": r"`[^`\n]+`",
    "url": r"(?:(?:https?://|ftp://|www\.)[^\s<>\"'`\uE000-\uF8FF]+?|(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:" + _DOMAINS
           + r")(?![\w-])(?:/[^\s<>\"'`\uE000-\uF8FF]*?)?)(?=[.,;:!?)\]]*(?:\s|$|[<>\"'`\uE000-\uF8FF]))",
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "mention": r"(?<![\w@])@\w+(?:\.\w+)*",
    "hashtag": r"(?<![\w#&])#\w*[^\W\d_]\w*",
    "file": rf"(?<![\w/.-])[\w-]+(?:\.[\w-]+)*\.(?:{_FILE_EXTENSIONS})(?![\w])",
    "money": rf"(?<![\w$])(?:{_CURRENCY})\s?{_NUMBER}(?:,-)?(?![\d])",
    "date": r"(?<![\w./-])(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}\s?[-–]\s?\d{1,2}(?=\s+\p{L}))"
            r"(?![\w/-])",
    # 10:30 always; 10.30 (a decimal too) only with a time zone after it or "pukul"/"jam" before it
    "time": rf"(?<![\w.:,])(?:\d{{1,2}}:\d{{2}}(?::\d{{2}})?|(?<=(?:pukul|jam|pkl\.?)\s+)\d{{1,2}}\.\d{{2}}"
            rf"|\d{{1,2}}\.\d{{2}}(?=\s?(?:{_ZONES})(?!\w)))(?:\s?(?:{_ZONES})(?!\w))?(?![\w:]|[.,]\d)",
    "number": rf"(?<![\w.,]){_NUMBER}\s?(?:%|(?:{_UNITS})(?![\w]))",
    "noncharacter": r"[\p{Noncharacter_Code_Point}]+",
    # inline markup of a document (service.text.markers): adjacent tags are one span, so their placeholders
    # never touch each other
    "tag": markers.CLASS + "+",
}
#: Kinds always kept apart, whatever the setting: noncharacters (they truncate Apertium's output) and the inline
#: tags of documents.
ALWAYS: tuple[str, ...] = ("noncharacter", "tag")
#: Kinds a setting may switch off.
KINDS: tuple[str, ...] = tuple(k for k in PATTERNS if k not in ALWAYS)
_COMPILED = {kind: regex.compile(pattern, regex.V1) for kind, pattern in PATTERNS.items()}


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int
    text: str


def parse_kinds(value: str) -> tuple[str, ...]:
    """``"url,email"`` -> the kinds; "all" for every kind, "" or "none" for none. Unknown names raise ValueError."""
    value = value.strip().lower()
    if value == "all":
        return KINDS
    if value in ("", "none"):
        return ()
    kinds = tuple(dict.fromkeys(k.strip() for k in value.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown span kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return kinds


def find(text: str, kinds: tuple[str, ...] | frozenset[str] = KINDS) -> list[Span]:
    """Protected spans of ``text`` in order, without overlaps; where two overlap the longer wins."""
    candidates = [Span(kind, m.start(), m.end(), m.group())
                  for kind in (*kinds, *ALWAYS) if kind in _COMPILED
                  for m in _COMPILED[kind].finditer(text) if m.end() > m.start()]
    chosen: list[Span] = []
    for cand in sorted(candidates, key=lambda s: (-(s.end - s.start), s.start)):
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda s: s.start)


def strip(text: str, kinds: tuple[str, ...] = KINDS) -> str:
    """``text`` without its protected spans (for language detection: a URL is no evidence of a language)."""
    out, last = [], 0
    for span in find(text, kinds):
        out += [text[last:span.start], " "]
        last = span.end
    out.append(text[last:])
    return "".join(out)
