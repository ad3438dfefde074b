"""``mlnews summarise``: summarise one article with lead-k, TextRank or a trained seq2seq folder."""

from __future__ import annotations

import json
from typing import Optional

import typer

from mlnews.cli.app import app

DEFAULT_METHOD = "lead"  # see benchmarks/summariser.md: lead beats TextRank on both targets


@app.command("summarise")
def summarise_cmd(
    article: str = typer.Argument(..., help="Page dump (as `mlnews parse` reads), HTML file, plain text file, or - for stdin."),
    model: str = typer.Option(
        DEFAULT_METHOD, "--model", "-m",
        help="lead, lead-N, textrank, textrank-N (N sentences, default 3) or a model folder from `mlnews train`.",
    ),
    max_words: Optional[int] = typer.Option(None, "--max-words", "-w", min=1, help="Word budget for the summary."),
    sentences: Optional[int] = typer.Option(None, "--sentences", "-k", min=1, help="Sentences to extract (overrides N)."),
    similarity: str = typer.Option(
        "tfidf", "--similarity", help="TextRank sentence similarity: tfidf, or an encoder (e5-small or a folder)."
    ),
    target: Optional[str] = typer.Option(
        None, "--target", help="Trained extractive model: lead (summary) or title (headline); default: the model's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: summary, method, language, seconds, sentences, notes "
                                 "(+ per-sentence scores of a trained extractive model)."),
) -> None:
    """Summarise one Russian or Ukrainian news article from its body (never the sidebar).

    Extractive methods (lead-k, TextRank) need nothing trained; a model folder written by
    `mlnews train configs/summariser/e5_extractive.yaml` (standfirst) or `e5_extractive_title.yaml`
    (headline) picks the article's best sentences with a trained scorer (the lead model blends its scores
    with TextRank's, by a weight chosen on validation and stored in the folder); one from a seq2seq
    summariser config generates an abstractive summary or headline.

    Example:
        mlnews summarise ../shared/seed/000_d04839ea0ce42844.txt
        mlnews summarise page.html --model textrank --max-words 40 --json
        mlnews summarise page.txt --model runs/extractive --json
        mlnews summarise page.txt --model runs/extractive-title
        cat article.txt | mlnews summarise - --model models/summariser-e5
    """
    import os
    import sys
    import time

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar around a summary
    if not model.startswith(("lead", "textrank")) or similarity != "tfidf":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

    from mlnews.errors import InputError
    from mlnews.infer.summariser import Summariser
    from mlnews.ingest import read_document

    t0 = time.perf_counter()
    doc = read_document(article)
    summariser = Summariser.load(model, similarity=similarity, sentences=sentences, target=target)
    try:
        summary = summariser.summarise(doc, max_words=max_words)
    except InputError as exc:
        where = "stdin" if article == "-" else article
        raise InputError(f"{where}: {exc}") from None
    if as_json:
        record = summary.to_json()
        record["total_seconds"] = round(time.perf_counter() - t0, 4)
        typer.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    for note in summary.notes:
        print(f"mlnews: note: {note}", file=sys.stderr)
    typer.echo(summary.text)
