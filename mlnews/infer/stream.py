"""Streaming input readers, bounded length-sorted batching and output writers for ``mlnews classify``.

Everything here is a generator: memory stays flat however large the input is.

* :func:`iter_rows` turns INPUT arguments (JSONL, CSV/TSV, TXT, page dumps, directories, ``-``)
  into :class:`Row` objects, yielding a :class:`BadRow` (file:line + reason) for every malformed
  row instead of raising, so the caller can count, report or (``--strict``) stop.
* :func:`predict_in_order` reads a bounded window of rows, sorts it by text length into batches
  (so padding is small), predicts, and re-emits the rows in their input order.
* :class:`RecordWriter` writes JSONL or CSV to stdout or, atomically, to a file.

Format rules (``format="auto"``): ``.jsonl``/``.ndjson`` -> JSON Lines; ``.csv`` -> CSV, ``.tsv`` ->
tab-separated (both with a header row); ``.txt`` -> one text per line; ``.html``/``.htm`` -> a page;
a directory -> every non-hidden ``.txt``/``.html``/``.htm``/extensionless file below it (recursively,
sorted by path; other files are reported as ignored), each read as one page (page dump, HTML or plain
text, auto-detected by ``mlnews.ingest.read_document``); ``-`` -> stdin,
JSON Lines when its first non-blank line starts with ``{``, else one text per line.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from mlnews.errors import InputError, MlnewsError
from mlnews.io import atomic_write
from mlnews.text import clean_line

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt", "page")
PAGE_SUFFIXES = (".txt", ".html", ".htm", "")  # files read as pages when a directory is expanded
_EXT_FORMAT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "txt", ".html": "page", ".htm": "page"}


@dataclass
class Row:
    """One text to classify. ``where`` is ``file:line`` (or ``file:article`` / ``file:headline:N`` for pages)."""

    id: str
    text: str
    where: str
    lead: str = ""
    body: str = ""


@dataclass
class BadRow:
    """A malformed input row: where it is and what was wrong (one line, for stderr)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class InputSpec:
    """Which fields hold the text, id, lead and body (JSONL/CSV), and the input format."""

    text_field: str = "text"
    id_field: str | None = None
    lead_field: str | None = None
    body_field: str | None = None
    format: str = "auto"


