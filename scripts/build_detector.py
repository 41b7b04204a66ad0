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
  Malay model (the Malay frequency list, made partly from subtitles, carries some Indonesian);
- the Indonesian-or-Malay pair model (``service.text.langmodel.PairModel``): a logistic regression fitted on the
  same training half of TICO-19 (Indonesian and Malay), over six features of each word: its frequency ratio in
  wordfreq's two lists, its count ratio in the training sentences, whether only Apertium's Malay (or only its
  Indonesian) analyser knows it, and whether Apertium's dictionaries translate it into a different word in the
  other language. The training sentences' features are cross-fitted (the training half split in two by block,
  each half's features taken from the other half's counts and vocabulary), so the fit sees words it has not
  counted, as detection does.

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

from service.text.langmodel import CLIP, CharModel, LanguageModel, Models, PairModel, words

log = logging.getLogger("build_detector")

TOP_WORDS = 20_000
#: share of a word probability that comes from the training sentences (the rest: the frequency list)
SENTENCE_WEIGHT = 0.5
#: probability mass for words outside a language's vocabulary
OOV = 0.1
#: a dictionary-marked Indonesian word keeps at most this share of its Malay-list probability in the Malay model
DICTIONARY_DISCOUNT = 0.1
#: the pair model's per-word log ratios are bounded (nats): one word's count in a small sample decides little
PAIR_CLIP = 4.0
#: smoothing of the pair model's ratios: wordfreq frequency floor, training-sentence pseudo-count
PAIR_FREQ_FLOOR = 1e-7
PAIR_PSEUDO_COUNT = 0.5
#: L2 penalty of the pair model's feature weights (the biases are not penalised)
PAIR_L2 = 1.0
#: share of the naive Bayes log-odds in the final Indonesian-or-Malay call (the rest is the pair model's); 0.5
#: measured best on the training half (cross-validated on its two halves; the held-out half untouched)
PAIR_BLEND = 0.5
PAIR_FEATURES = ("wordfreq_ratio", "sentence_ratio", "malay_analyser_only", "indonesian_analyser_only",
                 "indonesian_translated_differently", "malay_translated_differently")
APERTIUM_DATA = Path("/usr/share/apertium/apertium-ind-zlm")
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


def _run(command: list[str], lines: list[str]) -> list[str]:
    done = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    return done.stdout.split("\n")


def analyser_knows(vocabulary: list[str], analyser: str) -> set[str]:
    """The words that Apertium's analyser (``ind-zlm``: Indonesian, ``zlm-ind``: Malay) knows, lower-case or
    capitalised (month and place names are capitalised in the dictionaries)."""
    known: set[str] = set()
    for form in (str.lower, str.capitalize):
        out = _run(["lt-proc", "-a", str(APERTIUM_DATA / f"{analyser}.automorf.bin")], [form(w) for w in vocabulary])
        for word, line in zip(vocabulary, out, strict=False):  # one line out per line in
            if line.startswith("^") and "/*" not in line:
                known.add(word)
    return known


def translations(vocabulary: list[str], direction: str) -> dict[str, str]:
    """Each word as Apertium translates it alone (``ind-zlm`` or ``zlm-ind``), lower-case, unknown marks off."""
    out = _run(["apertium", "-u", direction], vocabulary)
    return {w: t.strip().lower().lstrip("#@*") for w, t in zip(vocabulary, out, strict=False)}


class PairFeatures:
    """The pair model's features of a word, from word frequency lists, training-sentence counts and (optionally)
    Apertium's dictionary facts about a vocabulary."""

    def __init__(self, freq: dict[str, dict[str, float]], counts: dict[str, Counter[str]],
                 lexicon: dict[str, tuple[bool, ...]], vocabulary: set[str], english: set[str]):
        self.freq = freq
        self.counts = counts
        self.totals = {lang: sum(c.values()) for lang, c in counts.items()}
        self.lexicon = lexicon
        self.vocabulary = vocabulary  # dictionary facts are known for these words only (as at detection)
        self.english = english  # words commoner in English than in either: no evidence between the two

    def __call__(self, word: str) -> tuple[float, ...]:
        if word in self.english:
            return (0.0,) * len(PAIR_FEATURES)
        fi, fm = self.freq["id"].get(word, 0.0), self.freq["ms"].get(word, 0.0)
        wf = _clip(math.log((fm + PAIR_FREQ_FLOOR) / (fi + PAIR_FREQ_FLOOR))) if fi or fm else 0.0
        ci, cm = self.counts["id"][word], self.counts["ms"][word]
        ratio = ((cm + PAIR_PSEUDO_COUNT) / self.totals["ms"]) / ((ci + PAIR_PSEUDO_COUNT) / self.totals["id"])
        sentences = _clip(math.log(ratio)) if ci or cm else 0.0
        facts = self.lexicon.get(word, (False,) * 4) if word in self.vocabulary else (False,) * 4
        return (wf, sentences, *(float(x) for x in facts))


def _clip(x: float) -> float:
    return max(-PAIR_CLIP, min(PAIR_CLIP, x))


def pair_lexicon(vocabulary: list[str]) -> dict[str, tuple[bool, ...]]:
    """word -> (Malay analyser only, Indonesian analyser only, Indonesian translated differently, Malay translated
    differently), from Apertium's ind-zlm dictionaries."""
    ind, zlm = analyser_knows(vocabulary, "ind-zlm"), analyser_knows(vocabulary, "zlm-ind")
    to_ms, to_id = translations(vocabulary, "ind-zlm"), translations(vocabulary, "zlm-ind")
    lexicon = {}
    for w in vocabulary:
        facts = (w in zlm and w not in ind, w in ind and w not in zlm, w in ind and to_ms.get(w, w) != w,
                 w in zlm and to_id.get(w, w) != w)
        if any(facts):
            lexicon[w] = facts
    return lexicon


