"""JSONL / CSV corpora -> :class:`~mlnews.types.Article` / :class:`~mlnews.types.Headline` via a column mapping.

A :class:`ColumnMapping` says which column holds the title, text, lead, label, ... and which
values are constants for the whole file (e.g. ``source: lenta``). A row with a text column
becomes an :class:`Article` (text split into paragraphs on newlines); a row with a title only
becomes a :class:`Headline`. ``configs/ingest/shared_data.yaml`` maps every file of
``../shared/data``::

    mapping = load_mappings("configs/ingest/shared_data.yaml")["shared_articles"]
    for lineno, item in iter_corpus("../shared/data/articles_tsn_uk.jsonl", mapping):
        ...

Malformed rows raise :class:`InputError` naming ``file:line`` (``strict=True``), or are yielded
as ``(lineno, InputError)`` so the caller can count and report them (``strict=False``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Optional, Union

from mlnews.config import from_dict, load_yaml
from mlnews.errors import ConfigError, InputError
from mlnews.ingest.inputs import BadRow, iter_source
from mlnews.text import clean_line
from mlnews.types import Article, Headline

Item = Union[Article, Headline]
_FIELDS = ("id", "title", "text", "lead", "label", "label_origin", "lang", "source", "url", "published")


@dataclass
class ColumnMapping:
    """Which column of a corpus file holds which field (``None`` = not present).

    ``constants`` sets a field to the same value for every row (e.g. ``{"source": "lenta",
    "lang": "ru"}``); a column value, when present and non-empty, wins over the constant.
    ``kind``: ``auto`` makes rows with non-empty text articles and the rest headlines.
    """

    title: str = "title"
    text: Optional[str] = None
    lead: Optional[str] = None
    label: Optional[str] = None
    label_origin: Optional[str] = None
    lang: Optional[str] = None
    id: Optional[str] = None
    source: Optional[str] = None
    url: Optional[str] = None
    published: Optional[str] = None
    constants: dict[str, str] = field(default_factory=dict)
    format: Literal["auto", "jsonl", "csv", "tsv"] = "auto"
    kind: Literal["auto", "article", "headline"] = "auto"

    def validate(self, prefix: str = "") -> None:
        bad = [k for k in self.constants if k not in _FIELDS]
        if bad:
            key = f"{prefix}.constants.{bad[0]}" if prefix else f"constants.{bad[0]}"
            raise ConfigError(f"{key}: unknown field; expected one of {', '.join(_FIELDS)}")


def load_mappings(path: str | os.PathLike) -> dict[str, ColumnMapping]:
    """Read a mappings file: ``{"mappings": {name: ColumnMapping fields}}``."""
    data = load_yaml(path)
    unknown = [k for k in data if k not in ("mappings", "files")]
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}: unknown key; allowed keys: files, mappings")
    raw = data.get("mappings")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: mappings: expected a non-empty mapping of name -> column mapping")
    try:
        return {str(name): from_dict(ColumnMapping, spec, f"mappings.{name}") for name, spec in raw.items()}
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _detect_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    raise InputError(f"{path}: cannot tell the corpus format from the extension; expected .jsonl, .csv or .tsv "
                     "(or set format: in the column mapping)")


def _value(rec: dict, column: Optional[str], where: str, name: str) -> Optional[str]:
    if column is None:
        return None
    if column not in rec:
        if name == "title":  # JSON objects may omit null fields; only the title is required
            raise ValueError(f"missing column {column!r} (mapped to {name})")
        return None
    val = rec[column]
    if val is None:
        return None
    if isinstance(val, bool) or not isinstance(val, (str, int, float)):
        raise ValueError(f"column {column!r} ({name}) should be a string, got {type(val).__name__}")
    val = str(val).strip()
    return val or None


def _to_item(rec: dict, mapping: ColumnMapping, path: Path, lineno: int) -> Item:
    where = f"{path}:{lineno}"
    vals: dict[str, Any] = {}
    for name in _FIELDS:
        vals[name] = _value(rec, getattr(mapping, name), where, name)
        if vals[name] is None and name in mapping.constants:
            vals[name] = mapping.constants[name]
    title = clean_line(vals["title"] or "")
    common = dict(
        lang=vals["lang"], id=vals["id"], source=vals["source"], label=vals["label"],
        label_origin=vals["label_origin"], published=vals["published"],
    )
    kind = mapping.kind
    if kind == "auto":
        kind = "article" if (mapping.text is not None and vals["text"]) else "headline"
    if kind == "headline":
        return Headline(text=title, **common)
    paragraphs = [p for p in (clean_line(x) for x in (vals["text"] or "").split("\n")) if p]
    lead = clean_line(vals["lead"]) if vals["lead"] else None
    return Article(title=title, lead=lead or None, paragraphs=paragraphs, url=vals["url"], **common)


def _line_of(where: str) -> int:
    """The line number of a ``file:line`` position (0 for a whole-file problem)."""
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def iter_corpus(
    path: str | os.PathLike, mapping: ColumnMapping, *, strict: bool = True
) -> Iterator[tuple[int, Union[Item, InputError]]]:
    """Stream ``(line_number, Article | Headline)`` from a JSONL or CSV/TSV file.

    Blank lines are skipped. A malformed row (bad JSON, wrong field count, a mapped column
    missing, a non-string value) raises :class:`InputError` naming ``file:line`` when ``strict``;
    otherwise the error is yielded in place of the item.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a JSONL or CSV file")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    fmt = _detect_format(path, mapping.format)
    needed = [getattr(mapping, n) for n in _FIELDS if getattr(mapping, n) is not None] if fmt != "jsonl" else []
    for item in iter_source(str(path), fmt, need=needed):  # the one input reader (mlnews.ingest.inputs)
        if isinstance(item, BadRow):
            err = InputError(str(item))
            if strict:
                raise err
            yield _line_of(item.where), err
            continue
        lineno, rec = _line_of(item[0]), item[1]
        try:
            item = _to_item(rec, mapping, path, lineno)
        except ValueError as exc:
            err = InputError(f"{path}:{lineno}: {exc}")
            if strict:
                raise err from None
            yield lineno, err
            continue
        yield lineno, item
