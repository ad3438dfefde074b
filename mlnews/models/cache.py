"""The model cache: ``$MLNEWS_CACHE/models/<alias>`` (default ``~/.cache/mlnews``).

A cached folder is a standard transformers folder plus ``mlnews-model.json`` (the *stamp*): what
it was made from (the source file's sha256), by which converter version, and the size and sha256
of every file written. A folder is built under a temporary name, verified, stamped and renamed into
place while holding a file lock, so two processes preparing at once never see or leave a half-written
folder. On use the stamp and file sizes are re-checked (cheap); ``verify(full=True)`` re-hashes
every file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock; the atomic rename still protects the folder
    fcntl = None  # type: ignore[assignment]

from mlnews.errors import MlnewsError
from mlnews.io import atomic_dir, write_json

STAMP = "mlnews-model.json"
STAMP_FORMAT = 1
#: Bump when the converter's output changes; cached folders with another version are rebuilt.
CONVERTER_VERSION = 1


def cache_root() -> Path:
    """``$MLNEWS_CACHE`` or ``~/.cache/mlnews``."""
    env = os.environ.get("MLNEWS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mlnews"


def models_dir() -> Path:
    return cache_root() / "models"


def sha256_file(path: str | Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_stamp(folder: str | Path) -> dict | None:
    """The folder's stamp, ``None`` when it has none; :class:`MlnewsError` when it is unreadable."""
    path = Path(folder) / STAMP
    if not path.is_file():
        return None
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MlnewsError(f"{path}: unreadable model stamp ({exc}); run: mlnews models prepare --force") from None
    if not isinstance(stamp, dict) or not isinstance(stamp.get("files"), dict):
        raise MlnewsError(f"{path}: malformed model stamp (no 'files' table); run: mlnews models prepare --force")
    return stamp


def file_table(folder: Path) -> dict[str, dict]:
    """``{name: {"size", "sha256"}}`` for every file of ``folder`` except the stamp."""
    return {
        p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != STAMP
    }


def write_stamp(folder: Path, **fields) -> dict:
    """Hash the folder's files and write the stamp (last, so a stamp means a complete folder)."""
    files = file_table(folder)
    stamp = {
        "format": STAMP_FORMAT,
        "converter_version": CONVERTER_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "weights_sha256": files.get("model.safetensors", {}).get("sha256"),
        "files": files,
    }
    write_json(folder / STAMP, stamp)
    return stamp


def problems(folder: str | Path, *, full: bool = False, expect: dict | None = None) -> list[str]:
    """What is wrong with a cached folder (empty list: fine).

    Cheap check: stamp readable, converter version current, every recorded file present with its
    recorded size, and ``expect``'s keys equal in the stamp (e.g. the source sha256). ``full`` also
    re-hashes every file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} does not exist"]
    try:
        stamp = read_stamp(folder)
    except MlnewsError as exc:
        return [str(exc)]
    if stamp is None:
        return [f"{folder / STAMP} is missing"]
    out: list[str] = []
    if stamp.get("converter_version") != CONVERTER_VERSION:
        out.append(f"made by converter version {stamp.get('converter_version')}, current is {CONVERTER_VERSION}")
    for key, want in (expect or {}).items():
        if stamp.get(key) != want:
            out.append(f"stamp {key} is {stamp.get(key)!r}, expected {want!r}")
    for name, rec in stamp["files"].items():
        path = folder / name
        if not path.is_file():
            out.append(f"{path} is missing")
        elif path.stat().st_size != rec.get("size"):
            out.append(f"{path} has {path.stat().st_size} bytes, the stamp says {rec.get('size')}")
        elif full and sha256_file(path) != rec.get("sha256"):
            out.append(f"{path} checksum differs from the stamp (corrupted)")
    return out


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``models/.<name>.lock`` (released when the process exits)."""
    root = models_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        fh = open(root / f".{name}.lock", "a+")
    except OSError as exc:
        raise MlnewsError(
            f"cannot write the model cache {root} ({exc.strerror}); set MLNEWS_CACHE to a writable folder"
        ) from None
    with fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def build(name: str, make: Callable[[Path], dict], *, expect: dict | None = None, force: bool = False,
          full: bool = False, message: str | None = None) -> tuple[Path, bool]:
    """Return ``models/<name>``, building it with ``make(tmp_dir) -> stamp fields`` unless it is valid.

    Returns ``(path, built)``. Under the lock, the folder is re-checked first (``full``: with
    checksums), so a process that waited for another one's conversion reuses its result.
    ``message`` is printed on stderr (one line) before building.
    """
    target = models_dir() / name
    with locked(name):
        if not force and not problems(target, expect=expect, full=full):
            return target, False
        if message:
            print(message, file=sys.stderr, flush=True)
        # Leftovers of a process killed mid-conversion (we hold the lock, so none is in progress).
        for stale in target.parent.glob(f".{name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            with atomic_dir(target) as tmp:
                fields = make(tmp)
                write_stamp(tmp, **fields)
                left = problems(tmp, expect=expect)
                if left:
                    raise MlnewsError(f"{name}: the freshly written folder failed verification: {left[0]}")
                os.chmod(tmp, 0o755)
                for p in tmp.iterdir():
                    os.chmod(p, 0o644)
        except OSError as exc:
            raise MlnewsError(f"cannot write {target} ({exc}); set MLNEWS_CACHE to a writable folder") from None
    return target, True
