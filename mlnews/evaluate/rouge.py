"""Cyrillic-correct ROUGE-1/2/L and chrF for Russian and Ukrainian summaries.

The common ``rouge_score`` package tokenises with ``[^a-z0-9]+ -> " "`` after lowercasing, so every
Cyrillic word disappears and a Russian summary scores 0 against any reference (or, worse, 1.0 when
both sides reduce to the same digits). Here tokens come from ``razdel`` (the Natasha project's
tokenizer for Russian, which also handles Ukrainian), are lowercased, ``ё`` is folded to ``е``,
and tokens without a letter or digit (punctuation, dashes, quotes) are dropped. No stemmer is used:
ROUGE on unstemmed tokens is what the Russian summarisation papers we quote report (Gazeta,
RIA headline generation), so our numbers stay comparable.

ROUGE-N is F1 over clipped n-gram counts; ROUGE-L is F1 over the longest common subsequence
(sentence-level, not summary-level ROUGE-Lsum). Corpus scores are means of per-example F1,
reported in percent. chrF comes from ``sacrebleu`` (corpus-level, character 6-grams, beta 2).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

__all__ = [
    "tokenize",
    "latin_only_tokenize",
    "rouge_n",
    "rouge_l",
    "chrf",
    "score_pair",
    "corpus_scores",
    "PairScore",
]

_HAS_WORD_CHAR = re.compile(r"\w", re.UNICODE)
_NON_LATIN = re.compile(r"[^a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercased razdel tokens with ``ё`` -> ``е``; punctuation-only tokens dropped."""
    from razdel import tokenize as razdel_tokenize

    out = []
    for tok in razdel_tokenize(text.lower().replace("ё", "е")):
        if _HAS_WORD_CHAR.search(tok.text) and tok.text != "_":
            out.append(tok.text)
    return out


def latin_only_tokenize(text: str) -> list[str]:
    """What ``rouge_score``'s default tokenizer does: keep only ``[a-z0-9]`` runs.

    Provided only to show (in the benchmark) how such tooling scores Cyrillic text.
    """
    return [t for t in _NON_LATIN.split(text.lower()) if t]


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(overlap: int, n_pred: int, n_ref: int) -> float:
    if overlap == 0 or n_pred == 0 or n_ref == 0:
        return 0.0
    p, r = overlap / n_pred, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(pred: Sequence[str], ref: Sequence[str], n: int) -> float:
    """ROUGE-N F1 (0..1) of two token lists, n-gram counts clipped by the reference."""
    p, r = _ngrams(pred, n), _ngrams(ref, n)
    overlap = sum((p & r).values())
    return _f1(overlap, sum(p.values()), sum(r.values()))


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, 1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(pred: Sequence[str], ref: Sequence[str]) -> float:
    """ROUGE-L F1 (0..1): longest common subsequence of the two token lists."""
    return _f1(_lcs_length(pred, ref), len(pred), len(ref))


def chrf(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF (0..100) from sacrebleu; characters, so no tokenizer is involved."""
    from sacrebleu.metrics import CHRF

    if not preds:
        return 0.0
    return float(CHRF().corpus_score(list(preds), [list(refs)]).score)


@dataclass
class PairScore:
    rouge1: float
    rouge2: float
    rougeL: float


def score_pair(pred: str, ref: str, tokenizer: Callable[[str], list[str]] = tokenize) -> PairScore:
    """ROUGE-1/2/L F1 (0..1) of one prediction against one reference."""
    p, r = tokenizer(pred), tokenizer(ref)
    return PairScore(rouge_n(p, r, 1), rouge_n(p, r, 2), rouge_l(p, r))


def corpus_scores(
    preds: Sequence[str],
    refs: Sequence[str],
    langs: Iterable[str] | None = None,
    tokenizer: Callable[[str], list[str]] = tokenize,
) -> dict:
    """Mean ROUGE-1/2/L F1 and corpus chrF, in percent, overall and per language.

    Returns ``{"n", "rouge1", "rouge2", "rougeL", "chrf", "per_lang": {lang: {...}}}``; ``per_lang``
    is present only when ``langs`` is given.
    """
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    pairs = [score_pair(p, r, tokenizer) for p, r in zip(preds, refs)]

    def summarise(idx: list[int]) -> dict:
        n = len(idx)
        if n == 0:
            return {"n": 0, "rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0, "chrf": 0.0}
        return {
            "n": n,
            "rouge1": round(100 * sum(pairs[i].rouge1 for i in idx) / n, 2),
            "rouge2": round(100 * sum(pairs[i].rouge2 for i in idx) / n, 2),
            "rougeL": round(100 * sum(pairs[i].rougeL for i in idx) / n, 2),
            "chrf": round(chrf([preds[i] for i in idx], [refs[i] for i in idx]), 2),
        }

    out = summarise(list(range(len(pairs))))
    if langs is not None:
        langs = list(langs)
        if len(langs) != len(preds):
            raise ValueError(f"{len(preds)} predictions but {len(langs)} language tags")
        out["per_lang"] = {
            lang: summarise([i for i, x in enumerate(langs) if x == lang]) for lang in sorted(set(langs))
        }
    return out
