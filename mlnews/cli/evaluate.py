"""``mlnews evaluate``: recompute metrics and artefacts for a model folder on a dataset or a JSONL file.

Classification folders are scored here (accuracy, macro-F1, per class / language / source, confusion
matrix, predictions); summarisation folders and the names ``lead[-N]`` / ``textrank[-N]`` go to
``mlnews.train.summariser.evaluate``.
"""

from __future__ import annotations

import re

from collections import Counter
from pathlib import Path
from typing import Any, Optional

import typer

from mlnews.cli.app import app

SUMMARISER_NAMES = re.compile(r"(lead|textrank)(-\d+)?")  # lead, lead-3, textrank, textrank-1 ...


def load_eval_rows(
    data: Path,
    split: str,
    *,
    label_field: str,
    text_field: str,
    lead_field: str,
    body_field: str,
) -> tuple[list[dict[str, Any]], str]:
    """Rows ``{id, text, lead, body, label, lang, source}`` from a dataset folder / data config or a JSONL file."""
    from mlnews.errors import InputError, MlnewsError

    if not data.exists():
        raise InputError(f"{data}: not found; expected a dataset folder, a data config or a JSONL file")
    if data.is_file() and data.suffix in (".jsonl", ".json", ".ndjson"):
        from mlnews.io import iter_jsonl

        rows = []
        for lineno, rec in iter_jsonl(data):
            if text_field not in rec or not isinstance(rec[text_field], str):
                raise InputError(f"{data}:{lineno}: field {text_field!r} missing or not a string (see --text-field)")
            label = rec.get(label_field)
            rows.append({
                "id": str(rec.get("id", f"line-{lineno}")),
                "text": rec[text_field],
                "lead": rec.get(lead_field) or "",
                "body": rec.get(body_field) or "",
                "label": label if isinstance(label, str) else None,
                "lang": rec.get("lang") or "unknown",
                "source": rec.get("source") or data.stem,
            })
        return rows, f"eval-{data.stem}"
    from mlnews.data import ensure_dataset, label_names, load_built

    folder = Path(ensure_dataset(data))
    built = load_built(folder)
    dd = built.classification
    if split not in dd:
        raise MlnewsError(f"{folder}: split {split!r} not found (has {', '.join(dd.keys())}); see --split")
    ds = dd[split]
    n = len(ds)
    defaults = {"id": [f"{split}-{i}" for i in range(n)], "lead": [""] * n, "body": [""] * n,
                "lang": ["unknown"] * n, "source": ["unknown"] * n}
    cols = {c: ds[c] if c in ds.column_names else defaults[c]
            for c in ("id", "text", "lead", "body", "label", "lang", "source")}
    cols["label"] = label_names(ds)  # ClassLabel ids -> names
    rows = [
        {
            "id": str(cols["id"][i]),
            "text": cols["text"][i] or "",
            "lead": cols["lead"][i] or "",
            "body": cols["body"][i] or "",
            "label": cols["label"][i],
            "lang": cols["lang"][i] or "unknown",
            "source": cols["source"][i] or "unknown",
        }
        for i in range(n)
    ]
    return rows, f"eval-{split}"


def evaluate_classifier(
    model_dir: Path,
    rows: list[dict[str, Any]],
    out_dir: Path,
    *,
    backend: str = "auto",
    batch_size: int = 32,
    source_name: str = "",
) -> dict[str, Any]:
    """Predict ``rows`` and write metrics.json, confusion_matrix.{png,csv} and predictions.jsonl."""
    import json

    from mlnews.infer.classifier import Classifier
    from mlnews.io import atomic_write
    from mlnews.train.metrics import write_eval_artifacts

    kwargs = {"batch_size": batch_size} if backend in ("auto", "torch", "onnx") and _kind(model_dir) != "tfidf" else {}
    clf = Classifier.load(model_dir, backend=backend, **kwargs)
    skipped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    kept = []
    for r in rows:
        if not r["label"]:
            skipped["no_label"] += 1
        elif r["label"] not in clf.labels:
            skipped["label_not_in_model"] += 1
            unknown[r["label"]] += 1
        elif not r["text"].strip():
            skipped["empty_text"] += 1
        else:
            kept.append(r)
    if not kept:
        from mlnews.errors import InputError

        where = f"{source_name}: " if source_name else ""
        raise InputError(
            f"{where}no rows to evaluate ({len(rows)} read; skipped {dict(skipped)}; "
            f"labels outside the model: {dict(unknown.most_common(5))}; model labels: {', '.join(clf.labels.names)})"
        )
    probs = clf.predict_proba(
        [r["text"] for r in kept], leads=[r["lead"] for r in kept], bodies=[r["body"] for r in kept]
    )
    pred = [clf.labels.decode(j) for j in probs.argmax(axis=1)]
    extra = {
        "model": str(model_dir),
        "data": source_name,
        "rows_read": len(rows),
        "rows_scored": len(kept),
        "skipped": dict(skipped),
        "labels_outside_model": dict(unknown),
    }
    metrics = write_eval_artifacts(
        out_dir, [r["label"] for r in kept], pred, clf.labels,
        langs=[r["lang"] for r in kept], sources=[r["source"] for r in kept], extra=extra,
        title=f"{model_dir.name} on {Path(source_name).name}",
    )
    with atomic_write(out_dir / "predictions.jsonl") as fh:
        for r, p, row in zip(kept, pred, probs):
            fh.write(json.dumps({"id": r["id"], "label": r["label"], "pred": p, "score": round(float(row.max()), 4),
                                 "lang": r["lang"], "source": r["source"]}, ensure_ascii=False) + "\n")
    return metrics


