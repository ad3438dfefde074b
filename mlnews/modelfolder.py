"""The model folder: the one place that knows its file names and reads or writes its manifest.

Every trained model (classifier or summariser, any backend) is a folder with an ``mlnews.json``
manifest that makes it self-describing::

    {"format": 1, "task": "classification", "kind": "transformer", "labels": [...],
     "input": {"prefix": "query: ", "max_length": 48, "use_lead": true, "body_chars": 200, ...},
     "base_model": "e5-small", "mlnews_version": "0.1.0", "created": "2026-11-25T21:00:00+00:00",
     ... kind-specific keys (taxonomy, target, onnx) ...}

:class:`ModelFolder` owns both directions, like setfit's ``save_pretrained`` / ``from_pretrained``:

* ``ModelFolder.open(path, task=...)`` reads and checks a finished folder (one-line errors naming
  the folder and what is wrong);
* ``ModelFolder.prepare(out_dir, resume=...)`` is the out-dir guard every trainer calls first;
* ``folder.finish(manifest)`` writes the manifest **last**: a folder without it is an unfinished
  run, which the guard recognises and lets the next run overwrite (with a message).

The input spec's defaults (:class:`InputSpec`) are written here once; readers never re-supply them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlnews.errors import InputError

# ------------------------------------------------------------------------------------------ file names
MANIFEST = "mlnews.json"
CONFIG = "train_config.yaml"  # the whole resolved training config
METRICS = "metrics.json"
CARD = "README.md"
SKOPS = "model.skops"  # scikit-learn pipelines (TF-IDF), loaded with skops' trusted types
HEAD = "head.skops"  # the scikit-learn head of the embedding and static kinds (skops, never pickle)
SAFETENSORS = "model.safetensors"
ONNX = "model.onnx"
ONNX_DIR = "onnx"  # a model folder's own ONNX export (mlnews export DIR --onnx), which backend auto prefers
CONFUSION_PNG = "confusion_matrix.png"
CONFUSION_CSV = "confusion_matrix.csv"
PREDICTIONS = "predictions.jsonl"
HISTORY = "train_history.json"
CHECKPOINTS = "checkpoints"  # HF Trainer checkpoints of an unfinished (or kept) run
PICKLED_WEIGHTS = ("pytorch_model.bin", "training_args.bin")  # never loaded: torch would unpickle them

FORMAT = 1
KINDS: dict[str, tuple[str, ...]] = {
    "classification": ("transformer", "tfidf", "embedding", "static", "onnx"),
    "summarisation": ("seq2seq", "extractive"),
}
TASKS = tuple(KINDS)
#: Classifier kinds that ``mlnews export --onnx`` turns into an ONNX folder: a transformer's logits, or an
#: embedding model's encoder + pooling + head as one graph (``--backend auto`` prefers such an export).
EXPORTABLE_KINDS = ("transformer", "embedding")
#: The input-spec fields a manifest of each task carries (the others do not apply to it).
INPUT_FIELDS = {
    "classification": ("prefix", "max_length", "use_lead", "body_chars"),
    "summarisation": ("prefix", "max_length", "chunking", "max_chunks"),
}

#: What a trainer may find in ``--out`` from an interrupted run of its own (safe to clear):
_OWN_FILES = {
    MANIFEST, CONFIG, METRICS, CARD, SKOPS, HEAD, SAFETENSORS, ONNX, CONFUSION_PNG, CONFUSION_CSV, PREDICTIONS,
    HISTORY, CHECKPOINTS, ONNX_DIR, "runs", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "sentencepiece.bpe.model", "vocab.txt", "chat_template.jinja",
}


@dataclass
class InputSpec:
    """How raw text becomes a model input, the same at training and at inference.

    ``prefix`` goes in front of every input (``"query: "`` for e5); ``max_length`` is the token
    budget; classifiers compose ``title + lead + first body_chars characters of the body``
    (``use_lead``, ``body_chars``); seq2seq summarisers read the ``head`` of an article or up to
    ``max_chunks`` windows of it (``chunking``).
    """

    prefix: str = ""
    max_length: int = 128
    use_lead: bool = True
    body_chars: int = 300
    chunking: str = "head"
    max_chunks: int = 4

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "InputSpec":
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise InputError(f"{where}: input: expected a mapping")
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in names:
                continue  # written by a newer mlnews: ignored on read, kept out of the typed spec
            want = type(getattr(cls(), key))
            if value is None and key == "prefix":
                value = ""
            if (want is int and isinstance(value, bool)) or not isinstance(value, want):
                raise InputError(f"{where}: input.{key}: expected {want.__name__}, got {value!r}")
            kwargs[key] = value
        return cls(**kwargs)


def temperature_scale(probs: Any, temperature: float, *, eps: float = 1e-12) -> Any:
    """``softmax(log(p) / T)`` row by row: the one definition of temperature scaling in mlnews.

    ``p`` is clipped to ``eps`` first (no log 0). For a softmax model this equals ``softmax(logits / T)``;
    ``T > 1`` softens the scores, ``T < 1`` sharpens them, the top label never changes. Returns an array
    of ``probs``' float dtype (float64 for other inputs).
    """
    import numpy as np

    p = np.asarray(probs)
    dtype = p.dtype if np.issubdtype(p.dtype, np.floating) else np.float64
    if p.size == 0 or temperature == 1.0:
        return p.astype(dtype, copy=True)
    z = np.log(np.clip(p.astype(np.float64), eps, 1.0)) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(dtype)


@dataclass
class Calibration:
    """``mlnews.json`` ``calibration``: how a classifier's raw probabilities become the scores it reports.

    ``method`` is ``temperature`` (scores = :func:`temperature_scale` of the backend's probabilities);
    ``temperature`` was fitted (minimum NLL) on ``rows`` rows of the ``fitted_on`` split after training;
    the ``ece_*`` / ``nll_*`` values are that split's expected calibration error and negative log-likelihood
    before and after (for the record; never read back into inference).
    """

    temperature: float
    method: str = "temperature"
    fitted_on: str = "validation"
    rows: int = 0
    report: dict[str, Any] = field(default_factory=dict)  # ece_before/after, nll_before/after, note ...

    METHODS = ("temperature",)

    @classmethod
    def from_dict(cls, data: Any, where: str = MANIFEST) -> "Calibration":
        """Check a ``calibration`` mapping; errors are one line naming ``where`` and the field."""
        if not isinstance(data, dict):
            raise InputError(f"{where}: calibration: expected a mapping with method and temperature, got {data!r}")
        method = data.get("method", "temperature")
        if method not in cls.METHODS:
            raise InputError(f"{where}: calibration.method: expected one of {', '.join(cls.METHODS)}, got {method!r}")
        t = data.get("temperature")
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise InputError(f"{where}: calibration.temperature: expected a number > 0, got {t!r}")
        rows = data.get("rows", 0)
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise InputError(f"{where}: calibration.rows: expected a count >= 0, got {rows!r}")
        fitted_on = data.get("fitted_on", "validation")
        if not isinstance(fitted_on, str):
            raise InputError(f"{where}: calibration.fitted_on: expected a split name, got {fitted_on!r}")
        known = {"method", "temperature", "rows", "fitted_on"}
        return cls(temperature=float(t), method=method, fitted_on=fitted_on, rows=rows,
                   report={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "temperature": self.temperature, "fitted_on": self.fitted_on,
                "rows": self.rows, **self.report}

    def apply(self, probs: Any) -> Any:
        """Calibrated scores from raw probabilities ``[n, n_labels]``."""
        return temperature_scale(probs, self.temperature)


@dataclass
class Manifest:
    """The typed ``mlnews.json``. ``extra`` holds kind-specific keys (``taxonomy``, ``target``, ``onnx``) and
    a classifier's ``calibration`` (typed by :attr:`calibration`)."""

    task: str
    kind: str
    labels: list[str] | None = None
    input: InputSpec = field(default_factory=InputSpec)
    base_model: str | None = None
    mlnews_version: str = ""
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, *, task: str, kind: str, labels: list[str] | None = None, input: InputSpec | dict | None = None,
            base_model: str | None = None, **extra: Any) -> "Manifest":
        """A manifest for a model trained now (version and UTC time filled in)."""
        from mlnews import __version__

        if task not in KINDS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if kind not in KINDS[task]:
            raise ValueError(f"kind for {task} must be one of {KINDS[task]}, got {kind!r}")
        if not isinstance(input, InputSpec):
            input = InputSpec.from_dict(input, "input")
        return cls(task=task, kind=kind, labels=list(labels) if labels is not None else None,
                   input=input, base_model=base_model, mlnews_version=__version__,
                   created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), extra=dict(extra))

    @property
    def calibration(self) -> Calibration | None:
        """The classifier's score calibration (``extra["calibration"]``), or None for raw probabilities."""
        data = self.extra.get("calibration")
        return None if data is None else Calibration.from_dict(data)

    def __getitem__(self, key: str) -> Any:
        """Read access as in the JSON file (``manifest["onnx"]["int8"]``)."""
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": FORMAT, "task": self.task, "kind": self.kind}
        if self.labels is not None:
            out["labels"] = list(self.labels)
        spec = dataclasses.asdict(self.input)
        out["input"] = {k: spec[k] for k in INPUT_FIELDS[self.task]}
        out.update(base_model=self.base_model, mlnews_version=self.mlnews_version, created=self.created)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = MANIFEST) -> "Manifest":
        """Check a manifest mapping; errors are one line and name ``where`` and the key."""
        if isinstance(data, Manifest):
            return data
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object")
        if data.get("format") != FORMAT:
            raise InputError(f"{where}: format: expected {FORMAT}, got {data.get('format')!r}")
        task = data.get("task")
        if task not in KINDS:
            raise InputError(f"{where}: task: expected one of {', '.join(TASKS)}, got {task!r}")
        kind = data.get("kind")
        if kind not in KINDS[task]:
            raise InputError(f"{where}: kind: expected one of {', '.join(KINDS[task])} for {task}, got {kind!r}")
        labels = data.get("labels")
        if task == "classification" and (
            not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels)
        ):
            raise InputError(f"{where}: labels: expected a non-empty list of label names")
        if data.get("calibration") is not None:
            Calibration.from_dict(data["calibration"], where)  # a bad value is refused on load, naming the field
        known = {"format", "task", "kind", "labels", "input", "base_model", "mlnews_version", "created"}
        return cls(task=task, kind=kind, labels=list(labels) if isinstance(labels, list) else None,
                   input=InputSpec.from_dict(data.get("input"), where), base_model=data.get("base_model"),
                   mlnews_version=str(data.get("mlnews_version") or ""), created=str(data.get("created") or ""),
                   extra={k: v for k, v in data.items() if k not in known})