@dataclass
class StreamStats:
    """Counts for the summary line: rows_in == rows_out + skipped, always."""

    rows_in: int = 0
    rows_out: int = 0
    skipped: Counter = field(default_factory=Counter)
    blank_lines: int = 0

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def resolve_inputs(inputs: Sequence[str], fmt: str = "auto", ignored: list[str] | None = None) -> list[tuple[str, str]]:
    """Expand INPUT arguments into ``(source, format)`` pairs, checking every path up front.

    In a directory (with ``fmt="auto"``) only page-like files are read: ``.txt``, ``.html``, ``.htm``
    and files without an extension. Other files (``.json``, images, ...) are appended to ``ignored``
    so the caller can report them; with an explicit ``fmt`` every file is read in that format.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not inputs:
        raise InputError("no INPUT given; expected files, directories or - for stdin")
    out: list[tuple[str, str]] = []
    for arg in inputs:
        if arg == "-":
            out.append(("-", fmt))
            continue
        path = Path(arg)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if fmt == "auto":
                pages = [p for p in files if p.suffix.lower() in PAGE_SUFFIXES]
                if ignored is not None:
                    ignored.extend(str(p) for p in files if p.suffix.lower() not in PAGE_SUFFIXES)
                files = pages
            if not files:
                raise InputError(f"{arg}: directory has no page files (.txt, .html, .htm or no extension) to classify")
            out.extend((str(p), "page" if fmt == "auto" else fmt) for p in files)
        elif path.is_file():
            if fmt != "auto":
                out.append((arg, fmt))
            elif path.suffix.lower() in _EXT_FORMAT:
                out.append((arg, _EXT_FORMAT[path.suffix.lower()]))
            else:
                raise InputError(
                    f"{arg}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
                    f"expected .jsonl, .csv, .tsv, .txt, .html, a directory of pages, or pass --format"
                )
        else:
            raise InputError(f"{arg}: no such file or directory")
    return out


def _decoded_lines(fh: IO[bytes], name: str) -> Iterator[tuple[int, str | None]]:
    """Yield ``(line_number, text)``; ``text`` is None for a line that is not valid UTF-8."""
    for lineno, raw in enumerate(fh, start=1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield lineno, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield lineno, None


def _field_text(rec: dict, key: str, where: str, required: bool) -> str | BadRow:
    value = rec.get(key)
    if value is None:
        return BadRow(where, f"missing field {key!r}") if required else ""
    if not isinstance(value, str):
        return BadRow(where, f"field {key!r} is {type(value).__name__}, expected a string")
    value = clean_line(value)
    if required and not value:
        return BadRow(where, f"empty field {key!r}")
    return value


def _record_row(rec: dict, where: str, spec: InputSpec) -> Row | BadRow:
    text = _field_text(rec, spec.text_field, where, required=True)
    if isinstance(text, BadRow):
        return text
    parts = {}
    for name, key in (("lead", spec.lead_field), ("body", spec.body_field)):
        value = _field_text(rec, key, where, required=False) if key else ""
        if isinstance(value, BadRow):
            return value
        parts[name] = value
    rid = rec.get(spec.id_field) if spec.id_field else None
    return Row(id=where if rid is None else str(rid), text=text, where=where, **parts)


def _iter_jsonl(fh: IO[bytes], name: str, spec: InputSpec, stats: StreamStats) -> Iterator[Row | BadRow]:
    for lineno, line in _decoded_lines(fh, name):
        where = f"{name}:{lineno}"
        if line is None:
            yield BadRow(where, "not valid UTF-8")
            continue
        if not line.strip():
            stats.blank_lines += 1
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            yield BadRow(where, f"malformed JSON ({exc.args[0] if exc.args else exc})")
            continue
        if not isinstance(rec, dict):
            yield BadRow(where, f"expected a JSON object, got {type(rec).__name__}")
            continue
        yield _record_row(rec, where, spec)


def _iter_txt(fh: IO[bytes], name: str, spec: InputSpec, stats: StreamStats) -> Iterator[Row | BadRow]:
    for lineno, line in _decoded_lines(fh, name):
        where = f"{name}:{lineno}"
        if line is None:
            yield BadRow(where, "not valid UTF-8")
            continue
        text = clean_line(line)
        if not text:
            stats.blank_lines += 1
            continue
        yield Row(id=where, text=text, where=where)


def _iter_csv(fh: IO[bytes], name: str, spec: InputSpec, stats: StreamStats, delimiter: str) -> Iterator[Row | BadRow]:
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row does not end the file.
    text_fh = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text_fh, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:1: unreadable CSV header ({exc})") from None
    missing = [k for k in (spec.text_field, spec.id_field, spec.lead_field, spec.body_field) if k and k not in header]
    if missing:
        raise InputError(f"{name}:1: header has no column {missing[0]!r}; columns are {header}")
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(f"{name}:{start}", f"malformed CSV ({exc})")
            start = reader.line_num + 1
            continue
        where = f"{name}:{start}"
        start = reader.line_num + 1
        if not values or (len(values) == 1 and not values[0].strip()):
            stats.blank_lines += 1
            continue
        if len(values) != len(header):
            yield BadRow(where, f"expected {len(header)} fields, got {len(values)}")
            continue
        if any("\udc80" <= ch <= "\udcff" for v in values for ch in v):
            yield BadRow(where, "not valid UTF-8")
            continue
        yield _record_row(dict(zip(header, values)), where, spec)


def _iter_page(name: str) -> Iterator[Row | BadRow]:
    from mlnews.ingest import read_document  # lazy: ingest pulls in trafilatura

    try:
        art = read_document(name)
    except MlnewsError as exc:
        yield BadRow(name, str(exc).removeprefix(f"{name}: "))
        return
    except UnicodeDecodeError:
        yield BadRow(name, "not valid UTF-8")
        return
    title = clean_line(art.title or "")
    if title:
        yield Row(id=f"{name}:article", text=title, where=f"{name}:article", lead=art.lead or "", body=art.body)
    else:
        yield BadRow(f"{name}:article", "page has no title")
    for n, head in enumerate(art.headlines, start=1):
        where = f"{name}:headline:{n}"
        text = clean_line(head.text or "")
        yield Row(id=where, text=text, where=where) if text else BadRow(where, "empty sidebar headline")


def _sniff_stdin(stream: IO[bytes]) -> tuple[str, IO[bytes]]:
    """Peek at stdin without consuming it: JSON Lines if the first non-blank line starts with '{'."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = buffered.peek(65536)[:65536].lstrip(b"\xef\xbb\xbf \t\r\n")  # type: ignore[union-attr]
    return ("jsonl" if head.startswith(b"{") else "txt"), buffered


def iter_rows(
    inputs: Sequence[str],
    spec: InputSpec | None = None,
    stats: StreamStats | None = None,
    stdin: IO[bytes] | None = None,
) -> Iterator[Row | BadRow]:
    """Stream rows from every INPUT in order; malformed rows come out as :class:`BadRow`.

    Raises :class:`InputError` only for problems that concern a whole input (missing file, unknown
    format, CSV header without the text column).
    """
    spec = spec or InputSpec()
    stats = stats if stats is not None else StreamStats()
    for source, fmt in resolve_inputs(inputs, spec.format):
        if source == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            name = "<stdin>"
            if fmt == "auto":
                fmt, stream = _sniff_stdin(stream)
            if fmt == "page":
                raise InputError("-: page dumps cannot be read from stdin; pass the file or directory")
            yield from _iter_stream(stream, name, fmt, spec, stats)
        elif fmt == "page":
            yield from _iter_page(source)
        else:
            with open(source, "rb") as fh:
                yield from _iter_stream(fh, source, fmt, spec, stats)


def _iter_stream(fh: IO[bytes], name: str, fmt: str, spec: InputSpec, stats: StreamStats) -> Iterator[Row | BadRow]:
    if fmt == "jsonl":
        return _iter_jsonl(fh, name, spec, stats)
    if fmt == "txt":
        return _iter_txt(fh, name, spec, stats)
    return _iter_csv(fh, name, spec, stats, "\t" if fmt == "tsv" else ",")


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
    order = sorted(range(len(buf)), key=lambda i: len(buf[i].text) + len(buf[i].lead) + len(buf[i].body))
    results: list[Any] = [None] * len(buf)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
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
