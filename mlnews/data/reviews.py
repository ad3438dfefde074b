"""Review files: the append-only JSONL of label corrections that ``mlnews review`` writes.

One record per line::

    {"id": "sample_headlines-headlines-12", "text_sha256": "9f86d0...", "old_label": "society",
     "new_label": "economy", "origin": "reviewed", "reviewer": "anna", "time": "2026-12-01T21:30:05.123456+00:00",
     "old_origin": "gold", "predicted": "economy"}

:class:`ReviewLog` appends one record per ``os.write`` on an ``O_APPEND`` descriptor, then
``fsync``: a killed server loses at most the record being written. A line cut short that way (or
any line that is not JSON) is counted as ``torn`` when the file is read, never an error; a JSON
line with a missing or wrong field is an :class:`InputError` naming ``FILE:LINE``. Nothing is ever
rewritten: a second reviewer's different answer is a new record.

:func:`resolve_reviews` turns records into one decision per row (``id`` + ``text_sha256``): the
**latest ``time`` wins** (a tie: the later record in file order, files in config order); a row with
records that disagree on ``new_label`` counts as a conflict.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

from mlnews.errors import InputError

REVIEWED = "reviewed"
FIELDS = ("id", "text_sha256", "old_label", "new_label", "origin", "reviewer", "time")


def text_hash(text: str) -> str:
    """sha256 (hex) of a row's text (headline or title) as UTF-8; lone surrogates as U+FFFD."""
    return hashlib.sha256((text or "").encode("utf-8", "replace")).hexdigest()


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat()


def default_reviewer() -> str:
    """The OS user name (``--reviewer`` overrides it)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (a container without passwd)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass
class ReviewRecord:
    id: str
    text_sha256: str
    old_label: Optional[str]
    new_label: str
    reviewer: str
    time: str
    origin: str = REVIEWED
    old_origin: Optional[str] = None
    predicted: Optional[str] = None

    def to_line(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False) + "\n").encode("utf-8", "replace")


@dataclass
class ReviewRead:
    """What :func:`read_reviews` found: the records, in file order, and the lines it could not use."""

    records: list[ReviewRecord] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line of each record
    torn: int = 0  # lines that are not JSON (a write cut short by a kill)
    torn_where: list[str] = field(default_factory=list)


def _record(where: str, obj: object) -> ReviewRecord:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: a review record must be a JSON object; expected the fields {', '.join(FIELDS)}")
    for key in ("id", "text_sha256", "new_label", "reviewer", "time"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise InputError(f"{where}: field {key!r} is missing or not a non-empty string; "
                             f"expected a record written by `mlnews review`")
    if obj.get("origin", REVIEWED) != REVIEWED:
        raise InputError(f"{where}: origin {obj.get('origin')!r}; expected {REVIEWED!r}")
    try:
        datetime.fromisoformat(obj["time"])
    except ValueError:
        raise InputError(f"{where}: time {obj['time']!r} is not an ISO 8601 time; expected e.g. "
                         "2026-12-01T21:30:05+00:00") from None
    known = {f.name for f in ReviewRecord.__dataclass_fields__.values()}
    return ReviewRecord(**{k: v for k, v in obj.items() if k in known})


def read_reviews(path: str | os.PathLike) -> ReviewRead:
    """Every record of one review file (a missing file is an InputError; see the module docstring)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the review file ({exc.strerror or exc})") from None
    out = ReviewRead()
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            obj = json.loads(raw.decode("utf-8", "replace"))
        except json.JSONDecodeError:
            out.torn += 1
            out.torn_where.append(where)
            continue
        out.records.append(_record(where, obj))
        out.lines.append(lineno)
    return out


def _when(rec: ReviewRecord) -> datetime:
    t = datetime.fromisoformat(rec.time)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # a time without a zone is UTC


