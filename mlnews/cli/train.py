"""``mlnews train``: train a classifier or a summariser from one YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlnews.cli.app import app


@app.command("train")
def train_cmd(
    config: Path = typer.Argument(..., help="Training config (configs/classifier/*.yaml, configs/summariser/*.yaml)."),
    overrides: Optional[list[str]] = typer.Argument(
        None, help="key=value overrides checked against the config schema, e.g. train.epochs=1 model.max_length=64."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (must be new or empty unless --resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in OUT/checkpoints."),
) -> None:
    """Train a model from CONFIG into a self-describing model folder.

    `task: classification` trains a topic classifier (`model.kind: transformer` fine-tunes an
    encoder with the HF Trainer, `model.kind: tfidf` fits word + char TF-IDF with logistic
    regression); `task: summarisation` trains the summariser. The dataset named in `data.path`
    (a folder from `mlnews data build`, or a data config, built and cached on first use) needs no
    separate step. Progress goes to stderr; the folder gets weights, mlnews.json, metrics.json,
    a confusion matrix, the resolved config and a model card (README.md).

    Example:
        mlnews train configs/classifier/sample.yaml --out runs/sample
        mlnews train configs/classifier/e5-small.yaml --out runs/e5 train.epochs=1 model.max_length=48
        mlnews train configs/classifier/e5-small.yaml --out runs/e5 --resume
        mlnews train configs/summariser/e5_extractive.yaml --out runs/extractive
    """
    import json

    from mlnews.train.config import read_task

    task = read_task(config)
    overrides = list(overrides or [])
    if task == "summarisation":
        from mlnews.train.config import load_summariser_config

        if load_summariser_config(config, overrides).model.kind == "extractive":  # a sentence scorer
            from mlnews.train.extractive import train as train_summariser
        else:
            from mlnews.train.summariser import train as train_summariser

        model_dir = train_summariser(config, out, overrides, resume)
        typer.echo(str(model_dir))
        return

    from mlnews.train.classifier import train

    model_dir = train(config, out, overrides, resume)
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    print_summary(model_dir, metrics)


def print_summary(model_dir: Path, metrics: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title=f"{model_dir} - {metrics.get('split', 'test')} split")
    for col in ("group", "n", "accuracy", "macro-F1"):
        table.add_column(col, justify="left" if col == "group" else "right")
    table.add_row("overall", str(metrics["n"]), f"{metrics['accuracy']:.3f}", f"{metrics['macro_f1']:.3f}")
    for prefix, key in (("lang", "per_lang"), ("source", "per_source")):
        for name, m in metrics.get(key, {}).items():
            table.add_row(f"{prefix}={name}", str(m["n"]), f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}")
    console.print(table)
    if "ece" in metrics:  # expected calibration error of the scores (15 bins); before the folder's temperature too
        cal = metrics.get("calibration") or {}
        line = f"ECE {metrics['ece']:.3f}"
        if metrics.get("calibrated") and "ece_uncalibrated" in metrics:
            line += f" (calibrated, T = {cal.get('temperature', 1.0):.3f}; uncalibrated {metrics['ece_uncalibrated']:.3f})"
        else:
            line += " (raw probabilities: the folder has no calibration)"
        console.print(line)
    typer.echo(str(model_dir))
