"""The trained extractive summariser (``model.kind: extractive``): a model folder whose
:class:`~mlnews.models.sentence_scorer.SentenceScorer` scores every sentence of an article in its
document; the summary is the best-scored sentences, redundancy blocked, within a sentence count and
a word budget, in article order.

    s = Summariser.load("runs/extractive")            # default target from the manifest (lead)
    s = Summariser.load("runs/extractive", target="title")
    summary = s.summarise(article)                     # summary.scores: one logit per sentence

Redundancy blocking is BertSum's trigram blocking: a candidate that shares a word trigram (razdel
tokens, lowercased, ё folded) with a sentence already chosen is skipped. For the ``lead`` target the
title is part of the input when the article has one (an :class:`~mlnews.types.Article`); a plain
string is scored without it (a note says so).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mlnews.errors import InputError
from mlnews.infer.extractive import select
from mlnews.infer.summariser import Summariser, Summary, extractive_summary, prepared_items
from mlnews.modelfolder import ModelFolder
from mlnews.types import Article


def _trigrams(sentence: str) -> set[tuple[str, str, str]]:
    from razdel import tokenize

    words = [t.text.lower().replace("ё", "е") for t in tokenize(sentence) if any(c.isalnum() for c in t.text)]
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def block_redundant(order: Sequence[int], sentences: Sequence[str]) -> list[int]:
    """``order`` without the sentences that repeat a word trigram of an earlier kept one."""
    kept: list[int] = []
    seen: set = set()
    for i in order:
        tri = _trigrams(sentences[i])
        if tri & seen:
            continue
        kept.append(i)
        seen |= tri
    return kept


def score_sentences(model, tokenizer, sentences: Sequence[str], *, target_id: int, title: str | None,
                    prefix: str, max_length: int, max_sentence_tokens: int) -> np.ndarray:
    """One logit per sentence (article order); all windows of the article in one batch."""
    import torch

    from mlnews.models.sentence_scorer import collate_windows, encode_windows

    windows = encode_windows(tokenizer, sentences, title=title, prefix=prefix, max_length=max_length,
                             max_sentence_tokens=max_sentence_tokens)
    scores = np.full(len(sentences), -np.inf)
    if not windows:
        return scores
    batch = collate_windows(windows, tokenizer.pad_token_id, targets=[target_id] * len(windows))
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model.sentence_logits(**{k: v.to(device) for k, v in batch.items()}).float().cpu().numpy()
    for b, w in enumerate(windows):
        scores[w.sentences] = logits[b, : len(w.sentences)]
    return scores


def standardised(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` (all zeros when ``x`` is constant)."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std() if len(x) else 0.0
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def blend(scores: np.ndarray, sentences: Sequence[str], skip: int, textrank_weight: float,
          centrality: np.ndarray | None = None) -> np.ndarray:
    """The scores a selection ranks by: the model's logits, or with ``textrank_weight`` > 0 the standardised
    logits plus ``textrank_weight`` times the standardised TextRank centrality (:func:`mlnews.infer.extractive.
    centrality`, over the pickable sentences from ``skip``; earlier ones get -inf). ``centrality`` may be
    given precomputed (one value per pickable sentence)."""
    if not textrank_weight or len(scores) - skip < 1:
        return np.asarray(scores, dtype=np.float64)
    from mlnews.infer.extractive import centrality as textrank_centrality

    if centrality is None:
        centrality = textrank_centrality(list(sentences[skip:]))
    out = np.full(len(scores), -np.inf)
    out[skip:] = standardised(np.asarray(scores[skip:])) + textrank_weight * standardised(centrality)
    return out


def choose(scores: np.ndarray, sentences: Sequence[str], k: int, max_words: int | None,
           blocking: bool = True, skip: int = 0, first_bonus: float = 0.0, textrank_weight: float = 0.0,
           centrality: np.ndarray | None = None) -> list[int]:
    """Indices (ascending) of up to ``k`` best-scored sentences from ``skip`` on, redundancy blocked.
    With ``textrank_weight`` the scores are first blended with TextRank (:func:`blend`); ``first_bonus`` is
    then added to the first pickable sentence's score (the lead prior). Both are chosen on validation."""
    scores = blend(scores, sentences, skip, textrank_weight, centrality)
    if first_bonus and skip < len(scores):
        scores = scores.copy()
        scores[skip] += first_bonus
    order = [int(i) for i in np.argsort(-scores, kind="stable") if i >= skip]
    if blocking:
        order = block_redundant(order, sentences)
    return select(order, sentences, k, max_words)


