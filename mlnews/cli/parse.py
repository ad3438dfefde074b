"""``mlnews parse``: news pages (text dumps, HTML) -> JSON records."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from mlnews.cli.app import app


class Format(str, Enum):
    auto = "auto"
    page = "page"
    html = "html"
    text = "text"


@app.command("parse")
def parse_cmd(
    pages: List[str] = typer.Argument(..., help="Page files (text dumps or HTML); '-' reads stdin.", show_default=False),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write JSON Lines here (atomically) instead of printing to stdout."
    ),
    fmt: Format = typer.Option(
        Format.auto,
        "--format",
        "-f",
        help="auto: HTML is detected, other text is a page dump; or force page, html or text (title + body, no lead).",
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Page parser config (default: built-in, same as configs/ingest/page.yaml)."
    ),
) -> None:
    """Parse news pages into {title, lead, paragraphs, headlines, lang, source} records.

    One page prints one pretty JSON object; several pages print JSON Lines (one object per line). With --format auto, HTML is detected by extension or content and any other text is read as a page dump (title, lead, paragraphs, sidebar headlines with times); see docs/ingest.md.

    A page that cannot be read is reported on stderr (one line naming the file) and skipped; the others are still written, and the exit code is 1 at the end (2 for a bad option or config). Decoding fallbacks (e.g. a cp1251 page) are noted on stderr.

    Example:

        mlnews parse ../shared/seed/000_d04839ea0ce42844.txt

        mlnews parse pages/*.txt article.html -o parsed.jsonl

        curl -s https://example.com/news/1 | mlnews parse - --format html
    """
    import json
    import sys

    from mlnews.errors import MlnewsError
    from mlnews.ingest import read_document
    from mlnews.ingest.page import load_page_config
    from mlnews.io import atomic_write

    cfg = load_page_config(config)
    records: list[dict] = []
    failed = 0
    for page in pages:
        notes: list[str] = []
        try:
            article = read_document(page, cfg, kind=fmt.value, text_kind="page", notes=notes)
        except MlnewsError as exc:
            failed += 1
            print(f"mlnews: error: {exc}", file=sys.stderr)
            continue
        finally:
            for note in notes:
                print(f"mlnews: note: {note}", file=sys.stderr)
        records.append(article.to_json())

    if out is not None:
        if records:
            with atomic_write(out) as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            print(f"mlnews: nothing parsed; {out} left unchanged", file=sys.stderr)
    elif len(pages) == 1 and records:
        typer.echo(json.dumps(records[0], ensure_ascii=False, indent=2))
    else:
        for rec in records:
            typer.echo(json.dumps(rec, ensure_ascii=False))
    if len(pages) > 1 or out is not None:
        print(f"mlnews: parsed {len(records)} of {len(pages)} pages, {failed} failed", file=sys.stderr)
    if failed:
        raise typer.Exit(1)
