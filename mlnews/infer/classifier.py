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
Backends return raw probabilities; :class:`Classifier` applies the folder's calibration (temperature
scaling fitted after training, ``mlnews.json`` ``calibration``) on top, so every backend reports the
same calibrated scores (``Classifier.load(dir, calibrated=False)`` gives the raw ones).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from mlnews.batches import by_length
from mlnews.errors import InputError, MlnewsError
from mlnews.modelfolder import EXPORTABLE_KINDS, HEAD, ONNX_DIR, SKOPS, Manifest, ModelFolder
from mlnews.text import compose_text
from mlnews.types import LabelSet

# Types a TF-IDF model file may contain beyond skops' default-trusted scikit-learn/numpy/scipy types.
# Checked with ``skops.io.get_untrusted_types`` on the pipelines mlnews builds; anything else is refused.
TRUSTED_SKOPS_TYPES: list[str] = []

log = logging.getLogger(__name__)


#: ``--backend`` values, and the backend ``auto`` picks for each manifest kind.
BACKENDS = ("auto", "torch", "onnx", "tfidf", "static")
BACKEND_OF_KIND = {"transformer": "torch", "embedding": "torch", "tfidf": "tfidf", "static": "static", "onnx": "onnx"}


def onnx_export_of(folder: ModelFolder) -> ModelFolder | None:
    """The folder's own ONNX export (``FOLDER/onnx``, written by ``mlnews export FOLDER --onnx``), when it is
    a finished export of this very training run (same ``created`` stamp); None otherwise."""
    sub = folder.path / ONNX_DIR
    if not ModelFolder.is_model(sub):
        return None
    export = ModelFolder.open(sub, task="classification")
    if export.manifest.kind != "onnx" or export.manifest.created != folder.manifest.created:
        log.warning("%s: not an export of this model folder (another training run); ignored, using %s", sub,
                    BACKEND_OF_KIND.get(folder.manifest.kind))
        return None
    return export


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
        with torch.inference_mode():
            for idx in by_length(texts, self.batch_size):
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


class SklearnHead:
    """A skops-persisted scikit-learn estimator whose ``predict_proba`` columns are mapped onto the
    manifest's label order (scikit-learn orders columns by its sorted ``classes_``)."""

    def __init__(self, path: Path, labels: Sequence[str], what: str) -> None:
        self.estimator = load_skops(path)
        classes = [str(c) for c in getattr(self.estimator, "classes_", [])]
        if not classes:
            raise MlnewsError(f"{path}: the {what} has no classes_; is it a fitted classifier?")
        missing = [c for c in classes if c not in labels]
        if missing:
            raise MlnewsError(f"{path}: model classes {missing} are not in mlnews.json labels")
        label_index = {name: i for i, name in enumerate(labels)}
        self.columns = [label_index[c] for c in classes]
        self.n = len(labels)

    def predict_proba(self, features: Any, n: int) -> np.ndarray:
        out = np.zeros((n, self.n), dtype=np.float32)
        if n:
            out[:, self.columns] = self.estimator.predict_proba(features)
        return out

    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """``(weight [n_labels, d], bias [n_labels])`` with ``softmax(x @ weight.T + bias)`` equal to
        ``predict_proba`` (a label the head never saw gets logit -1e4). Binary logistic regression's single
        row ``z`` becomes the logits ``(0, z)``."""
        coef = np.asarray(self.estimator.coef_, dtype=np.float64)
        intercept = np.asarray(self.estimator.intercept_, dtype=np.float64)
        if len(self.columns) == 2 and coef.shape[0] == 1:
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        weight = np.zeros((self.n, coef.shape[1]), dtype=np.float32)
        bias = np.full(self.n, -1e4, dtype=np.float32)
        weight[self.columns] = coef
        bias[self.columns] = intercept
        return weight, bias


class TfidfBackend:
    """A scikit-learn pipeline (TF-IDF -> LogisticRegression) stored as ``model.skops``."""

    def __init__(self, model_dir: str | os.PathLike, labels: Sequence[str]) -> None:
        self.head = SklearnHead(Path(model_dir) / SKOPS, labels, "TF-IDF pipeline")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(list(texts), len(texts))


class EmbeddingBackend:
    """``model.kind: embedding``: the frozen encoder in the folder (mean-pooled, unit length) + ``head.skops``."""

    def __init__(self, model_dir: str | os.PathLike, labels: Sequence[str], *, max_length: int,
                 batch_size: int = 64, num_threads: int | None = None) -> None:
        from mlnews.models.encoder import SentenceEncoder

        model_dir = Path(model_dir)
        self.head = SklearnHead(model_dir / HEAD, labels, "embedding head")
        self.encoder = SentenceEncoder.load(model_dir, max_length=max_length, batch_size=batch_size,
                                            num_threads=num_threads)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(self.encoder.encode(texts), len(texts))


