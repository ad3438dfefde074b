"""Score a topic classifier on labelled rows and write its artefacts.

The same code serves ``mlnews evaluate MODEL DATA`` and ``mlnews train`` (which scores its test split
through the :class:`~mlnews.infer.classifier.Classifier` that users load, not a predictor of its own).

Rows are ``{id, text, lead, body, label, lang, source}`` dicts: :func:`load_eval_rows` reads them from a
dataset folder / data config split or from a labelled file (anything the one input reader
:func:`mlnews.ingest.inputs.iter_records` reads). Rows without a label, with a label outside the
model's label set, or with an empty text are counted by reason and reported, never silently dropped.
``metrics.json`` also has the expected calibration error and NLL of the scores (``ece``, ``nll``; of the
raw probabilities too, ``ece_uncalibrated``, when the folder applies a calibration);
:func:`raw_probabilities` is what :mod:`mlnews.train.calibrate` fits the temperature on.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from mlnews.errors import InputError, MlnewsError
from mlnews.evaluate.metrics import expected_calibration_error, negative_log_likelihood, write_eval_artifacts
from mlnews.infer.classifier import Classifier
from mlnews.io import atomic_write
from mlnews.modelfolder import PREDICTIONS, ModelFolder

ROW_FIELDS = ("id", "text", "lead", "body", "label", "lang", "source")


def dataset_rows(data: str | Path, split: str) -> list[dict[str, Any]]:
    """Rows of one classification split of a dataset folder or data config (built and cached)."""
    from mlnews.data import ensure_dataset, label_names, load_built

    folder = Path(ensure_dataset(data))
    dd = load_built(folder).classification
    if split not in dd:
        raise MlnewsError(f"{folder}: split {split!r} not found (has {', '.join(dd.keys())}); see --split")
    ds = dd[split]
    n = len(ds)
    defaults = {"id": [f"{split}-{i}" for i in range(n)], "lead": [""] * n, "body": [""] * n,
                "lang": ["unknown"] * n, "source": ["unknown"] * n}
    cols = {c: ds[c] if c in ds.column_names else defaults[c] for c in ROW_FIELDS if c != "label"}
    cols["label"] = label_names(ds)  # ClassLabel ids -> names (-1 -> None)
    rows = []
    for i in range(n):
        rows.append({
            "id": str(cols["id"][i]),
            "text": cols["text"][i] or "",
            "lead": cols["lead"][i] or "",
            "body": cols["body"][i] or "",
            "label": cols["label"][i],
            "lang": cols["lang"][i] or "unknown",
            "source": cols["source"][i] or "unknown",
        })
    return rows


def load_eval_rows(
    data: Path,
    split: str,
    *,
    label_field: str,
    text_field: str,
    lead_field: str,
    body_field: str,
) -> tuple[list[dict[str, Any]], str]:
    """Rows and a default artefact-folder name, from a dataset folder / data config or a labelled file."""
    from mlnews.ingest.inputs import BadRow, Columns, is_record_file, iter_rows

    data = Path(data)
    if not data.exists():
        raise InputError(f"{data}: not found; expected a dataset folder, a data config or a labelled JSONL/CSV file")
    if data.is_file() and is_record_file(data):
        rows = []
        for item in iter_rows([str(data)], Columns(text=text_field, lead=lead_field, body=body_field)):
            if isinstance(item, BadRow):
                if item.code != "empty":
                    raise InputError(f"{item}" + (" (see --text-field)" if item.code == "missing" else ""))
                rows.append({"id": item.where, "text": "", "lead": "", "body": "", "label": None,
                             "lang": "unknown", "source": data.stem})  # counted as empty_text below
                continue
            label = item.fields.get(label_field)
            rows.append({
                "id": str(item.fields.get("id", item.where)),
                "text": item.text,
                "lead": item.lead,
                "body": item.body,
                "label": label if isinstance(label, str) else None,
                "lang": item.fields.get("lang") or "unknown",
                "source": item.fields.get("source") or data.stem,
            })
        return rows, f"eval-{data.stem}"
    return dataset_rows(data, split), f"eval-{split}"


def usable_rows(rows: list[dict[str, Any]], labels: Any) -> tuple[list[dict[str, Any]], Counter[str], Counter[str]]:
    """``(kept, skipped by reason, labels outside the model)``: rows with a text and a label of ``labels``."""
    skipped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    kept = []
    for r in rows:
        if not r["text"].strip():
            skipped["empty_text"] += 1
        elif not r["label"]:
            skipped["no_label"] += 1
        elif r["label"] not in labels:
            skipped["label_not_in_model"] += 1
            unknown[r["label"]] += 1
        else:
            kept.append(r)
    return kept, skipped, unknown


def raw_probabilities(model: ModelFolder, rows: list[dict[str, Any]], *, batch_size: int = 32,
                      backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """``(raw probabilities [n, n_labels], gold label codes [n])`` of the usable ``rows``, predicted by the
    :class:`Classifier` users load with ``calibrated=False`` (what a calibration is fitted on)."""
    clf = Classifier.from_folder(model, backend, calibrated=False, batch_size=batch_size)
    kept, _, _ = usable_rows(rows, clf.labels)
    if not kept:
        return np.zeros((0, len(clf.labels)), dtype=np.float32), np.zeros(0, dtype=int)
    probs = clf.raw_proba([r["text"] for r in kept], leads=[r["lead"] for r in kept], bodies=[r["body"] for r in kept])
    return probs, np.array([clf.labels.encode(r["label"]) for r in kept], dtype=int)


def evaluate_classifier(
    model: Classifier | ModelFolder | str | Path,
    rows: list[dict[str, Any]],
    out_dir: Path,
    *,
    backend: str = "auto",
    batch_size: int = 32,
    source_name: str = "",
    extra: dict[str, Any] | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Predict ``rows`` and write metrics.json, confusion_matrix.{png,csv} and predictions.jsonl."""
    if isinstance(model, ModelFolder):  # a trainer's own output, manifest still in memory
        clf = Classifier.from_folder(model, backend, batch_size=batch_size)
    elif isinstance(model, Classifier):
        clf = model
    else:
        clf = Classifier.load(model, backend=backend, batch_size=batch_size)
    model_dir = clf.model_dir or Path("model")
    kept, skipped, unknown = usable_rows(rows, clf.labels)
    if not kept:
        where = f"{source_name}: " if source_name else ""
        raise InputError(
            f"{where}no rows to evaluate ({len(rows)} read; skipped {dict(skipped)}; "
            f"labels outside the model: {dict(unknown.most_common(5))}; model labels: {', '.join(clf.labels.names)})"
        )
    raw = clf.raw_proba([r["text"] for r in kept], leads=[r["lead"] for r in kept], bodies=[r["body"] for r in kept])
    probs = clf.calibrate(raw)  # the scores users get: calibrated when the folder has a calibration
    pred = [clf.labels.decode(j) for j in probs.argmax(axis=1)]
    gold = np.array([clf.labels.encode(r["label"]) for r in kept], dtype=int)
    calibration: dict[str, Any] = {
        "ece": round(expected_calibration_error(probs, gold), 4),  # of the scores written (15 equal-width bins)
        "nll": round(negative_log_likelihood(probs, gold), 4),
        "calibrated": clf.calibrated,
    }
    if clf.calibrated and clf.calibration is not None:  # the same rows before the folder's temperature
        calibration.update(ece_uncalibrated=round(expected_calibration_error(raw, gold), 4),
                           nll_uncalibrated=round(negative_log_likelihood(raw, gold), 4),
                           calibration=clf.calibration.to_dict())
    info = {
        "model": str(model_dir),
        "data": source_name,
        "rows_read": len(rows),
        "rows_scored": len(kept),
        "skipped": dict(skipped),
        "labels_outside_model": dict(unknown),
        **calibration,
        **(extra or {}),
    }
    metrics = write_eval_artifacts(
        out_dir, [r["label"] for r in kept], pred, clf.labels,
        langs=[r["lang"] for r in kept], sources=[r["source"] for r in kept], extra=info,
        title=title if title is not None else f"{model_dir.name} on {Path(source_name).name}",
    )
    with atomic_write(Path(out_dir) / PREDICTIONS) as fh:
        for r, p, row in zip(kept, pred, probs):
            fh.write(json.dumps({"id": r["id"], "label": r["label"], "pred": p, "score": round(float(row.max()), 4),
                                 "lang": r["lang"], "source": r["source"]}, ensure_ascii=False) + "\n")
    return metrics
