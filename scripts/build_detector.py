"""Rebuild the language detector's data (service/text/detector-model.json.gz) and measure it.

    python scripts/build_detector.py [--tico DIR] [--no-apertium]

What the model is built from (and only from this):
- word frequency lists of the ``wordfreq`` package (pip install wordfreq) for id, ms, en, tl (fil) and vi: the
  top ``TOP_WORDS`` words of each;
- the *training half* of TICO-19 (``../shared/eval/tico19``; Indonesian, Malay, English, Filipino): lines
  whose block of 50 has an even number (lines 1-50, 101-150, ...). The odd blocks are never read here except
  to measure, so the figures printed at the end are on sentences the model was not built from;
- where Apertium's ind-zlm pair is installed, Indonesian words that its dictionaries translate into a
  different Malay word (``bisa`` -> ``boleh``, ``uang`` -> ``wang``): the Indonesian side is made rarer in the
  Malay model (the Malay frequency list, made partly from subtitles, carries some Indonesian).

Thai, Khmer, Lao and Burmese are told by script and need no data.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.text.langmodel import CLIP, CharModel, LanguageModel, Models, words

log = logging.getLogger("build_detector")

TOP_WORDS = 20_000
#: share of a word probability that comes from the training sentences (the rest: the frequency list)
SENTENCE_WEIGHT = 0.5
#: probability mass for words outside a language's vocabulary
OOV = 0.1
#: a dictionary-marked Indonesian word keeps at most this share of its Malay-list probability in the Malay model
DICTIONARY_DISCOUNT = 0.1
BLOCK = 50
LANGUAGES = {"id": "id", "ms": "ms", "en": "en", "tl": "fil", "vi": "vi"}
TICO_FILES = {"id": "ind-msa/tico19-test.ind", "ms": "ind-msa/tico19-test.msa", "en": "tico19-test.eng",
              "tl": "ind-tgl/tico19-test.tgl.clean"}
#: the project's shared folder sits beside the checkout (or beside the folder of worktrees)
DEFAULT_TICO = next((p / "shared" / "eval" / "tico19" for p in Path(__file__).resolve().parents[1:4]
                     if (p / "shared" / "eval" / "tico19").is_dir()), Path("shared/eval/tico19"))


def tico_split(path: Path, held_out: bool) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for i, line in enumerate(lines) if ((i // BLOCK) % 2 == 1) == held_out and line.strip()]


def apertium_pairs(candidates: list[str]) -> list[tuple[str, str]]:
    """(Indonesian word, Malay word) where Apertium's ind-zlm dictionaries give a different Malay word."""
    if shutil.which("apertium") is None:
        log.warning("apertium is not installed: no dictionary pairs")
        return []
    done = subprocess.run(["apertium", "-u", "ind-zlm"], input="\n".join(candidates) + "\n", capture_output=True,
                          text=True, check=True)
    out = done.stdout.split("\n")
    pairs = []
    for src, tgt in zip(candidates, out, strict=False):
        tgt = tgt.strip().lower().lstrip("#@")
        if tgt and " " not in tgt and tgt != src and tgt.isalpha():
            pairs.append((src, tgt))
    return pairs


def build(tico: Path, use_apertium: bool) -> Models:
    import wordfreq

    models: dict[str, LanguageModel] = {}
    pairs: list[tuple[str, str]] = []
    if use_apertium:
        pairs = apertium_pairs(wordfreq.top_n_list("id", TOP_WORDS))
        log.info("%d dictionary pairs whose Malay differs", len(pairs))
    raw: dict[str, dict[str, float]] = {}
    marked = {a for a, b in pairs if a not in {b2 for _, b2 in pairs}}
    for lang, wf_code in LANGUAGES.items():
        freq = {}
        for w in wordfreq.top_n_list(wf_code, TOP_WORDS):
            for part in words(w):
                freq[part] = freq.get(part, 0.0) + wordfreq.word_frequency(w, wf_code)
        if lang == "ms":
            id_freq = {w: wordfreq.word_frequency(w, "id") for w in marked}
            for w in marked & freq.keys():
                freq[w] = min(freq[w], DICTIONARY_DISCOUNT * freq[w], id_freq[w] * DICTIONARY_DISCOUNT)
        total = sum(freq.values())
        probs = {w: (1 - SENTENCE_WEIGHT if lang in TICO_FILES else 1.0) * f / total for w, f in freq.items()}
        if lang in TICO_FILES:
            lines = tico_split(tico / TICO_FILES[lang], held_out=False)
            counts = Counter(w for line in lines for w in words(line))
            n = sum(counts.values())
            for w, c in counts.items():
                probs[w] = probs.get(w, 0.0) + SENTENCE_WEIGHT * c / n
        raw[lang] = probs
    for lang, probs in raw.items():
        total = sum(probs.values())
        logprobs = {w: math.log(p / total) for w, p in probs.items()}
        models[lang] = LanguageModel(lang, logprobs, OOV, CharModel.train(logprobs))
    meta = {"built_from": f"wordfreq top {TOP_WORDS} words (id, ms, en, fil, vi); TICO-19 lines in even blocks "
                          f"of {BLOCK} (id, ms, en, tl); {len(pairs)} Apertium ind-zlm pairs",
            "held_out": f"TICO-19 lines in odd blocks of {BLOCK}"}
    calibration = [(lang, words(line)) for lang in TICO_FILES
                   for line in tico_split(tico / TICO_FILES[lang], held_out=False)]
    return Models(models, fit_temperature(models, calibration), meta)


def fit_temperature(models: dict[str, LanguageModel], data: list[tuple[str, list[str]]]) -> float:
    """The temperature minimising the log loss on the training sentences."""
    probe = Models(models, 1.0, {}, CLIP)
    lls = [(lang, probe.loglik(tokens)) for lang, tokens in data if tokens]

    def loss(t: float) -> float:
        total = 0.0
        for lang, ll in lls:
            top = max(ll.values())
            z = sum(math.exp((v - top) / t) for v in ll.values())
            total -= (ll[lang] - top) / t - math.log(z)
        return total / len(lls)

    grid = [1 + 0.25 * i for i in range(60)]
    return min(grid, key=loss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tico", type=Path, default=DEFAULT_TICO)
    parser.add_argument("--no-apertium", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    models = build(args.tico, not args.no_apertium)
    if args.out:
        models.save(args.out)
    else:
        models.save()
    log.info("temperature %.2f; saved", models.temperature)
    return 0


if __name__ == "__main__":
    sys.exit(main())
