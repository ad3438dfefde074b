"""Ingest: read news pages (text dumps, HTML, plain text) and corpora into Article/Headline.

- :func:`read_document` reads one file (or ``-`` for stdin) of any supported kind;
- :mod:`mlnews.ingest.inputs` is the one reader of command-line inputs (files, directories, globs,
  stdin; JSONL/CSV/TSV/Parquet/TXT/pages) with bad-row accounting;
- :mod:`mlnews.ingest.page`, :mod:`mlnews.ingest.html`, :mod:`mlnews.ingest.lang` do the work.

Kind detection (``kind="auto"``):

1. ``html`` when the name ends in .html/.htm/.xhtml, or the text starts with an HTML tag
   (``<!doctype html>``, ``<html>``, ``<head>``, ``<body>``, ...);
2. ``page`` (the dump layout: title, lead, paragraphs, sidebar) when a line after the first one is a
   sidebar heading from ``PageConfig.sidebar_headings``;
3. ``text`` otherwise: the first line is the title, every other non-empty line a body paragraph,
   no lead (a first line longer than ``max_title_chars`` is not a title: the title is then empty
   and every line is body). A dump without a sidebar cannot be told apart from plain text; reading
   it as text keeps its second line in the body, so nothing is lost. Pass ``kind="page"`` (or
   ``text_kind="page"`` to keep HTML detection) for the dump layout; ``mlnews parse`` does the latter.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Literal

from mlnews.errors import InputError
from mlnews.ingest.decode import check_bytes, decode_bytes, read_bytes, split_lines
from mlnews.ingest.lang import detect_lang
from mlnews.ingest.page import PageConfig, load_page_config, parse_page_text, read_page
from mlnews.text import clean_line
from mlnews.types import Article

__all__ = [
    "PageConfig",
    "detect_lang",
    "has_sidebar",
    "looks_like_html",
    "load_page_config",
    "parse_document_text",
    "parse_page_text",
    "parse_plain_text",
    "read_document",
    "read_page",
]

DocKind = Literal["auto", "page", "html", "text"]
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title|article)[\s>/]", re.I | re.S)


def looks_like_html(name: str, data: bytes) -> bool:
    """HTML by extension, or by the first tag of the content (after a BOM, blanks and comments)."""
    if name.lower().endswith(HTML_SUFFIXES):
        return True
    head = data[:4096].removeprefix(b"\xef\xbb\xbf")
    return bool(_HTML_START.match(head))


def has_sidebar(text: str, config: PageConfig | None = None) -> bool:
    """True when a line after the first non-empty one is a sidebar heading."""
    keys = (config or PageConfig()).heading_keys()
    seen_title = False
    for raw in split_lines(text):
        line = clean_line(raw)
        if not line:
            continue
        if seen_title and line.casefold() in keys:
            return True
        seen_title = True
    return False


def parse_plain_text(text: str, source: str = "<text>", config: PageConfig | None = None) -> Article:
    """Plain text: first non-empty line = title, the other non-empty lines = paragraphs, no lead."""
    cfg = config or PageConfig()
    lines = [line for line in (clean_line(x) for x in split_lines(text)) if line]
    if not lines:
        raise InputError(f"{source}: empty text (only blank lines); expected a title line and body text")
    if len(lines[0]) > cfg.max_title_chars:
        title, paragraphs = "", lines
    else:
        title, paragraphs = lines[0], lines[1:]
    return Article(
        title=title, lead=None, paragraphs=paragraphs, lang=detect_lang("\n".join(lines)), source=source
    )


def read_document(
    path_or_dash: str | os.PathLike,
    config: PageConfig | None = None,
    *,
    kind: DocKind = "auto",
    text_kind: Literal["auto", "page", "text"] = "auto",
    notes: list[str] | None = None,
) -> Article:
    """Read one document of any supported kind; ``-`` reads stdin. Decoding notes go to ``notes``.

    With ``kind="auto"``, HTML is detected first; other text is read as ``text_kind`` (``"auto"``:
    the page layout if it has a sidebar heading, else plain text).
    """
    from mlnews.ingest.html import decode_html, parse_html_text
    from mlnews.ingest.page import check_size

    cfg = config or PageConfig()
    if kind not in ("auto", "page", "html", "text"):
        raise InputError(f"document kind {kind!r}: expected auto, page, html or text")
    if str(path_or_dash) == "-":
        name = "<stdin>"
        data = sys.stdin.buffer.read()
        if len(data) > cfg.max_file_bytes:
            raise InputError(f"{name}: {len(data):,} bytes, over max_file_bytes={cfg.max_file_bytes:,}")
    else:
        p = Path(path_or_dash)
        name = str(p)
        check_size(p, cfg)
        data = read_bytes(p)
    check_bytes(data, name)
    if kind == "html" or (kind == "auto" and looks_like_html(name, data)):
        return parse_html_text(decode_html(data, name, notes), name, cfg)
    decoded = decode_bytes(data, name)
    if notes is not None:
        notes.extend(decoded.notes)
    return parse_document_text(decoded.text, name, cfg, kind=text_kind if kind == "auto" else kind)


def parse_document_text(text: str, name: str = "<text>", config: PageConfig | None = None, *,
                        kind: DocKind = "auto") -> Article:
    """A document already decoded to text -> Article, with :func:`read_document`'s dispatch: ``html``
    (also detected by ``auto`` from the first tag), ``page`` (``auto``: when a sidebar heading is there),
    else ``text``. The server reads a page posted as a string through it."""
    from mlnews.ingest.html import parse_html_text

    cfg = config or PageConfig()
    if kind == "html" or (kind == "auto" and looks_like_html(name, text[:4096].encode("utf-8", "replace"))):
        return parse_html_text(text, name, cfg)
    if kind == "auto":
        kind = "page" if has_sidebar(text, cfg) else "text"
    if kind == "page":
        return parse_page_text(text, name, cfg)
    return parse_plain_text(text, name, cfg)
