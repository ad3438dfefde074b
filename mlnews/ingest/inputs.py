"""The one input reader: files, directories, globs and stdin -> records and rows, with bad-row accounting.

Every command that reads user inputs (``classify``, ``classify-dist``, ``evaluate FILE``, the
summariser's JSONL data, vocabulary pruning) goes through this module, so they all accept the same
inputs and report malformed rows the same way. Everything is a generator: memory stays flat.

**Formats** (``fmt="auto"`` decides by extension; ``--format`` forces one for every file):

======================  ========================================================================
``.jsonl`` ``.ndjson``   JSON Lines, one object per line (``.json`` too: what Spark / Ray write)
``.csv`` / ``.tsv``      a header row, then one record per row
``.parquet``             one record per row (pyarrow)
``.txt`` (a file)        one text per line
a page                   ``.html`` ``.htm`` ``.xhtml``, or ``.txt`` / no extension inside a directory:
                         one page dump / HTML page / plain text (auto-detected by
                         :func:`mlnews.ingest.read_document`) -> its article and sidebar headlines
``-``                    stdin: JSON Lines when its first non-blank line starts with ``{``, else lines
======================  ========================================================================

**Directories** are searched recursively (sorted by path; hidden entries and names starting with
``_``, such as Spark's ``_SUCCESS``, are skipped). A directory holds either pages or record shards:
when it has page files those are read and its other files are reported as ignored; otherwise its
record files are read. **Globs** (``'shards/*.jsonl'``, quoted so the shell leaves them) expand to
the matching paths, sorted.

**Columns**: :class:`Columns` names the fields that hold the text, id, lead, body and label; one
spec for every format (pages always give ``text`` = title or headline, ``lead``, ``body``).

**Bad rows** come out as :class:`BadRow` (``file:line`` + a one-line reason + a short ``code``)
instead of exceptions, so the caller counts, reports or (strict) stops; :class:`ReadStats` keeps
``rows_in == rows_out + skipped``. Whole-input problems (a missing file, an unknown extension, a
CSV header without the text column) raise :class:`~mlnews.errors.InputError` up front.
"""

from __future__ import annotations

import csv
import glob
import io
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

from mlnews.errors import InputError, MlnewsError
from mlnews.io import loads_json
from mlnews.text import clean_line

FORMATS = ("auto", "jsonl", "csv", "tsv", "txt", "page", "parquet")
RECORD_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv",
                   ".parquet": "parquet"}
PAGE_SUFFIXES = (".txt", ".html", ".htm", ".xhtml", "")  # read as pages inside a directory
FILE_SUFFIXES = {**RECORD_SUFFIXES, ".txt": "txt", ".html": "page", ".htm": "page", ".xhtml": "page"}
PARQUET_BATCH = 4096


@dataclass
class Columns:
    """Which record fields hold the text (required), id, lead, body and label (optional)."""

    text: str = "text"
    id: str | None = None
    lead: str | None = None
    body: str | None = None
    label: str | None = None

    def names(self) -> list[str]:
        return [k for k in (self.text, self.id, self.lead, self.body, self.label) if k]


@dataclass
class Row:
    """One text. ``where`` is ``file:line`` (``file:article`` / ``file:headline:N`` for pages).

    ``fields`` is the whole source record (other columns such as ``lang`` or ``title``)."""

    id: str
    text: str
    where: str
    lead: str = ""
    body: str = ""
    label: str | None = None
    fields: dict = field(default_factory=dict, repr=False)


@dataclass
class BadRow:
    """A malformed input row: where it is, what was wrong (one line) and a short reason code."""

    where: str
    reason: str
    code: str = "malformed"

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ReadStats:
    """Counts for the summary line: rows_in == rows_out + skipped, always."""

    rows_in: int = 0
    rows_out: int = 0
    skipped: Counter = field(default_factory=Counter)
    blank_lines: int = 0

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def is_record_file(path: str | Path) -> bool:
    """A file read as records (JSONL, CSV, TSV, Parquet) under ``fmt="auto"``."""
    return Path(path).suffix.lower() in RECORD_SUFFIXES


