"""``mlnews classify-dist``: classify directories of JSONL/Parquet shards on Ray Data (this machine or a cluster)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from mlnews.cli.app import app


@app.command("classify-dist")
def classify_dist_cmd(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="JSONL (.jsonl/.ndjson/.json) or Parquet shards, or directories of them (searched recursively)."
    ),
    model: str = typer.Option(..., "--model", "-m", help="Model folder (has mlnews.json): transformer, embedding, static, tfidf or onnx."),
    out: str = typer.Option(..., "--out", "-o", help="Output folder (new or empty): part-NNNNN shards, _skipped-NNNNN.jsonl, _summary.json."),
    out_format: str = typer.Option("jsonl", "--format", help="Output shard format: jsonl or parquet."),
    text_field: str = typer.Option("text", "--text-field", help="Field with the text (headline or title)."),
    id_field: Optional[str] = typer.Option(None, "--id-field", help="Field copied to the output id (default: file:line)."),
    lead_field: Optional[str] = typer.Option(None, "--lead-field", help="Field with the lead (composed like at training)."),
    body_field: Optional[str] = typer.Option(None, "--body-field", help="Field with the article body."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="Also write the K best labels with scores as top_k."),
    min_score: Optional[float] = typer.Option(
        None, "--min-score", min=0.0, max=1.0, help="Rows whose best score is below this get label null (still written). Scores are calibrated "
        "probabilities when the model folder has a calibration (mlnews train fits one), so 0.8 means right about 80% of the time."
    ),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Texts per model call (batches are length-sorted)."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Model actors (each loads the model once)."),
    cpus_per_worker: float = typer.Option(1.0, "--cpus-per-worker", min=0.1, help="CPUs Ray reserves per actor (= torch threads)."),
    backend: str = typer.Option("auto", "--backend", help="auto = the fastest the folder supports (its ONNX export in MODEL/onnx when present), or torch, onnx, tfidf, static."),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start Ray on this machine."
    ),
    rows_per_shard: int = typer.Option(100_000, "--rows-per-shard", min=1, help="Minimum rows per output shard (the last may be smaller)."),
    object_store_mb: int = typer.Option(512, "--object-store-mb", min=80, help="Object store size of a local Ray (memory bound)."),
    strict: bool = typer.Option(False, "--strict", help="Stop with an error at the first malformed row (no output is written)."),
    no_text: bool = typer.Option(False, "--no-text", help="Do not copy the input text into the output rows."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars and no summary line."),
) -> None:
    """Classify shards on Ray Data with actors holding the model; same rows and accounting as `mlnews classify`.

    The Ray engine of `mlnews classify`: the same inputs and model folder, the same output row schema
    ({"id", "text", "label", "score"} plus "top_k" with --top-k) and the same skipped-row accounting
    (rows in = rows out + rows skipped; malformed rows named by file:line). A shard that cannot be read
    (invalid Parquet, I/O error) is reported and counted; the others go on.

    Without --address Ray starts on this machine (all cores, no dashboard) and stops at the end.

    Example:

        mlnews classify-dist --model runs/tfidf shards/ --out labelled/ --workers 2

        mlnews classify-dist -m runs/e5 archive/2024/ -o labelled-2024/ --format parquet --text-field title --id-field url --top-k 3

        mlnews classify-dist -m /shared/runs/e5 /shared/archive/ -o /shared/labelled/ --address auto --workers 32
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        from mlnews.errors import MlnewsError

        raise MlnewsError('classify-dist needs Ray Data: pip install "mlnews[ray]" (or "ray[data]>=2.30")') from None
    from mlnews.infer.distributed import classify_dist
    from mlnews.ingest.inputs import Columns

    spec = Columns(text=text_field, id=id_field, lead=lead_field, body=body_field)
    res = classify_dist(
        inputs, model, out, spec=spec, out_format=out_format, top_k=top_k, min_score=min_score, no_text=no_text,
        batch_size=batch_size, workers=workers, cpus_per_worker=cpus_per_worker, backend=backend, strict=strict,
        rows_per_shard=rows_per_shard, address=address, object_store_mb=object_store_mb,
        progress=not quiet and sys.stderr.isatty(),
    )
    if quiet:
        return
    for where, reason in res.listed:
        print(f"mlnews classify-dist: skipped {where}: {reason}", file=sys.stderr)
    if res.n_skipped > len(res.listed):
        print(f"mlnews classify-dist: {res.n_skipped - len(res.listed)} more malformed rows; all are in {out}/_skipped-*.jsonl",
              file=sys.stderr)
    for path in res.ignored[:10]:
        print(f"mlnews classify-dist: ignored {path}: not a shard (unknown extension)", file=sys.stderr)
    from mlnews.infer.records import row_counts

    parts = row_counts(res)
    if res.blank_lines:
        parts.append(f"blank lines ignored {res.blank_lines}")
    if res.ignored:
        parts.append(f"files ignored {len(res.ignored)}")
    parts.append(f"{res.files} input shards, {res.workers} workers, {res.rows_out / max(res.seconds, 1e-9):,.0f} rows/s")
    parts.append(f"wrote {out} ({len(res.shards)} shards)")
    print("mlnews classify-dist: " + "; ".join(parts), file=sys.stderr)
