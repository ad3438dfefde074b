"""File helpers: atomic writes, stale-temp sweeping and line-numbered JSON Lines reading.

Temporary files and folders (``atomic_write``, ``atomic_dir``, ``temp_dir``) are named after their
owner: ``.NAME.p<pid>h<host>.<random>.tmp`` beside the target. A process killed with ``kill -9``
cannot clean up, so every later ``atomic_write``/``atomic_dir``/``temp_dir`` of the same target
first sweeps the temps of that target whose owning process (on this machine) is gone, and
``atomic_dir`` swaps the old folder out under the same kind of name. See docs/faults.md.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from mlnews.errors import InputError
from mlnews.text import replace_surrogates

#: Text written through :func:`atomic_write` turns a lone UTF-16 surrogate (which UTF-8 cannot
#: encode) into U+FFFD instead of failing half-way through a file.
ENCODE_ERRORS = "mlnews.replace"


def _replace_with_fffd(exc: UnicodeError) -> tuple[bytes, int]:
    if isinstance(exc, UnicodeEncodeError) and exc.encoding.replace("-", "").lower() == "utf8":
        return "\ufffd".encode("utf-8") * (exc.end - exc.start), exc.end  # the UTF-8 encoder takes bytes here
    raise exc


codecs.register_error(ENCODE_ERRORS, _replace_with_fffd)

_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"
_OWNER = re.compile(r"p(\d+)h([0-9a-f]{4})")


def _temp_prefix(name: str) -> str:
    """``.NAME.p<pid>h<host>.``: a temp's owner can be told from its name."""
    return f".{name}.p{os.getpid()}h{_HOST_TAG}."


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch, ~1 s precision); None if unknown."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


_STARTED = _process_start(os.getpid()) or time.time()


def _owner_gone(pid: int, mtime: float) -> bool:
    """True when process ``pid`` has exited, or the pid now belongs to a process started after ``mtime``."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    start = _process_start(pid)
    return start is not None and start > mtime + 1.0  # the pid was reused


def is_stale_temp(entry: Path, name: str) -> bool:
    """Is ``entry`` (in the target's folder) a temp of target ``name`` left by a process that is gone?

    Temps written by this version carry their owner (``.NAME.p<pid>h<host>.*.tmp``): stale when that
    process no longer runs on this machine (temps of other hosts are left alone). Temps without an
    owner (``.NAME.<random>.tmp``, written by mlnews before 0.1.1) are stale when older than this process.
    """
    head = f".{name}."
    if not (entry.name.startswith(head) and entry.name.endswith(".tmp")):
        return False
    middle = entry.name[len(head):-len(".tmp")]
    try:
        mtime = entry.lstat().st_mtime
    except FileNotFoundError:
        return False
    owner = _OWNER.match(middle.split(".", 1)[0])
    if owner and "." in middle:
        return owner.group(2) == _HOST_TAG and _owner_gone(int(owner.group(1)), mtime)
    return "." not in middle and mtime < _STARTED - 1.0


def sweep_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the stale temps of ``path`` (see :func:`is_stale_temp`) from its folder; return what went."""
    path = Path(path)
    removed = []
    try:
        entries = [Path(e.path) for e in os.scandir(path.parent) if e.name.startswith(f".{path.name}.")]
    except OSError:
        return removed
    for entry in entries:
        if is_stale_temp(entry, path.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(entry)
    return removed


def _not_writable(path: Path, reason: str) -> InputError:
    return InputError(f"{path}: cannot write here ({reason}); expected a path in a writable folder")


def check_writable(path: str | os.PathLike) -> None:
    """Fail early, with one line, when ``path`` (a file or folder to be written) cannot be created.

    Walks up to the nearest existing ancestor: it must be a folder we can create files in. Nothing
    is created except a probe file, removed at once.
    """
    path = Path(path)
    if path.is_dir() or path.is_file():
        base = path.parent
    else:
        base = path.parent
        while not base.exists() and base != base.parent:
            base = base.parent
    if base.exists() and not base.is_dir():
        raise _not_writable(path, f"{base} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=base)
    except OSError as exc:
        raise _not_writable(path, f"{base}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise _not_writable(path, f"{next(p for p in path.parents if p.is_file())} is a file, not a folder") from None
    except OSError as exc:
        raise _not_writable(path, exc.strerror or str(exc)) from None


def _umask_mode(mode: int) -> int:
    """``mode`` minus the process umask: what a plain ``open()``/``mkdir()`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def umask_files(folder: str | os.PathLike) -> None:
    """Give every file below ``folder`` the mode a plain ``open()`` would (0644 under umask 022):
    libraries that write through ``mkstemp`` (safetensors, the Trainer) leave 0600 files."""
    mode = _umask_mode(0o666)
    for p in Path(folder).rglob("*"):
        if p.is_file() and not p.is_symlink():
            os.chmod(p, mode)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place on success.

    A crash or an exception leaves the previous file (or no file) instead of a half-written one;
    stale temps of ``path`` left by killed runs are swept first. A path that cannot be written is
    an :class:`InputError` naming it. Text mode writes a lone surrogate as U+FFFD.
    """
    path = Path(path)
    _make_parent(path)
    sweep_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _not_writable(path, exc.strerror or str(exc)) from None
    try:
        text = "b" not in mode
        with os.fdopen(fd, mode, encoding=encoding if text else None, errors=ENCODE_ERRORS if text else None) as fh:
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
    """Build a directory under a temporary name and swap it into place on success.

    The previous folder is renamed to a temp name of this process before the new one takes its
    place, so a kill at any point leaves either folder plus temps that the next run sweeps.
    """
    path = Path(path)
    _make_parent(path)
    sweep_stale_temps(path)
    legacy_old = path.with_name(f".{path.name}.old")  # the swap name of mlnews before 0.1.1
    if legacy_old.is_dir() and legacy_old.stat().st_mtime < _STARTED - 1.0:
        shutil.rmtree(legacy_old, ignore_errors=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise _not_writable(path, exc.strerror or str(exc)) from None
    os.chmod(tmp, _umask_mode(0o777))  # mkdtemp creates 0700 folders
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent))
            os.rename(path, old)  # replaces the empty folder just made
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def temp_dir(prefix: str, dir: str | os.PathLike | None = None) -> Iterator[Path]:
    """A scratch folder ``PREFIX.p<pid>h<host>.*.tmp`` (in ``dir``, default the system temp folder),
    removed on exit; those of earlier runs killed before they could remove theirs are swept first."""
    base = Path(dir) if dir is not None else Path(tempfile.gettempdir())
    sweep_stale_temps(base / prefix.lstrip("."))
    path = Path(tempfile.mkdtemp(prefix=_temp_prefix(prefix.lstrip(".")), suffix=".tmp", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _scrub(obj: Any) -> Any:
    if isinstance(obj, str):
        return replace_surrogates(obj)
    if isinstance(obj, dict):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` that never returns a lone UTF-16 surrogate: an escape like ``"\\ud800"`` with
    no partner becomes U+FFFD (the replacement character), in keys and values alike.

    Valid UTF-8 cannot hold a surrogate, so only an escape can make one; texts without a
    ``\\u`` escape in the surrogate range are returned as ``json.loads`` gives them.
    """
    try:
        obj = json.loads(text)
        marks = ("\\ud", "\\uD") if isinstance(text, str) else (b"\\ud", b"\\uD")
        return _scrub(obj) if marks[0] in text or marks[1] in text else obj
    except RecursionError:
        raise ValueError("nested too deeply") from None
