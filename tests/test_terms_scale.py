"""Term matching at national scale: one Aho-Corasick index per source language serves every target, with the
rules of the 63-entry glossary kept inside a large generated one (overlapping and nested terms, terms that differ
only by case, terms inside protected spans, case folding that changes lengths), and checked against a plain
regular-expression reference on random texts."""

from __future__ import annotations

import random

import pytest
import regex
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from service.terminology.enforce import TermLayer
from service.terminology.glossary import Entry, Glossary
from service.terminology.matcher import TermIndex, bounded

WORDS = ["kota", "cerdas", "asean", "jaringan", "negeri", "dalam", "kementerian", "bina", "adwil", "pintar",
         "bandar", "rapat", "tahunan", "smart", "city", "network", "dan", "di", "ke"]


def entry(forms: dict[str, str], case: bool = False, dnt: bool = False, deprecated: dict[str, str] | None = None
          ) -> Entry:
    return Entry({k: tuple(v.split("|")) for k, v in forms.items()}, dnt, case, "", "test",
                 {k: tuple(v.split("|")) for k, v in (deprecated or {}).items()})


@pytest.fixture(scope="module")
def big() -> Glossary:
    """60,000 generated word n-grams (id, en, ms) around the entries the tests below look for."""
    rng = random.Random(7)
    vocabulary = [f"{a}{b}" for a in ("ka", "mi", "su", "to", "pe", "ra", "li", "ne") for b in
                  ("bat", "kur", "dan", "gin", "lo", "mar", "pi", "sen", "tu", "wa")]
    seen: set[str] = set()
    entries = []
    while len(entries) < 60_000:
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 4))]
        term = " ".join(words)
        if term not in seen:
            seen.add(term)
            entries.append(entry({"id": term, "en": term.upper(), "ms": term + " ms"}))
    entries += [
        entry({"id": "kota", "en": "city", "ms": "bandar"}),
        entry({"id": "kota cerdas", "en": "smart city", "ms": "bandar pintar"}),
        entry({"id": "jaringan kota cerdas asean", "en": "ASEAN Smart Cities Network"}),  # no ms form
        entry({"id": "cerdas asean", "en": "ASEAN-smart"}),
        entry({"id": "KBRI", "en": "Indonesian Embassy", "ms": "Kedutaan Indonesia"}, case=True),
        entry({"id": "kbri", "en": "(lower-case kbri)", "ms": "(kbri kecil)"}),
        entry({"id": "Bina Adwil", "en": "Bina Adwil"}, dnt=True),
        entry({"id": "straße", "en": "street", "ms": "jalan"}),
        entry({"id": "i̇stanbul", "en": "Istanbul", "ms": "Istanbul"}),
        entry({"id": "kemendagri", "en": "Ministry of Home Affairs", "ms": "Kementerian Dalam Negeri"},
              deprecated={"id": "depdagri", "en": "Home Ministry"}),
        entry({"th": "เมืองอัจฉริยะ", "id": "kota pintar"}),
    ]
    return Glossary("big", tuple(entries), version="1", languages=("id", "en", "ms"))


def texts(index: TermIndex, text: str, target: str | None) -> list[str]:
    return [m.text for m in index.find(text, target)]


def test_one_index_serves_every_target_with_the_rules_kept(big: Glossary) -> None:
    index = TermLayer([big]).index("id")
    assert index.size > 60_000
    text = "Rapat Jaringan Kota Cerdas ASEAN di kota tua."
    # nested and overlapping: the longest wins for a target it has a form for ...
    assert texts(index, text, "en") == ["Jaringan Kota Cerdas ASEAN", "kota"]
    # ... and an entry without a form in the target never hides the shorter terms that have one
    assert texts(index, text, "ms") == ["Kota Cerdas", "kota"]
    # overlapping candidates of equal standing: the longest first, then the leftmost; the gap is filled
    assert texts(index, "kota cerdas asean", "en") == ["kota", "cerdas asean"]
    assert texts(index, "kota cerdas asean", "ms") == ["kota cerdas"]
    assert [m.start for m in index.find(text, "ms")] == [text.index("Kota"), text.index("kota tua")]


