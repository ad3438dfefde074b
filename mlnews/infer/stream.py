"""Bounded length-sorted batching and output writers for ``mlnews classify`` (inputs: :mod:`mlnews.ingest.inputs`).

* :func:`predict_in_order` reads a bounded window of rows, sorts it by text length into batches
  (so padding is small), predicts, and re-emits the rows in their input order;
* :class:`RecordWriter` writes JSONL or CSV to stdout or, atomically, to a file.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import IO, Any, Callable, Iterable, Iterator

from mlnews.batches import by_length
from mlnews.ingest.inputs import Row
from mlnews.io import atomic_write


def predict_in_order(
    rows: Iterable[Row],
    predict: Callable[[list[Row]], list[Any]],
    batch_size: int = 32,
    window: int | None = None,
) -> Iterator[tuple[Row, Any]]:
    """Predict ``rows`` in length-sorted batches within a bounded window; yield in input order.

    At most ``window`` rows (default ``batch_size * 64``) are held at a time. ``predict`` gets a
    list of rows of similar length and returns one result per row.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    window = window or batch_size * 64
    buf: list[Row] = []
    for row in rows:
        buf.append(row)
        if len(buf) >= window:
            yield from _predict_window(buf, predict, batch_size)
            buf = []
    if buf:
        yield from _predict_window(buf, predict, batch_size)


def _predict_window(buf: list[Row], predict: Callable[[list[Row]], list[Any]], batch_size: int) -> Iterator[tuple[Row, Any]]:
    results: list[Any] = [None] * len(buf)
    for idx in by_length(buf, batch_size, key=lambda r: len(r.text) + len(r.lead) + len(r.body)):
        preds = predict([buf[i] for i in idx])
        if len(preds) != len(idx):
            raise RuntimeError(f"predict returned {len(preds)} results for {len(idx)} rows")
        for i, p in zip(idx, preds):
            results[i] = p
    yield from zip(buf, results)


class RecordWriter:
    """Write records as JSON Lines or CSV to stdout (``path=None``) or atomically to ``path``.

    CSV columns are ``fields``; nested values (``top_k``) are written as JSON strings and ``None``
    as an empty cell. Use as a context manager; on an exception a file target is left untouched.
    """

    def __init__(self, path: str | None, fields: list[str], fmt: str | None = None) -> None:
        self.path = path
        self.fields = fields
        self.fmt = fmt or ("csv" if path and path.lower().endswith(".csv") else "jsonl")
        self._ctx = None
        self._fh: IO[str] | None = None
        self._csv: Any = None

    def __enter__(self) -> "RecordWriter":
        if self.path is None:
            self._fh = sys.stdout
        else:
            self._ctx = atomic_write(self.path, "w", encoding="utf-8")
            self._fh = self._ctx.__enter__()
        if self.fmt == "csv":
            self._csv = csv.writer(self._fh, lineterminator="\n")
            self._csv.writerow(self.fields)
        return self

    def write(self, rec: dict) -> None:
        assert self._fh is not None
        if self._csv is not None:
            cells = []
            for key in self.fields:
                v = rec.get(key)
                cells.append("" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
            self._csv.writerow(cells)
        else:
            self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._ctx is not None:
            return bool(self._ctx.__exit__(exc_type, exc, tb))
        if self._fh is not None:
            self._fh.flush()
        return False
