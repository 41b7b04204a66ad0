"""Language detection accuracy on text the detector was not built from; writes bench/results/detect.md.

    python bench/detect.py [--lingua]

Held out: TICO-19 lines in odd blocks of 50 (lines 51-100, 151-200, ...; the model was built from the even
blocks, scripts/build_detector.py) for Indonesian, Malay, English and Filipino; every TICO-19 line for Khmer and
Burmese (told by script: no data was built from them); the seed article (never used to build), per sentence and
per paragraph. Items are single sentences, and paragraphs of 3 and 5 consecutive sentences. Sentences whose
Indonesian and Malay versions are the same words are counted like the rest (no detector can tell them apart;
the prior sends them to Indonesian). ``--lingua`` adds the previous detector (lingua) on the same items.

Also written: the trade-off of the source prior's weight (Indonesian against Malay accuracy); the accuracy on the
sentences that contain a *distinctive* word (one that only one of Apertium's two analysers knows: ``kerana``,
``bahawa``, ``pesakit`` against ``karena``, ``bahwa``, ``pasien``; needs Apertium) and on those that contain
none; and every Indonesian and Malay sentence it gets wrong, with the words that weighed most and the same
sentence in the other language (shown to read the miss, never used to build anything).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from build_detector import BLOCK, DEFAULT_TICO, TICO_FILES, analyser_knows, tico_split  # noqa: E402

from bench.common import machine_header  # noqa: E402
from service.config import Settings  # noqa: E402
from service.text import langmodel  # noqa: E402
from service.text.detect import LanguageDetector  # noqa: E402
from service.text.detect_eval import TABLE_HEADER, DetectAccuracy, evaluate, items_of  # noqa: E402
from service.text.segment import Segmenter  # noqa: E402

SEED = ROOT / "examples" / "ascn-shepherd-2025.id.txt"
#: source prior weights for the trade-off table
PRIOR_WEIGHTS = (1.0, 1.2, 1.3, 1.5, 1.7, 2.0, 2.5, 3.0)
#: a word counts in a miss's explanation when the pair model gives it at least this many nats
EVIDENCE_NATS = 0.5
SCRIPT_FILES = {"km": "ind-khm/tico19-test.khm.clean", "my": "ind-mya/tico19-test.mya.clean"}


def datasets(tico: Path) -> list[tuple[str, str, list[str]]]:
    """(name, language, items)"""
    out = []
    for lang, name in TICO_FILES.items():
        lines = tico_split(tico / name, held_out=True)
        out.append(("TICO-19 held-out, sentences", lang, items_of(lines)))
        out.append(("TICO-19 held-out, sentences of 5+ words", lang, [x for x in items_of(lines)
                                                                      if len(x.split()) >= 5]))
        out.append(("TICO-19 held-out, paragraphs of 3", lang, items_of(lines, 3)))
        out.append(("TICO-19 held-out, paragraphs of 5", lang, items_of(lines, 5)))
    for lang, name in SCRIPT_FILES.items():
        lines = (tico / name).read_text(encoding="utf-8").splitlines()
        out.append(("TICO-19 (all: told by script)", lang, items_of(lines)))
    segmenter = Segmenter()
    article = SEED.read_text(encoding="utf-8")
    sentences = [s.strip() for line in article.splitlines() for s in segmenter.split(line, "id") if s.strip()]
    out.append(("seed article, sentences", "id", sentences))
    out.append(("seed article, paragraphs (lines)", "id", items_of(article.splitlines())))
    return out


class LinguaDetector:
    """The detector this project used before (lingua, five Latin-script languages), for comparison."""

    def __init__(self) -> None:
        from lingua import Language, LanguageDetectorBuilder

        self.codes = {Language.INDONESIAN: "id", Language.MALAY: "ms", Language.ENGLISH: "en",
                      Language.VIETNAMESE: "vi", Language.TAGALOG: "tl"}
        self.lingua = LanguageDetectorBuilder.from_languages(*self.codes).build()
        self.script = LanguageDetector()

    def detect(self, text: str):
        found = self.script.detect(text)
        if found.by == "script":
            return found
        values = self.lingua.compute_language_confidence_values(text)
        from service.text.detect import Detection

        return Detection(self.codes[values[0].language], values[0].value, False)


def prior_tradeoff(settings: Settings, tico: Path) -> list[str]:
    """Indonesian and Malay accuracy (sentences, paragraphs of 3) for each source prior weight."""
    held = {lang: tico_split(tico / TICO_FILES[lang], held_out=True) for lang in ("id", "ms")}
    rows = ["| prior weight | id sentences | ms sentences | id uncertain | ms uncertain | ms confidently wrong "
            "| id paragraphs of 3 | ms paragraphs of 3 |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for weight in PRIOR_WEIGHTS:
        detector = LanguageDetector(settings.source_prior, settings.detect_min_confidence, settings.detect_min_words,
                                    prior_weight=weight)
        r = {(lang, n): evaluate(detector, lang, items_of(held[lang], n)) for lang in ("id", "ms") for n in (1, 3)}
        mark = " (default)" if weight == settings.source_prior_weight else ""
        unsure = {lang: _pct(r[lang, 1].uncertain / r[lang, 1].items) for lang in ("id", "ms")}
        rows.append(f"| {weight}{mark} | {_pct(r['id', 1].accuracy)} | {_pct(r['ms', 1].accuracy)} | "
                    f"{unsure['id']} | {unsure['ms']} | {r['ms', 1].confident_wrong} | "
                    f"{r['id', 3].right}/{r['id', 3].items} | {r['ms', 3].right}/{r['ms', 3].items} |")
    return rows


def distinctive_split(detector: LanguageDetector, tico: Path) -> list[str]:
    """Accuracy on the held-out sentences with and without a word only one of Apertium's analysers knows."""
    held = {lang: tico_split(tico / TICO_FILES[lang], held_out=True) for lang in ("id", "ms")}
    vocabulary = sorted({w for lines in held.values() for line in lines for w in langmodel.words(line)})
    try:
        ind, zlm = analyser_knows(vocabulary, "ind-zlm"), analyser_knows(vocabulary, "zlm-ind")
    except (OSError, subprocess.CalledProcessError):
        return ["(Apertium's ind-zlm analysers are not installed: not measured)"]
    distinctive = (ind - zlm) | (zlm - ind)
    rows = ["| language | sentences with a distinctive word | right | sentences without one | right | "
            "uncertain among those without |", "| --- | --- | --- | --- | --- | --- |"]
    for lang in ("id", "ms"):
        with_one = [x for x in held[lang] if distinctive & set(langmodel.words(x))]
        without = [x for x in held[lang] if not distinctive & set(langmodel.words(x))]
        a, b = evaluate(detector, lang, with_one), evaluate(detector, lang, without)
        rows.append(f"| {lang} | {a.items} | {_pct(a.accuracy)} | {b.items} | {_pct(b.accuracy)} | "
                    f"{_pct(b.uncertain / b.items if b.items else 0)} |")
    return rows