def test_case_only_differences_and_case_folding_that_changes_length(big: Glossary) -> None:
    index = TermIndex([big], "id")
    found = index.find("KBRI, kbri, Kbri dan STRASSE, Straße, İstanbul.", "en")
    assert [(m.text, m.entry.target_form("en", m.text)) for m in found] == [
        ("KBRI", "Indonesian Embassy"), ("kbri", "(lower-case kbri)"), ("Kbri", "(lower-case kbri)"),
        ("STRASSE", "street"), ("Straße", "street"), ("İstanbul", "Istanbul")]
    text = "ke İstanbul dan Straße."
    for m in index.find(text, "ms"):  # offsets are the text's, whatever folding did to lengths
        assert text[m.start:m.end] == m.text
    assert texts(index, "strasse", "en") == ["strasse"] and texts(index, "STRAẞE", "en") == ["STRAẞE"]
    assert texts(index, "xstraße kbrix", "en") == []  # word boundaries


def test_deprecated_forms_are_matched_but_never_produced(big: Glossary) -> None:
    index = TermIndex([big], "id")
    (match,) = index.find("Depdagri hadir.", "en")
    assert match.entry.target_form("en", match.text) == "Ministry of Home Affairs"
    assert index.find("Home Ministry", None) == []  # an English deprecated form is not an Indonesian term
    assert [m.text for m in TermIndex([big], "en").find("the Home Ministry and the Ministry of Home Affairs",
                                                         "id")] == ["Home Ministry", "Ministry of Home Affairs"]


def test_terms_are_never_matched_inside_protected_spans(big: Glossary) -> None:
    layer = TermLayer([big], ("url", "email", "mention"))
    protected = layer.protect("Lihat https://kota.go.id/kota-cerdas, tulis ke kota@kemendagri.go.id atau @kota; "
                              "kota cerdas.", "id", "en")
    kinds = [(s.kind, s.match.text) for s in protected.slots]
    assert kinds == [("url", "https://kota.go.id/kota-cerdas"), ("email", "kota@kemendagri.go.id"),
                     ("mention", "@kota"), ("term", "kota cerdas")]


def test_thai_is_matched_by_character_and_later_glossaries_win(big: Glossary) -> None:
    th = TermIndex([big], "th")
    assert [m.text for m in th.find("ประชุมเมืองอัจฉริยะวันนี้", "id")] == ["เมืองอัจฉริยะ"]
    later = Glossary("later", (entry({"id": "kota", "en": "town"}),), version="1")
    index = TermIndex([big, later], "id")
    assert index.find("kota", "en")[0].entry.target_form("en", "kota") == "town"
    assert index.find("kota", "ms")[0].entry.target_form("ms", "kota") == "bandar"  # later has no ms: earlier


# -- against a plain reference ---------------------------------------------------------------------------
def reference(entries: list[Entry], text: str, target: str) -> list[tuple[int, int, int]]:
    """Every bounded occurrence of every form (regex, case rules as documented), the first usable entry per
    (start, end) in priority order (case-sensitive first, later entries first), longest first, then leftmost."""
    per_span: dict[tuple[int, int], list[tuple[int, Entry]]] = {}
    for order, e in enumerate(entries):
        for form in e.source_forms("id"):
            flags = regex.V1 if e.case_sensitive else regex.V1 | regex.IGNORECASE | regex.FULLCASE
            for m in regex.finditer(bounded(regex.escape(form), False), text, flags, overlapped=True):
                if e.case_sensitive or m.group().casefold() == form.casefold():
                    per_span.setdefault((m.start(), m.end()), []).append((order, e))
    candidates = []
    for (start, end), found in per_span.items():
        found.sort(key=lambda item: (not item[1].case_sensitive, -item[0]))
        usable = next((e for _, e in found if e.usable_for(target)), None)
        if usable is not None:
            candidates.append((start, end, next(i for i, e in enumerate(entries) if e is usable)))
    chosen: list[tuple[int, int, int]] = []
    for start, end, key in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, key))
    return sorted(chosen)


glossary_entries = st.lists(st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
                                      st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=25)


@given(spec=glossary_entries, words=st.lists(st.sampled_from([*WORDS, "KOTA", "Cerdas", "ASEAN", ",", "-"]),
                                             max_size=30), target=st.sampled_from(["en", "ms"]))
@hypothesis_settings(max_examples=150, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))
def test_the_index_agrees_with_a_plain_reference(spec, words: list[str], target: str) -> None:
    entries = []
    for n, (term_words, upper, has_ms, sensitive) in enumerate(spec):
        term = " ".join(term_words)
        forms = {"id": term.upper() if upper else term, "en": f"e{n}"}
        if has_ms:
            forms["ms"] = f"m{n}"
        entries.append(entry(forms, case=sensitive))
    text = " ".join(words).replace(" ,", ",")
    found = TermIndex([Glossary("g", tuple(entries))], "id").find(text, target)
    got = [(m.start, m.end, next(i for i, e in enumerate(entries) if e is m.entry)) for m in found]
    assert got == reference(entries, text, target)
