"""The row stream of a build: every source of a data config as :class:`Item` rows, in config order."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Optional

from mlnews.data.config import DataConfig, PathResolver
from mlnews.errors import InputError
from mlnews.text import compose_text


@dataclass
class Item:
    """One row of the stream: a headline, or an article (title + lead + body)."""

    cfg_source: int
    source: str
    kind: str
    id: str
    text: str = ""
    lead: str = ""
    body: str = ""
    lang: Optional[str] = None
    label: Optional[str] = None
    label_origin: Optional[str] = None
    error: Optional[str] = None


def _iter_source(idx: int, cfg: DataConfig, resolver: PathResolver, mappings: dict) -> Iterator[Item]:
    from mlnews.types import Article

    src = cfg.sources[idx]
    key = f"sources[{idx}]"
    files = resolver.many(src.path, f"{key}.path")
    if src.type == "corpus":
        from mlnews.ingest.corpus import iter_corpus

        mapping = src.columns if src.columns is not None else mappings[src.mapping]
        for path in files:
            for lineno, rec in iter_corpus(path, mapping, strict=src.strict):
                rid = f"{src.name}-{path.stem}-{lineno}"
                if isinstance(rec, InputError):
                    yield Item(idx, src.name, "headline", rid, error=str(rec))
                    continue
                name = rec.source or src.name
                if isinstance(rec, Article):
                    yield Item(idx, name, "article", rec.id or rid, rec.title, rec.lead or "", rec.body,
                               rec.lang, rec.label, rec.label_origin)
                else:
                    yield Item(idx, name, "headline", rec.id or rid, rec.text, "", "", rec.lang, rec.label,
                               rec.label_origin)
        return
    for path in files:
        try:
            if src.type == "pages":
                from mlnews.ingest.page import read_page

                art = read_page(path)
            else:
                from mlnews.ingest.html import read_html

                art = read_html(path)
        except InputError as exc:
            if src.strict:
                raise
            yield Item(idx, src.name, "article", f"{src.name}:{path.name}", error=str(exc))
            continue
        rid = f"{src.name}:{path.stem}"
        yield Item(idx, src.name, "article", rid, art.title, art.lead or "", art.body, art.lang,
                   art.label, art.label_origin)
        for j, h in enumerate(art.headlines):
            yield Item(idx, src.name, "headline", f"{rid}#h{j}", h.text, "", "", h.lang or art.lang, h.label,
                       h.label_origin)


def iter_items(
    cfg: DataConfig, resolver: PathResolver, mappings: dict, spool: Optional[Path] = None
) -> Iterator[Item]:
    """All rows of all sources, in config order (the same order on every pass).

    With ``spool`` (a folder), rows of page/HTML sources are parsed once: the first pass writes
    them to ``spool/<source index>.jsonl`` and later passes read them back from there.
    """
    for idx, src in enumerate(cfg.sources):
        if src.type == "review":  # no rows of its own: it relabels rows of the other sources (data/reviews.py)
            continue
        if spool is None or src.type == "corpus":
            yield from _iter_source(idx, cfg, resolver, mappings)
            continue
        part = spool / f"{idx}.jsonl"
        if part.exists():
            with open(part, encoding="utf-8") as fh:
                for line in fh:
                    yield Item(**json.loads(line))
            continue
        tmp = part.with_suffix(".partial")
        with open(tmp, "w", encoding="utf-8") as fh:
            for item in _iter_source(idx, cfg, resolver, mappings):
                fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
                yield item
        tmp.rename(part)


def model_text(item: Item) -> str:
    """What the weak labellers read: title, lead and the start of the body."""
    return compose_text(item.text, item.lead, item.body, body_chars=300)