def _walk(path: Path) -> list[Path]:
    return sorted(
        p for p in path.rglob("*")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )


def _expand(arg: str) -> list[Path] | None:
    """A glob argument's matches (None when ``arg`` is not a glob)."""
    if not any(ch in arg for ch in "*?[") or Path(arg).exists():
        return None
    matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
    if not matches:
        raise InputError(f"{arg}: the pattern matches no file")
    return matches


def resolve_inputs(inputs: Sequence[str], fmt: str = "auto", ignored: list[str] | None = None,
                   *, stdin: bool = True) -> list[tuple[str, str]]:
    """Expand INPUT arguments into ``(source, format)`` pairs, checking every path up front.

    Files of a directory that are not read (see the module docstring) are appended to ``ignored``
    so the caller can report them. ``stdin=False`` refuses ``-`` (commands that cannot stream it).
    """
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if not inputs:
        raise InputError("no INPUT given; expected files, directories, globs or - for stdin")
    out: list[tuple[str, str]] = []
    for arg in map(str, inputs):
        if arg == "-":
            if not stdin:
                raise InputError("-: this command reads files or directories, not stdin; use mlnews classify for stdin")
            out.append(("-", fmt))
            continue
        matches = _expand(arg)
        for path in matches if matches is not None else [Path(arg)]:
            name = str(path) if matches is not None else arg
            if path.is_dir():
                out.extend(_directory(path, fmt, ignored))
            elif path.is_file():
                if fmt != "auto":
                    out.append((name, fmt))
                elif path.suffix.lower() in FILE_SUFFIXES:
                    out.append((name, FILE_SUFFIXES[path.suffix.lower()]))
                else:
                    raise InputError(
                        f"{name}: cannot tell the format from the extension {path.suffix or '(none)'!r}; expected "
                        ".jsonl, .json, .csv, .tsv, .parquet, .txt, .html, a directory of pages or shards, or pass --format"
                    )
            else:
                raise InputError(f"{name}: no such file or directory")
    return out


def _directory(path: Path, fmt: str, ignored: list[str] | None) -> list[tuple[str, str]]:
    files = _walk(path)
    if fmt != "auto":
        chosen = [(p, fmt) for p in files]
    else:
        pages = [p for p in files if p.suffix.lower() in PAGE_SUFFIXES]
        if pages:
            chosen = [(p, "page") for p in pages]
        else:
            chosen = [(p, RECORD_SUFFIXES[p.suffix.lower()]) for p in files if p.suffix.lower() in RECORD_SUFFIXES]
        if ignored is not None:
            read = {p for p, _ in chosen}
            ignored.extend(str(p) for p in files if p not in read)
    if not chosen:
        raise InputError(
            f"{path}: directory has no page files or shards to read; expected pages (.txt, .html, .htm, .xhtml, "
            f"no extension) or shards (.jsonl, .json, .csv, .tsv, .parquet)"
        )
    return [(str(p), f) for p, f in chosen]


# ------------------------------------------------------------------------------------- records


