"""ONNX export (optionally int8-quantised) of transformer classifiers, and the ONNX Runtime backend.

``export_onnx(model_dir, out_dir, int8=True)`` turns a transformer model folder (``mlnews.json`` with
kind ``"transformer"``) into a self-describing ONNX folder (kind ``"onnx"``) that
``Classifier.load`` and ``mlnews classify --backend onnx`` accept::

    OUT/
      mlnews.json        the source manifest with kind "onnx" and an "onnx" section
                         (file, int8, opset, inputs, export check: torch vs onnx agreement)
      model.onnx         logits = f(input_ids, attention_mask[, token_type_ids]); dynamic batch/sequence axes
      config.json        id2label/label2id (for reference; labels come from mlnews.json)
      tokenizer files    tokenizer.json etc. (save_pretrained)
      metrics.json, README.md, ...   copied from the source folder when present

The export uses the TorchScript-based exporter (``dynamo=False``): the dynamo exporter needs
``onnxscript``, which mlnews does not depend on. Quantisation is ONNX Runtime's
``quantize_dynamic`` with per-channel QInt8 weights (activations quantised on the fly).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mlnews.batches import by_length
from mlnews.errors import InputError, MlnewsError
from mlnews.io import atomic_dir
from mlnews.modelfolder import EXPORTABLE_KINDS, ONNX as ONNX_FILE, Manifest, ModelFolder

DEFAULT_OPSET = 17
# Files copied unchanged from the source folder when they exist.
# the source's card is not copied: the export gets its own (mlnews.train.card.render_onnx_card)
_COPY_FILES = ("metrics.json", "train_config.yaml", "confusion_matrix.png", "confusion_matrix.csv")
# Our own sample inputs for the export check (not third-party text).
_CHECK_TEXTS = [
    "Центробанк сохранил ключевую ставку",
    "Збірна виграла матч у доданий час і вийшла до фіналу",
    "В парламенте обсудили новый бюджет на следующий год, депутаты спорили до ночи",
    "Погода",
    "Учёные нашли новый способ хранить энергию солнечных панелей в течение нескольких месяцев без потерь",
    "Уряд ухвалив рішення про підвищення пенсій",
    "Футбол",
    "Новый смартфон поступил в продажу",
]


def available_cores() -> int:
    """CPU cores this process may run on (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _logits_module(model: Any, input_names: list[str]):
    """Wrap a sequence classifier so the traced graph takes positional tensors and returns the logits only."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors):  # in the order of ``input_names``
            return self.model(**dict(zip(input_names, tensors))).logits

    return LogitsOnly().eval()


def _source_module(model_dir: Path, manifest: Manifest) -> tuple[Any, Any, Any]:
    """``(tokenizer, config, make)`` for the folder, where ``make(input_names)`` is a module of positional
    tensors returning logits: a transformer's, or for ``kind: embedding`` the encoder + mean pooling + the
    logistic-regression head as one module."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    # Eager attention traces into plain ops that every ONNX Runtime version runs.
    if manifest.kind == "embedding":
        from mlnews.infer.classifier import SklearnHead
        from mlnews.models.encoder import load_encoder, pooler_module
        from mlnews.modelfolder import HEAD

        weight, bias = SklearnHead(model_dir / HEAD, list(manifest.labels or []), "embedding head").linear()
        encoder = load_encoder(model_dir, attn_implementation="eager")
        return tokenizer, encoder.config, lambda names: pooler_module(encoder, names, weight, bias)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager").eval()
    return tokenizer, model.config, lambda names: _logits_module(model, names)


def _export_fp32(model_dir: Path, manifest: Manifest, onnx_path: Path, opset: int) -> tuple[list[str], Any, Any, Any]:
    """Trace the folder's model to ``onnx_path``; returns ``(input names, tokenizer, config, logits_fn)``."""
    import torch

    tokenizer, config, make = _source_module(model_dir, manifest)
    sample = tokenizer(_CHECK_TEXTS[:2], padding=True, truncation=True, max_length=32, return_tensors="pt")
    input_names = [n for n in tokenizer.model_input_names if n in sample]
    wrapper = make(input_names)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in input_names}
    dynamic["logits"] = {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            wrapper,
            tuple(sample[n] for n in input_names),
            str(onnx_path),
            input_names=input_names,
            output_names=["logits"],
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )

    def logits_fn(enc: Any) -> Any:
        with torch.no_grad():
            return wrapper(*(enc[n] for n in input_names))

    return input_names, tokenizer, config, logits_fn


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence tracer warnings and ONNX Runtime's root-logger advice during export (they are not actionable)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def export_onnx(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    int8: bool = False,
    opset: int = DEFAULT_OPSET,
    progress: Any = None,
) -> dict:
    """Export a transformer classifier folder to ONNX (int8 weights with ``int8``); return the new manifest.

    The output folder is written atomically, with its own model card. The manifest's ``onnx.check``
    records how closely the exported model agrees with torch on a few built-in sample headlines
    (top-1 agreement and the largest absolute probability difference). ``progress(stage, n, total=None)``
    is told each step (trace to ONNX, int8 quantisation, the check) as it starts and ends.
    """
    progress = progress or (lambda stage, n, total=None: None)
    import torch

    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    manifest = ModelFolder.open(model_dir).manifest
    kind = manifest.kind
    if manifest.task != "classification":
        raise MlnewsError(f"{model_dir}/mlnews.json: task is {manifest.task!r}; only classifiers export to ONNX")
    if kind not in EXPORTABLE_KINDS:
        why = {"tfidf": " (TF-IDF models are already fast on CPU; use them as they are)",
               "static": " (a static-embedding model is a table lookup and a mean: it is already faster than ONNX would be)",
               "onnx": " (this folder is an ONNX export already)"}.get(kind, "")
        raise MlnewsError(
            f"{model_dir}/mlnews.json: kind is {kind!r}; ONNX export needs a "
            f"{' or '.join(repr(k) for k in EXPORTABLE_KINDS)} model folder{why}"
        )
    if opset < 14:
        raise MlnewsError(f"--opset {opset}: expected 14 or newer (17 recommended)")
    if out_dir.resolve() == model_dir.resolve():
        raise MlnewsError(f"--out {out_dir}: must differ from the model folder")

    max_length = manifest.input.max_length
    with atomic_dir(out_dir) as tmp, tempfile.TemporaryDirectory(prefix="mlnews-onnx-") as scratch:
        fp32_path = Path(scratch) / "model.fp32.onnx"
        final = tmp / ONNX_FILE
        with _quiet():
            progress("export to ONNX", 0, total=1)
            input_names, tokenizer, config, logits_fn = _export_fp32(model_dir, manifest, fp32_path, opset)
            progress("export to ONNX", 1)
            if int8:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                progress("quantise to int8", 0, total=1)
                # Per-channel scales keep int8 closer to fp32 (top-1 agreement on an e5-small probe: 93% vs 89%).
                quantize_dynamic(str(fp32_path), str(final), weight_type=QuantType.QInt8, per_channel=True)
                progress("quantise to int8", 1)
            else:
                shutil.copyfile(fp32_path, final)

        progress("check against torch", 0, total=1)
        tokenizer.model_max_length = max_length  # the saved tokenizer truncates as the model was trained
        tokenizer.save_pretrained(tmp)
        config.save_pretrained(tmp)
        for name in _COPY_FILES:
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, tmp / name)

        # Agreement check on sample texts: torch (the source) vs the written ONNX model.
        texts = [manifest.input.prefix + t for t in _CHECK_TEXTS]
        enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        p_torch = torch.softmax(logits_fn(enc), dim=-1).numpy()
        new_manifest = dataclasses.replace(manifest, kind="onnx", extra={**manifest.extra, "onnx": {"file": ONNX_FILE}})
        backend = OnnxBackend(tmp, new_manifest)
        p_onnx = backend.predict_proba(texts)
        check = {
            "texts": len(texts),
            "top1_agreement": float((p_torch.argmax(1) == p_onnx.argmax(1)).mean()),
            "max_abs_prob_diff": float(np.abs(p_torch - p_onnx).max()),
        }

        new_manifest.extra["onnx"] = {
            "file": ONNX_FILE,
            "int8": bool(int8),
            "opset": opset,
            "inputs": input_names,
            "source_kind": kind,
            "exported_from": str(model_dir.resolve()),
            "check": check,
        }
        import json

        from mlnews.io import write_text
        from mlnews.train.card import render_onnx_card

        if (model_dir / "metrics.json").is_file():  # every trained folder has it (the card quotes its test metrics)
            source_metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
            write_text(tmp / "README.md", render_onnx_card(new_manifest.to_dict(), source_metrics, model_dir=str(out_dir),
                                                           source_dir=str(model_dir), pad_token=tokenizer.pad_token))
        progress("check against torch", 1)
        ModelFolder(tmp).finish(new_manifest)
    return new_manifest


