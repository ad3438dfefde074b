"""Article rows for summarisation: one split of a built dataset, a data config, or a labelled file.

``article_rows(data, split, langs)`` gives ``{id, text, title, lead, lang}`` dicts (``text`` = the body,
paragraphs kept). Summariser training and evaluation both read through it. A file (JSONL, CSV/TSV or
Parquet, read by :mod:`mlnews.ingest.inputs`) is used for quick experiments: a record belongs to
``split`` when its ``split`` field equals it or is absent; a record without a string ``text`` is a
one-line error naming the file and line.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlnews.errors import InputError

ARTICLE_FIELDS = ("id", "text", "title", "lead", "lang")


def article_rows(data: str | os.PathLike, split: str, langs: list[str] | None = None) -> list[dict]:
    """Rows of one split (see the module docstring); ``langs`` keeps only these languages."""
    from mlnews.ingest.inputs import BadRow, is_record_file, iter_records

    path = Path(data)
    if path.is_file() and is_record_file(path):
        rows = []
        for item in iter_records([str(path)]):
            if isinstance(item, BadRow):
                raise InputError(str(item))
            where, rec = item
            text = rec.get("text")
            if not isinstance(text, str):
                raise InputError(f"{where}: expected a string field 'text' (the article body)")
            if rec.get("split", split) != split:
                continue
            rows.append({
                "id": str(rec["id"]) if rec.get("id") is not None else where,
                "text": text,
                "title": rec.get("title") or "",
                "lead": rec.get("lead") or "",
                "lang": rec.get("lang") or "unknown",
            })
    else:
        from mlnews.data import ensure_dataset, load_built

        if not path.exists():
            raise InputError(f"{path}: not found; expected a dataset folder, a data config or a JSONL/CSV/Parquet file")
        built = load_built(ensure_dataset(path)).summarisation
        if split not in built:
            raise InputError(f"{path}: no split {split!r} in the summarisation data; it has {', '.join(built)}")
        rows = [{k: (r.get(k) or "") for k in ARTICLE_FIELDS} for r in built[split]]
    if langs:
        rows = [r for r in rows if r["lang"] in langs]
    return rows


def cap_rows(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    """At most ``n`` rows, a seeded sample kept in the original order (``n=None`` keeps all)."""
    if n is None or len(rows) <= n:
        return rows
    import random

    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in picked]