def _lines_of(fh: IO[bytes], name: str, stats: ReadStats) -> Iterator[tuple[str, str] | BadRow]:
    """``(file:line, text)`` of every non-blank UTF-8 line (a BOM on the first is dropped); blank lines
    are counted in ``stats``, undecodable ones come out as :class:`BadRow`."""
    for lineno, raw in enumerate(fh, start=1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        where = f"{name}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BadRow(where, "not valid UTF-8", "encoding")
            continue
        if not line.strip():
            stats.blank_lines += 1
            continue
        yield where, line


def _json_record(where: str, line: str) -> tuple[str, dict] | BadRow:
    try:
        rec = loads_json(line)  # a lone surrogate escape -> U+FFFD; too deep -> ValueError
    except ValueError as exc:
        return BadRow(where, f"malformed JSON ({exc.args[0] if exc.args else exc})", "json")
    if not isinstance(rec, dict):
        return BadRow(where, f"expected a JSON object, got {type(rec).__name__}", "json")
    return where, rec


def _text_record(where: str, line: str) -> tuple[str, dict] | None:
    text = clean_line(line)
    return (where, {"text": text}) if text else None  # None: only control characters / invisible spaces


def _parsed_lines(fh: IO[bytes], name: str, stats: ReadStats, parse) -> Iterator[tuple[str, dict] | BadRow]:
    """Every line of ``fh`` through ``parse(where, line)`` (JSON Lines or one text per line)."""
    for item in _lines_of(fh, name, stats):
        out = item if isinstance(item, BadRow) else parse(*item)
        if out is None:
            stats.blank_lines += 1
        else:
            yield out


def _csv(fh: IO[bytes], name: str, stats: ReadStats, delimiter: str,
         need: Sequence[str]) -> Iterator[tuple[str, dict] | BadRow]:
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row does not end the file.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # article bodies are longer than csv's 128 KiB default
    text_fh = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text_fh, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:1: unreadable CSV header ({exc})") from None
    missing = [k for k in need if k not in header]
    if missing:
        raise InputError(f"{name}:1: header has no column {missing[0]!r}; columns are {header}")
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(f"{name}:{start}", f"malformed CSV ({exc})", "csv")
            start = reader.line_num + 1
            continue
        where = f"{name}:{start}"
        start = reader.line_num + 1
        if not values or (len(values) == 1 and not values[0].strip()):
            stats.blank_lines += 1
            continue
        if len(values) != len(header):
            yield BadRow(where, f"row has {len(values)} fields, expected {len(header)} ({', '.join(header)})", "csv")
            continue
        if any("\udc80" <= ch <= "\udcff" for v in values for ch in v):
            yield BadRow(where, "not valid UTF-8", "encoding")
            continue
        yield where, dict(zip(header, values))


def _parquet(name: str, columns: Sequence[str] | None) -> Iterator[tuple[str, dict] | BadRow]:
    """Records of a Parquet file (``where`` = ``file:N``, N counted from 1); an unreadable file (or the
    unreadable rest of one) yields one :class:`BadRow`."""
    import pyarrow.parquet as pq

    n = 0
    try:
        pf = pq.ParquetFile(name)
        cols = [c for c in pf.schema_arrow.names if columns is None or c in columns]
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH, columns=cols):
            for rec in batch.to_pylist():
                n += 1
                yield f"{name}:{n}", rec
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError, ArrowIOError an OSError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = name if n == 0 else f"{name}:{n + 1}"
        yield BadRow(where, f"unreadable Parquet {'file' if n == 0 else 'from this row on'} ({first})", "parquet")


def _page(name: str) -> Iterator[tuple[str, dict] | BadRow]:
    from mlnews.ingest import read_document

    try:
        art = read_document(name)
    except MlnewsError as exc:
        yield BadRow(name, str(exc).removeprefix(f"{name}: "), "page")
        return
    except UnicodeDecodeError:
        yield BadRow(name, "not valid UTF-8", "encoding")
        return
    title = clean_line(art.title or "")
    if title:
        yield f"{name}:article", {"text": title, "lead": art.lead or "", "body": art.body, "kind": "article",
                                  "lang": art.lang}
    else:
        yield BadRow(f"{name}:article", "page has no title", "page")
    for n, head in enumerate(art.headlines, start=1):
        where = f"{name}:headline:{n}"
        text = clean_line(head.text or "")
        if text:
            yield where, {"text": text, "kind": "headline", "time": head.time}
        else:
            yield BadRow(where, "empty sidebar headline", "page")


