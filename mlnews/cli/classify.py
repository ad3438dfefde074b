"""``mlnews classify``: stream JSONL / CSV / TXT / page dumps through a classifier, one output row per input row."""

from __future__ import annotations

import re
import sys
import time
from typing import Optional

import typer

from mlnews.cli.app import app

MAX_LISTED = 50  # malformed rows listed one by one on stderr; the rest are counted in the summary


def quiet_hf_progress() -> None:
    """Hide transformers' "Loading weights" bar: our own progress and summary go to stderr."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def _reason_kind(reason: str) -> str:
    """A short category for the summary line ("malformed JSON", "missing field 'text'", ...)."""
    return re.sub(r"(?<![\w-])\d+", "N", reason.split(" (")[0])


@app.command("classify")
def classify_cmd(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="JSONL, CSV/TSV, TXT (one text per line), page dump / HTML, a directory of pages, or - for stdin."
    ),
    model: str = typer.Option(..., "--model", "-m", help="Model folder (transformer, onnx or tfidf; has mlnews.json)."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Output file (.jsonl, or .csv by extension); written atomically. Default: stdout."
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSONL/CSV field with the text (headline or title)."),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="JSONL/CSV field copied to the output id (default: file:line)."),
    lead_field: Optional[str] = typer.Option(None, "--lead-field", help="JSONL/CSV field with the lead (composed like at training)."),
    body_field: Optional[str] = typer.Option(None, "--body-field", help="JSONL/CSV field with the article body."),
    fmt: str = typer.Option("auto", "--format", help="Input format: auto (by extension), jsonl, csv, tsv, txt or page."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Also write the K best labels with scores as top_k."),
    min_score: Optional[float] = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Rows whose best score is below this get label null (still written)."
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Texts per model call (batches are length-sorted)."),
    backend: str = typer.Option("auto", "--backend", help="auto (from mlnews.json), torch, onnx or tfidf."),
    strict: bool = typer.Option(False, "--strict", help="Stop with an error at the first malformed row."),
    no_text: bool = typer.Option(False, "--no-text", help="Do not copy the input text into the output rows."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary line."),
) -> None:
    """Classify texts from files or stdin; write one JSONL (or CSV) row per input row.

    Output rows: {"id", "text", "label", "score"} plus "top_k" with --top-k.

    Malformed rows are listed on stderr with file:line and counted; the summary line on stderr gives rows in = rows out + rows skipped.

    Rows below --min-score are written with "label": null.

    Example:

        mlnews classify --model runs/e5-small headlines.jsonl --text-field title -o labelled.jsonl

        mlnews classify -m runs/tfidf pages/ --top-k 3 -o pages.csv

        cat titles.txt | mlnews classify -m runs/onnx-int8 - > labels.jsonl
    """
    from mlnews.errors import InputError
    from mlnews.infer.classifier import Classifier
    from mlnews.infer.stream import (
        BadRow,
        InputSpec,
        RecordWriter,
        Row,
        StreamStats,
        iter_rows,
        predict_in_order,
        resolve_inputs,
    )

    if backend not in ("auto", "torch", "onnx", "tfidf"):
        raise InputError(f"--backend {backend!r}: expected auto, torch, onnx or tfidf")
    spec = InputSpec(text_field=text_field, id_field=id_field, lead_field=lead_field, body_field=body_field, format=fmt)
    stats = StreamStats()
    ignored: list[str] = []
    resolve_inputs(inputs, fmt, ignored)  # every path and format checked before the model loads
    if ignored:
        shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        print(f"mlnews classify: not a page file, not read: {shown}", file=sys.stderr)
    rows = iter_rows(inputs, spec, stats)
    quiet_hf_progress()
    clf = Classifier.load(model, backend=backend)
    if hasattr(clf.backend, "batch_size"):
        clf.backend.batch_size = batch_size
    k = top_k or 1
    uncertain = 0

    def good_rows():
        listed = 0
        for item in rows:
            stats.rows_in += 1
            if isinstance(item, BadRow):
                if strict:
                    raise InputError(f"{item} (--strict)")
                stats.skipped[_reason_kind(item.reason)] += 1
                if listed < MAX_LISTED:
                    print(f"mlnews classify: skipped {item}", file=sys.stderr)
                elif listed == MAX_LISTED:
                    print("mlnews classify: more malformed rows; counting them only (see the summary)", file=sys.stderr)
                listed += 1
                continue
            yield item

    def predict(batch: list[Row]) -> list[dict]:
        return clf.predict(
            [r.text for r in batch], top_k=k, leads=[r.lead for r in batch], bodies=[r.body for r in batch]
        )

    fields = ["id"] + ([] if no_text else ["text"]) + ["label", "score"] + (["top_k"] if top_k else [])
    progress = None
    if not quiet and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    t0 = time.perf_counter()
    with RecordWriter(output, fields) as writer:
        task = progress.add_task("classify", total=None, rate="") if progress else None
        if progress:
            progress.start()
        try:
            for row, pred in predict_in_order(good_rows(), predict, batch_size=batch_size):
                label = pred["label"]
                if min_score is not None and pred["score"] < min_score:
                    label = None
                    uncertain += 1
                rec = {"id": row.id}
                if not no_text:
                    rec["text"] = row.text
                rec["label"] = label
                rec["score"] = round(pred["score"], 6)
                if top_k:
                    rec["top_k"] = [{"label": t["label"], "score": round(t["score"], 6)} for t in pred["top_k"]]
                writer.write(rec)
                stats.rows_out += 1
                if progress and stats.rows_out % batch_size == 0:
                    rate = stats.rows_out / max(time.perf_counter() - t0, 1e-9)
                    progress.update(task, completed=stats.rows_out, rate=f"{rate:,.0f} rows/s")
        finally:
            if progress:
                progress.stop()
    seconds = time.perf_counter() - t0
    if stats.rows_in != stats.rows_out + stats.n_skipped:  # an invariant, not a user error
        raise RuntimeError(f"row accounting broken: in {stats.rows_in}, out {stats.rows_out}, skipped {stats.n_skipped}")
    if not quiet:
        reasons = ", ".join(f"{n} {why}" for why, n in stats.skipped.most_common())
        parts = [
            f"rows in {stats.rows_in}",
            f"rows out {stats.rows_out}",
            f"rows skipped {stats.n_skipped}" + (f" ({reasons})" if reasons else ""),
        ]
        if min_score is not None:
            parts.append(f"below --min-score {uncertain}")
        if stats.blank_lines:
            parts.append(f"blank lines ignored {stats.blank_lines}")
        if ignored:
            parts.append(f"non-page files in directories not read {len(ignored)}")
        parts.append(f"{stats.rows_out / max(seconds, 1e-9):,.0f} rows/s")
        if output:
            parts.append(f"wrote {output}")
        print("mlnews classify: " + "; ".join(parts), file=sys.stderr)
