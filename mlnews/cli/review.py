"""``mlnews review``: the review page of :mod:`mlnews.review` under uvicorn."""

from __future__ import annotations

from typing import Optional

import typer

from mlnews.cli.app import app


@app.command("review")
def review_cmd(
    model_dir: str = typer.Argument(..., help="Classifier model folder (transformer, onnx or tfidf)."),
    data: list[str] = typer.Argument(..., help="A dataset folder, a data config (.yaml), or inputs as for "
                                              "`mlnews classify` (JSONL/CSV/TSV/Parquet/TXT/pages, dirs, globs)."),
    out: str = typer.Option("review.jsonl", "--out", "-o", help="Append-only review file the corrections go to."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Name written with each correction (default: the OS user)."),
    summariser: Optional[str] = typer.Option("lead", "--summariser", "-s",
                                             help="lead, textrank (lead-N/textrank-N) or a summariser model folder: "
                                                  "its sentences are highlighted in articles; 'none' for no highlighting."),
    split: str = typer.Option("train,validation,test", "--split",
                              help="Splits of a dataset folder/config to review, comma-separated."),
    host: str = typer.Option("127.0.0.1", "--host", help="Listen address (default: this machine only)."),
    port: int = typer.Option(8100, "--port", "-p", help="TCP port."),
    api_key_file: Optional[str] = typer.Option(
        None, "--api-key-file", help="File with one API key per line (else $MLNEWS_API_KEY, else none): every /api/ "
        "path then needs it; open the page as http://HOST:PORT/#key=KEY."),
) -> None:
    """Review the model's predictions on DATA in a browser: the least sure first, a clickable confusion matrix, filters, one key per correction.

    Each correction is appended at once to the review file (--out) as one JSON line: id, text_sha256, old and new label, origin "reviewed", reviewer, UTC time. Nothing is overwritten: a second reviewer's answer is a new line. Feed the file back with a `type: review` source in a data config, then rebuild and retrain (docs/review.md).

    Keys on the page: j/k next/previous, 1-9 set label N, a or Enter accept the model's label.

    Example:

        mlnews review runs/sample runs/data-sample --split validation,test --reviewer anna --out reviews/anna.jsonl

        mlnews review runs/sample new_headlines.jsonl --port 8101
    """
    import sys

    import uvicorn

    from mlnews.data.reviews import default_reviewer
    from mlnews.errors import InputError
    from mlnews.review import ReviewSession, create_review_app
    from mlnews.serve_guard import load_api_keys

    if not 0 < port < 65536:
        raise InputError(f"--port {port}: expected a TCP port 1..65535")
    splits = [s.strip() for s in split.split(",") if s.strip()]
    api_keys = load_api_keys(api_key_file)
    session = ReviewSession(model_dir, data if len(data) > 1 else data[0], out, reviewer or default_reviewer(),
                            summariser=None if summariser in (None, "none") else summariser, splits=splits)
    for where in session.skipped[:5]:
        print(f"mlnews review: skipped {where}", file=sys.stderr)
    print(f"mlnews review: {len(session.rows)} rows ({len(session.skipped)} malformed input rows skipped), "
          f"{session.preloaded} already reviewed in {out}" + (f", {session.torn} torn line(s) there" if session.torn else ""),
          file=sys.stderr)
    print(f"mlnews review: http://{host}:{port}/" + ("#key=KEY" if api_keys else ""), file=sys.stderr)
    uvicorn.run(create_review_app(session, api_keys=api_keys), host=host, port=port, log_level="warning")