def fit_logistic(rows: list[list[float]], labels: list[int], penalised: int, l2: float) -> list[float]:
    """Weights of a logistic regression (Newton's method, L2 penalty on the first ``penalised`` weights), in
    plain Python: the same numbers on every machine, so the data file is rebuilt byte for byte."""
    k = len(rows[0])
    theta = [0.0] * k
    for _ in range(100):
        grad = [l2 * theta[j] if j < penalised else 0.0 for j in range(k)]
        hess = [[(l2 if i == j and j < penalised else 0.0) for j in range(k)] for i in range(k)]
        for x, y in zip(rows, labels, strict=True):
            z = sum(t * v for t, v in zip(theta, x, strict=True))
            p = 1 / (1 + math.exp(-z)) if z > -700 else 0.0
            for i in range(k):
                grad[i] += (p - y) * x[i]
                for j in range(k):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        step = _solve(hess, grad)
        theta = [t - s for t, s in zip(theta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-10:
            break
    return theta


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """a x = b by Gaussian elimination with partial pivoting (a is small and positive definite)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for j in range(c, n + 1):
                m[r][j] -= f * m[c][j]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][j] * x[j] for j in range(r + 1, n))) / m[r][r]
    return x


def build_pair(tico: Path, use_apertium: bool) -> tuple[PairModel, dict[str, float]]:
    """The Indonesian-or-Malay pair model, and its fitted feature weights (for the record)."""
    import wordfreq

    freq = {lang: {w: f for w, f in wordfreq.get_frequency_dict(lang).items() if words(w) == [w]}
            for lang in ("id", "ms")}
    halves = {lang: _halves(tico / TICO_FILES[lang]) for lang in ("id", "ms")}
    counts = {h: {lang: Counter(w for line in halves[lang][h] for w in words(line)) for lang in ("id", "ms")}
              for h in (0, 1)}
    listed = set(freq["id"]) | set(freq["ms"])
    # an English title or term in either language ("Smart City Expert Talk", "development") says nothing about
    # which of the two it is, however the two frequency lists happen to differ on it
    english = {w for w in listed if wordfreq.word_frequency(w, "en") > max(freq["id"].get(w, 0.0),
                                                                            freq["ms"].get(w, 0.0))}
    vocab_of = {h: listed | set(counts[h]["id"]) | set(counts[h]["ms"]) for h in (0, 1)}
    vocabulary = sorted(vocab_of[0] | vocab_of[1])
    lexicon = pair_lexicon(vocabulary) if use_apertium else {}
    rows, labels = [], []
    for h in (0, 1):  # each half's sentences, with the features the other half gives
        features = PairFeatures(freq, counts[1 - h], lexicon, vocab_of[1 - h], english)
        for label, lang in enumerate(("id", "ms")):
            for line in halves[lang][h]:
                total = [0.0] * (len(PAIR_FEATURES) + 2)
                for w in words(line):
                    for i, v in enumerate(features(w)):
                        total[i] += v
                    total[-2] += 1.0  # a per-word bias
                total[-1] = 1.0  # the sentence's bias
                rows.append(total)
                labels.append(label)
    theta = fit_logistic(rows, labels, len(PAIR_FEATURES), PAIR_L2)
    everything = PairFeatures(freq, {lang: counts[0][lang] + counts[1][lang] for lang in ("id", "ms")}, lexicon,
                              set(vocabulary), english)
    weights = {}
    for w in vocabulary:
        x = sum(t * v for t, v in zip(theta, everything(w), strict=False))
        if round(x, 3):
            weights[w] = x
    fitted = dict(zip((*PAIR_FEATURES, "token_bias", "bias"), theta, strict=True))
    log.info("pair model: %s; %d words", ", ".join(f"{k} {v:.3f}" for k, v in fitted.items()), len(weights))
    return PairModel("id", "ms", weights, theta[-2], theta[-1], PAIR_BLEND), fitted


def _halves(path: Path) -> tuple[list[str], list[str]]:
    """The training half (even blocks) split in two: blocks 0, 4, 8... and blocks 2, 6, 10..."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple([line for i, line in enumerate(lines) if (i // BLOCK) % 4 == r and line.strip()]  # type: ignore
                 for r in (0, 2))


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
    pair, fitted = build_pair(tico, use_apertium)
    meta = {"built_from": f"wordfreq top {TOP_WORDS} words (id, ms, en, fil, vi); TICO-19 lines in even blocks "
                          f"of {BLOCK} (id, ms, en, tl); {len(pairs)} Apertium ind-zlm pairs; Indonesian-or-Malay "
                          "pair model: wordfreq id and ms lists, the same TICO-19 lines"
                          + (", Apertium ind-zlm analysers and dictionaries" if use_apertium else ""),
            "held_out": f"TICO-19 lines in odd blocks of {BLOCK}",
            "pair_feature_weights": {k: round(v, 4) for k, v in fitted.items()}}
    calibration = [(lang, words(line)) for lang in TICO_FILES
                   for line in tico_split(tico / TICO_FILES[lang], held_out=False)]
    return Models(models, fit_temperature(models, calibration), meta, pair=pair)


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
