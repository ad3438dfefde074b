"""Labelled datasets: build (``mlnews data build``), cache (:func:`ensure_dataset`) and load (:func:`load_built`).

A dataset folder holds ``classification/`` and ``summarisation/`` (``DatasetDict.save_to_disk``
with train / validation / test; ``label`` is a ``ClassLabel`` in the taxonomy order), ``labels.json``,
``stats.json``, ``stats.md``, ``build_config.yaml``, the dataset card ``README.md`` and a root
``dataset_dict.json``, so that plain ``datasets.load_from_disk(DIR)`` loads a DatasetDict keyed
``classification/train`` ... ``summarisation/test`` (see docs/datasets.md).
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

__all__ = ["BuiltDataset", "build_dataset", "ensure_dataset", "export_parquet", "label_names", "load_built",
           "is_dataset_dir"]


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
    command = " ".join(["mlnews data build", _shown(config), "--out", _shown(out), *overrides])
    return run_build(cfg, resolver, out, progress=progress, command=command)


def _shown(path: str | os.PathLike) -> str:
    """A path for a card: relative to the CWD or the checkout where it lies below one, ``~/...`` under home."""
    from mlnews.config import project_root

    p = Path(path).expanduser().absolute()
    for base in (Path.cwd(), project_root()):
        if p.is_relative_to(base):
            return str(p.relative_to(base))
    home = Path.home()
    return "~/" + str(p.relative_to(home)) if p.is_relative_to(home) else str(path)


def load_built(path: str | os.PathLike) -> BuiltDataset:
    """Load a dataset folder written by ``mlnews data build``; a clear error if it is not one.

    Plain ``datasets`` works too: ``datasets.load_from_disk(f"{path}/classification")`` (a
    DatasetDict train / validation / test), the same for ``summarisation``, or
    ``datasets.load_from_disk(path)`` for one DatasetDict of all six ``task/split`` entries.
    Use :func:`label_names` for the label column as strings.
    """
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


def label_names(split: Any) -> list[Optional[str]]:
    """The ``label`` column of a classification split as label names.

    ``ClassLabel`` ids are decoded (``-1`` -> ``None``); a folder from an older build or a
    hand-made one with string labels is returned as it is.
    """
    import datasets

    feature = split.features.get("label")
    values = split["label"]
    if isinstance(feature, datasets.ClassLabel):
        return [feature.int2str(v) if v is not None and v >= 0 else None for v in values]
    return list(values)


def export_parquet(path: str | os.PathLike, out: str | os.PathLike) -> list[tuple[Path, int]]:
    """Write ``OUT/<task>-<split>.parquet`` (each atomically) for every split of a dataset folder.

    ``label`` keeps its ``ClassLabel`` id (``datasets`` reads the names back from the Parquet
    metadata) and a ``label_name`` string column is added for pandas / polars / DuckDB users;
    ``labels.json`` and the card ``README.md`` are copied beside. Returns ``(file, rows)`` pairs.
    """
    from mlnews.io import atomic_write

    built = load_built(path)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; expected a folder for the Parquet files")
    written = []
    for task, dd in (("classification", built.classification), ("summarisation", built.summarisation)):
        for split, ds in (dd or {}).items():
            if task == "classification":
                ds = ds.add_column("label_name", label_names(ds))
            target = out / f"{task}-{split}.parquet"
            with atomic_write(target, "wb") as fh:
                ds.to_parquet(fh)
            written.append((target, len(ds)))
    for name in ("labels.json", "README.md"):
        if (built.path / name).is_file():
            with atomic_write(out / name) as fh:
                fh.write((built.path / name).read_text(encoding="utf-8"))
    return written


def _fingerprint(config: Path, overrides: tuple[str, ...]) -> tuple[str, str]:
    """(name, hash) of a config: its resolved content plus size/mtime of every input file."""
    from mlnews.config import to_dict
    from mlnews.data.config import load_data_config

    cfg, resolver = load_data_config(config, overrides)
    resolved = to_dict(cfg)
    if cfg.pseudo.switched_off():
        del resolved["pseudo"]  # a build without pseudo-labels keeps the fingerprint it had before they existed
    if cfg.split.validation_signal.switched_off():
        del resolved["split"]["validation_signal"]  # likewise for a build that moves no row to validation
    h = hashlib.sha256(json.dumps(resolved, sort_keys=True, ensure_ascii=False).encode())
    files = [resolver.file(cfg.taxonomy, "taxonomy")]
    files += [resolver.file(f, f"pseudo.files[{i}]") for i, f in enumerate(cfg.pseudo.files)]
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
