"""TF-IDF baseline: word + character n-gram TF-IDF -> LogisticRegression, persisted with skops.

The pipeline itself comes from :func:`mlnews.data.tfidf.make_tfidf_pipeline` (shared with the data
stage's label checks); this module fits it on the composed training inputs, predicts the test split
and saves ``model.skops`` (``skops.io.dump``; loaded back with an explicit trusted-type list, never
pickle). Class weights follow ``train.class_weights`` (``none`` | ``balanced`` | mapping).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from mlnews.train.config import resolve_class_weights
from mlnews.io import atomic_write
from mlnews.modelfolder import SKOPS
from mlnews.types import LabelSet

if TYPE_CHECKING:
    from mlnews.train.inputs import PreparedData
    from mlnews.train.config import ClassifierConfig



def sklearn_class_weight(cfg_weights: Any, labels: LabelSet, train_labels: Sequence[str]) -> str | dict[str, float] | None:
    """``train.class_weights`` in scikit-learn's form (``None``, ``"balanced"`` or ``{label: weight}``)."""
    if cfg_weights == "balanced":
        return "balanced"  # the same formula as resolve_class_weights, kept in scikit-learn's own words
    weights = resolve_class_weights(cfg_weights, labels, train_labels)
    return None if weights is None else dict(zip(labels.names, weights))


def build_pipeline(cfg: "ClassifierConfig", labels: LabelSet, train_labels: Sequence[str]) -> Any:
    """The scikit-learn pipeline configured from the ``tfidf`` section."""
    from mlnews.data.tfidf import make_tfidf_pipeline

    t = cfg.tfidf
    return make_tfidf_pipeline(
        word_ngram_range=(1, t.word_ngram_max),
        char_ngram_range=(t.char_ngram_min, t.char_ngram_max),
        min_df=t.min_df,
        max_features=t.max_features,
        sublinear_tf=t.sublinear_tf,
        C=t.C,
        max_iter=t.max_iter,
        class_weight=sklearn_class_weight(cfg.train.class_weights, labels, train_labels),
        random_state=cfg.train.seed,
    )


def _compact_vectorisers(estimator: Any) -> None:
    """Make fitted TF-IDF vectorisers cheap to persist (recursively through pipelines/unions).

    * ``stop_words_`` holds every n-gram cut by ``max_features``/``min_df`` (millions of char n-grams);
      it is for introspection only and scikit-learn's docs say it can be removed before persisting.
    * ``vocabulary_`` maps terms to numpy integers, which skops stores one array file each: saving a
      200k-term vocabulary took minutes and 170 MB. Plain ``int`` values are stored as JSON.
    Predictions are unchanged (tested).
    """
    if hasattr(estimator, "stop_words_"):
        estimator.stop_words_ = None
    if isinstance(getattr(estimator, "vocabulary_", None), dict):
        estimator.vocabulary_ = {term: int(i) for term, i in estimator.vocabulary_.items()}
    for child in getattr(estimator, "steps", []) + getattr(estimator, "transformer_list", []):
        _compact_vectorisers(child[1])


def save_pipeline(pipeline: Any, path: Path) -> None:
    """Persist with skops (atomically), never pickle."""
    import skops.io as sio

    _compact_vectorisers(pipeline)
    with atomic_write(path, "wb") as fh:
        fh.write(sio.dumps(pipeline))


def train_tfidf(cfg: "ClassifierConfig", data: "PreparedData", out_dir: Path) -> dict[str, Any]:
    """Fit on the train split, score validation, save ``model.skops`` (the test split is scored by the caller)."""
    from mlnews.evaluate.metrics import macro_f1

    train = data.splits["train"]
    pipeline = build_pipeline(cfg, data.labels, train.labels)
    start = time.perf_counter()
    pipeline.fit(train.inputs, train.labels)
    seconds = time.perf_counter() - start
    val = data.splits["validation"]
    val_pred = [str(x) for x in pipeline.predict(val.inputs)]
    save_pipeline(pipeline, Path(out_dir) / SKOPS)
    return {
        "train_seconds": round(seconds, 1),
        "validation": {
            "accuracy": round(sum(t == p for t, p in zip(val.labels, val_pred)) / max(1, len(val_pred)), 4),
            "macro_f1": round(macro_f1(val.labels, val_pred), 4),
        },
        "class_weights": sklearn_class_weight(cfg.train.class_weights, data.labels, train.labels),
    }
