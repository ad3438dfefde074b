"""Weak labellers for unlabelled rows (sidebar headlines, unlabelled articles, news_detect titles).

* :class:`KeywordLabeller`: lemma keyword rules per label and language (pymorphy3 ru/uk
  dictionaries). Confidence = hits of the best label / (all hits + ``prior``), so one lone hit
  gives 1/1.5 = 0.67 and two labels hit once each give 0.4.
* :class:`TfidfLabeller`: the :func:`mlnews.data.tfidf.make_tfidf_pipeline` model trained in the
  same build on gold + source_rubric rows; confidence = its top class probability.
"""

from __future__ import annotations

import functools
import os
import re
from collections import Counter
from typing import Optional, Sequence

from mlnews.config import load_yaml
from mlnews.errors import ConfigError

_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ`-][^\W\d_]+)*", re.UNICODE)
_APOS = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})


@functools.lru_cache(maxsize=4)
def _analyzer(lang: str):
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang=lang)


class Lemmatizer:
    """Lowercased lemmas of the words of a text (pymorphy3 for ru and uk, lowercase otherwise)."""

    def __init__(self, cache_size: int = 200_000):
        self._lemma = functools.lru_cache(maxsize=cache_size)(self._lemma_uncached)

    @staticmethod
    def _lemma_uncached(word: str, lang: str) -> tuple[str, ...]:
        if lang not in ("ru", "uk"):
            return (word,)
        # every distinct normal form, most probable first (e.g. uk "гривні" -> гривна | гривня)
        forms = dict.fromkeys(p.normal_form.replace("ё", "е") for p in _analyzer(lang).parse(word))
        return tuple(forms) or (word,)

    def lemma_forms(self, text: str, lang: str) -> list[tuple[str, ...]]:
        """Per word, its possible lemmas (most probable first)."""
        words = _WORD.findall(text.lower().translate(_APOS).replace("ё", "е"))
        return [self._lemma(w, lang) for w in words]

    def lemmas(self, text: str, lang: str) -> list[str]:
        """The most probable lemma of each word."""
        return [forms[0] for forms in self.lemma_forms(text, lang)]


class KeywordLabeller:
    """Label a text by counting keyword lemmas of each label in its language."""

    def __init__(self, keywords: dict[str, dict[str, list[str]]], prior: float = 0.5,
                 lemmatizer: Optional[Lemmatizer] = None):
        self.lemmatizer = lemmatizer or Lemmatizer()
        self.prior = prior
        self.order = list(keywords)
        # lang -> lemma -> label (keywords are lemmatised too, so any word form may be listed)
        self.index: dict[str, dict[str, str]] = {}
        for label, per_lang in keywords.items():
            for lang, words in per_lang.items():
                table = self.index.setdefault(lang, {})
                for w in words:
                    for forms in self.lemmatizer.lemma_forms(w, lang):
                        table.setdefault(forms[0], label)

    @classmethod
    def from_file(cls, path: str | os.PathLike, labels: Sequence[str], prior: float = 0.5) -> "KeywordLabeller":
        """Read ``label -> lang -> [keywords]``; every label must be in ``labels``."""
        data = load_yaml(path)
        keywords: dict[str, dict[str, list[str]]] = {}
        for label, per_lang in data.items():
            if label not in labels:
                raise ConfigError(f"{path}: {label}: not a label of the taxonomy; expected one of: {', '.join(labels)}")
            if not isinstance(per_lang, dict):
                raise ConfigError(f"{path}: {label}: expected a mapping of language -> list of keywords")
            for lang, words in per_lang.items():
                if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                    raise ConfigError(f"{path}: {label}.{lang}: expected a list of keyword strings")
            keywords[str(label)] = {str(k): list(v) for k, v in per_lang.items()}
        return cls(keywords, prior=prior)

    def scores(self, text: str, lang: str) -> Counter:
        """Keyword hits per label; a word counts once, for its most probable lemma that is a keyword."""
        table = self.index.get(lang, {})
        hits: Counter = Counter()
        for forms in self.lemmatizer.lemma_forms(text, lang):
            lab = next((table[f] for f in forms if f in table), None)
            if lab is not None:
                hits[lab] += 1
        return hits

    def label(self, text: str, lang: str) -> tuple[Optional[str], float]:
        """``(label, confidence)``; ``(None, 0.0)`` when no keyword matches."""
        hits = self.scores(text, lang)
        if not hits:
            return None, 0.0
        best = max(hits.values())
        label = next(lab for lab in self.order if hits.get(lab) == best)
        return label, best / (sum(hits.values()) + self.prior)


class TfidfLabeller:
    """A TF-IDF + logistic regression model fitted on the labelled rows of the same build."""

    def __init__(self, C: float = 4.0, max_features: Optional[int] = 100_000, seed: int = 0):
        from mlnews.data.tfidf import make_tfidf_pipeline

        self.pipeline = make_tfidf_pipeline(C=C, max_features=max_features, random_state=seed)
        self.fitted = False

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> "TfidfLabeller":
        if len(set(labels)) < 2:
            raise ValueError("the TF-IDF labeller needs examples of at least two labels")
        self.pipeline.fit(list(texts), list(labels))
        self.fitted = True
        return self

    def label_batch(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        proba = self.pipeline.predict_proba(list(texts))
        classes = self.pipeline.classes_
        best = proba.argmax(axis=1)
        return [(str(classes[i]), float(proba[r, i])) for r, i in enumerate(best)]