@dataclass
class Resolved:
    """One decision per reviewed row and how it was reached (``stats.json`` ``reviews``)."""

    by_key: dict[tuple[str, str], ReviewRecord]
    records: int = 0
    torn: int = 0
    conflicts: int = 0  # rows whose records disagree on the new label (the latest wins)
    files: list[str] = field(default_factory=list)


def resolve_reviews(reads: Iterable[ReviewRead], files: Iterable[str] = ()) -> Resolved:
    """Latest ``time`` wins per ``(id, text_sha256)``; ties go to the later record (file order)."""
    groups: dict[tuple[str, str], list[tuple[datetime, int, ReviewRecord]]] = {}
    n = torn = 0
    for read in reads:
        torn += read.torn
        for rec in read.records:
            groups.setdefault((rec.id, rec.text_sha256), []).append((_when(rec), n, rec))
            n += 1
    by_key = {k: max(v, key=lambda e: (e[0], e[1]))[2] for k, v in groups.items()}
    conflicts = sum(len({r.new_label for _, _, r in v}) > 1 for v in groups.values())
    return Resolved(by_key, records=n, torn=torn, conflicts=conflicts, files=list(files))


class ReviewLog:
    """The append-only review file of one ``mlnews review`` session (thread-safe)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a torn last line (a killed server) must not swallow the next record: start on a new line
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._write(b"\n")

    def _write(self, data: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:  # one write() for a record in practice; loop on a short write
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, record: ReviewRecord) -> ReviewRecord:
        with self._lock:
            self._write(record.to_line())
        return record


class ReviewIndex:
    """The decisions of a build's review sources, matched to rows as the builder scans them.

    A decision applies to the row with its ``id`` **and** its ``text_sha256``; a row whose id was
    reviewed but whose text has changed since is ``stale`` (not relabelled); a decision whose id
    matches no row applies to the rows with the same text (``matched_by_text``: a review made on
    another export of the same headlines). Counts go to ``stats.json`` ``reviews``.
    """

    def __init__(self, resolved: Resolved):
        self.resolved = resolved
        self.by_key = resolved.by_key
        self.ids = {rid for rid, _ in self.by_key}
        self.by_hash: dict[str, ReviewRecord] = {}
        for rec in sorted(self.by_key.values(), key=_when):
            self.by_hash[rec.text_sha256] = rec  # the latest decision on a text
        self.used: set[tuple[str, str]] = set()
        self.counts = {"matched_by_id": 0, "matched_by_text": 0, "stale": 0}

    def match(self, rid: str, text: str) -> Optional[str]:
        h = text_hash(text)
        rec = self.by_key.get((rid, h))
        if rec is not None:
            self.counts["matched_by_id"] += 1
        elif rid in self.ids:
            self.counts["stale"] += 1
            return None
        else:
            rec = self.by_hash.get(h)
            if rec is None:
                return None
            self.counts["matched_by_text"] += 1
        self.used.add((rec.id, rec.text_sha256))
        return rec.new_label

    def stats(self) -> dict:
        r = self.resolved
        return {"files": r.files, "records": r.records, "torn_lines": r.torn, "rows_decided": len(self.by_key),
                "conflicts": r.conflicts, "rule": "latest time wins", **self.counts,
                "unmatched": len(set(self.by_key) - self.used)}


def load_review_sources(paths: Iterable[tuple[str, list[Path]]], labels: Iterable[str]) -> Optional[ReviewIndex]:
    """The :class:`ReviewIndex` of the review files ``[(source name, [files])]``; None without any.

    A record whose ``new_label`` is not a taxonomy label is an InputError naming ``FILE:LINE``.
    """
    names = set(labels)
    reads, files = [], []
    for _, group in paths:
        for path in group:
            read = read_reviews(path)
            for rec, line in zip(read.records, read.lines):
                if rec.new_label not in names:
                    raise InputError(f"{path}:{line}: new_label {rec.new_label!r} is not a label of the taxonomy; "
                                     f"expected one of {', '.join(sorted(names))}")
            reads.append(read)
            files.append(str(path))
    if not files:
        return None
    return ReviewIndex(resolve_reviews(reads, files))
