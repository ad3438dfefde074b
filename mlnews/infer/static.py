"""The ``static`` backend: static token embeddings + a linear head, all in ``model.safetensors`` (+ ``tokenizer.json``).

A text is tokenised (:class:`mlnews.models.static.PieceEncoder`: the Rust ``tokenizers`` library and a
word cache), its pieces' rows of the distilled table are summed (one sparse-matrix product for the whole
batch) and scaled to unit length, and the logistic-regression head -- stored as a matrix and biases
beside the table -- turns that into probabilities (:mod:`mlnews.models.static`, :mod:`mlnews.train.static`).
Neither torch, transformers nor scikit-learn is imported, so a folder loads in well under a second
(skops' import alone pulls in all of scikit-learn, and with it torch). ``head.skops`` in the folder is the
same head as a scikit-learn estimator, for users of scikit-learn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mlnews.errors import MlnewsError
from mlnews.models.static import TABLE, StaticEmbedder

#: Texts embedded per step: bounds the memory of one call (the word lists, the sparse matrix).
CHUNK = 16384


class StaticBackend:
    """``predict_proba(texts) -> [n, n_labels]`` for a ``model.kind: static`` folder."""

    def __init__(self, model_dir: str | os.PathLike, labels: Sequence[str], *, max_length: int | None = None) -> None:
        model_dir = Path(model_dir)
        self.embedder = StaticEmbedder.load(model_dir, max_length=max_length)
        head = self.embedder.head
        if head is None:
            raise MlnewsError(f"{model_dir / TABLE}: has no head (head.weight, head.bias); train the folder again")
        if head.labels != list(labels):
            raise MlnewsError(f"{model_dir / TABLE}: the head's labels {head.labels} differ from mlnews.json's "
                              f"{list(labels)}")
        self.head = head

    def embed(self, texts: list[str]) -> np.ndarray:
        """``float32 [n, dims]`` unit-length text vectors (zero for a text without a known piece)."""
        parts = [self.embedder.embed(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(self.embed(list(texts)))