def misses(detector: LanguageDetector, tico: Path) -> list[str]:
    """Every held-out Indonesian and Malay sentence detected wrong, with its evidence and its parallel."""
    held = {lang: tico_split(tico / TICO_FILES[lang], held_out=True) for lang in ("id", "ms")}
    pair = detector.models.pair
    out = []
    for lang, other in (("ms", "id"), ("id", "ms")):
        out += [f"### {lang} sentences detected wrong", ""]
        for text, parallel in zip(held[lang], held[other], strict=True):
            found = detector.detect(text)
            if found.language == lang:
                continue
            tokens = langmodel.words(text)
            evidence = [f"{w} {pair.weights.get(w, 0.0):+.1f}" for w in dict.fromkeys(tokens)
                        if pair is not None and abs(pair.weights.get(w, 0.0)) >= EVIDENCE_NATS]
            state = "uncertain" if found.uncertain else "SURE"
            out += [f"- {found.language} {found.confidence:.2f} {state}: {text}",
                    f"  - evidence for Malay (nats): {', '.join(evidence) or 'none'}",
                    f"  - the {other} sentence: {parallel}"]
        out.append("")
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tico", type=Path, default=DEFAULT_TICO)
    parser.add_argument("--lingua", action="store_true", help="also measure lingua on the same items")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect.md")
    args = parser.parse_args()
    s = Settings()
    detector = LanguageDetector(s.source_prior, s.detect_min_confidence, s.detect_min_words,
                                prior_weight=s.source_prior_weight)
    rows = []
    lingua_rows = []
    lingua = LinguaDetector() if args.lingua else None
    for name, lang, items in datasets(args.tico):
        result: DetectAccuracy = evaluate(detector, lang, items)
        rows.append(result.row(name))
        print(result.row(name), flush=True)
        if lingua is not None and lang in ("id", "ms"):
            lingua_rows.append(evaluate(lingua, lang, items).row(name))  # type: ignore[arg-type]
    meta = detector.models.meta
    body = [
        "# Language detection on held-out text", "",
        machine_header(["wordfreq"]) if _has("wordfreq") else machine_header([]),
        f"- model: `service/text/detector-model.json.gz`, built from {meta['built_from']}",
        f"- held out (never used to build it): {meta['held_out']}; TICO-19 Khmer and Burmese; the seed article",
        f"- settings: source_prior={s.source_prior} (weight {s.source_prior_weight}), "
        f"detect_min_confidence={s.detect_min_confidence}, detect_min_words={s.detect_min_words}",
        f"- blocks of {BLOCK} lines: the split keeps the parallel files apart (no held-out line's translation was "
        "used to build the model either)",
        "- right: the language used (the prior counted) is the right one; uncertain: reported as uncertain (with "
        "its candidates); right when sure: share right among the calls not reported uncertain; confidently wrong: "
        "another language reported without doubt",
        "- command: `python bench/detect.py" + (" --lingua`" if args.lingua else "`"), "",
        TABLE_HEADER, *rows, "",
    ]
    if lingua_rows:
        body += ["## The previous detector (lingua 5 languages) on the same items", "", TABLE_HEADER, *lingua_rows,
                 ""]
    pair = detector.models.pair
    if pair is not None:
        body += ["## The Indonesian-or-Malay pair model", "",
                 f"- blend: {pair.blend} of the naive Bayes log-odds, {1 - pair.blend:g} of the pair model's; "
                 f"{len(pair.weights)} words in its table; bias {pair.bias:+.3f}, per word {pair.token_bias:+.3f}",
                 "- feature weights: " + ", ".join(f"{k} {v:+.3f}" for k, v in meta.get("pair_feature_weights",
                                                                                         {}).items()),
                 "- the words with the most weight (nats for Malay): "
                 + ", ".join(f"{w} {x:+.1f}" for w, x in sorted(pair.weights.items(), key=lambda kv: -kv[1])[:12])
                 + " ... " + ", ".join(f"{w} {x:+.1f}" for w, x in sorted(pair.weights.items(),
                                                                         key=lambda kv: kv[1])[:12]), ""]
    body += ["## The source prior's weight: Indonesian against Malay", "",
             "Held-out TICO-19 sentences and paragraphs of 3 (right = the language used, the prior counted).", "",
             *prior_tradeoff(s, args.tico), "",
             "## Sentences with and without a distinctive word", "",
             "A distinctive word is one that only one of Apertium's two analysers (Indonesian, Malay) knows "
             "(`kerana`, `bahawa`, `pesakit`, `kualiti` against `karena`, `bahwa`, `pasien`, `kualitas`). A sentence "
             "without one is mostly words both languages use alike.", "",
             *distinctive_split(detector, args.tico), "",
             "## Every held-out Indonesian and Malay sentence it gets wrong", "",
             "With the words the pair model weighs most (positive: Malay) and, to read the miss, the same sentence "
             "in the other language (never used to build the model). Why they are hard: "
             "`bench/results/detect-malay-misses.md`.", "",
             *misses(detector, args.tico)]
    args.out.write_text("\n".join(body), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _has(package: str) -> bool:
    try:
        __import__(package)
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    sys.exit(main())
