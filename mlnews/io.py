"""File helpers: atomic writes and line-numbered JSON Lines reading."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from mlnews.errors import InputError


def _umask_mode(mode: int) -> int:
    """``mode`` minus the process umask: what a plain ``open()``/``mkdir()`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or an exception leaves the previous file (or no file) instead of a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode(0o666))  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as UTF-8 JSON (Cyrillic kept readable)."""
    with atomic_write(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path) as fh:
        fh.write(text)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, _umask_mode(0o777))  # mkdtemp creates 0700 folders
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def iter_jsonl(path: str | os.PathLike, *, strict: bool = True) -> Iterator[tuple[int, dict | InputError]]:
    """Yield ``(line_number, record)`` for each non-blank line of a JSON Lines file.

    With ``strict`` a malformed line raises :class:`InputError` naming file and line; otherwise
    the error is yielded in place of the record so the caller can count and report it.
    """
    path = Path(path)
    with open(path, encoding="utf-8-sig", errors="strict") as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{lineno + 1}: not valid UTF-8 ({exc.reason})") from None
            if not line:
                break
            lineno += 1
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
            except ValueError as exc:
                err = InputError(f"{path}:{lineno}: malformed JSON line ({exc})")
                if strict:
                    raise err from None
                yield lineno, err
                continue
            yield lineno, rec
