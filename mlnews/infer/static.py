"""The ``static`` backend: static token embeddings (``model.safetensors`` + ``tokenizer.json``) + ``head.skops``.

A text is tokenised by the Rust ``tokenizers`` library, its pieces' rows of the distilled table are
summed (one sparse-matrix product for the whole batch) and scaled to unit length, and the
logistic-regression head turns that into probabilities (:mod:`mlnews.models.static`,
:mod:`mlnews.train.static`). Neither torch nor transformers is imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mlnews.modelfolder import HEAD
from mlnews.models.static import StaticEmbedder

#: Texts embedded per step: bounds the memory of one call (the tokeniser's encodings, the sparse matrix).
CHUNK = 16384


class StaticBackend:
    """``predict_proba(texts) -> [n, n_labels]`` for a ``model.kind: static`` folder."""

    def __init__(self, model_dir: str | os.PathLike, labels: Sequence[str], *, max_length: int | None = None) -> None:
        from mlnews.infer.classifier import SklearnHead  # lazily: mlnews.infer.classifier imports this module

        model_dir = Path(model_dir)
        self.embedder = StaticEmbedder.load(model_dir, max_length=max_length)
        self.head = SklearnHead(model_dir / HEAD, labels, "static-embedding head")
        width = getattr(self.head.estimator, "n_features_in_", self.embedder.dim)
        if width != self.embedder.dim:
            from mlnews.errors import MlnewsError

            raise MlnewsError(f"{model_dir}: the head expects {width} features but the table has "
                              f"{self.embedder.dim} dimensions; the folder is inconsistent")

    def embed(self, texts: list[str]) -> np.ndarray:
        """``float32 [n, dims]`` unit-length text vectors (zero for a text without a known piece)."""
        parts = [self.embedder.embed(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        return self.head.predict_proba(self.embed(texts), len(texts))
