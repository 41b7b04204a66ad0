"""Language detection accuracy on text the detector was not built from; writes bench/results/detect.md.

    python bench/detect.py [--lingua]

Held out: TICO-19 lines in odd blocks of 50 (lines 51-100, 151-200, ...; the model was built from the even
blocks, scripts/build_detector.py) for Indonesian, Malay, English and Filipino; every TICO-19 line for Khmer and
Burmese (told by script: no data was built from them); the seed article (never used to build), per sentence and
per paragraph. Items are single sentences, and paragraphs of 3 and 5 consecutive sentences. Sentences whose
Indonesian and Malay versions are the same words are counted like the rest (no detector can tell them apart;
the prior sends them to Indonesian). ``--lingua`` adds the previous detector (lingua) on the same items.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from build_detector import BLOCK, DEFAULT_TICO, TICO_FILES, tico_split  # noqa: E402

from bench.common import machine_header  # noqa: E402
from service.config import Settings  # noqa: E402
from service.text.detect import LanguageDetector  # noqa: E402
from service.text.detect_eval import TABLE_HEADER, DetectAccuracy, evaluate, items_of  # noqa: E402
from service.text.segment import Segmenter  # noqa: E402

SEED = ROOT / "examples" / "ascn-shepherd-2025.id.txt"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tico", type=Path, default=DEFAULT_TICO)
    parser.add_argument("--lingua", action="store_true", help="also measure lingua on the same items")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect.md")
    args = parser.parse_args()
    s = Settings()
    detector = LanguageDetector(s.source_prior, s.detect_min_confidence, s.detect_min_words,
                                prior_weight=s.source_prior_weight)
    rows, errors = [], []
    lingua_rows = []
    lingua = LinguaDetector() if args.lingua else None
    for name, lang, items in datasets(args.tico):
        result: DetectAccuracy = evaluate(detector, lang, items)
        rows.append(result.row(name))
        if result.errors and "sentences" in name and lang in ("id", "ms"):
            errors.append(f"{name}, {lang}:\n```\n{result.format(8)}\n```")
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
    body += ["## Indonesian and Malay sentences it gets wrong (first 8)", "", *errors, ""]
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
