"""A small, transparent language model per language: word unigrams with a character 4-gram model for the words
it has not seen, scored as naive Bayes (each word independent given the language).

    log P(text | L) = sum over words w of  log P(w | L)
    P(w | L) = (1 - oov_L) * P_word(w | L)          if w is in L's vocabulary
             = min(oov_L * P_char(w | L), the rarest vocabulary word's P)    otherwise
    P_char(w | L) = product over the characters of "<w>" of P(c | 3 previous characters, L), each order
                    interpolated with the next lower one (Dirichlet smoothing, ``DIRICHLET``)

Indonesian and Malay share most of their words, so the split between those two is refined by a second,
discriminative model (``PairModel``): a logistic regression whose features are each word's frequency ratio in the
two languages, whether only one of the two Apertium analysers knows the word (``kerana``, ``bahawa``,
``pesakit`` against ``karena``, ``bahwa``, ``pasien``) and whether Apertium's dictionaries translate it into a
different word. Its weights are folded into one number per word (nats of evidence for Malay), so the model
reads like a table. The final Indonesian-or-Malay log-odds blend the naive Bayes log-odds and the pair model's.

The data (word log-probabilities, character n-gram counts, the pair model's word weights) is built by
``scripts/build_detector.py`` from word frequency lists, training sentences and Apertium's dictionaries, and
shipped as one small gzipped JSON file beside this module.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import regex

MODEL_FILE = Path(__file__).with_name("detector-model.json.gz")
ORDER = 4  # characters of context + 1
DIRICHLET = 2.0
#: The most one word can count against a language (nats). Without a bound one rare or foreign word decides: an
#: English title or a technical term inside an Indonesian sentence, or a word one vocabulary happens to lack.
CLIP = 5.0
#: Words: runs of letters (and combining marks), lower-cased; "kota-kota" is two words.
WORD = regex.compile(r"[\p{L}\p{M}]+", regex.V1)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


class CharModel:
    """Character n-gram counts (orders 1..ORDER) of one language's words, with interpolated smoothing."""

    def __init__(self, counts: dict[str, int], alphabet: int):
        self.counts = counts
        self.alphabet = alphabet  # distinct characters, for the uniform floor

    @classmethod
    def train(cls, vocabulary: Iterable[str]) -> CharModel:
        counts: dict[str, int] = {}
        chars: set[str] = set()
        for word in vocabulary:
            padded = "<" * (ORDER - 1) + word + ">"
            chars.update(word)
            for i in range(ORDER - 1, len(padded)):
                for n in range(1, ORDER + 1):
                    gram = padded[i - n + 1:i + 1]
                    counts[gram] = counts.get(gram, 0) + 1
                    # the context's own count, stored with a marker so contexts and grams never clash
                    ctx = "\x01" + gram[:-1]
                    counts[ctx] = counts.get(ctx, 0) + 1
        return cls(counts, len(chars) + 1)

    def logprob(self, word: str) -> float:
        padded = "<" * (ORDER - 1) + word + ">"
        total = 0.0
        for i in range(ORDER - 1, len(padded)):
            p = 1.0 / (self.alphabet + 1)
            for n in range(1, ORDER + 1):
                gram = padded[i - n + 1:i + 1]
                ctx = self.counts.get("\x01" + gram[:-1], 0)
                p = (self.counts.get(gram, 0) + DIRICHLET * p) / (ctx + DIRICHLET)
            total += math.log(p)
        return total


class LanguageModel:
    def __init__(self, language: str, word_logprobs: dict[str, float], oov: float, chars: CharModel):
        self.language = language
        self.word_logprobs = word_logprobs
        self.log_known = math.log(1 - oov)
        self.log_oov = math.log(oov)
        self.chars = chars
        #: an unseen word is never more likely than the rarest word of the vocabulary: a word frequent in one
        #: language and missing from another's list is evidence, however ordinary its letters look
        self.floor = min(word_logprobs.values(), default=0.0)

    def logprob(self, word: str) -> float:
        lp = self.word_logprobs.get(word)
        if lp is not None:
            return self.log_known + lp
        return min(self.log_oov + self.chars.logprob(word), self.floor)

    def to_dict(self) -> dict[str, object]:
        return {"words": {w: round(lp, 3) for w, lp in self.word_logprobs.items()},
                "oov": math.exp(self.log_oov), "chars": self.chars.counts, "alphabet": self.chars.alphabet}

    @classmethod
    def from_dict(cls, language: str, data: dict) -> LanguageModel:
        return cls(language, data["words"], data["oov"], CharModel(data["chars"], data["alphabet"]))


