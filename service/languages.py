"""The languages the service knows: ISO 639-1 codes internally, FLORES-200 and other aliases accepted."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import UnsupportedLanguage


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1, the internal form
    name: str
    flores: str  # FLORES-200 code, also NLLB's language token
    script: str  # ISO 15924
    no_spaces: bool = False  # written without spaces between words (match terms by character)
    mbart: str | None = None  # mBART-50 language token, where the model has one


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("id", "Indonesian", "ind_Latn", "Latn", mbart="id_ID"),
        Language("en", "English", "eng_Latn", "Latn", mbart="en_XX"),
        Language("ms", "Malay", "zsm_Latn", "Latn"),
        Language("th", "Thai", "tha_Thai", "Thai", no_spaces=True, mbart="th_TH"),
        Language("vi", "Vietnamese", "vie_Latn", "Latn", mbart="vi_VN"),
        Language("tl", "Filipino", "tgl_Latn", "Latn", mbart="tl_XX"),
        Language("km", "Khmer", "khm_Khmr", "Khmr", no_spaces=True, mbart="km_KH"),
        Language("lo", "Lao", "lao_Laoo", "Laoo", no_spaces=True),
        Language("my", "Burmese", "mya_Mymr", "Mymr", no_spaces=True, mbart="my_MM"),
    )
}

#: Other spellings users send: ISO 639-2/3 codes, Filipino's own code, Apertium's and OPUS's.
ALIASES: dict[str, str] = {
    "ind": "id", "in": "id", "eng": "en", "msa": "ms", "zsm": "ms", "zlm": "ms", "may": "ms",
    "tha": "th", "vie": "vi", "fil": "tl", "tgl": "tl", "khm": "km", "lao": "lo", "mya": "my", "bur": "my",
}
for _lang in LANGUAGES.values():
    ALIASES[_lang.flores.lower()] = _lang.code

ASEAN_TARGETS: tuple[str, ...] = ("en", "ms", "th", "vi", "tl", "km", "lo", "my")

#: Languages a detector cannot reliably tell apart on short texts (lingua confuses Indonesian and Malay on
#: one sentence in seven): an output detected as one when the other was asked is not called wrong.
CLOSE_LANGUAGES: tuple[frozenset[str], ...] = (frozenset({"id", "ms"}),)


def same_language(detected: str, expected: str) -> bool:
    return detected == expected or any({detected, expected} <= pair for pair in CLOSE_LANGUAGES)


def normalize(code: str) -> str:
    """Return the internal (ISO 639-1) code for ``code``, accepting FLORES-200 codes and aliases."""
    key = code.strip().replace("-", "_").lower()
    if key in LANGUAGES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise UnsupportedLanguage(
        f"Unknown language code {code!r}; use one of {', '.join(LANGUAGES)} (or a FLORES-200 code such as tha_Thai).",
        language=code, supported=list(LANGUAGES),
    )


def get(code: str) -> Language:
    return LANGUAGES[normalize(code)]


def parse_list(codes: str | list[str]) -> list[str]:
    """``"en,ms, tha_Thai"`` or a list -> ``["en", "ms", "th"]`` (order kept, duplicates dropped)."""
    items = codes.split(",") if isinstance(codes, str) else codes
    out: list[str] = []
    for item in items:
        if item.strip():
            code = normalize(item)
            if code not in out:
                out.append(code)
    return out