def _kind(model_dir: Path) -> str | None:
    from mlnews.train.manifest import read_manifest

    return read_manifest(model_dir).get("kind")


@app.command("evaluate")
def evaluate_cmd(
    model: str = typer.Argument(..., help="Model folder from `mlnews train` (or lead / textrank for the summariser)."),
    data: Path = typer.Argument(..., help="Dataset folder (mlnews data build), data config, or labelled JSONL file."),
    split: str = typer.Option("test", "--split", help="Dataset split to score (dataset folders / data configs)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Where to write artefacts [default: MODEL/eval-<split or file>]."),
    label_field: str = typer.Option("label", "--label-field", help="JSONL: field with the gold label name."),
    text_field: str = typer.Option("text", "--text-field", help="JSONL: field with the headline / title."),
    lead_field: str = typer.Option("lead", "--lead-field", help="JSONL: field with the lead (optional)."),
    body_field: str = typer.Option("body", "--body-field", help="JSONL: field with the body (optional)."),
    backend: str = typer.Option("auto", "--backend", help="auto, torch, onnx or tfidf."),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Inference batch size (transformer / onnx)."),
) -> None:
    """Score a trained model on a dataset split or a labelled JSONL file and write its artefacts.

    Classification: accuracy, macro-F1, per-class P/R/F1, per language and per source
    (metrics.json), confusion_matrix.png/.csv and predictions.jsonl. Rows whose label is not in
    the model's label set, or that have no label, are counted and reported, never silently
    dropped. Summarisation folders (and `lead` / `textrank`) are scored with ROUGE and chrF.

    Example:
        mlnews evaluate runs/tfidf data/default --split test
        mlnews evaluate runs/e5 headlines.jsonl --label-field topic --text-field title
        mlnews evaluate lead data/default --split test
    """
    import sys

    from mlnews.train.manifest import read_manifest

    if SUMMARISER_NAMES.fullmatch(model) or (Path(model).is_dir() and read_manifest(model)["task"] == "summarisation"):
        from mlnews.train.summariser import evaluate as evaluate_summariser

        result = evaluate_summariser(model, str(data), split, out)
        import json

        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    model_dir = Path(model)
    manifest = read_manifest(model_dir)  # one-line error for a folder that is not a model
    if manifest["task"] != "classification":
        from mlnews.errors import MlnewsError

        raise MlnewsError(f"{model_dir}: task {manifest['task']!r} cannot be evaluated here")
    rows, default_name = load_eval_rows(
        data, split, label_field=label_field, text_field=text_field, lead_field=lead_field, body_field=body_field
    )
    out_dir = out or model_dir / default_name
    metrics = evaluate_classifier(model_dir, rows, out_dir, backend=backend, batch_size=batch_size, source_name=str(data))
    if metrics["skipped"]:
        outside = ", ".join(f"{k} ({v})" for k, v in sorted(metrics["labels_outside_model"].items()))
        print(f"mlnews: skipped {sum(metrics['skipped'].values())} of {metrics['rows_read']} rows: "
              f"{metrics['skipped']}" + (f"; labels not in the model: {outside}" if outside else ""), file=sys.stderr)
    from mlnews.cli.train import _print_summary

    metrics.setdefault("split", split)
    _print_summary(out_dir, metrics)