class ModelFolder:
    """A model folder on disk: its paths, its manifest, and the rules for writing one."""

    def __init__(self, path: str | os.PathLike, manifest: Manifest | None = None) -> None:
        self.path = Path(path)
        self._manifest = manifest

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = read_manifest(self.path)
        return self._manifest

    # ---------------------------------------------------------------------------------------- read
    @classmethod
    def open(cls, path: str | os.PathLike, task: str | None = None) -> "ModelFolder":
        """A finished model folder (``task`` checked when given)."""
        return cls(path, read_manifest(path, task))

    @staticmethod
    def is_model(path: str | os.PathLike) -> bool:
        """True for a folder with a manifest (finished or not yet checked)."""
        return (Path(path) / MANIFEST).is_file()

    def safetensors_weights(self) -> Path:
        """The folder's ``model.safetensors``; a folder with only pickled weights is refused, never loaded."""
        path = self.file(SAFETENSORS)
        if path.is_file():
            return path
        pickled = [n for n in PICKLED_WEIGHTS[:1] if self.file(n).is_file()]
        if pickled:
            raise InputError(
                f"{self.path}: has only {pickled[0]} (a pickle); mlnews never unpickles model files. "
                f"Convert it once in a trusted environment: AutoModel.from_pretrained(DIR).save_pretrained(DIR, "
                f"safe_serialization=True)"
            )
        raise InputError(f"{self.path}: {SAFETENSORS} is missing")

    # --------------------------------------------------------------------------------------- write
    @classmethod
    def prepare(cls, out_dir: str | os.PathLike, *, resume: bool = False, checkpoints: bool = True) -> "ModelFolder":
        """The out-dir guard every trainer calls before it writes anything.

        * a missing or empty folder is fine;
        * checkpoints with ``--resume``: continue that run (also one stopped early that wrote a model);
        * a finished model (manifest present) is refused: choose a new folder or remove it;
        * an unfinished run (no manifest) with checkpoints, without ``--resume``: refused, so that a long
          run is never thrown away by accident;
        * an unfinished run without checkpoints, holding only files a trainer writes, is cleared
          with a message (a TF-IDF run killed after its weights were written, say);
        * anything else (files mlnews does not write) is refused.

        ``checkpoints=False`` is for trainers that have none (TF-IDF): ``resume`` then just retrains.
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise InputError(f"--out {out}: exists and is a file; expected a folder")
        folder = cls(out)
        if not out.exists():
            return folder
        entries = [p for p in out.iterdir() if not p.name.startswith(".")]
        if not entries:
            return folder
        # a checkpoint-N folder, not just the labels.json a run writes before its first save (a run
        # killed then must be restartable without --resume, which has nothing to continue)
        has_ckpt = (out / CHECKPOINTS).is_dir() and any(
            p.is_dir() and p.name.startswith("checkpoint-") for p in (out / CHECKPOINTS).iterdir())
        if checkpoints and has_ckpt and resume:
            return folder  # also a run stopped early (time limit, callback) that kept its checkpoints
        if (out / MANIFEST).is_file():
            raise InputError(f"--out {out}: folder is not empty: it holds a finished model ({MANIFEST}); "
                              "choose a new folder or remove it")
        if checkpoints and has_ckpt:
            raise InputError(
                f"--out {out}: holds checkpoints of an unfinished run; pass --resume to continue it, "
                "or choose a new folder or remove it"
            )
        foreign = sorted(p.name for p in entries if p.name not in _OWN_FILES)
        if foreign:
            raise InputError(
                f"--out {out}: folder is not empty ({', '.join(foreign[:3])}...); "
                "choose a new folder, remove it" + (", or pass --resume to continue a run" if checkpoints else "")
            )
        print(f"mlnews: --out {out}: an unfinished run (no {MANIFEST}) is left there; overwriting it",
              file=sys.stderr)
        for p in entries:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        return folder

    def finish(self, manifest: Manifest) -> Path:
        """Write ``mlnews.json`` (atomically). Call it last: its presence marks a finished folder.

        Every file of the folder gets the umask's mode first (0644, not the 0600 of some writers)."""
        from mlnews.io import umask_files, write_json

        umask_files(self.path)
        self._manifest = manifest
        write_json(self.file(MANIFEST), manifest.to_dict())
        return self.file(MANIFEST)


def read_manifest(model_dir: str | os.PathLike, task: str | None = None) -> Manifest:
    """Read and check ``model_dir/mlnews.json`` (of ``task`` when given); errors name the folder and what is wrong."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise InputError(f"{model_dir}: model folder not found")
    if not model_dir.is_dir():
        raise InputError(f"{model_dir}: expected a model folder (with {MANIFEST}), got a file")
    path = model_dir / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{model_dir}: not an mlnews model folder ({MANIFEST} is missing; train one with `mlnews train`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: malformed JSON ({exc})") from None
    if task is not None and isinstance(data, dict) and data.get("task") != task:
        raise InputError(f"{model_dir}: is a {data.get('task')} model, expected a {task} model")
    return Manifest.from_dict(data, str(path))