class TrainedExtractiveSummariser(Summariser):
    """A ``kind: extractive`` model folder: one scorer, one head per target (``lead``, ``title``)."""

    def __init__(self, folder: ModelFolder, *, target: str | None = None, device: str | None = None):
        import torch
        from transformers import AutoTokenizer

        from mlnews.models.sentence_scorer import SentenceScorer

        self.model_dir = folder.path
        man = folder.manifest
        ext = man.extra.get("extractive")
        where = str(folder.file("mlnews.json"))
        if not isinstance(ext, dict) or not isinstance(ext.get("targets"), list) or not ext["targets"]:
            raise InputError(f"{where}: extractive: expected a mapping with a non-empty list 'targets'")
        self._ext = ext
        self.targets: list[str] = list(ext["targets"])
        self.blocking = ext.get("blocking", "trigram") == "trigram"
        self.max_sentence_tokens = int(ext.get("max_sentence_tokens", 64))
        self.prefix, self.max_length = man.input.prefix, man.input.max_length
        folder.safetensors_weights()  # refuses a folder with only pickled weights
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = SentenceScorer.from_pretrained(self.model_dir, use_safetensors=True).eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self._set_target(target or ext.get("default_target") or self.targets[0])

    def _set_target(self, target: str) -> None:
        if target not in self.targets:
            raise InputError(f"{self.model_dir}: target {target!r} was not trained; this model has "
                             f"{', '.join(self.targets)}")
        self.target, self.target_id = target, self.targets.index(target)
        self.k = int(self._ext.get("sentences", {}).get(target, 1))
        self.title_in_input = bool(self._ext.get("title_in_input", {}).get(target, False))
        self.first_bonus = float(self._ext.get("first_sentence_bonus", {}).get(target, 0.0))
        self.textrank_weight = float(self._ext.get("textrank_weight", {}).get(target, 0.0))
        self.method = f"extractive:{self.model_dir.resolve().name}:{target}"

    def for_target(self, target: str) -> "TrainedExtractiveSummariser":
        """The same loaded model, summarising for another of its targets."""
        import copy

        other = copy.copy(self)
        other._set_target(target)
        return other

    def scored(self, items: Sequence[str | Article], max_words: int | None = None):
        """``(item, t0, sentences, lang, notes, skip, scores)`` per input: the model's logit per sentence."""
        for item, t0, sents, lang, notes, skip in prepared_items(items, max_words):
            title = item.title if isinstance(item, Article) and item.title and item.title.strip() else None
            if self.title_in_input and title is None:
                notes.append("no title given: sentences were scored without it (the model was trained with titles)")
            scores = score_sentences(self.model, self.tokenizer, sents, target_id=self.target_id,
                                     title=title if self.title_in_input else None, prefix=self.prefix,
                                     max_length=self.max_length, max_sentence_tokens=self.max_sentence_tokens)
            yield item, t0, sents, lang, notes, skip, scores

    def pick(self, scores: np.ndarray, sentences: Sequence[str], skip: int, max_words: int | None = None,
             first_bonus: float | None = None, textrank_weight: float | None = None,
             centrality: np.ndarray | None = None) -> list[int]:
        """The summary's sentence indices for these scores (``first_bonus`` and ``textrank_weight`` default to
        the folder's; ``centrality``: the pickable sentences' TextRank scores, if already computed)."""
        bonus = self.first_bonus if first_bonus is None else first_bonus
        weight = self.textrank_weight if textrank_weight is None else textrank_weight
        return choose(scores, sentences, self.k, max_words, blocking=self.blocking, skip=skip, first_bonus=bonus,
                      textrank_weight=weight, centrality=centrality)

    def summarise_many(self, items: Sequence[str | Article], max_words: int | None = None) -> list[Summary]:
        out = []
        for item, t0, sents, lang, notes, skip, scores in self.scored(items, max_words):
            idx = self.pick(scores, sents, skip, max_words)
            summary = extractive_summary(sents, idx, max_words, self.method, lang, notes, t0)
            summary.scores = [round(float(x), 4) for x in scores]
            out.append(summary)
        return out
