"""``mlnews classify``: stream JSONL / CSV / TXT / page dumps through a classifier, one output row per input row."""

from __future__ import annotations

import sys
import time
from typing import Optional

import typer

from mlnews.cli.app import app

@app.command("classify")
def classify_cmd(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="JSONL, CSV/TSV, Parquet, TXT (one text per line), page dump / HTML, a directory of pages or shards, a quoted glob, or - for stdin."
    ),
    model: str = typer.Option(..., "--model", "-m", help="Model folder (has mlnews.json): transformer, embedding, static, tfidf or onnx."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Output file (.jsonl, or .csv by extension); written atomically. Default: stdout."
    ),
    text_field: str = typer.Option("text", "--text-field", help="JSONL/CSV field with the text (headline or title)."),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="JSONL/CSV field copied to the output id (default: file:line)."),
    lead_field: Optional[str] = typer.Option(None, "--lead-field", help="JSONL/CSV field with the lead (composed like at training)."),
    body_field: Optional[str] = typer.Option(None, "--body-field", help="JSONL/CSV field with the article body."),
    fmt: str = typer.Option("auto", "--format", help="Input format: auto (by extension), jsonl, csv, tsv, txt, page or parquet."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Also write the K best labels with scores as top_k."),
    min_score: Optional[float] = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Rows whose best score is below this get label null (still written). Scores are calibrated "
        "probabilities when the model folder has a calibration (mlnews train fits one), so 0.8 means right about 80% of the time."
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Texts per model call (batches are length-sorted)."),
    backend: str = typer.Option("auto", "--backend", help="auto = the fastest the folder supports (its ONNX export in MODEL/onnx when present, else the kind's own: torch, tfidf or static), or force torch, onnx, tfidf or static."),
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
    from mlnews.infer.classifier import BACKENDS, Classifier
    from mlnews.infer.records import MAX_LISTED, classify_stream, output_fields
    from mlnews.infer.stream import RecordWriter
    from mlnews.ingest.inputs import Columns, ReadStats, iter_rows, resolve_inputs
    from mlnews.progress import StageProgress, input_total

    if backend not in BACKENDS:
        raise InputError(f"--backend {backend!r}: expected {', '.join(BACKENDS)}")
    cols = Columns(text=text_field, id=id_field, lead=lead_field, body=body_field)
    stats = ReadStats()
    ignored: list[str] = []
    sources = resolve_inputs(inputs, fmt, ignored)  # every path and format checked before the model loads
    if ignored:
        shown = ", ".join(ignored[:5]) + (f" and {len(ignored) - 5} more" if len(ignored) > 5 else "")
        print(f"mlnews classify: not a page file, not read: {shown}", file=sys.stderr)
    clf = Classifier.load(model, backend=backend, batch_size=batch_size)

    def on_bad(item, n_before: int) -> None:
        if n_before < MAX_LISTED:
            print(f"mlnews classify: skipped {item}", file=sys.stderr)
        elif n_before == MAX_LISTED:
            print("mlnews classify: more malformed rows; counting them only (see the summary)", file=sys.stderr)

    # total: the input lines where they are countable (files, not stdin or pages); the position is the
    # lines read so far (rows in + blank lines); the summary line below is the final throughput line
    progress = StageProgress("mlnews classify", enabled=not quiet, summary=False)
    total = input_total(sources)
    t0 = time.perf_counter()
    with progress, RecordWriter(output, output_fields(no_text=no_text, top_k=bool(top_k))) as writer:

        def on_written(n: int) -> None:
            if n == 1:  # started at the first record: a bad first row or output is just its error line
                progress.start("classify", total=total)
            if n % batch_size == 0:
                progress.update("classify", completed=stats.rows_in + stats.blank_lines)

        uncertain = classify_stream(
            clf, iter_rows(inputs, cols, stats, fmt=fmt), writer.write, stats, batch_size=batch_size,
            top_k=top_k, min_score=min_score, no_text=no_text, strict=strict, on_bad=on_bad, on_written=on_written,
        )
        if "classify" in progress.stages:
            progress.update("classify", completed=stats.rows_in + stats.blank_lines)
    if not quiet:
        print("mlnews classify: " + summary_line(stats, time.perf_counter() - t0, uncertain=uncertain,
                                                 min_score=min_score, ignored=len(ignored), output=output,
                                                 engine=engine(model, clf)),
              file=sys.stderr)


def engine(model: str, clf) -> str:
    """``model DIR (kind) on BACKEND``: which backend auto chose (an ONNX export in MODEL/onnx is preferred)."""
    kind = clf.manifest.extra.get("onnx", {}).get("source_kind", clf.manifest.kind)
    return f"model {model} ({kind}) on {clf.backend_name}"


def summary_line(stats, seconds: float, *, uncertain: int, min_score: float | None, ignored: int,
                 output: str | None, engine: str | None = None) -> str:
    """``rows in N; rows out N; rows skipped N (reasons); ...; model DIR (kind) on BACKEND``."""
    from mlnews.infer.records import row_counts

    parts = row_counts(stats)
    if min_score is not None:
        parts.append(f"below --min-score {uncertain}")
    if stats.blank_lines:
        parts.append(f"blank lines ignored {stats.blank_lines}")
    if ignored:
        parts.append(f"non-page files in directories not read {ignored}")
    parts.append(f"{stats.rows_out / max(seconds, 1e-9):,.0f} rows/s")
    if output:
        parts.append(f"wrote {output}")
    if engine:
        parts.append(engine)
    return "; ".join(parts)

