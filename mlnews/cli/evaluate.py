"""``mlnews evaluate``: score a model folder (or lead / textrank) on a dataset split or a labelled file.

Options and printing only; the scoring is :mod:`mlnews.evaluate.classifier` / :mod:`mlnews.evaluate.summariser`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlnews.cli.app import app


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

    Classification: accuracy, macro-F1, per-class P/R/F1, per language and per source, the
    expected calibration error of the scores (metrics.json), confusion_matrix.png/.csv and predictions.jsonl. Rows whose label is not in
    the model's label set, or that have no label, are counted and reported, never silently
    dropped. Summarisation folders (and `lead` / `textrank`) are scored with ROUGE and chrF.

    Example:
        mlnews evaluate runs/tfidf data/default --split test
        mlnews evaluate runs/e5 headlines.jsonl --label-field topic --text-field title
        mlnews evaluate lead data/default --split test
    """
    import json
    import sys

    from mlnews.evaluate.summariser import evaluate_summariser, is_summariser

    if is_summariser(model):
        result = evaluate_summariser(model, str(data), split, out)
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    from mlnews.evaluate.classifier import evaluate_classifier, load_eval_rows
    from mlnews.modelfolder import ModelFolder

    model_dir = Path(model)
    ModelFolder.open(model_dir, task="classification")  # one-line error for a folder that is not a classifier
    rows, default_name = load_eval_rows(
        data, split, label_field=label_field, text_field=text_field, lead_field=lead_field, body_field=body_field
    )
    out_dir = out or model_dir / default_name
    metrics = evaluate_classifier(model_dir, rows, out_dir, backend=backend, batch_size=batch_size, source_name=str(data))
    if metrics["skipped"]:
        outside = ", ".join(f"{k} ({v})" for k, v in sorted(metrics["labels_outside_model"].items()))
        print(f"mlnews: skipped {sum(metrics['skipped'].values())} of {metrics['rows_read']} rows: "
              f"{metrics['skipped']}" + (f"; labels not in the model: {outside}" if outside else ""), file=sys.stderr)
    from mlnews.cli.train import print_summary

    metrics.setdefault("split", split)
    print_summary(out_dir, metrics)