def _sniff_stdin(stream: IO[bytes]) -> tuple[str, IO[bytes]]:
    """Peek at stdin without consuming it: JSON Lines if the first non-blank line starts with '{'."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
    head = buffered.peek(65536)[:65536].lstrip(b"\xef\xbb\xbf \t\r\n")  # type: ignore[union-attr]
    return ("jsonl" if head.startswith(b"{") else "txt"), buffered


def iter_source(source: str, fmt: str, stats: ReadStats | None = None, *, need: Sequence[str] = (),
                columns: Sequence[str] | None = None, stdin: IO[bytes] | None = None
                ) -> Iterator[tuple[str, dict] | BadRow]:
    """Records ``(where, record)`` of one resolved source; ``need`` = CSV columns that must exist,
    ``columns`` = the only Parquet columns to read (None = all)."""
    stats = stats if stats is not None else ReadStats()
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        if fmt == "auto":
            fmt, stream = _sniff_stdin(stream)
        if fmt in ("page", "parquet"):
            raise InputError(f"-: {fmt} input cannot be read from stdin; pass the file or directory")
        yield from _stream(stream, "<stdin>", fmt, stats, need)
    elif fmt == "page":
        yield from _page(source)
    elif fmt == "parquet":
        yield from _parquet(source, columns)
    else:
        with open(source, "rb") as fh:
            yield from _stream(fh, source, fmt, stats, need)


def _stream(fh: IO[bytes], name: str, fmt: str, stats: ReadStats, need: Sequence[str]):
    if fmt in ("jsonl", "txt"):
        return _parsed_lines(fh, name, stats, _json_record if fmt == "jsonl" else _text_record)
    return _csv(fh, name, stats, "\t" if fmt == "tsv" else ",", need)


def iter_records(inputs: Sequence[str], fmt: str = "auto", stats: ReadStats | None = None, *,
                 need: Sequence[str] = (), stdin: IO[bytes] | None = None, ignored: list[str] | None = None
                 ) -> Iterator[tuple[str, dict] | BadRow]:
    """Raw records ``(where, record)`` of every INPUT in order (for readers that want whole records)."""
    for source, f in resolve_inputs(inputs, fmt, ignored):
        yield from iter_source(source, f, stats, need=need, stdin=stdin)


# ---------------------------------------------------------------------------------------- rows


def _field_text(rec: dict, key: str, where: str, required: bool) -> str | BadRow:
    value = rec.get(key)
    if value is None:
        return BadRow(where, f"missing field {key!r}", "missing") if required else ""
    if not isinstance(value, str):
        return BadRow(where, f"field {key!r} is {type(value).__name__}, expected a string", "type")
    value = clean_line(value)
    if required and not value:
        return BadRow(where, f"empty field {key!r}", "empty")
    return value


def record_row(rec: dict, where: str, cols: Columns, *, page: bool = False) -> Row | BadRow:
    """A :class:`Row` from one record, or the :class:`BadRow` saying why not (pages use fixed fields)."""
    if page:
        return Row(id=where, text=rec["text"], where=where, lead=rec.get("lead", ""), body=rec.get("body", ""),
                   fields=rec)
    text = _field_text(rec, cols.text, where, required=True)
    if isinstance(text, BadRow):
        return text
    parts: dict[str, Any] = {}
    for name, key in (("lead", cols.lead), ("body", cols.body), ("label", cols.label)):
        value = _field_text(rec, key, where, required=False) if key else ""
        if isinstance(value, BadRow):
            return value
        parts[name] = value
    parts["label"] = parts["label"] or None
    rid = rec.get(cols.id) if cols.id else None
    return Row(id=where if rid is None else str(rid), text=text, where=where, fields=rec, **parts)


def iter_rows(
    inputs: Sequence[str],
    cols: Columns | None = None,
    stats: ReadStats | None = None,
    stdin: IO[bytes] | None = None,
    *,
    fmt: str = "auto",
    ignored: list[str] | None = None,
) -> Iterator[Row | BadRow]:
    """Stream rows from every INPUT in order; malformed rows come out as :class:`BadRow`."""
    cols = cols or Columns()
    stats = stats if stats is not None else ReadStats()
    for source, f in resolve_inputs(inputs, fmt, ignored):
        yield from iter_source_rows(source, f, cols, stats, stdin=stdin)


def iter_source_rows(source: str, fmt: str, cols: Columns, stats: ReadStats, *,
                     stdin: IO[bytes] | None = None) -> Iterator[Row | BadRow]:
    """Rows of one resolved source (what a Ray read task runs on one shard)."""
    page = fmt == "page"
    for item in iter_source(source, fmt, stats, need=cols.names(), stdin=stdin):
        if isinstance(item, BadRow):
            yield item
        else:
            yield record_row(item[1], item[0], cols, page=page)
