"""HTML news pages -> :class:`~mlnews.types.Article` via trafilatura.

- title: trafilatura's title (``og:title``, ``<h1>`` or ``<title>`` without the site suffix);
- lead: the text of the first element whose class marks a lead (``<p class="lead">``,
  ``<div class="article__lead">``; class words in ``PageConfig.html_lead_classes``), else the page's
  ``og:description`` / ``<meta name="description">``. When the description is just the start of the
  first paragraph (a truncated teaser), that paragraph becomes the lead. The lead is removed from the
  paragraphs, so it is never counted twice;
- paragraphs: trafilatura's main text, one paragraph per line, without the title and the lead.

Navigation, footers and comments are left out by trafilatura. A page whose lead + paragraphs have
fewer than ``PageConfig.html_min_chars`` characters (no text at all, or only a menu link that
trafilatura fell back to) is an :class:`~mlnews.errors.InputError`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mlnews.errors import InputError
from mlnews.ingest.decode import check_bytes, decode_bytes, read_bytes
from mlnews.ingest.lang import detect_lang
from mlnews.ingest.page import PageConfig, check_size
from mlnews.text import clean_line
from mlnews.types import Article

_CLASS_SPLIT = re.compile(r"[-_\s]+")
_TEASER_END = re.compile(r"\s*(?:\.\.\.|…)\s*$")


def _marked_lead(html: str, lead_classes: list[str]) -> str | None:
    """Text of the first element whose class contains one of ``lead_classes`` as a word."""
    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None
    wanted = {c.casefold() for c in lead_classes}
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in ("body", "html", "head", "meta", "script", "style"):
            continue
        words = {w for c in (el.get("class") or "").casefold().split() for w in _CLASS_SPLIT.split(c) if w}
        if words & wanted:
            text = clean_line(" ".join(el.itertext()))
            if text:
                return text
    return None


def parse_html_text(html: str, source: str = "<html>", config: PageConfig | None = None) -> Article:
    """Extract an article from an HTML string; ``source`` names it in errors and ``Article.source``."""
    import trafilatura

    cfg = config or PageConfig()
    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False)
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        raise InputError(f"{source}: no article text found in the HTML; expected a news page with body paragraphs")
    title = clean_line(doc.title or "")
    paragraphs = [p for p in (clean_line(x) for x in text.splitlines()) if p]
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    lead = _marked_lead(html, cfg.html_lead_classes)
    if lead is None:
        description = clean_line(doc.description or "")
        if description:
            stem = _TEASER_END.sub("", description)
            if paragraphs and stem and paragraphs[0].startswith(stem):
                lead = paragraphs[0]
            else:
                lead = description
    if lead is not None:
        paragraphs = [p for p in paragraphs if p != lead]
    n_chars = len(lead or "") + sum(len(p) for p in paragraphs)
    if n_chars < cfg.html_min_chars:
        raise InputError(
            f"{source}: no article text found in the HTML (only {n_chars} characters besides the title, "
            f"html_min_chars={cfg.html_min_chars}); expected a news page with body paragraphs"
        )
    article_text = "\n".join([title, lead or "", *paragraphs])
    return Article(
        title=title, lead=lead, paragraphs=paragraphs, headlines=[], lang=detect_lang(article_text), source=source
    )


def decode_html(data: bytes, name: str, notes: list[str] | None = None) -> str:
    """Decode HTML bytes: a declared ``<meta charset>`` wins, else UTF-8, else cp1251 (see decode.py)."""
    check_bytes(data, name)
    declared = _declared_charset(data)
    if declared and declared.replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
        if notes is not None:
            notes.append(f"{name}: decoded as {declared} (declared by <meta charset>)")
        return data.decode(declared, errors="replace")
    decoded = decode_bytes(data, name, markup=True)
    if notes is not None:
        notes.extend(decoded.notes)
    return decoded.text


def read_html(path: str | os.PathLike, config: PageConfig | None = None, *, notes: list[str] | None = None) -> Article:
    """Read an HTML file and extract its article (see the module docstring)."""
    cfg = config or PageConfig()
    p = Path(path)
    check_size(p, cfg)
    return parse_html_text(decode_html(read_bytes(p), str(p), notes), str(p), cfg)


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def _declared_charset(data: bytes) -> str | None:
    import codecs

    m = _CHARSET.search(data[:4096])
    if not m:
        return None
    name = m.group(1).decode("ascii").lower()
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name
