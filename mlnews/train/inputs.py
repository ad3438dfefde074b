"""Classifier training inputs: load the dataset named by ``data.path``, filter, cap and compose.

:func:`prepare_data` returns the train / validation / test splits with model inputs already composed
by :func:`mlnews.text.compose_text` (plus the model's input prefix), and a report that counts every
row it did not use, by reason (label outside the label set, empty text, label origin not selected,
below ``data.min_confidence``, capped by ``data.max_train_examples`` / ``train.eval_max_examples``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mlnews.config import config_file, resolve_path
from mlnews.errors import ConfigError, MlnewsError
from mlnews.text import compose_text
from mlnews.train.config import ClassifierConfig
from mlnews.types import LabelSet


@dataclass
class SplitData:
    """One split: model inputs already composed (prefix included), and the raw fields they came from."""

    inputs: list[str]
    labels: list[str]
    langs: list[str]
    sources: list[str]
    origins: list[str]
    ids: list[str]
    raw: list[dict[str, str]] = field(default_factory=list)  # {text, lead, body} per row (for evaluation)

    def rows(self) -> list[dict[str, Any]]:
        """Evaluation rows ``{id, text, lead, body, label, lang, source}`` (see :mod:`mlnews.evaluate.classifier`)."""
        return [{"id": i, **r, "label": lab, "lang": lang, "source": src}
                for i, r, lab, lang, src in zip(self.ids, self.raw, self.labels, self.langs, self.sources)]

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class PreparedData:
    labels: LabelSet
    dataset_dir: Path
    taxonomy: str
    splits: dict[str, SplitData]
    report: dict[str, Any] = field(default_factory=dict)  # counts in / kept / dropped by reason


def stratified_subset(labels: Sequence[str], n: int, seed: int) -> list[int]:
    """Indices of about ``n`` rows keeping label proportions (every label keeps >= 1 row), sorted."""
    if n >= len(labels):
        return list(range(len(labels)))
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    total = len(labels)
    chosen: list[int] = []
    for lab in sorted(by_label):
        idx = by_label[lab]
        quota = max(1, round(n * len(idx) / total))
        chosen.extend(rng.permutation(idx)[:quota].tolist())
    if len(chosen) > n:
        chosen = rng.permutation(chosen)[:n].tolist()
    return sorted(chosen)


def _load_built(path: Path):
    from mlnews.data import load_built

    return load_built(path)


def resolve_data_path(value: str, config_path: Path | None = None) -> Path:
    """``data.path`` by the one path rule (:class:`mlnews.config.PathResolver`); built + cached if a config."""
    from mlnews.data import ensure_dataset

    path = resolve_path(value, config_path)
    if not path.exists():
        raise ConfigError(f"data.path: {value} not found; expected a dataset folder (mlnews data build) or a data config")
    return Path(ensure_dataset(path))


def prepare_data(cfg: ClassifierConfig, prefix: str) -> PreparedData:
    """Load the dataset and compose model inputs for train / validation / test."""
    from mlnews.data import label_names

    dataset_dir = resolve_data_path(cfg.data.path, config_file(cfg))
    built = _load_built(dataset_dir)
    labels: LabelSet = built.labels
    dd = built.classification
    d = cfg.data
    report: dict[str, Any] = {"dataset": str(dataset_dir), "splits": {}}
    splits: dict[str, SplitData] = {}
    for role, name in (("train", d.train_split), ("validation", d.validation_split), ("test", d.test_split)):
        if name not in dd:
            raise ConfigError(f"data.{role}_split: split {name!r} not in {dataset_dir} (has {', '.join(dd.keys())})")
        rows = dd[name]
        cols = rows.column_names
        missing = [c for c in ("text", "label", "lang", "source") if c not in cols]
        if missing:
            raise MlnewsError(f"{dataset_dir}: split {name!r} lacks columns {missing}")
        n_in = len(rows)
        defaults = {"id": [f"{name}-{i}" for i in range(n_in)], "lead": [""] * n_in, "body": [""] * n_in,
                    "label_origin": ["unknown"] * n_in, "confidence": [1.0] * n_in}
        col = {c: rows[c] if c in cols else defaults[c]
               for c in ("id", "text", "lead", "body", "label", "lang", "source", "label_origin", "confidence")}
        col["label"] = label_names(rows)  # ClassLabel ids -> names
        dropped: Counter[str] = Counter()
        keep = []
        for i in range(n_in):
            if col["label"][i] not in labels:
                dropped["label_not_in_label_set"] += 1
            elif not (col["text"][i] or "").strip():
                dropped["empty_text"] += 1
            elif role == "train" and d.label_origins and col["label_origin"][i] not in d.label_origins:
                dropped["label_origin_not_selected"] += 1
            elif role == "train" and (col["confidence"][i] or 0.0) < d.min_confidence:
                dropped["below_min_confidence"] += 1
            else:
                keep.append(i)
        cap = d.max_train_examples if role == "train" else (cfg.train.eval_max_examples if role == "validation" else None)
        if cap is not None and len(keep) > cap:
            sub = stratified_subset([col["label"][i] for i in keep], cap, cfg.train.seed)
            dropped["capped_max_examples"] += len(keep) - len(sub)
            keep = [keep[j] for j in sub]
        splits[role] = SplitData(
            inputs=[
                compose_text(col["text"][i], col["lead"][i] or "", col["body"][i] or "", use_lead=d.use_lead,
                             body_chars=d.body_chars, prefix=prefix)
                for i in keep
            ],
            labels=[col["label"][i] for i in keep],
            langs=[col["lang"][i] or "other" for i in keep],
            sources=[col["source"][i] or "unknown" for i in keep],
            origins=[col["label_origin"][i] or "unknown" for i in keep],
            ids=[str(col["id"][i]) for i in keep],
            raw=[{"text": col["text"][i], "lead": col["lead"][i] or "", "body": col["body"][i] or ""} for i in keep],
        )
        report["splits"][role] = {"split": name, "rows_in": n_in, "used": len(keep), "dropped": dict(dropped)}
        if not keep:
            raise MlnewsError(f"{dataset_dir}: split {name!r} has no usable rows after filtering ({dict(dropped)})")
    tax = getattr(built, "taxonomy", None)
    taxonomy = str(tax.get("taxonomy", "")) if isinstance(tax, dict) else str(tax or "")
    return PreparedData(labels, dataset_dir, taxonomy, splits, report)


def data_summary(data: PreparedData) -> dict[str, Any]:
    """Counts per split by label, language, source and label origin (for the model card)."""
    out: dict[str, Any] = {}
    for role, s in data.splits.items():
        out[role] = {
            "n": len(s),
            "label": dict(Counter(s.labels)),
            "lang": dict(Counter(s.langs)),
            "source": dict(Counter(s.sources)),
            "label_origin": dict(Counter(s.origins)),
        }
    return out
