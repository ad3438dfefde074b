"""The ``mlnews.json`` manifest that makes a model folder self-describing.

Every model folder (classifier or summariser, any backend) carries one::

    {"format": 1, "task": "classification", "kind": "transformer", "labels": [...],
     "input": {"prefix": "query: ", "max_length": 128, "use_lead": true, "body_chars": 300},
     "base_model": "e5-small", "mlnews_version": "0.1.0", "created": "2026-11-25T21:00:00+00:00"}

Readers (``Classifier.load``, ``mlnews evaluate``) call :func:`read_manifest`, which turns a missing or
malformed file into a one-line :class:`~mlnews.errors.MlnewsError`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from mlnews.errors import MlnewsError
from mlnews.io import write_json

MANIFEST_NAME = "mlnews.json"
FORMAT = 1
TASKS = ("classification", "summarisation")
KINDS = ("transformer", "tfidf", "onnx", "seq2seq")


def make_manifest(
    *,
    task: str,
    kind: str,
    labels: list[str] | None = None,
    input: dict[str, Any] | None = None,
    base_model: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a manifest dict with the required keys filled in (``created`` = now, UTC)."""
    from mlnews import __version__

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    manifest: dict[str, Any] = {"format": FORMAT, "task": task, "kind": kind}
    if labels is not None:
        manifest["labels"] = list(labels)
    manifest["input"] = dict(input or {})
    manifest["base_model"] = base_model
    manifest["mlnews_version"] = __version__
    manifest["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    manifest.update(extra)
    return manifest


def write_manifest(model_dir: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Atomically write ``model_dir/mlnews.json``."""
    path = Path(model_dir) / MANIFEST_NAME
    write_json(path, manifest)
    return path


def read_manifest(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``model_dir/mlnews.json``; errors name the folder and what is wrong."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise MlnewsError(f"{model_dir}: model folder not found")
    if not model_dir.is_dir():
        raise MlnewsError(f"{model_dir}: expected a model folder (with {MANIFEST_NAME}), got a file")
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise MlnewsError(f"{model_dir}: not an mlnews model folder ({MANIFEST_NAME} is missing; train one with `mlnews train`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MlnewsError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise MlnewsError(f"{path}: expected a JSON object")
    if manifest.get("format") != FORMAT:
        raise MlnewsError(f"{path}: format: expected {FORMAT}, got {manifest.get('format')!r}")
    if manifest.get("task") not in TASKS:
        raise MlnewsError(f"{path}: task: expected one of {', '.join(TASKS)}, got {manifest.get('task')!r}")
    if manifest.get("kind") not in KINDS:
        raise MlnewsError(f"{path}: kind: expected one of {', '.join(KINDS)}, got {manifest.get('kind')!r}")
    if manifest["task"] == "classification":
        labels = manifest.get("labels")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise MlnewsError(f"{path}: labels: expected a non-empty list of label names")
    if not isinstance(manifest.get("input", {}), dict):
        raise MlnewsError(f"{path}: input: expected a mapping")
    return manifest
