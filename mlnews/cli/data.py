"""``mlnews data build`` and ``mlnews data stats``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mlnews.cli.app import data_app


def _print_summary(stats: dict, out: Optional[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from mlnews.data.config import SPLITS
    from mlnews.data.stats import split_label_table

    console = Console()
    header, rows = split_label_table(stats)
    table = Table(title=f"classification ({stats['name']})")
    for h in header:
        table.add_column(h, justify="left" if h == "label" else "right")
    for r in rows:
        table.add_row(*(str(c).replace("**", "") for c in r))
    console.print(table)
    summ = stats["summarisation"]["splits"]
    console.print("summarisation: " + ", ".join(f"{s} {summ[s]}" for s in SPLITS))
    for task in ("classification", "summarisation"):
        dropped = stats[task]["dropped"]
        if dropped:
            console.print(f"{task} dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    if stats.get("unmapped_labels"):
        console.print("unmapped source labels: " + "; ".join(
            f"{s}: " + ", ".join(f"{k} ({v})" for k, v in d.items()) for s, d in stats["unmapped_labels"].items()))
    if out is not None:
        console.print(f"wrote {out} (details in {out / 'stats.md'})")


@data_app.command("build")
def build_cmd(
    config: Path = typer.Argument(..., help="Data config YAML, e.g. configs/data/default.yaml."),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset folder to write (replaced atomically)."),
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides, e.g. seed=7 split.test=0.2"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or table."),
) -> None:
    """Build a labelled dataset folder (classification + summarisation, train/validation/test).

    Writes classification/ and summarisation/ (save_to_disk), labels.json, stats.json, stats.md, build_config.yaml.

    Progress goes to stderr (bars with totals and ETA on a terminal, a plain line every 10 s otherwise, MLNEWS_PROGRESS_INTERVAL); the split x label table and dropped counts are printed at the end. See docs/datasets.md.

    Example:
        mlnews data build configs/data/sample.yaml --out runs/data-sample
        mlnews data build configs/data/default.yaml --out runs/data seed=7
    """
    from mlnews.data import build_dataset
    from mlnews.progress import StageProgress

    if quiet:
        build_dataset(config, out, overrides or [])
        return
    with StageProgress("mlnews data build") as progress:
        stats = build_dataset(config, out, overrides or [], progress=progress)
    _print_summary(stats, out)


@data_app.command("stats")
def stats_cmd(
    dataset: Path = typer.Argument(..., help="A dataset folder written by `mlnews data build`."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the full stats.md instead of the table."),
) -> None:
    """Show the counts of a built dataset (split x label, dropped rows by reason).

    Example:
        mlnews data stats runs/data-sample
        mlnews data stats runs/data --markdown
    """
    import json

    from mlnews.data import is_dataset_dir
    from mlnews.errors import InputError

    if not is_dataset_dir(dataset) or not (dataset / "stats.json").is_file():
        raise InputError(f"{dataset}: not a dataset folder (expected stats.json, labels.json, classification/)")
    stats = json.loads((dataset / "stats.json").read_text(encoding="utf-8"))
    if markdown:
        from mlnews.data.stats import render_stats_md

        typer.echo(render_stats_md(stats), nl=False)
    else:
        _print_summary(stats, None)


@data_app.command("export")
def export_cmd(
    dataset: Path = typer.Argument(..., help="A dataset folder written by `mlnews data build`."),
    parquet: Path = typer.Option(..., "--parquet", help="Folder for <task>-<split>.parquet files (created)."),
) -> None:
    """Export a built dataset to Parquet for tools that do not use `datasets` (pandas, polars, DuckDB, Spark).

    Writes classification-{train,validation,test}.parquet and summarisation-*.parquet, each atomically,
    plus labels.json and the dataset card README.md. `label` is the ClassLabel id (taxonomy order);
    `label_name` holds the name.

    Example:
        mlnews data export runs/data-sample --parquet runs/data-sample-parquet
        python -c "import pandas as pd; print(pd.read_parquet('runs/data-sample-parquet/classification-train.parquet').label_name.value_counts())"
    """
    import sys

    from mlnews.data import export_parquet

    for path, rows in export_parquet(dataset, parquet):
        print(f"mlnews data export: wrote {path} ({rows} rows)", file=sys.stderr)