class OnnxBackend:
    """ONNX Runtime backend: ``predict_proba(texts) -> np.ndarray [n, n_labels]`` (softmax probabilities).

    Texts arrive already composed and prefixed (the :class:`Classifier` does that). Inside, texts are
    sorted by length and cut into batches of ``batch_size``, each padded only to its own longest
    member (dynamic padding), then returned in the caller's order. The session uses all available
    cores for intra-op parallelism (``num_threads`` or ``$MLNEWS_ORT_THREADS`` override) and full graph
    optimisation. ``manifest`` defaults to the folder's ``mlnews.json``; ``max_length`` to its
    ``input.max_length``.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        manifest: Manifest | None = None,
        *,
        batch_size: int = 32,
        num_threads: int | None = None,
        max_length: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir)
        self.manifest = manifest if manifest is not None else ModelFolder.open(self.model_dir).manifest
        onnx_file = self.manifest.extra.get("onnx", {}).get("file", ONNX_FILE)
        path = self.model_dir / onnx_file
        if not path.is_file():
            raise InputError(f"{path}: not found; export one with `mlnews export MODEL_DIR --onnx --out DIR`")
        self.batch_size = int(batch_size)
        self.max_length = int(max_length or self.manifest.input.max_length)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads or int(os.environ.get("MLNEWS_ORT_THREADS", 0)) or available_cores()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.n_labels = len(self.manifest.labels or [])

    def _run(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        feed = {name: np.asarray(enc[name], dtype=np.int64) for name in self.input_names}
        (logits,) = self.session.run(["logits"], feed)
        return _softmax(logits.astype(np.float32))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities for ``texts`` (rows in input order)."""
        if not texts:
            return np.zeros((0, self.n_labels), dtype=np.float32)
        out: np.ndarray | None = None
        for idx in by_length(texts, self.batch_size):
            probs = self._run([texts[i] for i in idx])
            if out is None:
                out = np.empty((len(texts), probs.shape[1]), dtype=np.float32)
            out[idx] = probs
        assert out is not None
        return out
