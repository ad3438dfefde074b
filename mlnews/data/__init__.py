"""Labelled datasets: build (``mlnews data build``), cache (:func:`ensure_dataset`) and load (:func:`load_built`).

A dataset folder holds ``classification/`` and ``summarisation/`` (``DatasetDict.save_to_disk``
with train / validation / test), ``labels.json``, ``stats.json``, ``stats.md`` and
``build_config.yaml`` (see docs/datasets.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlnews.errors import InputError
from mlnews.types import LabelSet

__all__ = ["BuiltDataset", "build_dataset", "ensure_dataset", "load_built", "is_dataset_dir"]


@dataclass
class BuiltDataset:
    """A loaded dataset folder."""

    path: Path
    classification: Any  # datasets.DatasetDict
    summarisation: Any  # datasets.DatasetDict
    labels: LabelSet
    stats: dict
    taxonomy: dict


def is_dataset_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "labels.json").is_file() and (p / "classification").is_dir()


def build_dataset(
    config: str | os.PathLike, out: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (),
    progress=None,
) -> dict:
    """Build the data config ``config`` into the folder ``out``; returns the stats dict."""
    from mlnews.data.build import run_build
    from mlnews.data.config import load_data_config

    cfg, resolver = load_data_config(config, overrides)
    return run_build(cfg, resolver, out, progress=progress)


def load_built(path: str | os.PathLike) -> BuiltDataset:
    """Load a dataset folder written by ``mlnews data build``; a clear error if it is not one."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: dataset folder not found")
    if not is_dataset_dir(p):
        raise InputError(
            f"{p}: not a dataset folder (expected labels.json and classification/ written by "
            "`mlnews data build`)"
        )
    import datasets

    taxonomy = json.loads((p / "labels.json").read_text(encoding="utf-8"))
    stats_path = p / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else {}
    summ = datasets.load_from_disk(str(p / "summarisation")) if (p / "summarisation").is_dir() else None
    return BuiltDataset(
        path=p,
        classification=datasets.load_from_disk(str(p / "classification")),
        summarisation=summ,
        labels=LabelSet(taxonomy["labels"]),
        stats=stats,
        taxonomy=taxonomy,
    )


def _fingerprint(config: Path, overrides: tuple[str, ...]) -> tuple[str, str]:
    """(name, hash) of a config: its resolved content plus size/mtime of every input file."""
    from mlnews.config import to_dict
    from mlnews.data.config import load_data_config

    cfg, resolver = load_data_config(config, overrides)
    h = hashlib.sha256(json.dumps(to_dict(cfg), sort_keys=True, ensure_ascii=False).encode())
    files = [resolver.file(cfg.taxonomy, "taxonomy")]
    if cfg.weak.keywords_file and "rules" in cfg.weak.methods:
        files.append(resolver.file(cfg.weak.keywords_file, "weak.keywords_file"))
    if any(s.type == "corpus" and s.columns is None for s in cfg.sources):
        files.append(resolver.file(cfg.mappings_file, "mappings_file"))
    for i, s in enumerate(cfg.sources):
        files += resolver.many(s.path, f"sources[{i}].path")
    for f in files:
        st = f.stat()
        h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    from mlnews import __version__

    h.update(__version__.encode())
    return cfg.name, h.hexdigest()[:16]


def ensure_dataset(
    path_or_config: str | os.PathLike, cache_dir: Optional[str | os.PathLike] = None,
    overrides: list[str] | tuple[str, ...] = (), progress=None,
) -> Path:
    """A dataset folder is returned as is; a data config is built into the cache once and reused.

    The cache folder is ``<cache_dir or $MLNEWS_CACHE/datasets>/<name>-<hash>``, where the hash
    covers the resolved config and the size and mtime of every input file, so editing a config
    or an input triggers a rebuild.
    """
    p = Path(path_or_config)
    if is_dataset_dir(p):
        return p
    if p.is_dir():
        raise InputError(f"{p}: not a dataset folder (no labels.json / classification/) and not a data config")
    if p.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(f"{p}: expected a dataset folder or a data config (.yaml)")
    name, digest = _fingerprint(p, tuple(overrides))
    root = Path(cache_dir) if cache_dir else Path(os.environ.get("MLNEWS_CACHE", "~/.cache/mlnews")).expanduser() / "datasets"
    target = root / f"{name}-{digest}"
    if not is_dataset_dir(target):
        build_dataset(p, target, overrides, progress=progress)
    return target
