"""Extractive summaries: LexRank over the document's sentences, with a lead prior for news.

1. Sentences come from the same segmenter as translation; a first line that is one sentence without final
   punctuation is the headline and is not a candidate unless asked for.
2. Each sentence is a TF-IDF vector of lower-cased words (character bigrams for scripts without spaces),
   held as a sparse matrix (a sentence has a few dozen distinct words, the document thousands).
3. LexRank: PageRank on the cosine-similarity graph (damping 0.85). The teleport vector favours early
   sentences (weight 1/(position + 1)): news puts its point first, and the prior keeps the lead sentence from
   losing to a long sentence that merely shares many words with the rest (on the seed article, without it the
   one-sentence summary is the list of pilot cities, not the news). The graph keeps each sentence's
   ``NEIGHBOURS`` most similar sentences (all of them in a document of up to NEIGHBOURS + 1 sentences), computed
   ``BLOCK`` rows at a time, so it is sparse too.
4. Sentences are taken by score (ties: the earlier one), skipping any with cosine > 0.7 to one already taken
   (near-duplicates), until the length budget is met; they are returned in document order.

Bounds: memory grows linearly with the sentences (the sparse vectors, NEIGHBOURS edges a sentence, one block of
BLOCK x sentences similarities), time about quadratically but in compiled sparse products. At most
``max_sentences`` sentences (setting ``summary_max_sentences``, 5,000) are candidates: a 200,000-character
document of news prose has ~1,500 sentences; one with more (very short lines: lists, tables) is summarised from
its first ``max_sentences``, and the summary is flagged. Measured: 200,000 characters in 4,300 short sentences,
0.7 s and 105 MiB of peak memory for the whole process (with dense matrices: 10.6 s and 771 MiB;
291,000 characters in 7,700 sentences: 0.7 s and 113 MiB against 30 s and 2.2 GiB): bench/results/summaries-cpu.md.

Deterministic: no sampling, and every tie is broken by position.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise

import numpy as np
import regex
from scipy import sparse

from service import languages
from service.summaries.options import CHARS_PER_WORD_NO_SPACES, FINAL_PUNCTUATION, SummaryOptions, count_words
from service.text.segment import Segmenter

DAMPING = 0.85
NEAR_DUPLICATE = 0.7
#: Edges kept per sentence in the similarity graph: its most similar sentences. 100 leaves every document of up
#: to 101 sentences (any news article) exactly as with the full graph, and bounds the graph of a long one.
NEIGHBOURS = 100
#: Sentences whose similarities to all others are computed at once (a BLOCK x sentences array of floats).
BLOCK = 256
#: Default cap on candidate sentences (the setting summary_max_sentences): see the module's docstring.
MAX_SENTENCES = 5000
_WORD = regex.compile(r"\w+", regex.V1)


def _features(sentence: str, lang: str) -> list[str]:
    text = sentence.lower()
    if languages.get(lang).no_spaces:
        chars = [c for c in text if not c.isspace()]
        return [a + b for a, b in pairwise(chars)]
    return _WORD.findall(text)


def _vectors(bags: list[Counter[str]]) -> sparse.csr_matrix:
    """TF-IDF rows, each of length 1 (or 0 for a sentence without words): sentences x vocabulary, sparse."""
    n = len(bags)
    df = Counter(term for bag in bags for term in bag)
    vocab = {term: i for i, term in enumerate(sorted(df))}
    rows, cols, values = [], [], []
    for row, bag in enumerate(bags):
        for term, tf in bag.items():
            rows.append(row)
            cols.append(vocab[term])
            values.append(tf * math.log((1 + n) / (1 + df[term]) + 1))
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(n, len(vocab)), dtype=np.float64)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sparse.diags(1 / np.where(norms == 0, 1, norms)) @ matrix


def _graph(vectors: sparse.csr_matrix) -> sparse.csr_matrix:
    """Cosine similarities without self-loops, each row keeping its NEIGHBOURS largest (sparse, rows x rows)."""
    n = vectors.shape[0]
    transposed = vectors.T.tocsc()
    rows, cols, values = [], [], []
    for start in range(0, n, BLOCK):
        block = (vectors[start:start + BLOCK] @ transposed).toarray()
        block[np.arange(block.shape[0]), np.arange(start, start + block.shape[0])] = 0
        if n - 1 > NEIGHBOURS:
            keep = np.argpartition(-block, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]
        else:
            keep = np.broadcast_to(np.arange(n), block.shape)
        kept = np.take_along_axis(block, keep, axis=1)
        r, k = np.nonzero(kept > 0)
        rows.append(r + start)
        cols.append(keep[r, k])
        values.append(kept[r, k])
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def lexrank(graph: sparse.csr_matrix) -> np.ndarray:
    """PageRank scores on the similarity graph; rows without edges teleport by the lead prior."""
    n = graph.shape[0]
    prior = 1 / (np.arange(n) + 1)
    prior /= prior.sum()
    out_weight = np.asarray(graph.sum(axis=1)).ravel()
    dangling = out_weight == 0
    transition = sparse.diags(1 / np.where(dangling, 1, out_weight)) @ graph
    backwards = transition.T.tocsr()
    scores = np.full(n, 1 / n)
    for _ in range(200):
        walked = backwards @ scores + scores[dangling].sum() * prior
        updated = (1 - DAMPING) * prior + DAMPING * walked
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


def select(sentences: list[str], lang: str, options: SummaryOptions,
           max_sentences: int = MAX_SENTENCES) -> tuple[list[str], bool]:
    """The chosen sentences in document order, and whether one had to be cut to fit a word limit. Only the
    first ``max_sentences`` sentences are candidates."""
    sentences = sentences[:max(1, max_sentences)]
    if not sentences:
        return [], False
    vectors = _vectors([Counter(_features(s, lang)) for s in sentences])
    scores = lexrank(_graph(vectors))
    order = sorted(range(len(sentences)), key=lambda i: (-round(float(scores[i]), 12), i))
    budget = options.sentence_budget(len(sentences))
    chosen: list[int] = []
    words = 0
    for i in order:
        if budget is not None and len(chosen) >= budget:
            break
        if any(float(vectors[i].multiply(vectors[j]).sum()) > NEAR_DUPLICATE for j in chosen):
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
