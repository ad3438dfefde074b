"""Parser for news-page text dumps: title, lead, body paragraphs and a sidebar of timed headlines.

Layout (see docs/ingest.md for the full rules)::

    Title line
    Lead line
    Body paragraph 1
    ...                      blank lines are ignored anywhere
    Последние новости        a sidebar heading (``PageConfig.sidebar_headings``), optional
    First headline
    12:34Second headline     the first headline's time, glued to the front of the next line
    12:01                    ... or alone on its own line
    Last headline            the last headline may have no time

A line that starts with a valid ``HH:MM`` (00:00-23:59, two ASCII digits each) gives that time to the
previous headline only while the previous headline is still waiting for its time; the rest of the
line (if any) starts the next headline. Any other line is headline text, verbatim, so a headline
like ``2:0 в пользу ...`` or ``24:7 ...`` is never cut, and ``10:00 — начало`` survives when it is the
first headline or follows a headline that already has its time.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlnews.config import load_config
from mlnews.errors import ConfigError, InputError
from mlnews.ingest.decode import read_text_file, split_lines
from mlnews.ingest.lang import detect_lang
from mlnews.text import clean_line, replace_surrogates
from mlnews.types import Article, Headline

TIME_PREFIX = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits only: \d matches ٣, ３ ...

_DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "resources" / "page.yaml"


@functools.lru_cache(maxsize=1)
def _packaged_defaults() -> dict:
    """The default settings, read from the YAML shipped in the package (the lists live in config, not code)."""
    from mlnews.config import load_yaml

    return load_yaml(_DEFAULTS_FILE)


def _default(key: str):
    return lambda: copy.deepcopy(_packaged_defaults()[key])


@dataclass
class PageConfig:
    """Settings of the page-dump parser; defaults from ``mlnews/resources/page.yaml`` (``configs/ingest/page.yaml`` is a copy)."""

    #: Lines that start the sidebar (exact line after normalisation, case-insensitive).
    sidebar_headings: list[str] = field(default_factory=_default("sidebar_headings"))
    #: A first line longer than this is not a title: the page is rejected (e.g. a 10 MB single line).
    max_title_chars: int = 1000
    #: Files larger than this are rejected before reading.
    max_file_bytes: int = 50_000_000
    #: HTML: class-name words that mark a lead/standfirst element (``<p class="article__lead">``).
    html_lead_classes: list[str] = field(default_factory=_default("html_lead_classes"))
    #: HTML: fewer characters than this in lead + paragraphs means no article was found (a menu is not one).
    html_min_chars: int = 40

    def validate(self, prefix: str = "") -> None:
        where = f"{prefix}." if prefix else ""
        if not any(clean_line(h) for h in self.sidebar_headings):
            raise ConfigError(f"{where}sidebar_headings: expected at least one non-empty heading")
        if self.max_title_chars < 1:
            raise ConfigError(f"{where}max_title_chars: expected a positive integer, got {self.max_title_chars}")
        if self.max_file_bytes < 1:
            raise ConfigError(f"{where}max_file_bytes: expected a positive integer, got {self.max_file_bytes}")

    def heading_keys(self) -> set[str]:
        return {clean_line(h).casefold() for h in self.sidebar_headings if clean_line(h)}


def load_page_config(path: str | os.PathLike | None = None, overrides: list[str] | tuple[str, ...] = ()) -> PageConfig:
    """The built-in defaults, or a YAML file (such as ``configs/ingest/page.yaml``) over them."""
    if path is None:
        if overrides:
            from mlnews.config import apply_overrides, from_dict

            return from_dict(PageConfig, apply_overrides({}, list(overrides), PageConfig))
        return PageConfig()
    return load_config(path, PageConfig, overrides)


def _sidebar(
    lines: list[tuple[int, str]], source: str, headings: set[str]
) -> list[Headline]:
    """Turn the sidebar's ``(line number, cleaned line)`` pairs into headlines with times."""
    headlines: list[Headline] = []
    for lineno, line in lines:
        if line.casefold() in headings:
            continue  # a second sidebar section ("Главное" ... "Новости"): a heading, not a headline
        m = TIME_PREFIX.match(line)
        waiting = bool(headlines) and headlines[-1].time is None
        if m and waiting:
            headlines[-1].time = m.group()
            rest = line[m.end():].strip()
            if rest:
                headlines.append(Headline(text=rest))
        elif m and m.end() == len(line):
            what = "the previous headline already has a time" if headlines else "no headline comes before it"
            raise InputError(
                f"{source}:{lineno}: sidebar time {line} has no headline to belong to ({what}); "
                "expected each time to follow its headline"
            )
        else:
            headlines.append(Headline(text=line))
    return headlines


def parse_page_text(text: str, source: str = "<text>", config: PageConfig | None = None) -> Article:
    """Parse a page dump held in ``text``; ``source`` names it in errors and in ``Article.source``."""
    cfg = config or PageConfig()
    text = replace_surrogates(text)  # a lone surrogate (Python callers, JSON escapes) -> U+FFFD
    lines = [(i, clean_line(raw)) for i, raw in enumerate(split_lines(text), start=1)]
    lines = [(i, line) for i, line in lines if line]
    if not lines:
        raise InputError(f"{source}: empty page (only blank lines); expected a title line, a lead and body paragraphs")
    title_no, title = lines[0]
    if len(title) > cfg.max_title_chars:
        raise InputError(
            f"{source}:{title_no}: line is {len(title):,} characters, too long for a title "
            f"(max_title_chars={cfg.max_title_chars}); expected a page dump with the title on its first line"
        )
    headings = cfg.heading_keys()
    rest = lines[1:]
    start = next((k for k, (_, line) in enumerate(rest) if line.casefold() in headings), None)
    body, sidebar = (rest, []) if start is None else (rest[:start], rest[start + 1:])
    lead = body[0][1] if body else None
    paragraphs = [line for _, line in body[1:]]
    headlines = _sidebar(sidebar, source, headings)
    for h in headlines:
        h.lang = detect_lang(h.text)
        h.source = source
    article_text = "\n".join([title, lead or "", *paragraphs])
    return Article(
        title=title,
        lead=lead,
        paragraphs=paragraphs,
        headlines=headlines,
        lang=detect_lang(article_text),
        source=source,
    )


def check_size(path: Path, config: PageConfig) -> None:
    """Reject files over ``max_file_bytes`` before reading them."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # missing files / directories get their own message from read_text_file
    if path.is_file() and size > config.max_file_bytes:
        raise InputError(
            f"{path}: file is {size:,} bytes, over max_file_bytes={config.max_file_bytes:,}; expected a single news page"
        )


def read_page(path: str | os.PathLike, config: PageConfig | None = None, *, notes: list[str] | None = None) -> Article:
    """Read and parse a page dump file. Decoding notes (e.g. a cp1251 fallback) are appended to ``notes``."""
    cfg = config or PageConfig()
    p = Path(path)
    check_size(p, cfg)
    decoded = read_text_file(p)
    if notes is not None:
        notes.extend(decoded.notes)
    return parse_page_text(decoded.text, str(p), cfg)