class Classifier:
    """A topic classifier loaded from a model folder; predictions always carry label names."""

    def __init__(self, backend: Backend, manifest: Manifest | dict[str, Any], model_dir: Path | None = None, *,
                 calibrated: bool = True) -> None:
        self.backend = backend
        self.manifest = Manifest.from_dict(manifest)
        #: the folder's score calibration (``mlnews.json`` ``calibration``; None for an uncalibrated folder)
        self.calibration = self.manifest.calibration
        #: True when scores are calibrated: the folder has a calibration and ``calibrated=False`` was not asked for
        self.calibrated: bool = bool(calibrated and self.calibration is not None)
        self.model_dir = model_dir
        #: which backend runs, in words (``torch``, ``onnx int8``, ``tfidf``, ...), for logs and the CLI
        self.backend_name: str = type(backend).__name__
        self.labels = LabelSet(self.manifest.labels or [])
        self.input = self.manifest.input
        self.prefix: str = self.input.prefix
        self.use_lead: bool = self.input.use_lead
        self.body_chars: int = self.input.body_chars
        self.max_length: int = self.input.max_length

    @classmethod
    def load(cls, model_dir: str | os.PathLike, backend: str = "auto", *, calibrated: bool = True,
             **backend_kwargs: Any) -> "Classifier":
        """Load ``model_dir`` (its ``mlnews.json`` says which backend); ``backend`` forces one.

        Scores are the folder's calibrated probabilities when it has a ``calibration`` (every backend
        applies it); ``calibrated=False`` gives the backend's raw probabilities instead.

        ``backend``: ``auto`` | ``torch`` | ``onnx`` | ``tfidf``. Extra keyword arguments go to the backend
        (e.g. ``batch_size``, ``num_threads`` for torch).
        """
        return cls.from_folder(ModelFolder.open(model_dir, task="classification"), backend, calibrated=calibrated,
                               **backend_kwargs)

    @classmethod
    def from_folder(cls, folder: ModelFolder, backend: str = "auto", *, calibrated: bool = True,
                    **backend_kwargs: Any) -> "Classifier":
        """Load from a :class:`ModelFolder` whose manifest may still be in memory (a trainer evaluating its
        own output before it writes ``mlnews.json`` last)."""
        model_dir, manifest = folder.path, folder.manifest
        kind = manifest.kind
        if backend not in BACKENDS:
            raise MlnewsError(f"backend: {backend!r} is not allowed; expected {', '.join(BACKENDS)}")
        export = onnx_export_of(folder) if backend in ("auto", "onnx") and kind in EXPORTABLE_KINDS else None
        if export is not None:  # the fastest backend the folder supports: its own ONNX export
            backend_kwargs.pop("max_length", None)
            clf = cls.from_folder(export, "onnx", calibrated=calibrated, **backend_kwargs)
            clf.backend_name += f" (the folder's export {export.path})"
            return clf
        if backend == "onnx" and kind in EXPORTABLE_KINDS:
            raise InputError(f"{model_dir}: no ONNX export in {model_dir / ONNX_DIR}; make one with "
                              f"`mlnews export {model_dir} --onnx --int8`")
        if backend == "auto":
            backend = BACKEND_OF_KIND.get(kind, kind)
        allowed = [k for k, b in BACKEND_OF_KIND.items() if b == backend]
        if kind not in allowed:
            raise MlnewsError(f"{model_dir}: backend {backend!r} needs a {' or '.join(allowed)} model folder, "
                              f"this one is {kind!r}")
        labels = list(manifest.labels or [])
        if backend in ("tfidf", "static"):
            backend_kwargs.pop("batch_size", None)  # these predict the whole list at once
            backend_kwargs.pop("num_threads", None)
        impl: Backend
        if kind == "tfidf":
            impl = TfidfBackend(model_dir, labels)
        elif kind == "static":
            from mlnews.infer.static import StaticBackend  # the static-embedding model lives on its own

            impl = StaticBackend(model_dir, labels, max_length=manifest.input.max_length)
        elif kind == "embedding":
            backend_kwargs.setdefault("max_length", manifest.input.max_length)
            impl = EmbeddingBackend(model_dir, labels, **backend_kwargs)
        elif kind == "transformer":
            backend_kwargs.setdefault("max_length", manifest.input.max_length)
            impl = TorchBackend(model_dir, **backend_kwargs)
            id2label = impl.id2label
            if [id2label.get(i) for i in range(len(labels))] != labels:
                raise MlnewsError(f"{model_dir}: config.json id2label does not match the labels in mlnews.json")
        else:
            from mlnews.infer.onnx import OnnxBackend  # the ONNX backend lives with the exporter

            impl = OnnxBackend(model_dir, manifest=manifest, **backend_kwargs)
        clf = cls(impl, manifest, model_dir, calibrated=calibrated)
        clf.backend_name = backend if backend != "onnx" else \
            f"onnx {'int8' if manifest.extra.get('onnx', {}).get('int8') else 'fp32'}"
        return clf

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
        """Probabilities ``[n, len(labels)]`` for raw texts (headlines or titles; optional leads/bodies):
        calibrated when :attr:`calibrated` (see :meth:`raw_proba` and :meth:`calibrate`)."""
        return self.calibrate(self.raw_proba(texts, leads=leads, bodies=bodies))

    def raw_proba(
        self,
        texts: Sequence[str],
        *,
        leads: Sequence[str] | None = None,
        bodies: Sequence[str] | None = None,
    ) -> np.ndarray:
        """The backend's probabilities ``[n, len(labels)]``, before any calibration."""
        return self.backend.predict_proba(self._compose_all(texts, leads, bodies))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The scores this classifier reports for raw probabilities: the folder's temperature applied
        when :attr:`calibrated` (``softmax(log(p) / T)``), else ``raw`` unchanged. The top label never changes."""
        return self.calibration.apply(raw) if self.calibrated and self.calibration is not None else raw

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
        if not len(probs):
            return []
        best = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # one sort for the whole batch
        scores = np.take_along_axis(probs, best, axis=1).tolist()
        names = [self.labels.decode(j) for j in range(len(self.labels))]
        results = []
        for idx, sc in zip(best.tolist(), scores):
            ranked = [{"label": names[j], "score": s} for j, s in zip(idx, sc)]
            results.append({"label": ranked[0]["label"], "score": ranked[0]["score"], "top_k": ranked})
        return results
