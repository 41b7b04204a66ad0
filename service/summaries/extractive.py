"""Extractive summaries: LexRank over the document's sentences, with a lead prior for news.

1. Sentences come from the same segmenter as translation; a first line that is one sentence without final
   punctuation is the headline and is not a candidate unless asked for.
2. Each sentence is a TF-IDF vector of lower-cased words (character bigrams for scripts without spaces).
3. LexRank: PageRank on the cosine-similarity graph (damping 0.85). The teleport vector favours early
   sentences (weight 1/(position + 1)): news puts its point first, and the prior keeps the lead sentence from
   losing to a long sentence that merely shares many words with the rest (on the seed article, without it the
   one-sentence summary is the list of pilot cities, not the news).
4. Sentences are taken by score (ties: the earlier one), skipping any with cosine > 0.7 to one already taken
   (near-duplicates), until the length budget is met; they are returned in document order.

Deterministic: no sampling, and every tie is broken by position.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import numpy as np
import regex

from service import languages
from service.summaries.options import CHARS_PER_WORD_NO_SPACES, FINAL_PUNCTUATION, SummaryOptions, count_words
from service.text.segment import Segmenter

DAMPING = 0.85
NEAR_DUPLICATE = 0.7
_WORD = regex.compile(r"\w+", regex.V1)


def _features(sentence: str, lang: str) -> list[str]:
    text = sentence.lower()
    if languages.get(lang).no_spaces:
        chars = [c for c in text if not c.isspace()]
        return [a + b for a, b in pairwise(chars)]
    return _WORD.findall(text)


def _similarity(bags: list[Counter[str]]) -> np.ndarray:
    n = len(bags)
    df = Counter(term for bag in bags for term in bag)
    vocab = {term: i for i, term in enumerate(sorted(df))}
    matrix = np.zeros((n, len(vocab)))
    for row, bag in enumerate(bags):
        for term, tf in bag.items():
            matrix[row, vocab[term]] = tf * math.log((1 + n) / (1 + df[term]) + 1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms == 0, 1, norms)
    return matrix @ matrix.T


def lexrank(similarity: np.ndarray) -> np.ndarray:
    n = similarity.shape[0]
    graph = similarity.copy()
    np.fill_diagonal(graph, 0)
    rows = graph.sum(axis=1, keepdims=True)
    prior = 1 / (np.arange(n) + 1)
    prior /= prior.sum()
    transition = np.where(rows > 0, graph / np.where(rows == 0, 1, rows), prior)  # dangling rows teleport
    scores = np.full(n, 1 / n)
    for _ in range(200):
        updated = (1 - DAMPING) * prior + DAMPING * transition.T @ scores
        if np.abs(updated - scores).sum() < 1e-10:
            return updated
        scores = updated
    return scores


def candidate_sentences(text: str, lang: str, segmenter: Segmenter, include_headline: bool) -> list[str]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    sentences: list[str] = []
    for i, line in enumerate(lines):
        parts = [s.strip() for s in segmenter.split(line, lang) if s.strip()]
        headline = i == 0 and len(lines) > 1 and len(parts) == 1 and not line.endswith(FINAL_PUNCTUATION)
        if headline and not include_headline:
            continue
        sentences.extend(parts)
    return sentences


def select(sentences: list[str], lang: str, options: SummaryOptions) -> tuple[list[str], bool]:
    """The chosen sentences in document order, and whether one had to be cut to fit a word limit."""
    if not sentences:
        return [], False
    similarity = _similarity([Counter(_features(s, lang)) for s in sentences])
    scores = lexrank(similarity)
    order = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))
    budget = options.sentence_budget(len(sentences))
    chosen: list[int] = []
    words = 0
    for i in order:
        if budget is not None and len(chosen) >= budget:
            break
        if any(similarity[i, j] > NEAR_DUPLICATE for j in chosen):
            continue
        n = count_words(sentences[i], lang)
        if options.words is not None and words + n > options.words:
            continue
        chosen.append(i)
        words += n
    if not chosen and options.words is not None:  # nothing fits: cut the best sentence, and say so
        best = sentences[order[0]]
        if languages.get(lang).no_spaces:
            return [best[: options.words * CHARS_PER_WORD_NO_SPACES].rstrip() + "…"], True
        return [" ".join(best.split()[: options.words]) + "…"], True
    return [sentences[i] for i in sorted(chosen)], False
