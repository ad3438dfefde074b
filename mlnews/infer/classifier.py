"""Load a trained topic classifier folder and predict label names.

::

    from mlnews.infer.classifier import Classifier
    clf = Classifier.load("runs/tfidf")            # reads runs/tfidf/mlnews.json
    clf.predict(["Курс рубля упал до минимума"], top_k=2)
    # [{"label": "economy", "score": 0.91, "top_k": [{"label": "economy", ...}, {...}]}]

Backends share one tiny interface, :class:`Backend`: ``predict_proba(texts)`` on texts that are already
composed and prefixed, returning ``[n, n_labels]`` probabilities in the manifest's label order.
:class:`TorchBackend` runs a transformers folder, :class:`TfidfBackend` a skops-persisted scikit-learn
pipeline; ``backend="onnx"`` (or a manifest with ``kind: onnx``) uses ``mlnews.infer.onnx.OnnxBackend``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from mlnews.errors import MlnewsError
from mlnews.modelfolder import SKOPS, Manifest, ModelFolder
from mlnews.text import compose_text
from mlnews.types import LabelSet

# Types a TF-IDF model file may contain beyond skops' default-trusted scikit-learn/numpy/scipy types.
# Checked with ``skops.io.get_untrusted_types`` on the pipelines mlnews builds; anything else is refused.
TRUSTED_SKOPS_TYPES: list[str] = []


#: ``--backend`` values, and the backend ``auto`` picks for each manifest kind.
BACKENDS = ("auto", "torch", "onnx", "tfidf")
BACKEND_OF_KIND = {"transformer": "torch", "tfidf": "tfidf", "onnx": "onnx"}


class Backend(Protocol):
    """What a classifier backend does: composed, prefixed texts -> probabilities [n, n_labels]."""

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


class TorchBackend:
    """A transformers sequence-classification folder (safetensors) run with torch on CPU.

    Batches are formed from texts sorted by length (little padding), padded dynamically, and run under
    ``torch.inference_mode``. ``num_threads`` calls ``torch.set_num_threads``; ``None`` leaves the
    process setting alone.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        max_length: int,
        batch_size: int = 32,
        num_threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if num_threads is not None:
            torch.set_num_threads(num_threads)
        model_dir = Path(model_dir)
        ModelFolder(model_dir).safetensors_weights()  # pickled weights are refused, never loaded
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
            self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MlnewsError(f"{model_dir}: cannot load the transformer model ({first})") from None
        self.model.eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        import torch

        n_labels = self.model.config.num_labels
        out = np.zeros((len(texts), n_labels), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                logits = self.model(**enc).logits
                out[idx] = torch.softmax(logits.float(), dim=-1).numpy()
        return out


def load_skops(path: str | os.PathLike) -> Any:
    """Load a scikit-learn object persisted with skops, trusting only checked types (never pickle)."""
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise MlnewsError(f"{path}: TF-IDF model file is missing")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a corrupt file for the user
        raise MlnewsError(f"{path}: not a readable skops file ({type(exc).__name__}: {exc})") from None
    unknown = [t for t in untrusted if t not in TRUSTED_SKOPS_TYPES]
    if unknown:
        raise MlnewsError(f"{path}: refusing to load untrusted types {unknown}; expected only scikit-learn types")
    return sio.load(path, trusted=[t for t in untrusted if t in TRUSTED_SKOPS_TYPES])


class TfidfBackend:
    """A scikit-learn pipeline (TF-IDF -> LogisticRegression) stored as ``model.skops``."""

    def __init__(self, model_dir: str | os.PathLike, labels: Sequence[str]) -> None:
        self.pipeline = load_skops(Path(model_dir) / SKOPS)
        classes = [str(c) for c in getattr(self.pipeline, "classes_", [])]
        missing = [c for c in classes if c not in labels]
        if missing:
            raise MlnewsError(f"{model_dir}: model classes {missing} are not in mlnews.json labels")
        # Column j of predict_proba is classes[j]; map it onto the manifest's label order.
        label_index = {name: i for i, name in enumerate(labels)}
        self._columns = [label_index[c] for c in classes]
        self._n = len(labels)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._n), dtype=np.float32)
        if texts:
            out[:, self._columns] = self.pipeline.predict_proba(list(texts))
        return out