class PairModel:
    """Two close languages told apart (``first`` Indonesian, ``second`` Malay): the log-odds of ``second`` are

        bias + sum over words w of (token_bias + weights[w])     (weights[w] = 0 for a word not in the table)

    a logistic regression on per-word features whose weights, multiplied out, give one number per word.
    ``blend`` is the share of the naive Bayes log-odds in the final call (the rest: this model's)."""

    def __init__(self, first: str, second: str, weights: dict[str, float], token_bias: float, bias: float,
                 blend: float):
        self.first, self.second = first, second
        self.weights = weights
        self.token_bias = token_bias
        self.bias = bias
        self.blend = blend

    def log_odds(self, tokens: list[str]) -> float:
        """Evidence for ``second`` over ``first`` (nats)."""
        return self.bias + sum(self.token_bias + self.weights.get(w, 0.0) for w in tokens)

    def to_dict(self) -> dict[str, object]:
        return {"languages": [self.first, self.second], "words": {w: round(x, 3) for w, x in self.weights.items()},
                "token_bias": round(self.token_bias, 4), "bias": round(self.bias, 4), "blend": self.blend}

    @classmethod
    def from_dict(cls, data: dict) -> PairModel:
        first, second = data["languages"]
        return cls(first, second, data["words"], data["token_bias"], data["bias"], data["blend"])


class Models:
    """The per-language models, the pair model for Indonesian and Malay, and the calibration of their scores
    into probabilities."""

    def __init__(self, models: dict[str, LanguageModel], temperature: float, meta: dict[str, object],
                 clip: float = CLIP, pair: PairModel | None = None):
        self.models = models
        self.temperature = temperature
        self.meta = meta
        self.clip = clip
        self.pair = pair

        self._langs = list(models)
        self.word_scores = lru_cache(maxsize=200_000)(self._word_scores)  # words repeat: score each once

    def _word_scores(self, word: str) -> tuple[float, ...]:
        scores = [self.models[lang].logprob(word) for lang in self._langs]
        best = max(scores)
        return tuple(max(lp, best - self.clip) for lp in scores)

    def loglik(self, tokens: list[str]) -> dict[str, float]:
        """Summed word log-probabilities per language, each word's evidence bounded by ``clip`` nats."""
        totals = [0.0] * len(self._langs)
        for w in tokens:
            for i, lp in enumerate(self.word_scores(w)):
                totals[i] += lp
        return dict(zip(self._langs, totals, strict=True))

    def posteriors(self, tokens: list[str]) -> dict[str, float]:
        """P(language | words) with a uniform prior, the log-likelihoods divided by the calibrated temperature
        (naive Bayes counts correlated evidence many times over; the temperature undoes its overconfidence);
        the pair model then re-splits the probability of Indonesian-or-Malay between the two."""
        ll = self.loglik(tokens)
        top = max(ll.values())
        weights = {lang: math.exp((v - top) / self.temperature) for lang, v in ll.items()}
        total = sum(weights.values())
        posteriors = {lang: w / total for lang, w in weights.items()}
        pair = self.pair
        if pair is not None and pair.first in ll and pair.second in ll:
            # the pair's share of the probability stays; the pair model re-splits it between the two
            both = posteriors[pair.first] + posteriors[pair.second]
            nb = (ll[pair.second] - ll[pair.first]) / self.temperature
            odds = pair.blend * nb + (1 - pair.blend) * pair.log_odds(tokens)
            second = both / (1 + math.exp(-odds)) if odds > -700 else 0.0
            posteriors[pair.first], posteriors[pair.second] = both - second, second
        return posteriors

    def save(self, path: Path = MODEL_FILE) -> None:
        data = {"meta": self.meta, "temperature": self.temperature, "clip": self.clip,
                "languages": {lang: m.to_dict() for lang, m in self.models.items()},
                "pair": self.pair.to_dict() if self.pair is not None else None}
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
        path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


@cache
def load(path: Path = MODEL_FILE) -> Models:
    data = json.loads(gzip.decompress(path.read_bytes()))
    models = {lang: LanguageModel.from_dict(lang, d) for lang, d in data["languages"].items()}
    pair = PairModel.from_dict(data["pair"]) if data.get("pair") else None
    return Models(models, data["temperature"], data["meta"], data["clip"], pair)
