"""The scikit-learn head of ``model.kind: embedding`` and ``static``: logistic regression on fixed features.

Both kinds turn a text into one fixed vector (a frozen encoder's mean-pooled embedding, or the mean of
static token vectors) and learn only this head, which is why they train in seconds and work from a
handful of examples per label (setfit's observation: a good sentence embedding + a linear head).
The head is multinomial L2-regularised logistic regression (L-BFGS), persisted with skops
(``head.skops``; loaded back with skops' trusted types only, never pickle).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from mlnews.errors import MlnewsError
from mlnews.io import atomic_write
from mlnews.train.tfidf import sklearn_class_weight
from mlnews.types import LabelSet

if TYPE_CHECKING:
    from mlnews.train.config import ClassifierConfig


def fit_head(cfg: "ClassifierConfig", features: np.ndarray, labels: Sequence[str], label_set: LabelSet) -> Any:
    """Fit the logistic-regression head on ``features [n, d]`` with string ``labels``."""
    from sklearn.linear_model import LogisticRegression

    present = sorted(set(labels))
    if len(present) < 2:
        raise MlnewsError(f"train split: the head needs at least 2 labels with examples, found {present}")
    head = LogisticRegression(
        C=cfg.head.C,
        max_iter=cfg.head.max_iter,
        class_weight=sklearn_class_weight(cfg.train.class_weights, label_set, labels),
        random_state=cfg.train.seed,
    )
    head.fit(features, list(labels))
    return head


def save_head(head: Any, path: Path) -> None:
    """Persist the head with skops, atomically."""
    import skops.io as sio

    with atomic_write(path, "wb") as fh:
        fh.write(sio.dumps(head))


def head_info(head: Any, val_features: np.ndarray, val_labels: Sequence[str], seconds: float) -> dict[str, Any]:
    """The training record both head kinds report (validation accuracy / macro-F1 of the head alone)."""
    from mlnews.evaluate.metrics import macro_f1

    pred = [str(x) for x in head.predict(val_features)] if len(val_labels) else []
    return {
        "train_seconds": round(seconds, 1),
        "head_iterations": int(np.max(getattr(head, "n_iter_", [0]))),
        "validation": {
            "accuracy": round(sum(t == p for t, p in zip(val_labels, pred)) / max(1, len(pred)), 4),
            "macro_f1": round(macro_f1(list(val_labels), pred), 4) if pred else 0.0,
        },
    }


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start