class Classifier:
    """A topic classifier loaded from a model folder; predictions always carry label names."""

    def __init__(self, backend: Backend, manifest: Manifest | dict[str, Any], model_dir: Path | None = None) -> None:
        self.backend = backend
        self.manifest = Manifest.from_dict(manifest)
        self.model_dir = model_dir
        self.labels = LabelSet(self.manifest.labels or [])
        self.input = self.manifest.input
        self.prefix: str = self.input.prefix
        self.use_lead: bool = self.input.use_lead
        self.body_chars: int = self.input.body_chars
        self.max_length: int = self.input.max_length

    @classmethod
    def load(cls, model_dir: str | os.PathLike, backend: str = "auto", **backend_kwargs: Any) -> "Classifier":
        """Load ``model_dir`` (its ``mlnews.json`` says which backend); ``backend`` forces one.

        ``backend``: ``auto`` | ``torch`` | ``onnx`` | ``tfidf``. Extra keyword arguments go to the backend
        (e.g. ``batch_size``, ``num_threads`` for torch).
        """
        return cls.from_folder(ModelFolder.open(model_dir, task="classification"), backend, **backend_kwargs)

    @classmethod
    def from_folder(cls, folder: ModelFolder, backend: str = "auto", **backend_kwargs: Any) -> "Classifier":
        """Load from a :class:`ModelFolder` whose manifest may still be in memory (a trainer evaluating its
        own output before it writes ``mlnews.json`` last)."""
        model_dir, manifest = folder.path, folder.manifest
        kind = manifest.kind
        if backend == "auto":
            backend = BACKEND_OF_KIND.get(kind, kind)
        labels = list(manifest.labels or [])
        if "tfidf" in (backend, kind):
            backend_kwargs.pop("batch_size", None)  # scikit-learn predicts the whole list at once
            backend_kwargs.pop("num_threads", None)
        impl: Backend
        if backend == "tfidf":
            if kind != "tfidf":
                raise MlnewsError(f"{model_dir}: backend 'tfidf' needs a tfidf model folder, this one is {kind!r}")
            impl = TfidfBackend(model_dir, labels)
        elif backend == "torch":
            if kind != "transformer":
                raise MlnewsError(f"{model_dir}: backend 'torch' needs a transformer model folder, this one is {kind!r}")
            backend_kwargs.setdefault("max_length", manifest.input.max_length)
            impl = TorchBackend(model_dir, **backend_kwargs)
            id2label = impl.id2label
            if [id2label.get(i) for i in range(len(labels))] != labels:
                raise MlnewsError(f"{model_dir}: config.json id2label does not match the labels in mlnews.json")
        elif backend == "onnx":
            from mlnews.infer.onnx import OnnxBackend  # the ONNX backend lives with the exporter

            impl = OnnxBackend(model_dir, manifest=manifest, **backend_kwargs)
        else:
            raise MlnewsError(f"backend: {backend!r} is not allowed; expected {', '.join(BACKENDS)}")
        return cls(impl, manifest, model_dir)

    def compose(self, text: str, lead: str = "", body: str = "") -> str:
        """The exact model input for one item (same composition and prefix as at training time)."""
        return compose_text(
            text or "",
            lead or "",
            body or "",
            use_lead=self.use_lead,
            body_chars=self.body_chars,
            prefix=self.prefix,
        )

    def _compose_all(
        self, texts: Sequence[str], leads: Sequence[str] | None, bodies: Sequence[str] | None
    ) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not a single string")
        n = len(texts)
        for name, seq in (("leads", leads), ("bodies", bodies)):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} has {len(seq)} items, texts has {n}")
        return [
            self.compose(texts[i], leads[i] if leads is not None else "", bodies[i] if bodies is not None else "")
            for i in range(n)
        ]

    def predict_proba(
        self,
        texts: Sequence[str],
        *,
        leads: Sequence[str] | None = None,
        bodies: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Probabilities ``[n, len(labels)]`` for raw texts (headlines or titles; optional leads/bodies)."""
        return self.backend.predict_proba(self._compose_all(texts, leads, bodies))

    def predict(
        self,
        texts: Sequence[str],
        top_k: int = 1,
        *,
        leads: Sequence[str] | None = None,
        bodies: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """``[{"label", "score", "top_k": [{"label", "score"}, ...]}]`` per text, best label first."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        probs = self.predict_proba(texts, leads=leads, bodies=bodies)
        k = min(top_k, len(self.labels))
        results = []
        for row in probs:
            best = np.argsort(-row, kind="stable")[:k]
            ranked = [{"label": self.labels.decode(j), "score": float(row[j])} for j in best]
            results.append({"label": ranked[0]["label"], "score": ranked[0]["score"], "top_k": ranked})
        return results
