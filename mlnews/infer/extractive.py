"""Extractive summaries: lead-k and TextRank, as indices into the article's sentence list.

Both return sentence indices in their original order, chosen within a sentence count ``k`` and
an optional word budget ``max_words``:

* :func:`lead` takes the first sentences while they fit (news puts the point first);
* :func:`textrank` ranks sentences by PageRank over a sentence-similarity graph (Mihalcea & Tarau,
  2004; :func:`centrality`) and takes the best-ranked ones that fit. Similarity is the cosine of TF-IDF vectors
  (words lowercased and cut to their first ``stem_chars`` letters, a cheap stand-in for Russian
  and Ukrainian stemming) or of sentence embeddings from a callable (the packaged e5 encoder).

When not even one sentence fits the budget, the first chosen sentence is returned alone and the
caller cuts it to ``max_words`` words (see :func:`mlnews.ingest.sentences.truncate_words`).
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from mlnews.ingest.sentences import count_words

Embedder = Callable[[list[str]], np.ndarray]

_WORD = re.compile(r"\w\w+", re.UNICODE)


def select(order: Sequence[int], sentences: Sequence[str], k: int | None, max_words: int | None,
           contiguous: bool = False) -> list[int]:
    """Walk ``order`` and keep sentences while at most ``k`` are kept and the words fit ``max_words``.

    ``contiguous`` stops at the first sentence that does not fit (lead-k keeps a prefix);
    otherwise such a sentence is skipped and shorter ones further down may still fit.
    Always keeps at least one sentence when there is any. Returns indices sorted ascending.
    """
    chosen: list[int] = []
    used = 0
    for i in order:
        if k is not None and len(chosen) >= k:
            break
        n = count_words(sentences[i])
        if max_words is not None and used + n > max_words:
            if not chosen:
                chosen.append(i)  # over budget on its own: the caller truncates it
                break
            if contiguous:
                break
            continue
        chosen.append(i)
        used += n
    return sorted(chosen)


def lead(sentences: Sequence[str], k: int | None = 3, max_words: int | None = None) -> list[int]:
    """The first ``k`` sentences (fewer when the word budget runs out)."""
    return select(range(len(sentences)), sentences, k, max_words, contiguous=True)


def _stem_analyzer(stem_chars: int) -> Callable[[str], list[str]]:
    def analyse(text: str) -> list[str]:
        words = _WORD.findall(text.lower().replace("ё", "е"))
        return [w[:stem_chars] for w in words] if stem_chars > 0 else words

    return analyse


def tfidf_similarity(sentences: Sequence[str], stem_chars: int = 6) -> np.ndarray:
    """Cosine similarity of sentence TF-IDF vectors (IDF estimated on the article itself)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vec = TfidfVectorizer(analyzer=_stem_analyzer(stem_chars), sublinear_tf=True)
        x = vec.fit_transform(sentences)
    except ValueError:  # no word of two letters anywhere (digits and punctuation only)
        return np.zeros((len(sentences), len(sentences)))
    return (x @ x.T).toarray()


def embedding_similarity(sentences: Sequence[str], embed: Embedder) -> np.ndarray:
    """Cosine similarity of sentence embeddings, negatives clipped to 0 (PageRank needs weights >= 0)."""
    emb = np.asarray(embed(list(sentences)), dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.maximum(norms, 1e-12)
    return np.clip(emb @ emb.T, 0.0, None)


def pagerank(sim: np.ndarray, damping: float = 0.85, iters: int = 100, tol: float = 1e-8) -> np.ndarray:
    """PageRank scores of a weighted undirected graph given as a similarity matrix."""
    n = sim.shape[0]
    w = sim.astype(np.float64).copy()
    np.fill_diagonal(w, 0.0)
    out = w.sum(axis=1, keepdims=True)
    # Rows without edges spread their weight uniformly (a "dangling" node).
    trans = np.where(out > 0, w / np.where(out > 0, out, 1.0), 1.0 / n)
    scores = np.full(n, 1.0 / n)
    for _ in range(iters):
        new = (1 - damping) / n + damping * trans.T @ scores
        if np.abs(new - scores).sum() < tol:
            return new
        scores = new
    return scores


def centrality(sentences: Sequence[str], *, embed: Embedder | None = None, stem_chars: int = 6,
               damping: float = 0.85) -> np.ndarray:
    """TextRank's score of every sentence: PageRank over the sentence-similarity graph (TF-IDF cosine, or the
    embeddings of ``embed``); one sentence scores 1."""
    n = len(sentences)
    if n <= 1:
        return np.ones(n)
    sim = embedding_similarity(sentences, embed) if embed is not None else tfidf_similarity(sentences, stem_chars)
    return pagerank(sim, damping=damping)


def textrank(
    sentences: Sequence[str],
    k: int | None = 3,
    max_words: int | None = None,
    *,
    embed: Embedder | None = None,
    stem_chars: int = 6,
    damping: float = 0.85,
) -> list[int]:
    """Indices of the best-ranked sentences (ties: earlier first), in article order."""
    n = len(sentences)
    if n <= 1:
        return list(range(n))
    scores = centrality(sentences, embed=embed, stem_chars=stem_chars, damping=damping)
    order = sorted(range(n), key=lambda i: (-round(float(scores[i]), 12), i))
    return select(order, sentences, k, max_words)
